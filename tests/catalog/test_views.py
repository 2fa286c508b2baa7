import pytest
from django.urls import reverse

from catalog.models import CoView, ProductView
from tests.catalog.factories import CategoryFactory, ProductFactory

pytestmark = pytest.mark.django_db


def test_catalog_list_filters_by_category_in_a_fixed_number_of_queries(client, django_assert_num_queries):
    sofas, lamps = CategoryFactory(name="Sofa"), CategoryFactory(name="Lamp")
    for _ in range(5):
        ProductFactory(category=sofas)
    ProductFactory(category=lamps, name="HEKTAR")

    with django_assert_num_queries(4):  # category, count, page of products, category menu
        response = client.get(reverse("catalog:product_list"), {"category": "lamp"})

    assert response.status_code == 200
    assert [p.name for p in response.context["page"]] == ["HEKTAR"]


def test_catalog_list_paginates_and_hides_inactive_products(client):
    for _ in range(30):
        ProductFactory()
    ProductFactory(name="Hidden", is_active=False)

    response = client.get(reverse("catalog:product_list"), {"page": 2})

    assert response.context["page"].number == 2
    assert len(response.context["page"]) == 6
    assert b"Hidden" not in response.content


def test_catalog_search_by_name(client):
    ProductFactory(name="BILLY")
    ProductFactory(name="KALLAX")

    response = client.get(reverse("catalog:product_list"), {"q": "bil"})

    assert [p.name for p in response.context["page"]] == ["BILLY"]


def test_unknown_category_is_404(client):
    assert client.get(reverse("catalog:product_list"), {"category": "nope"}).status_code == 404


def test_product_page_shows_the_product_and_records_the_view_for_coviews(client):
    sofa, lamp = ProductFactory(name="KIVIK"), ProductFactory(name="NOT")

    response = client.get(sofa.get_absolute_url())
    client.get(lamp.get_absolute_url())

    assert b"KIVIK" in response.content
    assert ProductView.objects.count() == 2
    assert CoView.objects.get().count == 1


def test_inactive_product_page_is_404(client):
    product = ProductFactory(is_active=False)

    assert client.get(product.get_absolute_url()).status_code == 404
