"""Pictures of a trained version, written next to its checkpoint: the reconstruction grid ("what the model
sees") and the 2-D map of the catalog's codes. The map's projection is kept in ``latent_map.json`` so that
a shopper's photo can later be placed on the same map."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from encoders.inference import LoadedEncoder, reconstruct
from encoders.latent_map import LATENT_MAP, RECONSTRUCTIONS, category_colours, latent_map_save
from encoders.preprocess import letterbox, load_rgb


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
