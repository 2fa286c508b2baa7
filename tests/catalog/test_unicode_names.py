"""Every character of a name is kept, end to end: import, admin, pages, API, search. Nothing guesses letters that a
source lost ("SDERHAMN" stays "SDERHAMN").

Search: PostgreSQL matches any letter in any case. SQLite folds only ASCII letters, so there a name is found by
the text as typed, or in all capitals, all small letters, or with a capital first letter ("söderhamn" finds
"SÖDERHAMN", "ørsta" finds "Ørsta"); a name stored in a mix of cases ("SöDERHAMN") is only sure to be found on
PostgreSQL.
"""

import pytest
from django.core.management import call_command
from django.urls import reverse
from pytest_django.asserts import assertContains

from catalog.models import Product
from recommender.models import InspirationUpload
from tests.images import image_bytes

pytestmark = pytest.mark.django_db

NAMES = {"U1": "SÖDERHAMN", "U2": "Ørsta", "U3": "Łóżko", "U4": "SDERHAMN"}


@pytest.fixture
def imported(tmp_path):
    (tmp_path / "img").mkdir()
    for sku, colour in zip(NAMES, ["red", "green", "blue", "orange"], strict=True):
        # a picture each: products sharing one picture would be variants of one another, shown as one card
        (tmp_path / "img" / f"{sku}.jpg").write_bytes(image_bytes(color=colour))
    rows = [f"{sku},{name},Łóżka i sofy,199,Ein schönes Möbel – ½ Preis,img/{sku}.jpg" for sku, name in NAMES.items()]
    (tmp_path / "catalog.csv").write_text("sku,name,category,price,description,image\n" + "\n".join(rows), "utf-8")
    call_command("import_catalog", str(tmp_path / "catalog.csv"), verbosity=0)
    return {product.sku: product for product in Product.objects.select_related("category")}


def test_the_csv_importer_keeps_every_character(imported):
    assert {sku: product.name for sku, product in imported.items()} == NAMES
    assert imported["U3"].category.name == "Łóżka i sofy" and imported["U3"].category.label == "Łóżka i sofy"
    assert imported["U3"].description == "Ein schönes Möbel – ½ Preis"


def test_pages_show_the_names_as_given(client, imported):
    listing = client.get(reverse("catalog:product_list")).content.decode()
    page = client.get(imported["U3"].get_absolute_url())

    assert all(f'<span class="name">{name}</span>' in listing for name in NAMES.values())
    assertContains(page, "<h1>Łóżko</h1>", html=True)
    assertContains(page, "Ein schönes Möbel – ½ Preis")


def test_the_api_sends_the_names_as_given(client, imported):
    results = [{"product_id": imported[sku].pk, "score": 0.9} for sku in NAMES]
    upload = InspirationUpload.objects.create(image="uploads/x.png", status="done", results=results)

    cards = client.get(reverse("api:upload_status", args=[upload.pk])).json()["results"]

    assert [card["name"] for card in cards] == list(NAMES.values())
    assert {card["category_name"] for card in cards} == {"Łóżka i sofy"}


def test_staff_see_and_find_the_names_in_admin(admin_client, imported):
    found = admin_client.get(reverse("admin:catalog_product_changelist"), {"q": "Łóżko"})

    assertContains(found, "Łóżko")
    assert "SÖDERHAMN" not in found.content.decode()
    assertContains(admin_client.get(reverse("admin:catalog_product_change", args=[imported["U2"].pk])), "Ørsta")


def shown(client, query: str) -> set[str]:
    products = client.get(reverse("catalog:product_list"), {"q": query}).context["page"].object_list
    return {product.name for product in products}


@pytest.mark.parametrize(
    "query, names",
    [
        ("SÖDERHAMN", {"SÖDERHAMN"}),
        ("söderhamn", {"SÖDERHAMN"}),
        ("Söderhamn", {"SÖDERHAMN"}),
        ("DERHAMN", {"SÖDERHAMN", "SDERHAMN"}),
        ("sderhamn", {"SDERHAMN"}),  # a lost letter is not guessed back, nor is the name "corrected"
        ("ørsta", {"Ørsta"}),
        ("ØRSTA", {"Ørsta"}),
        ("łóżko", {"Łóżko"}),
        ("ŁÓŻKO", {"Łóżko"}),
        ("sÖdErhamn", {"SÖDERHAMN"}),  # found through its capitals
    ],
)
def test_search_finds_names_whatever_their_case(client, imported, query, names):
    assert shown(client, query) == names
