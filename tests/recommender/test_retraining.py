"""The retraining pipeline: promote only if not worse, one run at a time, and a crash changes nothing."""

import json
import time
from datetime import timedelta

import numpy as np
import pytest
from django.utils import timezone

from encoders import lifecycle
from encoders.models import EncoderVersion
from encoders.queries import FIGURES
from encoders.versions import active_encoder_version
from recommender import index as annoy_index
from recommender.models import IndexVersion, JobLock, RetrainRun
from recommender.services import retraining
from recommender.services.indexing import index_root
from recommender.services.locks import lock_acquire, lock_refresh, lock_release
from recommender.services.retraining import RETRAIN_LOCK, retrain_run
from tests.encoders.helpers import tiny_config
from tests.recommender.conftest import draw, png

pytestmark = pytest.mark.django_db


@pytest.fixture
def evaluation_data(settings, tmp_path):
    """Dev queries for promotion: one web photo per kind and one room."""
    queries = tmp_path / "queries"
    for name, colour, shape in [("couch", (200, 30, 30), "square"), ("light", (30, 60, 200), "round")]:
        (queries / name).mkdir(parents=True)
        (queries / name / "1.png").write_bytes(png(draw(colour, shape, size=80)))
    (queries / "accept.json").write_text(json.dumps({"couch": ["sofa"], "light": ["lamp"]}))
    rooms = tmp_path / "rooms.json"
    rooms.write_text(json.dumps([{"room": "r", "items": [], "photo": None, "split": "dev"}]))
    settings.EVALUATION_QUERIES, settings.EVALUATION_ROOMS, settings.EVALUATION_SPLIT = str(queries), str(rooms), "dev"


def tiny(**overrides):
    return tiny_config(epochs=3, **overrides)


def test_the_first_run_promotes_and_serves_the_new_encoder_and_index(catalog_products, evaluation_data):
    run = retrain_run(trigger="test", config=tiny())

    assert run.status == RetrainRun.Status.PROMOTED
    assert active_encoder_version() == run.candidate
    assert IndexVersion.objects.get(is_active=True) == run.index_version
    assert annoy_index.active_version(index_root()) == run.index_version.name
    assert set(run.timings) == {"train", "held_out", "encode_catalog", "build_index", "activate", "catch_up"}
    # four products of each kind: a web photo whose four lookalikes all rank in its top ten scores 0.4
    assert run.candidate.metrics["web P@10"] == pytest.approx(0.4)
    assert set(run.candidate.baseline) == set(run.candidate.metrics)  # the pretrained features, measured alongside
    assert not JobLock.objects.exists()


LIVE_WEB = [1.0] * 70 + [0.0] * 30  # 100 web photos, 0.70


def measured(web: list[float]) -> dict[str, np.ndarray]:
    """Per-query scores of every figure: ``web`` for the web photos, and the same for the other five."""
    other = np.array([1.0, 0.0, 1.0, 1.0] * 10)
    return {name: np.array(web) if name == "web P@10" else other for name in FIGURES}


@pytest.fixture
def fake_measurements(monkeypatch):
    """Evaluations that give the per-query scores handed in, in the order the pipeline measures: each run's
    candidate as it is trained, then the live version again on the same queries."""
    queue: list[dict] = []
    monkeypatch.setattr(lifecycle, "query_scores", lambda embedder, catalog, queries: queue.pop(0))
    return queue


def test_a_candidate_worse_beyond_its_interval_is_kept_out(catalog_products, evaluation_data, fake_measurements):
    fake_measurements.append(measured(LIVE_WEB))
    first = retrain_run(trigger="test", config=tiny())
    fake_measurements.extend([measured([1.0] * 40 + [0.0] * 60), measured(LIVE_WEB)])  # 30 of 70 hits lost

    second = retrain_run(trigger="test", config=tiny())

    assert second.status == RetrainRun.Status.KEPT
    assert "worse than the live version beyond the noise: web P@10 0.400 < 0.700" in second.reason
    assert active_encoder_version() == first.candidate
    assert annoy_index.active_version(index_root()) == first.index_version.name
    web = second.comparison["web P@10"]
    assert web["worse"] and web["difference"][1] < 0 and web["live_interval"][0] > 0.4
    assert not second.comparison["held-out P@10"]["worse"]  # measured on new products, in place of loo
    assert "loo P@10" not in second.comparison
    low, high = second.candidate.intervals["web P@10"]  # stored on the version, too
    assert low < 0.4 < high


