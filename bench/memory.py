"""Resident memory (RSS) of a web process and of a worker process with the model and a large index loaded.

    python bench/memory.py [--products 100000]

Each measurement runs in a fresh subprocess: Django set up, then (web) a memory-mapped Annoy index of
N synthetic vectors with the serving encoder's dimension and a query, or (worker) the same plus the
serving encoder (pretrained backbone + heads) and one encoded photo. Needs a trained encoder (make demo).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

PROBE = r"""
import json, os, sys, resource
sys.path.insert(0, {root!r})
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
import django
django.setup()
import numpy as np
from pathlib import Path
from recommender.index import LoadedIndex

def rss_mb():
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024

stages = {{"django": rss_mb()}}
index = LoadedIndex.load(Path({index!r}))
index.query(np.ones(index.dimension, np.float32), k=10)
stages["index loaded and queried"] = rss_mb()
if {worker!r}:
    import torch
    from PIL import Image
    from encoders.inference import encode_images
    from encoders.lifecycle import encoder_load
    from encoders.versions import active_encoder_version
    torch.set_num_threads(2)
    encoder = encoder_load(active_encoder_version())
    encode_images(encoder, [Image.new("RGB", (640, 480), "white")])
    stages["encoder loaded and one photo encoded"] = rss_mb()
stages["peak"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps(stages))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--products", type=int, default=100_000)
    parser.add_argument("--trees", type=int, default=50)
    args = parser.parse_args()

    sys.path.insert(0, str(ROOT))
    import os

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    import numpy as np

    from encoders.versions import active_encoder_version
    from recommender.index import build_index
    from recommender.models import ProductEmbedding

    version = active_encoder_version()
    if version is None:
        raise SystemExit("no live encoder: run make demo (or manage.py retrain --quick) first")
    stored = ProductEmbedding.objects.filter(encoder_version=version).first()
    if stored is None:
        raise SystemExit("the live encoder has encoded no product yet: run manage.py encode_catalog")
    dimension = stored.similar_vector.size  # what the index holds: the learned code plus the residual feature
    rng = np.random.default_rng(0)
    vectors = rng.standard_normal((args.products, dimension)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    with tempfile.TemporaryDirectory() as root:
        build = build_index(
            vectors=vectors, product_ids=range(args.products), root=Path(root), n_trees=args.trees, search_k=1000
        )
        print(f"{args.products:,} products × {dimension} dimensions, {args.trees} trees: "
              f"index file {build.file_bytes / 2**20:.0f} MB\n")  # fmt: skip
        print("| process | stage | RSS MB |")
        print("|---|---|---|")
        for name, worker in [("web", False), ("worker", True)]:
            code = PROBE.format(root=str(ROOT), index=str(build.path), worker=worker)
            result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
            if result.returncode != 0:
                raise SystemExit(result.stderr[-2000:])
            for stage, megabytes in json.loads(result.stdout.strip().splitlines()[-1]).items():
                print(f"| {name} | {stage} | {megabytes:.0f} |")


if __name__ == "__main__":
    main()
