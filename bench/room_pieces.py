"""Finding the pieces of a room photo, measured as the product answers: for each way of finding them (the
resolution of the one backbone pass, the windows, the score, the overlap suppression, the confidence floor, the
categories left out, the head the pieces search with, whether a piece's search vector is its window of the pass or
its crop passed through the backbone again), the pieces per photo, their precision, hit@10 and R@10 of
the merged ranking ("everything in this room"), the union recall of the pieces' own top 10s, and the seconds per
photo; beside the photo answered whole and today's 14 fixed crops.

    python bench/room_pieces.py --checkpoint ../devvar/models/enc-.../checkpoint.pt --cache ../cache/pieces

No database: the checkpoint is loaded directly; the catalog is ../shared/data/ikea/catalog.json and the queries
are the dev rooms of rooms.json that have a photo (22: every figure moves by 0.05 with one photo; read the
differences between rows with that in mind). ``--cache`` keeps the catalog's backbone features
(.npy) between runs; they depend on the backbone and the preprocessing only, not on the heads. The seconds per
photo are one process with ``--threads`` torch threads: reading the photo, the backbone and the heads, not the
catalog search (the index's work, per piece). Each piece is answered within its own category guess, as the product
answers it (encoders.evaluation.room_piece_scores, what ``evaluate_encoder`` reports), and "everything in this room"
is ranked with the pairs used together in the TRAIN rooms of rooms.json (what ``import_coviews --split train`` gives
the catalog, and ``evaluate_encoder`` reads from the database).
``--objectness-rooms N`` also fits an objectness head (encoders.objectness) on N synthetic rooms and adds the rows
that rank by it.
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


def options(default, *, with_objectness: bool = False):
    """(label, settings, max pieces) of every way tried, the finder's defaults first; the objectness scores when
    the encoder has been given an objectness head."""
    most = default.max_pieces
    return [
        ("default (below)", default, most),
        ("score: confidence alone", replace(default, score="confidence"), most),
        *(
            (f"pass {side} px", replace(default, side=side), most)
            for side in (224, 320, 448, 640)
            if side != default.side
        ),
        ("small windows only (0.3, 0.45)", replace(default, scales=(0.3, 0.45)), most),
        ("large windows only (0.6, 0.8, 1.0)", replace(default, scales=(0.6, 0.8, 1.0)), most),
        ("square windows only", replace(default, shapes=(1.0,)), most),
        *(
            (f"overlap IoU {iou:g}", replace(default, overlap_iou=iou), most)
            for iou in (0.15, 0.2, 0.25, 0.5)
            if iou != default.overlap_iou
        ),
        ("suppression per category", replace(default, per_category=True), most),
        ("confidence floor 0.15", replace(default, min_confidence=0.15), most),
        ("confidence floor 0.5", replace(default, min_confidence=0.5), most),
        (
            "textile, decor, kitchenware, other not pieces",
            replace(default, ignored=("textile", "decor", "kitchenware", "other")),
            most,
        ),
        ("search vectors of the pieces' crops (margin 0.1)", replace(default, vectors="crop"), most),
        ("crops without margin", replace(default, vectors="crop", crop_margin=0.0), most),
        ("crops with margin 0.25", replace(default, vectors="crop", crop_margin=0.25), most),
        ("similar head", replace(default, head="similar"), most),
        ("similar head on the crops", replace(default, vectors="crop", head="similar"), most),
        *((f"at most {count} pieces", default, count) for count in (4, 6, 8, 12) if count != most),
        *(
            (f"score: {score} (synthetic-room head)", replace(default, score=score), most)
            for score in ("objectness", "confidence x objectness", "confidence x objectness x contrast")
            if with_objectness
        ),
    ]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint", type=Path, required=True, help="an encoder's checkpoint.pt (category head)")
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data" / "ikea")
    parser.add_argument("--split", default="dev")
    parser.add_argument("--cache", type=Path, help="a folder for the catalog's backbone features (.npy)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument(
        "--objectness-rooms",
        type=int,
        default=0,
        help="synthetic rooms (catalog products pasted onto TRAIN room photos) to fit an objectness head on; 0: none",
    )
    parser.add_argument("--objectness-cache", type=Path, default=ROOT.parent / "cache" / "objectness")
    parser.add_argument("--objectness-seed", type=int, default=0, help="the seed of the objectness head's fit")
    args = parser.parse_args(argv)

    import torch

    from encoders import metrics
    from encoders.evaluation import EncoderEmbedder, room_piece_scores
    from encoders.inference import backbone_features, embed_backbone_features, encode_query, load_encoder
    from encoders.piece_finder import FinderSettings, photo_feature_map, pieces_of_map, with_crop_vectors
    from encoders.preprocess import load_rgb

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
    together = used_together(rooms_json, index)

    catalog_features = cached(args.cache, f"catalog_{len(images)}", lambda: backbone_features(encoder, images))
    similar = embed_backbone_features(encoder, catalog_features, head="similar")
    print(f"{args.checkpoint}: {len(images)} catalog products, {len(photos)} {args.split} room photos\n")
    if args.objectness_rooms:
        encoder.objectness = objectness_head(encoder, args, products, rooms_json)

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
    answered_whole = room_piece_scores([[] for _ in photos], whole_of, similar, categories, rooms, together=together)
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
    for label, settings, max_pieces in options(default, with_objectness=encoder.objectness is not None):
        if settings.side not in maps:
            started = time.perf_counter()
            maps[settings.side] = [photo_feature_map(encoder, photo, side=settings.side) for photo in photos]
            map_seconds[settings.side] = (time.perf_counter() - started) / len(photos)
        started = time.perf_counter()
        found = [pieces_of_map(encoder, fmap, max_pieces=max_pieces, settings=settings) for fmap in maps[settings.side]]
        if settings.vectors == "crop":
            found = [
                with_crop_vectors(encoder, load_rgb(photo), pieces, settings=settings)
                for photo, pieces in zip(photos, found, strict=True)
            ]
        seconds = map_seconds[settings.side] + (time.perf_counter() - started) / len(photos)
        scores = room_piece_scores(found, whole_of, similar, categories, rooms, together=together)
        hit, recall, union = scores["pieces hit@10"], scores["pieces R@10"], scores["pieces union R@10"]
        precision, counts = scores["piece precision"], scores["pieces per photo"]
        print(
            f"| {label} | {counts.mean():.2f} | {precision.mean() if len(precision) else 0:.3f} | {hit.mean():.3f} "
            f"| {recall.mean():.3f} | {union.mean():.3f} | {seconds:.2f} |"
        )
    print(
        f"\nDefault: pass {default.side} px, windows {default.scales} x shapes {default.shapes}, overlap IoU "
        f"{default.overlap_iou} across categories, confidence ≥ {default.min_confidence}, head {default.head}, "
        f"left out {default.ignored or 'none'}, search vectors from the pieces' {default.vectors}s, at most "
        f"{default.max_pieces} pieces. A photo without pieces is answered whole."
    )


def objectness_head(encoder, args, products: list[dict], rooms_json: list[dict]):
    """An objectness head (encoders.objectness) fitted on ``--objectness-rooms`` synthetic rooms: two to four
    catalog products pasted onto each TRAIN room photo in turn (never a product of a room outside TRAIN). The
    rooms' feature maps (the finder's pass) and the fitted head are kept under ``--objectness-cache``."""
    import random

    import torch
    from PIL import Image

    from encoders.objectness import ObjectnessHead, fit_objectness, synthetic_room, window_targets
    from encoders.piece_finder import FinderSettings, candidate_windows, photo_feature_map, window_boxes

    settings = FinderSettings()
    count, folder = args.objectness_rooms, args.objectness_cache
    folder.mkdir(parents=True, exist_ok=True)
    maps_path = folder / f"maps_{encoder.config.backbone}_{settings.side}px_{count}.pt"
    if not maps_path.is_file():
        started = time.perf_counter()
        train = [args.data / r["photo"] for r in rooms_json if r.get("split") == "train" and r.get("photo")]
        elsewhere = {sku for r in rooms_json if r.get("split") != "train" for sku in r["items"]}
        pool = [args.data / p["image"] for p in products if p["sku"] not in elsewhere]
        rng = random.Random(0)
        maps, boxes = [], []
        for i in range(count):
            background = Image.open(train[i % len(train)]).convert("RGB")
            shots = [Image.open(path).convert("RGB") for path in rng.sample(pool, rng.randint(2, 4))]
            photo, pasted = synthetic_room(background, shots, rng, side=settings.side)
            maps.append(photo_feature_map(encoder, photo, side=settings.side).half())
            boxes.append(torch.as_tensor(pasted))
        torch.save({"maps": maps, "boxes": boxes}, maps_path)
        print(f"{count} synthetic rooms from {len(train)} TRAIN photos in {time.perf_counter() - started:.0f} s")
    stored = torch.load(maps_path, weights_only=True)
    maps, boxes = stored["maps"], [b.numpy() for b in stored["boxes"]]
    held = max(1, count // 10)  # the last tenth is held out, to say how well the head learned its synthetic task

    def windows_of(h: int, w: int):
        return candidate_windows(h, w, scales=settings.scales, shapes=settings.shapes)

    seed = args.objectness_seed
    head_path = folder / f"head_{maps_path.stem.removeprefix('maps_')}_seed{seed}.pt"  # refit after changing the fit
    started = time.perf_counter()
    if head_path.is_file():
        head = ObjectnessHead(feature_dim=maps[0].shape[0])
        head.load_state_dict(torch.load(head_path, weights_only=True))
        head.eval()
    else:
        head = fit_objectness(maps[:-held], boxes[:-held], windows_of, seed=seed)
        torch.save(head.state_dict(), head_path)
    seconds = time.perf_counter() - started
    on, off, top = [], [], []
    for fmap, pasted in zip(maps[-held:], boxes[-held:], strict=True):
        windows = windows_of(*fmap.shape[1:])
        targets = window_targets(window_boxes(windows, *fmap.shape[1:]), pasted)
        scores = head.scores(fmap.float(), windows)
        on.extend(scores[targets >= 0.5])
        off.extend(scores[targets == 0])
        top.append(targets[scores.argmax()])
    ranked = (np.array(on)[:, None] > np.array(off)[None, :]).mean()
    print(
        f"objectness head fitted on {count - held} synthetic rooms in {seconds:.0f} s (0: kept from an earlier run); "
        f"on {held} held-out ones it "
        f"ranks {ranked:.3f} of (window on a product, window off all) pairs right, and its best window overlaps a "
        f"pasted product by IoU {np.mean(top):.2f} on average\n"
    )
    return head


def used_together(rooms_json: list[dict], index: dict[str, int]) -> set[tuple[int, int]]:
    """The pairs of catalog indices used together in one TRAIN room of rooms.json (products the catalog lacks left
    out): what ``import_coviews --split train`` stores, as ``Catalog.used_together`` reads it."""
    pairs = set()
    for room in rooms_json:
        if room.get("split") != "train":
            continue
        members = sorted({index[sku] for sku in room["items"] if sku in index})
        pairs.update((a, b) for n, a in enumerate(members) for b in members[n + 1 :])
    return pairs


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
