"""Seconds from a product save (through the same service admin uses) to its first appearance in /similar,
against a running site (web + worker).

    python bench/freshness.py --url http://127.0.0.1:8000 --repeats 5

Run it with the site's environment (REDIS_URL above all): the save enqueues the encoding on that broker.

Each round copies the photo of a random active product into a new product, then polls the source product's
/api/products/<sku>/similar until the new one is listed. The new products are deleted afterwards.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time
import urllib.parse
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.site_client import get_json  # noqa: E402
from bench.twin_photo import twin_photo  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", default="http://127.0.0.1:8000")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--timeout", type=float, default=60)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    from catalog.models import Product
    from catalog.services.products import product_create

    rng = random.Random(args.seed)
    sources = list(Product.objects.filter(is_active=True).order_by("pk")[:500])
    seconds, created = [], []
    try:
        for n in range(args.repeats):
            source = rng.choice(sources)
            with source.image.open("rb") as handle:
                data = handle.read()
            started = time.perf_counter()
            twin = product_create(
                sku=f"BENCH-{os.getpid()}-{n}", name=f"Bench twin {n} of {source.name}", category=source.category,
                image_data=twin_photo(data), image_name="bench.jpg",
            )  # fmt: skip
            created.append(twin)
            url = f"{args.url}/api/products/{urllib.parse.quote(source.sku)}/similar?k=10"
            while time.perf_counter() - started < args.timeout:
                status, body = get_json(url)
                if status == 200 and any(item["sku"] == twin.sku for item in body["results"]):
                    seconds.append(time.perf_counter() - started)
                    break
                time.sleep(0.05)
            else:
                print(f"round {n}: {twin.sku} did not appear within {args.timeout} s")
    finally:
        for product in created:
            product.delete()
    if seconds:
        print(f"product save → first appearance in /similar over {len(seconds)} rounds: "
              f"median {statistics.median(seconds):.2f} s, max {max(seconds):.2f} s")  # fmt: skip


if __name__ == "__main__":
    main()
