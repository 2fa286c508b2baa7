"""Map positions of indexed products, stored as screen fractions beside items.npy."""

from __future__ import annotations

import numpy as np

# Each axis maps its robust range onto [MARGIN, 1 - MARGIN], so the outermost points are not cut
# off at the edge of the map.
MARGIN = 0.02
# Percentiles that bound each axis: a few far outliers must not squash everyone else into a dot.
LOW_PERCENTILE = 0.5
HIGH_PERCENTILE = 99.5


def normalise_positions(raw: np.ndarray) -> np.ndarray:
    """Raw 2-D map coordinates (any range, y grows upwards) as screen fractions, float32 (n, 2).

    Each axis's 0.5th-99.5th percentile range maps to [0.02, 0.98], values outside it are
    clipped, and y is flipped so that 0 is the top of the screen. An axis with no spread maps
    to the centre, 0.5.
    """
    raw = np.asarray(raw, dtype=np.float64)
    if raw.ndim != 2 or raw.shape[1] != 2:
        raise ValueError(f"positions must have shape (n, 2), got {raw.shape}")
    screen = np.full(raw.shape, 0.5)
    if raw.shape[0] == 0:
        return screen.astype(np.float32)
    low, high = np.percentile(raw, [LOW_PERCENTILE, HIGH_PERCENTILE], axis=0)
    for axis in range(2):
        spread = high[axis] - low[axis]
        if spread > 0:
            fraction = np.clip((raw[:, axis] - low[axis]) / spread, 0.0, 1.0)
            screen[:, axis] = MARGIN + (1.0 - 2.0 * MARGIN) * fraction
    screen[:, 1] = 1.0 - screen[:, 1]  # y grows upwards on the map, downwards on a screen
    return screen.astype(np.float32)
