"""The Annoy nearest-neighbour index: build, version, switch, load, cache, clean up, tune.

Pure Python + numpy + annoy, no Django: callers pass paths and parameters (from settings).

On-disk layout under an index ``root``::

    root/
      ACTIVE                              name of the active version (replaced, never edited)
      20261126T172500.123456Z-1a2b3c4d/   one complete, immutable version
        index.ann                         Annoy file (metric "angular"), memory-mapped by readers
        items.npy                         int64: Annoy item i is product items[i]
        meta.json                         dimension, count, n_trees, search_k, seed, size, metadata
        leases/<hostname>-<pid>           one per process mapping the version (mtime = heartbeat)
      .building-<name>-<pid>/             a build in progress; renamed to <name> when complete
      .trash-<name>-<hex>/                a version being deleted by collect_garbage

Invariants:
- A version directory never changes after its rename into place. Annoy readers mmap
  ``index.ann`` and get SIGBUS if it is truncated or rewritten, so files are only ever written
  under a temporary name and removed whole (by ``collect_garbage``, once no live lease remains).
- ``ACTIVE`` only ever changes by ``os.replace``, so a reader sees the old or the new name.
- Version names start with a UTC timestamp, so sorting names sorts versions by build time.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import math
import os
import shutil
import socket
import tempfile
import threading
import time
import uuid
import weakref
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from annoy import AnnoyIndex

logger = logging.getLogger(__name__)

METRIC = "angular"
INDEX_FILE = "index.ann"
ITEMS_FILE = "items.npy"
META_FILE = "meta.json"
LEASES_DIR = "leases"
ACTIVE_FILE = "ACTIVE"
BUILDING_PREFIX = ".building-"
TRASH_PREFIX = ".trash-"
FORMAT_VERSION = 1

# Recall-curve grid for catalogs of 1k-100k products (see bench/index_bench.py for measured
# curves). Trees cost build time and file size (each tree adds roughly one node per item);
# search_k (nodes inspected per query, at k=10) costs query time. Up to 100 trees and 20k
# nodes covers recall 0.9-0.99+ at 100k clustered vectors; for 1k products search_k >= 1000
# already inspects every item, so the smallest settings win.
DEFAULT_N_TREES_OPTIONS = (10, 25, 50, 100)
DEFAULT_SEARCH_K_OPTIONS = (500, 1000, 2500, 5000, 10000, 20000)
DEFAULT_TARGET_RECALL = 0.95
# Query times within this fraction of the fastest qualifying configuration count as a tie:
# timings on a shared machine are noisy, and fewer trees mean a smaller file and faster build.
QUERY_TIME_TIE = 0.10

TEMP_MAX_AGE_SECONDS = 3600.0
# Checksummed head and tail of index.ann: cheap enough for every load, catches a file replaced
# or truncated to a multiple of the node size (which Annoy itself accepts).
_DIGEST_SPAN = 1 << 20


class IndexUnavailable(Exception):
    """The index version cannot be used (missing, truncated, corrupt, unloaded); fall back to exact search."""


# ---------------------------------------------------------------------------------------------
# Build and activate


@dataclass(frozen=True)
class IndexBuild:
    version: str
    path: Path
    count: int
    dimension: int
    n_trees: int
    search_k: int
    seed: int
    build_seconds: float
    file_bytes: int


def build_index(
    *,
    vectors: np.ndarray,
    product_ids: Sequence[int],
    root: Path,
    n_trees: int,
    search_k: int,
    seed: int = 0,
    on_disk: bool = False,
    metadata: dict | None = None,
    tuned_k: int = 10,
    n_jobs: int = -1,
) -> IndexBuild:
    """Write a new, complete version directory under ``root`` and return its description.

    Row i of ``vectors`` (float32, L2-normalised) is the embedding of ``product_ids[i]`` and
    becomes Annoy item i. ``search_k`` is the default for queries of ``tuned_k`` neighbours.
    The version is not activated; call ``activate`` once the caller's records are written.
    """
    vectors = np.asarray(vectors, dtype=np.float32)
    ids = np.asarray(product_ids, dtype=np.int64)
    if vectors.ndim != 2 or vectors.shape[0] == 0 or vectors.shape[1] == 0:
        raise ValueError(f"vectors must be a non-empty 2-D array, got shape {vectors.shape}")
    if ids.shape != (vectors.shape[0],):
        raise ValueError(f"{vectors.shape[0]} vectors but {ids.size} product ids")
    if np.unique(ids).size != ids.size:
        raise ValueError("product_ids contain duplicates")
    if not np.isfinite(vectors).all():
        raise ValueError("vectors contain NaN or infinity")
    if n_trees < 1 or search_k < 1 or tuned_k < 1:
        raise ValueError("n_trees, search_k and tuned_k must be positive")

    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    # Microseconds so that names sort in build order even for builds within one second.
    version = f"{datetime.now(UTC):%Y%m%dT%H%M%S.%fZ}-{uuid.uuid4().hex[:8]}"
    building = root / f"{BUILDING_PREFIX}{version}-{os.getpid()}"
    building.mkdir()
    try:
        started = time.perf_counter()
        index_path = building / INDEX_FILE
        annoy = AnnoyIndex(vectors.shape[1], METRIC)
        annoy.set_seed(seed)
        if on_disk:
            # Nodes go straight to the file instead of RAM (the 1M-vector case); build() writes it.
            annoy.on_disk_build(str(index_path))
        for item, vector in enumerate(vectors):
            annoy.add_item(item, vector)
        annoy.build(n_trees, n_jobs=n_jobs)
        if not on_disk:
            annoy.save(str(index_path))
        annoy.unload()
        build_seconds = time.perf_counter() - started

        np.save(building / ITEMS_FILE, ids)
        file_bytes = index_path.stat().st_size
        meta = {
            "format": FORMAT_VERSION,
            "version": version,
            "metric": METRIC,
            "dimension": int(vectors.shape[1]),
            "count": int(vectors.shape[0]),
            "n_trees": int(n_trees),
            "search_k": int(search_k),
            "tuned_k": int(tuned_k),
            "seed": int(seed),
            "on_disk": bool(on_disk),
            "build_seconds": round(build_seconds, 3),
            "file_bytes": file_bytes,
            "file_digest": _file_digest(index_path),
            "built_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "metadata": metadata or {},
        }
        _write_durably(building / META_FILE, json.dumps(meta, indent=2, sort_keys=True).encode())
        for name in (INDEX_FILE, ITEMS_FILE):
            _fsync_path(building / name)
        _fsync_path(building)
        final = root / version
        os.rename(building, final)
        _fsync_path(root)
    except BaseException:
        shutil.rmtree(building, ignore_errors=True)
        raise
    logger.info("Built index version %s: %d items, %d trees, %.1f s", version, len(ids), n_trees, build_seconds)
    return IndexBuild(
        version=version,
        path=final,
        count=int(ids.size),
        dimension=int(vectors.shape[1]),
        n_trees=int(n_trees),
        search_k=int(search_k),
        seed=int(seed),
        build_seconds=build_seconds,
        file_bytes=file_bytes,
    )


_activate_lock = threading.Lock()


def activate(*, root: Path, version: str) -> None:
    """Point ``root/ACTIVE`` at ``version`` atomically (write a temp file, fsync, ``os.replace``)."""
    root = Path(root)
    if version not in list_versions(root):
        raise ValueError(f"no complete index version {version!r} under {root}")
    temp = root / f"{ACTIVE_FILE}.tmp-{os.getpid()}"
    # The lock only guards the per-process temp name against two threads of this process.
    with _activate_lock:
        _write_durably(temp, f"{version}\n".encode())
        os.replace(temp, root / ACTIVE_FILE)
        _fsync_path(root)
    logger.info("Activated index version %s under %s", version, root)


def active_version(root: Path) -> str | None:
    """The active version's name, or None when nothing has been activated."""
    try:
        name = (Path(root) / ACTIVE_FILE).read_text().strip()
    except FileNotFoundError:
        return None
    return name or None


