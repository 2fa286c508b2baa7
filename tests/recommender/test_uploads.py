from datetime import timedelta
from decimal import Decimal
from io import BytesIO

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from PIL import Image

from catalog.models import Product
from recommender.models import InspirationUpload
from recommender.services.maps import place_among, places_of
from recommender.services.search import Filters
from recommender.services.upload_processing import query_image, upload_claim, upload_draw
from recommender.services.uploads import (
    UploadRejected,
    parse_crop,
    parse_filters,
    parse_upload_request,
    upload_create,
    uploads_reap,
)
from recommender.tasks import UNAVAILABLE, encode_upload
from tests.catalog.factories import CategoryFactory
from tests.recommender.conftest import KINDS, draw, png

pytestmark = pytest.mark.django_db

SOFA, LAMP = KINDS[0], KINDS[1]


def photo(data: bytes | None = None, *, name: str = "photo.png") -> SimpleUploadedFile:
    data = data if data is not None else png(draw(SOFA[1], SOFA[2]))
    return SimpleUploadedFile(name, data, content_type="image/png")


def request_for(*, crop=None, category=None, max_price=None):
    return parse_upload_request(crop=crop, category=category, max_price=max_price)


def stored_files(media_root) -> list:
    return [path for path in media_root.rglob("*") if path.is_file()] if media_root.exists() else []


def result_kinds(upload: InspirationUpload) -> list[str]:
    slugs = dict(Product.objects.values_list("pk", "category__slug"))
    return [slugs[row["product_id"]] for row in upload.results]


def sofa_left_lamp_right() -> bytes:
    image = Image.new("RGB", (128, 64), "white")
    image.paste(draw(SOFA[1], SOFA[2]), (0, 0))
    image.paste(draw(LAMP[1], LAMP[2]), (64, 0))
    return png(image)


# parse_crop / parse_filters


def test_parse_crop_reads_four_fractions():
    assert parse_crop("0.1,0.2,0.5,0.6") == [0.1, 0.2, 0.5, 0.6]


def test_parse_crop_without_a_crop_is_none():
    assert parse_crop("") is None


@pytest.mark.parametrize(
    "text",
    ["0.1,0.2,0.5", "a,b,c,d", "0,0,1.5,1", "-0.1,0,0.5,0.5", "0.6,0,0.5,0.5", "0,0,0.01,0.5", "nan,0,0.5,0.5"],
)
def test_parse_crop_rejects_a_box_that_is_not_inside_the_photo(text):
    with pytest.raises(UploadRejected) as rejected:
        parse_crop(text)

    assert rejected.value.status == 400
    assert "crop" in rejected.value.message


def test_parse_filters_reads_a_known_category_and_a_price():
    CategoryFactory(name="lamp", slug="lamp")

    filters = parse_filters(category=" lamp ", max_price="199.50")

    assert filters == Filters(category="lamp", max_price=Decimal("199.50"))


def test_parse_filters_without_filters_is_empty():
    assert parse_filters(category="", max_price="") == Filters()


def test_parse_filters_rejects_an_unknown_category():
    with pytest.raises(UploadRejected, match="Unknown category 'castles'"):
        parse_filters(category="castles", max_price=None)


@pytest.mark.parametrize("price", ["cheap", "-1", "NaN", "Infinity"])
def test_parse_filters_rejects_a_price_that_is_not_a_number_of_zero_or_more(price):
    with pytest.raises(UploadRejected, match="max_price"):
        parse_filters(category="", max_price=price)


# upload_create


@pytest.mark.parametrize("client_name", ["../../etc/passwd.png", "ソファ 写真.png", "photo.exe"])
def test_the_stored_name_is_the_upload_id_never_the_clients_file_name(client_name, isolated_media):
    upload = upload_create(image=photo(name=client_name), request=request_for())

    assert upload.image.name.rsplit("/", 1)[-1] == f"{upload.id}.jpg"
    assert stored_files(isolated_media) == [isolated_media / upload.image.name]


