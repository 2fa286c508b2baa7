"""Furnishing a room within a budget (``recommender.budget``, pure): the dynamic programme against brute force,
the cheapest total when nothing fits, unpriced candidates left out, a pinned choice kept, swaps that fit."""

import itertools
import random
from decimal import Decimal

import pytest

from recommender.budget import Candidate, furnish, swaps


def brute_force(pieces, budget, pinned=None):
    """Every set of one priced candidate per piece, no product twice: the best score within the budget (None when
    none fits) and the cheapest total (None when no set can be made)."""
    pinned = pinned or {}
    priced = [
        [c for c in candidates if c.price is not None and (i not in pinned or c.product_id == pinned[i])]
        for i, candidates in enumerate(pieces)
    ]
    best, cheapest = None, None
    for chosen in itertools.product(*priced):
        if len({c.product_id for c in chosen}) < len(chosen):
            continue
        total = sum((c.price for c in chosen), Decimal(0))
        cheapest = total if cheapest is None else min(cheapest, total)
        if total <= budget:
            score = sum(c.score for c in chosen)
            best = score if best is None else max(best, score)
    return best, cheapest


def random_room(rng: random.Random, *, shared: bool) -> list[list[Candidate]]:
    """2 to 5 pieces of 1 to 6 candidates, prices in cents; with ``shared`` the pieces draw from one small pool
    of products (pieces of one kind), some without a price."""
    pool = {pid: (rng.random(), Decimal(rng.randint(1, 40_000)) / 100) for pid in range(12)}
    pieces = []
    for _ in range(rng.randint(2, 5)):
        ids = rng.sample(range(12), rng.randint(1, 6)) if shared else [rng.randrange(10**6) for _ in range(6)]
        candidates = []
        for pid in ids[: rng.randint(1, 6)]:
            score, price = pool[pid] if shared else (rng.random(), Decimal(rng.randint(1, 40_000)) / 100)
            candidates.append(Candidate(pid, score, None if rng.random() < 0.1 else price))
        pieces.append(candidates)
    return pieces


@pytest.mark.parametrize("shared", [False, True], ids=["pieces-of-different-kinds", "pieces-sharing-products"])
def test_the_dp_finds_the_brute_force_optimum_on_random_rooms(shared):
    rng = random.Random(12 + shared)
    for _ in range(300):
        pieces = random_room(rng, shared=shared)
        budget = Decimal(rng.randint(0, 150_000)) / 100

        answer = furnish(pieces, budget)

        best, cheapest = brute_force(pieces, budget)
        assert answer.cheapest_total == cheapest
        if best is None:
            assert not answer.fits and answer.chosen == ()
            continue
        assert answer.fits and answer.score == pytest.approx(best)
        assert answer.total == sum(c.price for c in answer.chosen) <= budget
        assert answer.score == pytest.approx(sum(c.score for c in answer.chosen))
        assert len({c.product_id for c in answer.chosen}) == len(pieces)
        assert all(c in piece for c, piece in zip(answer.chosen, pieces, strict=True))


def test_a_hand_checked_room():
    sofa = [Candidate(1, 0.9, Decimal("900")), Candidate(2, 0.8, Decimal("500")), Candidate(3, 0.5, Decimal("200"))]
    lamp = [Candidate(4, 0.9, Decimal("300")), Candidate(5, 0.6, Decimal("50"))]

    # 1 + 4 costs 1200; within 1000 the best is 2 + 4 (1.7, 800) rather than 1 + 5 (1.5, 950)
    answer = furnish([sofa, lamp], Decimal("1000"))

    assert [c.product_id for c in answer.chosen] == [2, 4]
    assert (answer.total, answer.score, answer.cheapest_total) == (Decimal("800"), pytest.approx(1.7), Decimal("250"))


def test_nothing_fits_and_the_cheapest_total_is_given():
    sofa = [Candidate(1, 0.9, Decimal("120.50")), Candidate(2, 0.4, Decimal("99.99"))]
    pieces = [sofa, [Candidate(3, 0.7, Decimal("40"))]]

    answer = furnish(pieces, Decimal("139.98"))

    assert not answer.fits and answer.chosen == () and answer.total is None
    assert answer.cheapest_total == Decimal("139.99")
    assert furnish(pieces, Decimal("139.99")).total == Decimal("139.99")  # the budget itself is within it


