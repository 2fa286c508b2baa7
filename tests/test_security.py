"""Security settings and privacy jobs."""

import os
import secrets
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from django.core.files.base import ContentFile
from django.test import Client
from django.utils import timezone

from recommender.models import InspirationUpload
from recommender.services.retention import uploads_purge
from tests.images import image_bytes

ROOT = Path(__file__).resolve().parents[1]


def manage(*args, **env) -> subprocess.CompletedProcess:
    # A production environment: none of what the tests set (the browser tests allow async-unsafe calls).
    unset = {"DEBUG", "SECRET_KEY", "ALLOWED_HOSTS", "DJANGO_ALLOW_ASYNC_UNSAFE"}
    clean = {k: v for k, v in os.environ.items() if k not in unset}
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env={**clean, **env}, capture_output=True, text=True
    )


def test_check_deploy_is_clean_under_production_settings():
    result = manage(
        "check", "--deploy", "--fail-level", "WARNING",
        DEBUG="0", SECRET_KEY=secrets.token_urlsafe(50), ALLOWED_HOSTS="shop.example.com",
    )  # fmt: skip

    assert result.returncode == 0, result.stdout + result.stderr


def test_production_refuses_to_start_with_the_demo_secret_key():
    result = manage("check", DEBUG="0", ALLOWED_HOSTS="shop.example.com")

    assert result.returncode != 0
    assert "Set SECRET_KEY in the environment" in result.stderr


@pytest.mark.django_db
def test_forms_are_protected_against_csrf():
    browser = Client(enforce_csrf_checks=True)

    response = browser.post("/", {"image": ContentFile(image_bytes(), name="a.jpg")})

    assert response.status_code == 403


@pytest.mark.django_db
def test_uploads_past_the_retention_period_are_deleted_with_their_files(isolated_media):
    old = InspirationUpload.objects.create(
        image=ContentFile(image_bytes(), name="old.jpg"),
        reconstruction=ContentFile(image_bytes(), name="old-redrawn.png"),
    )
    recent = InspirationUpload.objects.create(image=ContentFile(image_bytes(), name="new.jpg"))
    InspirationUpload.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=31))
    old_files = [Path(old.image.path), Path(old.reconstruction.path)]

    deleted = uploads_purge(older_than_days=30)

    assert deleted == 1
    assert list(InspirationUpload.objects.all()) == [recent]
    assert not any(path.exists() for path in old_files) and Path(recent.image.path).exists()


@pytest.mark.django_db
def test_the_retention_job_is_scheduled():
    from django_celery_beat.models import PeriodicTask

    assert PeriodicTask.objects.get(name="Delete old uploads").task == "recommender.tasks.purge_old_uploads"


@pytest.mark.django_db
def test_uploads_are_rate_limited_per_client(client, settings, one_minute):
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "limit"}}
    settings.UPLOAD_RATE_LIMIT_PER_MINUTE = 2
    answers = [client.post("/api/uploads", {}).status_code for _ in range(3)]
    page = client.post("/", {})

    assert answers == [400, 400, 429]
    assert page.status_code == 429 and "Too many photos" in page.content.decode()
    other = Client(REMOTE_ADDR="10.0.0.9")
    assert other.post("/api/uploads", {}).status_code == 400


@pytest.mark.django_db
def test_a_forwarded_for_header_counts_only_behind_a_trusted_proxy(rf, settings):
    from config.ratelimit import client_address

    request = rf.get("/", HTTP_X_FORWARDED_FOR="1.2.3.4, 5.6.7.8", REMOTE_ADDR="10.0.0.1")

    settings.TRUSTED_PROXY_COUNT = 0
    assert client_address(request) == "10.0.0.1"
    settings.TRUSTED_PROXY_COUNT = 1
    assert client_address(request) == "5.6.7.8"
