"""Furnish a room within a budget: one product for each piece of furniture, the set with the highest total
similarity whose total price is within the budget, found exactly by dynamic programming. Pure (no Django, no
torch): prices are Decimals, and the search counts whole cents.

The programme runs over the pieces and keeps, after each one, only the partial sets that no other beats: a partial
set that costs at least as much as another and scores no higher is dropped, since whatever completes it completes
the other at least as well (the Pareto frontier of cost and score). A table over every cent spent would be as wide
as the budget in cents; the frontier stays small for a room's few pieces and their top candidates.

The same product is never chosen for two pieces (two armchairs in one photo have the same lookalikes). So partial
sets are kept in groups by the products they took that a later piece could still take, and a set is compared only
with sets of its own group: two sets that block different products for later pieces are not interchangeable, and
the pruning stays exact. Pieces of different kinds share no candidates, so their groups stay single.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal

CENT = Decimal("0.01")
# Sums of the same scores in another order can differ in the last bits: a partial set is only ruled out by a bound
# when it falls short by more than this.
SCORE_SLACK = 1e-9


@dataclass(frozen=True)
class Candidate:
    """A product that could furnish a piece: how alike it is (cosine similarity) and its price (None: no price)."""

    product_id: int
    score: float
    price: Decimal | None


@dataclass(frozen=True)
class Furnishing:
    """The answer for a budget. ``chosen`` holds one candidate per piece, in the pieces' order, or nothing when no set
    fits the budget; ``cheapest_total`` is the lowest total any set of distinct products reaches (None when no set
    can be made at all, e.g. a piece none of whose candidates has a price)."""

    budget: Decimal
    candidates: tuple[tuple[Candidate, ...], ...]  # each piece's priced candidates, as given (best first)
    chosen: tuple[Candidate, ...]
    total: Decimal | None
    score: float
    cheapest_total: Decimal | None
    left_out_without_price: int  # candidates left out because they have no price, over all pieces
    pinned: frozenset[int] = field(default_factory=frozenset)  # pieces whose product the caller fixed

    @property
    def fits(self) -> bool:
        return self.total is not None


# A partial set: its cost in cents, its total score, and the index of the option chosen for each piece so far.
State = tuple[int, float, tuple[int, ...]]
Option = tuple[int, float, int]  # (price in cents, score, product id)


def _cents_up(amount: Decimal) -> int:
    return int((amount / CENT).to_integral_value(rounding=ROUND_CEILING))


def _cents_down(amount: Decimal) -> int:
    return int((amount / CENT).to_integral_value(rounding=ROUND_FLOOR))


def _frontier(states: list[State]) -> list[State]:
    """The states no other state beats: cheapest first, each scoring strictly more than every cheaper one. Among
    equal ones the earlier choices (the better-ranked candidates) are kept, so the answer does not depend on order."""
    kept: list[State] = []
    for state in sorted(states, key=lambda state: (state[0], -state[1], state[2])):
        if not kept or state[1] > kept[-1][1]:
            kept.append(state)
    return kept


def _cheapest(states: list[State]) -> list[State]:
    return [min(states, key=lambda state: (state[0], -state[1], state[2]))]


def _rest_totals(options: Sequence[Sequence[Option]], pick: Callable) -> list:
    """``totals[i]``: what the pieces from i on add up to at least (``pick=min`` over prices) or at most (``pick=max``
    over scores), each piece on its own."""
    totals = [0] * (len(options) + 1)
    for index in range(len(options) - 1, -1, -1):
        totals[index] = totals[index + 1] + pick(options[index], default=0)
    return totals


def _greedy_score(options: Sequence[Sequence[Option]], *, limit: int, cheapest_rest: list[int]) -> float | None:
    """The score of one set within ``limit``, found quickly: each piece takes its best option that leaves enough for
    the cheapest options of the rest. None when this gets stuck (the optimum may still exist)."""
    spent, score, taken = 0, 0.0, set()
    for index, piece_options in enumerate(options):
        fitting = [
            (alike, cents, pid)
            for cents, alike, pid in piece_options
            if pid not in taken and spent + cents + cheapest_rest[index + 1] <= limit
        ]
        if not fitting:
            return None
        alike, cents, pid = max(fitting)
        spent, score, taken = spent + cents, score + alike, taken | {pid}
    return score


def _complete_sets(options: Sequence[Sequence[Option]], *, limit: int | None, keep: Callable) -> list[State]:
    """Every complete set ``keep`` leaves (one option per piece, no product twice) costing at most ``limit`` cents
    (no limit: None). Within a limit, a partial set is dropped as soon as even the cheapest options of the pieces
    left would take it over, or even their best options could not lift it to the score of a set already known to
    fit (found greedily): neither could be completed into the best set, so the answer stays exact."""
    later_ids = [set() for _ in options]  # later_ids[i]: the products pieces after i could take
    for index in range(len(options) - 2, -1, -1):
        later_ids[index] = later_ids[index + 1] | {pid for _, _, pid in options[index + 1]}
    cheapest_rest = _rest_totals([[cents for cents, _, _ in piece] for piece in options], min)
    best_rest = _rest_totals([[alike for _, alike, _ in piece] for piece in options], max)
    known = None if limit is None else _greedy_score(options, limit=limit, cheapest_rest=cheapest_rest)

    groups: dict[frozenset[int], list[State]] = {frozenset(): [(0, 0.0, ())]}
    for index, piece_options in enumerate(options):
        grown: dict[frozenset[int], list[State]] = defaultdict(list)
        for taken, states in groups.items():
            for cost, score, picks in states:
                for choice, (cents, alike, pid) in enumerate(piece_options):
                    if pid in taken:
                        continue
                    if limit is not None and cost + cents + cheapest_rest[index + 1] > limit:
                        continue
                    if known is not None and score + alike + best_rest[index + 1] < known - SCORE_SLACK:
                        continue
                    key = frozenset((taken | {pid}) & later_ids[index])
                    grown[key].append((cost + cents, score + alike, (*picks, choice)))
        groups = {key: keep(states) for key, states in grown.items()}
    return [state for states in groups.values() for state in states]


def furnish(
    pieces: Sequence[Sequence[Candidate]], budget: Decimal, *, pinned: Mapping[int, int] | None = None
) -> Furnishing:
    """One candidate per piece, no product twice, maximising the total score with a total price within ``budget``.
    Candidates without a price are left out (and counted). ``pinned`` maps a piece's index to the product the
    shopper chose for it: the piece is furnished with that product, the others around it; a pin naming a product
    that is not among the piece's priced candidates is ignored. Ties go to the cheaper set, then to the
    better-ranked candidates."""
    pinned = pinned or {}
    priced = [tuple(c for c in candidates if c.price is not None) for candidates in pieces]
    left_out = sum(len(candidates) for candidates in pieces) - sum(len(candidates) for candidates in priced)
    fixed = {
        index: product_id
        for index, product_id in pinned.items()
        if 0 <= index < len(priced) and any(c.product_id == product_id for c in priced[index])
    }
    usable = [
        tuple(c for c in candidates if index not in fixed or c.product_id == fixed[index])
        for index, candidates in enumerate(priced)
    ]
    options = [[(_cents_up(c.price), c.score, c.product_id) for c in candidates] for candidates in usable]
    nothing = Furnishing(
        budget=budget,
        candidates=tuple(priced),
        chosen=(),
        total=None,
        score=0.0,
        cheapest_total=None,
        left_out_without_price=left_out,
        pinned=frozenset(fixed),
    )
    cheapest = _complete_sets(options, limit=None, keep=_cheapest)
    if not cheapest:
        return nothing
    nothing = replace(nothing, cheapest_total=min(cost for cost, _, _ in cheapest) * CENT)
    within = _complete_sets(options, limit=_cents_down(budget), keep=_frontier)
    if not within:
        return nothing
    _, score, picks = max(within, key=lambda state: (state[1], -state[0], [-choice for choice in state[2]]))
    chosen = tuple(usable[index][choice] for index, choice in enumerate(picks))
    return replace(nothing, chosen=chosen, total=sum((c.price for c in chosen), Decimal(0)), score=score)


def swaps(furnishing: Furnishing, piece_index: int) -> list[Candidate]:
    """The piece's other priced candidates that keep the set within the budget with the rest unchanged (and are not
    already chosen for another piece), best first. None when nothing fits."""
    if not furnishing.fits:
        return []
    current = furnishing.chosen[piece_index]
    elsewhere = {c.product_id for index, c in enumerate(furnishing.chosen) if index != piece_index}
    rest = furnishing.total - current.price
    fitting = [
        c
        for c in furnishing.candidates[piece_index]
        if c.product_id != current.product_id and c.product_id not in elsewhere and rest + c.price <= furnishing.budget
    ]
    return sorted(fitting, key=lambda c: -c.score)
