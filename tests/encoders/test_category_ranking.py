"""Ranking with the photo's category guess (encoders.category_ranking): pure functions over candidates."""

import numpy as np
import pytest

from encoders import metrics
from encoders.category_ranking import category_ranked

# products 0-3 are lamps that look most alike, 4-7 sofas a little less alike
CANDIDATES = [(0, 0.90), (1, 0.89), (2, 0.88), (3, 0.87), (4, 0.80), (5, 0.79), (6, 0.78), (7, 0.77)]
CATEGORY_OF = {0: "lamp", 1: "lamp", 2: "lamp", 3: "lamp", 4: "sofa", 5: "sofa", 6: "sofa", 7: "sofa"}


def categories(ranked) -> list[str]:
    return [CATEGORY_OF[pid] for pid, _ in ranked]


def test_a_confident_guess_answers_with_its_category_first():
    ranked = category_ranked(CANDIDATES, CATEGORY_OF, {"sofa": 0.97, "lamp": 0.03}, k=4, weight=0.1)

    assert categories(ranked) == ["sofa"] * 4
    assert ranked == [(4, 0.80), (5, 0.79), (6, 0.78), (7, 0.77)]  # the scores stay the cosines, best first


def test_an_unsure_guess_answers_with_a_mix_ordered_by_likeness():
    ranked = category_ranked(CANDIDATES, CATEGORY_OF, {"sofa": 0.55, "lamp": 0.45}, k=6, weight=0.1)

    assert categories(ranked) == ["lamp"] * 4 + ["sofa"] * 2


def test_without_a_guess_the_answer_is_by_likeness_alone_and_each_product_once():
    doubled = CANDIDATES + [(4, 0.80), (0, 0.90)]  # the same product found by two searches

    assert category_ranked(doubled, CATEGORY_OF, {}, k=5) == CANDIDATES[:5]


def test_the_filter_keeps_only_the_top_category_when_the_head_is_sure_enough():
    sure = category_ranked(CANDIDATES, CATEGORY_OF, {"sofa": 0.7, "lamp": 0.3}, k=3, mode="filter", threshold=0.5)
    unsure = category_ranked(CANDIDATES, CATEGORY_OF, {"sofa": 0.4, "lamp": 0.6}, k=3, mode="filter", threshold=0.9)

    assert categories(sure) == ["sofa"] * 3 and categories(unsure) == ["lamp"] * 3


def test_quotas_share_the_slots_in_proportion_to_the_guess():
    ranked = category_ranked(CANDIDATES, CATEGORY_OF, {"sofa": 0.75, "lamp": 0.25}, k=4, mode="quota")

    assert sorted(categories(ranked)) == ["lamp", "sofa", "sofa", "sofa"]


def test_an_unknown_mode_is_a_clear_error():
    with pytest.raises(ValueError, match="mode must be one of"):
        category_ranked(CANDIDATES, CATEGORY_OF, {"sofa": 1.0}, k=3, mode="vote")


def test_the_evaluation_ranks_a_photo_as_the_product_does():
    """A table photo that looks most like chairs: similarity alone answers chairs; the head's confident "table"
    answers tables, from the pool of nearest products; a pool too small to hold them still answers tables, whose
    nearest are searched as well (``short_category``)."""
    catalog = ["chair"] * 12 + ["table"] * 3
    scores = np.array([[0.8 - 0.005 * i for i in range(12)] + [0.75, 0.74, 0.73]])
    table = [{"table": 0.95, "chair": 0.05}]
    alone = metrics.category_ranked_top_k(scores, catalog, [{}], k=3)
    guided = metrics.category_ranked_top_k(scores, catalog, table, k=3, weight=0.1)

    too_small = metrics.category_ranked_top_k(scores, catalog, table, k=3, pool=10)

    assert alone.tolist() == [[0, 1, 2]] and guided.tolist() == [[12, 13, 14]]
    assert too_small.tolist() == [[12, 13, 14]]


def test_the_class_mean_counts_every_class_alike():
    scores = np.array([1.0, 1.0, 1.0, 0.0])  # three chair photos right, one table photo wrong
    classes = ["chair", "chair", "chair", "table"]

    assert metrics.class_mean_scores(scores, classes).mean() == pytest.approx(0.5)
    assert metrics.per_class_means(scores, classes) == {"chair": 1.0, "table": 0.0}


def test_a_products_guess_counts_only_where_it_agrees_with_the_catalog():
    from encoders.category_ranking import agreeing_guess

    assert agreeing_guess({"sofa": 0.7, "chair": 0.2}, "sofa") == {"sofa": 0.7, "chair": 0.2}
    assert agreeing_guess({"chair": 0.7, "sofa": 0.2}, "sofa") == {}
    assert agreeing_guess({}, "sofa") == {}
