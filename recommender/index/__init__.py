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

from .build import IndexBuild, build_index
from .cache import IndexCache
from .files import (
    ACTIVE_FILE,
    BUILDING_PREFIX,
    FORMAT_VERSION,
    INDEX_FILE,
    ITEMS_FILE,
    LEASES_DIR,
    META_FILE,
    METRIC,
    TRASH_PREFIX,
)
from .garbage import TEMP_MAX_AGE_SECONDS, collect_garbage
from .loading import LoadedIndex, load_leased
from .search import exact_neighbours, exact_search, merge_results
from .tuning import (
    DEFAULT_N_TREES_OPTIONS,
    DEFAULT_SEARCH_K_OPTIONS,
    DEFAULT_TARGET_RECALL,
    QUERY_TIME_TIE,
    _measure,  # bench/index_bench.py times queries with it
    choose_parameters,
    recall_at_k,
    recall_curve,
)
from .versions import IndexUnavailable, activate, active_version, list_versions, read_meta

__all__ = [
    "ACTIVE_FILE",
    "BUILDING_PREFIX",
    "DEFAULT_N_TREES_OPTIONS",
    "DEFAULT_SEARCH_K_OPTIONS",
    "DEFAULT_TARGET_RECALL",
    "FORMAT_VERSION",
    "INDEX_FILE",
    "ITEMS_FILE",
    "LEASES_DIR",
    "META_FILE",
    "METRIC",
    "QUERY_TIME_TIE",
    "TEMP_MAX_AGE_SECONDS",
    "TRASH_PREFIX",
    "IndexBuild",
    "IndexCache",
    "IndexUnavailable",
    "LoadedIndex",
    "_measure",
    "activate",
    "active_version",
    "build_index",
    "choose_parameters",
    "collect_garbage",
    "exact_neighbours",
    "exact_search",
    "list_versions",
    "load_leased",
    "merge_results",
    "read_meta",
    "recall_at_k",
    "recall_curve",
]
