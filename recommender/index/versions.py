"""Version directories under a root and the ACTIVE pointer: list, read, activate."""

from __future__ import annotations

import json
import logging
import os
import threading
from pathlib import Path

from .files import ACTIVE_FILE, META_FILE, _fsync_path, _write_durably

# The package's one logger name, as before the split: "recommender.index".
logger = logging.getLogger(__package__)


class IndexUnavailable(Exception):
    """The index version cannot be used (missing, truncated, corrupt, unloaded); fall back to exact search."""


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
