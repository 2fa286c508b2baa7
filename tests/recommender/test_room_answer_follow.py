"""The pieces of a photo are found after its answer, by a follow-up task: until they are in (or known absent) the
upload's state says so (``done:pieces``), a long-poll waits for them, and the results page keeps following."""

import threading

import pytest
from django.db import connection

from encoders.lifecycle import served_finder
from recommender import api
from recommender.models import InspirationUpload
from recommender.services import upload_processing
from recommender.services.notify import upload_state
from recommender.services.upload_processing import upload_answer, upload_pieces_find
from tests.recommender import test_room_answer
from tests.recommender.test_cpu_priority import django_set_up_with
from tests.recommender.test_room_answer import piece_of

Status, PiecesStatus = InspirationUpload.Status, InspirationUpload.PiecesStatus
answered_photo = test_room_answer.answered_photo  # the fixture: a photo answered as one piece, no pieces looked for


def answer_without_the_pieces_task(upload, settings, django_capture_on_commit_callbacks, monkeypatch) -> list:
    """Answer ``upload`` as the worker does, the pieces task held back: the ids it would have been sent for."""
    settings.ROOM_PIECES = 6
    sent = []
    monkeypatch.setattr(upload_processing, "_send_find_pieces", sent.append)
    with django_capture_on_commit_callbacks(execute=True):
        upload_answer(upload=upload)
    return sent


@pytest.mark.django_db
def test_an_answered_photo_is_looking_for_its_pieces_until_they_are_stored(
    served, answered_photo, settings, django_capture_on_commit_callbacks, monkeypatch
):
    sent = answer_without_the_pieces_task(answered_photo, settings, django_capture_on_commit_callbacks, monkeypatch)

    waiting = InspirationUpload.objects.get(pk=answered_photo.pk)
    assert sent == [str(answered_photo.pk)]
    assert waiting.pieces_status == PiecesStatus.LOOKING and upload_state(waiting) == "done:pieces"

    sofa, lamp = served["products"]["sofa"][0], served["products"]["lamp"][0]
    upload_pieces_find(
        upload_id=answered_photo.pk, pieces_of=lambda encoder, picture: [piece_of(sofa, 0.9), piece_of(lamp, 0.8)]
    )

    found = InspirationUpload.objects.get(pk=answered_photo.pk)
    assert found.pieces_status == PiecesStatus.LOOKED and upload_state(found) == "done:answer" and found.pieces


@pytest.mark.django_db
def test_a_photo_without_pieces_is_known_to_have_none(
    served, answered_photo, settings, django_capture_on_commit_callbacks, monkeypatch
):
    answer_without_the_pieces_task(answered_photo, settings, django_capture_on_commit_callbacks, monkeypatch)

    upload_pieces_find(upload_id=answered_photo.pk, pieces_of=lambda encoder, picture: [])

    found = InspirationUpload.objects.get(pk=answered_photo.pk)
    assert (found.pieces, found.pieces_status, upload_state(found)) == ([], PiecesStatus.LOOKED, "done:answer")


@pytest.mark.django_db
def test_a_box_the_shopper_marked_is_not_waited_for(
    served, answered_photo, settings, django_capture_on_commit_callbacks, monkeypatch
):
    answered_photo.crop = [0.1, 0.1, 0.5, 0.5]

    sent = answer_without_the_pieces_task(answered_photo, settings, django_capture_on_commit_callbacks, monkeypatch)

    upload = InspirationUpload.objects.get(pk=answered_photo.pk)
    assert sent == [] and upload.pieces_status == PiecesStatus.NOT_LOOKED and upload_state(upload) == "done:answer"


@pytest.mark.django_db
def test_pieces_that_cannot_be_looked_for_any_more_are_not_waited_for(
    served, answered_photo, settings, django_capture_on_commit_callbacks, monkeypatch
):
    answer_without_the_pieces_task(answered_photo, settings, django_capture_on_commit_callbacks, monkeypatch)
    InspirationUpload.objects.filter(pk=answered_photo.pk).update(encoder_version=None)  # a version gone since

    assert upload_pieces_find(upload_id=answered_photo.pk) is False

    assert upload_state(InspirationUpload.objects.get(pk=answered_photo.pk)) == "done:answer"


@pytest.mark.django_db
def test_a_pieces_task_that_fails_stops_the_wait(
    served, answered_photo, settings, django_capture_on_commit_callbacks, monkeypatch
):
    from recommender.tasks import find_upload_pieces

    answer_without_the_pieces_task(answered_photo, settings, django_capture_on_commit_callbacks, monkeypatch)

    def broken(encoder, picture, **settings):
        raise RuntimeError("the finder broke")

    monkeypatch.setattr(upload_processing, "find_pieces", broken)
    with pytest.raises(RuntimeError):
        find_upload_pieces.delay(str(answered_photo.pk))  # Celery runs eagerly and propagates

    upload = InspirationUpload.objects.get(pk=answered_photo.pk)
    assert upload.pieces_status == PiecesStatus.NOT_LOOKED and upload_state(upload) == "done:answer"


@pytest.mark.django_db
def test_a_pieces_task_that_cannot_be_sent_stops_the_wait(
    served, answered_photo, settings, django_capture_on_commit_callbacks, monkeypatch
):
    from recommender import tasks

    def broker_down(upload_id):
        raise ConnectionError("no broker")

    settings.ROOM_PIECES = 6
    monkeypatch.setattr(tasks.find_upload_pieces, "delay", broker_down)
    with django_capture_on_commit_callbacks(execute=True):
        upload_answer(upload=answered_photo)

    assert upload_state(InspirationUpload.objects.get(pk=answered_photo.pk)) == "done:answer"


