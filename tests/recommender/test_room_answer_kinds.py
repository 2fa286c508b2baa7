"""Pieces of one kind, and pieces sure of their kind: a piece the category head is sure of is answered and furnished
within its category (a mug never stands in for a chair), falling back to the open ranking only when nothing of its
category has a price; pieces of one category are one strip ("Sofas · 2 in your photo") that each of their hotspots
brings forward, the API keeps every piece (with its group), and a budget furnishes one piece of each kind unless
the shopper ticks others."""

import re
from decimal import Decimal

import pytest
from django.core.files.base import ContentFile
from django.db import connection
from django.test.utils import CaptureQueriesContext

from catalog.models import Category, Product
from encoders.pieces import Piece
from recommender.models import InspirationUpload
from recommender.services.category_search import category_search, category_search_and_within
from recommender.services.room_answer import ROOM_MIN_CONFIDENCE, room_answer
from recommender.services.search import Filters, product_vector, serving_state
from tests.recommender.conftest import draw, png
from tests.recommender.test_furnishing import set_names
from tests.recommender.test_room_answer import BOXES, DISPLAY_NAMES, category_slugs, hotspot_labels, room_upload

pytestmark = pytest.mark.django_db


# Answered within its category (the worker)


def looks_like(product: Product, *, category: str, confidence: float) -> Piece:
    """A piece that looks exactly like ``product`` but that the category head calls ``category``."""
    return Piece(
        box=(0.1, 0.1, 0.5, 0.5),
        category=category,
        confidence=confidence,
        vector=product_vector(product.pk, serving_state()),
        categories={category: confidence, product.category.name: 1 - confidence},
    )


def test_a_piece_sure_of_its_category_is_answered_within_it_and_keeps_the_open_ranking(served):
    lamp = served["products"]["lamp"][0]

    _, (piece,) = room_answer(
        [looks_like(lamp, category="sofa", confidence=0.9)], state=serving_state(), filters=Filters(), k=4
    )

    assert category_slugs(piece["results"]) == {"sofa"} and len(piece["results"]) == 4
    assert piece["open_results"][0]["product_id"] == lamp.pk  # the open ranking, for a budget's fallback


def test_a_sure_piece_takes_its_open_ranking_and_its_nearest_of_its_category_from_one_search(served):
    lamp = served["products"]["lamp"][0]
    vector, guess = product_vector(lamp.pk, serving_state()), {"sofa": 0.9, "lamp": 0.1}
    state, plain = serving_state(), Filters()
    category_search(vector, k=3, filters=plain, guess=guess, state=state)  # the fresh set read: not counted below

    with CaptureQueriesContext(connection) as one_pool:
        ranked, inside = category_search_and_within(vector, k=3, filters=plain, guess=guess, within="sofa", state=state)
    with CaptureQueriesContext(connection) as two_searches:
        expected_ranked = category_search(vector, k=3, filters=plain, guess=guess, state=state)
        expected_inside = category_search(vector, k=3, filters=Filters(category="sofa"), guess=None, state=state)

    assert (ranked, inside) == (expected_ranked, expected_inside)
    assert category_slugs([{"product_id": pid} for pid, _ in inside]) == {"sofa"}
    assert len(one_pool.captured_queries) == 1 < len(two_searches.captured_queries)


def test_a_sure_piece_whose_category_is_short_in_the_pool_searches_within_it(served):
    lamp = served["products"]["lamp"][0]
    vector = product_vector(lamp.pk, serving_state())

    # a pool of 2 (the lamp and its nearest) holds no rug: the rugs come from a filtered search
    ranked, inside = category_search_and_within(
        vector, k=3, filters=Filters(), guess={"lamp": 1.0}, within="rug", state=serving_state(), pool=2
    )

    assert [pid for pid, _ in ranked][:1] == [lamp.pk]
    assert len(inside) == 3 and category_slugs([{"product_id": pid} for pid, _ in inside]) == {"rug"}


