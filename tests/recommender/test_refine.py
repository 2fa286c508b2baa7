"""Changing an answered upload's filters on its results page: its stored vector is searched again, no new upload."""

import re
from decimal import Decimal

import numpy as np
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from pytest_django.asserts import assertContains, assertNotContains

from catalog.models import Category, Product
from encoders.models import EncoderVersion
from recommender.models import InspirationUpload
from recommender.services.refine import upload_results
from recommender.services.search import Filters
from recommender.services.uploads import parse_upload_request, upload_create
from recommender.services.vectors import vector_from_bytes
from tests.recommender.conftest import KINDS, draw, png

pytestmark = pytest.mark.django_db

LAMP = KINDS[1]


@pytest.fixture
def answered(served, django_capture_on_commit_callbacks):
    """A lamp photo answered through the worker's service (Celery runs eagerly), with no filters."""
    Category.objects.filter(slug="lamp").update(display_name="Lamps")
    photo = SimpleUploadedFile("lamp.png", png(draw(LAMP[1], LAMP[2])), content_type="image/png")
    with django_capture_on_commit_callbacks(execute=True):
        upload = upload_create(image=photo, request=parse_upload_request(crop=None, category=None, max_price=None))
    upload.refresh_from_db()
    assert upload.status == InspirationUpload.Status.DONE
    return upload


def names(response) -> list[str]:
    grid = response.content.decode().split('id="results"', 1)[1].split("</ul>", 1)[0]
    return re.findall(r'<span class="name">([^<]*)</span>', grid)


def test_the_worker_keeps_the_served_search_vector(answered, served):
    vector = vector_from_bytes(answered.vector)

    assert vector.dtype == np.float32 and vector.size == served["index"].spaces["similar"]["dimension"]
    assert abs(float(np.linalg.norm(vector)) - 1) < 0.01


def test_the_results_page_searches_the_stored_vector_again_with_new_filters(client, answered):
    first_answer = list(answered.results)

    response = client.get(answered.get_absolute_url(), {"category": "rug", "max_price": "200"})

    assert names(response) and all(name.startswith("RUG") for name in names(response))
    prices = dict(Product.objects.values_list("name", "price"))
    assert all(prices[name] <= 200 for name in names(response))
    assertContains(response, '<option value="rug" selected>rug</option>', html=True)
    assertContains(response, 'value="200"')
    answered.refresh_from_db()
    assert answered.results == first_answer and InspirationUpload.objects.count() == 1


def test_without_filters_in_the_address_the_page_shows_the_first_answer(client, answered):
    response = client.get(answered.get_absolute_url())

    assert len(names(response)) == 12 and names(response)[0].startswith("LAMP")
    assertContains(response, 'id="refine"')


def test_filters_that_leave_nothing_say_why_and_how_to_loosen_them(client, answered):
    response = client.get(answered.get_absolute_url(), {"category": "lamp", "max_price": "50"})

    assert names(response) == []
    assertContains(response, "No product with a price of €50 or less in Lamps.")
    assertContains(
        response, '<a class="button-link" href="?category=lamp&amp;max_price=">Show every price in Lamps</a>'
    )
    assertContains(
        response, '<a class="button-link" href="?category=&amp;max_price=50">Search every category up to €50</a>'
    )


def test_a_price_filter_on_a_catalog_without_prices_says_so(client, answered):
    Product.objects.update(price=None)

    response = client.get(answered.get_absolute_url(), {"category": "", "max_price": "100"})

    assertContains(response, "No product has a price yet, so a highest price leaves nothing.")
    assertContains(response, '<a class="button-link" href="?category=&amp;max_price=">Show every price</a>')


def test_the_loosened_filters_find_products(client, answered):
    response = client.get(answered.get_absolute_url(), {"category": "lamp", "max_price": ""})

    assert sorted(names(response)) == ["LAMP 0", "LAMP 1", "LAMP 2", "LAMP 3"]


def test_a_bad_price_is_explained_and_the_first_answer_stays(client, answered):
    response = client.get(answered.get_absolute_url(), {"category": "", "max_price": "cheap"})

    assertContains(response, "max_price must be a number.")
    assert len(names(response)) == 12


def test_an_upload_answered_by_another_encoder_cannot_change_filters(client, answered):
    other = EncoderVersion.objects.create(name="enc-old", status=EncoderVersion.Status.READY, config={})
    InspirationUpload.objects.filter(pk=answered.pk).update(encoder_version=other)
    answered.refresh_from_db()

    result = upload_results(upload=answered, filters=Filters(category="rug"))

    assert not result.can_refine and not result.refined
    assert result.filters == Filters() and len(result.items) == 12
    assertContains(client.get(answered.get_absolute_url(), {"category": "rug"}), 'id="refine-unavailable"')
    assertNotContains(client.get(answered.get_absolute_url()), 'id="refine"')


def test_refining_costs_a_fixed_number_of_queries(client, answered, django_assert_max_num_queries):
    client.get(answered.get_absolute_url(), {"category": "lamp"})  # warm the serving state

    # the page also names what the photo looks like (one query for those categories) and reads the pieces found in
    # it for "Shop the room" (their products, variants and categories: three queries, however many pieces)
    assert answered.categories and answered.pieces
    with django_assert_max_num_queries(12):
        client.get(answered.get_absolute_url(), {"category": "lamp", "max_price": str(Decimal("300"))})
