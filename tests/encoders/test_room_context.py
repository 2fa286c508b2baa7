"""'Everything in this room': the pieces' lookalikes merged, each raised by how well it goes with the other pieces'
best matches (encoders.room_context), as the worker stores it and the evaluation measures it."""

import numpy as np
import pytest

from encoders import metrics
from encoders.room_context import everything_in_room

# "goes with" vectors: the sofa 1 goes with the rug 10 and the lamp 20; the rug 11 and the lamp 21 with nothing here
GOES_WITH = {
    1: np.array([1.0, 0.0, 0.0]),
    10: np.array([0.9, 0.1, 0.0]),
    11: np.array([0.0, 0.0, 1.0]),
    20: np.array([0.8, 0.0, 0.6]),
    21: np.array([0.0, 1.0, 0.0]),
}


def order(ranked):
    return [product for product, _ in ranked]


def test_a_lookalike_that_goes_with_the_other_pieces_best_matches_comes_first():
    sofa_piece = [(1, 0.8)]
    rug_piece = [(11, 0.62), (10, 0.6)]  # 11 looks a little more like the rug, 10 goes with the sofa

    ranked = everything_in_room([sofa_piece, rug_piece], [0.9, 0.9], GOES_WITH, k=3, weight=0.8)

    # 10 goes with the sofa piece's match (0.99) and not with 11's: 0.6 + 0.8 x 0.5 passes 1 (0.8, with nothing but
    # 11 to go with) and 11 (0.62, with the sofa 0)
    assert order(ranked) == [10, 1, 11]
    assert dict(ranked) == {1: 0.8, 10: 0.6, 11: 0.62}  # each keeps its match to its piece


def test_without_goes_with_vectors_the_lookalikes_are_merged_by_their_best_cosine():
    answers = [[(1, 0.5), (20, 0.3)], [(20, 0.7), (11, 0.4)]]

    assert everything_in_room(answers, [0.9, 0.9], {}, k=10) == [(20, 0.7), (1, 0.5), (11, 0.4)]


def test_a_pieces_best_match_does_not_vouch_for_itself():
    # one piece: its first lookalike is the only seed; the others are raised by it, and it by nothing
    answers = [[(11, 0.9), (10, 0.85), (1, 0.8)]]

    assert order(everything_in_room(answers, [0.9], GOES_WITH, k=3, weight=0.4)) == [11, 10, 1]
    assert order(everything_in_room(answers, [0.9], GOES_WITH, k=3, weight=0.0)) == [11, 10, 1]


def test_the_context_is_the_mean_over_the_seeds_each_weighing_its_pieces_confidence():
    # seeds: the sofa 1 (sure) and the lamp 21 (unsure); the rug 10 goes with the sofa, the rug 11 with neither
    answers = [[(1, 0.9)], [(21, 0.9)], [(11, 0.5), (10, 0.4)]]

    sure_sofa = everything_in_room(answers, [0.9, 0.1, 0.5], GOES_WITH, k=4, weight=0.4)
    sure_lamp = everything_in_room(answers, [0.1, 0.9, 0.5], GOES_WITH, k=4, weight=0.4)

    assert order(sure_sofa).index(10) < order(sure_sofa).index(11)  # 0.4 + 0.4 x 0.60 against 0.5 + 0
    assert order(sure_lamp).index(11) < order(sure_lamp).index(10)  # the rug 10 goes only with an unsure piece's match


def test_k_cuts_the_list():
    answers = [[(1, 0.8)], [(11, 0.7), (10, 0.6)]]

    assert order(everything_in_room(answers, [1, 1], GOES_WITH, k=2, weight=0.8)) == [10, 1]
    assert order(everything_in_room(answers, [1, 1], GOES_WITH, k=2, weight=0.0)) == [1, 11]
    assert everything_in_room(answers, [1, 1], GOES_WITH, k=0) == []


def test_the_evaluation_merges_the_pieces_as_the_worker_does():
    scores = np.zeros((2, 21))
    scores[0, 1] = 0.8
    scores[1, [10, 11]] = [0.6, 0.62]
    answers = np.array([[1, 2], [11, 10]])
    goes_with = np.zeros((21, 3))
    for product, vector in GOES_WITH.items():
        if product < 21:
            goes_with[product] = vector
    goes_with[2] = [0.0, 1.0, 0.0]

    merged = metrics.merged_piece_scores(scores, answers, confidences=[0.9, 0.8], goes_with=goes_with, weight=0.4)
    plain = metrics.merged_piece_scores(scores, answers)

    assert merged[10] > merged[11] and plain[11] > plain[10]
    assert np.isfinite(merged).sum() == 2 == np.isfinite(plain).sum()  # the first k (2) only
    worker = everything_in_room(
        [[(1, 0.8), (2, 0.0)], [(11, 0.62), (10, 0.6)]],
        [0.9, 0.8],
        {p: goes_with[p] for p in (1, 2, 10, 11)},
        k=2,
        weight=0.4,
    )
    assert order(worker) == list(np.argsort(-merged)[:2])


@pytest.mark.parametrize("confidences", [[0.0, 0.0], [0.5, 0.5]])
def test_pieces_no_one_is_sure_of_raise_nothing_and_break_nothing(confidences):
    answers = [[(1, 0.8)], [(11, 0.7), (10, 0.6)]]

    ranked = everything_in_room(answers, confidences, GOES_WITH, k=3, weight=0.4)

    assert sorted(order(ranked)) == [1, 10, 11]
