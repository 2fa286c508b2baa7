"""Faults caused on purpose: a worker killed mid-task, Redis stopped while uploads arrive."""

import re
import shutil
import socket
import subprocess
import time

import pytest
from django.db import transaction
from PIL import Image, ImageDraw

from recommender.models import InspirationUpload
from recommender.services.uploads import parse_upload_request, upload_create, uploads_reap
from recommender.tasks import encode_upload
from tests.conftest import services_required
from tests.recommender.conftest import started_worker
from tests.recommender.worker import Worker, use_broker, wait_for

pytestmark = [pytest.mark.services, pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def big_photo(tmp_path) -> object:
    """A 36-megapixel photo: with a small box marked on it, the worker decodes it whole, which keeps it busy long
    enough to be killed (the test stores it at full size)."""
    from django.core.files.uploadedfile import SimpleUploadedFile

    path = tmp_path / "big.jpg"
    photo = Image.new("RGB", (6000, 6000), (120, 80, 60))
    ImageDraw.Draw(photo).ellipse((1000, 1000, 5000, 5000), fill=(30, 60, 200))
    photo.save(path, quality=90)
    return SimpleUploadedFile("big.jpg", path.read_bytes(), content_type="image/jpeg")


def status_of(upload) -> str:
    return InspirationUpload.objects.values_list("status", flat=True).get(pk=upload.pk)


def worker_back_after_a_crash(broker, tmp_path, workers) -> tuple[Worker, list[str], int]:
    """A second worker on the same broker (not flushed, as after a crash), and the reaper's run as it happens
    UPLOAD_STALE_SECONDS later: the stale uploads it sends again, and how many it failed."""
    second = started_worker(broker, tmp_path / "second.log", workers, flush=False)
    requeue, failed = uploads_reap(stale_seconds=0)
    for upload_id in requeue:
        encode_upload.delay(upload_id)
    return second, requeue, failed


def test_an_upload_whose_worker_was_killed_finishes_after_a_worker_comes_back(
    served, broker, tmp_path, workers, settings
):
    settings.UPLOAD_MAX_SIDE = 6000
    first = started_worker(broker, tmp_path / "first.log", workers)
    upload = upload_create(
        image=big_photo(tmp_path), request=parse_upload_request(crop="0.4,0.4,0.02,0.02", category=None, max_price=None)
    )

    assert wait_for(lambda: status_of(upload) == "processing", timeout=60, every=0.01), status_of(upload)
    first.kill()  # SIGKILL to the worker and its pool child, mid-task
    assert status_of(upload) == "processing"

    second, requeue, failed = worker_back_after_a_crash(broker, tmp_path, workers)

    assert requeue == [str(upload.pk)] and failed == 0
    assert wait_for(lambda: status_of(upload) == "done", timeout=90), second.log.read_text()[-2000:]
    assert InspirationUpload.objects.get(pk=upload.pk).attempts == 2


def test_a_batch_whose_worker_was_killed_is_answered_whole_once_a_worker_comes_back(
    served, broker, tmp_path, workers, settings
):
    """Uploads queued together are taken as one batch by the first delivery; killed mid-batch, every upload of it
    is answered after the reaper sends it again, each alone on its second attempt, none lost."""
    settings.UPLOAD_MAX_SIDE = 6000
    marked = parse_upload_request(crop="0.4,0.4,0.02,0.02", category=None, max_price=None)
    first = started_worker(broker, tmp_path / "first.log", workers)
    with transaction.atomic():  # three shoppers' uploads arrive at once: queued together
        uploads = [upload_create(image=big_photo(tmp_path), request=marked) for _ in range(3)]

    everyone_taken = wait_for(lambda: {status_of(u) for u in uploads} == {"processing"}, timeout=60, every=0.01)
    assert everyone_taken, [status_of(u) for u in uploads]  # one delivery took all three: a batch
    first.kill()  # SIGKILL to the worker and its pool child, mid-batch
    assert [InspirationUpload.objects.get(pk=u.pk).attempts for u in uploads] == [1, 1, 1]

    second, requeue, failed = worker_back_after_a_crash(broker, tmp_path, workers)

    assert sorted(requeue) == sorted(str(u.pk) for u in uploads) and failed == 0
    all_done = wait_for(lambda: {status_of(u) for u in uploads} == {"done"}, timeout=120)
    assert all_done, second.log.read_text()[-2000:]
    assert [InspirationUpload.objects.get(pk=u.pk).attempts for u in uploads] == [2, 2, 2]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class OwnRedis:
    """A Redis server of the test's own, which it can stop and start (it keeps nothing on disk, like ours)."""

    def __init__(self):
        self.port = free_port()
        self.process = None

    def start(self):
        self.process = subprocess.Popen(
            [shutil.which("redis-server"), "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no"],
            stdout=subprocess.DEVNULL,
        )  # fmt: skip
        assert wait_for(lambda: self._up(), timeout=10)

    def _up(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                return True
        except OSError:
            return False

    def stop(self):
        self.process.terminate()
        self.process.wait(timeout=10)


@pytest.fixture
def redis_server() -> str:
    """The redis-server program, to start servers of the test's own (make test installs it)."""
    path = shutil.which("redis-server")
    if path is None:
        message = "redis-server is not installed"
        if services_required():
            pytest.fail(message + " and REQUIRE_SERVICES=1")
        pytest.skip(message)
    return path


def test_uploads_accepted_while_redis_is_down_are_processed_once_it_returns(
    served, redis_url, redis_server, eager_celery, tmp_path, workers
):
    own = OwnRedis()
    own.start()
    url = f"redis://127.0.0.1:{own.port}/0"
    restore = use_broker(eager_celery, url)
    worker = started_worker(url, tmp_path / "worker.log", workers)
    try:
        own.stop()
        from django.test import Client

        with served["products"]["sofa"][0].image.open("rb") as photo:
            response = Client().post("/api/uploads", {"image": photo})
        assert response.status_code == 202, response.content
        upload_id = response.json()["id"]
        assert InspirationUpload.objects.get(pk=upload_id).status == "queued"

        own.start()  # Redis is back, empty: the message sent while it was down never arrived
        requeue, _ = uploads_reap(stale_seconds=0)
        for pending in requeue:
            encode_upload.delay(pending)
        assert wait_for(lambda: InspirationUpload.objects.get(pk=upload_id).status == "done", timeout=90), (
            worker.log.read_text()[-2000:]
        )
    finally:
        restore()
        if own.process.poll() is None:
            own.stop()


def pool_children(worker: Worker) -> list[int]:
    found = subprocess.run(["pgrep", "-P", str(worker.process.pid)], capture_output=True, text=True).stdout
    return [int(pid) for pid in found.split()]


def test_a_photo_that_kills_the_worker_every_time_ends_failed_with_a_reason_and_no_redelivery_loop(
    served, broker, tmp_path, workers, settings
):
    import os
    import signal

    from recommender.services.uploads import GAVE_UP

    settings.UPLOAD_MAX_SIDE = 6000
    worker = started_worker(broker, tmp_path / "worker.log", workers)
    upload = upload_create(
        image=big_photo(tmp_path), request=parse_upload_request(crop="0.4,0.4,0.02,0.02", category=None, max_price=None)
    )

    for attempt in range(1, settings.UPLOAD_MAX_ATTEMPTS + 1):

        def processing(attempt=attempt):
            return InspirationUpload.objects.filter(pk=upload.pk, status="processing", attempts=attempt).exists()

        assert wait_for(processing, timeout=60, every=0.01), (status_of(upload), worker.log.read_text()[-2000:])
        for child in pool_children(worker):
            os.kill(child, signal.SIGKILL)  # the photo "kills" the pool process that decodes it
        requeue, failed = uploads_reap(stale_seconds=0)  # the reaper's next run, once the upload is stale
        for upload_id in requeue:
            encode_upload.delay(upload_id)

    time.sleep(2)  # room for a redelivery of a killed task to show up, if there were one
    upload.refresh_from_db()
    received = len(re.findall(r"Task recommender\.tasks\.encode_upload\[[^\]]+\] received", worker.log.read_text()))
    assert (upload.status, upload.error, upload.attempts) == ("failed", GAVE_UP, settings.UPLOAD_MAX_ATTEMPTS)
    assert received == settings.UPLOAD_MAX_ATTEMPTS  # each send delivered once: the broker never redelivered
