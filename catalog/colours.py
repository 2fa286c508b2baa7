"""The dominant colours of a picture, in CIELAB, with Pillow and numpy only (importable by the web process).

A product shot is a piece of furniture on a white (or near-white) studio background; a shopper's photo is a
piece of furniture in a room, usually near the middle. One function serves both: the light, neutral pixels
connected to the picture's border are taken for the background and left out, the rest are weighted towards the
centre, and a small weighted k-means in CIELAB finds the main colours with their shares. When almost everything
is background (a white product on white), the product is white: the whole picture is clustered instead.

Colours are stored as ``[[L, a, b, share], ...]``, largest share first (D65 white, L in 0–100).
"""

from __future__ import annotations

import io

import numpy as np
from PIL import Image

ANALYSIS_SIDE = 64  # pixels a side: enough for a few main colours, and a few milliseconds per picture
CLUSTERS = 3
ITERATIONS = 12
BACKGROUND_LIGHTNESS = 88.0  # lighter than this and almost grey: studio background (or its soft shadow)
BACKGROUND_CHROMA = 8.0
MIN_FOREGROUND_SHARE = 0.03  # under this share of the (weighted) picture, the product itself is white
CENTRE_SIGMA = 0.2  # of the picture's side: the middle counts most (in a room photo the piece often fills a quarter)

_WHITE_D65 = np.array([0.95047, 1.0, 1.08883])
_RGB_TO_XYZ = np.array(
    [[0.4124564, 0.3575761, 0.1804375], [0.2126729, 0.7151522, 0.0721750], [0.0193339, 0.1191920, 0.9503041]]
)
_XYZ_TO_RGB = np.linalg.inv(_RGB_TO_XYZ)


def srgb_to_lab(rgb: np.ndarray) -> np.ndarray:
    """sRGB in 0–255, shape (..., 3) → CIELAB (D65), same shape."""
    c = np.asarray(rgb, dtype=np.float64) / 255.0
    linear = np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)
    xyz = linear @ _RGB_TO_XYZ.T / _WHITE_D65
    f = np.where(xyz > (6 / 29) ** 3, np.cbrt(xyz), xyz / (3 * (6 / 29) ** 2) + 4 / 29)
    return np.stack([116 * f[..., 1] - 16, 500 * (f[..., 0] - f[..., 1]), 200 * (f[..., 1] - f[..., 2])], axis=-1)


def lab_to_srgb(lab: np.ndarray) -> np.ndarray:
    """CIELAB (D65), shape (..., 3) → sRGB in 0–255 (clipped to the gamut), same shape."""
    lab = np.asarray(lab, dtype=np.float64)
    fy = (lab[..., 0] + 16) / 116
    f = np.stack([fy + lab[..., 1] / 500, fy, fy - lab[..., 2] / 200], axis=-1)
    xyz = np.where(f > 6 / 29, f**3, 3 * (6 / 29) ** 2 * (f - 4 / 29)) * _WHITE_D65
    linear = np.clip(xyz @ _XYZ_TO_RGB.T, 0.0, 1.0)
    c = np.where(linear <= 0.0031308, 12.92 * linear, 1.055 * linear ** (1 / 2.4) - 0.055)
    return np.clip(np.round(c * 255), 0, 255)


def lab_hex(lab) -> str:
    """A CIELAB colour as a CSS ``#rrggbb``."""
    r, g, b = (int(v) for v in lab_to_srgb(np.asarray(lab[:3])))
    return f"#{r:02x}{g:02x}{b:02x}"


def delta_e(first, second) -> float:
    """CIE76 colour difference: the Euclidean distance in CIELAB (about 2.3 is just noticeable)."""
    return float(np.linalg.norm(np.asarray(first[:3], dtype=np.float64) - np.asarray(second[:3], dtype=np.float64)))


def _border_connected(candidate: np.ndarray) -> np.ndarray:
    """The pixels of ``candidate`` (a boolean mask) reachable from the border through ``candidate`` pixels."""
    reached = np.zeros_like(candidate)
    reached[0, :], reached[-1, :], reached[:, 0], reached[:, -1] = (
        candidate[0, :],
        candidate[-1, :],
        candidate[:, 0],
        candidate[:, -1],
    )
    while True:
        grown = reached.copy()
        grown[1:] |= reached[:-1]
        grown[:-1] |= reached[1:]
        grown[:, 1:] |= reached[:, :-1]
        grown[:, :-1] |= reached[:, 1:]
        grown &= candidate
        if np.array_equal(grown, reached):
            return reached
        reached = grown


