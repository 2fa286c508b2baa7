"""GET /api/uploads/<id>?wait=N answers at the upload's change, through Redis pub/sub or, without Redis, by
re-reading the database; never later than N seconds."""

import threading
import time

import pytest
from django.db import connection
from django.db.models.functions import Now

from recommender.models import InspirationUpload
from recommender.services.notify import upload_changed

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(params=["redis", "database"])
def notifier(request, settings):
    if request.param == "redis":
        settings.REDIS_URL = request.getfixturevalue("redis_url")
    else:
        settings.REDIS_URL = ""
    return request.param


def finish_later(upload_id, *, after: float) -> threading.Thread:
    def finish():
        time.sleep(after)
        InspirationUpload.objects.filter(pk=upload_id).update(
            status=InspirationUpload.Status.DONE, results=[], finished_at=Now()
        )
        upload_changed(str(upload_id))
        connection.close()

    thread = threading.Thread(target=finish)
    thread.start()
    return thread


def test_a_long_poll_answers_as_soon_as_the_upload_is_done(client, notifier):
    upload = InspirationUpload.objects.create(image="uploads/x.jpg", status=InspirationUpload.Status.PROCESSING)
    worker = finish_later(upload.pk, after=0.3)

    started = time.monotonic()
    response = client.get(f"/api/uploads/{upload.pk}?wait=20&after=processing:answer")
    waited = time.monotonic() - started
    worker.join()

    assert response.status_code == 200
    assert response.json()["status"] == "done"
    assert response.json()["state"] == "done:answer"
    assert 0.25 < waited < 10  # it waited for the change, and answered at it, not at the 20 s timeout


def test_a_long_poll_on_an_unchanged_upload_answers_its_state_after_the_wait(client, notifier):
    upload = InspirationUpload.objects.create(image="uploads/x.jpg", status=InspirationUpload.Status.QUEUED)

    response = client.get(f"/api/uploads/{upload.pk}?wait=0.3")

    assert response.json()["state"] == "queued:answer"


def test_a_client_that_knows_an_older_state_gets_the_current_one_at_once(client, settings):
    settings.REDIS_URL = ""
    upload = InspirationUpload.objects.create(image="uploads/x.jpg", status=InspirationUpload.Status.DONE)

    started = time.monotonic()
    response = client.get(f"/api/uploads/{upload.pk}?wait=20&after=queued:answer")

    assert response.json()["status"] == "done"
    assert time.monotonic() - started < 5


@pytest.mark.parametrize("status", [InspirationUpload.Status.DONE, InspirationUpload.Status.FAILED])
def test_a_long_poll_after_the_answer_returns_at_once_for_it_is_the_last_state(client, settings, status):
    """Nothing is drawn for the shopper after the answer: a client still waiting after "done:answer" (an older page
    that waited for the picture) is not held for the whole wait."""
    settings.REDIS_URL = ""
    upload = InspirationUpload.objects.create(image="uploads/x.jpg", status=status)

    started = time.monotonic()
    response = client.get(f"/api/uploads/{upload.pk}?wait=20&after={status}:answer")

    assert response.json()["state"] == f"{status}:answer" and response.json()["reconstruction"] is None
    assert time.monotonic() - started < 5


@pytest.mark.parametrize("wait", ["-1", "31", "soon", "nan"])
def test_a_bad_wait_is_a_bad_request(client, wait, settings):
    upload = InspirationUpload.objects.create(image="uploads/x.jpg")

    response = client.get(f"/api/uploads/{upload.pk}?wait={wait}")

    assert response.status_code == 400
    assert "wait" in response.json()["error"]
