"""Does "Goes well with" list the products that were used with it? Measured through the site's API on the dev
rooms, as a shopper sees it.

    python bench/complements.py --url http://127.0.0.1:8100
    python bench/complements.py --url http://127.0.0.1:8100 --split dev --k 10
    python bench/complements.py --url http://127.0.0.1:8100 --room-photos    # "Goes well with what you have"

Every product of every room of the chosen split of ../shared/data/ikea/rooms.json (default: dev, rooms the site
never imported: import the train rooms only) asks GET /api/products/<sku>/goes-with?k=K, exactly what the product
page's "Goes well with" strip and the API serve. Relevant are the room's other products. It prints, over those
(room, product) queries, the means of:

- hit@K: the share of queries with at least one of the room's other products among the K;
- R@K: the share of the room's other products among the K (of at most K);
- the same two counting only the room's products of another category than the asking product's (the strip never
  shows the product's own category, so the first two cannot reach 1 in a room of two chairs);

each with its bootstrap 95 % interval over the queries, and the median and p95 time of the API's answer.
``evaluate_encoder``'s room hit@10 is the learned "goes with" vectors alone, over the whole catalog (its own
category included); this bench reads what is served: staff pins, the used-together pairs and the learned vectors.

With ``--room-photos``, each room photo of the split is uploaded instead (POST /api/uploads, then the long-poll
until its pieces are in, as the results page follows it), and the answer's ``complements`` ("Goes well with what
you have", what goes with the pieces found) are read against the room's products: hit (at least one of them among
the complements) and R (the share of the room's products found, of at most as many as are shown), over the photos
whose pieces were found. The site must accept the uploads: run it with UPLOAD_RATE_LIMIT_PER_MINUTE=0.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
import urllib.parse
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.site_client import answer_times, get_json, post_image  # noqa: E402
from encoders.intervals import bootstrap_interval  # noqa: E402  (numpy only: no Django needed)

DATA = ROOT.parent / "shared" / "data" / "ikea"


def rooms_of(path: Path, split: str, catalog: Path) -> tuple[list[list[str]], dict[str, str]]:
    """The split's rooms (unique skus of the catalog, rooms of at least two) and each sku's category."""
    category_of = {item["sku"]: item["category"] for item in json.loads(catalog.read_text())}
    rooms = []
    for room in json.loads(path.read_text()):
        if room.get("split") != split:
            continue
        skus = list(dict.fromkeys(sku for sku in room["items"] if sku in category_of))
        if len(skus) >= 2:
            rooms.append(skus)
    return rooms, category_of


def room_photos_of(path: Path, split: str) -> list[tuple[Path, list[str]]]:
    """The split's rooms that have a photo: (photo, the room's skus)."""
    return [
        (path.parent / room["photo"], list(dict.fromkeys(room["items"])))
        for room in json.loads(path.read_text())
        if room.get("split") == split and room.get("photo")
    ]


def room_answer(url: str, photo: Path, *, timeout: float = 180) -> dict:
    """Upload ``photo`` and follow it (long-poll) until its pieces are in; the last payload."""
    status, created = post_image(f"{url}/api/uploads", photo.read_bytes(), photo.name)
    if status != 202:
        raise SystemExit(f"{photo.name}: the upload was refused ({status}): {created.get('error')}")
    deadline = time.monotonic() + timeout
    body: dict = {"state": ""}
    while time.monotonic() < deadline:
        after = urllib.parse.quote(body["state"])
        status, body = get_json(f"{created['status_url']}?wait=20&after={after}", timeout=30)
        if status != 200 or body["state"] in ("done:answer", "failed:answer"):
            return body
    raise SystemExit(f"{photo.name}: no answer with its pieces within {timeout:.0f} s")


def measure_room_photos(args) -> None:
    url = args.url.rstrip("/")
    hits, recalls, shown, without_pieces = [], [], [], 0
    for photo, skus in room_photos_of(args.rooms, args.split):
        body = room_answer(url, photo)
        if not body.get("pieces"):
            without_pieces += 1
            continue
        complements = [card["sku"] for card in body["complements"]]
        found = len(set(complements) & set(skus))
        hits.append(float(found > 0))
        recalls.append(found / max(min(len(skus), len(complements)), 1))
        shown.append(len(complements))
    print(
        f"{len(hits)} {args.split} room photos answered with pieces ({without_pieces} without), "
        f"{statistics.mean(shown) if shown else 0:.1f} complements shown on average\n"
    )
    print("| measure | mean (95 % interval) | photos |")
    print("|---|---|---|")
    for name, scores in [("hit", hits), ("R", recalls)]:
        values = np.asarray(scores, dtype=float)
        low, high = bootstrap_interval(values)
        print(f"| {name} | {values.mean():.3f} ({low:.3f}–{high:.3f}) | {len(values)} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", required=True, help="the site's address, e.g. http://127.0.0.1:8100")
    parser.add_argument("--rooms", type=Path, default=DATA / "rooms.json")
    parser.add_argument("--catalog", type=Path, default=DATA / "catalog.json")
    parser.add_argument("--split", default="dev")
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--room-photos", action="store_true", help="upload the room photos; read the complements")
    args = parser.parse_args()
    if args.room_photos:
        measure_room_photos(args)
        return

    rooms, category_of = rooms_of(args.rooms, args.split, args.catalog)
    hits, recalls, other_hits, other_recalls, seconds = [], [], [], [], []
    missing = 0
    for room in rooms:
        for sku in room:
            started = time.perf_counter()
            status, body = get_json(
                f"{args.url.rstrip('/')}/api/products/{urllib.parse.quote(sku)}/goes-with?k={args.k}"
            )
            seconds.append(time.perf_counter() - started)
            if status != 200:
                missing += 1
                continue
            shown = {card["sku"] for card in body["results"]}
            relevant = set(room) - {sku}
            other = {s for s in relevant if category_of[s] != category_of[sku]}
            found = len(shown & relevant)
            hits.append(float(found > 0))
            recalls.append(found / min(len(relevant), args.k))
            if other:
                found_other = len(shown & other)
                other_hits.append(float(found_other > 0))
                other_recalls.append(found_other / min(len(other), args.k))
    print(f"{len(hits)} queries from {len(rooms)} {args.split} rooms ({missing} skus not on the site), k = {args.k}\n")
    print("| measure | mean (95 % interval) | queries |")
    print("|---|---|---|")
    for name, scores in [
        (f"hit@{args.k}", hits),
        (f"R@{args.k}", recalls),
        (f"hit@{args.k}, the room's other categories", other_hits),
        (f"R@{args.k}, the room's other categories", other_recalls),
    ]:
        values = np.asarray(scores, dtype=float)
        low, high = bootstrap_interval(values)
        print(f"| {name} | {values.mean():.3f} ({low:.3f}–{high:.3f}) | {len(values)} |")
    print("\n" + answer_times(seconds))


if __name__ == "__main__":
    main()
