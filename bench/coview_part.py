"""How wide the products' co-occurrence part of "goes with" should be, and how much of the vector it should weigh:
measured on one trained version's "goes with" head, without training again.

    python bench/coview_part.py --version enc-A
    python bench/coview_part.py --version enc-A --dims 0,16,32,64 --shares 0.5,0.6,0.7

Runs with the site's environment (DATABASE_URL, VAR_DIR, the evaluation data). For each width C and share s it
fits the co-occurrence part of every product from the used-together pairs as training does
(``encoders.coview_vectors.fit_coview_vectors``), joins it with the version's "goes with" head output (the
co-occurrence part weighing s of a product's squared length, ``LookalikeEncoder.joined_goes_with``), projects the
joined vectors onto the served width by a PCA fitted on the catalog, as ``fit_served_projection`` does, and prints
on the dev rooms:

- room hit@10 and R@10 by the vectors alone, over the whole catalog (``evaluate_encoder``'s figures);
- the same ranked as "Goes well with" ranks (the product's own category left out, each candidate's cosine plus
  COMPLEMENT_PAIR_WEIGHT × ln(1 + the train rooms that held both), every product a candidate: the exact answer of
  what ``bench/complements.py`` measures through the API).

Width 0 is the head's output alone, projected the same way. The rows are fitted with the version's own pairs
(today's used-together pairs of the catalog), so a width's figure is what a version trained with it would give.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.dev_data import add_dev_data_arguments, setup_django  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--version", required=True, help="a trained encoder version (its head is measured)")
    parser.add_argument("--dims", default="0,16,32,64", help="widths of the co-occurrence part")
    parser.add_argument("--shares", default="0.5,0.6,0.7", help="its shares of a product's squared length")
    add_dev_data_arguments(parser)
    args = parser.parse_args(argv)

    setup_django()
    import torch
    from django.conf import settings

    from encoders import metrics
    from encoders.data import training_data
    from encoders.evaluation import EncoderEmbedder
    from encoders.lifecycle import encoder_load
    from encoders.models import EncoderVersion
    from encoders.queries import load_query_set

    encoder = encoder_load(EncoderVersion.objects.get(name=args.version))
    data = training_data()
    queries = load_query_set(queries=args.queries, rooms=args.rooms, split=args.split)
    catalog = data.catalog
    features = EncoderEmbedder(encoder).features(("catalog", tuple(catalog.images)), catalog.images)
    with torch.no_grad():
        head = encoder.model.embed_features(torch.from_numpy(features))["goes_with"]
    pictures = torch.nn.functional.normalize(head, dim=1)
    n = len(catalog.images)
    pairs = torch.tensor(data.coview_pairs, dtype=torch.long).view(-1, 3)
    rooms = metrics.room_products(queries.rooms, catalog.sku_index)
    width = encoder.config.served_goes_with_dim or pictures.shape[1]

    print(f"{args.version}: {n} products, {len(pairs)} used-together pairs, served width {width}, dev rooms")
    print("\n| co-occurrence width | share | room hit@10 | room R@10 | as served: hit@10 | as served: R@10 |")
    print("|---|---|---|---|---|---|")
    for dim in [int(d) for d in args.dims.split(",")]:
        for share in [float(s) for s in args.shares.split(",")] if dim else [0.0]:
            figures = room_figures(
                pictures,
                pairs,
                rooms,
                catalog.categories,
                dim=dim,
                share=share,
                width=width,
                weight=settings.COMPLEMENT_PAIR_WEIGHT,
            )
            print(f"| {dim} | {share:.1f} | " + " | ".join(f"{value:.3f}" for value in figures) + " |")
    return 0


def room_figures(pictures, pairs, rooms, categories, *, dim: int, share: float, width: int, weight: float):
    """(room hit@10, room R@10, the same two as served) of the "goes with" vectors made of ``pictures`` (N, G) unit
    head outputs joined with a ``dim``-wide co-occurrence part fitted on ``pairs`` (P, 3) at ``share``, projected
    onto ``width`` dimensions; ``rooms`` hold catalog indices."""
    import numpy as np
    import torch

    from encoders import metrics
    from encoders.coview_vectors import fit_coview_vectors
    from encoders.model import join_goes_with, pca_axes

    n = len(pictures)
    rows = fit_coview_vectors(pairs, products=n, dim=dim, seed=0).to(torch.float16).float()
    joined = join_goes_with(pictures, rows, share=share)
    axes, mean = pca_axes(joined, width)
    vectors = torch.nn.functional.normalize((joined - mean) @ axes.T, dim=1).numpy()
    hit, recall = metrics.room_hit_recall_scores(vectors, rooms)
    counts = np.zeros((n, n), dtype=np.float32)
    for a, b, count in pairs.tolist():
        counts[a, b] += count
        counts[b, a] += count
    served_hit, served_recall = served_ranking(vectors @ vectors.T + weight * np.log1p(counts), rooms, categories)
    return hit.mean(), recall.mean(), served_hit.mean(), served_recall.mean()


def served_ranking(scores, rooms, categories):
    """(hit@10, R@10) of every (room, product) query, ranked by ``scores`` (N, N) with the product itself and its
    own category left out, as "Goes well with" shows them."""
    import numpy as np

    categories = np.asarray(categories)
    hits, recalls = [], []
    for room in [list(dict.fromkeys(r)) for r in rooms if len(set(r)) >= 2]:
        for product in room:
            row = scores[product].astype(np.float64)
            row[categories == categories[product]] = -np.inf
            top = {i for i in np.argsort(-row, kind="stable")[:10].tolist() if row[i] > -np.inf}
            relevant = set(room) - {product}
            found = len(relevant & top)
            hits.append(float(found > 0))
            recalls.append(found / min(len(relevant), 10))
    return np.array(hits), np.array(recalls)


if __name__ == "__main__":
    raise SystemExit(main())
