"""The pieces of furniture found in a room photo (no torch: pages and the API read them too).

A piece is a box on the photo (fractions of its width and height), what the category head says it is, how sure
it is, and the piece's own "similar" search vector. ``encoders.piece_finder`` finds them in one pass of the
backbone over the photo; ``recommender.services.room_answer`` answers each with its own lookalikes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# A piece the category head is at least this sure of is answered within its category (``within_category``), and
# such pieces of two kinds make a photo a room (``recommender.services.room_answer.room_kind``).
SURE_CONFIDENCE = 0.6


@dataclass(frozen=True)
class Piece:
    box: tuple[float, float, float, float]  # (x, y, width, height), fractions of the photo, origin top left
    category: str  # the category head's most likely category (the encoder's category name)
    confidence: float  # its probability
    vector: np.ndarray  # (D,) the piece's "similar" search vector, L2-normalised, in the served space
    categories: dict[str, float] | None = None  # the head's whole distribution for the piece, when kept


# Room or one piece is judged on the finder's best ROOM_KIND_PIECES pieces, the number the rule was measured on: the
# finder's next pieces would call twice as many photos of one piece rooms (README, "Room or one piece?").
ROOM_KIND_PIECES = 6


def within_category(confidence: float) -> bool:
    """A piece this sure of its category (as sure as the pieces that make a photo a room) is answered within its
    category: its strip and the products a budget may choose for it are of that category only, so a mug never
    stands in for a chair. An unsure piece is answered with the open ranking (its whole guess)."""
    return confidence >= SURE_CONFIDENCE


def box_iou(box: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """Intersection over union of one (x, y, w, h) box with each of boxes (N, 4): (N,). Boxes of no area have 0."""
    box, boxes = np.asarray(box, dtype=np.float64), np.atleast_2d(np.asarray(boxes, dtype=np.float64))
    x0 = np.maximum(box[0], boxes[:, 0])
    y0 = np.maximum(box[1], boxes[:, 1])
    x1 = np.minimum(box[0] + box[2], boxes[:, 0] + boxes[:, 2])
    y1 = np.minimum(box[1] + box[3], boxes[:, 1] + boxes[:, 3])
    inter = np.clip(x1 - x0, 0, None) * np.clip(y1 - y0, 0, None)
    union = box[2] * box[3] + boxes[:, 2] * boxes[:, 3] - inter
    return np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)


def suppress_overlaps(
    boxes: np.ndarray,
    scores: np.ndarray,
    *,
    iou: float,
    max_count: int,
    groups: np.ndarray | None = None,
) -> list[int]:
    """Greedy non-maximum suppression: the indices of the best-scoring boxes (N, 4), best first, each overlapping
    no box kept before it by more than ``iou``, at most ``max_count``. With ``groups`` (N,) a box is suppressed
    only by a kept box of its own group (per category)."""
    order = np.argsort(-np.asarray(scores, dtype=np.float64), kind="stable")
    kept: list[int] = []
    for i in order.tolist():
        if len(kept) >= max_count:
            break
        rivals = [k for k in kept if groups is None or groups[k] == groups[i]]
        if rivals and box_iou(boxes[i], boxes[rivals]).max() > iou:
            continue
        kept.append(i)
    return kept
