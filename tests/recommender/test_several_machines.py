"""Several worker machines: two workers with their own local scratch folders share only PostgreSQL (or the test
database), Redis, and the MEDIA_ROOT, MODELS_ROOT and INDEX_ROOT folders. Uploads are split across both, and
both follow an index switch. This is the README's recipe for more machines."""

import time

import pytest

from recommender.models import InspirationUpload
from recommender.services.indexing import index_build, serving_activate
from recommender.services.uploads import parse_upload_request, upload_create
from tests.encoders.helpers import tiny_config
from tests.recommender.conftest import draw, png
from tests.recommender.worker import Worker, broker_url, use_broker, wait_for

pytestmark = [pytest.mark.services, pytest.mark.slow, pytest.mark.django_db(transaction=True)]
ENCODE = "recommender.tasks.encode_upload"


@pytest.fixture
def two_machines(redis_url, eager_celery, tmp_path):
    broker = broker_url(redis_url, database=12)
    restore = use_broker(eager_celery, broker)
    machines = [
        Worker(
            broker=broker,
            log=tmp_path / f"machine-{n}.log",
            encoder_config=tiny_config().to_dict(),
            concurrency=1,
            scratch=tmp_path / f"machine-{n}-scratch",
        )
        for n in (1, 2)
    ]
    machines[0].start()
    machines[1].start(flush=False)
    yield machines
    for machine in machines:
        machine.stop()
    restore()


def upload_photos(count: int) -> list[str]:
    from django.core.files.uploadedfile import SimpleUploadedFile

    ids = []
    for n in range(count):
        photo = SimpleUploadedFile(f"{n}.png", png(draw((200, 30, 30), "square", shade=n)), content_type="image/png")
        ids.append(
            str(upload_create(image=photo, request=parse_upload_request(crop=None, category=None, max_price=None)).pk)
        )
    return ids


def answered_by_both(machines, *, seconds: float = 180) -> list[str]:
    """Upload photos, four at a time, until each machine has answered at least one (a machine that is still
    starting or loading its encoder, slower on a busy machine, misses the rounds the other answers at once), for at
    most ``seconds``; returns every upload id sent."""
    names = [machine.name.replace("%h", "") for machine in machines]
    sent: list[str] = []
    workers: set[str] = set()
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        batch = upload_photos(4)
        sent += batch
        assert wait_for(lambda batch=batch: done(batch), timeout=60), machines[0].log.read_text()[-2000:]
        workers = set(InspirationUpload.objects.filter(pk__in=sent).values_list("worker", flat=True))
        if all(any(worker.startswith(name) for worker in workers) for name in names):
            return sent
        time.sleep(1)
    raise AssertionError(f"not both machines answered in {seconds:.0f} s: {workers}")


def done(ids: list[str]) -> bool:
    return InspirationUpload.objects.filter(pk__in=ids, status=InspirationUpload.Status.DONE).count() == len(ids)


def test_two_worker_machines_share_the_uploads_and_both_follow_an_index_switch(served, two_machines):
    before = answered_by_both(two_machines)

    switched = serving_activate(index_version=index_build(encoder_version=served["encoder"]))
    time.sleep(1)  # each process looks at the ACTIVE pointer every INDEX_RELOAD_SECONDS (0.2 s for these workers)
    after = answered_by_both(two_machines)

    assert set(InspirationUpload.objects.filter(pk__in=before).values_list("index_version", flat=True)) == {
        served["index"].pk
    }
    # every answer after the switch came from the new index, on both machines
    assert set(InspirationUpload.objects.filter(pk__in=after).values_list("index_version", flat=True)) == {switched.pk}
