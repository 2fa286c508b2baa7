"""Metric figures checked against values worked out by hand on a four-product catalog.

p0 = (1, 0) chair     p1 = (0.9, 0.1) chair     p2 = (0, 1) bed     p3 = (0.1, 0.9) chair
"""

import numpy as np
import pytest

from encoders import metrics

CATALOG = np.array([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0], [0.1, 0.9]], dtype=np.float32)
CATEGORIES = ["chair", "chair", "bed", "chair"]


def test_loo_precision_excludes_the_query_itself():
    # k=1: p0->p1 ok, p1->p0 ok, p2->p3 (chair, not bed) miss, p3->p2 (bed, not chair) miss
    assert metrics.loo_precision(CATALOG, CATEGORIES, k=1) == pytest.approx(0.5)


def test_web_precision_uses_the_accept_map():
    queries = np.array([[1.0, 0.0], [0.0, 1.0]])
    accept = {"chair": ["chair", "armchair"], "bed": ["bed"]}

    # chair photo: top-2 p0, p1 -> 2/2; bed photo: top-2 p2 (bed), p3 (chair) -> 1/2
    p = metrics.web_precision(queries, ["chair", "bed"], accept, CATALOG, CATEGORIES, k=2)

    assert p == pytest.approx(0.75)


def test_room_hit_and_recall_average_over_every_product_query():
    rooms = [[0, 2], [1, 3, 0], [2]]  # the one-product room has nothing to find and is skipped

    # k=1. room A: 0->p1 miss, 2->p3 miss. room B: 1->p0 hit, 3->p2 miss, 0->p1 hit
    # recall is capped at k: finding 1 of 2 relevant with k=1 is a full recall of 1
    hit, recall = metrics.room_hit_recall(CATALOG, rooms, k=1)

    assert hit == pytest.approx(2 / 5)
    assert recall == pytest.approx(2 / 5)


def test_room_recall_divides_by_the_relevant_count_when_below_k():
    rooms = [[0, 1, 3]]

    # k=2. 0->{p1, p3}: 2 of 2; 1->{p0, p3}: 2 of 2; 3->{p2, p1}: 1 of 2
    hit, recall = metrics.room_hit_recall(CATALOG, rooms, k=2)

    assert hit == pytest.approx(1.0)
    assert recall == pytest.approx((1 + 1 + 0.5) / 3)


def test_scene_hit_and_recall_merge_crops_by_best_score():
    queries = [np.array([[1.0, 0.0], [0.0, 1.0]]), np.array([[0.0, 1.0]]), np.array([[1.0, 0.0]])]
    rooms = [[0, 2], [1], []]  # the room with no catalog product is skipped

    # photo 1: crops find p0 and p2 exactly -> top-2 = {p0, p2}: hit, recall 1
    # photo 2: top-2 = {p2, p3}, room has p1: miss
    scores = metrics.multi_query_scores(queries, CATALOG)
    hit, recall = metrics.scene_hit_recall(scores, rooms, k=2)

    assert hit == pytest.approx(0.5)
    assert recall == pytest.approx(0.5)


def test_room_products_drops_unknown_skus_and_duplicates():
    index = {"a": 0, "b": 1, "c": 2}

    assert metrics.room_products([["a", "x", "c", "a"], ["y"]], index) == [[0, 2], []]


def test_top_k_breaks_ties_by_catalog_order():
    scores = np.array([[0.5, 0.9, 0.9, 0.1]])

    assert metrics.top_k(scores, k=3).tolist() == [[1, 2, 0]]


def test_a_products_lookalikes_are_ranked_with_its_category_guess_when_it_has_one():
    """Product 0 (a sofa) is nearer to the two lamps than to the other sofas; its picture's guess ("sofa", 0.9)
    brings the sofas forward, as the product page ranks them, and it never answers itself."""
    vectors = np.array([[1.0, 0.0], [0.99, 0.14], [0.98, 0.2], [0.9, 0.44], [0.88, 0.47], [0.0, 1.0]], dtype=np.float32)
    categories = ["sofa", "lamp", "lamp", "sofa", "sofa", "rug"]
    guess = {"sofa": 0.9, "lamp": 0.05}

    alone = metrics.held_out_precision_scores(vectors, categories, [0], k=2)
    ranked = metrics.held_out_precision_scores(vectors, categories, [0], k=2, guesses=[guess])
    loo = metrics.loo_precision_scores(vectors, categories, k=2, guesses=[guess] + [{}] * 5)

    assert alone.tolist() == [0.0]
    assert ranked.tolist() == [1.0]
    assert loo[0] == 1.0 and loo[1] == metrics.loo_precision_scores(vectors, categories, k=2)[1]


def test_kept_guess_keeps_the_likeliest_few_above_the_floor():
    from encoders.category_ranking import PRODUCT_GUESS_KEPT, kept_guess

    probabilities = {f"c{i}": p for i, p in enumerate([0.5, 0.2, 0.1, 0.1, 0.05, 0.03, 0.02, 0.00001])}

    kept = kept_guess(probabilities)

    assert list(kept) == [f"c{i}" for i in range(PRODUCT_GUESS_KEPT)]
    assert kept_guess({"a": 0.99999, "b": 0.00001}) == {"a": 1.0}
