"""Ranking by the photo's main colour ("same colour"): the shape-alike candidates are re-ranked so that those of
the photo's main colour come first. The candidates are a bounded pool (SAME_COLOUR_POOL distinct products from
the index), so the cost per request never grows with the catalog."""

from __future__ import annotations

from catalog.colours import delta_e, main_colour
from catalog.models import Product
from recommender.services.category_search import category_search
from recommender.services.search import Filters, ServingState

SAME_COLOUR_POOL = 60  # distinct products re-ranked by colour
# Cosine similarity given up per unit of colour difference (CIE76): a clearly other colour (ΔE 50) costs 1.0, so
# within the pool the colour decides and similarity orders products of about the same colour.
COLOUR_WEIGHT = 1 / 50
UNKNOWN_DELTA_E = 100.0  # a product whose colours are not computed yet goes after those of any known colour


def colour_ranked(
    results: list[tuple[int, float]], colours: dict[int, list | None], query: list[float]
) -> list[tuple[int, float]]:
    """``results`` (product id, similarity) ordered by similarity less COLOUR_WEIGHT × the colour difference
    between ``query`` (L, a, b) and each product's main colour. The scores are kept: they are still similarities."""

    def key(item: tuple[int, float]) -> float:
        product_id, score = item
        colour = main_colour(colours.get(product_id))
        difference = UNKNOWN_DELTA_E if colour is None else delta_e(query, colour)
        return -(score - COLOUR_WEIGHT * difference)

    return sorted(results, key=key)


def search_ranked(
    vector,
    *,
    k: int,
    filters: Filters,
    query_colours: list | None,
    query_categories: dict[str, float] | None = None,
    state: ServingState | None = None,
) -> list[tuple[int, float]]:
    """What a shopper's photo is answered with: one product per group of variants, filtered, ranked with what the
    photo looks like (``query_categories``, slug -> probability; see ``category_search``); with
    ``filters.same_colour`` (and a known photo colour), the products of the photo's main colour first."""
    query = main_colour(query_colours)
    plain = filters.without_colour()
    if not (filters.same_colour and query):
        return category_search(vector, k=k, filters=plain, guess=query_categories, state=state)
    pool = category_search(vector, k=max(k, SAME_COLOUR_POOL), filters=plain, guess=query_categories, state=state)
    colours = dict(Product.objects.filter(pk__in=[pid for pid, _ in pool]).values_list("pk", "colours"))
    return colour_ranked(pool, colours, query)[:k]
