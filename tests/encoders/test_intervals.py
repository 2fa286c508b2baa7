"""Bootstrap intervals of the figures, and the promotion gate's rule that reads them."""

import numpy as np
import pytest

from encoders.intervals import bootstrap_interval, difference_interval, figure_is_worse, gate_compare

LIVE_WEB = np.array([1.0] * 70 + [0.0] * 30)  # 100 web photos: 0.70


def lose(scores: np.ndarray, count: int) -> np.ndarray:
    """The same queries with ``count`` of the hits turned into misses."""
    worse = scores.copy()
    worse[np.flatnonzero(worse == 1.0)[:count]] = 0.0
    return worse


def test_queries_that_all_score_the_same_give_an_interval_of_zero_width():
    assert bootstrap_interval([1.0] * 50) == (1.0, 1.0)
    assert bootstrap_interval([]) == (0.0, 0.0)


def test_the_interval_is_the_spread_of_a_mean_of_coin_flips():
    low, high = bootstrap_interval([0.0, 1.0] * 200)  # 400 queries, half hits

    assert low < 0.5 < high
    # a proportion of 0.5 over 400 queries: 1.96 standard errors of sqrt(0.25 / 400) = 0.049 either side
    assert high - low == pytest.approx(2 * 1.96 * 0.025, abs=0.012)


def test_the_interval_is_the_same_for_the_same_seed():
    scores = np.random.default_rng(7).random(60)

    assert bootstrap_interval(scores, seed=3) == bootstrap_interval(scores, seed=3)
    assert bootstrap_interval(scores, seed=3) != bootstrap_interval(scores, seed=4)


def test_the_paired_difference_of_a_version_with_itself_is_exactly_zero():
    assert difference_interval(LIVE_WEB, LIVE_WEB) == (0.0, 0.0)
    low, high = difference_interval(lose(LIVE_WEB, 20), LIVE_WEB)  # 20 hits of 100 lost: -0.20
    assert low < -0.2 < high < 0


def test_a_figure_worse_beyond_its_interval_is_worse():
    assert figure_is_worse(
        candidate=0.40, live=0.70, live_interval=[0.61, 0.79], difference=[-0.39, -0.22], tolerance=0
    )


def test_a_figure_worse_within_its_interval_is_not():
    # below the live figure, but inside its interval
    assert not figure_is_worse(candidate=0.67, live=0.70, live_interval=[0.61, 0.79], difference=None, tolerance=0)
    # below the live interval, yet the paired difference could be zero
    assert not figure_is_worse(
        candidate=0.60, live=0.70, live_interval=[0.61, 0.79], difference=[-0.15, 0.0], tolerance=0
    )
    # beyond everything, but by less than the tolerance
    assert not figure_is_worse(
        candidate=0.68, live=0.70, live_interval=[0.69, 0.71], difference=[-0.03, -0.01], tolerance=0.02
    )


def test_without_intervals_the_rule_is_the_tolerance_alone():
    assert figure_is_worse(candidate=0.67, live=0.70, live_interval=None, difference=None, tolerance=0.02)
    assert not figure_is_worse(candidate=0.69, live=0.70, live_interval=None, difference=None, tolerance=0.02)


def figures(web: np.ndarray) -> dict:
    scores = {"web P@10": web, "scene hit@10": np.array([1.0, 0.0] * 11)}
    values = {name: float(v.mean()) for name, v in scores.items()}
    intervals = {name: list(bootstrap_interval(v)) for name, v in scores.items()}
    return {"values": values, "intervals": intervals, "scores": scores}


def compare(candidate: dict, live: dict) -> tuple[bool, str, dict]:
    return gate_compare(
        candidate=candidate["values"],
        live=live["values"],
        tolerance=0.0,
        candidate_intervals=candidate["intervals"],
        live_intervals=live["intervals"],
        candidate_scores=candidate["scores"],
        live_scores=live["scores"],
    )


def test_the_gate_refuses_a_candidate_that_lost_beyond_the_noise():
    promote, reason, comparison = compare(figures(lose(LIVE_WEB, 30)), figures(LIVE_WEB))

    assert not promote
    assert reason.startswith("worse than the live version beyond the noise: web P@10 0.400 < 0.700")
    assert comparison["web P@10"]["worse"] and not comparison["scene hit@10"]["worse"]
    assert comparison["web P@10"]["difference"][1] < 0
    assert comparison["web P@10"]["live_interval"][0] > 0.4


def test_the_gate_accepts_a_candidate_that_lost_within_the_noise():
    promote, reason, comparison = compare(figures(lose(LIVE_WEB, 3)), figures(LIVE_WEB))

    assert promote, reason
    assert comparison["web P@10"]["candidate"] == pytest.approx(0.67) and not comparison["web P@10"]["worse"]
    assert "no figure worse beyond the noise" in reason


def test_the_gate_refuses_a_candidate_missing_a_live_figure():
    promote, reason, _ = gate_compare(candidate={"web P@10": 0.9}, live={"web P@10": 0.7, "loo P@10": 0.9}, tolerance=0)

    assert not promote and "no figure for loo P@10" in reason
    assert gate_compare(candidate={"web P@10": 0.1}, live={}, tolerance=0.0)[0]
