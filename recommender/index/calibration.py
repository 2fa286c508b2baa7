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

# Query rows sampled uniformly over all items for tuning (every row when the catalog is smaller). A sample's
# recall spreads around the whole catalog's; doubling the rows narrows that spread by sqrt(2), for as much tuning
# time again (the README's "Index" figures say what 1,000 rows overstated at 1M).
DEFAULT_TUNING_QUERIES = 2000
# Up to this many items a query compares with every item (search_k = count x n_trees): cheap at that size, and
# recall is then exactly 1.
SEARCH_ALL_MAX_ITEMS = 2_000
# search_k grows by this factor from k x n_trees until the target is met; REFINE_STEPS bisections
# then bring the chosen value within (1.25 - 1) / 2**2 of the smallest that meets it on the sample.
SEARCH_K_STEP = 1.25
REFINE_STEPS = 2
# One-sided 95% normal quantile: the target must hold for the lower confidence bound of the recall.
_CONFIDENCE_Z = 1.645
# Rows per chunk of the ground-truth pass: bounds the (queries, chunk) similarity block.
_TRUTH_CHUNK_ROWS = 4_096
# Annoy's angular node: int32 n_descendants, a 4-byte union (children[0] / squared norm),
# int32 children[1], then the float32 vector. Checked against get_item_vector at runtime.
_NODE_HEADER_BYTES = 12

# n_trees by catalog size: (largest count, n_trees). Chosen from the n_trees curves of bench/index_bench.py
# (search_k calibrated to the target recall for each n_trees; the figures are in the README, "Index"): more
# trees let a smaller search_k reach the target, which pays until the per-tree cost of the search catches up;
# and every tree adds nodes to each space's file, which every serving process maps and ends up holding resident,
# and to the build's peak memory. Up to 200k products a query takes well under a millisecond with few trees, so
# the count is the smallest that stays there (the web process's memory); at 1M it stops where the build still
# fits its memory budget.
N_TREES_RULE: tuple[tuple[int, int], ...] = (
    (SEARCH_ALL_MAX_ITEMS, 1),  # every query compares every item: trees only cost
    (200_000, 10),
    (600_000, 40),
)
N_TREES_MAX = 60


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
    recall_lower_bound: float  # its one-sided 95% confidence bound
    curve: tuple[tuple[int, float, float], ...]  # every (search_k, recall, lower bound) measured, by search_k


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
    return estimate_recall(annoy, query_items, truth, k, search_k).mean


@dataclass(frozen=True)
class RecallEstimate:
    mean: float  # over the sampled queries
    lower_bound: float  # one-sided 95% confidence bound on the mean over all items


def estimate_recall(
    annoy: AnnoyIndex, query_items: np.ndarray, truth: np.ndarray, k: int, search_k: int
) -> RecallEstimate:
    """Recall@k on the sample, and how low the recall over all items may plausibly be."""
    k = min(k, truth.shape[1])
    if k <= 0 or query_items.size == 0:
        return RecallEstimate(1.0, 1.0)  # a single item has no neighbours to miss
    per_query = np.empty(query_items.size)
    for row, (query, expected) in enumerate(zip(query_items.tolist(), truth[:, :k].tolist(), strict=True)):
        found = [item for item in annoy.get_nns_by_item(query, k + 1, search_k=search_k) if item != query][:k]
        per_query[row] = len(set(found).intersection(expected)) / k
    mean = float(per_query.mean())
    if query_items.size < 2:
        return RecallEstimate(mean, mean)
    standard_error = float(per_query.std(ddof=1)) / math.sqrt(query_items.size)
    return RecallEstimate(mean, mean - _CONFIDENCE_Z * standard_error)


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
    """The smallest search_k found whose recall@k reaches the target with 95% confidence.

    The target is met when the one-sided 95% lower bound of the sampled recall reaches it, so
    that the recall over all items, not only over the sample, is at least the target (tuned on
    the sample's mean, an independent measurement would fall short half the time). Recall never
    falls as search_k grows (a larger search_k inspects a superset of items), so: a x1.25
    ladder from k x n_trees up to the first value that meets the target, then REFINE_STEPS
    geometric bisections between it and the last value that did not. The ladder stops at
    count x n_trees, where every item is compared (recall 1 up to ties); a catalog of at most
    SEARCH_ALL_MAX_ITEMS items starts there.
    """
    search_all = count * n_trees
    measured: dict[int, RecallEstimate] = {}

    def meets(search_k: int) -> bool:
        measured[search_k] = estimate_recall(annoy, query_items, truth, k, search_k)
        return measured[search_k].lower_bound >= target_recall

    if count <= SEARCH_ALL_MAX_ITEMS:
        low, high = None, search_all
        met = meets(high)
    else:
        low, high = None, min(search_all, k * n_trees)
        while not (met := meets(high)) and high < search_all:
            low, high = high, min(search_all, max(high + 1, math.ceil(high * SEARCH_K_STEP)))
    if met and low is not None:
        for _ in range(REFINE_STEPS):
            middle = round(math.sqrt(low * high))
            if middle in (low, high):
                break
            if meets(middle):
                high = middle
            else:
                low = middle
    chosen = measured[high]
    if not met:
        logger.warning("recall@%d %.3f < target %.3f even comparing every item", k, chosen.mean, target_recall)
    curve = tuple((search_k, estimate.mean, estimate.lower_bound) for search_k, estimate in sorted(measured.items()))
    return Calibration(search_k=high, recall=chosen.mean, recall_lower_bound=chosen.lower_bound, curve=curve)


def fixed_search_k(
    annoy: AnnoyIndex, query_items: np.ndarray, truth: np.ndarray, *, k: int, search_k: int
) -> Calibration:
    """A caller-chosen search_k, with its recall still measured."""
    estimate = estimate_recall(annoy, query_items, truth, k, search_k)
    return Calibration(
        search_k=search_k,
        recall=estimate.mean,
        recall_lower_bound=estimate.lower_bound,
        curve=((search_k, estimate.mean, estimate.lower_bound),),
    )


def recall_table(curve: Sequence[tuple[int, float, float]]) -> list[list[float]]:
    """The calibration curve as JSON-friendly [search_k, recall, lower bound] rows."""
    return [[int(search_k), round(float(mean), 4), round(float(low), 4)] for search_k, mean, low in curve]
