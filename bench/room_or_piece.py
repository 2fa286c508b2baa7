"""Room or one piece? How often the worker's rule (``recommender.services.room_answer.room_kind``: pieces at least
T sure of at least K kinds; served T 0.7, K 3) would call a photo a room, on photos of one piece (the web photos,
each showing one piece of furniture in its room) and on the dev room photos, for several thresholds T and K 2, 3.

    python bench/room_or_piece.py --checkpoint ../devvar/models/VERSION/checkpoint.pt [--every 3] [--pieces N]

Pure (no database): the pieces come from ``encoders.piece_finder.find_pieces`` with the checkpoint's encoder, the
photos from ../shared/data (web photos every ``--every``th, decoded upright as an upload is).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

THRESHOLDS = (0.5, 0.6, 0.7, 0.8)


KINDS = (2, 3)


from encoders.pieces import ROOM_KIND_PIECES  # noqa: E402


def called_room(pieces: list[tuple[str, float]], threshold: float, *, kinds: int) -> bool:
    """The worker's rule on the finder's best ROOM_KIND_PIECES pieces (``room_answer.room_answer``)."""
    judged = pieces[:ROOM_KIND_PIECES]
    return len({category for category, confidence in judged if confidence >= threshold}) >= kinds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint", type=Path, required=True)
    parser.add_argument("--queries", type=Path, default=ROOT.parent / "shared" / "data" / "webphotos")
    parser.add_argument("--rooms", type=Path, default=ROOT.parent / "shared" / "data" / "ikea" / "rooms.json")
    parser.add_argument("--every", type=int, default=3, help="use every Nth web photo")
    parser.add_argument("--pieces", type=int, help="pieces a photo yields at most (ROOM_PIECES; the finder's default)")
    args = parser.parse_args()

    import torch
    from PIL import Image

    from catalog.images import open_upright_rgb_image
    from encoders.inference import load_encoder
    from encoders.piece_finder import find_pieces
    from encoders.queries import load_query_set

    torch.set_num_threads(1)
    encoder = load_encoder(args.checkpoint)
    queries = load_query_set(queries=args.queries, rooms=args.rooms, split="dev")
    sets = {"web photos": queries.web_images[:: args.every], "dev room photos": queries.scene_photos}
    found: dict[str, list[list[tuple[str, float]]]] = {}
    for name, paths in sets.items():
        started = time.perf_counter()
        found[name] = []
        for path in paths:
            with Image.open(path) as image:
                picture = open_upright_rgb_image(image)
            pieces = find_pieces(encoder, picture, max_pieces=args.pieces)
            found[name].append([(piece.category, piece.confidence) for piece in pieces])
        seconds = (time.perf_counter() - started) / max(1, len(paths))
        print(f"{name}: {len(paths)} photos, {seconds:.2f} s a photo")
    print()
    columns = [(name, kinds) for kinds in KINDS for name in sets]
    header = " | ".join(f"{name} called rooms, {kinds} kinds" for name, kinds in columns)
    print(f"| pieces at least this sure | {header} |")
    print("|---|" + "---|" * len(columns))
    for threshold in THRESHOLDS:
        shares = [
            sum(called_room(p, threshold, kinds=kinds) for p in found[name]) / max(1, len(found[name]))
            for name, kinds in columns
        ]
        print(f"| {threshold} | " + " | ".join(f"{share:.0%}" for share in shares) + " |")


if __name__ == "__main__":
    main()
