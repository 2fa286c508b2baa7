"""Where the hotspots of a room answer sit on the photo, so that no two overlap (numpy only: the web process places
them when it draws the page).

Each piece's hotspot wants the middle of its box. Pieces found close together (four chairs round a table, a lamp on
a sideboard) would put their markers on top of one another, and a marker under another cannot be tapped. So the
markers are placed one by one, most confident piece first: each at the middle of its box if that is clear of the
markers already placed, else at the nearest clear point inside its box, else at the nearest clear point of the
photo. Markers are squares of ``size`` pixels (what a tap or a click hits; the page draws them round) and "clear"
means no overlap of those squares, with ``gap`` pixels between them; every marker lies wholly on the photo.

The page shows the photo at different sizes, the markers at a fixed size in pixels. Places are computed for the
smallest size the photo is shown at, and returned as fractions of the photo: shown larger, the distances between
markers only grow, so markers clear of each other there are clear at every larger size. When the markers do not
fit at the preferred size, smaller ones are tried, down to MIN_SIZE (24 px, the least a touch target may be).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

SIZES = (44, 36, 30, 24)  # pixels of a marker, preferred first; the last is the least a touch target may be
MIN_SIZE = SIZES[-1]
GAP = 6  # pixels between two markers (each has a 3 px light ring around it)
EDGE = 2  # pixels between a marker and the photo's edge
STEP = 4  # pixels between the points tried

Box = tuple[float, float, float, float]  # (x, y, w, h), fractions of the photo


@dataclass(frozen=True)
class HotspotLayout:
    size: int  # pixels of every marker
    spots: list[tuple[float, float]]  # each marker's centre, fractions of the photo, in the order of the boxes
    clear: bool  # False only when even MIN_SIZE markers could not all be kept apart (a tiny photo, many pieces)


def _axis(length: float, half: float) -> np.ndarray:
    """The points tried along one side of the photo: centres at least ``half`` from both ends."""
    low, high = half, length - half
    if high <= low:
        return np.array([length / 2])
    return np.append(np.arange(low, high, STEP), high)


def _place(boxes: Sequence[Box], *, width: float, height: float, size: int) -> tuple[list[tuple[float, float]], bool]:
    """Greedy placement of ``size``-pixel markers in a photo shown ``width`` x ``height`` pixels: (centres in
    pixels, whether every marker is clear of the others)."""
    half = size / 2 + EDGE
    xs, ys = _axis(width, half), _axis(height, half)
    grid = np.stack(np.meshgrid(xs, ys), axis=-1).reshape(-1, 2)  # (K, 2) points tried, in pixels
    apart = size + GAP
    placed: list[tuple[float, float]] = []
    all_clear = True
    for x, y, w, h in boxes:
        left, top, right, bottom = x * width, y * height, (x + w) * width, (y + h) * height
        wanted = np.array(
            [
                min(max((left + right) / 2, xs[0]), xs[-1]),
                min(max((top + bottom) / 2, ys[0]), ys[-1]),
            ]
        )
        points = np.vstack([wanted, grid])  # the middle of the box first
        if placed:
            others = np.asarray(placed)  # (P, 2)
            chebyshev = np.abs(points[:, None, :] - others[None, :, :]).max(axis=2).min(axis=1)  # (K + 1,)
        else:
            chebyshev = np.full(len(points), np.inf)
        clear = chebyshev >= apart
        inside = (points[:, 0] >= left) & (points[:, 0] <= right) & (points[:, 1] >= top) & (points[:, 1] <= bottom)
        distance = np.hypot(*(points - wanted).T)
        if clear.any():
            # the nearest clear point to the middle of the box, inside the box if any is
            cost = distance + np.where(inside, 0.0, width + height)
            choice = int(np.argmin(np.where(clear, cost, np.inf)))
        else:
            all_clear = False
            choice = int(np.argmax(chebyshev - distance * 1e-6))  # as far from the others as can be
        placed.append((float(points[choice, 0]), float(points[choice, 1])))
    return placed, all_clear


def place_hotspots(boxes: Sequence[Box], *, width: float, height: float) -> HotspotLayout:
    """The markers of ``boxes`` (most confident first) on a photo shown at least ``width`` x ``height`` pixels:
    the largest of SIZES at which none overlaps another, and each marker's centre as fractions of the photo."""
    width, height = max(float(width), 1.0), max(float(height), 1.0)
    for size in SIZES:
        centres, clear = _place(boxes, width=width, height=height, size=size)
        if clear:
            break
    spots = [(round(x / width, 4), round(y / height, 4)) for x, y in centres]
    return HotspotLayout(size=size, spots=spots, clear=clear)


# The smallest the results page shows a room photo: on a 320 px phone, the page's width less its margins
# (.75rem each side), and never taller than .room-photo's max-height (28rem). A photo smaller than that is shown
# at its own size.
SMALLEST_WIDTH = 296
TALLEST = 448


def smallest_display(photo_width: int, photo_height: int) -> tuple[float, float]:
    """The smallest size, in CSS pixels, at which the results page shows a photo of this many pixels."""
    scale = min(1.0, SMALLEST_WIDTH / photo_width, TALLEST / photo_height)
    return photo_width * scale, photo_height * scale
