"""Places on the catalog map, read from the serving index (``positions.npy``, written once per index version):
a product's own place, and a shopper's photo placed among its closest matches. Nothing here reads vectors or
grows with the catalog."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from recommender.services.search import serving_state

NEIGHBOURS_FOR_PLACE = 5


@dataclass(frozen=True)
class Place:
    x: float  # 0 (left) .. 1 (right)
    y: float  # 0 (top) .. 1 (bottom)


def places_of(product_ids: list[int]) -> dict[int, Place]:
    """The map places of the products the serving index holds (others are left out)."""
    index = serving_state().index
    if index is None or not product_ids:
        return {}
    positions = index.positions_of(np.asarray(product_ids, dtype=np.int64))
    return {
        pid: Place(round(float(x), 4), round(float(y), 4))
        for pid, (x, y) in zip(product_ids, positions, strict=True)
        if np.isfinite(x) and np.isfinite(y)
    }


def place_among(results: list[tuple[int, float]]) -> Place | None:
    """Where a photo lands: the similarity-weighted centre of its closest matches' places, so the dot sits among
    the products it was answered with."""
    top = results[:NEIGHBOURS_FOR_PLACE]
    places = places_of([pid for pid, _ in top])
    weighted = [(places[pid], max(float(score), 0.0) ** 4) for pid, score in top if pid in places]
    total = sum(weight for _, weight in weighted)
    if not weighted or total <= 0:
        return None
    x = sum(place.x * weight for place, weight in weighted) / total
    y = sum(place.y * weight for place, weight in weighted) / total
    return Place(round(x, 4), round(y, 4))
