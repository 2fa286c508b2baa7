"""How much of a room the pieces could find at best: for each resolution of the finder's one backbone pass, every
candidate window of the photo answered as the product answers a piece (the scene head's vector, ranked with the
piece head's guess, within its category when sure: ``encoders.metrics.piece_answers``), and

- the share of each room's products in some window's first ten (no choice of windows can find more), and the same
  with the catalog's products relabelled at random (the mean of ``--draws`` relabellings: what so many answers
  find by chance);
- the best ten windows, chosen knowing the room (greedily, each adding the most of its products not yet found):
  what the union of ten pieces' answers could reach with a perfect choice;
- the finder's own pieces at that pass (what the product does), and as many windows drawn at random among those
  the finder could offer, kept apart as the finder keeps its pieces (the mean of ``--draws`` draws): what a choice
  that knows nothing finds;
- the finder's seconds per photo at that pass (``find_pieces``: the pass, the heads on every window, the chosen
  pieces' vectors), beside the single-photo answer's (``encode_query``), both on one thread.

    python bench/piece_ceiling.py --version enc-... [--sides 320,448] [--scales 0.15,0.2,0.3,0.45,0.6,0.8]

With the site's DATABASE_URL and VAR_DIR (the version and the catalog); the dev room photos of rooms.json.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.dev_data import add_dev_data_arguments, dev_version, setup_django  # noqa: E402


def best_windows(answers: np.ndarray, room: set[int], count: int) -> set[int]:
    """The room's products found by the ``count`` windows that find the most of them, chosen greedily (each adds
    the most products not yet found; ties to the first): ``answers`` (N, k) catalog indices."""
    found: set[int] = set()
    hits = [room.intersection(row.tolist()) for row in answers]
    for _ in range(count):
        gains = [len(h - found) for h in hits]
        if not gains or max(gains) == 0:
            break
        found |= hits[int(np.argmax(gains))]
    return found


def found_share(room: set[int], answers: np.ndarray) -> float:
    """The share of the room's products among ``answers`` (catalog indices, any shape)."""
    return len(room.intersection(np.asarray(answers).ravel().tolist())) / len(room)


def random_windows(ranked, boxes: np.ndarray, settings, count: int, rng: np.random.Generator) -> np.ndarray:
    """``count`` windows drawn at random among those the finder could offer (sure enough, standing out of their
    surround), overlaps suppressed as the finder suppresses them: indices into the windows."""
    from encoders.pieces import suppress_overlaps

    offered = np.flatnonzero((ranked.confidence >= settings.min_confidence) & (ranked.score > 0))
    order = suppress_overlaps(boxes[offered], rng.random(len(offered)), iou=settings.overlap_iou, max_count=count)
    return offered[np.asarray(order, dtype=int)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", required=True, help="an encoder version with a category head")
    parser.add_argument("--sides", default="320,448", help="the short side of the pass, in pixels, comma separated")
    parser.add_argument("--scales", default="", help="window sides as shares of the short side (default: finder's)")
    parser.add_argument("--pieces", type=int, default=0, help="windows chosen knowing the room (default: finder's)")
    parser.add_argument("--draws", type=int, default=20, help="draws of windows at random, averaged")
    add_dev_data_arguments(parser)
    args = parser.parse_args(argv)
    setup_django()

    import torch

    from encoders import metrics
    from encoders.evaluation import pieces_answered
    from encoders.inference import encode_query
    from encoders.piece_finder import find_pieces, photo_feature_map, ranked_windows, window_boxes
    from encoders.pieces import within_category

    torch.set_num_threads(1)
    version = dev_version(args)
    encoder, catalog, queries, embedder, similar = (
        version.encoder,
        version.catalog,
        version.queries,
        version.embedder,
        version.similar,
    )
    rooms = [set(room) for room in metrics.room_products(queries.scene_rooms, catalog.sku_index)]
    photos = [photo for photo, room in zip(queries.scene_photos, rooms, strict=True) if room]
    rooms = [room for room in rooms if room]
    served = embedder.finder
    count = args.pieces or served.max_pieces
    settings = replace(served, scales=tuple(float(s) for s in args.scales.split(","))) if args.scales else served

    started = time.perf_counter()
    for photo in photos:
        encode_query(encoder, photo)
    floor = (time.perf_counter() - started) / len(photos)
    print(
        f"{args.version}: {len(photos)} {args.split} room photos with catalog products; windows of sides "
        f"{settings.scales} x shapes {settings.shapes}; the single-photo answer {floor * 1000:.0f} ms a photo "
        "(one thread)\n"
    )
    print(
        f"| pass | windows a photo | some window | some window, by chance | best {count} windows (knowing the room) "
        f"| the finder's {count} pieces | {count} at random | the finder, ms | x single photo |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    rng = np.random.default_rng(0)
    for side in (int(s) for s in args.sides.split(",")):
        windows, every, chance, best, finder, drawn, seconds = [], [], [], [], [], [], 0.0
        for photo, room in zip(photos, rooms, strict=True):
            fmap = photo_feature_map(encoder, photo, side=side)
            ranked = ranked_windows(encoder, fmap, settings=settings)
            with torch.inference_mode():
                vectors = encoder.model.query_vectors(ranked.features, head=settings.head).numpy()
            guesses = [dict(zip(encoder.categories, row.tolist(), strict=True)) for row in ranked.probabilities]
            inside = [
                encoder.categories[b] if within_category(c) else None
                for b, c in zip(ranked.best, ranked.confidence, strict=True)
            ]
            answers = metrics.piece_answers(metrics.cosine_scores(vectors, similar), catalog.categories, guesses,
                                            inside=inside)  # fmt: skip
            windows.append(len(answers))
            every.append(found_share(room, answers))
            relabelled = (rng.permutation(len(similar))[answers] for _ in range(args.draws))
            chance.append(np.mean([found_share(room, answer) for answer in relabelled]))
            best.append(len(best_windows(answers, room, count)) / len(room))
            boxes = window_boxes(ranked.windows, *fmap.shape[1:])
            drawn_windows = (random_windows(ranked, boxes, settings, count, rng) for _ in range(args.draws))
            drawn.append(np.mean([found_share(room, answers[chosen]) for chosen in drawn_windows]))
            started = time.perf_counter()
            pieces = find_pieces(encoder, photo, settings=replace(served, side=side))
            seconds += time.perf_counter() - started
            answered = pieces_answered(pieces, similar, catalog.categories)[1] if pieces else []
            finder.append(found_share(room, answered))
        ms = seconds / len(photos) * 1000
        shares = " | ".join(f"{np.mean(share):.3f}" for share in (every, chance, best, finder, drawn))
        print(
            f"| {side} px | {np.mean(windows):.0f} | {shares} | {ms:.0f} | {ms / 1000 / floor:.1f} |",
            flush=True,
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
