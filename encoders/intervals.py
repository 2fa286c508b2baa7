"""How sure a figure is: bootstrap 95 % intervals over the queries a figure averages, and the promotion gate's
reading of them. numpy only (no torch, no Django): the web process shows intervals, the pipeline gates on them.

A figure is a mean over queries (web photos, catalog products, (room, product) pairs, room photos). Resampling
the queries with replacement, ``RESAMPLES`` times from a fixed seed, gives the spread the figure would have on
another draw of queries of the same kind; the interval is the 2.5th to the 97.5th percentile of the resampled
means. Two versions measured on the same queries are compared pairwise: the same resampled queries for both,
so that what both find hard cancels out of their difference.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

RESAMPLES = 1000
SEED = 0
LEVEL = 0.95
_CHUNK = 4_000_000  # resampled indices drawn at a time: memory stays bounded whatever the number of queries


def _resampled_means(scores: Sequence[np.ndarray], *, resamples: int, seed: int) -> list[np.ndarray]:
    """The means of ``resamples`` bootstrap draws of the queries, the same draws for every array in ``scores``
    (arrays of one query set, e.g. two versions' scores)."""
    n = len(scores[0])
    rng = np.random.default_rng(seed)
    per_chunk = max(1, _CHUNK // max(n, 1))
    means: list[list[np.ndarray]] = [[] for _ in scores]
    done = 0
    while done < resamples:
        rows = min(per_chunk, resamples - done)
        draws = rng.integers(0, n, size=(rows, n))  # (R, n) query indices
        for out, values in zip(means, scores, strict=True):
            out.append(values[draws].mean(axis=1))
        done += rows
    return [np.concatenate(parts) for parts in means]


def _percentiles(means: np.ndarray, level: float) -> tuple[float, float]:
    tail = (1 - level) / 2 * 100
    low, high = np.percentile(means, [tail, 100 - tail])
    return float(low), float(high)


def bootstrap_interval(
    scores: Sequence[float], *, resamples: int = RESAMPLES, seed: int = SEED, level: float = LEVEL
) -> tuple[float, float]:
    """The ``level`` percentile bootstrap interval of the mean of per-query ``scores``. No queries: (0, 0)."""
    values = np.asarray(scores, dtype=np.float64)
    if values.size == 0:
        return 0.0, 0.0
    (means,) = _resampled_means([values], resamples=resamples, seed=seed)
    return _percentiles(means, level)


def difference_interval(
    candidate: Sequence[float],
    live: Sequence[float],
    *,
    resamples: int = RESAMPLES,
    seed: int = SEED,
    level: float = LEVEL,
) -> tuple[float, float]:
    """The paired bootstrap interval of mean(candidate) - mean(live), both scored on the same queries in the same
    order: each draw resamples the queries once and takes both versions' scores on them."""
    a, b = np.asarray(candidate, dtype=np.float64), np.asarray(live, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"paired scores need the same queries: {a.size} against {b.size}")
    if a.size == 0:
        return 0.0, 0.0
    (means,) = _resampled_means([a - b], resamples=resamples, seed=seed)
    return _percentiles(means, level)


def figure_intervals(query_scores: Mapping[str, Sequence[float]], **options) -> dict[str, list[float]]:
    """Every figure's interval, ``{figure: [low, high]}``, from its per-query scores."""
    return {name: [round(v, 4) for v in bootstrap_interval(scores, **options)] for name, scores in query_scores.items()}


def figure_is_worse(
    *,
    candidate: float,
    live: float,
    live_interval: Sequence[float] | None,
    difference: Sequence[float] | None,
    tolerance: float,
) -> bool:
    """The gate's rule for one figure. The candidate's figure is worse than the live one's only when all hold:

    1. it is lower by more than ``tolerance`` (PROMOTION_TOLERANCE: a difference too small to matter never counts);
    2. it lies below the live figure's 95 % interval (``live_interval``; not applied when unknown);
    3. the paired 95 % interval of (candidate - live) lies wholly below zero (``difference``; not applied when
       the two were not scored on the same queries).

    So a candidate within the noise of the dev queries is promoted; one whose loss survives every resampling is
    not. Without intervals (versions measured before they were kept) the rule is rule 1 alone."""
    if live - candidate <= tolerance:
        return False
    if live_interval is not None and candidate >= live_interval[0]:
        return False
    return difference is None or difference[1] < 0


def _difference(candidate: Sequence[float] | None, live: Sequence[float] | None) -> list[float] | None:
    if candidate is None or live is None or len(candidate) != len(live) or not len(live):
        return None
    return [round(v, 4) for v in difference_interval(candidate, live)]


def gate_compare(
    *,
    candidate: Mapping[str, float],
    live: Mapping[str, float],
    tolerance: float,
    candidate_intervals: Mapping[str, Sequence[float]] | None = None,
    live_intervals: Mapping[str, Sequence[float]] | None = None,
    candidate_scores: Mapping[str, Sequence[float]] | None = None,
    live_scores: Mapping[str, Sequence[float]] | None = None,
) -> tuple[bool, str, dict]:
    """The promotion gate over every figure the live version has (``figure_is_worse`` for each): the verdict, a
    sentence staff read, and the comparison kept on the run ({figure: candidate, live, their intervals, the
    paired interval of the difference, worse}). Per-query scores, when both versions have them on the same
    queries, give the paired interval."""
    candidate_intervals, live_intervals = candidate_intervals or {}, live_intervals or {}
    candidate_scores, live_scores = candidate_scores or {}, live_scores or {}
    if not live:
        return True, "no live figures to compare with", {}
    missing = sorted(set(live) - set(candidate))
    if missing:
        return False, f"the candidate has no figure for {', '.join(missing)}", {}
    comparison, worse = {}, []
    for name, value in live.items():
        difference = _difference(candidate_scores.get(name), live_scores.get(name))
        is_worse = figure_is_worse(
            candidate=candidate[name],
            live=value,
            live_interval=live_intervals.get(name),
            difference=difference,
            tolerance=tolerance,
        )
        comparison[name] = {
            "candidate": candidate[name],
            "candidate_interval": candidate_intervals.get(name),
            "live": value,
            "live_interval": live_intervals.get(name),
            "difference": difference,
            "worse": is_worse,
        }
        if is_worse:
            spread = f"; the difference's interval {difference[0]:+.3f} to {difference[1]:+.3f}" if difference else ""
            span = live_intervals.get(name)
            below = f" (below the live interval {span[0]:.3f}–{span[1]:.3f}{spread})" if span else ""
            worse.append(f"{name} {candidate[name]:.3f} < {value:.3f}{below}")
    if worse:
        return False, "worse than the live version beyond the noise: " + "; ".join(worse), comparison
    gain = sum(candidate[name] - value for name, value in live.items())
    return True, f"no figure worse beyond the noise (sum of differences {gain:+.3f})", comparison
