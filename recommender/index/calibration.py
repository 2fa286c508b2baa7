"""Tuning a streamed build: n_trees by rule, search_k calibrated on the finished files.

The builder never holds a whole space in memory, so exact ground truth comes from a second
pass over the finished Annoy file: item i's vector is the tail of node i (see ``_item_blocks``),
read in chunks with plain reads (no mapping, so the pass adds no resident pages to the
process), and each chunk updates a running top-k for every query row.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from annoy import AnnoyIndex

from .search import _normalise

logger = logging.getLogger(__package__)

# Query rows sampled uniformly over all items for tuning (every row when the catalog is smaller).
DEFAULT_TUNING_QUERIES = 1000
# Up to this many items a query compares with every item (search_k = count x n_trees): under
# ~0.3 ms at the served dimensions, and recall is then exactly 1.
SEARCH_ALL_MAX_ITEMS = 2_000
# search_k grows by this factor from k x n_trees until the target is met, so the chosen value is
# within 25% of the smallest that meets it on the sample.
SEARCH_K_STEP = 1.25
# Rows per chunk of the ground-truth pass: bounds the (queries, chunk) similarity block.
_TRUTH_CHUNK_ROWS = 4_096
# Annoy's angular node: int32 n_descendants, a 4-byte union (children[0] / squared norm),
# int32 children[1], then the float32 vector. Checked against get_item_vector at runtime.
_NODE_HEADER_BYTES = 12

# n_trees by catalog size, from the recall / latency / size curves of bench/index_bench.py
# (clustered vectors, 128 and 256 dimensions, recall@10 target 0.95, search_k calibrated per
# n_trees): (largest count, n_trees).
N_TREES_RULE: tuple[tuple[int, int], ...] = (
    (SEARCH_ALL_MAX_ITEMS, 1),
    (20_000, 10),
    (200_000, 20),
    (2_000_000, 30),
)
N_TREES_MAX = 40


def choose_n_trees(count: int) -> int:
    """The number of trees for ``count`` items (see N_TREES_RULE for where the figures come from)."""
    for largest, n_trees in N_TREES_RULE:
        if count <= largest:
            return n_trees
    return N_TREES_MAX


@dataclass(frozen=True)
class Calibration:
    search_k: int
    recall: float  # measured recall@k at search_k on the query sample
    curve: tuple[tuple[int, float], ...]  # every (search_k, recall) measured, in order


def sample_queries(count: int, size: int, seed: int) -> np.ndarray:
    """``size`` distinct items drawn uniformly from all ``count`` (every item if fewer), sorted."""
    rng = np.random.default_rng(seed)
    if count <= size:
        return np.arange(count, dtype=np.int64)
    return np.sort(rng.choice(count, size=size, replace=False)).astype(np.int64)


def _item_blocks(
    path: Path, annoy: AnnoyIndex, dimension: int, count: int, chunk_rows: int = _TRUTH_CHUNK_ROWS
) -> Iterator[tuple[int, np.ndarray]]:
    """(first item, float32 (b, dimension) vectors) for items 0..count-1 of a built Annoy file."""
    node_bytes = _NODE_HEADER_BYTES + 4 * dimension
    size = path.stat().st_size
    layout_ok = size % node_bytes == 0 and size >= count * node_bytes
    if layout_ok:
        with open(path, "rb") as handle:
            for start in range(0, count, chunk_rows):
                rows = min(chunk_rows, count - start)
                nodes = np.fromfile(handle, dtype=np.uint8, count=rows * node_bytes).reshape(rows, node_bytes)
                vectors = nodes[:, _NODE_HEADER_BYTES:].view(np.float32)
                if start == 0 and not _layout_matches(annoy, nodes, vectors, start):
                    layout_ok = False
                    break
                if not (nodes[:, :4].view(np.int32) == 1).all():
                    raise RuntimeError(f"{path}: items {start}..{start + rows} are not all leaf nodes")
                yield start, vectors
        if layout_ok:
            return
    # A layout this module does not know (another Annoy build): slow but certain.
    logger.warning("%s: unexpected Annoy node layout, reading vectors one by one", path)
    for start in range(0, count, chunk_rows):
        stop = min(count, start + chunk_rows)
        yield start, np.array([annoy.get_item_vector(i) for i in range(start, stop)], dtype=np.float32)


def _layout_matches(annoy: AnnoyIndex, nodes: np.ndarray, vectors: np.ndarray, start: int) -> bool:
    for row in {0, nodes.shape[0] - 1}:
        if not np.array_equal(vectors[row], np.asarray(annoy.get_item_vector(start + row), dtype=np.float32)):
            return False
    return bool(nodes[0, :4].view(np.int32)[0] == 1)


def exact_truth(
    path: Path, annoy: AnnoyIndex, dimension: int, count: int, query_items: np.ndarray, k: int
) -> np.ndarray:
    """Exact top-``k`` items by cosine for each query item, itself excluded: int64 (Q, min(k, count - 1))."""
    k = min(k, count - 1)
    queries = _normalise(np.array([annoy.get_item_vector(int(i)) for i in query_items], dtype=np.float32))
    best_scores = np.full((query_items.size, k), -np.inf, dtype=np.float32)
    best_items = np.full((query_items.size, k), -1, dtype=np.int64)
    if k <= 0:
        return best_items
    rows = np.arange(query_items.size)
    for start, block in _item_blocks(path, annoy, dimension, count):
        scores = queries @ _normalise(block).T  # (Q, b)
        inside = (query_items >= start) & (query_items < start + block.shape[0])
        scores[rows[inside], query_items[inside] - start] = -np.inf  # a query is not its own neighbour
        keep = min(k, scores.shape[1])
        top = np.argpartition(-scores, keep - 1, axis=1)[:, :keep]
        merged_scores = np.concatenate([best_scores, np.take_along_axis(scores, top, axis=1)], axis=1)
        merged_items = np.concatenate([best_items, top + start], axis=1)
        # Stable on ties: the earlier item wins, as in a full sort of all items.
        order = np.lexsort((merged_items, -merged_scores), axis=1)[:, :k]
        best_scores = np.take_along_axis(merged_scores, order, axis=1)
        best_items = np.take_along_axis(merged_items, order, axis=1)
    return best_items


def measured_recall(annoy: AnnoyIndex, query_items: np.ndarray, truth: np.ndarray, k: int, search_k: int) -> float:
    """Mean recall@k of ``annoy`` at ``search_k`` against ``truth`` (each query item excluded from its results)."""
    k = min(k, truth.shape[1])
    if k <= 0 or query_items.size == 0:
        return 1.0  # a single item has no neighbours to miss
    hits = 0
    for query, expected in zip(query_items.tolist(), truth[:, :k].tolist(), strict=True):
        found = [item for item in annoy.get_nns_by_item(query, k + 1, search_k=search_k) if item != query][:k]
        hits += len(set(found).intersection(expected))
    return hits / (k * query_items.size)


def calibrate_search_k(
    annoy: AnnoyIndex,
    query_items: np.ndarray,
    truth: np.ndarray,
    *,
    k: int,
    n_trees: int,
    count: int,
    target_recall: float,
) -> Calibration:
    """The smallest search_k on a x1.25 ladder from k x n_trees whose measured recall@k reaches the target.

    The ladder stops at count x n_trees, where every item is compared (recall 1 up to ties); a
    catalog of at most SEARCH_ALL_MAX_ITEMS items starts there.
    """
    search_all = count * n_trees
    search_k = search_all if count <= SEARCH_ALL_MAX_ITEMS else min(search_all, k * n_trees)
    curve = []
    while True:
        recall = measured_recall(annoy, query_items, truth, k, search_k)
        curve.append((search_k, recall))
        if recall >= target_recall or search_k >= search_all:
            break
        search_k = min(search_all, max(search_k + 1, math.ceil(search_k * SEARCH_K_STEP)))
    if recall < target_recall:
        logger.warning("recall@%d %.3f < target %.3f even comparing every item", k, recall, target_recall)
    return Calibration(search_k=search_k, recall=recall, curve=tuple(curve))


def fixed_search_k(
    annoy: AnnoyIndex, query_items: np.ndarray, truth: np.ndarray, *, k: int, search_k: int
) -> Calibration:
    """A caller-chosen search_k, with its recall still measured."""
    recall = measured_recall(annoy, query_items, truth, k, search_k)
    return Calibration(search_k=search_k, recall=recall, curve=((search_k, recall),))


def recall_table(curve: Sequence[tuple[int, float]]) -> list[list[float]]:
    """The calibration curve as JSON-friendly [search_k, recall] pairs."""
    return [[int(search_k), round(float(recall), 4)] for search_k, recall in curve]