def test_candidates_without_a_price_are_left_out_and_counted():
    pieces = [[Candidate(1, 0.99, None), Candidate(2, 0.5, Decimal("10"))], [Candidate(3, 0.9, None)]]

    answer = furnish(pieces, Decimal("1000"))

    assert answer.left_out_without_price == 2
    assert not answer.fits and answer.cheapest_total is None  # the second piece has nothing with a price
    assert answer.candidates == ((Candidate(2, 0.5, Decimal("10")),), ())
    only_first = furnish(pieces[:1], Decimal("1000"))
    assert [c.product_id for c in only_first.chosen] == [2] and only_first.left_out_without_price == 1


def test_the_same_product_is_never_chosen_for_two_pieces():
    armchair = [Candidate(7, 0.9, Decimal("100")), Candidate(8, 0.6, Decimal("100")), Candidate(9, 0.5, Decimal("10"))]

    answer = furnish([armchair, armchair], Decimal("1000"))

    assert sorted(c.product_id for c in answer.chosen) == [7, 8]
    assert not furnish([armchair[:1], armchair[:1]], Decimal("1000")).fits
    assert furnish([armchair[:1], armchair[:1]], Decimal("1000")).cheapest_total is None


def test_a_pinned_pick_is_kept_and_the_rest_furnished_around_it():
    sofa = [Candidate(1, 0.9, Decimal("900")), Candidate(2, 0.8, Decimal("500")), Candidate(3, 0.5, Decimal("200"))]
    lamp = [Candidate(4, 0.9, Decimal("300")), Candidate(5, 0.6, Decimal("50"))]

    answer = furnish([sofa, lamp], Decimal("1000"), pinned={0: 1})

    assert [c.product_id for c in answer.chosen] == [1, 5] and answer.pinned == {0}
    assert answer.score == pytest.approx(brute_force([sofa, lamp], Decimal("1000"), pinned={0: 1})[0])
    ignored = furnish([sofa, lamp], Decimal("1000"), pinned={0: 4, 5: 1})  # not the piece's, no such piece
    assert [c.product_id for c in ignored.chosen] == [2, 4] and ignored.pinned == set()


def test_a_pin_that_cannot_fit_gives_the_cheapest_total_with_it():
    sofa = [Candidate(1, 0.9, Decimal("900")), Candidate(3, 0.5, Decimal("200"))]
    lamp = [Candidate(5, 0.6, Decimal("50"))]

    answer = furnish([sofa, lamp], Decimal("500"), pinned={0: 1})

    assert not answer.fits and answer.cheapest_total == Decimal("950")


def test_swaps_fit_the_budget_with_the_rest_unchanged_best_first():
    rng = random.Random(7)
    for _ in range(200):
        pieces = random_room(rng, shared=True)
        answer = furnish(pieces, Decimal(rng.randint(0, 150_000)) / 100)
        if not answer.fits:
            assert all(swaps(answer, index) == [] for index in range(len(pieces)))
            continue
        for index, current in enumerate(answer.chosen):
            others = [c for k, c in enumerate(answer.chosen) if k != index]
            offered = swaps(answer, index)
            assert [c.score for c in offered] == sorted((c.score for c in offered), reverse=True)
            for swap in offered:
                assert sum((c.price for c in others), swap.price) <= answer.budget
                assert swap.product_id not in {c.product_id for c in [current, *others]}
            taken = {o.product_id for o in others}
            left = [c for c in answer.candidates[index] if c not in offered and c != current]
            assert all(c.product_id in taken or sum((o.price for o in others), c.price) > answer.budget for c in left)


def test_a_swap_pinned_is_furnished_as_offered():
    sofa = [Candidate(1, 0.9, Decimal("900")), Candidate(2, 0.8, Decimal("500")), Candidate(3, 0.5, Decimal("200"))]
    lamp = [Candidate(4, 0.9, Decimal("300")), Candidate(5, 0.6, Decimal("50"))]
    answer = furnish([sofa, lamp], Decimal("1000"))

    offered = swaps(answer, 0)

    assert [c.product_id for c in offered] == [3]  # 1 would take the set to 1200
    swapped = furnish([sofa, lamp], Decimal("1000"), pinned={0: 3})
    assert [c.product_id for c in swapped.chosen] == [3, 4] and swapped.total == Decimal("500")
