"""Prices in the shop's currency, and the IKEA demo catalog's made-up prices."""

import json
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.urls import reverse
from pytest_django.asserts import assertContains

from catalog.models import Product
from catalog.prices import format_price
from catalog.services.demo_prices import demo_price, demo_prices_apply
from tests.catalog.factories import CategoryFactory, ProductFactory
from tests.images import image_bytes

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "amount, currency, shown",
    [
        ("1299", "EUR", "€1,299"),
        ("19.99", "EUR", "€19.99"),
        ("0.5", "USD", "$0.50"),
        ("1299.00", "SEK", "1,299\N{NO-BREAK SPACE}SEK"),
    ],
)
def test_prices_are_shown_in_the_currency_with_grouped_digits(settings, amount, currency, shown):
    settings.CURRENCY = currency

    assert format_price(Decimal(amount)) == shown


def test_the_product_page_and_the_list_show_the_currency(client, settings):
    settings.CURRENCY = "GBP"
    product = ProductFactory(name="EKTORP", price=Decimal("1499.00"))

    assertContains(client.get(product.get_absolute_url()), '<p class="price">£1,499</p>', html=True)
    assertContains(client.get(reverse("catalog:product_list")), '<span class="price">£1,499</span>', html=True)


def test_a_demo_price_says_so_on_the_product_page_and_in_admin(client, admin_client):
    product = ProductFactory(name="EKTORP", price=Decimal("499"), price_is_demo=True)

    assertContains(client.get(product.get_absolute_url()), "demo price</span>")
    listing = admin_client.get(reverse("admin:catalog_product_changelist"))
    assertContains(listing, "€499 (demo price)")
    assertContains(admin_client.get(reverse("admin:catalog_product_change", args=[product.pk])), "id_price_is_demo")


def test_demo_prices_are_plausible_per_category_and_the_same_every_time():
    sofas = [demo_price(sku=f"{n:03d}.000.00", category="sofa") for n in range(50)]
    cups = [demo_price(sku=f"{n:03d}.000.00", category="kitchenware") for n in range(50)]

    assert sofas == [demo_price(sku=f"{n:03d}.000.00", category="sofa") for n in range(50)]
    assert all(Decimal(299) <= price <= Decimal(1999) for price in sofas)
    assert all(Decimal("0.99") <= price <= Decimal(49) for price in cups)
    assert len(set(sofas)) > 5
    assert demo_price(sku="1", category="Living room") is None


def test_demo_prices_go_only_to_ikea_products_without_a_real_price():
    sofa = CategoryFactory(name="sofa", slug="sofa")
    unpriced = ProductFactory(category=sofa, price=None)
    priced = ProductFactory(category=sofa, price=Decimal("10"))
    elsewhere = ProductFactory(category=CategoryFactory(name="Living room", slug="living-room"), price=None)

    assert demo_prices_apply() == 1
    assert demo_prices_apply() == 0  # the same prices again: nothing changes

    unpriced.refresh_from_db(), priced.refresh_from_db(), elsewhere.refresh_from_db()
    assert (unpriced.price, unpriced.price_is_demo) == (demo_price(sku=unpriced.sku, category="sofa"), True)
    assert (priced.price, priced.price_is_demo) == (Decimal("10"), False)
    assert (elsewhere.price, elsewhere.price_is_demo) == (None, False)


def test_reimporting_the_ikea_catalog_keeps_demo_prices_and_a_real_price_replaces_them(tmp_path, capsys):
    folder = tmp_path / "ikea"
    (folder / "products").mkdir(parents=True)
    (folder / "products" / "1.jpg").write_bytes(image_bytes())
    item = {"sku": "1", "name": "KLIPPAN", "category": "sofa", "image": "products/1.jpg"}
    (folder / "catalog.json").write_text(json.dumps([item]))
    call_command("import_catalog", str(folder), verbosity=0)
    call_command("demo_prices")
    demo = Product.objects.get().price

    call_command("import_catalog", str(folder), verbosity=0)
    assert "unchanged 1" in capsys.readouterr().out
    assert (Product.objects.get().price, Product.objects.get().price_is_demo) == (demo, True)

    (folder / "catalog.json").write_text(json.dumps([{**item, "price": "349"}]))
    call_command("import_catalog", str(folder), verbosity=0)
    assert (Product.objects.get().price, Product.objects.get().price_is_demo) == (Decimal("349"), False)


def test_a_price_staff_type_is_no_longer_a_demo_price(admin_client):
    product = ProductFactory(name="EKTORP", price=Decimal("499"), price_is_demo=True)
    form = {
        "sku": product.sku,
        "name": product.name,
        "slug": product.slug,
        "category": product.category.pk,
        "type": "",
        "description": "",
        "color": "",
        "size": "",
        "price": "450.00",
        "price_is_demo": "on",
        "is_active": "on",
        # the change page's curated "goes well with" rows: none
        "complement_curations-TOTAL_FORMS": "0",
        "complement_curations-INITIAL_FORMS": "0",
    }

    response = admin_client.post(reverse("admin:catalog_product_change", args=[product.pk]), form)

    assert response.status_code == 302, response.content.decode()[:2000]
    product.refresh_from_db()
    assert (product.price, product.price_is_demo) == (Decimal("450.00"), False)
