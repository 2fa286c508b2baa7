"""Furnish it within a budget on a room answer: the results page's form and set (one card per piece, its swaps, the
total), the message when nothing fits, and ``GET /api/uploads/<id>?budget=`` (the pieces stored as the worker
leaves them)."""

import re
from decimal import Decimal
from html import unescape

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from catalog.models import Category, Product
from tests.recommender.test_room_answer import DISPLAY_NAMES, room_upload

pytestmark = pytest.mark.django_db

# Each piece's lookalikes score 0.9, 0.8, 0.7, 0.6 (room_upload); their prices, best first (None: no price).
PRICES = {"sofa": ["900", "400", "300", "100"], "lamp": ["300", "100", "50", None], "rug": ["80", "60", "40", "20"]}


@pytest.fixture
def priced(catalog_products):
    for slug, name in DISPLAY_NAMES.items():
        Category.objects.filter(slug=slug).update(display_name=name)
    for kind, prices in PRICES.items():
        for product, price in zip(catalog_products[kind], prices, strict=True):
            Product.objects.filter(pk=product.pk).update(price=None if price is None else Decimal(price))
    return catalog_products


def page(client, upload, query: str) -> str:
    response = client.get(f"{upload.get_absolute_url()}?{query}")
    assert response.status_code == 200
    return response.content.decode()


def set_names(html: str) -> list[str]:
    """The names of the products in the set, piece by piece (the swaps are named otherwise)."""
    found = re.search(r'id="furnish-set".*?</section>', html, re.S)
    return re.findall(r'<span class="name">([^<]+)<', found.group(0)) if found else []


def swap_links(html: str, number: int) -> list[tuple[str, str]]:
    """(href, product name) of the swaps offered on piece ``number``'s card."""
    card = re.search(rf'<li class="card furnish-item" id="furnish-item-{number}">.*?</details>', html, re.S)
    found = (
        re.findall(r'<a class="swap-option" href="([^"]+)">.*?<span class="swap-name">([^<]+)<', card.group(0))
        if card
        else []
    )
    return [(unescape(href), name) for href, name in found]


def api(client, upload, query: str):
    return client.get(f"/api/uploads/{upload.id}?{query}")


# The page


def test_the_room_answer_offers_the_budget_form_with_every_piece_ticked(client, priced):
    upload = room_upload(priced)

    html = page(client, upload, "as=room")

    assert "Furnish it within a budget" in html and 'id="furnish-budget"' in html
    assert re.findall(r'name="pieces" value="(\d)" checked', html) == ["0", "1"]
    assert 'id="furnish-set"' not in html and 'id="furnish-error"' not in html


def test_a_budget_furnishes_the_closest_set_that_fits_with_its_total_and_swaps(client, priced):
    upload = room_upload(priced)

    html = page(client, upload, "as=room&budget=550&pieces=0&pieces=1")

    # SOFA 1 + LAMP 1 (1.6, €500) beats SOFA 1 + LAMP 2 (1.5); SOFA 0 and SOFA 2 + LAMP 0 go over €550
    assert set_names(html) == ["SOFA 1", "LAMP 1"]
    assert re.search(r'id="furnish-total"[^>]*>Total <strong>€500</strong> of your €550 budget\.', html)
    assert [name for _, name in swap_links(html, 1)] == ["SOFA 2", "SOFA 3"]
    assert [name for _, name in swap_links(html, 2)] == ["LAMP 2"]
    assert "1 lookalike without a price was left out." in html  # LAMP 3
    assert 'value="550"' in html


def test_a_swap_re_runs_the_set_with_that_choice_pinned(client, priced):
    upload = room_upload(priced)
    html = page(client, upload, "as=room&budget=550")
    href, name = swap_links(html, 1)[-1]
    assert name == "SOFA 3" and f"pick=0%3A{priced['sofa'][3].pk}" in href

    swapped = page(client, upload, href.lstrip("?").split("#")[0])

    # with the €100 sofa the €300 lamp fits
    assert set_names(swapped) == ["SOFA 3", "LAMP 0"]
    assert re.search(r"Total <strong>€400</strong> of your €550 budget", swapped)
    assert '<p class="furnish-pinned">Your choice</p>' in swapped