def list_versions(root: Path) -> list[str]:
    """Complete versions under ``root``, oldest first. Builds in progress are never listed."""
    root = Path(root)
    if not root.is_dir():
        return []
    return sorted(
        entry.name
        for entry in root.iterdir()
        if not entry.name.startswith(".") and entry.is_dir() and (entry / META_FILE).is_file()
    )


def read_meta(path: Path) -> dict:
    """meta.json of the version directory ``path``; IndexUnavailable if missing or unreadable."""
    try:
        return json.loads((Path(path) / META_FILE).read_text())
    except (OSError, ValueError) as error:
        raise IndexUnavailable(f"cannot read {Path(path) / META_FILE}: {error}") from error


# ---------------------------------------------------------------------------------------------
# Loading and querying


class LoadedIndex:
    """A memory-mapped index version. Queries are safe from several threads at once.

    ``unload`` must not race with queries in other threads; ``IndexCache`` never calls it and
    lets the mapping go when the last reference is dropped instead.
    """

    def __init__(self, *, path: Path, annoy: AnnoyIndex, items: np.ndarray, meta: dict) -> None:
        self.path = Path(path)
        self.version = self.path.name
        self.meta = meta
        self.dimension = int(meta["dimension"])
        self.n_trees = int(meta["n_trees"])
        self.search_k = int(meta["search_k"])
        self.tuned_k = int(meta.get("tuned_k", 10))
        self.items = items
        self._annoy: AnnoyIndex | None = annoy
        self.lease_path: Path | None = None  # set by load_leased
        # Product id -> item id without a dict (1M entries would cost ~100 MB): binary search.
        self._order = np.argsort(items, kind="stable")
        self._sorted_ids = items[self._order]

    @classmethod
    def load(cls, path: Path) -> LoadedIndex:
        """Map the version directory ``path``; IndexUnavailable if anything is missing or wrong."""
        path = Path(path)
        meta = read_meta(path)
        missing = {"dimension", "count", "n_trees", "search_k", "file_bytes"} - set(meta)
        if missing:
            raise IndexUnavailable(f"{path / META_FILE} lacks {sorted(missing)}")
        index_path = path / INDEX_FILE
        try:
            size = index_path.stat().st_size
        except OSError as error:
            raise IndexUnavailable(f"{index_path}: {error}") from error
        if size != meta.get("file_bytes"):
            raise IndexUnavailable(f"{index_path} is {size} bytes, meta.json recorded {meta.get('file_bytes')}")
        if meta.get("file_digest") and _file_digest(index_path) != meta["file_digest"]:
            raise IndexUnavailable(f"{index_path} does not match the digest in meta.json")
        try:
            items = np.load(path / ITEMS_FILE, allow_pickle=False)
        except (OSError, ValueError) as error:
            raise IndexUnavailable(f"cannot read {path / ITEMS_FILE}: {error}") from error
        if items.dtype != np.int64 or items.shape != (meta["count"],):
            raise IndexUnavailable(f"{path / ITEMS_FILE} has {items.shape} {items.dtype}, expected ({meta['count']},)")
        annoy = AnnoyIndex(int(meta["dimension"]), meta.get("metric", METRIC))
        try:
            annoy.load(str(index_path))
        except OSError as error:
            raise IndexUnavailable(f"Annoy cannot load {index_path}: {error}") from error
        if annoy.get_n_items() != meta["count"]:
            annoy.unload()
            raise IndexUnavailable(f"{index_path} holds {annoy.get_n_items()} items, expected {meta['count']}")
        return cls(path=path, annoy=annoy, items=items, meta=meta)

    @property
    def annoy(self) -> AnnoyIndex:
        if self._annoy is None:
            raise IndexUnavailable(f"index {self.version} was unloaded")
        return self._annoy

    def __len__(self) -> int:
        return int(self.items.size)

    def __contains__(self, product_id: object) -> bool:
        return self._item_of(product_id) is not None

    def __repr__(self) -> str:
        return f"<LoadedIndex {self.version} items={len(self)} trees={self.n_trees}>"

    def effective_search_k(self, k: int) -> int:
        """The build's search_k, scaled up when more neighbours than it was tuned for are asked."""
        return self.search_k * max(1, math.ceil(k / self.tuned_k))

    def query(self, vector: np.ndarray, *, k: int, search_k: int | None = None) -> list[tuple[int, float]]:
        """The ``k`` nearest products to ``vector`` as (product_id, cosine similarity), best first."""
        vector = np.asarray(vector, dtype=np.float32).reshape(-1)
        if vector.size != self.dimension:
            raise ValueError(f"query has dimension {vector.size}, index has {self.dimension}")
        if k <= 0:
            return []
        search_k = self.effective_search_k(k) if search_k is None else search_k
        items, distances = self.annoy.get_nns_by_vector(vector, k, search_k=search_k, include_distances=True)
        return [(int(self.items[i]), _cosine(d)) for i, d in zip(items, distances, strict=True)]

    def query_product(self, product_id: int, *, k: int, search_k: int | None = None) -> list[tuple[int, float]]:
        """The ``k`` nearest neighbours of an indexed product, itself excluded; [] if not indexed."""
        item = self._item_of(product_id)
        if item is None or k <= 0:
            return []
        search_k = self.effective_search_k(k + 1) if search_k is None else search_k
        items, distances = self.annoy.get_nns_by_item(item, k + 1, search_k=search_k, include_distances=True)
        results = [(int(self.items[i]), _cosine(d)) for i, d in zip(items, distances, strict=True) if i != item]
        return results[:k]

    def vector(self, product_id: int) -> np.ndarray | None:
        """The indexed vector of ``product_id`` (float32), or None if it is not in this version."""
        item = self._item_of(product_id)
        if item is None:
            return None
        return np.asarray(self.annoy.get_item_vector(item), dtype=np.float32)

    def unload(self) -> None:
        """Unmap the file now. Idempotent; later queries raise IndexUnavailable."""
        annoy, self._annoy = self._annoy, None
        if annoy is not None:
            annoy.unload()

    def _item_of(self, product_id: object) -> int | None:
        try:
            key = int(product_id)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            return None
        position = int(np.searchsorted(self._sorted_ids, key))
        if position < self._sorted_ids.size and self._sorted_ids[position] == key:
            return int(self._order[position])
        return None


