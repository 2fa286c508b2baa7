"""How should the photo's category guess change the answer? Web P@10 per class (with the mean over classes and
the overall figure's bootstrap interval) of the live encoder when its answer is ranked by similarity alone, with
the category head's guess as a soft prior (several weights), as a hard filter, and as per-category quotas; and how
often the guess names an accepted category first.

    python bench/category_ranking.py                      # the live encoder of this environment's database
    python bench/category_ranking.py --version enc-...    # another version (it must have a category head)
    python bench/category_ranking.py --imagenet-weights 0,0.5,1   # the guess with these shares of the ImageNet
                                                                  # classifier's opinion (encoders.imagenet_categories)

Runs with the site's environment (DATABASE_URL, VAR_DIR): the catalog is the active catalog; the queries are the
web photos of ../shared/data/webphotos. Every mode ranks the same candidates the product fetches (the 100 nearest
products: encoders.metrics.category_ranked_top_k), so the row the product
serves (CATEGORY_RANKING, ``PRIOR_WEIGHT``) is what ``evaluate_encoder`` reports as web P@10.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

MODES = [
    ("similarity alone", {"mode": "none"}),
    ("prior, weight 0.02", {"mode": "prior", "weight": 0.02}),
    ("prior, weight 0.05", {"mode": "prior", "weight": 0.05}),
    ("prior, weight 0.1", {"mode": "prior", "weight": 0.1}),
    ("prior, weight 0.2", {"mode": "prior", "weight": 0.2}),
    ("filter, always", {"mode": "filter", "threshold": 0.0}),
    ("filter, when p ≥ 0.5", {"mode": "filter", "threshold": 0.5}),
    ("quotas", {"mode": "quota"}),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--queries", type=Path, default=ROOT.parent / "shared" / "data" / "webphotos")
    parser.add_argument("--rooms", type=Path, default=ROOT.parent / "shared" / "data" / "ikea" / "rooms.json")
    parser.add_argument("--version", default="", help="an encoder version's name (default: the live one)")
    parser.add_argument(
        "--imagenet-weights",
        default="",
        help="comma-separated shares of the guess given to the backbone's ImageNet classifier, each measured in turn "
        "(default: the served IMAGENET_WEIGHT only)",
    )
    args = parser.parse_args()

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    import torch
    from django.conf import settings

    from encoders import imagenet_categories
    from encoders.data import training_data
    from encoders.evaluation import EncoderEmbedder
    from encoders.lifecycle import encoder_load
    from encoders.models import EncoderVersion
    from encoders.queries import load_query_set

    torch.set_num_threads(settings.TORCH_THREADS)
    versions = EncoderVersion.objects.filter(name=args.version) if args.version else EncoderVersion.objects
    version = versions.filter(is_active=True).first() if not args.version else versions.first()
    if version is None:
        raise SystemExit("no such encoder version (or none is live): run make demo first")
    embedder = EncoderEmbedder(encoder_load(version))
    catalog = training_data().catalog
    queries = load_query_set(queries=args.queries, rooms=args.rooms)
    if not embedder.encoder.has_category_head:
        raise SystemExit(f"{version.name} has no category head: train a version with one first")
    similar = embedder.catalog(catalog.images, head="similar")
    photos = embedder.queries(queries.web_images)
    print(f"{version.name}: {len(catalog.images)} catalog products, {len(photos)} web photos")
    served = imagenet_categories.IMAGENET_WEIGHT
    weights = [float(w) for w in args.imagenet_weights.split(",")] if args.imagenet_weights else [served]
    for weight in weights:
        imagenet_categories.IMAGENET_WEIGHT = weight
        print(
            f"\n### The ImageNet classifier's share of the guess: {weight}" + (" (served)" if weight == served else "")
        )
        print()
        measure(embedder.query_categories(queries.web_images), photos, queries, similar, catalog)


def measure(guessed, photos, queries, similar, catalog) -> None:
    """How often the guess names an accepted category first, then web P@10 under every way of ranking."""
    from encoders import metrics
    from encoders.intervals import bootstrap_interval

    classes = sorted(set(queries.web_classes))
    pairs = zip(guessed, queries.web_classes, strict=True)
    named = [max(guess, key=guess.get) in queries.accept[c] for guess, c in pairs]
    head_right = metrics.per_class_means(np.asarray(named, dtype=float), queries.web_classes)
    print("The head names an accepted category first: " + ", ".join(f"{c} {head_right[c]:.2f}" for c in classes))
    print()
    print("| ranking | web P@10 (95 % interval) | " + " | ".join(classes) + " | mean over classes |")
    print("|---|---|" + "---|" * len(classes) + "---|")
    for label, ranking in MODES:
        scores = metrics.web_precision_scores(
            photos, queries.web_classes, queries.accept, similar, catalog.categories, guesses=guessed, **ranking
        )
        low, high = bootstrap_interval(scores)
        per_class = metrics.per_class_means(scores, queries.web_classes)
        cells = " | ".join(f"{per_class[c]:.3f}" for c in classes)
        print(
            f"| {label} | {scores.mean():.3f} ({low:.2f}–{high:.2f}) | {cells} | "
            f"{np.mean(list(per_class.values())):.3f} |"
        )


if __name__ == "__main__":
    main()
