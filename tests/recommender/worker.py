"""A real Celery worker in a subprocess, on the real Redis, sharing the test database and folders."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from urllib.parse import urlparse, urlunparse

from django.conf import settings
from django.db import connection

ROOT = Path(__file__).resolve().parents[2]


def database_url() -> str:
    """The URL of the database this test runs on (pytest-django's test database)."""
    db = connection.settings_dict
    if db["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{db['NAME']}"
    user = db.get("USER") or "postgres"
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    return f"postgres://{user}{password}@{db.get('HOST') or '127.0.0.1'}:{db.get('PORT') or 5432}/{db['NAME']}"


def broker_url(redis_url: str, database: int = 14) -> str:
    """A Redis database of its own, so no other worker on this Redis takes the test's tasks."""
    return urlunparse(urlparse(redis_url)._replace(path=f"/{database}"))


QUEUES = "default,pictures,products,training"


class Worker:
    """``scratch`` is the worker machine's own local folder (VAR_DIR, encoder feature cache); everything else it
    shares with the test: the database, the broker and the MEDIA_ROOT, MODELS_ROOT and INDEX_ROOT folders."""

    def __init__(
        self,
        *,
        broker: str,
        log: Path,
        encoder_config: dict,
        concurrency: int = 2,
        scratch: Path | None = None,
        queues: str = QUEUES,
    ):
        self.queues = queues
        self.broker = broker
        self.log = log
        self.env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "DATABASE_URL": database_url(),
            "REDIS_URL": broker,
            "CELERY_BROKER_URL": broker,
            "MEDIA_ROOT": str(settings.MEDIA_ROOT),
            "MODELS_ROOT": str(settings.MODELS_ROOT),
            "INDEX_ROOT": str(settings.INDEX_ROOT),
            "ENCODER_CACHE_DIR": str(scratch / "encoder-cache" if scratch else settings.ENCODER_CACHE_DIR),
            "ENCODER_BACKGROUNDS": "",
            "EVALUATION_QUERIES": "",
            "EVALUATION_ROOMS": "",
            "INDEX_RELOAD_SECONDS": "0.2",
            "ENCODER_CONFIG": json.dumps(encoder_config),
            "TORCH_THREADS": "1",
            "PYTHONUNBUFFERED": "1",
        }
        if scratch is not None:
            self.env["VAR_DIR"] = str(scratch)
        self.concurrency = concurrency
        self.name = f"test-{uuid.uuid4().hex[:6]}@%h"
        self.process: subprocess.Popen | None = None

    def start(self, timeout: float = 90, *, flush: bool = True) -> None:
        """Start and wait until ready; ``flush`` empties the broker's database first (a clean slate)."""
        import redis

        if flush:
            redis.Redis.from_url(self.broker).flushdb()
        command = [
            sys.executable, "-m", "celery", "-A", "config", "worker",
            "-Q", self.queues, "-c", str(self.concurrency), "-n", self.name,
            "--without-gossip", "--without-mingle", "--without-heartbeat", "-l", "INFO",
        ]  # fmt: skip
        self.process = subprocess.Popen(
            command,
            cwd=ROOT,
            env=self.env,
            stdout=self.log.open("ab"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the worker exited with {self.process.returncode}:\n{self.log.read_text()[-3000:]}")
            if "ready." in self.log.read_text():
                return
            time.sleep(0.2)
        raise RuntimeError(f"the worker did not start in {timeout} s:\n{self.log.read_text()[-3000:]}")

    def kill(self, sig: int = signal.SIGKILL) -> None:
        """Kill the whole worker (main process and pool children) at once."""
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, sig)
            self.process.wait(timeout=30)

    def tasks_done(self, task: str) -> int:
        """How many ``task`` runs this worker logged as succeeded."""
        return len(re.findall(rf"Task {re.escape(task)}\[[^\]]+\] succeeded", self.log.read_text()))

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill()


def use_broker(app, broker: str):
    """Point this process's Celery app at ``broker`` and turn eager mode off; returns a function that undoes it."""
    from kombu import pools

    def reset_connections() -> None:
        app._pool = None
        app.amqp._producer_pool = None
        pools.reset()

    previous = (app.conf.broker_url, app.conf.task_always_eager)
    app.conf.broker_url = broker
    app.conf.task_always_eager = False
    reset_connections()

    def restore() -> None:
        app.conf.broker_url, app.conf.task_always_eager = previous
        reset_connections()

    return restore


def wait_for(condition, *, timeout: float, every: float = 0.05):
    """Poll ``condition`` until it returns something truthy (returned) or ``timeout`` seconds pass (None)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(every)
    return None
