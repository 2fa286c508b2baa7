"""Answering a photo with what it looks like: the similarity search combined with the category head's guess
(encoders.category_ranking says how, and why). The candidates are the CANDIDATE_POOL nearest distinct products,
one bounded search (``search_vector``), re-ranked: the cost does not grow with the catalog."""

from __future__ import annotations

from django.conf import settings

from encoders.category_ranking import CANDIDATE_POOL, category_ranked
from recommender.services.search import Filters, ServingState, search_candidates, search_vector


def category_search(
    vector,
    *,
    k: int,
    filters: Filters,
    guess: dict[str, float] | None,
    state: ServingState | None = None,
    exclude: set[int] = frozenset(),
    shown: tuple[str, str] = ("", ""),
    pool: int = CANDIDATE_POOL,
) -> list[tuple[int, float]]:
    """The ``k`` best distinct products for a photo's (or a product's) ``vector`` under ``filters``, ``exclude`` and
    the variants of ``shown`` left out (see ``search_candidates``). Without a guess, with a category chosen in
    ``filters``, or with CATEGORY_RANKING "none": by similarity alone. Otherwise ranked with the guess (slug ->
    probability): one search for the ``pool`` nearest, re-ranked."""
    mode = settings.CATEGORY_RANKING
    options = {"filters": filters, "state": state, "distinct": True, "exclude": exclude, "shown": shown}
    if not guess or filters.category or mode == "none":
        return search_vector(vector, k=k, **options)
    candidates = search_candidates(vector, k=max(k, pool), **options)
    return category_ranked(candidates.results, candidates.category_of, guess, k=k, mode=mode)
