"""How "Goes well with" ranks what it may show (plain Python: ``recommender.services.search`` applies it).

Two signals say that two products go together. The encoder's "goes with" vectors cover every product, new ones
too; the rooms, sets and orders that held both products (the used-together pairs, counted once per room, set or
order) are direct evidence, but most pairs were seen once, and a new product has none. Each candidate scores its
cosine with the product plus ``weight`` × ln(1 + the pair's count). At the default weight (COMPLEMENT_PAIR_WEIGHT)
a pair held by one room outranks all but the most fitting learned neighbours, pairs held by more rooms come first,
and among pairs held equally often the one that looks more fitting; the learned neighbours fill the rest. The
weight was chosen by measuring "Goes well with" through the API on the dev rooms (``bench/complements.py``; the
figures are in the README, "Goes well with"). Where one order is weak evidence, COVIEW_MIN_SESSIONS leaves out
pairs held by fewer.

The candidates are the learned neighbours (the ``k`` nearest) and the strongest pairs: a bounded number, so the
cost of a product page does not grow with the catalog or with how often a product was ordered.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

Ranked = list[tuple[int, float]]  # (product id, score), best first


def complement_score(cosine: float, count: int, *, weight: float) -> float:
    """A candidate's score: its learned cosine with the product, raised by the rooms that held both."""
    return cosine + weight * math.log1p(max(count, 0))


def complements_ranked(cosines: Mapping[int, float], counts: Mapping[int, int], *, k: int, weight: float) -> Ranked:
    """The ``k`` best of the candidates, each at most once, best first (ties by id). ``cosines`` holds every
    candidate's cosine with the product (0.0 for one without a vector yet); ``counts`` the used-together count of
    those paired with it (the others count 0)."""
    scored = [(pid, complement_score(cosine, counts.get(pid, 0), weight=weight)) for pid, cosine in cosines.items()]
    return sorted(scored, key=lambda item: (-item[1], item[0]))[: max(k, 0)]
