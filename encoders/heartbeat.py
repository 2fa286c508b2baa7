"""A training's heartbeat, and failing the trainings whose process died (no torch: admin and beat use it).

``encoder_train`` creates its version "training" and, while it trains, a thread writes the database's time
(``Now()``) to the version's ``heartbeat_at`` every HEARTBEAT_SECONDS. A process that is killed, runs out of
memory or loses its machine stops beating; once its heartbeat is older than STALE_SECONDS by the database's clock
(never this machine's), ``versions_interrupted_fail`` marks the version failed ("Interrupted"), so admin stops
showing it as training and nothing waits for it. It runs when a training starts and every few minutes from beat.
"""

from __future__ import annotations

import logging
import threading
from datetime import timedelta

from django.db import close_old_connections, connection
from django.db.models import Q
from django.db.models.functions import Now

from encoders.models import EncoderVersion

logger = logging.getLogger(__name__)
HEARTBEAT_SECONDS = 30
STALE_SECONDS = 300  # ten missed beats: a process this silent is gone (a busy one still beats: it is a thread)
INTERRUPTED = (
    f"Interrupted: the process training it stopped before it finished (it gave no sign of life for {STALE_SECONDS} s)."
)


class TrainingHeartbeat:
    """Beats for ``version`` for as long as the ``with`` block runs: writes ``heartbeat_at = Now()`` on entry and
    then every ``every`` seconds from a thread."""

    def __init__(self, version: EncoderVersion, *, every: float = HEARTBEAT_SECONDS):
        self.version_id = version.pk
        self.every = every
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def beat(self) -> None:
        EncoderVersion.objects.filter(pk=self.version_id).update(heartbeat_at=Now())

    def __enter__(self) -> TrainingHeartbeat:
        self.beat()
        self._thread = threading.Thread(target=self._run, name=f"heartbeat-{self.version_id}", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        try:
            while not self._stop.wait(self.every):
                close_old_connections()
                try:
                    self.beat()
                except Exception:  # the database is away for a moment: the next beat tries again
                    logger.exception("could not write the heartbeat of encoder version %s", self.version_id)
        finally:
            connection.close()


def versions_interrupted_fail() -> list[str]:
    """Mark failed every version still "training" whose heartbeat (or, for a version from before heartbeats, whose
    creation) is older than STALE_SECONDS by the database's clock; returns their names. A version that beats again
    later (its process was only cut off from the database) is saved "ready" or "failed" by that process when it
    ends: its files are left alone here."""
    stale = Now() - timedelta(seconds=STALE_SECONDS)
    silent = EncoderVersion.objects.filter(status=EncoderVersion.Status.TRAINING).filter(
        Q(heartbeat_at__lt=stale) | Q(heartbeat_at__isnull=True, created_at__lt=stale)
    )
    names = list(silent.values_list("name", flat=True))
    if names:
        EncoderVersion.objects.filter(name__in=names, status=EncoderVersion.Status.TRAINING).update(
            status=EncoderVersion.Status.FAILED, error=INTERRUPTED
        )
        logger.warning("encoder versions whose training process stopped, now failed: %s", ", ".join(names))
    return names
