"""Request latency at catalog sizes that differ fiftyfold: the product page, the results page, /api/map and
/api/products/<sku>/similar, through a real gunicorn on a real database.

    python bench/scale.py [--sizes 2000,100000] [--requests 200]

For each size, in a database and VAR_DIR of its own (created here, dropped at the end; PostgreSQL at
--database, default postgres://postgres@127.0.0.1:5432), the bench makes N products (their pictures cycle a
few real catalog thumbnails), N synthetic vectors at the served dimensions (clustered, 128-d "similar",
64-d "goes with"), builds and activates the index through the product's own index_build (streamed from the
database, with the map tiles), stores done uploads with twelve results each, starts gunicorn with the
project's config, and times each page from a client in this process (one request at a time, after a warm-up).
Nothing here needs torch: the pages never do.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SETUP = r"""
import os, sys, random, shutil
ROOT, PICTURES, COUNT = sys.argv[1], sys.argv[2], int(sys.argv[3])
sys.path.insert(0, ROOT)
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
import django
django.setup()
from django.core.management import call_command
call_command("migrate", verbosity=0)
import numpy as np
from django.conf import settings
from catalog.models import Category, Product
from encoders.models import EncoderVersion
from recommender.models import InspirationUpload
from recommender.services.indexing import index_build, serving_activate
from recommender.services.vectors import ProductVectors, vectors_store

pictures = sorted(p for p in __import__("pathlib").Path(PICTURES).glob("*.jpg"))[:50]
media = settings.MEDIA_ROOT / "products"
media.mkdir(parents=True, exist_ok=True)
names = []
for picture in pictures:
    shutil.copy(picture, media / picture.name)
    names.append("products/" + picture.name)
categories = [Category.objects.create(name=f"category {n}", slug=f"category-{n}") for n in range(19)]
version = EncoderVersion.objects.create(name="enc-bench", status="ready")
rng = np.random.default_rng(0)
centres = {"similar": rng.standard_normal((200, 128)), "goes_with": rng.standard_normal((200, 64))}
n = COUNT
for start in range(0, n, 5000):
    count = min(5000, n - start)
    products = Product.objects.bulk_create([
        Product(sku=f"B{i:07d}", name=f"Product {i}", slug=f"product-{i}", category=categories[i % 19],
                price=10 + i % 900, image=names[i % len(names)], thumbnail=names[i % len(names)])
        for i in range(start, start + count)
    ])
    labels = rng.integers(0, 200, size=count)
    rows = []
    for product, label in zip(products, labels):
        vectors = {}
        for space, c in centres.items():
            v = c[label] + rng.standard_normal(c.shape[1])
            vectors[space] = (v / np.linalg.norm(v)).astype(np.float32)
        # each product's picture guessed as its own category mostly, as a category head stores it: the product page
        # ranks its similar items with the guess (a pool of 100 candidates), so the bench measures that path
        other = categories[(categories.index(product.category) + 1) % 19]
        guess = {product.category.slug: 0.8, other.slug: 0.15}
        rows.append(ProductVectors(product.pk, "", vectors["similar"], vectors["goes_with"], guess))
    vectors_store(version=version, rows=rows)
EncoderVersion.objects.filter(pk=version.pk).update(is_active=True)
from encoders.latent_map import latent_map_save
from encoders.versions import version_dir
directory = version_dir(version); directory.mkdir(parents=True)
sample = np.stack([centres["similar"][i] for i in range(200)])
latent_map_save(directory, vectors=sample, product_ids=list(range(200)), categories=["x"] * 200)
(directory / "checkpoint.pt").write_bytes(b"")  # the pages never load the model; making it live checks the file
started = __import__("time").perf_counter()
serving_activate(index_version=index_build(encoder_version=version))
print("index and map built in", round(__import__("time").perf_counter() - started, 1), "s", flush=True)
ids = list(Product.objects.values_list("pk", flat=True)[:1000])
for u in range(100):
    chosen = random.Random(u).sample(ids, 12)
    InspirationUpload.objects.create(image="uploads/none.jpg", status="done",
        results=[{"product_id": pid, "score": 0.9 - k / 100} for k, pid in enumerate(chosen)],
        reconstruction="uploads/none.png")
