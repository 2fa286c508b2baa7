"""A training whose process died is marked failed by its silent heartbeat (encoders.heartbeat), by the database's
clock; one whose process is alive is not."""

import os
import signal
import subprocess
import sys
import time
from datetime import timedelta

import pytest
from django.db.models.functions import Now

from encoders import heartbeat
from encoders.heartbeat import INTERRUPTED, TrainingHeartbeat, versions_interrupted_fail
from encoders.models import EncoderVersion
from tests.recommender.worker import ROOT, database_url

pytestmark = pytest.mark.django_db(transaction=True)

TRAINING_PROCESS = """
import os, sys, time
import django
django.setup()
from encoders.heartbeat import TrainingHeartbeat
from encoders.models import EncoderVersion
version = EncoderVersion.objects.create(name="enc-dying")
with TrainingHeartbeat(version, every=0.1):
    print("training", flush=True)
    time.sleep(600)
"""


def test_a_training_whose_process_was_killed_is_failed_and_a_live_one_is_not(monkeypatch):
    if "memory" in database_url():
        pytest.skip("the killed process needs the test database on PostgreSQL or in a file")
    monkeypatch.setattr(heartbeat, "STALE_SECONDS", 2)
    live = EncoderVersion.objects.create(name="enc-alive")
    process = subprocess.Popen(
        [sys.executable, "-c", TRAINING_PROCESS],
        cwd=ROOT,
        env={**os.environ, "DATABASE_URL": database_url(), "DJANGO_SETTINGS_MODULE": "config.settings"},
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout.readline().strip() == "training"
        with TrainingHeartbeat(live, every=0.1):
            os.kill(process.pid, signal.SIGKILL)  # the training process dies mid-training, without a word
            process.wait(timeout=10)
            assert versions_interrupted_fail() == []  # just killed: not silent long enough yet
            time.sleep(3)
            failed = versions_interrupted_fail()
    finally:
        process.kill()

    assert failed == ["enc-dying"]
    dying = EncoderVersion.objects.get(name="enc-dying")
    assert (dying.status, dying.error) == (EncoderVersion.Status.FAILED, INTERRUPTED)
    assert EncoderVersion.objects.get(name="enc-alive").status == EncoderVersion.Status.TRAINING


def test_only_versions_still_training_and_silent_too_long_are_failed():
    stale = Now() - timedelta(seconds=heartbeat.STALE_SECONDS + 60)
    quiet, recent, old, ready = (
        EncoderVersion.objects.create(name=name) for name in ("enc-quiet", "enc-recent", "enc-old", "enc-ready")
    )
    EncoderVersion.objects.filter(pk=quiet.pk).update(heartbeat_at=stale)
    EncoderVersion.objects.filter(pk=recent.pk).update(heartbeat_at=Now())
    EncoderVersion.objects.filter(pk=old.pk).update(created_at=stale)  # from before heartbeats: none
    EncoderVersion.objects.filter(pk=ready.pk).update(status="ready", heartbeat_at=stale)

    failed = versions_interrupted_fail()

    assert sorted(failed) == ["enc-old", "enc-quiet"]
    status = dict(EncoderVersion.objects.values_list("name", "status"))
    assert status == {"enc-quiet": "failed", "enc-recent": "training", "enc-old": "failed", "enc-ready": "ready"}


def test_the_heartbeat_beats_while_the_block_runs_and_stops_after():
    version = EncoderVersion.objects.create(name="enc-beating")

    with TrainingHeartbeat(version, every=0.05):
        first = EncoderVersion.objects.get(pk=version.pk).heartbeat_at
        time.sleep(0.4)
        later = EncoderVersion.objects.get(pk=version.pk).heartbeat_at
    time.sleep(0.2)
    after = EncoderVersion.objects.get(pk=version.pk).heartbeat_at
    time.sleep(0.2)

    assert first is not None and later > first
    assert EncoderVersion.objects.get(pk=version.pk).heartbeat_at == after


def test_training_a_new_version_fails_those_left_training_by_dead_processes(monkeypatch):
    from encoders import lifecycle
    from encoders.model import EncoderConfig

    dead = EncoderVersion.objects.create(name="enc-dead")
    EncoderVersion.objects.filter(pk=dead.pk).update(heartbeat_at=Now() - timedelta(hours=1))
    monkeypatch.setattr(lifecycle, "training_data", lambda **kwargs: None)
    monkeypatch.setattr(lifecycle, "_train_version", lambda version, **kwargs: version)

    lifecycle.encoder_train(config=EncoderConfig())

    assert EncoderVersion.objects.get(pk=dead.pk).status == EncoderVersion.Status.FAILED


def test_staff_see_a_trainings_last_sign_of_life_on_its_page(admin_client):
    from django.urls import reverse

    version = EncoderVersion.objects.create(name="enc-shown")
    with TrainingHeartbeat(version, every=60):
        page = admin_client.get(reverse("admin:encoders_encoderversion_change", args=[version.pk]))

    assert page.status_code == 200
    assert "Last sign of life" in page.content.decode()
    assert EncoderVersion.objects.get(pk=version.pk).heartbeat_at is not None
