"""Does a product page's "Similar items" show the same kind of product? Measured through the site's API, what the
product page's strip and ``GET /api/products/<sku>/similar`` serve.

    python bench/product_similar.py --url http://127.0.0.1:8100
    python bench/product_similar.py --url http://127.0.0.1:8100 --k 10 --limit 500

Every product of ../shared/data/ikea/catalog.json (or the first ``--limit``, in sku order) asks
GET /api/products/<sku>/similar?k=K. It prints the mean share of the K results in the product's own category
(same-category P@K, the product's path to ``evaluate_encoder``'s loo P@10, with variants grouped into one card as
the page shows them), with its bootstrap 95 % interval, per category, and the median and p95 time of the API's
answer. The products were trained on: for new products read "held-out P@10" (``evaluate_encoder --held-out``).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import urllib.parse
from collections import defaultdict
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.site_client import answer_times, get_json  # noqa: E402
from encoders.intervals import bootstrap_interval  # noqa: E402  (numpy only: no Django needed)

CATALOG = ROOT.parent / "shared" / "data" / "ikea" / "catalog.json"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", required=True, help="the site's address, e.g. http://127.0.0.1:8100")
    parser.add_argument("--catalog", type=Path, default=CATALOG)
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--limit", type=int, default=0, help="ask only the first N products (0: all)")
    args = parser.parse_args()

    items = sorted(json.loads(args.catalog.read_text()), key=lambda item: item["sku"])
    if args.limit:
        items = items[: args.limit]
    scores, seconds, by_category = [], [], defaultdict(list)
    missing = 0
    for item in items:
        started = time.perf_counter()
        status, body = get_json(
            f"{args.url.rstrip('/')}/api/products/{urllib.parse.quote(item['sku'])}/similar?k={args.k}"
        )
        seconds.append(time.perf_counter() - started)
        if status != 200 or not body["results"]:
            missing += 1
            continue
        same = sum(card["category"] == item["category"] for card in body["results"]) / args.k
        scores.append(same)
        by_category[item["category"]].append(same)
    values = np.asarray(scores, dtype=float)
    low, high = bootstrap_interval(values)
    print(f"{len(values)} products asked ({missing} not on the site or without results), k = {args.k}\n")
    print(f"same-category P@{args.k}: {values.mean():.3f} ({low:.3f}–{high:.3f})\n")
    print("| category | products | P@K |")
    print("|---|---|---|")
    for category in sorted(by_category):
        print(f"| {category} | {len(by_category[category])} | {np.mean(by_category[category]):.3f} |")
    print("\n" + answer_times(seconds))


if __name__ == "__main__":
    main()