"""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


def timed_get(url: str) -> float:
    started = time.perf_counter()
    try:
        with urllib.request.urlopen(url, timeout=30) as response:
            response.read()
    except urllib.error.HTTPError as error:
        raise SystemExit(f"{url}: HTTP {error.code}") from error
    return time.perf_counter() - started


def run_size(count: int, args, environment: dict) -> dict[str, list[float]]:
    database = f"lookalike_scale_{count}"
    subprocess.run(["psql", args.database, "-qc", f"DROP DATABASE IF EXISTS {database}"], check=True)
    subprocess.run(["psql", args.database, "-qc", f"CREATE DATABASE {database}"], check=True)
    var = Path(tempfile.mkdtemp(prefix=f"scale-{count}-"))
    env = {**environment, "DATABASE_URL": f"{args.database}/{database}", "VAR_DIR": str(var), "REDIS_URL": ""}
    server = None
    try:
        started = time.perf_counter()
        setup = [sys.executable, "-c", SETUP, str(ROOT), str(args.pictures), str(count)]
        subprocess.run(setup, cwd=ROOT, env=env, check=True)
        print(f"{count:,} products set up in {time.perf_counter() - started:.0f} s", flush=True)
        port = free_port()
        server = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-c", "config/gunicorn.py", "config.wsgi"],
            cwd=ROOT,
            env={**env, "PORT": str(port), "WEB_ACCESS_LOG": "/dev/null"},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        base = f"http://127.0.0.1:{port}"
        for _ in range(100):
            try:
                timed_get(base + "/api/map")
                break
            except OSError:
                time.sleep(0.2)
        rng = random.Random(0)
        product_ids = [rng.randrange(count) for _ in range(args.requests)]
        listing = (
            "from recommender.models import InspirationUpload as U; print(*U.objects.values_list('pk', flat=True))"
        )
        uploads = subprocess.run(
            [sys.executable, "manage.py", "shell", "-v", "0", "-c", listing],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.split()
        pages = {
            "product page": [f"{base}/products/product-{i}/" for i in product_ids],
            "results page": [f"{base}/uploads/{uploads[n % len(uploads)]}/" for n in range(args.requests)],
            "/api/map": [f"{base}/api/map"] * args.requests,
            "/api/products/<sku>/similar": [f"{base}/api/products/B{i:07d}/similar?k=10" for i in product_ids],
        }
        timings = {}
        for name, urls in pages.items():
            for url in urls[:20]:
                timed_get(url)  # warm-up: each process loads the index and the map once
            timings[name] = [timed_get(url) for url in urls]
        return timings
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=30)
        shutil.rmtree(var, ignore_errors=True)
        subprocess.run(["psql", args.database, "-qc", f"DROP DATABASE IF EXISTS {database}"], check=False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="2000,100000")
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--database", default="postgres://postgres@127.0.0.1:5432")
    parser.add_argument("--pictures", type=Path, default=ROOT.parent / "shared" / "data" / "ikea" / "products")
    args = parser.parse_args()
    environment = {key: value for key, value in os.environ.items() if key not in ("DATABASE_URL", "VAR_DIR")}
    results = {int(size): run_size(int(size), args, environment) for size in args.sizes.split(",")}
    sizes = sorted(results)
    print(f"\nload average {os.getloadavg()[0]:.1f}; {args.requests} requests per page, one at a time\n")
    print("| page | " + " | ".join(f"{size:,}: p50 / p95 ms" for size in sizes) + " | p95 ratio |")
    print("|---|" + "---|" * (len(sizes) + 1))
    for name in results[sizes[0]]:
        cells = [
            f"{statistics.median(results[s][name]) * 1000:.1f} / {percentile(results[s][name], 95) * 1000:.1f}"
            for s in sizes
        ]
        ratio = percentile(results[sizes[-1]][name], 95) / percentile(results[sizes[0]][name], 95)
        print(f"| {name} | " + " | ".join(cells) + f" | {ratio:.2f} |")


if __name__ == "__main__":
    main()
