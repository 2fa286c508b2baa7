"""Memory-mapping a version (LoadedIndex) and querying it; leased loading."""

from __future__ import annotations

import math
import os
import weakref
from pathlib import Path

import numpy as np
from annoy import AnnoyIndex

from .files import INDEX_FILE, ITEMS_FILE, META_FILE, METRIC, _file_digest
from .leases import _leases
from .versions import IndexUnavailable, read_meta


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
