"""bench/seeds.py: the headline row's mean ± sd over training seeds."""

from types import SimpleNamespace

import pytest

from bench import seeds as bench


def version(name: str, seed: int, seconds: float, **metrics: float) -> SimpleNamespace:
    return SimpleNamespace(name=name, data={"seed": seed}, train_seconds=seconds, metrics=metrics)


def test_the_mean_and_the_sample_standard_deviation():
    assert bench.mean_and_sd([0.70, 0.80, 0.90]) == (pytest.approx(0.80), pytest.approx(0.10))
    assert bench.mean_and_sd([0.5]) == (0.5, 0.0)


def test_the_table_has_a_row_per_seed_and_the_mean_and_sd_of_each_figure():
    versions = [
        version("enc-a", 0, 600, **{"web P@10": 0.70, "room hit@10": 0.50}),
        version("enc-b", 1, 700, **{"web P@10": 0.80, "room hit@10": 0.52}),
        version("enc-c", 2, 800, **{"web P@10": 0.90}),
    ]

    lines = bench.seeds_table(versions, ["web P@10", "room hit@10"]).splitlines()

    assert lines[2] == "| enc-a | 0 | 0.700 | 0.500 | 600 |"
    assert lines[4] == "| enc-c | 2 | 0.900 | – | 800 |"
    # a figure one version lacks is averaged over the others
    assert lines[-1] == "| **mean ± sd over 3** | | 0.800 ± 0.100 | 0.510 ± 0.014 | 700 ± 100 |"
