"""Would the pieces find more of a room's products if the scene head were taught on the windows the piece finder
searches with? Measured on one trained version, without training it again.

    python bench/scene_windows.py --version enc-A
    python bench/scene_windows.py --version enc-A --steps 400 --windows 24

Runs with the site's environment (DATABASE_URL, VAR_DIR, the evaluation data). Training teaches the scene head
on 14 fixed crops of each TRAIN room photo, each passed through the backbone at the encoder's input size
(a multiple-instance loss: a room's products should be found by its best crop). The piece finder searches with
something else: the mean of the coarse pass's feature map over a window (``encoders.piece_finder``). Here the
finder's ``--windows`` best windows of each TRAIN room photo (ranked as the finder ranks them, with the version's
own category head) take the crops' place, and only the scene head is tuned on them with the same loss
(``encoders.losses.scene_loss``: ``--steps`` steps of 16 rooms, Adam at ``--lr``, the similar codes and the
products' codes fixed), in memory; the version is not changed. It prints the dev room photos' pieces figures (as
``evaluate_encoder`` reports them: the room answer's pieces, "everything in this room") before and after.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--version", required=True, help="a trained encoder version with a category head")
    parser.add_argument("--steps", type=int, default=400)
    parser.add_argument("--windows", type=int, default=24, help="the finder's best windows kept of each photo")
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--queries", type=Path, default=ROOT.parent / "shared/data/webphotos")
    parser.add_argument("--rooms", type=Path, default=ROOT.parent / "shared/data/ikea/rooms.json")
    parser.add_argument("--split", default="dev")
    args = parser.parse_args(argv)

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    import torch

    from encoders import losses, metrics
    from encoders.data import training_data
    from encoders.evaluation import EncoderEmbedder, room_piece_scores
    from encoders.lifecycle import encoder_load
    from encoders.model import EncoderConfig
    from encoders.models import EncoderVersion
    from encoders.queries import load_query_set

    torch.manual_seed(args.seed)
    encoder = encoder_load(EncoderVersion.objects.get(name=args.version))
    if not encoder.has_category_head:
        raise SystemExit(f"{args.version} has no category head: it finds no pieces")
    data = training_data()
    queries = load_query_set(queries=args.queries, rooms=args.rooms, split=args.split)
    embedder = EncoderEmbedder(encoder)
    catalog = data.catalog
    product_features = torch.from_numpy(embedder.features(("catalog", tuple(catalog.images)), catalog.images))
    similar = embedder.catalog(catalog.images, head="similar")
    rooms = metrics.room_products(queries.scene_rooms, catalog.sku_index)

    def pieces_figures() -> str:
        found = [embedder.pieces(photo) for photo in queries.scene_photos]
        scores = room_piece_scores(found, lambda i: (embedder.scene(queries.scene_photos[i])[:1], None), similar,
                                   catalog.categories, rooms)  # fmt: skip
        names = ("pieces hit@10", "pieces R@10", "pieces union R@10", "piece precision")
        return " | ".join(f"{scores[name].mean():.3f}" for name in names)

    windows = torch.stack([best_windows(encoder, photo, args.windows) for photo, _ in data.scene_photos])
    positives = torch.zeros(len(data.scene_photos), len(catalog.images), dtype=torch.bool)
    for s, (_, products) in enumerate(data.scene_photos):
        positives[s, products] = True
    model = encoder.model
    temperature = EncoderConfig().optimisation.temperature  # what training's scene term uses
    with torch.no_grad():
        products = model.embed_features(product_features)["similar"]
    print(f"{args.version}: {len(windows)} TRAIN room photos x {args.windows} windows, {args.split} room photos")
    print("\n| scene head | pieces hit@10 | pieces R@10 | pieces union R@10 | piece precision |")
    print("|---|---|---|---|---|")
    print(f"| as trained (14 crops of each TRAIN photo) | {pieces_figures()} |")
    optimizer = torch.optim.Adam(model.scene.parameters(), lr=args.lr)
    model.scene.train()
    for _ in range(args.steps):
        batch = torch.randint(0, len(windows), (16,))
        rows, kept, width = windows[batch].shape
        codes = model.embed_features(windows[batch].view(rows * kept, width))
        crops = (codes["similar"].detach() + codes["scene"] - codes["similar"]).view(rows, kept, -1)
        loss = losses.scene_loss(crops, products, positives[batch], temperature=temperature)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    model.scene.eval()
    print(f"| tuned {args.steps} steps on the finder's {args.windows} best windows | {pieces_figures()} |")
    return 0


def best_windows(encoder, photo, count: int):
    """The finder's ``count`` best windows of a photo, as it ranks them (category confidence x contrast): their
    features (count, F), the best repeated when the photo has fewer windows."""
    import numpy as np
    import torch

    from encoders.imagenet_categories import PIECE_IMAGENET_WEIGHT
    from encoders.inference import photo_categories
    from encoders.piece_finder import (
        FinderSettings,
        candidate_windows,
        photo_feature_map,
        window_features,
        window_scores,
    )

    settings = FinderSettings()
    fmap = photo_feature_map(encoder, photo, side=settings.side)
    windows = candidate_windows(*fmap.shape[1:], scales=settings.scales, shapes=settings.shapes)
    features = window_features(fmap, windows)
    with torch.no_grad():
        confidence = photo_categories(encoder, features, weight=PIECE_IMAGENET_WEIGHT).numpy().max(axis=1)
    order = np.argsort(-window_scores(encoder, fmap, windows, confidence, settings.score), kind="stable")
    return features[np.resize(order[:count], count)]


if __name__ == "__main__":
    raise SystemExit(main())
