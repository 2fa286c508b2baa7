"""Building a new, complete, not yet active version directory, streamed in batches."""

from __future__ import annotations

import json
import logging
import math
import os
import shutil
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType

import numpy as np
from annoy import AnnoyIndex

from .calibration import (
    DEFAULT_TUNING_QUERIES,
    N_TREES_RULE,
    SEARCH_ALL_MAX_ITEMS,
    Calibration,
    calibrate_search_k,
    choose_n_trees,
    exact_truth,
    fixed_search_k,
    measured_recall,
    recall_table,
    sample_queries,
)
from .files import (
    BUILDING_PREFIX,
    FORMAT_VERSION,
    ITEMS_FILE,
    META_FILE,
    METRIC,
    POSITIONS_FILE,
    SIMILAR,
    _file_digest,
    _fsync_path,
    _write_durably,
    space_file,
)
from .positions import normalise_positions
from .tuning import DEFAULT_TARGET_RECALL

# The package's one logger name, as before the split: "recommender.index".
logger = logging.getLogger(__package__)

# collect_garbage removes building directories untouched for an hour; a long streamed build
# touches its own at most this often so that it is never taken for abandoned.
_HEARTBEAT_SECONDS = 60.0

BeforePublish = Callable[[Path, np.ndarray, "np.ndarray | None"], None]


@dataclass(frozen=True)
class SpaceBuild:
    """One space of a built version, as recorded in meta.json."""

    name: str
    dimension: int
    n_trees: int
    search_k: int
    tuned_k: int
    recall_at_10: float  # measured against exact search on ``recall_queries`` sampled items
    recall_lower_bound: float  # one-sided 95% confidence bound of the recall@tuned_k over all items
    recall_queries: int
    file_bytes: int
    file_digest: str
    build_seconds: float  # adding items and building trees
    tune_seconds: float  # ground truth and search_k calibration


@dataclass(frozen=True)
class IndexBuild:
    version: str
    path: Path
    count: int
    seed: int
    build_seconds: float  # the whole finish() plus the time spent adding items
    spaces: dict[str, SpaceBuild]
    has_positions: bool

    @property
    def primary(self) -> SpaceBuild:
        """The similar space (or the only space of a build without one)."""
        return self.spaces.get(SIMILAR) or next(iter(self.spaces.values()))

    # The single-space fields of format 1, for callers written before spaces.
    @property
    def dimension(self) -> int:
        return self.primary.dimension

    @property
    def n_trees(self) -> int:
        return self.primary.n_trees

    @property
    def search_k(self) -> int:
        return self.primary.search_k

    @property
    def file_bytes(self) -> int:
        return self.primary.file_bytes

    @property
    def recall_at_10(self) -> float:
        return self.primary.recall_at_10


