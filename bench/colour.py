"""Do the answers to real photos have the photo's colour, and the photographed kind? Measured through the site's
API, with and without the "same colour" control.

    python bench/colour.py --url http://127.0.0.1:8100
    python bench/colour.py --url http://127.0.0.1:8100 --per-class 40 --clients 2 --json var/colour.json

Each web photo of the dev data (default ../shared/data/webphotos: one folder per class and accept.json, the
photos evaluate_encoder's web task uses) is uploaded once through POST /api/uploads and followed by long-poll until
the worker has answered. Its answer is then read twice: GET /api/uploads/<id> (the default ranking) and
GET /api/uploads/<id>?colour=same (the stored search vector re-ranked by the photo's main colour, what the
results page's "Same colour as your photo" does). For each ranking and each photo, over the first ten results:

- ΔE: the mean CIE76 distance in CIELAB between the photo's main colour (computed by the worker, ``colour`` in
  the payload) and each result's main colour (computed from its product picture); results without a known
  colour are left out of the mean and counted;
- P@10: the share of the ten whose category is one that accept.json accepts for the photo's class;
- distinct: how many different product names the ten hold (variants grouped into one card count once).

It prints one row per ranking: the means over photos, P@10 per class and its mean over classes. The site must
accept the uploads (run it with UPLOAD_RATE_LIMIT_PER_MINUTE=0).
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import threading
import time
import urllib.parse
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.site_client import get_json, post_image  # noqa: E402
from catalog.colours import delta_e  # noqa: E402  (numpy only: no Django needed)

K = 10
RANKINGS = {"default": {}, "same colour": {"colour": "same"}}
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp"}


@dataclass(frozen=True)
class Measure:
    """One photo's answer under one ranking."""

    photo: str
    photo_class: str
    ranking: str
    delta_e: float | None  # mean over the results with a known colour; None when no result has one
    unknown_colours: int  # results of the first K without a known colour
    precision: float
    distinct: int
    results: int


def web_photos(folder: Path) -> tuple[list[tuple[Path, str]], dict[str, list[str]]]:
    """(photo, class) for every photo of a class named in ``accept.json``, sorted, and the accepted categories."""
    accept = json.loads((folder / "accept.json").read_text())
    photos = sorted(
        (path, name)
        for name in accept
        if (folder / name).is_dir()
        for path in (folder / name).iterdir()
        if path.suffix.lower() in IMAGE_SUFFIXES
    )
    return photos, {name: list(categories) for name, categories in accept.items()}


def sample_per_class(photos: list[tuple[Path, str]], per_class: int, seed: int) -> list[tuple[Path, str]]:
    """At most ``per_class`` photos of each class, drawn with ``seed``; all of them when ``per_class`` is 0."""
    if per_class <= 0:
        return photos
    by_class: dict[str, list[tuple[Path, str]]] = {}
    for photo in photos:
        by_class.setdefault(photo[1], []).append(photo)
    rng = random.Random(seed)
    chosen = []
    for name in sorted(by_class):
        group = by_class[name]
        chosen += sorted(rng.sample(group, min(per_class, len(group))))
    return chosen


def mean_colour_distance(query_lab: list[float] | None, results: list[dict], k: int = K) -> tuple[float | None, int]:
    """The mean CIE76 ΔE between ``query_lab`` and the main colours of the first ``k`` results, and how many of
    those have no known colour (left out of the mean)."""
    top = results[:k]
    known = [card["colour"]["lab"] for card in top if card.get("colour")]
    if query_lab is None or not known:
        return None, len(top) - len(known)
    return statistics.fmean(delta_e(query_lab, lab) for lab in known), len(top) - len(known)


def precision_at_k(results: list[dict], accepted: list[str], k: int = K) -> float:
    """The share of the first ``k`` results whose category is accepted (a short answer counts its gaps as misses)."""
    return sum(card["category"] in accepted for card in results[:k]) / k


def distinct_names(results: list[dict], k: int = K) -> int:
    return len({card["name"].casefold() for card in results[:k]})


def measure(photo: str, photo_class: str, ranking: str, body: dict, accepted: list[str]) -> Measure:
    query = body.get("colour") or {}
    distance, unknown = mean_colour_distance(query.get("lab"), body["results"])
    return Measure(
        photo=photo,
        photo_class=photo_class,
        ranking=ranking,
        delta_e=distance,
        unknown_colours=unknown,
        precision=precision_at_k(body["results"], accepted),
        distinct=distinct_names(body["results"]),
        results=len(body["results"]),
    )