def test_a_candidate_worse_within_its_interval_is_promoted(catalog_products, evaluation_data, fake_measurements):
    fake_measurements.append(measured(LIVE_WEB))
    retrain_run(trigger="test", config=tiny())
    fake_measurements.extend([measured([1.0] * 67 + [0.0] * 33), measured(LIVE_WEB)])  # 3 of 70 hits lost

    second = retrain_run(trigger="test", config=tiny())

    assert second.status == RetrainRun.Status.PROMOTED, second.reason
    assert active_encoder_version() == second.candidate
    web = second.comparison["web P@10"]
    assert web["candidate"] == pytest.approx(0.67) and web["live"] == pytest.approx(0.70) and not web["worse"]
    assert web["live_interval"][0] < 0.67 < web["live_interval"][1]


def test_staff_see_the_gates_comparison_on_the_run(admin_client, catalog_products, evaluation_data, fake_measurements):
    fake_measurements.extend([measured(LIVE_WEB), measured([1.0] * 40 + [0.0] * 60), measured(LIVE_WEB)])
    retrain_run(trigger="test", config=tiny())
    kept = retrain_run(trigger="test", config=tiny())

    page = admin_client.get(f"/admin/recommender/retrainrun/{kept.pk}/change/").content.decode()

    assert "The gate&#x27;s comparison" in page
    low, high = (round(v * 100) for v in kept.live_before.intervals["web P@10"])
    assert f"<td>70 % ({low}–{high} %)</td>" in page  # the live figure with its interval, in plain words
    assert "worse beyond the noise" in page and "points" in page


