"""Memory-mapping a version (LoadedIndex) and querying its spaces; leased loading."""

from __future__ import annotations

import math
import os
import weakref
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from annoy import AnnoyIndex

from .files import (
    FORMAT1_INDEX_FILE,
    ITEMS_FILE,
    META_FILE,
    METRIC,
    POSITIONS_FILE,
    READABLE_FORMATS,
    SIMILAR,
    _file_digest,
    space_file,
)
from .leases import _leases
from .versions import IndexUnavailable, read_meta

_SPACE_FIELDS = {"dimension", "n_trees", "search_k", "file_bytes"}


@dataclass
class _Space:
    name: str
    annoy: AnnoyIndex | None
    dimension: int
    n_trees: int
    search_k: int
    tuned_k: int


class LoadedIndex:
    """A memory-mapped index version with one Annoy file per space. Queries are safe from several threads at once.

    ``unload`` must not race with queries in other threads; ``IndexCache`` never calls it and
    lets the mappings go when the last reference is dropped instead. All spaces come from the
    one version directory, so a caller holding a LoadedIndex never mixes two versions' spaces.
    """

    def __init__(
        self, *, path: Path, spaces: dict[str, _Space], items: np.ndarray, meta: dict, positions: np.ndarray | None
    ) -> None:
        self.path = Path(path)
        self.version = self.path.name
        self.meta = meta
        self.items = items
        self._spaces = spaces
        self._positions = positions
        self.lease_path: Path | None = None  # set by load_leased
        # Product id -> item id without a dict (1M entries would cost ~100 MB): binary search.
        self._order = np.argsort(items, kind="stable")
        self._sorted_ids = items[self._order]
        # The similar space's parameters under their format-1 names.
        primary = spaces.get(SIMILAR) or next(iter(spaces.values()))
        self.dimension = primary.dimension
        self.n_trees = primary.n_trees
        self.search_k = primary.search_k
        self.tuned_k = primary.tuned_k

    @classmethod
    def load(cls, path: Path) -> LoadedIndex:
        """Map the version directory ``path``; IndexUnavailable if anything is missing or wrong."""
        path = Path(path)
        meta = read_meta(path)
        specs = _space_specs(path, meta)
        count = meta["count"]
        items = _load_array(path, ITEMS_FILE, meta, np.int64, (count,), mmap=False)
        positions = None
        if meta.get("positions"):
            positions = _load_array(path, POSITIONS_FILE, meta, np.float32, (count, 2), mmap=True)
        spaces: dict[str, _Space] = {}
        try:
            for name, (file_name, spec) in specs.items():
                spaces[name] = _load_space(path / file_name, name, spec, count)
        except BaseException:
            for space in spaces.values():
                space.annoy.unload()
            raise
        return cls(path=path, spaces=spaces, items=items, meta=meta, positions=positions)

    @property
    def spaces(self) -> tuple[str, ...]:
        return tuple(self._spaces)

    def has_space(self, name: str) -> bool:
        return name in self._spaces

    def dimension_of(self, space: str) -> int:
        return self._space(space).dimension

    @property
    def annoy(self) -> AnnoyIndex:
        """The similar space's AnnoyIndex (for tuning helpers written before spaces)."""
        return self._annoy(SIMILAR if SIMILAR in self._spaces else self.spaces[0])

    def __len__(self) -> int:
        return int(self.items.size)

    def __contains__(self, product_id: object) -> bool:
        return self._item_of(product_id) is not None

    def __repr__(self) -> str:
        spaces = ", ".join(f"{s.name}={s.dimension}d/{s.n_trees} trees" for s in self._spaces.values())
        return f"<LoadedIndex {self.version} items={len(self)} {spaces}>"

    def effective_search_k(self, k: int, space: str = SIMILAR) -> int:
        """The space's tuned search_k, scaled up when more neighbours than it was tuned for are asked."""
        tuned = self._space(space)
        return tuned.search_k * max(1, math.ceil(k / tuned.tuned_k))

    def query(
        self, vector: np.ndarray, *, k: int, space: str = SIMILAR, search_k: int | None = None
    ) -> list[tuple[int, float]]:
        """The ``k`` nearest products to ``vector`` in ``space`` as (product_id, cosine similarity), best first."""
        tuned = self._space(space)
        vector = np.asarray(vector, dtype=np.float32).reshape(-1)
        if vector.size != tuned.dimension:
            raise ValueError(f"query has dimension {vector.size}, the {space} space has {tuned.dimension}")
        if k <= 0:
            return []
        search_k = self.effective_search_k(k, space) if search_k is None else search_k
        # A list converts to Annoy's vector faster than a numpy array does, element by element.
        found = self._annoy(space).get_nns_by_vector(vector.tolist(), k, search_k=search_k, include_distances=True)
        return [(int(self.items[i]), _cosine(d)) for i, d in zip(*found, strict=True)]

    def query_product(
        self, product_id: int, *, k: int, space: str = SIMILAR, search_k: int | None = None
    ) -> list[tuple[int, float]]:
        """The ``k`` nearest neighbours of an indexed product in ``space``, itself excluded; [] if not indexed."""
        item = self._item_of(product_id)
        if item is None or k <= 0:
            return []
        # Tuning measures exactly this: k neighbours of an item, asking Annoy for k + 1 at the tuned search_k.
        search_k = self.effective_search_k(k, space) if search_k is None else search_k
        items, distances = self._annoy(space).get_nns_by_item(item, k + 1, search_k=search_k, include_distances=True)
        results = [(int(self.items[i]), _cosine(d)) for i, d in zip(items, distances, strict=True) if i != item]
        return results[:k]

    def vector(self, product_id: int, space: str = SIMILAR) -> np.ndarray | None:
        """The indexed ``space`` vector of ``product_id`` (float32), or None if it is not in this version."""
        annoy = self._annoy(space)
        item = self._item_of(product_id)
        if item is None:
            return None
        return np.asarray(annoy.get_item_vector(item), dtype=np.float32)

    def position(self, product_id: int) -> tuple[float, float] | None:
        """The product's map position as screen fractions (x, y from the top), or None if unknown."""
        item = self._item_of(product_id)
        if item is None or self._positions is None:
            return None
        x, y = self._positions[item]
        return float(x), float(y)

    def positions_of(self, product_ids: np.ndarray) -> np.ndarray:
        """Map positions of ``product_ids`` as float32 (n, 2), NaN for products without one."""
        ids = np.asarray(product_ids, dtype=np.int64).reshape(-1)
        result = np.full((ids.size, 2), np.nan, dtype=np.float32)
        if self._positions is None or ids.size == 0 or self._sorted_ids.size == 0:
            return result
        where = np.minimum(np.searchsorted(self._sorted_ids, ids), self._sorted_ids.size - 1)
        known = self._sorted_ids[where] == ids
        result[known] = self._positions[self._order[where[known]]]
        return result

    def unload(self) -> None:
        """Unmap the files now. Idempotent; later queries raise IndexUnavailable."""
        for space in self._spaces.values():
            annoy, space.annoy = space.annoy, None
            if annoy is not None:
                annoy.unload()
        self._positions = None

    def _space(self, name: str) -> _Space:
        try:
            return self._spaces[name]
        except KeyError:
            raise IndexUnavailable(f"index {self.version} has no {name!r} space (it has {', '.join(self.spaces)})")

    def _annoy(self, space: str) -> AnnoyIndex:
        annoy = self._space(space).annoy
        if annoy is None:
            raise IndexUnavailable(f"index {self.version} was unloaded")
        return annoy

    def _item_of(self, product_id: object) -> int | None:
        try:
            key = int(product_id)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            return None
        position = int(np.searchsorted(self._sorted_ids, key))
        if position < self._sorted_ids.size and self._sorted_ids[position] == key:
            return int(self._order[position])
        return None


