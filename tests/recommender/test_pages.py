import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from pytest_django.asserts import assertContains, assertRedirects

from catalog.variants import variant_key
from recommender.models import InspirationUpload
from tests.recommender.conftest import KINDS, draw, png

pytestmark = pytest.mark.django_db


def photo(data: bytes | None = None, *, name: str = "photo.png") -> SimpleUploadedFile:
    data = data if data is not None else png(draw(KINDS[0][1], KINDS[0][2]))
    return SimpleUploadedFile(name, data, content_type="image/png")


def section(html: str, section_id: str) -> str:
    """The HTML of one recommendations section of a product page."""
    start = html.index(f'<section class="recommendations" id="{section_id}"')
    return html[start : html.index("</section>", start)]


def card_names(html: str) -> list[str]:
    return re.findall(r'<span class="name">([^<]*)</span>', html)


def done_upload(products, *, drawn: bool = True) -> InspirationUpload:
    results = [{"product_id": product.pk, "score": 0.9 - n / 100} for n, product in enumerate(products)]
    return InspirationUpload.objects.create(
        image="uploads/done.png",
        status=InspirationUpload.Status.DONE,
        results=results,
        reconstruction="uploads/reconstructions/done.png" if drawn else "",
    )


# the upload form


def test_home_shows_an_upload_form_that_can_use_the_phone_camera(client, catalog_products):
    response = client.get("/")

    assertContains(response, 'enctype="multipart/form-data"')
    assertContains(response, 'accept="image/jpeg,image/png,image/webp" capture="environment"')
    assertContains(response, '<option value="lamp">lamp</option>', html=True)
    assertContains(response, 'name="max_price"')


def test_posting_a_file_that_is_not_a_photo_shows_a_readable_error(client, catalog_products):
    response = client.post("/", {"image": photo(b"just some text", name="notes.jpg"), "max_price": "250"})

    assertContains(response, "The file is not an image Lookalike can read", status_code=400)
    assertContains(response, 'value="250"', status_code=400)
    assert not InspirationUpload.objects.exists()


def test_posting_a_photo_sends_the_shopper_to_the_upload_page(client):
    response = client.post("/", {"image": photo()})

    upload = InspirationUpload.objects.get()
    assertRedirects(response, f"/uploads/{upload.id}/", fetch_redirect_response=False)


# the upload page


def test_a_queued_upload_shows_waiting_and_polls_for_its_status(client):
    client.post("/", {"image": photo()})
    upload = InspirationUpload.objects.get()

    response = client.get(upload.get_absolute_url())

    assertContains(response, "Waiting for a free worker…")
    assertContains(response, f'data-status-url="/api/uploads/{upload.id}"')
    assertContains(response, "js/upload-status.js")


def test_a_failed_upload_shows_its_error_and_stops_polling(client):
    upload = InspirationUpload.objects.create(
        image="uploads/failed.png", status=InspirationUpload.Status.FAILED, error="We could not read this photo."
    )

    response = client.get(upload.get_absolute_url())

    assertContains(response, "We could not read this photo.")
    assert "upload-status.js" not in response.content.decode()


def test_a_done_upload_shows_the_product_cards_best_first(client, catalog_products):
    lamps = catalog_products["lamp"]
    upload = done_upload([lamps[2], lamps[0]])

    response = client.get(upload.get_absolute_url())

    html = response.content.decode()
    assertContains(response, "2 products look like your photo.")
    assert html.index("LAMP 2") < html.index("LAMP 0")
    assertContains(response, f'href="{lamps[2].get_absolute_url()}"')
    assert "upload-status.js" not in html  # everything is there: nothing to wait for