def _cosine(angular_distance: float) -> float:
    # Annoy's angular distance is the Euclidean distance of the normalised vectors: sqrt(2 - 2 cos).
    return 1.0 - angular_distance * angular_distance / 2.0


# ---------------------------------------------------------------------------------------------
# Leases and the per-process cache


class _Leases:
    """Process-wide lease files, reference-counted so two holders of one version share one file."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: dict[Path, int] = {}

    def acquire(self, version_path: Path) -> Path:
        lease = version_path / LEASES_DIR / _lease_name()
        with self._lock:
            try:
                lease.parent.mkdir(exist_ok=True)
                lease.touch()
            except OSError as error:  # the version is gone (or being collected)
                raise IndexUnavailable(f"cannot lease index version {version_path}: {error}") from error
            self._counts[lease] = self._counts.get(lease, 0) + 1
        return lease

    def release(self, lease: Path, owner_pid: int) -> None:
        if os.getpid() != owner_pid:
            return  # a forked child must not remove its parent's lease
        with self._lock:
            remaining = self._counts.get(lease, 0) - 1
            if remaining > 0:
                self._counts[lease] = remaining
                return
            self._counts.pop(lease, None)
            with contextlib.suppress(FileNotFoundError):
                lease.unlink()

    def heartbeat(self, lease: Path) -> None:
        with self._lock:
            try:
                os.utime(lease)
            except FileNotFoundError:
                # Removed as stale by a collector on another host while we slept: claim it again.
                with contextlib.suppress(OSError):
                    lease.touch()


_leases = _Leases()


def _lease_name() -> str:
    return f"{socket.gethostname()}-{os.getpid()}"


def _release_mapping(annoy: AnnoyIndex | None, lease: Path, owner_pid: int) -> None:
    # Unmap first, then drop the lease: the file may be deleted as soon as the lease is gone.
    if annoy is not None:
        annoy.unload()
    _leases.release(lease, owner_pid)


def load_leased(path: Path) -> LoadedIndex:
    """Load ``path`` holding a lease that is released (after unmapping) when the index is collected."""
    path = Path(path)
    lease = _leases.acquire(path)
    owner_pid = os.getpid()
    try:
        loaded = LoadedIndex.load(path)
    except BaseException:
        _leases.release(lease, owner_pid)
        raise
    loaded.lease_path = lease
    weakref.finalize(loaded, _release_mapping, loaded._annoy, lease, owner_pid)
    return loaded


@dataclass
class _CacheEntry:
    version: str | None
    index: LoadedIndex | None
    pid: int
    checked_at: float
    heartbeat_at: float


class IndexCache:
    """The active index of each root, loaded once per process and reloaded when ACTIVE changes.

    ``get`` re-reads the pointer file at most every ``recheck_seconds`` and refreshes this
    process's lease at most every ``heartbeat_seconds``. A switched-away index is not unloaded
    under callers still holding it: the cache drops its reference, and the mapping and the lease
    go when the last reference does (CPython frees it at once). If the new version cannot be
    loaded the previous one keeps being served, and the load is retried at the next recheck.
    """

    def __init__(self, *, recheck_seconds: float = 1.0, heartbeat_seconds: float = 60.0, clock=time.monotonic) -> None:
        self.recheck_seconds = recheck_seconds
        self.heartbeat_seconds = heartbeat_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._entries: dict[Path, _CacheEntry] = {}
        self.last_error: IndexUnavailable | None = None

    def get(self, root: Path) -> LoadedIndex | None:
        """The loaded active index under ``root``, or None if none is active or loadable."""
        root = Path(root).resolve()
        with self._lock:
            now = self._clock()
            entry = self._entries.get(root)
            if entry is not None and entry.pid != os.getpid():
                entry = None  # forked: take this process's own lease and mapping
            if entry is not None and now - entry.checked_at < self.recheck_seconds:
                self._heartbeat(entry, now)
                return entry.index
            version = active_version(root)
            if entry is not None and version == entry.version:
                entry.checked_at = now
                self._heartbeat(entry, now)
                return entry.index
            index = None
            if version is not None:
                try:
                    index = load_leased(root / version)
                except IndexUnavailable as error:
                    self.last_error = error
                    logger.warning("Cannot load index version %s: %s", version, error)
                    if entry is None:
                        # Remember "nothing loaded" (not the failed name) so the next recheck retries.
                        entry = self._entries[root] = _CacheEntry(None, None, os.getpid(), now, now)
                    entry.checked_at = now
                    self._heartbeat(entry, now)
                    return entry.index
            self._entries[root] = _CacheEntry(version, index, os.getpid(), now, now)
            return index

    def clear(self) -> None:
        """Drop every cached index (their leases go once no caller holds them)."""
        with self._lock:
            self._entries.clear()

    def _heartbeat(self, entry: _CacheEntry, now: float) -> None:
        if entry.index is None or now - entry.heartbeat_at < self.heartbeat_seconds:
            return
        entry.heartbeat_at = now
        if entry.index.lease_path is not None:
            _leases.heartbeat(entry.index.lease_path)


# ---------------------------------------------------------------------------------------------
# Garbage collection


def collect_garbage(*, root: Path, keep: int = 2, stale_lease_seconds: float = 3600) -> list[str]:
    """Remove versions that are not active, not among the ``keep`` newest, and have no live lease.

    A lease is live if its mtime is younger than ``stale_lease_seconds`` or, for this host, its
    process is still running. Also removes build and trash directories and ACTIVE temp files
    older than an hour (abandoned by a crashed process). Returns the removed directory names.
    """
    root = Path(root)
    if not root.is_dir():
        return []
    removed: list[str] = []
    versions = list_versions(root)
    protected = set(versions[-keep:]) if keep > 0 else set()
    for name in versions:
        if name in protected or name == active_version(root) or _has_live_lease(root / name, stale_lease_seconds):
            continue
        # Rename first so the version vanishes from listings and loads at once; recheck leases
        # after, in case a process leased it between our check and the rename.
        trash = root / f"{TRASH_PREFIX}{name}-{uuid.uuid4().hex[:8]}"
        try:
            os.rename(root / name, trash)
        except FileNotFoundError:
            continue  # another collector got there first
        if name == active_version(root) or _has_live_lease(trash, stale_lease_seconds):
            os.rename(trash, root / name)
            continue
        shutil.rmtree(trash, ignore_errors=True)
        removed.append(name)
        logger.info("Removed index version %s", name)

    cutoff = time.time() - TEMP_MAX_AGE_SECONDS
    for entry in root.iterdir():
        temporary = entry.name.startswith((BUILDING_PREFIX, TRASH_PREFIX, f"{ACTIVE_FILE}.tmp-"))
        try:
            if not temporary or entry.stat().st_mtime >= cutoff:
                continue
        except FileNotFoundError:
            continue
        if entry.is_dir():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            entry.unlink(missing_ok=True)
        removed.append(entry.name)
    return removed


def _has_live_lease(version_path: Path, stale_lease_seconds: float) -> bool:
    leases = version_path / LEASES_DIR
    if not leases.is_dir():
        return False
    now = time.time()
    hostname = socket.gethostname()
    for lease in leases.iterdir():
        try:
            if now - lease.stat().st_mtime < stale_lease_seconds:
                return True
        except FileNotFoundError:
            continue
        host, _, pid = lease.name.rpartition("-")
        if host == hostname and pid.isdigit() and _pid_running(int(pid)):
            return True
    return False


def _pid_running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


# ---------------------------------------------------------------------------------------------
# Exact search and merging


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


# ---------------------------------------------------------------------------------------------
# Recall measurement and parameter choice


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


# ---------------------------------------------------------------------------------------------
# File helpers


def _file_digest(path: Path) -> str:
    size = path.stat().st_size
    digest = hashlib.blake2b(str(size).encode(), digest_size=16)
    with open(path, "rb") as handle:
        digest.update(handle.read(_DIGEST_SPAN))
        if size > _DIGEST_SPAN:
            handle.seek(max(_DIGEST_SPAN, size - _DIGEST_SPAN))
            digest.update(handle.read(_DIGEST_SPAN))
    return digest.hexdigest()


def _write_durably(path: Path, data: bytes) -> None:
    with open(path, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())


def _fsync_path(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