def test_an_unsure_piece_is_answered_with_the_open_ranking(served):
    lamp = served["products"]["lamp"][0]

    _, (piece,) = room_answer(
        [looks_like(lamp, category="sofa", confidence=ROOM_MIN_CONFIDENCE - 0.2)],
        state=serving_state(),
        filters=Filters(),
        k=4,
    )

    assert piece["results"][0]["product_id"] == lamp.pk and "open_results" not in piece


# Furnished within its category (the page and the API)


@pytest.fixture
def named(catalog_products):
    for slug, name in DISPLAY_NAMES.items():
        Category.objects.filter(slug=slug).update(display_name=name)
    return catalog_products


def upload_of(pieces: list[dict]) -> InspirationUpload:
    return InspirationUpload.objects.create(
        image=ContentFile(png(draw((200, 200, 200), "square", size=120)), name="room.png"),
        status=InspirationUpload.Status.DONE,
        kind="room",
        pieces=pieces,
    )


def ranked(*products_and_scores) -> list[dict]:
    return [{"product_id": product.pk, "score": score} for product, score in products_and_scores]


def sofa_that_looks_like_a_lamp(named, confidence: float, **fields) -> dict:
    """A sofa the worker answered with the open ranking, in which a €20 lamp looks most alike."""
    sofa, lamp = named["sofa"], named["lamp"]
    Product.objects.filter(pk=lamp[0].pk).update(price=Decimal("20"))
    results = ranked((lamp[0], 0.95), (sofa[0], 0.9), (sofa[1], 0.8))
    return {"box": list(BOXES["sofa"]), "category": "sofa", "confidence": confidence, "results": results, **fields}


def test_a_sure_piece_is_shown_and_furnished_within_its_category(client, named):
    upload = upload_of([sofa_that_looks_like_a_lamp(named, 0.9)])

    html = client.get(f"{upload.get_absolute_url()}?as=room&budget=5000").content.decode()

    strip = re.search(r'<section class="piece-strip".*?</section>', html, re.S).group(0)
    assert re.findall(r'class="name">([^<]+)<', strip) == ["SOFA 0", "SOFA 1"]
    assert set_names(html) == ["SOFA 0"]  # never the €20 lamp that looks more alike


def test_an_unsure_piece_may_be_furnished_with_any_lookalike(client, named):
    upload = upload_of([sofa_that_looks_like_a_lamp(named, ROOM_MIN_CONFIDENCE - 0.2)])

    html = client.get(f"{upload.get_absolute_url()}?as=room&budget=5000").content.decode()

    assert set_names(html) == ["LAMP 0"]


def test_a_sure_piece_none_of_whose_category_has_a_price_falls_back_to_the_open_ranking(client, named):
    Product.objects.filter(category__slug="sofa").update(price=None)
    sofa, lamp = named["sofa"], named["lamp"]
    piece = {
        "box": list(BOXES["sofa"]),
        "category": "sofa",
        "confidence": 0.9,
        "results": ranked((sofa[0], 0.9), (sofa[1], 0.8)),
        "open_results": ranked((sofa[0], 0.9), (lamp[1], 0.85), (sofa[1], 0.8)),
    }
    upload = upload_of([piece])

    body = client.get(f"/api/uploads/{upload.id}?budget=5000").json()

    assert [item["product"]["sku"] for item in body["furnishing"]["items"]] == [lamp[1].sku]
    assert [card["sku"] for card in body["pieces"][0]["results"]] == [sofa[0].sku, sofa[1].sku]


# Pieces of one kind


def test_the_api_keeps_every_piece_and_groups_those_of_one_kind(client, named):
    upload = room_upload(named, pieces=4)  # sofa, lamp, rug, sofa

    body = client.get(f"/api/uploads/{upload.id}").json()

    assert [piece["category"] for piece in body["pieces"]] == ["sofa", "lamp", "rug", "sofa"]
    assert all(len(piece["box"]) == 4 for piece in body["pieces"])
    assert [piece["group"] for piece in body["pieces"]] == [0, 1, 2, 0]
    assert [(group["category"], group["pieces"]) for group in body["groups"]] == [
        ("sofa", [0, 3]),
        ("lamp", [1]),
        ("rug", [2]),
    ]
    assert body["groups"][0]["category_name"] == "Sofas" and len(body["groups"][0]["results"]) == 4