@pytest.mark.parametrize("drawn", [False, True])
def test_a_done_upload_shows_no_model_picture_and_waits_for_nothing(client, catalog_products, drawn):
    """The answer is final: "what the model sees" is staff-only, even for an old upload that has one drawn."""
    upload = done_upload(catalog_products["lamp"][:2], drawn=drawn)

    response = client.get(upload.get_absolute_url())

    html = response.content.decode()
    assertContains(response, "2 products look like your photo.")
    assert "What the model sees" not in html and 'id="model-sees' not in html and "reconstructions/" not in html
    assertContains(response, 'data-state="done:answer"')
    assert "upload-status.js" not in html


@pytest.mark.parametrize("count", [1, 12])
def test_the_upload_page_needs_the_same_queries_for_any_number_of_results(
    client, catalog_products, django_assert_num_queries, count
):
    products = [product for items in catalog_products.values() for product in items][:count]
    for product in products:
        product.variant_key = variant_key(name=product.name, type=product.type)
        product.save(update_fields=["variant_key"])
    upload = done_upload(products)

    # the upload, the products with their categories, their variants by picture and by name, what serves (the map)
    with django_assert_num_queries(5):
        response = client.get(upload.get_absolute_url())

    assertContains(response, 'class="card"', count=count)


def test_an_unknown_upload_page_is_not_found(client):
    response = client.get("/uploads/7f1c6a52-4a1e-4d0b-9a55-2f6f1b2f0c11/")

    assert response.status_code == 404


# the product page


def test_the_product_page_shows_similar_items_of_the_same_kind(client, served):
    sofa = served["products"]["sofa"][0]

    response = client.get(sofa.get_absolute_url())

    similar = section(response.content.decode(), "similar")
    assert "Similar items" in similar
    assert len(card_names(similar)) == 8
    assert sorted(card_names(similar)[:3]) == ["SOFA 1", "SOFA 2", "SOFA 3"]
    assert f'href="{sofa.get_absolute_url()}"' not in similar


def test_the_product_page_shows_what_goes_well_with_it(client, served):
    sofa = served["products"]["sofa"][0]

    response = client.get(sofa.get_absolute_url())

    goes_with = section(response.content.decode(), "goes-with")
    assert "Goes well with" in goes_with
    assert len(card_names(goes_with)) == 8
    assert not any(name.startswith("SOFA") for name in card_names(goes_with))


def test_one_visit_changes_no_other_shoppers_page(client, served, settings):
    from django.test import Client

    lamp, rug = served["products"]["lamp"][0], served["products"]["rug"][0]
    before = card_names(section(client.get(rug.get_absolute_url()).content.decode(), "goes-with"))

    visitor = Client()
    visitor.get(lamp.get_absolute_url(), REMOTE_ADDR="198.51.100.1")
    visitor.get(rug.get_absolute_url(), REMOTE_ADDR="198.51.100.1")  # the lamp and the rug, viewed together once
    after = card_names(section(client.get(rug.get_absolute_url()).content.decode(), "goes-with"))

    assert before == after


def test_pairs_viewed_together_by_enough_sessions_come_first(client, served, settings):
    from django.test import Client

    settings.COVIEW_MIN_SESSIONS = 3
    lamp, rug = served["products"]["lamp"][3], served["products"]["rug"][0]
    for n in range(3):
        visitor = Client()
        visitor.get(lamp.get_absolute_url(), REMOTE_ADDR=f"198.51.100.{n}")
        visitor.get(rug.get_absolute_url(), REMOTE_ADDR=f"198.51.100.{n}")

    names = card_names(section(client.get(rug.get_absolute_url()).content.decode(), "goes-with"))

    assert names[0] == lamp.name


def test_a_flood_of_page_views_from_one_client_records_at_most_the_limit(client, served, settings, one_minute):
    from catalog.models import ProductView

    settings.VIEW_RATE_LIMIT_PER_MINUTE = 60
    products = [p for items in served["products"].values() for p in items]

    for n in range(300):
        client.get(products[n % len(products)].get_absolute_url(), REMOTE_ADDR=one_minute)

    assert ProductView.objects.count() <= 60
