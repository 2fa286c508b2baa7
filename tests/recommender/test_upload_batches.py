"""Uploads queued together share one backbone batch: each still gets its own answer, once, and a failure or an
unreadable photo in the batch costs the others nothing beyond one attempt."""

from unittest import mock

import pytest
from django.db import OperationalError, connection, connections

import encoders.inference
from recommender.models import InspirationUpload
from recommender.services import upload_processing
from recommender.services.uploads import upload_create
from recommender.tasks import UNREADABLE, encode_upload
from tests.recommender.conftest import KINDS, draw, png
from tests.recommender.test_uploads import photo, request_for, result_kinds

pytestmark = pytest.mark.django_db
SOFA, LAMP, RUG = KINDS
Status = InspirationUpload.Status


def queued(kinds, django_capture_on_commit_callbacks) -> list[InspirationUpload]:
    """Uploads stored and queued, their tasks not delivered yet (as when they arrive faster than they are
    answered)."""
    with django_capture_on_commit_callbacks(execute=False):
        return [
            upload_create(image=photo(png(draw(colour, shape))), request=request_for()) for _, colour, shape in kinds
        ]


@pytest.fixture
def backbone_batches():
    """The number of photos in each backbone batch the worker runs."""
    sizes = []
    real = encoders.inference.backbone_features

    def counted(encoder, images, **kwargs):
        sizes.append(len(images))
        return real(encoder, images, **kwargs)

    with mock.patch.object(encoders.inference, "backbone_features", side_effect=counted):
        yield sizes


def test_uploads_queued_together_share_one_backbone_batch_and_each_gets_its_own_answer(
    served, django_capture_on_commit_callbacks, backbone_batches
):
    sofa, lamp, rug = queued([SOFA, LAMP, RUG], django_capture_on_commit_callbacks)

    encode_upload.delay(str(sofa.id))

    assert backbone_batches == [3]
    for upload, kind in [(sofa, "sofa"), (lamp, "lamp"), (rug, "rug")]:
        upload.refresh_from_db()
        assert (upload.status, upload.attempts) == (Status.DONE, 1)
        assert result_kinds(upload)[:4] == [kind] * 4


def test_a_batched_answer_is_the_answer_the_upload_gets_alone(served, django_capture_on_commit_callbacks, settings):
    settings.UPLOAD_BATCH_MAX = 1
    alone = queued([LAMP], django_capture_on_commit_callbacks)[0]
    encode_upload.delay(str(alone.id))
    settings.UPLOAD_BATCH_MAX = 4
    sofa, lamp = queued([SOFA, LAMP], django_capture_on_commit_callbacks)
    encode_upload.delay(str(sofa.id))

    alone.refresh_from_db()
    lamp.refresh_from_db()
    assert [row["product_id"] for row in lamp.results] == [row["product_id"] for row in alone.results]
    assert [row["score"] for row in lamp.results] == pytest.approx([row["score"] for row in alone.results], abs=1e-4)
    assert lamp.categories == alone.categories or not alone.categories


def test_the_companions_own_deliveries_then_do_nothing(served, django_capture_on_commit_callbacks, backbone_batches):
    sofa, lamp = queued([SOFA, LAMP], django_capture_on_commit_callbacks)
    encode_upload.delay(str(sofa.id))
    lamp.refresh_from_db()

    encode_upload.delay(str(lamp.id))  # its own message arrives after the batch answered it

    again = InspirationUpload.objects.get(pk=lamp.id)
    assert (again.status, again.attempts, again.results, again.finished_at) == (
        Status.DONE,
        1,
        lamp.results,
        lamp.finished_at,
    )
    assert backbone_batches == [2]


def test_a_batch_holds_at_most_upload_batch_max_photos(
    served, django_capture_on_commit_callbacks, settings, backbone_batches
):
    settings.UPLOAD_BATCH_MAX = 2
    first, second, third = queued([SOFA, LAMP, RUG], django_capture_on_commit_callbacks)

    encode_upload.delay(str(first.id))

    assert backbone_batches == [2]
    statuses = [InspirationUpload.objects.get(pk=u.id).status for u in (first, second, third)]
    assert statuses == [Status.DONE, Status.DONE, Status.QUEUED]  # the longest queued joined first


def test_with_a_batch_of_one_each_upload_is_answered_alone(
    served, django_capture_on_commit_callbacks, settings, backbone_batches
):
    settings.UPLOAD_BATCH_MAX = 1
    first, second = queued([SOFA, LAMP], django_capture_on_commit_callbacks)

    encode_upload.delay(str(first.id))

    assert backbone_batches == [1]
    assert InspirationUpload.objects.get(pk=second.id).status == Status.QUEUED


