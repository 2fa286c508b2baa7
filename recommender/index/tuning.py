"""Recall measurement against exact search and the choice of n_trees and search_k."""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Sequence
from typing import Any

import numpy as np
from annoy import AnnoyIndex

from .files import METRIC
from .loading import LoadedIndex
from .search import exact_neighbours

# Recall-curve grid for catalogs of 1k-100k products (bench/index_bench.py measures the curves; README,
# "Index"). Trees cost build time and file size (each tree adds roughly one node per item);
# search_k (nodes inspected per query, at k=10) costs query time. The grid spans from settings that miss the
# target at 100k to ones well past it; for 1k products search_k >= 1000 already inspects every item, so the
# smallest settings win.
DEFAULT_N_TREES_OPTIONS = (10, 25, 50, 100)
DEFAULT_SEARCH_K_OPTIONS = (500, 1000, 2500, 5000, 10000, 20000)
DEFAULT_TARGET_RECALL = 0.95
# Query times within this fraction of the fastest qualifying configuration count as a tie:
# timings on a shared machine are noisy, and fewer trees mean a smaller file and faster build.
QUERY_TIME_TIE = 0.10


def recall_at_k(
    index: LoadedIndex | AnnoyIndex, vectors: np.ndarray, query_ids: Sequence[int], k: int, search_k: int
) -> float:
    """Mean recall@k of the index against exact search, querying with rows ``query_ids``.

    ``vectors`` must be the rows the index was built from (Annoy item i = row i). Each query
    row is excluded from both its approximate and its exact neighbours.
    """
    return _measure(index, vectors, query_ids, k, search_k)[0]


def _measure(
    index: LoadedIndex | AnnoyIndex,
    vectors: np.ndarray,
    query_ids: Sequence[int],
    k: int,
    search_k: int,
    truth: np.ndarray | None = None,
) -> tuple[float, np.ndarray]:
    annoy = index.annoy if isinstance(index, LoadedIndex) else index
    query_ids = np.asarray(query_ids, dtype=np.int64)
    if truth is None:
        truth = _exact_excluding_self(vectors, query_ids, k)
    hits = 0
    times = np.empty(query_ids.size)
    for row, (query_id, expected) in enumerate(zip(query_ids, truth, strict=True)):
        started = time.perf_counter()
        found = annoy.get_nns_by_vector(vectors[query_id], k + 1, search_k=search_k)
        times[row] = (time.perf_counter() - started) * 1000.0
        found = [item for item in found if item != query_id][:k]
        hits += len(set(found) & set(expected.tolist()))
    return hits / (k * query_ids.size), times


def _exact_excluding_self(vectors: np.ndarray, query_ids: np.ndarray, k: int) -> np.ndarray:
    indices, _ = exact_neighbours(vectors, np.asarray(vectors)[query_ids], k + 1)
    return np.array([[i for i in row if i != q][:k] for row, q in zip(indices, query_ids, strict=True)])


def recall_curve(
    vectors: np.ndarray,
    *,
    n_trees_options: Sequence[int] = DEFAULT_N_TREES_OPTIONS,
    search_k_options: Sequence[int] = DEFAULT_SEARCH_K_OPTIONS,
    k: int = 10,
    sample: int = 500,
    seed: int = 0,
    n_jobs: int = -1,
) -> list[dict[str, Any]]:
    """Recall@k and query time for each (n_trees, search_k), on in-memory indexes of ``vectors``.

    Each row: n_trees, search_k, recall, mean_ms, p95_ms, build_seconds, file_bytes.
    Queries are ``sample`` random rows, each excluded from its own neighbours.
    """
    vectors = np.asarray(vectors, dtype=np.float32)
    rng = np.random.default_rng(seed)
    query_ids = rng.choice(vectors.shape[0], size=min(sample, vectors.shape[0]), replace=False)
    truth = _exact_excluding_self(vectors, query_ids, k)
    curve = []
    with tempfile.TemporaryDirectory(prefix="recall-curve-") as directory:
        for n_trees in n_trees_options:
            annoy = AnnoyIndex(vectors.shape[1], METRIC)
            annoy.set_seed(seed)
            started = time.perf_counter()
            for item, vector in enumerate(vectors):
                annoy.add_item(item, vector)
            annoy.build(n_trees, n_jobs=n_jobs)
            build_seconds = time.perf_counter() - started
            # Query the saved, memory-mapped file, as production does; its size is the file's.
            path = os.path.join(directory, f"{n_trees}.ann")
            annoy.save(path)
            file_bytes = os.path.getsize(path)
            for search_k in search_k_options:
                recall, times = _measure(annoy, vectors, query_ids, k, search_k, truth)
                curve.append(
                    {
                        "n_trees": int(n_trees),
                        "search_k": int(search_k),
                        "recall": recall,
                        "mean_ms": float(times.mean()),
                        "p95_ms": float(np.percentile(times, 95)),
                        "build_seconds": build_seconds,
                        "file_bytes": file_bytes,
                    }
                )
            annoy.unload()
            os.unlink(path)
    return curve


def choose_parameters(
    curve: Sequence[dict[str, Any]], *, target_recall: float = DEFAULT_TARGET_RECALL
) -> tuple[int, int]:
    """(n_trees, search_k): the cheapest configuration with recall >= target, else the best recall.

    Cheapest = lowest mean query time; times within QUERY_TIME_TIE of the fastest tie, and a
    tie goes to fewer trees (smaller file, faster build), then to the smaller search_k.
    """
    if not curve:
        raise ValueError("empty recall curve")
    meeting = [row for row in curve if row["recall"] >= target_recall]
    if not meeting:
        best = max(curve, key=lambda row: (row["recall"], -row["mean_ms"]))
        return int(best["n_trees"]), int(best["search_k"])
    fastest = min(row["mean_ms"] for row in meeting)
    tied = [row for row in meeting if row["mean_ms"] <= fastest * (1 + QUERY_TIME_TIE)]
    best = min(tied, key=lambda row: (row["n_trees"], row["search_k"], row["mean_ms"]))
    return int(best["n_trees"]), int(best["search_k"])
