import os
import socket
from urllib.parse import urlparse

import pytest


@pytest.fixture(autouse=True)
def isolated_media(settings, tmp_path):
    """Every test writes files into its own folders, never into var/, and never reads the shared data."""
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.MODELS_ROOT = tmp_path / "models"
    settings.INDEX_ROOT = tmp_path / "index"
    settings.ENCODER_CACHE_DIR = tmp_path / "encoder-cache"
    settings.ENCODER_BACKGROUNDS = ""
    settings.EVALUATION_QUERIES = ""
    settings.EVALUATION_ROOMS = ""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    # tests post many photos, answers and views from one address; the limits have tests of their own
    settings.UPLOAD_RATE_LIMIT_PER_MINUTE = 0
    settings.FEEDBACK_RATE_LIMIT_PER_MINUTE = 0
    settings.VIEW_RATE_LIMIT_PER_MINUTE = 0
    return settings.MEDIA_ROOT


@pytest.fixture(autouse=True)
def no_cached_category_exclusions():
    """The cached set of categories that never go together belongs to one test's database."""
    from django.core.cache import cache

    from catalog.selectors import CATEGORY_EXCLUSIONS_CACHE_KEY

    cache.delete(CATEGORY_EXCLUSIONS_CACHE_KEY)
    yield
    cache.delete(CATEGORY_EXCLUSIONS_CACHE_KEY)


@pytest.fixture(autouse=True)
def eager_celery():
    """Tasks run in the calling process unless a test starts a real worker (see tests/integration)."""
    from config.celery import app

    app.conf.task_always_eager = True
    app.conf.task_eager_propagates = True
    yield app
    app.conf.task_always_eager = False


def services_required() -> bool:
    return os.environ.get("REQUIRE_SERVICES", "") in {"1", "true", "yes"}


def _reachable(url: str, default_port: int) -> bool:
    parsed = urlparse(url)
    try:
        with socket.create_connection((parsed.hostname or "127.0.0.1", parsed.port or default_port), timeout=2):
            return True
    except OSError:
        return False


@pytest.fixture
def redis_url() -> str:
    """The real Redis. Skips when it is not running, unless REQUIRE_SERVICES=1, where it fails instead."""
    url = os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/0"
    if not _reachable(url, 6379):
        message = f"Redis is not reachable at {url}"
        if services_required():
            pytest.fail(message + " and REQUIRE_SERVICES=1")
        pytest.skip(message)
    return url


@pytest.fixture
def one_minute(monkeypatch):
    """Rate limits count per clock minute: hold the clock inside one minute, and give the test a client address
    of its own, so counters of other tests (or other runs sharing the Redis cache) never mix in."""
    import uuid

    from config import ratelimit

    monkeypatch.setattr(ratelimit.time, "time", lambda: 1_800_000_000.0)
    return f"198.18.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}"
