"""What ranking "everything in this room" costs the pieces' task: ``room_answer.room_everything`` over the stored
pieces of the latest uploads that have them, timed in this process against the site's database, and how the
database reads the pairs used together among one upload's lookalikes (its plan, on PostgreSQL).

    python bench/room_everything.py [--uploads 40] [--passes 3]

With the site's DATABASE_URL and VAR_DIR; upload room photos first (the page, or ``bench/load.py``).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.dev_data import setup_django  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--uploads", type=int, default=40, help="the latest uploads with pieces to rank")
    parser.add_argument("--passes", type=int, default=3, help="times each upload is ranked")
    args = parser.parse_args(argv)
    setup_django()

    from django.db import connection

    from catalog.models import CoView
    from recommender.models import InspirationUpload
    from recommender.services.room_answer import room_everything

    uploads = list(InspirationUpload.objects.exclude(pieces=[]).order_by("-created_at")[: args.uploads])
    if not uploads:
        raise SystemExit("no upload has pieces yet: upload room photos first")
    seconds = []
    for _ in range(args.passes):
        for upload in uploads:
            started = time.perf_counter()
            room_everything(upload.pieces)
            seconds.append(time.perf_counter() - started)
    seconds.sort()
    products = {row["product_id"] for piece in uploads[0].pieces for row in piece.get("results") or []}
    print(
        f"{len(uploads)} uploads x {args.passes} passes, {len(products)} lookalikes in the latest: room_everything"
        f" median {statistics.median(seconds) * 1000:.1f} ms, p95 {seconds[int(0.95 * (len(seconds) - 1))] * 1000:.1f}"
        " ms"
    )
    if connection.vendor == "postgresql":
        pairs = CoView.objects.filter(kind=CoView.Kind.USED, product_a_id__in=products, product_b_id__in=products)
        print("\nHow PostgreSQL reads the pairs of the latest upload's lookalikes:")
        print(pairs.values_list("product_a_id", "product_b_id").explain(analyze=True))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
