"""Research script: baselines vs the similarity-regularised autoencoder on the dev data.

    .venv/bin/python bench/encoder_experiments.py [--quick] [--ikea PATH] [--webphotos PATH]

Reads the shared data by path (never copied into the repo); caches backbone features and
letterboxed pixels under var/cache/. Prints one markdown table with the six figures of the
evaluation protocol (see encoders.metrics) for the baselines, the encoder and its ablations.

Training uses only the catalog, the co-view pairs of TRAIN rooms and TRAIN room photos (as
composite backgrounds and as scene supervision); the dev rooms and web photos are only
measured on. How the encoder is queried per task: web and loo by the "similar" head,
room by the "goes_with" head, scene by crops of the photo through the "scene" head against
the catalog's "similar" vectors, merged by the best score per product.

The default encoder trains from the images (no feature cache), so its time is the real
wall time including feature extraction; ablations and --quick reuse cached features.
Read differences under ~0.05 on room/scene as noise (57 rooms, 22 photos).
Note loo P@10 of a category-supervised encoder is measured on its own training products.
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from encoders import baselines, metrics  # noqa: E402
from encoders.inference import embed_backbone_features, encode_images, load_encoder, scene_crops  # noqa: E402
from encoders.model import EncoderConfig  # noqa: E402
from encoders.training import train_encoder  # noqa: E402

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp"}


@dataclass
class Data:
    product_images: list[Path]
    categories: list[str]
    sku_index: dict[str, int]
    coview_pairs: list[tuple[int, int, int]]
    backgrounds: list[Path]
    train_scenes: list[tuple[Path, list[int]]]  # TRAIN room photos and their products
    dev_rooms: list[list[int]]  # catalog indices per dev room
    scene_photos: list[Path]  # dev room photos
    scene_rooms: list[list[int]]  # catalog indices of the room of each photo
    web_images: list[Path]
    web_classes: list[str]
    accept: dict[str, list[str]]


def load_data(ikea: Path, webphotos: Path) -> Data:
    catalog = json.loads((ikea / "catalog.json").read_text())
    rooms = json.loads((ikea / "rooms.json").read_text())
    sku_index = {p["sku"]: i for i, p in enumerate(catalog)}
    train = [r for r in rooms if r["split"] == "train"]
    dev = [r for r in rooms if r["split"] == "dev"]
    counts: Counter = Counter()
    for room in metrics.room_products([r["items"] for r in train], sku_index):
        for a, b in itertools.combinations(sorted(room), 2):
            counts[(a, b)] += 1
    with_photo = [r for r in dev if r["photo"]]
    accept = json.loads((webphotos / "accept.json").read_text())
    web = sorted((p, cls) for cls in accept for p in (webphotos / cls).iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    return Data(
        product_images=[ikea / p["image"] for p in catalog],
        categories=[p["category"] for p in catalog],
        sku_index=sku_index,
        coview_pairs=[(a, b, c) for (a, b), c in sorted(counts.items())],
        backgrounds=[ikea / r["photo"] for r in train if r["photo"]],
        train_scenes=[
            (ikea / r["photo"], products)
            for r, products in zip(train, metrics.room_products([r["items"] for r in train], sku_index), strict=True)
            if r["photo"] and products
        ],
        dev_rooms=metrics.room_products([r["items"] for r in dev], sku_index),
        scene_photos=[ikea / r["photo"] for r in with_photo],
        scene_rooms=metrics.room_products([r["items"] for r in with_photo], sku_index),
        web_images=[p for p, _ in web],
        web_classes=[c for _, c in web],
        accept=accept,
    )


def cached(path: Path, compute):
    """np.save-backed cache of one array."""
    if path.exists():
        return np.load(path)
    t = time.perf_counter()
    value = compute()
    path.parent.mkdir(parents=True, exist_ok=True)
    np.save(path, value)
    print(f"  cached {path.name} in {time.perf_counter() - t:.0f}s", flush=True)
    return value


def evaluate(
    data: Data,
    *,
    catalog: np.ndarray,
    web: np.ndarray,
    scene_scores: np.ndarray,
    room_catalog: np.ndarray | None = None,
) -> dict:
    room_hit, room_recall = metrics.room_hit_recall(
        room_catalog if room_catalog is not None else catalog, data.dev_rooms
    )
    scene_hit, scene_recall = metrics.scene_hit_recall(scene_scores, data.scene_rooms)
    return {
        "web P@10": metrics.web_precision(web, data.web_classes, data.accept, catalog, data.categories),
        "loo P@10": metrics.loo_precision(catalog, data.categories),
        "room hit@10": room_hit,
        "room R@10": room_recall,
        "scene hit@10": scene_hit,
        "scene R@10": scene_recall,
    }


def print_table(rows: list[tuple[str, dict, str]]) -> None:
    cols = ["web P@10", "loo P@10", "room hit@10", "room R@10", "scene hit@10", "scene R@10"]
    print("\n| method | " + " | ".join(cols) + " | train time |")
    print("|---|" + "---|" * (len(cols) + 1))
    for name, figs, note in rows:
        print(f"| {name} | " + " | ".join(f"{figs[c]:.3f}" for c in cols) + f" | {note} |")
    sys.stdout.flush()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ikea", type=Path, default=Path("/work/shared/data/ikea"))
    parser.add_argument("--webphotos", type=Path, default=Path("/work/shared/data/webphotos"))
    parser.add_argument("--cache", type=Path, default=ROOT / "var" / "cache")
    parser.add_argument("--quick", action="store_true", help="short trainings, fewer variants")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--only", default="", help="comma-separated variant names to run")
    parser.add_argument("--skip-baselines", action="store_true")
    parser.add_argument(
        "--reuse-features",
        action="store_true",
        help="let the default encoder reuse cached view features too, as --quick does (its time then excludes "
        "the feature extraction)",
    )
    parser.add_argument("--save", type=Path, default=None, help="write the default encoder's checkpoint here")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    cache = args.cache
    data = load_data(args.ikea, args.webphotos)
    print(
        f"{len(data.product_images)} products, {len(data.coview_pairs)} train co-view pairs, "
        f"{len(data.backgrounds)} train room photos, {len(data.dev_rooms)} dev rooms, "
        f"{len(data.scene_photos)} dev room photos, {len(data.web_images)} web photos",
        flush=True,
    )

    # Pretrained features, shared by the EfficientNet baseline and every frozen-backbone encoder.
    crops_per_photo = [len(scene_crops(p)) for p in data.scene_photos]
    feats_catalog = cached(cache / "effnet_catalog.npy", lambda: baselines.efficientnet_features(data.product_images))
    feats_web = cached(cache / "effnet_web.npy", lambda: baselines.efficientnet_features(data.web_images))
    feats_crops = cached(
        cache / "effnet_scene_crops.npy",
        lambda: baselines.efficientnet_features([c for p in data.scene_photos for c in scene_crops(p)]),
    )
    splits = np.cumsum(crops_per_photo)[:-1]
    crop_groups = np.split(np.arange(len(feats_crops)), splits)
    whole_photo = np.array([g[0] for g in crop_groups])  # crop 0 is the whole photo

    rows: list[tuple[str, dict, str]] = []
    if not args.skip_baselines:
        px_catalog = cached(
            cache / "px64_catalog.npy", lambda: baselines.letterboxed_array(data.product_images, size=64)
        )
        px_web = cached(cache / "px64_web.npy", lambda: baselines.letterboxed_array(data.web_images, size=64))
        px_scene = cached(cache / "px64_scene.npy", lambda: baselines.letterboxed_array(data.scene_photos, size=64))

        def baseline_row(name: str, cat: np.ndarray, web: np.ndarray, scene: np.ndarray, note: str = "") -> None:
            rows.append(
                (name, evaluate(data, catalog=cat, web=web, scene_scores=metrics.cosine_scores(scene, cat)), note)
            )
            print_table(rows[-1:])

        n = len(data.product_images)
        baseline_row(
            "random vectors",
            baselines.random_vectors(n, seed=args.seed),
            baselines.random_vectors(len(px_web), seed=args.seed + 1),
            baselines.random_vectors(len(px_scene), seed=args.seed + 2),
        )
        baseline_row(
            "raw pixels, 16x16 RGB",
            baselines.raw_pixels(px_catalog),
            baselines.raw_pixels(px_web),
            baselines.raw_pixels(px_scene),
        )
        mean, comps = baselines.pca_fit(px_catalog)
        baseline_row(
            "PCA, 64 components of 64x64 RGB",
            baselines.pca_embed(px_catalog, mean, comps),
            baselines.pca_embed(px_web, mean, comps),
            baselines.pca_embed(px_scene, mean, comps),
        )
        t = time.perf_counter()
        ae = baselines.conv_autoencoder_train(px_catalog, epochs=5 if args.quick else 15, seed=args.seed)
        ae_time = f"{time.perf_counter() - t:.0f}s"
        baseline_row(
            "plain conv AE, 64x64, latent 64, MSE",
            baselines.conv_autoencoder_embed(ae, px_catalog),
            baselines.conv_autoencoder_embed(ae, px_web),
            baselines.conv_autoencoder_embed(ae, px_scene),
            ae_time,
        )
        baseline_row(
            "EfficientNet-Lite0 ImageNet features (1280-d)", feats_catalog, feats_web, feats_crops[whole_photo]
        )
        rows.append(
            (
                "  same, scene as multi-crop (14 crops, max)",
                evaluate(
                    data,
                    catalog=feats_catalog,
                    web=feats_web,
                    scene_scores=metrics.multi_query_scores([feats_crops[g] for g in crop_groups], feats_catalog),
                ),
                "",
            )
        )
        print_table(rows[-1:])

    # The encoder and its ablations.
    default = EncoderConfig()
    if args.quick:
        default = default.replace(epochs=15)
    variants = {
        "encoder (default)": default,
        "- without co-view term": default.replace(w_coview=0.0),
        "- without in-the-wild views": default.replace(wild_views=0, w_instance=0.0),
        "- without pretrained start (TinyCNN from scratch)": default.replace(
            backbone="tiny_cnn",
            freeze_backbone=False,
            backbone_dim=256,
            tiny_width=16,
            image_size=64,
            batch_size=128,
            pair_batch_size=128,
            epochs=4 if args.quick else 10,
            residual_weight=0.0,
        ),
    }
    only = [s.strip() for s in args.only.split(",") if s.strip()]
    for name, config in variants.items():
        if only and not any(o in name for o in only):
            continue
        print(f"\ntraining {name}: {config}", flush=True)
        t = time.perf_counter()
        ckpt = train_encoder(
            config=config,
            product_images=data.product_images,
            categories=data.categories,
            coview_pairs=data.coview_pairs,
            backgrounds=data.backgrounds,
            scene_photos=data.train_scenes,
            seed=args.seed,
            # the default trains from the images, so its time is the real one; ablations reuse features
            cache_dir=cache / "views" if args.quick or args.reuse_features or name != "encoder (default)" else None,
        )
        seconds = time.perf_counter() - t
        note = f"{seconds:.0f}s (features {ckpt['metrics']['feature_seconds']:.0f}s)"
        if args.save is not None and name == "encoder (default)":
            args.save.parent.mkdir(parents=True, exist_ok=True)
            torch.save(ckpt, args.save)
        enc = load_encoder(ckpt)
        product_keys = list(range(len(data.product_images)))  # train_encoder's keys where none are given
        if config.model.freeze_backbone:
            cat = embed_backbone_features(enc, feats_catalog)
            web = embed_backbone_features(enc, feats_web)
            crops = embed_backbone_features(enc, feats_crops, head="scene")
            cat_gw = embed_backbone_features(enc, feats_catalog, head="goes_with", keys=product_keys)
        else:
            cat = encode_images(enc, data.product_images)
            web = encode_images(enc, data.web_images)
            crops = encode_images(enc, [c for p in data.scene_photos for c in scene_crops(p)], head="scene")
            cat_gw = encode_images(enc, data.product_images, head="goes_with", keys=product_keys)
        scene = metrics.multi_query_scores([crops[g] for g in crop_groups], cat)
        rows.append((name, evaluate(data, catalog=cat, web=web, scene_scores=scene, room_catalog=cat_gw), note))
        print_table(rows[-1:])
        if name == "encoder (default)":
            crops_similar = embed_backbone_features(enc, feats_crops, head="similar")
            for label, figs in [
                ("  (room by the similar head)", evaluate(data, catalog=cat, web=web, scene_scores=scene)),
                (
                    "  (scene crops by the similar head, not the scene head)",
                    evaluate(
                        data,
                        catalog=cat,
                        web=web,
                        scene_scores=metrics.multi_query_scores([crops_similar[g] for g in crop_groups], cat),
                        room_catalog=cat_gw,
                    ),
                ),
                (
                    "  (scene by the whole photo only, scene head)",
                    evaluate(
                        data,
                        catalog=cat,
                        web=web,
                        scene_scores=metrics.cosine_scores(crops[whole_photo], cat),
                        room_catalog=cat_gw,
                    ),
                ),
            ]:
                rows.append((label, figs, ""))
                print_table(rows[-1:])
            print("loss history (last epoch):", ckpt["metrics"]["history"][-1])

    print_table(rows)


if __name__ == "__main__":
    main()