@pytest.mark.django_db
@pytest.mark.parametrize("source", ["crop", "window"])
def test_the_worker_finds_the_pieces_with_the_configured_source_of_their_vectors(
    served, answered_photo, settings, django_capture_on_commit_callbacks, monkeypatch, source
):
    answer_without_the_pieces_task(answered_photo, settings, django_capture_on_commit_callbacks, monkeypatch)
    settings.ROOM_PIECE_VECTORS = source
    asked = []

    def finder(encoder, picture, *, settings):
        asked.append((settings.max_pieces, settings.vectors))
        return []

    monkeypatch.setattr(upload_processing, "find_pieces", finder)
    upload_pieces_find(upload_id=answered_photo.pk)

    assert asked == [(6, source)]
    assert served_finder().vectors == source  # what evaluate_encoder measures the pieces with


@pytest.mark.django_db
def test_the_worker_and_the_evaluation_look_for_as_many_pieces_as_configured(
    served, answered_photo, settings, django_capture_on_commit_callbacks, monkeypatch
):
    answer_without_the_pieces_task(answered_photo, settings, django_capture_on_commit_callbacks, monkeypatch)
    settings.ROOM_PIECES = 9
    asked = []

    def finder(encoder, picture, *, settings):
        asked.append(settings.max_pieces)
        return []

    monkeypatch.setattr(upload_processing, "find_pieces", finder)
    upload_pieces_find(upload_id=answered_photo.pk)

    assert asked == [9] and served_finder().max_pieces == 9  # the evaluation's EncoderEmbedder finds with it


# What a waiting client sees


@pytest.fixture
def looking(catalog_products):
    """An answered upload whose pieces are still being looked for."""
    return InspirationUpload.objects.create(
        image="uploads/room.png",
        status=Status.DONE,
        results=[{"product_id": product.pk, "score": 0.8} for product in catalog_products["sofa"]],
        pieces_status=PiecesStatus.LOOKING,
    )


def store_pieces_later(upload_id, pieces: list[dict], started: threading.Event) -> threading.Thread:
    """The follow-up task, from another connection, once the long-poll has started waiting."""

    def store():
        started.wait(timeout=20)  # a client answered at once never starts waiting: store the pieces anyway
        InspirationUpload.objects.filter(pk=upload_id).update(pieces=pieces, pieces_status=PiecesStatus.LOOKED)
        upload_processing.upload_changed(str(upload_id))
        connection.close()

    thread = threading.Thread(target=store)
    thread.start()
    return thread


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("notifier", ["redis", "database"])
def test_a_long_poll_on_an_answer_waits_for_its_pieces(
    client, settings, looking, catalog_products, notifier, request, monkeypatch
):
    settings.REDIS_URL = request.getfixturevalue("redis_url") if notifier == "redis" else ""
    sofa = catalog_products["sofa"][:2]
    piece = {"box": [0.1, 0.1, 0.5, 0.5], "category": "sofa", "confidence": 0.9}
    piece["results"] = [{"product_id": product.pk, "score": 0.9} for product in sofa]
    started = threading.Event()
    real_wait = api.wait_for_change

    def waiting(*args, **kwargs):
        started.set()
        return real_wait(*args, **kwargs)

    monkeypatch.setattr(api, "wait_for_change", waiting)
    storer = store_pieces_later(looking.pk, [piece], started)

    response = client.get(f"/api/uploads/{looking.pk}?wait=20&after=done:pieces")
    storer.join()

    body = response.json()
    assert started.is_set()  # it waited, where an answered upload used to be answered at once
    assert body["state"] == "done:answer"
    assert [card["sku"] for card in body["pieces"][0]["results"]] == [product.sku for product in sofa]


@pytest.mark.django_db
def test_the_answer_page_follows_the_upload_while_its_pieces_are_looked_for(client, looking):
    html = client.get(looking.get_absolute_url()).content.decode()

    assert 'data-state="done:pieces"' in html and "upload-status.js" in html
    assert 'id="pieces-status"' in html and "Looking for each piece of furniture in your photo" in html
    assert 'id="results"' in html  # the answer is there meanwhile


@pytest.mark.django_db
def test_the_answer_page_stops_following_once_the_pieces_are_known(client, looking):
    looking.pieces_status = PiecesStatus.LOOKED
    looking.save(update_fields=["pieces_status"])

    html = client.get(looking.get_absolute_url()).content.decode()

    assert 'data-state="done:answer"' in html and "upload-status.js" not in html and "pieces-status" not in html


@pytest.mark.django_db
def test_the_reaper_stops_the_wait_for_pieces_whose_task_was_lost(looking):
    from datetime import timedelta

    from django.utils import timezone

    from recommender.tasks import reap_stale_uploads

    fresh = InspirationUpload.objects.create(
        image="uploads/fresh.png", status=Status.DONE, pieces_status=PiecesStatus.LOOKING
    )
    InspirationUpload.objects.filter(pk=fresh.pk).update(finished_at=timezone.now())
    InspirationUpload.objects.filter(pk=looking.pk).update(finished_at=timezone.now() - timedelta(hours=1))

    reap_stale_uploads.delay()

    assert upload_state(InspirationUpload.objects.get(pk=looking.pk)) == "done:answer"
    assert upload_state(InspirationUpload.objects.get(pk=fresh.pk)) == "done:pieces"  # its task may still come


def test_an_unknown_source_of_piece_vectors_in_the_environment_stops_the_settings_with_a_clear_error():
    done = django_set_up_with(ROOM_PIECE_VECTORS="pixels")
    assert done.returncode != 0
    assert "ROOM_PIECE_VECTORS must be crop or window, not 'pixels'" in done.stderr
