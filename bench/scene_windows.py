"""Would the pieces find more of a room's products if the scene head were taught on the windows the piece finder
searches with? Measured on one trained version, without training it again.

    python bench/scene_windows.py --version enc-A
    python bench/scene_windows.py --version enc-A --steps 400 --windows 24

Runs with the site's environment (DATABASE_URL, VAR_DIR, the evaluation data). Training teaches the scene head
on 14 fixed crops of each TRAIN room photo, each passed through the backbone at the encoder's input size
(a multiple-instance loss: a room's products should be found by its best crop); the piece finder searches with
the mean of its coarse pass's feature map over a window (``encoders.piece_finder``). Since 2026-12-01 training
then tunes the scene head alone on the finder's best windows of those photos (``encoders.scene_windows``). This
applies that stage to a version, in memory (``--steps`` steps, ``--windows`` windows a photo, Adam at ``--lr``; the
version is not changed): on a version trained before the stage it shows what the stage gives, on a later one what
tuning it further gives. It prints the dev room photos' pieces figures (as ``evaluate_encoder`` reports them: the
room answer's pieces, "everything in this room") before and after.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.dev_data import add_dev_data_arguments, measured_version, setup_django  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--version", required=True, help="a trained encoder version with a category head")
    parser.add_argument("--steps", type=int, default=400)
    parser.add_argument("--windows", type=int, default=24, help="the finder's best windows kept of each photo")
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--seed", type=int, default=0)
    add_dev_data_arguments(parser)
    args = parser.parse_args(argv)

    setup_django()
    import torch

    from encoders.model import EncoderConfig
    from encoders.scene_windows import scene_head_on_windows

    torch.manual_seed(args.seed)
    version = measured_version(args)
    encoder, pieces_figures = version.encoder, version.pieces_figures

    photos = version.scene_photo_rows()
    print(f"{args.version}: {len(photos)} TRAIN room photos x {args.windows} windows, {args.split} room photos")
    print("\n| scene head | pieces hit@10 | pieces R@10 | pieces union R@10 | piece precision |")
    print("|---|---|---|---|---|")
    print(f"| as the version has it | {pieces_figures()} |")
    started = time.perf_counter()
    scene_head_on_windows(
        encoder,
        photos,
        version.product_features,
        count=args.windows,
        steps=args.steps,
        lr=args.lr,
        temperature=EncoderConfig().optimisation.temperature,
        seed=args.seed,
    )
    seconds = time.perf_counter() - started
    print(f"| tuned {args.steps} steps on the finder's {args.windows} best windows | {pieces_figures()} |")
    print(f"\nThe stage took {seconds:.1f} s (the windows of every TRAIN room photo, then the steps).")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
