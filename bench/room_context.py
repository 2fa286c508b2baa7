"""'Everything in this room' ranked with what goes with the pieces' best matches (encoders.room_context), measured
as ``evaluate_encoder`` measures it (the dev room photos answered by their pieces, as the worker answers them), for
each weight of the context beside the pieces' cosines; 0 merges them by their cosines alone (before).

    python bench/room_context.py --version enc-... [--weights 0,0.4,0.8,1.2]

With the site's DATABASE_URL and VAR_DIR (the catalog's "goes with" vectors take each product's co-view part by
its id). The pieces' own answers, and so their union recall, do not change with the weight.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.dev_data import add_dev_data_arguments, setup_django  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", required=True, help="an encoder version with a category head")
    parser.add_argument("--weights", default="0,0.2,0.4,0.8,1.2,1.6", help="the context's weights, comma separated")
    add_dev_data_arguments(parser)
    args = parser.parse_args(argv)
    setup_django()

    from encoders.data import training_data
    from encoders.evaluation import EncoderEmbedder, goes_with_vectors, piece_scores
    from encoders.lifecycle import encoder_load, served_finder
    from encoders.models import EncoderVersion
    from encoders.queries import load_query_set
    from encoders.room_context import CONTEXT_WEIGHT

    encoder = encoder_load(EncoderVersion.objects.get(name=args.version))
    if not encoder.has_category_head:
        raise SystemExit(f"{args.version} has no category head: it finds no pieces")
    catalog = training_data().catalog
    queries = load_query_set(queries=args.queries, rooms=args.rooms, split=args.split)
    embedder = EncoderEmbedder(encoder, finder=served_finder())
    similar = embedder.catalog(catalog.images, head="similar")
    goes_with = goes_with_vectors(embedder, catalog)
    print(f"{args.version}: {len(queries.scene_photos)} {args.split} room photos (served weight {CONTEXT_WEIGHT})\n")
    print("| context weight | pieces hit@10 | pieces R@10 | pieces union R@10 |")
    print("|---|---|---|---|")
    for weight in (float(w) for w in args.weights.split(",")):
        scores = piece_scores(embedder, catalog, queries, similar, goes_with, context_weight=weight)
        figures = " | ".join(
            f"{scores[name].mean():.3f}" for name in ("pieces hit@10", "pieces R@10", "pieces union R@10")
        )
        print(f"| {weight:g} | {figures} |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