class IndexBuilder:
    """Streams products into a new version directory under ``root``, one Annoy file per space.

    ``add`` writes each batch straight into the spaces' ``on_disk_build`` files (Annoy item i is
    the i-th row added overall), so no space is ever held whole in memory: the builder keeps
    only the product ids and the raw 2-D positions. ``finish`` builds the trees, tunes each
    space (see calibration.py), writes items.npy, positions.npy and meta.json durably, lets
    ``before_publish`` add files, and renames the directory into place; the version is not
    activated. On any failure, and on leaving a ``with`` block unfinished, the building
    directory is removed.

    ``n_trees`` / ``search_k`` fix those parameters for every space instead of choosing them;
    the recall is measured either way. Not thread-safe: one thread feeds one builder.
    """

    def __init__(
        self,
        *,
        root: Path,
        dimensions: Mapping[str, int],
        seed: int = 0,
        target_recall: float = DEFAULT_TARGET_RECALL,
        k: int = 10,
        n_trees: int | None = None,
        search_k: int | None = None,
        tuning_queries: int = DEFAULT_TUNING_QUERIES,
        n_jobs: int = -1,
    ) -> None:
        if not dimensions:
            raise ValueError("at least one space is needed")
        for space, dimension in dimensions.items():
            space_file(space)  # validates the name
            if int(dimension) < 1:
                raise ValueError(f"space {space!r} needs a positive dimension, got {dimension}")
        if k < 1 or tuning_queries < 1 or not 0.0 < target_recall <= 1.0:
            raise ValueError("k and tuning_queries must be positive and target_recall in (0, 1]")
        if (n_trees is not None and n_trees < 1) or (search_k is not None and search_k < 1):
            raise ValueError("n_trees and search_k must be positive")
        self.root = Path(root)
        self.dimensions = {space: int(dimension) for space, dimension in dimensions.items()}
        self.seed = int(seed)
        self.target_recall = float(target_recall)
        self.k = int(k)
        self.fixed_n_trees = n_trees
        self.fixed_search_k = search_k
        self.tuning_queries = int(tuning_queries)
        self.n_jobs = n_jobs
        self._ids: list[np.ndarray] = []
        self._positions: list[np.ndarray] = []
        self._count = 0
        self._add_seconds = dict.fromkeys(self.dimensions, 0.0)
        self._annoys: dict[str, AnnoyIndex] = {}
        self._state = "open"
        self.root.mkdir(parents=True, exist_ok=True)
        self.path = self.root / f"{BUILDING_PREFIX}{_timestamp()}-{uuid.uuid4().hex[:8]}-{os.getpid()}"
        self.path.mkdir()
        self._touched_at = time.monotonic()
        try:
            for space, dimension in self.dimensions.items():
                annoy = AnnoyIndex(dimension, METRIC)
                annoy.set_seed(self.seed)
                annoy.on_disk_build(str(self.path / space_file(space)))
                self._annoys[space] = annoy
        except BaseException:
            self.abort()
            raise

    def __enter__(self) -> IndexBuilder:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        if self._state != "finished":
            self.abort()

    def __len__(self) -> int:
        return self._count

    def add(
        self,
        product_ids: np.ndarray | Sequence[int],
        vectors: Mapping[str, np.ndarray],
        positions: np.ndarray | None = None,
    ) -> None:
        """Append one batch: ``vectors[space]`` is (b, dimension) for every space, row j for ``product_ids[j]``.

        The whole batch is checked before any of it is written, so a rejected batch leaves the
        builder as it was. ``positions`` (b, 2) are raw map coordinates (any range, y growing
        upwards), stored as screen fractions by ``finish``; they come with every batch or none.
        """
        self._require_open()
        ids = np.asarray(product_ids)
        if ids.ndim != 1 or (ids.size and ids.dtype.kind not in "iu"):
            raise ValueError(f"product_ids must be a 1-D array of integers, got {ids.dtype} {ids.shape}")
        ids = ids.astype(np.int64)
        if np.unique(ids).size != ids.size:
            raise ValueError("product_ids contain duplicates within the batch")
        if set(vectors) != set(self.dimensions):
            raise ValueError(f"vectors must hold exactly the spaces {sorted(self.dimensions)}, got {sorted(vectors)}")
        blocks = {}
        for space, dimension in self.dimensions.items():
            block = np.asarray(vectors[space], dtype=np.float32)
            if block.shape != (ids.size, dimension):
                raise ValueError(
                    f"{space} vectors have shape {block.shape}, expected ({ids.size}, {dimension}) for {ids.size} ids"
                )
            bad = ~np.isfinite(block).all(axis=1)
            if bad.any():
                raise ValueError(f"{space} vectors of products {ids[bad][:5].tolist()} contain NaN or infinity")
            blocks[space] = block
        if positions is not None:
            positions = np.asarray(positions, dtype=np.float32)
            if positions.shape != (ids.size, 2):
                raise ValueError(f"positions have shape {positions.shape}, expected ({ids.size}, 2)")
            if not np.isfinite(positions).all():
                raise ValueError("positions contain NaN or infinity")
        if self._count and (positions is not None) != bool(self._positions):
            raise ValueError("positions must be given with every batch or with none")
        if ids.size == 0:
            return

        for space, block in blocks.items():
            annoy = self._annoys[space]
            started = time.perf_counter()
            for offset, row in enumerate(block):
                annoy.add_item(self._count + offset, row)
            self._add_seconds[space] += time.perf_counter() - started
        self._ids.append(ids)
        if positions is not None:
            self._positions.append(positions)
        self._count += ids.size
        self._heartbeat()

    def finish(self, metadata: dict | None = None, before_publish: BeforePublish | None = None) -> IndexBuild:
        """Build, tune and publish the version; see the class docstring. The builder is spent after."""
        self._require_open()
        try:
            return self._finish(metadata or {}, before_publish)
        except BaseException:
            self.abort()
            raise

    def abort(self) -> None:
        """Discard the build: unmap the files and remove the building directory. Idempotent."""
        if self._state == "finished":
            return
        self._state = "aborted"
        annoys, self._annoys = self._annoys, {}
        for annoy in annoys.values():
            annoy.unload()
        shutil.rmtree(self.path, ignore_errors=True)

    def _finish(self, metadata: dict, before_publish: BeforePublish | None) -> IndexBuild:
        started = time.perf_counter()
        if self._count == 0:
            raise ValueError("no products were added")
        ids = np.concatenate(self._ids)
        sorted_ids = np.sort(ids)
        repeated = sorted_ids[1:][sorted_ids[1:] == sorted_ids[:-1]]
        if repeated.size:
            raise ValueError(f"product_ids contain duplicates across batches: {np.unique(repeated)[:5].tolist()}")
        del sorted_ids
        positions = normalise_positions(np.concatenate(self._positions)) if self._positions else None

        query_items = sample_queries(self._count, self.tuning_queries, self.seed)
        spaces = {}
        # One space at a time, each unmapped before the next: the trees of both never sit in memory together.
        for space in self.dimensions:
            spaces[space] = self._build_space(space, query_items)
            self._heartbeat()

        version = f"{_timestamp()}-{uuid.uuid4().hex[:8]}"
        np.save(self.path / ITEMS_FILE, ids)
        files = {ITEMS_FILE: _file_record(self.path / ITEMS_FILE)}
        if positions is not None:
            np.save(self.path / POSITIONS_FILE, positions)
            files[POSITIONS_FILE] = _file_record(self.path / POSITIONS_FILE)
        build_seconds = time.perf_counter() - started + sum(self._add_seconds.values())
        meta = {
            "format": FORMAT_VERSION,
            "version": version,
            "metric": METRIC,
            "count": self._count,
            "seed": self.seed,
            "built_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "build_seconds": round(build_seconds, 3),
            "metadata": metadata,
            "positions": positions is not None,
            "files": files,
            "tuning": {
                "target_recall": self.target_recall,
                "queries": int(query_items.size),
                "k": self.k,
                "n_trees_rule": [list(pair) for pair in N_TREES_RULE] if self.fixed_n_trees is None else "fixed",
                "search_all_max_items": SEARCH_ALL_MAX_ITEMS,
            },
            "spaces": {name: spaces[name][1] for name in spaces},
        }
        _write_durably(self.path / META_FILE, json.dumps(meta, indent=2, sort_keys=True).encode())
        for name in files:
            _fsync_path(self.path / name)
        if before_publish is not None:
            before_publish(self.path, ids, positions)
            _fsync_tree(self.path)  # what the caller added
        _fsync_path(self.path)
        final = self.root / version
        os.rename(self.path, final)
        _fsync_path(self.root)
        self._state = "finished"
        build = IndexBuild(
            version=version,
            path=final,
            count=self._count,
            seed=self.seed,
            build_seconds=build_seconds,
            spaces={name: spaces[name][0] for name in spaces},
            has_positions=positions is not None,
        )
        summary = ", ".join(
            f"{s.name}: {s.n_trees} trees, search_k {s.search_k}, recall@10 {s.recall_at_10:.3f}"
            for s in build.spaces.values()
        )
        logger.info("Built index version %s: %d items; %s; %.1f s", version, self._count, summary, build_seconds)
        return build

    def _build_space(self, space: str, query_items: np.ndarray) -> tuple[SpaceBuild, dict]:
        annoy = self._annoys[space]
        path = self.path / space_file(space)
        dimension = self.dimensions[space]
        n_trees = self.fixed_n_trees or choose_n_trees(self._count)
        started = time.perf_counter()
        annoy.build(n_trees, n_jobs=self.n_jobs)
        annoy.unload()  # on_disk_build wrote every node to the file
        del self._annoys[space]
        _fsync_path(path)
        build_seconds = time.perf_counter() - started + self._add_seconds[space]

        started = time.perf_counter()
        reader = AnnoyIndex(dimension, METRIC)
        reader.load(str(path))
        try:
            truth = exact_truth(path, reader, dimension, self._count, query_items, max(self.k, 10))
            if self.fixed_search_k is not None:
                tuned = fixed_search_k(reader, query_items, truth, k=self.k, search_k=self.fixed_search_k)
            else:
                tuned = calibrate_search_k(
                    reader,
                    query_items,
                    truth,
                    k=self.k,
                    n_trees=n_trees,
                    count=self._count,
                    target_recall=self.target_recall,
                )
            recall_at_10 = tuned.recall if self.k == 10 else _recall_at_10(reader, query_items, truth, tuned, self.k)
        finally:
            reader.unload()
        tune_seconds = time.perf_counter() - started

        record = _file_record(path)
        built = SpaceBuild(
            name=space,
            dimension=dimension,
            n_trees=n_trees,
            search_k=tuned.search_k,
            tuned_k=self.k,
            recall_at_10=recall_at_10,
            recall_lower_bound=tuned.recall_lower_bound,
            recall_queries=int(query_items.size),
            file_bytes=record["bytes"],
            file_digest=record["digest"],
            build_seconds=build_seconds,
            tune_seconds=tune_seconds,
        )
        meta = {
            "file": space_file(space),
            "dimension": dimension,
            "n_trees": n_trees,
            "search_k": tuned.search_k,
            "tuned_k": self.k,
            "recall_at_10": round(recall_at_10, 4),
            "recall_at_k": round(tuned.recall, 4),
            "recall_at_k_lower_bound": round(tuned.recall_lower_bound, 4),
            "recall_curve": recall_table(tuned.curve),
            "file_bytes": built.file_bytes,
            "file_digest": built.file_digest,
            "build_seconds": round(build_seconds, 3),
            "tune_seconds": round(tune_seconds, 3),
        }
        return built, meta

    def _require_open(self) -> None:
        if self._state != "open":
            raise RuntimeError(f"this IndexBuilder is {self._state}")

    def _heartbeat(self) -> None:
        if time.monotonic() - self._touched_at >= _HEARTBEAT_SECONDS:
            os.utime(self.path)
            self._touched_at = time.monotonic()


