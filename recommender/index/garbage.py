"""Removing old versions that no process holds, and abandoned temporary files."""

from __future__ import annotations

import logging
import os
import shutil
import socket
import time
import uuid
from pathlib import Path

from .files import ACTIVE_FILE, BUILDING_PREFIX, LEASES_DIR, TRASH_PREFIX
from .versions import active_version, list_versions

# The package's one logger name, as before the split: "recommender.index".
logger = logging.getLogger(__package__)

TEMP_MAX_AGE_SECONDS = 3600.0


def collect_garbage(*, root: Path, keep: int = 2, stale_lease_seconds: float = 3600) -> list[str]:
    """Remove versions that are not active, not among the ``keep`` newest, and have no live lease.

    A lease is live if its mtime is younger than ``stale_lease_seconds`` or, for this host, its
    process is still running. Also removes build and trash directories and ACTIVE temp files
    older than an hour (abandoned by a crashed process; a live IndexBuilder touches its build
    directory every minute). Returns the removed directory names.
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
