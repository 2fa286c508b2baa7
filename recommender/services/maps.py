"""Places on the catalog map, read from the serving index (``positions.npy``, written once per index version):
a product's own place, a shopper's photo placed among its closest matches, and products found by name. Nothing
here reads vectors or grows with the catalog (a name search costs what the database's own LIKE costs)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from django.db.models import Case, IntegerField, Value, When

from catalog.models import Product
from catalog.selectors import active_products
from recommender.maptiles import map_meta
from recommender.services.indexing import MAP_DIR
from recommender.services.search import serving_state

NEIGHBOURS_FOR_PLACE = 5
FIND_LIMIT = 10


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


@dataclass(frozen=True)
class MapDot:
    x: float
    y: float
    colour: str
    name: str
    url: str


@dataclass(frozen=True)
class ResultsMap:
    """What the results page draws: a sample of the catalog (the map's overview), the photo's matches, the photo."""

    overview: list[MapDot]
    matches: list[MapDot]
    photo: Place
    legend: list[dict]  # {"label", "colour"}


def results_map(results: list[tuple[int, float]], products: dict[int, object]) -> ResultsMap | None:
    """The mini-map of an upload's answer from the serving index's map: its overview points (a few hundred at any
    catalog size) and the places of the matches; None where the index has no map."""
    state = serving_state()
    if state.index is None:
        return None
    meta = map_meta(state.index.path / MAP_DIR)
    photo = place_among(results)
    if meta is None or photo is None:
        return None
    colours = [category["colour"] for category in meta["categories"]]
    fields = meta["overview"]["fields"]
    column = {name: fields.index(name) for name in ("x", "y", "category", "name", "url")}
    matched_urls = {product.get_absolute_url() for product in products.values()}
    overview = [
        MapDot(
            row[column["x"]],
            row[column["y"]],
            colours[row[column["category"]]],
            row[column["name"]],
            row[column["url"]],
        )
        for row in meta["overview"]["points"]
        if row[column["url"]] not in matched_urls
    ]
    by_name = {category["name"]: category["colour"] for category in meta["categories"]}
    places = places_of([pid for pid, _ in results])
    matches = [
        MapDot(place.x, place.y, by_name.get(products[pid].category.label, "#5f6368"), products[pid].name,
               products[pid].get_absolute_url())
        for pid, place in places.items()
        if pid in products
    ]  # fmt: skip
    legend = [{"label": entry["label"], "colour": entry["colour"]} for entry in meta["legend"]]
    return ResultsMap(overview=overview, matches=matches, photo=photo, legend=legend)


# -- finding a product on the map, and a photo's place ---------------------------------------------------------------


@dataclass(frozen=True)
class Found:
    product: Product
    place: Place | None  # None: saved since the serving index was built, so on the map only after the next build


@dataclass(frozen=True)
class FindAnswer:
    found: list[Found]
    more: bool  # more products match than were listed


def map_find(*, text: str, limit: int = FIND_LIMIT) -> FindAnswer:
    """Up to ``limit`` active products that the catalog's own search finds for ``text`` (the sku exactly, or the text
    in the name or the retailer's type), best first: the sku, then names that start with the text, names that hold
    it, and last products only whose type holds it ("sofa" still finds sofas called "EKTORP"). One LIMITed query
    (``limit`` + 1 rows, to tell whether there are more), then their places."""
    products = list(
        active_products(search=text)
        .annotate(
            rank=Case(
                When(sku__iexact=text, then=Value(0)),
                When(name__istartswith=text, then=Value(1)),
                When(name__icontains=text, then=Value(2)),
                default=Value(3),
                output_field=IntegerField(),
            )
        )
        .order_by("rank", "name", "sku")[: limit + 1]
    )
    places = places_of([product.pk for product in products[:limit]])
    return FindAnswer(
        found=[Found(product, places.get(product.pk)) for product in products[:limit]], more=len(products) > limit
    )


@dataclass(frozen=True)
class PlacedMatch:
    sku: str
    name: str
    place: Place


@dataclass(frozen=True)
class UploadPlace:
    photo: Place
    matches: list[PlacedMatch]  # the answer's products that are on the map and still active, best first


def upload_place(*, results: list[tuple[int, float]]) -> UploadPlace | None:
    """Where an answered photo lands (``place_among`` its stored results) and the places of its matches; None where
    the serving index has no map, or none of the matches is on it. One query (the matches' skus and names)."""
    photo = place_among(results)
    if photo is None:
        return None
    places = places_of([pid for pid, _ in results])
    names = Product.objects.filter(pk__in=list(places), is_active=True).values_list("pk", "sku", "name")
    by_id = {pk: (sku, name) for pk, sku, name in names}
    matches = [PlacedMatch(*by_id[pid], places[pid]) for pid, _ in results if pid in places and pid in by_id]
    return UploadPlace(photo=photo, matches=matches)
