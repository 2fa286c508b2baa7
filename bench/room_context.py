"""'Everything in this room' ranked with what the pieces' lookalikes were used together with
(encoders.room_context), measured as ``evaluate_encoder`` measures it (the dev room photos answered by their
pieces, as the worker answers them), for each weight and temperature of the support beside the pieces' cosines;
weight 0 merges them by their cosines alone.

    python bench/room_context.py --version enc-... [--weights 0,0.5,1,2] [--temperatures 0.02,0.05,0.1]

With the site's DATABASE_URL and VAR_DIR (the pairs used together are the catalog's, as the worker reads them).
The pieces' own answers, and so their union recall, do not change with either.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.dev_data import add_dev_data_arguments, dev_version, setup_django  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", required=True, help="an encoder version with a category head")
    parser.add_argument("--weights", default="0,0.5,1,2", help="the support's weights, comma separated")
    parser.add_argument("--temperatures", default="0.02,0.05,0.1", help="the softmax's temperatures, comma separated")
    add_dev_data_arguments(parser)
    args = parser.parse_args(argv)
    setup_django()

    from encoders import room_context
    from encoders.evaluation import piece_scores

    version = dev_version(args)
    catalog, queries, embedder, similar = version.catalog, version.queries, version.embedder, version.similar
    served = room_context.TOGETHER_WEIGHT, room_context.TOGETHER_TEMPERATURE
    print(
        f"{args.version}: {len(queries.scene_photos)} {args.split} room photos, {len(catalog.used_together)} pairs"
        f" used together (served weight {served[0]:g}, temperature {served[1]:g})\n"
    )
    print("| weight | temperature | pieces hit@10 | pieces R@10 | pieces union R@10 |")
    print("|---|---|---|---|---|")
    found = {photo: embedder.pieces(photo) for photo in queries.scene_photos}
    embedder.pieces = found.get  # the pieces of each photo, found once: the ranking is all that changes below
    for weight in (float(w) for w in args.weights.split(",")):
        for temperature in (float(t) for t in args.temperatures.split(",")) if weight else [0.0]:
            scores = piece_scores(
                embedder, catalog, queries, similar, together_weight=weight, together_temperature=temperature
            )
            figures = " | ".join(
                f"{scores[name].mean():.3f}" for name in ("pieces hit@10", "pieces R@10", "pieces union R@10")
            )
            print(f"| {weight:g} | {temperature:g} | {figures} |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
