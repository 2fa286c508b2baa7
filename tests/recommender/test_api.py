import uuid

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from catalog.models import CoView
from recommender.models import InspirationUpload
from recommender.services.uploads import parse_upload_request, upload_create
from tests.catalog.factories import CategoryFactory
from tests.recommender.conftest import KINDS, draw, png

pytestmark = pytest.mark.django_db

UPLOADS = reverse("api:uploads_create")
CARD_FIELDS = {
    "sku", "name", "url", "image", "category", "category_name", "price", "currency", "price_is_demo", "score",
    "colour", "variants", "variants_total",
}  # fmt: skip


def photo(data: bytes | None = None, *, name: str = "photo.png") -> SimpleUploadedFile:
    data = data if data is not None else png(draw(KINDS[0][1], KINDS[0][2]))
    return SimpleUploadedFile(name, data, content_type="image/png")


def similar_url(sku: str) -> str:
    return reverse("api:product_similar", args=[sku])


def goes_with_url(sku: str) -> str:
    return reverse("api:product_goes_with", args=[sku])


def assert_error(response, status: int) -> None:
    assert response.status_code == status
    assert response["Content-Type"] == "application/json"
    assert isinstance(response.json()["error"], str) and response.json()["error"]


# POST /api/uploads


def test_post_without_a_file_is_a_bad_request(client):
    response = client.post(UPLOADS, {"category": ""})

    assert_error(response, 400)
    assert response.json()["error"] == "Choose a photo to upload."


def test_a_text_file_named_jpg_is_a_bad_request(client):
    response = client.post(UPLOADS, {"image": photo(b"hello, not a photo", name="sofa.jpg")})

    assert_error(response, 400)
    assert "not an image" in response.json()["error"]