def _space_specs(path: Path, meta: dict) -> dict[str, tuple[str, dict]]:
    """{space: (Annoy file name, its meta section)}; a format-1 version is a similar-only one."""
    version_format = meta.get("format", 1)
    if version_format not in READABLE_FORMATS:
        raise IndexUnavailable(f"{path / META_FILE}: format {version_format} is not one this code reads")
    if "count" not in meta:
        raise IndexUnavailable(f"{path / META_FILE} lacks ['count']")
    if version_format == 1:
        sections = {SIMILAR: (FORMAT1_INDEX_FILE, meta)}
    else:
        spaces = meta.get("spaces")
        if not isinstance(spaces, dict) or not spaces:
            raise IndexUnavailable(f"{path / META_FILE} lacks ['spaces']")
        try:
            # Similar first, then the rest by name: meta.json's keys are sorted, the order of spaces is not.
            names = sorted(spaces, key=lambda name: (name != SIMILAR, name))
            sections = {name: (space_file(name), spaces[name]) for name in names}
        except ValueError as error:
            raise IndexUnavailable(f"{path / META_FILE}: {error}") from error
    for name, (_, section) in sections.items():
        missing = _SPACE_FIELDS - set(section)
        if missing:
            where = "" if version_format == 1 else f" space {name!r}"
            raise IndexUnavailable(f"{path / META_FILE}{where} lacks {sorted(missing)}")
    return sections


