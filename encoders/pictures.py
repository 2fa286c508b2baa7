"""Pictures of a trained version, written next to its checkpoint: the reconstruction grid ("what the model
sees") and the 2-D map of the catalog's codes. The map's projection is kept in ``latent_map.json`` so that
a shopper's photo can later be placed on the same map."""

from __future__ import annotations

import colorsys
import json
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from encoders.inference import LoadedEncoder, reconstruct
from encoders.preprocess import letterbox, load_rgb

RECONSTRUCTIONS = "reconstructions.png"
LATENT_MAP = "latent_map.png"
LATENT_MAP_DATA = "latent_map.json"


def category_colours(categories: list[str]) -> dict[str, tuple[int, int, int]]:
    names = sorted(set(categories))
    return {
        name: tuple(int(255 * c) for c in colorsys.hsv_to_rgb(i / max(1, len(names)), 0.75, 0.85))
        for i, name in enumerate(names)
    }


def sample_per_category(categories: list[str], *, limit: int = 12) -> list[int]:
    """One product of each category first (the first in catalog order), then more, up to ``limit``."""
    first: dict[str, int] = {}
    for i, name in enumerate(categories):
        first.setdefault(name, i)
    chosen = [first[name] for name in sorted(first)][:limit]
    extra = [i for i in range(len(categories)) if i not in chosen]
    return chosen + extra[: limit - len(chosen)]


def reconstruction_grid(
    originals: list[Image.Image], reconstructions: list[Image.Image], *, cell: int = 96
) -> Image.Image:
    """Originals on the top row, the decoder's reconstructions under each."""
    grid = Image.new("RGB", (cell * len(originals), cell * 2 + 4), "white")
    for i, (original, redrawn) in enumerate(zip(originals, reconstructions, strict=True)):
        grid.paste(letterbox(original, size=cell), (i * cell, 0))
        grid.paste(redrawn.resize((cell, cell), Image.Resampling.BICUBIC), (i * cell, cell + 4))
    return grid


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


def latent_map_image(
    coords: np.ndarray, images: list[Path], categories: list[str], *, size: int = 1600, thumb: int = 28
) -> Image.Image:
    colours = category_colours(categories)
    legend_width = 220
    canvas = Image.new("RGB", (size + legend_width, size), "white")
    draw = ImageDraw.Draw(canvas)
    low, high = coords.min(axis=0), coords.max(axis=0)
    span = np.maximum(high - low, 1e-9)
    positions = ((coords - low) / span * (size - thumb - 8) + 4).astype(int)
    for (x, y), path, name in zip(positions, images, categories, strict=True):
        y = size - thumb - y  # the second component grows upwards
        tile = load_rgb(path)
        tile.thumbnail((thumb - 4, thumb - 4))
        draw.rectangle([x, y, x + thumb - 1, y + thumb - 1], fill="white", outline=colours[name], width=2)
        canvas.paste(tile, (x + 2, y + 2))
    for row, (name, colour) in enumerate(sorted(colours.items())):
        top = 12 + row * 22
        draw.rectangle([size + 12, top, size + 28, top + 16], fill=colour)
        draw.text((size + 36, top + 2), name, fill="black")
    return canvas


def pictures_write(*, encoder: LoadedEncoder, embedder, data, directory: Path) -> None:
    categories = data.catalog.categories
    chosen = sample_per_category(categories)
    originals = [load_rgb(data.catalog.images[i]) for i in chosen]
    reconstruction_grid(originals, reconstruct(encoder, originals)).save(directory / RECONSTRUCTIONS)

    vectors = embedder.catalog(data.catalog.images, head="similar")
    coords, _ = latent_map_save(directory, vectors=vectors, product_ids=data.product_ids, categories=categories)
    latent_map_image(coords, data.catalog.images, categories).save(directory / LATENT_MAP)