def test_a_truncated_jpeg_is_a_bad_request(client):
    jpeg = png(draw(KINDS[0][1], KINDS[0][2], size=256), format="JPEG")

    response = client.post(UPLOADS, {"image": photo(jpeg[: len(jpeg) // 2], name="sofa.jpg")})

    assert_error(response, 400)
    assert "damaged or incomplete" in response.json()["error"]


def test_a_file_over_the_size_limit_is_too_large(client, settings):
    data = png(draw(KINDS[0][1], KINDS[0][2]))
    settings.IMAGE_MAX_BYTES = len(data) - 1

    response = client.post(UPLOADS, {"image": photo(data)})

    assert_error(response, 413)


def test_a_bad_crop_is_a_bad_request(client):
    response = client.post(UPLOADS, {"image": photo(), "crop": "0.5,0.5,0.9,0.9"})

    assert_error(response, 400)
    assert "crop" in response.json()["error"]


def test_an_unknown_category_is_a_bad_request(client):
    response = client.post(UPLOADS, {"image": photo(), "category": "castles"})

    assert_error(response, 400)
    assert "castles" in response.json()["error"]


def test_a_bad_max_price_is_a_bad_request(client):
    response = client.post(UPLOADS, {"image": photo(), "max_price": "cheap"})

    assert_error(response, 400)
    assert "max_price" in response.json()["error"]


def test_get_on_the_upload_endpoint_is_not_allowed(client):
    response = client.get(UPLOADS)

    assert_error(response, 405)
    assert response["Allow"] == "POST"


@pytest.mark.parametrize("url", [similar_url, goes_with_url])
def test_post_on_a_product_endpoint_is_not_allowed(client, catalog_products, url):
    response = client.post(url(catalog_products["sofa"][0].sku))

    assert_error(response, 405)
    assert response["Allow"] == "GET"


def test_a_rejected_upload_creates_nothing(client):
    client.post(UPLOADS, {"image": photo(b"not a photo")})

    assert not InspirationUpload.objects.exists()


def test_an_accepted_upload_answers_202_with_its_id_status_and_page(client):
    CategoryFactory(name="lamp", slug="lamp")

    response = client.post(UPLOADS, {"image": photo(), "category": "lamp", "max_price": "300", "crop": "0,0,1,1"})

    assert response.status_code == 202
    body = response.json()
    upload = InspirationUpload.objects.get()
    assert body["id"] == str(upload.id)
    assert body["status"] == "queued"
    assert body["url"] == f"http://testserver/uploads/{upload.id}/"


# GET /api/uploads/<id>


def test_an_unknown_upload_is_not_found(client):
    response = client.get(reverse("api:upload_status", args=[uuid.uuid4()]))

    assert_error(response, 404)


def test_a_queued_upload_has_no_results_yet(client):
    upload = upload_create(image=photo(), request=parse_upload_request(crop=None, category=None, max_price=None))

    body = client.get(reverse("api:upload_status", args=[upload.id])).json()

    assert (body["status"], body["error"], body["results"]) == ("queued", None, [])


def test_a_done_upload_lists_product_cards_best_first(client, served, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        upload_id = client.post(UPLOADS, {"image": photo()}).json()["id"]

    response = client.get(reverse("api:upload_status", args=[upload_id]))

    body = response.json()
    assert response.status_code == 200
    assert body["status"] == "done"
    assert body["error"] is None
    assert all(set(card) == CARD_FIELDS for card in body["results"])
    assert [card["category"] for card in body["results"][:4]] == ["sofa"] * 4
    first = body["results"][0]
    assert first["url"].startswith("http://testserver/products/")
    assert first["image"].startswith("http://testserver/")
    scores = [card["score"] for card in body["results"]]
    assert scores == sorted(scores, reverse=True)


# GET /api/products/<sku>/similar and /goes-with


@pytest.mark.parametrize("url", [similar_url, goes_with_url])
def test_an_unknown_sku_is_not_found(client, url):
    response = client.get(url("NO-SUCH-SKU"))

    assert_error(response, 404)
    assert "NO-SUCH-SKU" in response.json()["error"]


@pytest.mark.parametrize("url", [similar_url, goes_with_url])
@pytest.mark.parametrize("k", ["0", "51", "abc", "-1", "2.5", "²"])
def test_a_bad_k_is_a_bad_request(client, catalog_products, url, k):
    sofa = catalog_products["sofa"][0]

    response = client.get(url(sofa.sku), {"k": k})

    assert_error(response, 400)
    assert response.json()["error"] == "k must be a whole number from 1 to 50."


def test_similar_rejects_an_unknown_category(client, catalog_products):
    response = client.get(similar_url(catalog_products["sofa"][0].sku), {"category": "castles"})

    assert_error(response, 400)


def test_similar_rejects_a_bad_max_price(client, catalog_products):
    response = client.get(similar_url(catalog_products["sofa"][0].sku), {"max_price": "-5"})

    assert_error(response, 400)


def test_similar_lists_k_products_of_the_same_kind(client, served):
    sofa = served["products"]["sofa"][0]

    body = client.get(similar_url(sofa.sku), {"k": "3"}).json()

    assert body["sku"] == sofa.sku
    assert [card["category"] for card in body["results"]] == ["sofa"] * 3
    assert sofa.sku not in [card["sku"] for card in body["results"]]
    assert all(set(card) == CARD_FIELDS for card in body["results"])


def test_similar_honours_the_category_and_price_filters(client, served):
    sofa = served["products"]["sofa"][0]

    body = client.get(similar_url(sofa.sku), {"category": "lamp", "max_price": "200"}).json()

    cheap_lamps = {lamp.sku for lamp in served["products"]["lamp"] if lamp.price <= 200}
    assert {card["sku"] for card in body["results"]} == cheap_lamps


def test_goes_with_lists_products_used_together_first(client, served):
    sofa, rug = served["products"]["sofa"][0], served["products"]["rug"][3]
    first, second = sorted([sofa, rug], key=lambda product: product.pk)
    CoView.objects.create(
        kind=CoView.Kind.USED, product_a=first, product_b=second, count=3, last_seen="2026-01-01T00:00Z"
    )

    body = client.get(goes_with_url(sofa.sku), {"k": "5"}).json()

    assert body["results"][0]["sku"] == rug.sku
    assert len(body["results"]) == 5
    assert "sofa" not in [card["category"] for card in body["results"]]


@pytest.mark.django_db
def test_a_malformed_upload_id_is_a_json_404(client):
    response = client.get("/api/uploads/not-a-uuid")

    assert response.status_code == 404
    assert response.json()["error"]


def test_the_api_keeps_the_plain_decimal_and_names_the_currency(client, catalog_products, settings):
    settings.CURRENCY = "EUR"
    lamp = catalog_products["lamp"][0]
    upload = InspirationUpload.objects.create(
        image="uploads/x.png", status="done", results=[{"product_id": lamp.pk, "score": 0.9}]
    )

    card = client.get(reverse("api:upload_status", args=[upload.pk])).json()["results"][0]

    assert (card["price"], card["currency"], card["price_is_demo"]) == ("100.00", "EUR", False)
    assert (card["category"], card["category_name"]) == ("lamp", "lamp")
