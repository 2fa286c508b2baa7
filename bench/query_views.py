"""Does test-time work pay? Web P@10 (per class, with its bootstrap interval) of the live encoder when an upload is
encoded as it is today, and when its vector is averaged over a mirrored copy and over crops; with the seconds
each costs per photo.

    python bench/query_views.py                      # the live encoder of this environment's database
    python bench/query_views.py --version enc-...    # another version

Runs with the site's environment (DATABASE_URL, VAR_DIR): the catalog is the active catalog, encoded with the same
backbone features for every variant; the queries are the web photos of ../shared/data/webphotos, decoded as a
shopper's upload is (upright RGB). Each variant averages the backbone features of its views and then runs the
heads, exactly as encode_query would with several views.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def views(picture, variant: str) -> list:
    """The photo's views that ``variant`` averages."""
    from PIL import ImageOps

    if variant == "as today":
        return [picture]
    mirrored = ImageOps.mirror(picture)
    if variant == "mirror":
        return [picture, mirrored]
    width, height = picture.size
    centre = picture.crop((int(width * 0.1), int(height * 0.1), int(width * 0.9), int(height * 0.9)))
    if variant == "centre crop":
        return [picture, centre]
    return [picture, mirrored, centre, ImageOps.mirror(centre)]  # "mirror + centre crop"


VARIANTS = ["as today", "mirror", "centre crop", "mirror + centre crop"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--queries", type=Path, default=ROOT.parent / "shared" / "data" / "webphotos")
    parser.add_argument("--rooms", type=Path, default=ROOT.parent / "shared" / "data" / "ikea" / "rooms.json")
    parser.add_argument("--version", default="", help="an encoder version's name (default: the live one)")
    args = parser.parse_args()

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    import torch
    from django.conf import settings
    from PIL import Image

    from catalog.images import open_upright_rgb_image
    from encoders import metrics
    from encoders.data import training_data
    from encoders.inference import backbone_features, embed_backbone_features
    from encoders.intervals import bootstrap_interval
    from encoders.lifecycle import encoder_load
    from encoders.models import EncoderVersion
    from encoders.queries import load_query_set

    torch.set_num_threads(settings.TORCH_THREADS)
    versions = EncoderVersion.objects.filter(name=args.version) if args.version else EncoderVersion.objects
    version = versions.filter(is_active=True).first() if not args.version else versions.first()
    if version is None:
        raise SystemExit("no such encoder version (or none is live): run make demo first")
    encoder = encoder_load(version)
    catalog = training_data().catalog
    queries = load_query_set(queries=args.queries, rooms=args.rooms)
    similar = embed_backbone_features(encoder, backbone_features(encoder, catalog.images), head="similar")
    photos = []
    for path in queries.web_images:
        with Image.open(path) as image:
            photos.append(open_upright_rgb_image(image))
    print(f"{version.name}: {len(catalog.images)} catalog products, {len(photos)} web photos\n")
    classes = sorted(set(queries.web_classes))
    print("| variant | views | web P@10 (95 % interval) | " + " | ".join(classes) + " | seconds per photo |")
    print("|---|---|---|" + "---|" * len(classes) + "---|")
    for variant in VARIANTS:
        vectors, seconds = [], []
        for picture in photos:
            started = time.perf_counter()
            features = backbone_features(encoder, views(picture, variant)).mean(axis=0, keepdims=True)
            vectors.append(embed_backbone_features(encoder, features, head="similar")[0])
            seconds.append(time.perf_counter() - started)
        scores = metrics.web_precision_scores(
            np.asarray(vectors), queries.web_classes, queries.accept, similar, catalog.categories
        )
        low, high = bootstrap_interval(scores)
        per_class = [
            float(np.mean([s for s, c in zip(scores, queries.web_classes, strict=True) if c == name]))
            for name in classes
        ]
        cells = " | ".join(f"{value:.3f}" for value in per_class)
        print(
            f"| {variant} | {len(views(photos[0], variant))} | {np.mean(scores):.3f} ({low:.3f}–{high:.3f}) | "
            f"{cells} | {statistics.median(seconds):.3f} |"
        )


if __name__ == "__main__":
    main()