def test_a_run_that_crashes_half_way_changes_nothing_and_releases_the_lock(
    catalog_products, evaluation_data, monkeypatch
):
    first = retrain_run(trigger="test", config=tiny())

    def crash(**kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(retraining, "index_build", crash)
    with pytest.raises(RuntimeError):
        retrain_run(trigger="test", config=tiny())

    failed = RetrainRun.objects.filter(status=RetrainRun.Status.FAILED).get()
    assert "disk full" in failed.error
    assert active_encoder_version() == first.candidate
    assert annoy_index.active_version(index_root()) == first.index_version.name
    assert not JobLock.objects.exists()


def test_only_one_run_at_a_time(catalog_products):
    assert lock_acquire(name=RETRAIN_LOCK, owner="another worker", seconds=600)

    assert retrain_run(trigger="test", config=tiny()) is None
    assert not EncoderVersion.objects.exists()


def test_the_lock_of_a_crashed_worker_runs_out():
    lock_acquire(name=RETRAIN_LOCK, owner="crashed worker", seconds=600)
    JobLock.objects.update(expires_at=timezone.now() - timedelta(seconds=1))

    assert lock_acquire(name=RETRAIN_LOCK, owner="me", seconds=600)
    assert not lock_refresh(name=RETRAIN_LOCK, owner="crashed worker", seconds=600)
    lock_release(name=RETRAIN_LOCK, owner="crashed worker")
    assert JobLock.objects.get().owner == "me"


def test_a_worker_whose_clock_runs_an_hour_fast_never_takes_a_live_lease(monkeypatch):
    assert lock_acquire(name=RETRAIN_LOCK, owner="a running pipeline", seconds=600)
    fast = timezone.now() + timedelta(hours=1)
    monkeypatch.setattr(timezone, "now", lambda: fast)  # this process's clock, not the database's

    assert not lock_acquire(name=RETRAIN_LOCK, owner="a worker with a fast clock", seconds=600)
    assert lock_refresh(name=RETRAIN_LOCK, owner="a running pipeline", seconds=600)
    assert JobLock.objects.get().owner == "a running pipeline"


def test_retrain_schedule_is_editable_in_the_database():
    from django_celery_beat.models import PeriodicTask

    nightly = PeriodicTask.objects.get(name="Nightly retrain")

    assert nightly.task == "recommender.tasks.retrain"
    assert (nightly.crontab.hour, nightly.crontab.minute) == ("3", "0")


def test_staff_start_a_retrain_from_admin(admin_client, monkeypatch):
    queued = []
    monkeypatch.setattr("recommender.tasks.retrain.delay", lambda trigger: queued.append(trigger))

    page = admin_client.get("/admin/recommender/retrainrun/")
    confirmation = admin_client.get("/admin/recommender/retrainrun/retrain-now/").content.decode()
    assert queued == []  # looking at the confirmation starts nothing
    response = admin_client.post("/admin/recommender/retrainrun/retrain-now/", follow=True)

    assert "Retrain now" in page.content.decode()
    assert "keep being served by the live version" in confirmation and "Start the retrain" in confirmation
    assert queued == ["staff"]
    assert "Retraining queued" in response.content.decode()


def test_the_confirmation_says_what_the_last_run_took(admin_client):
    RetrainRun.objects.create(status=RetrainRun.Status.PROMOTED, timings={"train": 600.0, "build_index": 120.0})

    confirmation = admin_client.get("/admin/recommender/retrainrun/retrain-now/").content.decode()

    assert "about 12 minutes, as the last full run took" in confirmation


def test_a_run_left_running_by_a_process_that_died_neither_blocks_staff_nor_stays_running(admin_client, monkeypatch):
    """The training worker was killed mid-run (a crash, an out-of-memory kill): its run stays marked running, and
    its lock's lease runs out. Staff can still start a retrain, the live box shows nothing running, and the next
    run marks the dead one failed."""
    queued = []
    monkeypatch.setattr("recommender.tasks.retrain.delay", lambda trigger: queued.append(trigger))
    dead = RetrainRun.objects.create(stage="train")  # running, as the killed worker left it
    lock_acquire(name=RETRAIN_LOCK, owner="killed-host:1:abc", seconds=600)
    JobLock.objects.filter(name=RETRAIN_LOCK).update(expires_at=timezone.now() - timedelta(seconds=1))

    response = admin_client.post("/admin/recommender/retrainrun/retrain-now/", follow=True)
    status = admin_client.get("/admin/recommender/retrainrun/status/").json()
    with retraining.pipeline_run(trigger="test") as stages:
        assert stages is not None  # the lock's lease ran out: the next run takes it

    assert queued == ["staff"] and "Retraining queued" in response.content.decode()
    assert status == {"running": None}
    dead.refresh_from_db()
    assert dead.status == RetrainRun.Status.FAILED and dead.error == retraining.INTERRUPTED
    assert dead.finished_at is not None and dead.stage == ""


def test_the_running_stage_and_its_progress_are_shown_live(admin_client):
    lock_acquire(name=RETRAIN_LOCK, owner="the training worker", seconds=600)  # its pipeline holds the lock
    started = timezone.now() - timedelta(seconds=100)
    run = RetrainRun.objects.create(
        stage="train",
        progress={
            "started": started.isoformat(),
            "at": timezone.now().isoformat(),
            "step": "train",
            "done": 40,
            "total": 120,
        },
    )

    status = admin_client.get("/admin/recommender/retrainrun/status/").json()["running"]

    assert (status["id"], status["stage"], status["done"], status["total"]) == (run.pk, "train", 40, 120)
    assert 190 <= status["seconds_left"] <= 210  # 40 steps in 100 s: 80 more take about 200 s
    RetrainRun.objects.filter(pk=run.pk).update(status=RetrainRun.Status.PROMOTED)
    assert admin_client.get("/admin/recommender/retrainrun/status/").json() == {"running": None}


def test_retrain_now_is_for_staff_only(client):
    response = client.post("/admin/recommender/retrainrun/retrain-now/")

    assert response.status_code == 302 and "/admin/login/" in response["Location"]


@pytest.mark.django_db(transaction=True)
def test_a_run_whose_lease_was_taken_stops_before_switching_anything(catalog_products, monkeypatch):
    """The lease ran out and another process took the lock while this run was training: it must not switch."""
    monkeypatch.setattr(retraining, "HEARTBEAT_SECONDS", 0.05)
    train = retraining.encoder_train

    def train_while_the_lock_is_taken(**kwargs):
        JobLock.objects.filter(name=RETRAIN_LOCK).update(owner="another-host:1:abc")
        time.sleep(0.3)  # a renewal runs meanwhile and finds the lock in other hands
        return train(**kwargs)

    monkeypatch.setattr(retraining, "encoder_train", train_while_the_lock_is_taken)

    with pytest.raises(retraining.LeaseLost):
        retrain_run(trigger="test", config=tiny())

    run = RetrainRun.objects.get()
    assert run.status == RetrainRun.Status.FAILED and "lock was lost" in run.error
    assert active_encoder_version() is None and not IndexVersion.objects.exists()
    assert JobLock.objects.get(name=RETRAIN_LOCK).owner == "another-host:1:abc"  # the other process keeps it


@pytest.mark.django_db(transaction=True)
def test_the_lease_is_renewed_through_a_long_stage(catalog_products, monkeypatch, settings):
    settings.RETRAIN_LOCK_SECONDS = 1
    monkeypatch.setattr(retraining, "HEARTBEAT_SECONDS", 0.1)
    expiries = []
    build = retraining.index_build

    def slow_build(**kwargs):  # a stage that reports no progress, longer than the lease
        for _ in range(3):
            time.sleep(0.6)
            expiries.append(JobLock.objects.get(name=RETRAIN_LOCK).expires_at)
        return build(**kwargs)

    monkeypatch.setattr(retraining, "index_build", slow_build)

    run = retrain_run(trigger="test", config=tiny())

    assert run.status == RetrainRun.Status.PROMOTED
    assert expiries == sorted(expiries) and len(set(expiries)) == 3  # pushed forward while the stage ran
