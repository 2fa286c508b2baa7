"""Exact (brute-force) cosine search and merging ranked result lists."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np


def _normalise(vectors: np.ndarray) -> np.ndarray:
    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=-1, keepdims=True)
    return vectors / np.maximum(norms, 1e-12)


def exact_search(vectors: np.ndarray, product_ids: Sequence[int], query: np.ndarray, k: int) -> list[tuple[int, float]]:
    """Brute-force cosine search over a small set (the fresh products, or a fallback)."""
    vectors = np.asarray(vectors, dtype=np.float32)
    if k <= 0 or vectors.size == 0:
        return []
    ids = np.asarray(product_ids, dtype=np.int64)
    similarities = _normalise(vectors) @ _normalise(np.asarray(query).reshape(-1))
    top = _top_k(similarities[None, :], min(k, similarities.size))[0]
    return [(int(ids[i]), float(similarities[i])) for i in top]


def merge_results(
    *lists: Iterable[tuple[int, float]],
    k: int,
    exclude: Iterable[int] = (),
    superseded: Iterable[int] = (),
) -> list[tuple[int, float]]:
    """Merge ranked (product_id, score) lists into the best ``k``, one entry per product.

    Later lists win: pass the Annoy results first and the fresh results last, so a product
    re-encoded since the build takes its fresh score. ``superseded`` (the fresh set's ids) drops
    those products from every list but the last, even when the fresh vector did not rank.
    """
    excluded = set(exclude)
    stale = set(superseded)
    scores: dict[int, float] = {}
    last = len(lists) - 1
    for position, results in enumerate(lists):
        for product_id, score in results:
            if product_id in excluded or (position < last and product_id in stale):
                continue
            scores[product_id] = float(score)
    return sorted(scores.items(), key=lambda pair: (-pair[1], pair[0]))[:k]


def exact_neighbours(vectors: np.ndarray, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Exact top-``k`` rows of ``vectors`` by cosine for each query: (indices, similarities), (Q, k)."""
    base = _normalise(vectors)
    queries = _normalise(np.atleast_2d(queries))
    k = min(k, base.shape[0])
    # Bound the (chunk, N) similarity block to ~128 MB so a 1M catalog fits.
    chunk = max(1, (32 << 20) // max(1, base.shape[0]))
    indices, similarities = [], []
    for start in range(0, queries.shape[0], chunk):
        block = queries[start : start + chunk] @ base.T  # (chunk, N)
        top = _top_k(block, k)
        indices.append(top)
        similarities.append(np.take_along_axis(block, top, axis=1))
    return np.concatenate(indices), np.concatenate(similarities)


def _top_k(scores: np.ndarray, k: int) -> np.ndarray:
    """Column indices of the ``k`` highest scores of each row, best first."""
    if k < scores.shape[1]:
        part = np.argpartition(-scores, k - 1, axis=1)[:, :k]
    else:
        part = np.tile(np.arange(scores.shape[1]), (scores.shape[0], 1))
    order = np.argsort(-np.take_along_axis(scores, part, axis=1), axis=1, kind="stable")
    return np.take_along_axis(part, order, axis=1)
