"""The backbone's time per batch, as a worker runs it (batch norms folded into the convolutions, as
``encoders.inference.load_encoder`` leaves it) beside the network as trained (with its batch norms).

    python bench/backbone.py [--size 256] [--batches 1,2,4] [--threads 1,2] [--repeats 30]

EfficientNet-Lite0 with the weights installed with its package, random inputs of ``--size`` px (default: the
default configuration's ``image_size``) in channels-last layout
(what ``backbone_features`` passes), the two networks timed in turn so that the machine's drift falls on both;
the median of ``--repeats``. Needs no database: only torch and the installed weights.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, default=None, help="input side in px (default: the default config's)")
    parser.add_argument("--batches", default="1,2,4")
    parser.add_argument("--threads", default="1,2")
    parser.add_argument("--repeats", type=int, default=30)
    args = parser.parse_args()

    import torch

    from encoders.backbone import fold_batch_norms, load_efficientnet_lite0
    from encoders.model import ModelConfig

    size = args.size or ModelConfig().image_size

    networks = {
        "with batch norms": load_efficientnet_lite0(),
        "folded (served)": fold_batch_norms(load_efficientnet_lite0()),
    }
    batches = [int(b) for b in args.batches.split(",")]
    inputs = torch.randn(max(batches), 3, size, size).contiguous(memory_format=torch.channels_last)
    print(f"{size} px inputs")
    print("| threads | batch | " + " | ".join(f"{name} ms" for name in networks) + " | folded / with |")
    print("|---|---|" + "---|" * len(networks) + "---|")
    with torch.inference_mode():
        for threads in (int(t) for t in args.threads.split(",")):
            torch.set_num_threads(threads)
            for batch in batches:
                x = inputs[:batch]
                times: dict[str, list[float]] = {name: [] for name in networks}
                for network in networks.values():
                    network(x)  # warm-up
                for _ in range(args.repeats):
                    for name, network in networks.items():
                        started = time.perf_counter()
                        network(x)
                        times[name].append(time.perf_counter() - started)
                medians = [statistics.median(values) * 1000 for values in times.values()]
                print(
                    f"| {threads} | {batch} | "
                    + " | ".join(f"{m:.1f}" for m in medians)
                    + f" | {medians[1] / medians[0]:.2f} |"
                )


if __name__ == "__main__":
    main()