def _load_space(index_path: Path, name: str, spec: dict, count: int) -> _Space:
    _check_file(index_path, spec.get("file_bytes"), spec.get("file_digest"))
    dimension = int(spec["dimension"])
    annoy = AnnoyIndex(dimension, METRIC)
    try:
        annoy.load(str(index_path))
    except OSError as error:
        raise IndexUnavailable(f"Annoy cannot load {index_path}: {error}") from error
    if annoy.get_n_items() != count:
        annoy.unload()
        raise IndexUnavailable(f"{index_path} holds {annoy.get_n_items()} items, expected {count}")
    return _Space(
        name=name,
        annoy=annoy,
        dimension=dimension,
        n_trees=int(spec["n_trees"]),
        search_k=int(spec["search_k"]),
        tuned_k=int(spec.get("tuned_k", 10)),
    )


def _check_file(path: Path, expected_bytes: int | None, expected_digest: str | None) -> None:
    try:
        size = path.stat().st_size
    except OSError as error:
        raise IndexUnavailable(f"{path}: {error}") from error
    if expected_bytes is not None and size != expected_bytes:
        raise IndexUnavailable(f"{path} is {size} bytes, meta.json recorded {expected_bytes}")
    if expected_digest and _file_digest(path) != expected_digest:
        raise IndexUnavailable(f"{path} does not match the digest in meta.json")


def _load_array(path: Path, name: str, meta: dict, dtype: type, shape: tuple[int, ...], *, mmap: bool) -> np.ndarray:
    record = meta.get("files", {}).get(name, {})
    _check_file(path / name, record.get("bytes"), record.get("digest"))
    try:
        array = np.load(path / name, allow_pickle=False, mmap_mode="r" if mmap else None)
    except (OSError, ValueError) as error:
        raise IndexUnavailable(f"cannot read {path / name}: {error}") from error
    if array.dtype != dtype or array.shape != shape:
        raise IndexUnavailable(f"{path / name} has {array.shape} {array.dtype}, expected {shape} {np.dtype(dtype)}")
    return array


def _cosine(angular_distance: float) -> float:
    # Annoy's angular distance is the Euclidean distance of the normalised vectors: sqrt(2 - 2 cos).
    return 1.0 - angular_distance * angular_distance / 2.0


def _release_mappings(annoys: list[AnnoyIndex], lease: Path, owner_pid: int) -> None:
    # Unmap first, then drop the lease: the files may be deleted as soon as the lease is gone.
    for annoy in annoys:
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
    annoys = [space.annoy for space in loaded._spaces.values() if space.annoy is not None]
    weakref.finalize(loaded, _release_mappings, annoys, lease, owner_pid)
    return loaded