def test_an_upload_is_stored_queued_with_its_crop_and_filters():
    CategoryFactory(name="lamp", slug="lamp")

    upload = upload_create(image=photo(), request=request_for(crop="0,0,0.5,1", category="lamp", max_price="250"))

    upload.refresh_from_db()
    assert upload.status == InspirationUpload.Status.QUEUED
    assert upload.crop == [0.0, 0.0, 0.5, 1.0]
    assert upload.filters == {"category": "lamp", "max_price": "250"}


@pytest.mark.parametrize("data", [b"this is text, not a photo", png(draw(SOFA[1], SOFA[2]), format="JPEG")[:300], b""])
def test_a_rejected_upload_leaves_no_file_and_no_row(data, isolated_media):
    with pytest.raises(UploadRejected):
        upload_create(image=photo(data, name="photo.jpg"), request=request_for())

    assert stored_files(isolated_media) == []
    assert not InspirationUpload.objects.exists()


def test_a_photo_over_the_size_limit_is_rejected_as_too_large(settings):
    data = png(draw(SOFA[1], SOFA[2]))
    settings.IMAGE_MAX_BYTES = len(data) - 1

    with pytest.raises(UploadRejected) as rejected:
        upload_create(image=photo(data), request=request_for())

    assert rejected.value.status == 413


# the worker


