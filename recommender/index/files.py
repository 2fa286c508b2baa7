"""On-disk layout names of an index root and the durable-write and digest helpers."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

METRIC = "angular"
INDEX_FILE = "index.ann"
ITEMS_FILE = "items.npy"
META_FILE = "meta.json"
LEASES_DIR = "leases"
ACTIVE_FILE = "ACTIVE"
BUILDING_PREFIX = ".building-"
TRASH_PREFIX = ".trash-"
FORMAT_VERSION = 1

# Checksummed head and tail of index.ann: cheap enough for every load, catches a file replaced
# or truncated to a multiple of the node size (which Annoy itself accepts).
_DIGEST_SPAN = 1 << 20


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
