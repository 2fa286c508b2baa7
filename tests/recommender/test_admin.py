import pytest
from django.urls import reverse

from recommender.models import InspirationUpload
from recommender.services.uploads import upload_create
from tests.recommender.conftest import KINDS, draw, png

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_client(client, django_user_model):
    client.force_login(django_user_model.objects.create_user("staff", password="pw", is_staff=True, is_superuser=True))
    return client


def test_the_product_change_page_shows_its_nearest_neighbours(staff_client, served):
    lamp = served["products"]["lamp"][0]

    response = staff_client.get(reverse("admin:catalog_product_change", args=[lamp.pk]))

    html = response.content.decode()
    assert response.status_code == 200
    assert "Nearest neighbours now" in html
    section = html[html.index('class="neighbours"') :]
    section = section[: section.index("</ol>")]
    assert section.count("<li") == 8
    assert all(f"LAMP {n}" in section for n in (1, 2, 3))  # the other lamps
    assert "LAMP 0" not in section  # never the product itself
    assert reverse("admin:catalog_product_change", args=[served["products"]["lamp"][1].pk]) in section


def test_a_product_not_yet_encoded_says_so(staff_client, catalog_products):
    lamp = catalog_products["lamp"][0]

    response = staff_client.get(reverse("admin:catalog_product_change", args=[lamp.pk]))

    assert "not encoded yet" in response.content.decode()


def test_the_add_page_explains_when_neighbours_appear(staff_client, catalog_products):
    response = staff_client.get(reverse("admin:catalog_product_add"))

    assert response.status_code == 200
    assert "Shown once the product is saved" in response.content.decode()


@pytest.mark.parametrize(
    "url",
    [
        "admin:recommender_recommendationfeedback_changelist",
        "admin:recommender_retrainrun_changelist",
        "admin:recommender_indexversion_changelist",
        "admin:recommender_inspirationupload_changelist",
        "admin:encoders_encoderversion_changelist",
    ],
)
def test_the_staff_pages_of_the_recommender_open(staff_client, served, url):
    assert staff_client.get(reverse(url)).status_code == 200


def shopper_upload(django_capture_on_commit_callbacks) -> InspirationUpload:
    """A sofa photo answered by the worker (the task runs eagerly in tests)."""
    from django.core.files.uploadedfile import SimpleUploadedFile

    from recommender.services.search import Filters
    from recommender.services.uploads import UploadRequest

    image = SimpleUploadedFile("sofa.png", png(draw(KINDS[0][1], KINDS[0][2])), content_type="image/png")
    with django_capture_on_commit_callbacks(execute=True):
        upload = upload_create(image=image, request=UploadRequest(filters=Filters(), crop=None))
    upload.refresh_from_db()
    return upload


def test_staff_draw_what_the_model_sees_of_an_upload_and_see_it_once_drawn(
    staff_client, served, django_capture_on_commit_callbacks
):
    upload = shopper_upload(django_capture_on_commit_callbacks)
    page_url = reverse("admin:recommender_inspirationupload_change", args=[upload.pk])
    before = staff_client.get(page_url).content.decode()

    response = staff_client.post(reverse("admin:recommender_inspirationupload_draw", args=[upload.pk]), follow=True)

    after = response.content.decode()
    assert "Not drawn yet." in before and 'id="draw-model-sees"' in before
    assert "Drawing what the model sees of 1 upload(s)" in after
    assert f'src="/media/uploads/reconstructions/{upload.id}.png"' in after and 'id="draw-model-sees"' not in after


def test_the_draw_action_queues_only_uploads_that_can_be_drawn_and_are_not(staff_client, served, monkeypatch):
    from recommender import tasks

    queued = []
    monkeypatch.setattr(tasks.draw_upload, "delay", lambda upload_id: queued.append(upload_id))
    version = served["encoder"]
    answered = InspirationUpload.objects.create(
        image="uploads/a.jpg", status=InspirationUpload.Status.DONE, code=b"\0\0" * 8, encoder_version=version
    )
    drawn = InspirationUpload.objects.create(
        image="uploads/b.jpg", status=InspirationUpload.Status.DONE, code=b"\0\0" * 8, encoder_version=version,
        reconstruction="uploads/reconstructions/b.png",
    )  # fmt: skip
    waiting = InspirationUpload.objects.create(image="uploads/c.jpg", status=InspirationUpload.Status.QUEUED)

    response = staff_client.post(
        reverse("admin:recommender_inspirationupload_changelist"),
        {"action": "draw", "_selected_action": [answered.pk, drawn.pk, waiting.pk]},
        follow=True,
    )

    assert queued == [str(answered.pk)]
    assert "Not queued: 1 drawn already, 1 without an answer to draw from." in response.content.decode()
