"""Upload → results latency under load, against a running site (web + worker), with the compute floor
measured in the same run so that the overhead is a ratio.

    python bench/load.py --url http://127.0.0.1:8000 --clients 4 --uploads 40
    python bench/load.py --clients 8 --seconds 600          # a soak: stops after T seconds
    python bench/load.py --clients 1 --queue-saves 2000     # with a bulk edit's 2,000 product encodes queued

Each client does what the page does: it uploads a real photo (default ../shared/data/webphotos) through
POST /api/uploads, then long-polls GET /api/uploads/<id>?wait=25&after=<state> until the upload is done or
failed (the server answers at the change; done is the last state: nothing is drawn for a shopper after the
answer; the pieces of each photo are then looked for on the ``pictures`` queue, behind it). The compute floor is
what the worker must do for one photo, in this process, with the encoder and index the site serves (same settings
and database), measured before the first upload, while nothing else runs (measured after, it would share the CPU
with the pieces still being looked for): "plain" is decode + backbone and heads + one nearest-neighbour query;
"the answer" is what the worker computes for the shopper's answer: the same, the photo's main colours and the
search ranked with its category guess. The site re-encodes each photo on arrival; the floor is measured on photos
re-encoded the same way. Then where the CPU went (``bench/cpu_use.py``: each role's CPU seconds and milliseconds per
upload, from /proc): while the clients ran, and until every photo's pieces were found too (the follow-up task).
"""

from __future__ import annotations

import argparse
import io
import os
import random
import statistics
import sys
import threading
import time
import urllib.parse
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench import cpu_use  # noqa: E402
from bench.site_client import get_json, post_image  # noqa: E402


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


def photos_from(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.suffix.lower() in {".jpg", ".jpeg", ".png", ".webp"})


def compute_floor(photos: list[Path], count: int) -> dict[str, list[float]]:
    """Seconds per photo, with the site's serving encoder and index, in this process: "plain" is decode + encode
    + one nearest-neighbour query; "answer" is what the worker computes for the shopper's answer (``upload_answer``
    less its database writes): decode, encode, the photo's main colours, and the search ranked with its category
    guess."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    import torch
    from django.conf import settings
    from PIL import Image

    from catalog.colours import dominant_colours
    from catalog.images import open_upright_rgb_image, upright_jpeg
    from encoders.inference import encode_query
    from encoders.lifecycle import encoder_load
    from recommender.services.category_guesses import category_guess, guess_of
    from recommender.services.colour_ranking import search_ranked
    from recommender.services.search import Filters, search_vector, serving_state
    from recommender.services.upload_processing import QUERY_SIDE

    torch.set_num_threads(settings.TORCH_THREADS)
    state = serving_state()
    if state.encoder_version is None:
        raise SystemExit("the site serves no encoder yet: run make demo (or manage.py retrain) first")
    encoder = encoder_load(state.encoder_version)
    stored = [upright_jpeg(path.read_bytes(), max_side=settings.UPLOAD_MAX_SIDE) for path in photos[:count]]
    k = settings.RECOMMENDATIONS_PER_PAGE
    timings: dict[str, list[float]] = {"plain": [], "answer": []}
    for data in stored:
        for kind in timings:
            started = time.perf_counter()
            with Image.open(io.BytesIO(data)) as image:
                image.draft("RGB", (QUERY_SIDE, QUERY_SIDE))
                picture = open_upright_rgb_image(image)
            encoded = encode_query(encoder, picture)
            if kind == "plain":
                search_vector(encoded.vector, k=k, state=state)
            else:
                colours = dominant_colours(picture)
                guess = guess_of(category_guess(encoded.categories))
                search_ranked(
                    encoded.vector, k=k, filters=Filters(), query_colours=colours, query_categories=guess, state=state
                )
            timings[kind].append(time.perf_counter() - started)
    return timings


def wait_until_settled(timeout: float) -> float:
    """Wait until the site has no upload queued, in progress or still looking for its pieces (an earlier run's
    backlog), so that the floor is measured on an idle machine. Returns the seconds waited."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    from django.db.models import Q

    from recommender.models import InspirationUpload

    busy = Q(status__in=[InspirationUpload.Status.QUEUED, InspirationUpload.Status.PROCESSING]) | Q(
        pieces_status=InspirationUpload.PiecesStatus.LOOKING
    )
    started = time.perf_counter()
    while InspirationUpload.objects.filter(busy).exists() and time.perf_counter() - started < timeout:
        time.sleep(0.5)
    return time.perf_counter() - started


