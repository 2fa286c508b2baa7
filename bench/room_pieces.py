"""Finding the pieces of a room photo, measured as the product answers: for each way of finding them (the
resolution of the one backbone pass, the windows, the score, the overlap suppression, the confidence floor, the
categories left out, the head the pieces search with), the pieces per photo, their precision, hit@10 and R@10 of
the merged ranking ("everything in this room"), the union recall of the pieces' own top 10s, and the seconds per
photo; beside the photo answered whole and today's 14 fixed crops.

    python bench/room_pieces.py --checkpoint ../devvar/models/enc-.../checkpoint.pt --cache ../cache/pieces

No database: the checkpoint is loaded directly; the catalog is ../shared/data/ikea/catalog.json and the queries
are the dev rooms of rooms.json that have a photo (22: every figure moves by 0.05 with one photo; read the
differences between rows with that in mind). ``--cache`` keeps the catalog's backbone features
(.npy) between runs; they depend on the backbone and the preprocessing only, not on the heads. The seconds per
photo are one process with ``--threads`` torch threads: reading the photo, the backbone and the heads, not the
catalog search (the index's work, per piece). Each piece is answered within its own category guess, as the product
answers it (encoders.evaluation.room_piece_scores, what ``evaluate_encoder`` reports).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def options(default):
    """(label, settings, max pieces) of every way tried, the finder's defaults first."""
    return [
        ("default (below)", default, 6),
        ("score: confidence alone", replace(default, score="confidence"), 6),
        *((f"pass {side} px", replace(default, side=side), 6) for side in (224, 320, 448, 640) if side != default.side),
        ("small windows only (0.3, 0.45)", replace(default, scales=(0.3, 0.45)), 6),
        ("large windows only (0.6, 0.8, 1.0)", replace(default, scales=(0.6, 0.8, 1.0)), 6),
        ("square windows only", replace(default, shapes=(1.0,)), 6),
        ("overlap IoU 0.5", replace(default, overlap_iou=0.5), 6),
        ("overlap IoU 0.15", replace(default, overlap_iou=0.15), 6),
        ("suppression per category", replace(default, per_category=True), 6),
        ("confidence floor 0.15", replace(default, min_confidence=0.15), 6),
        ("confidence floor 0.5", replace(default, min_confidence=0.5), 6),
        ("similar head", replace(default, head="similar"), 6),
        (
            "textile, decor, kitchenware, other not pieces",
            replace(default, ignored=("textile", "decor", "kitchenware", "other")),
            6,
        ),
        ("at most 4 pieces", default, 4),
        ("at most 8 pieces", default, 8),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint", type=Path, required=True, help="an encoder's checkpoint.pt (category head)")
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data" / "ikea")
    parser.add_argument("--split", default="dev")
    parser.add_argument("--cache", type=Path, help="a folder for the catalog's backbone features (.npy)")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()

    import torch

    from encoders import metrics
    from encoders.evaluation import EncoderEmbedder, room_piece_scores
    from encoders.inference import backbone_features, embed_backbone_features, encode_query, load_encoder
    from encoders.piece_finder import FinderSettings, photo_feature_map, pieces_of_map

    torch.set_num_threads(args.threads)
    encoder = load_encoder(args.checkpoint)
    if not encoder.has_category_head:
        raise SystemExit(f"{args.checkpoint} has no category head: it finds no pieces")
    products = json.loads((args.data / "catalog.json").read_text())
    images = [args.data / p["image"] for p in products]
    categories = [p["category"] for p in products]
    index = {p["sku"]: i for i, p in enumerate(products)}
    rooms_json = json.loads((args.data / "rooms.json").read_text())
    dev = [r for r in rooms_json if r.get("split") == args.split and r.get("photo")]
    photos = [args.data / r["photo"] for r in dev]
    rooms = metrics.room_products([r["items"] for r in dev], index)

    catalog_features = cached(args.cache, f"catalog_{len(images)}", lambda: backbone_features(encoder, images))
    similar = embed_backbone_features(encoder, catalog_features, head="similar")
    print(f"{args.checkpoint}: {len(images)} catalog products, {len(photos)} {args.split} room photos\n")

    started = time.perf_counter()
    encoded = [encode_query(encoder, photo) for photo in photos]  # the single-photo path: one 224 px pass
    whole_seconds = (time.perf_counter() - started) / len(photos)
    whole = [query.vector[None, :] for query in encoded]

    def whole_of(i: int):
        return whole[i], [encoded[i].categories]

    embedder = EncoderEmbedder(encoder)
    started = time.perf_counter()
    crops = [embedder.scene(photo) for photo in photos]
    crop_seconds = (time.perf_counter() - started) / len(photos)

    header = (
        "| way of finding the pieces | pieces per photo | piece precision | pieces hit@10 | pieces R@10 "
        "| pieces union R@10 | s per photo |"
    )
    print(header)
    print("|---|---|---|---|---|---|---|")
    answered_whole = room_piece_scores([[] for _ in photos], whole_of, similar, categories, rooms)
    figures = " | ".join(f"{answered_whole[name].mean():.3f}" for name in ("pieces hit@10", "pieces R@10"))
    figures += f" | {answered_whole['pieces union R@10'].mean():.3f}"
    print(f"| photo answered whole, within its guess (today's product) | 1 | – | {figures} | {whole_seconds:.2f} |")
    hit, recall = metrics.scene_hit_recall_scores(metrics.multi_query_scores(crops, similar), rooms)
    union = metrics.union_recall_scores([metrics.top_k(metrics.cosine_scores(q, similar)) for q in crops], rooms)
    figures = f"{hit.mean():.3f} | {recall.mean():.3f} | {union.mean():.3f}"
    print(f"| 14 fixed crops, by similarity (today's scene figure) | 14 | – | {figures} | {crop_seconds:.2f} |")

    maps: dict[int, list] = {}
    map_seconds: dict[int, float] = {}
    default = FinderSettings()
    for label, settings, max_pieces in options(default):
        if settings.side not in maps:
            started = time.perf_counter()
            maps[settings.side] = [photo_feature_map(encoder, photo, side=settings.side) for photo in photos]
            map_seconds[settings.side] = (time.perf_counter() - started) / len(photos)
        started = time.perf_counter()
        found = [pieces_of_map(encoder, fmap, max_pieces=max_pieces, settings=settings) for fmap in maps[settings.side]]
        seconds = map_seconds[settings.side] + (time.perf_counter() - started) / len(photos)
        scores = room_piece_scores(found, whole_of, similar, categories, rooms)
        hit, recall, union = scores["pieces hit@10"], scores["pieces R@10"], scores["pieces union R@10"]
        precision, counts = scores["piece precision"], scores["pieces per photo"]
        print(
            f"| {label} | {counts.mean():.2f} | {precision.mean() if len(precision) else 0:.3f} | {hit.mean():.3f} "
            f"| {recall.mean():.3f} | {union.mean():.3f} | {seconds:.2f} |"
        )
    print(
        f"\nDefault: pass {default.side} px, windows {default.scales} x shapes {default.shapes}, overlap IoU "
        f"{default.overlap_iou} across categories, confidence ≥ {default.min_confidence}, head {default.head}, "
        f"left out {default.ignored or 'none'}, at most 6 pieces. A photo without pieces is answered whole."
    )


def cached(folder: Path | None, name: str, compute) -> np.ndarray:
    """``compute()``, kept as folder/name.npy when a folder is given."""
    if folder is None:
        return compute()
    path = folder / f"{name}.npy"
    if not path.is_file():
        folder.mkdir(parents=True, exist_ok=True)
        np.save(path, compute())
    return np.load(path)


if __name__ == "__main__":
    main()
