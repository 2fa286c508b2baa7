"""A real worker keeps one database connection across tasks (Celery's Django fixup would open a new one for each),
and replaces one that the server dropped before it uses it."""

import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from PIL import Image

from recommender.models import InspirationUpload
from recommender.services.uploads import parse_upload_request, upload_create
from tests.recommender.conftest import started_worker
from tests.recommender.worker import Worker, wait_for

pytestmark = [pytest.mark.services, pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def answered_upload(worker: Worker, colour: tuple[int, int, int]) -> InspirationUpload:
    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), colour).save(buffer, format="JPEG")
    upload = upload_create(
        image=SimpleUploadedFile("photo.jpg", buffer.getvalue(), content_type="image/jpeg"),
        request=parse_upload_request(crop=None, category=None, max_price=None),
    )
    settled = InspirationUpload.objects.filter(pk=upload.pk, status=InspirationUpload.Status.DONE).exclude(
        pieces_status=InspirationUpload.PiecesStatus.LOOKING
    )  # answered, and its pieces looked for: the worker has nothing left to do
    done = wait_for(settled.exists, timeout=90)
    assert done, worker.log.read_text()[-3000:]
    return InspirationUpload.objects.get(pk=upload.pk)


def others_connections() -> set[int]:
    """The server processes of the other connections to this test's database: here, the worker's."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        return {pid for (pid,) in cursor.fetchall()}


def test_a_worker_keeps_its_database_connection_across_tasks_and_replaces_a_dropped_one(
    served, broker, workers, tmp_path
):
    if connection.vendor != "postgresql":
        pytest.skip("counts the server's connections: PostgreSQL only")
    worker = started_worker(broker, tmp_path / "worker.log", workers)
    answered_upload(worker, (200, 40, 40))
    after_first = others_connections()
    assert after_first, "the worker closed its connection after the task"

    answered_upload(worker, (40, 200, 40))
    assert others_connections() == after_first  # the same connection served the next task: none was opened

    with connection.cursor() as cursor:  # the server drops the worker's connection between two tasks
        cursor.execute("SELECT pg_terminate_backend(pid) FROM unnest(%s::int[]) AS pid", [sorted(after_first)])
    third = answered_upload(worker, (40, 40, 200))
    assert third.attempts == 1  # checked before use and replaced: the task never saw the dead connection
    assert others_connections().isdisjoint(after_first)