def queue_saves(count: int) -> int:
    """Save ``count`` products through the staff path (``product_save``), as a bulk edit does: each save queues
    its encode on the ``products`` queue after commit. Returns how many were saved."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    from catalog.models import Product
    from catalog.services.products import product_save

    saved = 0
    for product in Product.objects.filter(is_active=True).order_by("pk")[:count].iterator():
        product_save(product=product)
        saved += 1
    return saved


def one_upload(url: str, photo: Path, wait: float, timeout: float) -> tuple[float, str]:
    """Upload, then follow the upload as the page does (long-poll), until it is done or failed."""
    started = time.perf_counter()
    status, created = post_image(f"{url}/api/uploads", photo.read_bytes(), photo.name)
    if status != 202:
        return time.perf_counter() - started, f"POST {status}: {created.get('error')}"
    state = created["status"] + ":answer"
    deadline = started + timeout
    while time.perf_counter() < deadline:
        query = urllib.parse.urlencode({"wait": wait, "after": state})
        status, body = get_json(f"{created['status_url']}?{query}", timeout=wait + 30)
        if status != 200:
            return time.perf_counter() - started, f"GET {status}"
        state = body["state"]
        if body["status"] == "done":
            return time.perf_counter() - started, "" if body["results"] else "done without results"
        if body["status"] == "failed":
            return time.perf_counter() - started, f"failed: {body['error']}"
    return time.perf_counter() - started, "lost: not finished before the timeout"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", default="http://127.0.0.1:8000")
    parser.add_argument("--photos", type=Path, default=ROOT.parent / "shared" / "data" / "webphotos")
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--uploads", type=int, default=40, help="total uploads (ignored with --seconds)")
    parser.add_argument("--seconds", type=float, default=0, help="run for this long instead of a fixed count")
    parser.add_argument("--floor-samples", type=int, default=20)
    parser.add_argument("--wait", type=float, default=25, help="long-poll seconds, as the page asks")
    parser.add_argument("--timeout", type=float, default=300, help="an upload not done by then counts as lost")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--settle", type=float, default=300, help="seconds to wait at most for an earlier backlog")
    parser.add_argument("--queue-saves", type=int, default=0, help="save this many products just before starting")
    args = parser.parse_args()

    photos = photos_from(args.photos)
    if not photos:
        raise SystemExit(f"no photos under {args.photos}")
    random.Random(args.seed).shuffle(photos)

    latencies: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()
    next_photo = iter(range(10**9))
    stop_at = time.perf_counter() + args.seconds if args.seconds else None

    def client() -> None:
        while True:
            with lock:
                n = next(next_photo)
                if stop_at is None and n >= args.uploads:
                    return
            if stop_at is not None and time.perf_counter() >= stop_at:
                return
            started_one = time.perf_counter()
            try:
                seconds, error = one_upload(args.url, photos[n % len(photos)], args.wait, args.timeout)
            except OSError as failure:  # connection refused or reset: an error, never a silent stop
                seconds, error = time.perf_counter() - started_one, f"{type(failure).__name__}: {failure}"
            with lock:
                (errors.append(error) if error else latencies.append(seconds))

    settled = wait_until_settled(args.settle)
    floor = compute_floor(photos, args.floor_samples)  # first, while the site is settled: nothing else on the CPU
    saved = queue_saves(args.queue_saves) if args.queue_saves else 0
    cpu_before = cpu_use.snapshot()
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=args.clients) as pool:
        for _ in range(args.clients):
            pool.submit(client)
    wall = time.perf_counter() - started
    cpu_answered = cpu_use.snapshot()

    total = len(latencies) + len(errors)
    lost = sum(1 for e in errors if e.startswith("lost"))
    print(f"{args.clients} clients, {total} uploads in {wall:.1f} s against {args.url}", end="")
    print(f" (waited {settled:.0f} s for earlier uploads to settle)")
    if saved:
        print(f"{saved} product saves queued just before the first upload")
    print()
    print("| measure | p50 s | p95 s | p99 s |")
    print("|---|---|---|---|")
    for name, values in [
        ("upload → results (end to end)", latencies),
        ("compute floor, plain (decode + encode + query)", floor["plain"]),
        ("compute floor, the answer (decode + encode + colours + ranked search)", floor["answer"]),
    ]:
        figures = " | ".join(f"{percentile(values, q):.3f}" for q in (50, 95, 99))
        print(f"| {name} | {figures} |")
    print()
    print(f"throughput: {len(latencies) / wall:.2f} uploads/s; errors: {len(errors)} (lost: {lost})")
    if latencies and floor["answer"]:
        p50, p95 = percentile(latencies, 50), percentile(latencies, 95)
        answer_floor, plain_floor = statistics.median(floor["answer"]), statistics.median(floor["plain"])
        print(
            f"overhead: end-to-end p50 is the answer's floor p50 + {(p50 - answer_floor) * 1000:.0f} ms"
            f" ({p50 / answer_floor:.1f}×); p95 is {p95 / answer_floor:.1f}×"
            f" (the plain floor p50: + {(p50 - plain_floor) * 1000:.0f} ms)"
        )
    for error in sorted(set(errors))[:10]:
        print(f"  error: {error} ×{errors.count(error)}")
    print()
    print("While the clients ran (the shoppers' answers):")
    print(cpu_use.report(cpu_before, cpu_answered, per=total, unit="upload"))
    if not args.queue_saves:
        pieces_wait = wait_until_settled(args.settle)
        print()
        print(f"From the first upload until every photo's pieces were found ({pieces_wait:.1f} s after the answers):")
        print(cpu_use.report(cpu_before, cpu_use.snapshot(), per=total, unit="upload"))


if __name__ == "__main__":
    main()