def test_a_budget_nothing_fits_tells_the_cheapest_total(client, priced):
    upload = room_upload(priced)

    html = page(client, upload, "as=room&budget=120")

    assert 'id="furnish-set"' not in html
    assert "Nothing fits a budget of €120: the cheapest set of these 2 pieces costs <strong>€150</strong>." in html


def test_only_the_ticked_pieces_are_furnished(client, priced):
    upload = room_upload(priced, pieces=3)

    html = page(client, upload, "as=room&budget=120&pieces=0&pieces=2")

    assert set_names(html) == ["SOFA 3", "RUG 3"]  # the one set within €120: the €100 sofa and the €20 rug
    assert re.findall(r'name="pieces" value="(\d)" checked', html) == ["0", "2"]


def test_pieces_of_one_kind_never_get_the_same_product(client, priced):
    upload = room_upload(priced, pieces=4)  # sofa, lamp, rug, sofa

    html = page(client, upload, "as=room&budget=100000&pieces=0,1,2,3")

    names = set_names(html)
    assert names == ["SOFA 0", "LAMP 0", "RUG 0", "SOFA 1"]


def test_demo_prices_are_marked_in_the_set(client, priced):
    Product.objects.filter(pk=priced["sofa"][1].pk).update(price_is_demo=True)
    upload = room_upload(priced)

    html = page(client, upload, "as=room&budget=550")

    card = re.search(r'id="furnish-item-1">.*?</a>', html, re.S).group(0)
    assert "€400 <span" in card and "demo price</span>" in card
    assert "budget (with demo prices)." in html


def test_a_piece_without_any_priced_lookalike_is_named(client, priced):
    Product.objects.filter(category__slug="lamp").update(price=None)
    upload = room_upload(priced)

    html = page(client, upload, "as=room&budget=5000")

    assert "none of the lookalikes of piece 2 (Lamps) has a price. Untick it to furnish the rest." in html
    assert "4 lookalikes without a price were left out." in html


@pytest.mark.parametrize(
    "query, message",
    [
        ("budget=", "Enter a budget, for example 1500."),
        ("budget=-5", "The budget must be zero or more."),
        ("budget=lots", "The budget must be a number, for example 1500."),
        ("budget=NaN", "The budget must be a number, for example 1500."),
        ("budget=1e12", "The budget must be at most €10,000,000."),
        ("budget=500&pieces=", "Tick at least one piece to furnish."),
        ("budget=500&pieces=sofa", "pieces must be the numbers of pieces, from 0, separated by commas."),
        ("budget=500&pieces=7", "pieces must be numbers from 0 to 1: the pieces found."),
        ("budget=500&pick=sofa", "pick must be &lt;piece&gt;:&lt;product id&gt;, for example 0:17."),
    ],
)
def test_bad_input_is_told_beside_the_form(client, priced, query, message):
    upload = room_upload(priced)

    html = page(client, upload, f"as=room&{query}")

    assert f'<p class="error" role="alert" id="furnish-error">{message}</p>' in html
    assert 'aria-invalid="true"' in html and 'id="furnish-set"' not in html
    assert len(re.findall(r'class="piece-strip"', html)) == 2  # the rest of the room answer is still there


def test_the_page_furnishes_with_no_extra_query_for_one_or_four_pieces(client, priced):
    counts = []
    for pieces, query in ((1, "as=room"), (1, "as=room&budget=5000"), (4, "as=room&budget=5000&pieces=0,1,2,3")):
        upload = room_upload(priced, pieces=pieces)
        with CaptureQueriesContext(connection) as queries:
            html = page(client, upload, query)
        counts.append(len(queries))
        assert len(set_names(html)) == (pieces if "budget" in query else 0)

    assert counts[0] == counts[1] == counts[2], counts


