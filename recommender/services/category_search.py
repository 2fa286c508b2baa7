"""Answering a photo with what it looks like: the similarity search combined with the category guess
(encoders.category_ranking says how, and why). The candidates are the CANDIDATE_POOL nearest distinct products,
one bounded search (``search_candidates``), and for a photo (or a product) whose likeliest category is short among
them, its nearest of that category (one filtered search, bounded as every filtered search is), re-ranked: the cost
does not grow with the catalog."""

from __future__ import annotations

from dataclasses import replace

from django.conf import settings

from encoders.category_ranking import CANDIDATE_POOL, PRIOR_WEIGHT, category_ranked, short_category
from recommender.services.search import Candidates, Filters, ServingState, search_candidates, search_vector


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
    weight: float = PRIOR_WEIGHT,
) -> list[tuple[int, float]]:
    """The ``k`` best distinct products for a photo's (or a product's) ``vector`` under ``filters``, ``exclude`` and
    the variants of ``shown`` left out (see ``search_candidates``). Without a guess, with a category chosen in
    ``filters``, or with CATEGORY_RANKING "none": by similarity alone. Otherwise ranked with the guess (slug ->
    probability): one search for the ``pool`` nearest, and the ``k`` nearest of the guess's likeliest category where
    the pool holds fewer (``short_category``), re-ranked; ``weight`` is the prior's (``category_ranked``)."""
    options = {"state": state, "distinct": True, "exclude": exclude, "shown": shown}
    if _by_likeness_alone(guess, filters):
        return search_vector(vector, k=k, filters=filters, **options)
    candidates = search_candidates(vector, k=max(k, pool), filters=filters, **options)
    return _ranked_with_guess(
        vector, candidates, k=k, pool=pool, filters=filters, guess=guess, weight=weight, **options
    )


def _by_likeness_alone(guess: dict[str, float] | None, filters: Filters) -> bool:
    """Without a guess, with a category chosen in ``filters``, or with CATEGORY_RANKING "none", the answer is ranked
    by similarity alone."""
    return not guess or bool(filters.category) or settings.CATEGORY_RANKING == "none"


def _ranked_with_guess(
    vector, candidates: Candidates, *, k: int, pool: int, filters: Filters, guess: dict[str, float], weight, **options
) -> list[tuple[int, float]]:
    """The pool of ``candidates`` (the ``pool`` nearest), with the ``k`` nearest of the guess's likeliest category
    where the pool holds fewer (``short_category``: one filtered search), ranked with the guess."""
    results, category_of = list(candidates.results), dict(candidates.category_of)
    whole_catalog = len(results) < max(k, pool)  # the pool holds every product that may be shown: none is missing
    short = None if whole_catalog else short_category(results, category_of, guess, k=k)
    if short is not None:
        more = search_candidates(vector, k=k, filters=replace(filters, category=short), **options)
        results += [(pid, score) for pid, score in more.results if pid not in category_of]
        category_of.update(more.category_of)
    return category_ranked(results, category_of, guess, k=k, mode=settings.CATEGORY_RANKING, weight=weight)


def category_search_and_within(
    vector,
    *,
    k: int,
    filters: Filters,
    guess: dict[str, float] | None,
    within: str,
    state: ServingState | None = None,
    pool: int = CANDIDATE_POOL,
) -> tuple[list[tuple[int, float]], list[tuple[int, float]]]:
    """``category_search``'s answer, and the ``k`` nearest distinct products of the category ``within`` (its
    slug) by likeness alone, both from one pool of candidates: the pool is the nearest of all, so when it holds
    ``k`` of the category they are its nearest, and only a category short in it takes a filtered search. For a
    room's piece sure of its category (``room_answer``), whose open ranking is kept beside it."""
    options = {"state": state, "distinct": True}
    candidates = search_candidates(vector, k=max(k, pool), filters=filters, **options)
    inside = [(pid, score) for pid, score in candidates.results if candidates.category_of[pid] == within][:k]
    if len(inside) < k and len(candidates.results) >= max(k, pool):  # short in a pool that is not the whole catalog
        inside = search_vector(vector, k=k, filters=replace(filters, category=within), **options)
    if _by_likeness_alone(guess, filters):
        return candidates.results[:k], inside
    ranked = _ranked_with_guess(
        vector, candidates, k=k, pool=pool, filters=filters, guess=guess, weight=PRIOR_WEIGHT, **options
    )
    return ranked, inside
