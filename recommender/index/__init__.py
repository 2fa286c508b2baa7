"""The Annoy nearest-neighbour index: build (streamed), version, switch, load, cache, clean up, tune.

Pure Python + numpy + annoy, no Django: callers pass paths and parameters (from settings).

On-disk layout under an index ``root``::

    root/
      ACTIVE                              name of the active version (replaced, never edited)
      20261126T172500.123456Z-1a2b3c4d/   one complete, immutable version (format 2)
        similar.ann                       Annoy file (metric "angular") of the "looks like" space
        goes_with.ann                     Annoy file of the "goes well with" space
        items.npy                         int64: Annoy item i of every space is product items[i]
        positions.npy                     float32 (count, 2): map position of items[i] as screen
                                          fractions (x, y from the top); only if positions were given
        meta.json                         format, count, seed, built_at, metadata, the size and digest
                                          of each file, and per space: dimension, n_trees, search_k,
                                          tuned_k, measured recall_at_10, file_bytes, file_digest
        leases/<hostname>-<pid>           one per process mapping the version (mtime = heartbeat)
        ...                               anything the builder's caller added in before_publish
      .building-<timestamp>-<hex>-<pid>/  a build in progress; renamed to its version name when complete
      .trash-<name>-<hex>/                a version being deleted by collect_garbage

A format-1 version (one ``index.ann`` and single-space fields in meta.json) still loads, as a
version whose only space is "similar".

Invariants:
- A version directory never changes after its rename into place. Annoy readers mmap the
  ``.ann`` files and get SIGBUS if one is truncated or rewritten, so files are only ever written
  under a temporary name and removed whole (by ``collect_garbage``, once no live lease remains).
- All spaces of a version are built in its one directory, so they switch together: a reader
  never pairs one version's similar space with another's goes_with.
- ``ACTIVE`` only ever changes by ``os.replace``, so a reader sees the old or the new name.
- Version names start with a UTC timestamp taken when the build finishes, so sorting names sorts
  versions by build time.
"""

from .build import IndexBuild, IndexBuilder, SpaceBuild, build_index
from .cache import IndexCache
from .calibration import (
    DEFAULT_TUNING_QUERIES,
    N_TREES_RULE,
    SEARCH_ALL_MAX_ITEMS,
    RecallEstimate,
    calibrate_search_k,
    choose_n_trees,
    estimate_recall,
    exact_truth,
    measured_recall,
    sample_queries,
)
from .files import (
    ACTIVE_FILE,
    BUILDING_PREFIX,
    FORMAT1_INDEX_FILE,
    FORMAT_VERSION,
    GOES_WITH,
    INDEX_FILE,
    ITEMS_FILE,
    LEASES_DIR,
    META_FILE,
    METRIC,
    POSITIONS_FILE,
    SIMILAR,
    TRASH_PREFIX,
    space_file,
)
from .garbage import TEMP_MAX_AGE_SECONDS, collect_garbage
from .loading import LoadedIndex, load_leased
from .positions import normalise_positions
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
    "DEFAULT_TUNING_QUERIES",
    "FORMAT1_INDEX_FILE",
    "FORMAT_VERSION",
    "GOES_WITH",
    "INDEX_FILE",
    "ITEMS_FILE",
    "LEASES_DIR",
    "META_FILE",
    "METRIC",
    "N_TREES_RULE",
    "POSITIONS_FILE",
    "QUERY_TIME_TIE",
    "SEARCH_ALL_MAX_ITEMS",
    "SIMILAR",
    "TEMP_MAX_AGE_SECONDS",
    "TRASH_PREFIX",
    "IndexBuild",
    "IndexBuilder",
    "IndexCache",
    "IndexUnavailable",
    "LoadedIndex",
    "RecallEstimate",
    "SpaceBuild",
    "_measure",
    "activate",
    "active_version",
    "build_index",
    "calibrate_search_k",
    "choose_n_trees",
    "choose_parameters",
    "collect_garbage",
    "exact_neighbours",
    "estimate_recall",
    "exact_search",
    "exact_truth",
    "list_versions",
    "load_leased",
    "measured_recall",
    "merge_results",
    "normalise_positions",
    "read_meta",
    "recall_at_k",
    "recall_curve",
    "sample_queries",
    "space_file",
]
