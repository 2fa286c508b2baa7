"""Lease files: one per process mapping a version, so garbage collection leaves it alone."""

from __future__ import annotations

import contextlib
import os
import socket
import threading
from pathlib import Path

from .files import LEASES_DIR
from .versions import IndexUnavailable


class _Leases:
    """Process-wide lease files, reference-counted so two holders of one version share one file."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: dict[Path, int] = {}

    def acquire(self, version_path: Path) -> Path:
        lease = version_path / LEASES_DIR / _lease_name()
        with self._lock:
            try:
                lease.parent.mkdir(exist_ok=True)
                lease.touch()
            except OSError as error:  # the version is gone (or being collected)
                raise IndexUnavailable(f"cannot lease index version {version_path}: {error}") from error
            self._counts[lease] = self._counts.get(lease, 0) + 1
        return lease

    def release(self, lease: Path, owner_pid: int) -> None:
        if os.getpid() != owner_pid:
            return  # a forked child must not remove its parent's lease
        with self._lock:
            remaining = self._counts.get(lease, 0) - 1
            if remaining > 0:
                self._counts[lease] = remaining
                return
            self._counts.pop(lease, None)
            with contextlib.suppress(FileNotFoundError):
                lease.unlink()

    def heartbeat(self, lease: Path) -> None:
        with self._lock:
            try:
                os.utime(lease)
            except FileNotFoundError:
                # Removed as stale by a collector on another host while we slept: claim it again.
                with contextlib.suppress(OSError):
                    lease.touch()


_leases = _Leases()


def _lease_name() -> str:
    return f"{socket.gethostname()}-{os.getpid()}"
