"""Resident memory (RSS) of a web process and of an upload worker serving a large catalog's index.

    python bench/memory.py [--products 100000]

Builds an index of N synthetic products at the serving encoder's served dimensions (both spaces, with map
places) under a temporary INDEX_ROOT, whose metadata names the live encoder. Then each measurement runs in a
fresh subprocess with that INDEX_ROOT, as the real process would:

- web: Django set up with the WSGI application and every URL module imported (what gunicorn loads), then
  200 "similar" and 200 "goes with" queries through the serving path (index, fresh set, filters) and the
  product and map pages rendered;
- worker: the same, plus the serving encoder loaded and one photo answered as the upload task does
  (decode, backbone and heads, search).

Needs a live encoder and its encoded catalog (make demo, or manage.py retrain).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]

PROBE = r"""
import io, json, os, sys
sys.path.insert(0, {root!r})
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

def status_mb(*names):  # fields of /proc/self/status, in MB
    fields = {{}}
    with open("/proc/self/status") as status:
        for line in status:
            name, _, value = line.partition(":")
            fields[name] = value
    return [int(fields[name].split()[0]) / 1024 for name in names]

def rss_mb():  # RSS, of it anonymous, of it file pages (mapped index files and libraries, shared with others)
    return status_mb("VmRSS", "RssAnon", "RssFile")

import django
django.setup()
from config.wsgi import application  # noqa: F401
import config.urls  # noqa: F401
stages = {{"Django, the WSGI application and its URLs": rss_mb()}}
import numpy as np
from django.test import Client
from catalog.models import Product
from recommender.services.search import search_vector, serving_state
state = serving_state()
rng = np.random.default_rng(1)
for space in ("similar", "goes_with"):
    for _ in range(200):
        vector = rng.standard_normal(state.index.dimension_of(space)).astype(np.float32)
        search_vector(vector, k=12, space=space, state=state)
product = Product.objects.filter(is_active=True).first()
client = Client()
for path in (product.get_absolute_url(), "/map/", "/api/map"):
    assert client.get(path).status_code == 200, path
stages["index queried 400 times, product and map pages rendered"] = rss_mb()
assert "torch" not in sys.modules or {worker!r}
if {worker!r}:
    import torch
    from PIL import Image
    from encoders.inference import encode_query
    from encoders.lifecycle import encoder_load
    torch.set_num_threads(2)
    encoder = encoder_load(state.encoder_version)
    photo = Image.new("RGB", (1600, 1200), "white")
    vector = encode_query(encoder, photo).vector
    search_vector(vector, k=12, state=state)
    stages["encoder loaded and one photo answered"] = rss_mb()
# The peak of this process's own memory (VmHWM). Not getrusage's ru_maxrss: Linux keeps that across execve, so a
# child started by this bench would report the bench's own peak.
stages["peak"] = [*status_mb("VmHWM"), None, None]
print(json.dumps(stages))
"""


def build_synthetic_index(root: Path, *, products: int, encoder_name: str, dimensions: dict[str, int]) -> str:
    from recommender.index import IndexBuilder, activate

    rng = np.random.default_rng(0)
    centres = {space: rng.standard_normal((200, dim)).astype(np.float32) for space, dim in dimensions.items()}
    with IndexBuilder(root=root, dimensions=dimensions, seed=0) as builder:
        for start in range(0, products, 10_000):
            count = min(10_000, products - start)
            labels = rng.integers(0, 200, size=count)
            vectors = {}
            for space, dim in dimensions.items():
                noisy = centres[space][labels] + rng.standard_normal((count, dim)).astype(np.float32)
                vectors[space] = noisy / np.linalg.norm(noisy, axis=1, keepdims=True)
            ids = np.arange(10**9 + start, 10**9 + start + count, dtype=np.int64)  # never a real product's id
            builder.add(ids, vectors, positions=rng.standard_normal((count, 2)).astype(np.float32))
        build = builder.finish(metadata={"encoder_version": encoder_name, "vectors_revision": 0})
    activate(root=root, version=build.version)
    return build.version


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--products", type=int, default=100_000)
    args = parser.parse_args()

    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    from encoders.models import EncoderVersion
    from recommender.services.vectors import product_vectors

    version = EncoderVersion.objects.filter(is_active=True).first()
    if version is None:
        raise SystemExit("no live encoder: run make demo (or manage.py retrain --quick) first")
    sample = version.embeddings.first()
    if sample is None:
        raise SystemExit("the live encoder has encoded no product yet: run manage.py encode_catalog")
    stored = product_vectors(product_id=sample.product_id, version=version)
    dimensions = {"similar": stored.similar.size, "goes_with": stored.goes_with.size}
    with tempfile.TemporaryDirectory(prefix="memory-bench-") as root:
        name = build_synthetic_index(
            Path(root), products=args.products, encoder_name=version.name, dimensions=dimensions
        )
        files = sum(path.stat().st_size for path in (Path(root) / name).iterdir() if path.is_file())
        print(
            f"{args.products:,} products, similar {dimensions['similar']}-d and goes-with {dimensions['goes_with']}-d "
            f"(float32 in Annoy), index files {files / 2**20:.0f} MB, encoder {version.name}\n"
        )
        print("| process | stage | RSS MB | of it anonymous | of it file pages (index, libraries) |")
        print("|---|---|---|---|---|")
        for process, worker in [("web", False), ("worker", True)]:
            code = PROBE.format(root=str(ROOT), worker=worker)
            result = subprocess.run(
                [sys.executable, "-c", code],
                capture_output=True,
                text=True,
                cwd=ROOT,
                env={**os.environ, "INDEX_ROOT": root},
            )
            if result.returncode != 0:
                raise SystemExit(result.stderr[-3000:])
            for stage, figures in json.loads(result.stdout.strip().splitlines()[-1]).items():
                cells = " | ".join("—" if value is None else f"{value:.0f}" for value in figures)
                print(f"| {process} | {stage} | {cells} |")


if __name__ == "__main__":
    main()
