"""Categories have names people read (display names); slugs stay in URLs and the API."""

import importlib

import pytest
from django.apps import apps
from django.urls import reverse
from pytest_django.asserts import assertContains, assertNotContains

from catalog.category_names import IKEA_DISPLAY_NAMES, default_display_name
from catalog.models import Category
from catalog.services.products import category_get_or_create
from tests.catalog.factories import CategoryFactory, ProductFactory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "name, shown",
    [
        ("wardrobe_cabinet", "Wardrobes & cabinets"),
        ("fixture_appliance", "Fixtures & appliances"),
        ("stool_bench", "Stools & benches"),
        ("living_room", "Living room"),
        ("Living room", "Living room"),
        ("łóżka", "Łóżka"),
    ],
)
def test_default_display_names(name, shown):
    assert default_display_name(name) == shown


def test_every_ikea_category_has_a_display_name():
    ikea = "sofa armchair chair stool_bench table desk bed wardrobe_cabinet drawers shelving lamp rug textile decor"
    ikea += " kitchenware storage_box fixture_appliance children other"
    assert sorted(IKEA_DISPLAY_NAMES) == sorted(ikea.split())


def test_the_migration_fills_display_names_of_existing_categories():
    migration = importlib.import_module("catalog.migrations.0002_category_display_name_and_demo_prices")
    Category.objects.create(name="wardrobe_cabinet", slug="wardrobe_cabinet")
    Category.objects.create(name="garden_furniture", slug="garden_furniture")
    Category.objects.create(name="sofa", slug="sofa", display_name="Couches")  # already named: kept

    migration.fill_display_names(apps, None)

    assert dict(Category.objects.values_list("slug", "display_name")) == {
        "wardrobe_cabinet": "Wardrobes & cabinets",
        "garden_furniture": "Garden furniture",
        "sofa": "Couches",
    }


def test_an_imported_category_gets_its_display_name():
    assert category_get_or_create(name="stool_bench").display_name == "Stools & benches"


def test_pages_show_display_names_and_keep_slugs_in_urls(client):
    wardrobes = CategoryFactory(name="wardrobe_cabinet", slug="wardrobe_cabinet", display_name="Wardrobes & cabinets")
    product = ProductFactory(name="PAX", category=wardrobes, type="Wardrobe")
    ProductFactory(name="HAUGA", category=wardrobes, type="")

    listing = client.get(reverse("catalog:product_list"), {"category": "wardrobe_cabinet"})
    page = client.get(product.get_absolute_url())
    home = client.get("/")

    assertContains(listing, "<h1>Wardrobes &amp; cabinets</h1>", html=True)
    option = '<option value="wardrobe_cabinet" selected>Wardrobes &amp; cabinets (2)</option>'
    assertContains(listing, option, html=True)
    assertContains(listing, '<span class="meta">Wardrobe</span>', html=True)  # the type says more here
    assertContains(listing, '<span class="meta">Wardrobes &amp; cabinets</span>', html=True)  # no type: the category
    assertContains(page, '<a href="/products/?category=wardrobe_cabinet">Wardrobes &amp; cabinets</a>', html=True)
    assertContains(home, '<option value="wardrobe_cabinet">Wardrobes &amp; cabinets</option>', html=True)
    for response in (listing, page, home):
        assertNotContains(response, ">wardrobe_cabinet<")


def test_staff_edit_display_names_in_the_category_list(admin_client):
    sofa = CategoryFactory(name="sofa", slug="sofa", display_name="Sofas")

    response = admin_client.post(
        reverse("admin:catalog_category_changelist"),
        {
            "form-TOTAL_FORMS": "1",
            "form-INITIAL_FORMS": "1",
            "form-0-id": str(sofa.pk),
            "form-0-display_name": "Sofas & couches",
            "_save": "Save",
        },
    )

    assert response.status_code == 302
    sofa.refresh_from_db()
    assert (sofa.display_name, sofa.slug) == ("Sofas & couches", "sofa")
