"""The pieces of furniture found in a room photo (no torch: pages and the API read them too).

A piece is a box on the photo (fractions of its width and height), what the category head says it is, how sure
it is, and the piece's own "similar" search vector. ``encoders.piece_finder`` finds them in one pass of the
backbone over the photo; ``recommender.services.room_answer`` answers each with its own lookalikes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Piece:
    box: tuple[float, float, float, float]  # (x, y, width, height), fractions of the photo, origin top left
    category: str  # the category head's most likely category (the encoder's category name)
    confidence: float  # its probability
    vector: np.ndarray  # (D,) the piece's "similar" search vector, L2-normalised, in the served space
    categories: dict[str, float] | None = None  # the head's whole distribution for the piece, when kept
