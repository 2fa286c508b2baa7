"""The 2-D map of the catalog's latent space: every active product placed with the serving encoder version's
projection (``latent_map.json`` next to its checkpoint), so products added after training are on it too."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from catalog.models import Product
from encoders.latent_map import category_colours, latent_map_data, project
from encoders.models import EncoderVersion
from encoders.versions import version_dir
from recommender.services.embeddings import embeddings_matrix


@dataclass(frozen=True)
class MapPoint:
    product: Product
    x: float  # 0 (left) .. 1 (right)
    y: float  # 0 (top) .. 1 (bottom): the second component grows upwards, as on the staff's picture


@dataclass(frozen=True)
class CatalogMap:
    points: list[MapPoint]
    colours: dict[str, str]  # category name -> "#rrggbb"
    low: np.ndarray  # (2,) the raw corner that maps to (0, 1)
    span: np.ndarray  # (2,)

    def place(self, position) -> tuple[float, float] | None:
        """A raw [x, y] (an upload's ``map_position``) -> page fractions, clamped to the map."""
        if not position or len(position) != 2:
            return None
        x, y = np.clip((np.asarray(position, dtype=np.float64) - self.low) / self.span, 0.0, 1.0)
        return round(float(x), 4), round(float(1.0 - y), 4)


def _hex(colour: tuple[int, int, int]) -> str:
    """Darker than the staff picture's colours, so that each border stands out on white (contrast ≥ 3:1)."""
    return "#{:02x}{:02x}{:02x}".format(*(int(c * 0.72) for c in colour))


def catalog_map(*, version: EncoderVersion | None, margin: float = 0.04) -> CatalogMap | None:
    """Every active product of ``version`` on its map, or None where there is no version, map or vector."""
    if version is None:
        return None
    data = latent_map_data(version_dir(version))
    if data is None:
        return None
    ids, vectors = embeddings_matrix(version=version)
    if not ids or vectors.shape[1] != len(data["mean"]):
        return None
    coords = project(vectors, data)
    low, high = coords.min(axis=0), coords.max(axis=0)
    span = np.maximum(high - low, 1e-9)
    low, span = low - span * margin, span * (1 + 2 * margin)
    products = Product.objects.select_related("category").in_bulk(ids)
    placed = (coords - low) / span
    points = [
        MapPoint(product=products[pid], x=round(float(x), 4), y=round(float(1.0 - y), 4))
        for pid, (x, y) in zip(ids, placed, strict=True)
        if pid in products
    ]
    colours = {name: _hex(rgb) for name, rgb in category_colours([p.product.category.name for p in points]).items()}
    return CatalogMap(points=points, colours=colours, low=low, span=span)


def map_position(*, version: EncoderVersion, vector: np.ndarray) -> list[float] | None:
    """Where a "similar"-space vector lands on ``version``'s map (raw coordinates), or None without a map."""
    data = latent_map_data(version_dir(version))
    if data is None or len(vector) != len(data["mean"]):
        return None
    return [round(float(v), 5) for v in project(vector, data)]