def test_pieces_of_one_kind_are_one_strip_that_each_of_their_hotspots_brings_forward(client, named):
    upload = room_upload(named, pieces=4)

    html = client.get(f"{upload.get_absolute_url()}?as=room").content.decode()

    strips = re.findall(r'<section class="piece-strip" id="([^"]+)"', html)
    assert strips == ["piece-1", "piece-2", "piece-3"]
    assert re.search(r'id="piece-1-title">.*Sofas · 2 in your photo</h3>', html)
    assert hotspot_labels(html) == [
        "Sofas (1 of 2 in your photo): 4 lookalikes",
        "Lamps: 4 lookalikes",
        "Rugs &amp; carpets: 4 lookalikes",
        "Sofas (2 of 2 in your photo): 4 lookalikes",
    ]
    assert re.search(r'id="hotspot-4" href="#piece-1"', html) and re.search(r'id="hotspot-1" href="#piece-1"', html)


def test_the_strip_of_a_kind_merges_its_pieces_lookalikes(client, named):
    sofa = named["sofa"]
    first = {"box": [0.0, 0.5, 0.3, 0.3], "category": "sofa", "confidence": 0.9}
    second = {"box": [0.6, 0.5, 0.3, 0.3], "category": "sofa", "confidence": 0.8}
    first["results"] = ranked((sofa[0], 0.9), (sofa[1], 0.7))
    second["results"] = ranked((sofa[2], 0.95), (sofa[0], 0.6))
    upload = upload_of([first, second])

    html = client.get(f"{upload.get_absolute_url()}?as=room").content.decode()

    strip = re.search(r'<section class="piece-strip".*?</section>', html, re.S).group(0)
    assert re.findall(r'class="name">([^<]+)<', strip) == ["SOFA 2", "SOFA 0"]  # each once, best first, two long
    assert len(re.findall(r'<section class="piece-strip"', html)) == 1


def test_the_strip_of_a_kind_a_piece_is_sure_of_shows_only_that_kind(client, named):
    sofa, lamp = named["sofa"], named["lamp"]
    sure = {"box": [0.0, 0.5, 0.3, 0.3], "category": "sofa", "confidence": 0.9}
    unsure = {"box": [0.6, 0.5, 0.3, 0.3], "category": "sofa", "confidence": 0.5}
    sure["results"] = ranked((sofa[0], 0.4), (sofa[1], 0.3))
    unsure["results"] = ranked((lamp[0], 0.8), (lamp[1], 0.7), (sofa[2], 0.35))  # the open ranking: lamps first
    upload = upload_of([sure, unsure])

    html = client.get(f"{upload.get_absolute_url()}?as=room").content.decode()

    strip = re.search(r'<section class="piece-strip".*?</section>', html, re.S).group(0)
    assert re.findall(r'class="name">([^<]+)<', strip) == ["SOFA 0", "SOFA 2", "SOFA 1"]  # no lamp under "Sofas"

    unsure["confidence"] = 0.4
    sure["confidence"] = 0.5  # nobody sure: the strip is the open merge
    html = client.get(f"{upload_of([sure, unsure]).get_absolute_url()}?as=room").content.decode()
    strip = re.search(r'<section class="piece-strip".*?</section>', html, re.S).group(0)
    assert re.findall(r'class="name">([^<]+)<', strip)[:2] == ["LAMP 0", "LAMP 1"]


def test_a_budget_furnishes_one_piece_of_each_kind_unless_others_are_ticked(client, named):
    upload = room_upload(named, pieces=4)  # sofa, lamp, rug, sofa

    html = client.get(f"{upload.get_absolute_url()}?as=room&budget=100000").content.decode()
    body = client.get(f"/api/uploads/{upload.id}?budget=100000").json()

    assert set_names(html) == ["SOFA 0", "LAMP 0", "RUG 0"]
    assert re.findall(r'name="pieces" value="(\d)" checked', html) == ["0", "1", "2"]
    assert re.findall(r'name="pieces" value="(\d)"', html) == ["0", "1", "2", "3"]  # the second sofa can be ticked
    assert body["furnishing"]["pieces"] == [0, 1, 2]
