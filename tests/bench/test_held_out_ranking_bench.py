"""bench/held_out_ranking.py: held-out P@10 of a new product's page by similarity alone and at each prior weight."""

import numpy as np

from bench import held_out_ranking as bench


def catalog_of(guess_of_the_sofa: dict[str, float]):
    """Product 0, a sofa, looks most like ten lamps (1-10) and less like ten sofas (11-20)."""
    categories = ["sofa"] + ["lamp"] * 10 + ["sofa"] * 10
    angles = [0.0] + [0.05 * n for n in range(1, 11)] + [0.9 + 0.06 * n for n in range(10)]
    similar = np.array([[np.cos(a), np.sin(a)] for a in angles], dtype=np.float32)
    guesses = [guess_of_the_sofa] + [{}] * 20
    return similar, categories, guesses


def test_a_guess_that_agrees_with_the_catalog_turns_the_page_to_the_products_kind_the_more_the_heavier_it_weighs():
    figures = bench.held_out_precision_by_weight(*catalog_of({"sofa": 0.9, "lamp": 0.1}), [0], [0.2, 1.0])

    assert list(figures) == ["similarity alone", "prior 0.2", "prior 1 (served)"]
    assert figures["similarity alone"] == 0.0
    assert 0.0 < figures["prior 0.2"] < figures["prior 1 (served)"] == 1.0


def test_a_guess_that_names_another_kind_than_the_catalog_is_not_used():
    """The catalog says product 0 is a lamp, the head reads a sofa: ranked with that guess, sofas would come first."""
    similar, categories, _ = catalog_of({})
    categories = ["lamp", *categories[1:]]
    guesses = [{"sofa": 0.9, "lamp": 0.1}] + [{}] * 20

    figures = bench.held_out_precision_by_weight(similar, categories, guesses, [0], [1.0])

    assert figures["prior 1 (served)"] == figures["similarity alone"] == 1.0