def test_a_one_piece_answer_has_no_budget_form(client, priced):
    upload = room_upload(priced)

    html = page(client, upload, "as=piece&budget=500")

    assert "Furnish it within a budget" not in html


# The API


def test_the_api_furnishes_within_a_budget(client, priced):
    upload = room_upload(priced)

    response = api(client, upload, "budget=550&pieces=0,1")

    assert response.status_code == 200
    furnishing = response.json()["furnishing"]
    assert {key: furnishing[key] for key in ("budget", "total", "currency", "fits", "cheapest_total")} == {
        "budget": "550",
        "total": "500.00",
        "currency": "EUR",
        "fits": True,
        "cheapest_total": "150.00",
    }
    assert furnishing["left_out_without_price"] == 1 and furnishing["pieces"] == [0, 1]
    sofa, lamp = furnishing["items"]
    assert (sofa["piece"], sofa["product"]["sku"], sofa["pinned"]) == (0, priced["sofa"][1].sku, False)
    assert sofa["product"]["price"] == "400.00" and sofa["product"]["score"] == 0.8
    assert [card["sku"] for card in sofa["swaps"]] == [priced["sofa"][2].sku, priced["sofa"][3].sku]
    assert [card["sku"] for card in lamp["swaps"]] == [priced["lamp"][2].sku]
    assert set(lamp["product"]) >= {"sku", "name", "url", "image", "category", "price", "price_is_demo", "score"}


def test_the_api_keeps_a_pick_and_furnishes_only_the_pieces_asked(client, priced):
    upload = room_upload(priced, pieces=3)

    furnishing = api(client, upload, f"budget=550&pieces=1,2&pick=1:{priced['lamp'][2].pk}").json()["furnishing"]

    assert [(item["piece"], item["product"]["name"], item["pinned"]) for item in furnishing["items"]] == [
        (1, "LAMP 2", True),
        (2, "RUG 0", False),
    ]


def test_the_api_says_when_nothing_fits(client, priced):
    upload = room_upload(priced)

    furnishing = api(client, upload, "budget=149.999").json()["furnishing"]

    assert (furnishing["fits"], furnishing["items"], furnishing["total"]) == (False, [], None)
    assert (furnishing["budget"], furnishing["cheapest_total"]) == ("149.99", "150.00")


@pytest.mark.parametrize(
    "query, message",
    [
        ("budget=", "Enter a budget, for example 1500."),
        ("budget=-1", "The budget must be zero or more."),
        ("budget=twelve", "The budget must be a number, for example 1500."),
        ("budget=Infinity", "The budget must be a number, for example 1500."),
        ("budget=99999999", "The budget must be at most €10,000,000."),
        ("budget=10&pieces=0,x", "pieces must be the numbers of pieces, from 0, separated by commas."),
        ("budget=10&pieces=2", "pieces must be numbers from 0 to 1: the pieces found."),
        ("budget=10&pick=0-3", "pick must be <piece>:<product id>, for example 0:17."),
    ],
)
def test_a_bad_budget_request_is_a_400_with_a_message(client, priced, query, message):
    upload = room_upload(priced)

    response = api(client, upload, query)

    assert response.status_code == 400 and response.json() == {"error": message}


def test_the_api_has_no_furnishing_without_a_budget_or_without_pieces(client, priced):
    room, piece = room_upload(priced), room_upload(priced, pieces=0, kind="piece")

    assert api(client, room, "").json()["furnishing"] is None
    assert api(client, piece, "budget=500").json()["furnishing"] is None


def test_the_api_furnishes_with_the_same_number_of_queries_for_one_or_four_pieces(client, priced):
    counts = []
    for pieces in (1, 4):
        upload = room_upload(priced, pieces=pieces)
        with CaptureQueriesContext(connection) as queries:
            ticked = ",".join(str(index) for index in range(pieces))
            furnishing = api(client, upload, f"budget=100000&pieces={ticked}").json()["furnishing"]
        counts.append(len(queries))
        assert len(furnishing["items"]) == pieces

    assert counts[0] == counts[1], counts