def _centre_weights(height: int, width: int) -> np.ndarray:
    ys = (np.arange(height) + 0.5) / height - 0.5
    xs = (np.arange(width) + 0.5) / width - 0.5
    return np.exp(-(ys[:, None] ** 2 + xs[None, :] ** 2) / (2 * CENTRE_SIGMA**2))


def _nearest(points: np.ndarray, centres: np.ndarray) -> np.ndarray:
    """The index of each point's nearest centre (|p - c|² less the |p|² that all centres share)."""
    return np.argmin((centres**2).sum(axis=1) - 2 * points @ centres.T, axis=1)


def _weighted_kmeans(points: np.ndarray, weights: np.ndarray, clusters: int) -> tuple[np.ndarray, np.ndarray]:
    """Centres and their weight shares. Deterministic: the first centre is the weighted mean, each next one the
    point farthest from the centres so far (ties broken by weight), then at most ITERATIONS Lloyd iterations (they
    stop early once no point changes its centre: the centres cannot move after that)."""
    centres = [np.average(points, axis=0, weights=weights)]
    for _ in range(1, min(clusters, len(points))):
        distances = np.min(np.linalg.norm(points[:, None, :] - np.asarray(centres)[None], axis=2), axis=1)
        centres.append(points[int(np.argmax(distances * np.sqrt(weights)))])
    centres = np.asarray(centres)
    count = len(centres)
    labels = _nearest(points, centres)
    for _ in range(ITERATIONS):
        totals = np.bincount(labels, weights=weights, minlength=count)
        sums = np.stack([np.bincount(labels, weights=weights * points[:, n], minlength=count) for n in range(3)], 1)
        held = totals > 0
        centres[held] = sums[held] / totals[held, None]
        moved = _nearest(points, centres)
        if np.array_equal(moved, labels):
            break
        labels = moved
    shares = np.bincount(labels, weights=weights, minlength=count) / weights.sum()
    return centres, shares


def dominant_colours(image: Image.Image, *, clusters: int = CLUSTERS) -> list[list[float]]:
    """The picture's main colours, ``[[L, a, b, share], ...]``, largest share first (shares sum to 1)."""
    small = image.convert("RGB")
    small.thumbnail((ANALYSIS_SIDE, ANALYSIS_SIDE), Image.Resampling.BILINEAR)  # a copy: convert() made one
    lab = srgb_to_lab(np.asarray(small))
    chroma = np.hypot(lab[..., 1], lab[..., 2])
    background = _border_connected((lab[..., 0] > BACKGROUND_LIGHTNESS) & (chroma < BACKGROUND_CHROMA))
    centre = _centre_weights(*lab.shape[:2])
    weights = np.where(background, 0.0, centre)
    if weights.sum() < MIN_FOREGROUND_SHARE * centre.sum():
        weights = centre  # a white product on white: its colour is the white
    keep = weights.reshape(-1) > 0
    centres, shares = _weighted_kmeans(lab.reshape(-1, 3)[keep], weights.reshape(-1)[keep], clusters)
    order = np.argsort(-shares)
    return [
        [round(float(L), 1), round(float(a), 1), round(float(b), 1), round(float(share), 3)]
        for (L, a, b), share in zip(centres[order], shares[order], strict=True)
        if share > 0
    ]


def dominant_colours_of_bytes(data: bytes) -> list[list[float]]:
    """``dominant_colours`` of an already validated image file, decoded at a reduced scale where the format
    allows (a JPEG's ``draft``)."""
    from catalog.images import open_upright_rgb_image

    with Image.open(io.BytesIO(data)) as opened:
        if opened.format == "JPEG":
            opened.draft("RGB", (ANALYSIS_SIDE * 2, ANALYSIS_SIDE * 2))
        return dominant_colours(open_upright_rgb_image(opened))


def main_colour(colours: list | None) -> list[float] | None:
    """The largest-share colour's ``[L, a, b]``; None when there is none."""
    return list(colours[0][:3]) if colours else None