def _recall_at_10(annoy: AnnoyIndex, query_items: np.ndarray, truth: np.ndarray, tuned: Calibration, k: int) -> float:
    # Served as queries for 10 are: search_k scaled as LoadedIndex.effective_search_k scales it.
    return measured_recall(annoy, query_items, truth, 10, tuned.search_k * max(1, math.ceil(10 / k)))


def _file_record(path: Path) -> dict:
    return {"bytes": path.stat().st_size, "digest": _file_digest(path)}


def _fsync_tree(path: Path) -> None:
    for directory, _, names in os.walk(path):
        for name in names:
            _fsync_path(Path(directory) / name)
        _fsync_path(Path(directory))


def _timestamp() -> str:
    # Microseconds so that names sort in build order even for builds within one second.
    return f"{datetime.now(UTC):%Y%m%dT%H%M%S.%fZ}"


def build_index(
    *,
    vectors: np.ndarray,
    product_ids: Sequence[int],
    root: Path,
    n_trees: int,
    search_k: int,
    seed: int = 0,
    on_disk: bool = True,
    metadata: dict | None = None,
    tuned_k: int = 10,
    n_jobs: int = -1,
) -> IndexBuild:
    """The single-space build of callers written before IndexBuilder: one in-memory matrix, fixed parameters.

    Row i of ``vectors`` is the similar-space embedding of ``product_ids[i]``. ``on_disk`` is
    ignored (every build streams to disk now). The version is not activated.
    """
    del on_disk
    vectors = np.asarray(vectors, dtype=np.float32)
    ids = np.asarray(product_ids, dtype=np.int64)
    if vectors.ndim != 2 or vectors.shape[0] == 0 or vectors.shape[1] == 0:
        raise ValueError(f"vectors must be a non-empty 2-D array, got shape {vectors.shape}")
    if ids.shape != (vectors.shape[0],):
        raise ValueError(f"{vectors.shape[0]} vectors but {ids.size} product ids")
    if np.unique(ids).size != ids.size:
        raise ValueError("product_ids contain duplicates")
    with IndexBuilder(
        root=root,
        dimensions={SIMILAR: vectors.shape[1]},
        seed=seed,
        k=tuned_k,
        n_trees=n_trees,
        search_k=search_k,
        n_jobs=n_jobs,
    ) as builder:
        for start in range(0, ids.size, 10_000):
            builder.add(ids[start : start + 10_000], {SIMILAR: vectors[start : start + 10_000]})
        return builder.finish(metadata)
