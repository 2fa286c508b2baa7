"""Ranking by what the photo shows (numpy only: the web process uses it too).

The encoder's category head guesses the photo's category distribution ("sofa 0.92, armchair 0.05, ..."). The
answer combines that guess with visual similarity: a confident "sofa" photo is answered with sofas, an unsure one
with a mix. Three ways were measured on the dev photos (``bench/category_ranking.py``; figures in the README):

- ``prior`` (what the product serves): each candidate's cosine plus ``weight`` × log of the probability of its
  category, so a product of an unlikely category must look much more alike to stay;
- ``filter``: the most likely category first (others only fill up), when the head gives it at least ``threshold``;
- ``quota``: the first k slots shared among the likely categories in proportion to their probabilities.

The candidates of a shopper's photo are its CANDIDATE_POOL nearest products (a product page's: its
PRODUCT_CANDIDATE_POOL nearest), one bounded search; when they hold fewer than k of the guess's likeliest category
(``short_category``), the k nearest of that category join them (one more search, filtered, bounded as every
filtered search is), so a dining set whose nearest look like beds still meets the tables its guess names, and a
new desk whose nearest are shelves still meets desks. The cost per query does not grow with the catalog. Searching
the nearest of each of the three likeliest categories, always, gave no more when the guess came from the category
head alone, and cost one over-fetching search per category (README, "Category-aware ranking").
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Mapping, Sequence

CANDIDATE_POOL = 100  # the nearest products the guess re-ranks for a photo
# ... and for a catalog product's "similar items": its own picture's guess is surer and its neighbours closer, so
# its 30 nearest re-rank as well as its 100 for a third of the search (search_k grows with the neighbours asked
# for; measured in the README, "Similar items on a product page")
PRODUCT_CANDIDATE_POOL = 30
PROBABILITY_FLOOR = 1e-4  # a category the head all but rules out still gets a finite penalty
PRIOR_WEIGHT = 0.2  # cosine given up per unit of log probability (the measured choice: see the module docstring)
# ... on a product page, whose guess is used only where it names the product's own category (``agreeing_guess``):
# the picture and staff agree, so the guess may weigh more (held-out P@10, README "Held-out products")
PRODUCT_PRIOR_WEIGHT = 1.0
MODES = ("none", "prior", "filter", "quota")
PRODUCT_GUESS_KEPT = 5  # the likeliest categories kept of a catalog product's guess (one row per product)

Candidate = tuple[Hashable, float]  # (product id, cosine similarity)


def kept_guess(probabilities: Mapping[str, float]) -> dict[str, float]:
    """A catalog product's category guess as it is stored and ranked with: its PRODUCT_GUESS_KEPT likeliest
    categories, those at least PROBABILITY_FLOOR (below it every category scores the same), rounded to 4 places.
    A stored row stays small (a million products, one per encoder version), and the evaluation ranks with exactly
    what the product page reads."""
    likeliest = sorted(probabilities.items(), key=lambda item: -item[1])[:PRODUCT_GUESS_KEPT]
    return {name: round(float(p), 4) for name, p in likeliest if p >= PROBABILITY_FLOOR}


def agreeing_guess(guess: Mapping[str, float], category: str) -> dict[str, float]:
    """A catalog product's guess as its "similar items" are ranked with it: the guess when its likeliest category
    is the product's own (staff's word), else none (by similarity alone). Where the picture's look and the
    catalog disagree, neither is trusted to push the product's own near-duplicates down."""
    if not guess or max(guess, key=guess.get) != category:
        return {}
    return dict(guess)


def prior_score(score: float, probability: float, *, weight: float = PRIOR_WEIGHT) -> float:
    return score + weight * math.log(max(probability, PROBABILITY_FLOOR))


def short_category(
    candidates: Sequence[Candidate], category_of: Mapping[Hashable, str], guess: Mapping[str, float], *, k: int
) -> str | None:
    """The guess's likeliest category when ``candidates`` hold fewer than ``k`` products of it (its nearest products
    of that category are then searched as well), else None."""
    if not guess:
        return None
    likeliest = max(guess, key=guess.get)
    held = sum(1 for pid, _ in candidates if category_of.get(pid) == likeliest)
    return likeliest if held < k else None


def category_ranked(
    candidates: Sequence[Candidate],
    category_of: Mapping[Hashable, str],
    guess: Mapping[str, float],
    *,
    k: int,
    mode: str = "prior",
    weight: float = PRIOR_WEIGHT,
    threshold: float = 0.5,
) -> list[Candidate]:
    """The ``k`` best of ``candidates`` (each at most once) for a photo whose category distribution is ``guess``.
    The scores returned are the cosines: the category changes the order, not what "how alike" means."""
    unique = list(dict(sorted(candidates, key=lambda c: c[1])).items())  # one row per product: its best score
    if mode == "none" or not guess:
        return sorted(unique, key=lambda c: -c[1])[:k]
    if mode == "prior":
        return sorted(
            unique, key=lambda c: -prior_score(c[1], guess.get(category_of.get(c[0], ""), 0.0), weight=weight)
        )[:k]
    if mode == "filter":
        top, p = max(guess.items(), key=lambda item: item[1])
        by_likeness = sorted(unique, key=lambda c: -c[1])
        if p < threshold:
            return by_likeness[:k]
        inside = [c for c in by_likeness if category_of.get(c[0]) == top]
        return (inside + [c for c in by_likeness if category_of.get(c[0]) != top])[:k]  # others only fill up
    if mode == "quota":
        return _by_quota(unique, category_of, guess, k=k)
    raise ValueError(f"mode must be one of {MODES}, got {mode!r}")


def _by_quota(
    candidates: list[Candidate], category_of: Mapping[Hashable, str], guess: Mapping[str, float], *, k: int
) -> list[Candidate]:
    """Slots per category in proportion to its probability (largest remainders), each filled with its category's
    best; slots a category cannot fill go to the best of the rest. Ordered by cosine."""
    shares = {category: p * k for category, p in guess.items()}
    slots = {category: int(share) for category, share in shares.items()}
    for category in sorted(shares, key=lambda c: -(shares[c] - slots[c]))[: k - sum(slots.values())]:
        slots[category] += 1
    ordered = sorted(candidates, key=lambda c: -c[1])
    chosen: list[Candidate] = []
    for candidate in ordered:
        category = category_of.get(candidate[0], "")
        if slots.get(category, 0) > 0:
            slots[category] -= 1
            chosen.append(candidate)
    taken = {pid for pid, _ in chosen}
    chosen += [c for c in ordered if c[0] not in taken][: max(0, k - len(chosen))]
    return sorted(chosen, key=lambda c: -c[1])[:k]
