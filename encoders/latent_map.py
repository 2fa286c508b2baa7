"""The 2-D map of a version's "similar" space: a PCA projection fitted on the catalog at training time and kept
in ``latent_map.json`` beside the checkpoint, so that any vector of that space can be placed on the same map.
numpy only: the web process and the index build use it without torch."""

from __future__ import annotations

import colorsys
import json
from pathlib import Path

import numpy as np

RECONSTRUCTIONS = "reconstructions.png"
LATENT_MAP = "latent_map.png"
LATENT_MAP_DATA = "latent_map.json"


def category_colours(categories: list[str]) -> dict[str, tuple[int, int, int]]:
    names = sorted(set(categories))
    return {
        name: tuple(int(255 * c) for c in colorsys.hsv_to_rgb(i / max(1, len(names)), 0.75, 0.85))
        for i, name in enumerate(names)
    }


def project_2d(vectors: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """PCA to two dimensions: (mean (D,), components (2, D), coordinates (N, 2))."""
    mean = vectors.mean(axis=0)
    _, _, vt = np.linalg.svd(vectors - mean, full_matrices=False)
    components = vt[:2]
    return mean, components, (vectors - mean) @ components.T


def latent_map_save(
    directory: Path, *, vectors: np.ndarray, product_ids: list[int], categories: list[str]
) -> tuple[np.ndarray, dict]:
    """Fit the 2-D projection of ``vectors`` and keep it in ``latent_map.json``; returns (coords, data)."""
    mean, components, coords = project_2d(vectors)
    data = {
        "mean": mean.round(6).tolist(),
        "components": components.round(6).tolist(),
        "product_ids": list(product_ids),
        "coords": coords.round(5).tolist(),
        "categories": list(categories),
    }
    (directory / LATENT_MAP_DATA).write_text(json.dumps(data))
    return coords, data


def latent_map_data(directory: Path) -> dict | None:
    """The saved projection of a version (``mean``, ``components``, ``product_ids``, ``coords``, ``categories``),
    or None where the version has no map (or an unreadable one)."""
    try:
        data = json.loads((directory / LATENT_MAP_DATA).read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or "mean" not in data or "components" not in data:
        return None
    return data


def project(vectors: np.ndarray, data: dict) -> np.ndarray:
    """Vectors (D,) or (N, D) of the version's "similar" space -> positions (2,) or (N, 2) on its map."""
    mean = np.asarray(data["mean"], dtype=np.float64)
    components = np.asarray(data["components"], dtype=np.float64)  # (2, D)
    return (np.asarray(vectors, dtype=np.float64) - mean) @ components.T
