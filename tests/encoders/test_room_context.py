"""'Everything in this room': the pieces' lookalikes merged, each raised by the likely lookalikes it was used
together with (encoders.room_context), as the worker stores it and the evaluation measures it."""

import numpy as np
import pytest

from encoders import metrics
from encoders.room_context import everything_in_room


def order(ranked):
    return [product for product, _ in ranked]


def test_a_lookalike_used_together_with_the_other_pieces_likely_matches_comes_first():
    sofa_piece = [(1, 0.8)]
    rug_piece = [(11, 0.62), (10, 0.6)]  # 11 looks a little more like the rug; 10 was used in a room with the sofa 1

    ranked = everything_in_room([sofa_piece, rug_piece], {(1, 10)}, k=3)

    # the rug 10 keeps likely company (the sofa); the sofa's company (10) is unlikely, and 11 keeps none
    assert order(ranked) == [10, 1, 11]
    assert dict(ranked) == {1: 0.8, 10: 0.6, 11: 0.62}  # each keeps its match to its piece
    assert order(everything_in_room([sofa_piece, rug_piece], set(), k=3)) == [1, 11, 10]
    assert order(everything_in_room([sofa_piece, rug_piece], {(1, 10)}, k=3, weight=0.0)) == [1, 11, 10]


def test_without_pairs_the_lookalikes_are_merged_by_their_best_cosine():
    answers = [[(1, 0.5), (20, 0.3)], [(20, 0.7), (11, 0.4)]]

    assert everything_in_room(answers, (), k=10) == [(20, 0.7), (1, 0.5), (11, 0.4)]


def test_the_company_of_a_likely_lookalike_counts_more_than_that_of_an_unlikely_one():
    # 10 and 11 look alike to their piece; 10 was used with the sofa 1 (0.9), 11 with the lamp 21 (0.5)
    answers = [[(1, 0.9)], [(21, 0.5)], [(11, 0.6), (10, 0.6)]]

    ranked = order(everything_in_room(answers, {(1, 10), (11, 21)}, k=4))

    assert ranked.index(10) < ranked.index(11)


def test_a_lookalike_does_not_vouch_for_itself_and_a_pair_counts_once_whichever_way_round():
    answers = [[(11, 0.62), (10, 0.6)], [(1, 0.5)]]

    alone = everything_in_room(answers, {(10, 10), (11, 11)}, k=3)
    both_ways = everything_in_room(answers, {(1, 10), (10, 1)}, k=3)
    one_way = everything_in_room(answers, {(10, 1)}, k=3)

    assert order(alone) == [11, 10, 1]
    assert both_ways == one_way and order(one_way) == [1, 10, 11]


def test_pairs_with_products_no_piece_answered_change_nothing():
    answers = [[(1, 0.8)], [(11, 0.7), (10, 0.6)]]

    assert everything_in_room(answers, {(10, 99), (98, 99)}, k=3) == everything_in_room(answers, (), k=3)


def test_k_cuts_the_list():
    answers = [[(1, 0.8)], [(11, 0.7), (10, 0.6)]]

    assert order(everything_in_room(answers, {(1, 10)}, k=2)) == [10, 1]
    assert order(everything_in_room(answers, (), k=2)) == [1, 11]
    assert everything_in_room(answers, {(1, 10)}, k=0) == []
    assert everything_in_room([], {(1, 10)}, k=3) == []


@pytest.mark.parametrize("temperature", [0.02, 0.05, 0.2])
def test_lookalikes_in_the_same_company_keep_the_order_of_their_cosines(temperature):
    answers = [[(1, 0.9), (2, 0.5)], [(3, 0.7), (4, 0.6)]]  # 1, 2 and 3 were each used with 4, and with nothing else

    ranked = order(everything_in_room(answers, {(1, 4), (2, 4), (3, 4)}, k=4, temperature=temperature))

    assert [product for product in ranked if product != 4] == [1, 3, 2]


def test_the_evaluation_merges_the_pieces_as_the_worker_does():
    scores = np.zeros((2, 21))
    scores[0, [1, 2]] = [0.8, 0.1]
    scores[1, [10, 11]] = [0.6, 0.62]
    answers = np.array([[1, 2], [11, 10]])

    merged = metrics.merged_piece_scores(scores, answers, together={(1, 10)})
    plain = metrics.merged_piece_scores(scores, answers)

    assert merged[10] > merged[11] and plain[11] > plain[10]
    assert np.isfinite(merged).sum() == 2 == np.isfinite(plain).sum()  # the first k (2) only
    worker = everything_in_room([[(1, 0.8), (2, 0.1)], [(11, 0.62), (10, 0.6)]], {(1, 10)}, k=2)
    assert order(worker) == list(np.argsort(-merged)[:2])