def test_the_upload_is_encoded_on_commit_and_ends_done_with_ranked_results(served, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        upload = upload_create(image=photo(), request=request_for())

    upload.refresh_from_db()
    assert upload.status == InspirationUpload.Status.DONE
    assert result_kinds(upload)[:4] == ["sofa"] * 4
    scores = [row["score"] for row in upload.results]
    assert scores == sorted(scores, reverse=True)
    assert upload.encoder_version == served["encoder"]
    assert upload.index_version == served["index"]
    assert upload.finished_at is not None


def test_nothing_is_encoded_before_the_transaction_commits(served, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        upload = upload_create(image=photo(), request=request_for())

    upload.refresh_from_db()
    assert len(callbacks) == 1
    assert upload.status == InspirationUpload.Status.QUEUED


def test_a_photo_with_exif_orientation_is_turned_upright():
    exif = Image.Exif()
    exif[0x0112] = 6  # stored lying on its side: rotate 90° clockwise to view
    buffer = BytesIO()
    Image.new("RGB", (80, 40), "white").save(buffer, format="JPEG", exif=exif)
    upload = upload_create(image=photo(buffer.getvalue(), name="phone.jpg"), request=request_for())

    image = query_image(upload)

    assert image.size == (40, 80)


def test_a_stored_photo_keeps_no_exif_and_no_gps():
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"  # camera make
    exif[0x8825] = {1: "N", 2: (52.0, 22.0, 1.0), 3: "E", 4: (4.0, 53.0, 2.0)}  # GPS position
    buffer = BytesIO()
    Image.new("RGB", (80, 40), "white").save(buffer, format="JPEG", exif=exif)
    with Image.open(BytesIO(buffer.getvalue())) as original:
        assert original.getexif().get(0x010F) == "PhoneMaker"  # the test photo really carries EXIF

    upload = upload_create(image=photo(buffer.getvalue(), name="phone.jpg"), request=request_for())

    with upload.image.open("rb") as handle:
        stored = handle.read()
    with Image.open(BytesIO(stored)) as image:
        assert not image.getexif()
        assert "exif" not in image.info
    assert b"PhoneMaker" not in stored


def test_a_large_photo_is_stored_scaled_down(settings):
    settings.UPLOAD_MAX_SIDE = 100
    buffer = BytesIO()
    Image.new("RGB", (1200, 900), "red").save(buffer, format="JPEG")

    upload = upload_create(image=photo(buffer.getvalue(), name="big.jpg"), request=request_for())

    with Image.open(upload.image.path) as image:
        assert max(image.size) == 100


@pytest.mark.parametrize(("crop", "expected"), [("0,0,0.5,1", "sofa"), ("0.5,0,0.5,1", "lamp")])
def test_the_crop_chooses_which_part_of_the_photo_is_searched(
    crop, expected, served, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        upload = upload_create(image=photo(sofa_left_lamp_right()), request=request_for(crop=crop))

    upload.refresh_from_db()
    assert result_kinds(upload)[:4] == [expected] * 4


def test_the_category_filter_is_honoured(served, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        upload = upload_create(image=photo(), request=request_for(category="lamp"))

    upload.refresh_from_db()
    assert result_kinds(upload) == ["lamp"] * 4


def test_the_price_filter_is_honoured(served, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        upload = upload_create(image=photo(), request=request_for(max_price="200"))

    upload.refresh_from_db()
    prices = dict(Product.objects.values_list("pk", "price"))
    assert len(upload.results) == 6  # two of each kind cost 200 or less
    assert all(prices[row["product_id"]] <= 200 for row in upload.results)


def test_without_a_live_encoder_the_upload_fails_readably_after_bounded_retries(
    django_capture_on_commit_callbacks, eager_celery, monkeypatch
):
    # Propagating eager tasks raise Retry to the caller; without propagation, eager retries run at once, in turn.
    monkeypatch.setitem(eager_celery.conf, "task_eager_propagates", False)
    with django_capture_on_commit_callbacks(execute=True):
        upload = upload_create(image=photo(), request=request_for())

    upload.refresh_from_db()
    assert upload.status == InspirationUpload.Status.FAILED
    assert upload.error == UNAVAILABLE
    assert upload.attempts == encode_upload.max_retries + 1


def test_processing_a_finished_upload_changes_nothing(served, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        upload = upload_create(image=photo(), request=request_for())
    upload.refresh_from_db()

    encode_upload.delay(str(upload.id))

    again = InspirationUpload.objects.get(pk=upload.id)
    assert (again.status, again.attempts, again.results, again.finished_at) == (
        upload.status,
        upload.attempts,
        upload.results,
        upload.finished_at,
    )


def test_a_second_delivery_while_the_first_runs_does_nothing(served):
    upload = upload_create(image=photo(), request=request_for())
    first = upload_claim(upload_id=upload.id)  # the first delivery is working on it

    encode_upload.delay(str(upload.id))  # the broker delivers the task again

    again = InspirationUpload.objects.get(pk=upload.id)
    assert first is not None
    assert (again.status, again.attempts, again.results) == (InspirationUpload.Status.PROCESSING, 1, [])


def stale_processing_upload(*, attempts: int) -> InspirationUpload:
    upload = InspirationUpload.objects.create(
        image="uploads/stale.png", status=InspirationUpload.Status.PROCESSING, attempts=attempts
    )
    long_ago = timezone.now() - timedelta(hours=1)
    InspirationUpload.objects.filter(pk=upload.pk).update(started_at=long_ago, created_at=long_ago, queued_at=long_ago)
    return upload


def test_reaping_requeues_a_stale_upload_with_attempts_left(settings):
    upload = stale_processing_upload(attempts=settings.UPLOAD_MAX_ATTEMPTS - 1)

    requeue, failed = uploads_reap()

    upload.refresh_from_db()
    assert (requeue, failed) == ([str(upload.id)], 0)
    assert upload.status == InspirationUpload.Status.QUEUED  # the re-sent task can claim it


def test_reaping_sends_a_lost_queued_upload_once_not_on_every_run(settings):
    upload = InspirationUpload.objects.create(image="uploads/lost.png")
    InspirationUpload.objects.filter(pk=upload.pk).update(queued_at=timezone.now() - timedelta(hours=1))

    first = uploads_reap()
    second = uploads_reap()

    assert first == ([str(upload.id)], 0)
    assert second == ([], 0)


def test_reaping_fails_a_stale_upload_with_no_attempts_left(settings):
    upload = stale_processing_upload(attempts=settings.UPLOAD_MAX_ATTEMPTS)

    requeue, failed = uploads_reap()

    upload.refresh_from_db()
    assert (requeue, failed) == ([], 1)
    assert upload.status == InspirationUpload.Status.FAILED
    assert "upload it again" in upload.error


def test_reaping_leaves_a_recent_upload_alone(settings):
    upload = InspirationUpload.objects.create(
        image="uploads/fresh.png", status=InspirationUpload.Status.PROCESSING, started_at=timezone.now()
    )

    requeue, failed = uploads_reap()

    upload.refresh_from_db()
    assert (requeue, failed) == ([], 0)
    assert upload.status == InspirationUpload.Status.PROCESSING


# what the model sees (drawn for staff only), where the photo lands


def test_the_answer_is_the_last_step_and_nothing_is_drawn_for_a_shopper(
    served, django_capture_on_commit_callbacks, monkeypatch
):
    from recommender import tasks

    drawings = []
    monkeypatch.setattr(tasks.draw_upload, "delay", lambda *args: drawings.append(args))
    with django_capture_on_commit_callbacks(execute=True):
        upload = upload_create(image=photo(), request=request_for())

    upload.refresh_from_db()
    assert upload.status == InspirationUpload.Status.DONE and upload.code
    assert not upload.reconstruction and drawings == []


def test_a_drawing_staff_ask_for_is_drawn_from_the_kept_code(served, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        upload = upload_create(image=photo(), request=request_for())

    assert upload_draw(upload_id=upload.pk) is True

    upload.refresh_from_db()
    assert upload.reconstruction.name == f"uploads/reconstructions/{upload.id}.png"
    with Image.open(upload.reconstruction.path) as picture:
        assert picture.format == "PNG" and picture.size[0] == picture.size[1]
    assert upload_draw(upload_id=upload.pk) is False  # drawn already: asking twice draws once


def test_the_photo_lands_among_its_matches_on_the_map(served, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        upload = upload_create(image=photo(), request=request_for())
    upload.refresh_from_db()

    place = place_among([(row["product_id"], row["score"]) for row in upload.results])

    places = places_of([p.pk for items in served["products"].values() for p in items])
    nearest = min(places, key=lambda pid: (places[pid].x - place.x) ** 2 + (places[pid].y - place.y) ** 2)
    assert nearest in {p.pk for p in served["products"]["sofa"]}


def test_the_crop_is_what_the_model_redraws(served, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        left = upload_create(image=photo(sofa_left_lamp_right()), request=request_for(crop="0,0,0.5,1"))
        right = upload_create(image=photo(sofa_left_lamp_right()), request=request_for(crop="0.5,0,0.5,1"))
    upload_draw(upload_id=left.pk)
    upload_draw(upload_id=right.pk)

    left.refresh_from_db()
    right.refresh_from_db()
    reds = []
    for upload in (left, right):
        with Image.open(upload.reconstruction.path) as picture:
            r, _, b = picture.convert("RGB").resize((1, 1), Image.Resampling.BOX).getpixel((0, 0))
            reds.append(r - b)
    assert reds[0] > reds[1]  # the sofa is red, the lamp blue


def test_a_retried_drawing_replaces_its_reconstruction(served, django_capture_on_commit_callbacks, isolated_media):
    from recommender.tasks import draw_upload

    with django_capture_on_commit_callbacks(execute=True):
        upload = upload_create(image=photo(), request=request_for())
    draw_upload.delay(str(upload.id))
    InspirationUpload.objects.filter(pk=upload.pk).update(reconstruction="")  # as if the first attempt was lost

    draw_upload.delay(str(upload.id))

    assert len(list((isolated_media / "uploads" / "reconstructions").iterdir())) == 1
    upload.refresh_from_db()
    assert upload.reconstruction.name == f"uploads/reconstructions/{upload.id}.png"


def test_the_results_page_never_shows_what_the_model_sees(client, served, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        upload = upload_create(image=photo(), request=request_for())
    upload_draw(upload_id=upload.pk)  # even once staff had it drawn

    html = client.get(upload.get_absolute_url()).content.decode()
    body = client.get(f"/api/uploads/{upload.pk}").json()

    assert "reconstructions/" not in html and "What the model sees" not in html
    assert body["state"] == "done:answer" and body["reconstruction"] is None


def test_the_results_page_places_the_photo_among_its_matches_on_the_map(
    client, served, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        upload = upload_create(image=photo(), request=request_for())

    html = client.get(upload.get_absolute_url()).content.decode()

    assert "Where your photo lands" in html
    assert html.count('class="found"') == 12  # every match is a link on the map
    assert 'id="upload-point"' in html
    assert html.count("<circle") == 12 * 2 + 2  # each match a dot and its hit circle; the photo a ring and a dot
