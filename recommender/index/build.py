"""Building a new, complete, not yet active version directory."""

from __future__ import annotations

import json
import logging
import os
import shutil
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from annoy import AnnoyIndex

from .files import (
    BUILDING_PREFIX,
    FORMAT_VERSION,
    INDEX_FILE,
    ITEMS_FILE,
    META_FILE,
    METRIC,
    _file_digest,
    _fsync_path,
    _write_durably,
)

# The package's one logger name, as before the split: "recommender.index".
logger = logging.getLogger(__package__)


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
