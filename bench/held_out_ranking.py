"""How should a new product's page rank its "Similar items"? Held-out P@10 (``evaluate_encoder --held-out``'s
figure) of the held-out model of each seed, its products ranked by similarity alone and with their picture's
category guess at several prior weights, the guess taken only where it names the product's own category
(``agreeing_guess``), with the served short-category search.

    python bench/held_out_ranking.py                          # seed 0, the served and the measured weights
    python bench/held_out_ranking.py --seeds 0,1,2 --weights 0.2,0.5,1

Runs with the site's environment (DATABASE_URL, VAR_DIR, ENCODER_CACHE_DIR): the catalog is the active catalog;
each seed trains the default configuration without EVALUATION_HOLDOUT of the products (a second training loop, on
the cached backbone features where a training of the same catalog left them), as ``evaluate_encoder --held-out``
does; the row with PRODUCT_PRIOR_WEIGHT is the figure it reports.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from encoders import metrics  # noqa: E402  (numpy only: no Django needed)
from encoders.category_ranking import PRODUCT_PRIOR_WEIGHT, agreeing_guess  # noqa: E402


def held_out_precision_by_weight(
    similar: np.ndarray,
    categories: Sequence[str],
    guesses: Sequence[dict[str, float]],
    held_out: Sequence[int],
    weights: Sequence[float],
) -> dict[str, float]:
    """Held-out P@10 of each ranking: "similarity alone", then "prior W" for each weight; ``guesses`` are every
    catalog product's kept guess, used where they agree with the product's category."""
    agreeing = [agreeing_guess(guesses[i], categories[i]) for i in held_out]
    rows = {"similarity alone": metrics.held_out_precision_scores(similar, categories, held_out)}
    for weight in weights:
        scores = metrics.held_out_precision_scores(similar, categories, held_out, guesses=agreeing, weight=weight)
        rows[f"prior {weight:g}" + (" (served)" if weight == PRODUCT_PRIOR_WEIGHT else "")] = scores
    return {name: float(np.mean(scores)) if len(scores) else 0.0 for name, scores in rows.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", default="0", help="comma-separated seeds, one held-out model each")
    parser.add_argument("--weights", default=f"0.2,0.5,{PRODUCT_PRIOR_WEIGHT:g}", help="comma-separated prior weights")
    args = parser.parse_args()
    seeds = [int(s) for s in args.seeds.split(",") if s.strip()]
    weights = sorted({float(w) for w in args.weights.split(",") if w.strip()})

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    from encoders.data import training_data
    from encoders.holdout import holdout_split
    from encoders.lifecycle import held_out_embedder, held_out_fraction
    from encoders.model import EncoderConfig

    data = training_data()
    catalog = data.catalog
    held_out = holdout_split(categories=catalog.categories, skus=catalog.skus, fraction=held_out_fraction())
    if not held_out:
        raise SystemExit("no product can be held out of this catalog (or EVALUATION_HOLDOUT is 0)")
    print(f"{len(catalog.images)} catalog products, {len(held_out)} held out")
    table: dict[str, dict[int, float]] = {}
    for seed in seeds:
        embedder, _ = held_out_embedder(
            config=EncoderConfig(), data=data, held_out=held_out, seed=seed, progress=lambda *_: None
        )
        figures = held_out_precision_by_weight(
            embedder.catalog(catalog.images, head="similar"),
            catalog.categories,
            embedder.catalog_categories(catalog.images) or [{}] * len(catalog.images),
            held_out,
            weights,
        )
        for name, value in figures.items():
            table.setdefault(name, {})[seed] = value
        print(f"seed {seed} done", flush=True)
    print("\n| ranking | " + " | ".join(f"seed {s}" for s in seeds) + " | mean |")
    print("|---|" + "---|" * (len(seeds) + 1))
    for name, by_seed in table.items():
        cells = " | ".join(f"{by_seed[s]:.3f}" for s in seeds)
        print(f"| {name} | {cells} | {np.mean(list(by_seed.values())):.3f} |")


if __name__ == "__main__":
    main()