def test_an_unreadable_photo_fails_alone_and_its_companions_are_answered(
    served, django_capture_on_commit_callbacks, backbone_batches
):
    sofa, broken, lamp = queued([SOFA, RUG, LAMP], django_capture_on_commit_callbacks)
    with broken.image.open("wb") as handle:  # the stored file is damaged after it was accepted
        handle.write(b"not a photo any more")

    encode_upload.delay(str(sofa.id))

    assert backbone_batches == [2]
    broken.refresh_from_db()
    assert (broken.status, broken.error) == (Status.FAILED, UNREADABLE)
    for upload, kind in [(sofa, "sofa"), (lamp, "lamp")]:
        upload.refresh_from_db()
        assert upload.status == Status.DONE
        assert result_kinds(upload)[0] == kind


def test_an_upload_tried_before_is_answered_alone_and_never_joins_a_batch(
    served, django_capture_on_commit_callbacks, backbone_batches
):
    """A photo that killed a worker is back in the queue with an attempt spent: it must not take others down
    with it again, nor be taken into theirs."""
    retried, fresh = queued([RUG, SOFA], django_capture_on_commit_callbacks)
    InspirationUpload.objects.filter(pk=retried.pk).update(attempts=1)

    encode_upload.delay(str(retried.id))  # its second attempt: alone
    encode_upload.delay(str(fresh.id))  # a first attempt: the retried upload is done already

    assert backbone_batches == [1, 1]
    assert InspirationUpload.objects.get(pk=retried.pk).attempts == 2


def test_a_failed_batch_puts_every_upload_it_took_back_in_the_queue(
    served, django_capture_on_commit_callbacks, backbone_batches, eager_celery, monkeypatch
):
    monkeypatch.setitem(eager_celery.conf, "task_eager_propagates", False)  # eager retries run at once, in turn
    sofa, lamp, rug = queued([SOFA, LAMP, RUG], django_capture_on_commit_callbacks)
    real = upload_processing.encode_queries
    calls = iter([OperationalError("the database went away")])

    def encode_or_fail(encoder, images):
        failure = next(calls, None)
        if failure is not None:
            raise failure
        return real(encoder, images)

    with mock.patch.object(upload_processing, "encode_queries", side_effect=encode_or_fail):
        encode_upload.delay(str(sofa.id))  # fails, is retried (at once in tests): alone, as a second attempt

    states = {u.id: InspirationUpload.objects.get(pk=u.id) for u in (sofa, lamp, rug)}
    assert (states[sofa.id].status, states[sofa.id].attempts) == (Status.DONE, 2)
    for companion in (lamp, rug):  # released, not lost: queued again for their own deliveries (or the reaper)
        assert (states[companion.id].status, states[companion.id].attempts) == (Status.QUEUED, 1)

    encode_upload.delay(str(lamp.id))
    encode_upload.delay(str(rug.id))
    assert [InspirationUpload.objects.get(pk=u.id).status for u in (lamp, rug)] == [Status.DONE, Status.DONE]


@pytest.mark.django_db(transaction=True)
def test_an_upload_another_delivery_is_taking_is_skipped_not_waited_for(served, django_capture_on_commit_callbacks):
    """Two workers gather companions at once: a row the other is claiming (locked) is left to it; this delivery
    takes the next one without waiting for the other's transaction."""
    if connection.vendor != "postgresql":
        pytest.skip("row locks of a second connection: PostgreSQL only")
    with mock.patch("recommender.services.uploads._enqueue"):  # queued, their deliveries still on the way
        first, contested, free = queued([SOFA, LAMP, RUG], django_capture_on_commit_callbacks)
    first = upload_processing.upload_claim(upload_id=first.pk, worker="here")
    other = connections.create_connection("default")  # the other worker's connection, in its open transaction
    try:
        other.set_autocommit(False)
        with other.cursor() as cursor:
            cursor.execute("SELECT id FROM recommender_inspirationupload WHERE id = %s FOR UPDATE", [contested.pk])
        with connection.cursor() as cursor:
            cursor.execute("SET lock_timeout = '2s'")  # waiting for the lock would fail the test, not hang it
        try:
            taken = upload_processing.uploads_claim_companions(first=first, worker="here", limit=3)
        finally:
            with connection.cursor() as cursor:
                cursor.execute("SET lock_timeout = 0")
    finally:
        other.rollback()
        other.close()

    assert [upload.pk for upload in taken] == [free.pk]
    assert (taken[0].status, taken[0].attempts, taken[0].worker) == (Status.PROCESSING, 1, "here")
    assert InspirationUpload.objects.get(pk=contested.pk).status == Status.QUEUED
