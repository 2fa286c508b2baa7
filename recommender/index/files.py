"""On-disk layout names of an index root and the durable-write and digest helpers."""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path

METRIC = "angular"
SIMILAR = "similar"  # the "looks like" space; the one every version has
GOES_WITH = "goes_with"  # the "goes well with" space
ANN_SUFFIX = ".ann"
INDEX_FILE = f"{SIMILAR}{ANN_SUFFIX}"  # the similar space's Annoy file, the one file callers knew before spaces
FORMAT1_INDEX_FILE = "index.ann"  # format 1: a single space, read as "similar"
ITEMS_FILE = "items.npy"
POSITIONS_FILE = "positions.npy"
META_FILE = "meta.json"
LEASES_DIR = "leases"
ACTIVE_FILE = "ACTIVE"
BUILDING_PREFIX = ".building-"
TRASH_PREFIX = ".trash-"
FORMAT_VERSION = 2
READABLE_FORMATS = (1, 2)

# Checksummed head and tail of each file: cheap enough for every load, catches a file replaced
# or truncated to a multiple of the node size (which Annoy itself accepts).
_DIGEST_SPAN = 1 << 20

_SPACE_NAME = re.compile(r"[a-z][a-z0-9_]{0,39}")


def space_file(space: str) -> str:
    """The Annoy file of ``space`` inside a format-2 version directory."""
    if not _SPACE_NAME.fullmatch(space):
        raise ValueError(f"space names are lower-case identifiers, got {space!r}")
    return f"{space}{ANN_SUFFIX}"


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
