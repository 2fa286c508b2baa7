"""Telling waiting requests that an upload changed, so a long-poll answers at the change and not a poll later.

Where there is Redis (REDIS_URL), the worker publishes on the upload's channel after its change commits and
the waiting request, subscribed before it first looks, wakes at once. Without Redis (the one-machine demo)
the request re-reads the database every POLL_SECONDS. Either way the database is the truth: a message only
says "look again".
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable

from django.conf import settings

from recommender.models import InspirationUpload

logger = logging.getLogger(__name__)
POLL_SECONDS = 0.1
RECHECK_SECONDS = 1.0  # with Redis, look again at least this often in case a message was missed

_client_lock = threading.Lock()
_clients: dict[str, object] = {}


def _redis():
    import redis

    url = settings.REDIS_URL
    with _client_lock:
        if url not in _clients:
            _clients[url] = redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=2)
        return _clients[url]


def upload_state(upload: InspirationUpload) -> str:
    """What a waiting client has seen, and whether anything follows. ``done:pieces``: the answer is in and the
    follow-up task is still looking for the photo's pieces (the room answer), so a page showing the answer keeps
    waiting; ``done:answer`` (or ``failed:answer``) is the last state: the pieces are in, known absent, or never
    looked for. ``queued:answer`` and ``processing:answer`` come before the answer (the ``:answer`` suffix is what
    clients have always read)."""
    if upload.pieces_pending:
        return f"{upload.status}:pieces"
    return f"{upload.status}:answer"


def upload_state_final(upload: InspirationUpload) -> bool:
    """Nothing follows this state: failed, or answered with its pieces no longer being looked for."""
    return upload.status == InspirationUpload.Status.FAILED or (
        upload.status == InspirationUpload.Status.DONE and not upload.pieces_pending
    )


def _channel(upload_id: str) -> str:
    return f"lookalike:upload:{upload_id}"


def upload_changed(upload_id: str) -> None:
    """Call after the change committed. Never raises: a lost message costs a waiting page one recheck."""
    if not settings.REDIS_URL:
        return
    try:
        _redis().publish(_channel(upload_id), b"changed")
    except Exception:
        logger.warning("could not publish the change of upload %s", upload_id, exc_info=True)


def wait_for_change(upload_id: str, *, timeout: float, changed: Callable[[], bool]) -> bool:
    """Return True as soon as ``changed()`` (which reads the database) is true, False after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    pubsub = None
    if settings.REDIS_URL:
        try:
            pubsub = _redis().pubsub(ignore_subscribe_messages=True)
            pubsub.subscribe(_channel(upload_id))  # before the first look, so no change falls in between
        except Exception:
            logger.warning("long-poll falls back to polling: Redis unavailable", exc_info=True)
            pubsub = None
    try:
        while True:
            if changed():
                return True
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            if pubsub is not None:
                try:
                    pubsub.get_message(timeout=min(remaining, RECHECK_SECONDS))
                    continue
                except Exception:
                    pubsub = None
            time.sleep(min(remaining, POLL_SECONDS))
    finally:
        if pubsub is not None:
            with contextlib.suppress(Exception):
                pubsub.close()