def summarise(measures: list[Measure]) -> list[dict]:
    """One row per ranking: mean ΔE, P@10 over photos, P@10 per class and its mean over classes, distinct names."""
    rows = []
    for ranking in dict.fromkeys(m.ranking for m in measures):
        mine = [m for m in measures if m.ranking == ranking]
        distances = [m.delta_e for m in mine if m.delta_e is not None]
        classes = sorted({m.photo_class for m in mine})
        per_class = {c: statistics.fmean(m.precision for m in mine if m.photo_class == c) for c in classes}
        rows.append(
            {
                "ranking": ranking,
                "photos": len(mine),
                "delta_e": statistics.fmean(distances) if distances else None,
                "precision": statistics.fmean(m.precision for m in mine),
                "precision_per_class": per_class,
                "precision_class_mean": statistics.fmean(per_class.values()),
                "distinct": statistics.fmean(m.distinct for m in mine),
                "unknown_colours": sum(m.unknown_colours for m in mine),
            }
        )
    return rows


def markdown(rows: list[dict]) -> str:
    classes = sorted({c for row in rows for c in row["precision_per_class"]})
    head = ["ranking", "photos", "mean ΔE top 10", "P@10", "P@10 mean over classes", *classes, "distinct names"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for row in rows:
        cells = [
            row["ranking"],
            str(row["photos"]),
            "–" if row["delta_e"] is None else f"{row['delta_e']:.1f}",
            f"{row['precision']:.3f}",
            f"{row['precision_class_mean']:.3f}",
            *(f"{row['precision_per_class'].get(c, float('nan')):.3f}" for c in classes),
            f"{row['distinct']:.1f}",
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def answered(url: str, photo: Path, wait: float, timeout: float) -> tuple[str, str]:
    """Upload ``photo`` and follow it until the worker has answered: (upload id, error or "")."""
    status, created = post_image(f"{url}/api/uploads", photo.read_bytes(), photo.name)
    if status != 202:
        return "", f"POST {status}: {created.get('error')}"
    state, deadline = created["status"] + ":answer", time.monotonic() + timeout
    while time.monotonic() < deadline:
        query = urllib.parse.urlencode({"wait": wait, "after": state})
        status, body = get_json(f"{created['status_url']}?{query}", timeout=wait + 30)
        if status != 200:
            return created["id"], f"GET {status}: {body.get('error')}"
        state = body["state"]
        if body["status"] == "done":
            return created["id"], ""
        if body["status"] == "failed":
            return created["id"], f"failed: {body['error']}"
    return created["id"], "not answered before the timeout"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", default="http://127.0.0.1:8000")
    parser.add_argument("--photos", type=Path, default=ROOT.parent / "shared" / "data" / "webphotos")
    parser.add_argument("--per-class", type=int, default=0, help="at most this many photos a class (0: all)")
    parser.add_argument("--clients", type=int, default=2, help="uploads in flight at once")
    parser.add_argument("--wait", type=float, default=25, help="long-poll seconds, as the page asks")
    parser.add_argument("--timeout", type=float, default=300, help="give up on an upload after this many seconds")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", type=Path, help="also write every photo's measures here")
    args = parser.parse_args()

    photos, accept = web_photos(args.photos)
    photos = sample_per_class(photos, args.per_class, args.seed)
    if not photos:
        raise SystemExit(f"no photos under {args.photos}")
    url = args.url.rstrip("/")
    measures: list[Measure] = []
    errors: list[str] = []
    lock = threading.Lock()

    def one(item: tuple[Path, str]) -> None:
        photo, photo_class = item
        upload_id, error = answered(url, photo, args.wait, args.timeout)
        found = []
        if not error:
            for ranking, params in RANKINGS.items():
                query = f"?{urllib.parse.urlencode(params)}" if params else ""
                status, body = get_json(f"{url}/api/uploads/{upload_id}{query}")
                if status != 200:
                    error = f"GET {ranking} {status}: {body.get('error')}"
                    break
                found.append(measure(photo.name, photo_class, ranking, body, accept[photo_class]))
        with lock:
            if error:
                errors.append(f"{photo_class}/{photo.name}: {error}")
            else:
                measures.extend(found)

    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=args.clients) as pool:
        list(pool.map(one, photos))
    print(f"{len(photos)} photos through {url} in {time.monotonic() - started:.0f} s; {len(errors)} errors\n")
    rows = summarise(measures) if measures else []
    if rows:
        print(markdown(rows))
        unknown = rows[0]["unknown_colours"]
        if unknown:
            print(f"\n{unknown} results had no known colour (run manage.py product_features --missing on the site)")
    for error in errors[:10]:
        print(f"  error: {error}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"summary": rows, "photos": [asdict(m) for m in measures]}, indent=1))
    if not measures:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
