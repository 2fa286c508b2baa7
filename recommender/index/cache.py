"""The per-process cache of each root's active index."""

from __future__ import annotations

import logging
import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from .leases import _leases
from .loading import LoadedIndex, load_leased
from .versions import IndexUnavailable, active_version

# The package's one logger name, as before the split: "recommender.index".
logger = logging.getLogger(__package__)


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
