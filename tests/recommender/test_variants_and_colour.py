"""Distinct products and the photo's colour: variants (same picture, or same name and type) show as one card with
their options, on the results page, the product page and the API; "same colour" ranks the photo's colour first."""

import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from pytest_django.asserts import assertContains

from catalog.colours import main_colour
from catalog.models import Product
from catalog.services.features import products_features_fill
from catalog.variants import variant_key
from recommender.models import InspirationUpload
from recommender.services.colour_ranking import colour_ranked
from recommender.services.uploads import parse_upload_request, upload_create
from recommender.services.variants import distinct_variants
from tests.recommender.conftest import KINDS, draw, png

pytestmark = pytest.mark.django_db

SOFA, LAMP = KINDS[0], KINDS[1]
RED, BLUE = [41.0, 61.0, 42.0, 1.0], [30.0, 30.0, -62.0, 1.0]


@pytest.fixture
def coloured(served):
    """The served catalog with its features computed from the drawings: sofas red, lamps blue, rugs green."""
    products_features_fill(missing_only=False)
    return served


@pytest.fixture
def answer(django_capture_on_commit_callbacks):
    """Upload a photo and have it answered by the worker's service (Celery runs eagerly)."""

    def upload(image: bytes, **fields) -> InspirationUpload:
        photo = SimpleUploadedFile("photo.png", image, content_type="image/png")
        request = parse_upload_request(crop=None, category=None, max_price=None, **fields)
        with django_capture_on_commit_callbacks(execute=True):
            created = upload_create(image=photo, request=request)
        created.refresh_from_db()
        assert created.status == InspirationUpload.Status.DONE, created.error
        return created

    return upload


def names(html: str, grid: str = 'id="results"') -> list[str]:
    part = html.split(grid, 1)[1].split("</ul>", 1)[0]
    return re.findall(r'<span class="name">([^<]*)</span>', part)


def same_picture(*products: Product) -> None:
    Product.objects.filter(pk__in=[p.pk for p in products]).update(image_sha256="one-picture")


def same_name_and_type(*products: Product, name: str = "LAMP", type: str = "Pendant lamp") -> None:
    Product.objects.filter(pk__in=[p.pk for p in products]).update(
        name=name, type=type, variant_key=variant_key(name=name, type=type)
    )


# grouping, without a database


def test_distinct_variants_keeps_the_best_of_each_group_and_follows_chains():
    keys = {1: ("pic", "a"), 2: ("pic", "b"), 3: ("", "b"), 4: ("", ""), 5: ("", "")}

    kept = distinct_variants([(1, 0.9), (2, 0.8), (3, 0.7), (4, 0.6), (5, 0.5)], keys)

    assert kept == [(1, 0.9), (4, 0.6), (5, 0.5)]  # 2 shares 1's picture, 3 shares 2's name: one group


def test_distinct_variants_leaves_out_the_variants_of_the_shown_product():
    keys = {1: ("pic", ""), 2: ("", "name"), 3: ("", "")}

    assert distinct_variants([(1, 0.9), (2, 0.8), (3, 0.7)], keys, shown=("pic", "name")) == [(3, 0.7)]


def test_colour_ranking_puts_the_query_colour_first_and_keeps_the_scores():
    ranked = colour_ranked([(1, 0.9), (2, 0.8), (3, 0.1), (4, 0.5)], {1: [BLUE], 2: [BLUE], 3: [RED]}, RED[:3])

    assert ranked == [(3, 0.1), (1, 0.9), (2, 0.8), (4, 0.5)]  # 4 has no known colour: after the known ones


# the results page and the API


def test_the_worker_keeps_the_photos_main_colour(coloured, answer):
    upload = answer(png(draw(SOFA[1], SOFA[2])))

    L, a, b = main_colour(upload.colours)
    assert a > 40 and 30 < L < 60  # the red of the sofa, not the white around it


def test_variants_sharing_a_picture_show_as_one_card_on_the_results_page(client, coloured, answer):
    sofas = coloured["products"]["sofa"]
    same_picture(*sofas[:3])

    upload = answer(png(draw(SOFA[1], SOFA[2])))
    html = client.get(upload.get_absolute_url()).content.decode()

    shown = names(html)
    assert len([name for name in shown if name in {"SOFA 0", "SOFA 1", "SOFA 2"}]) == 1
    assert "SOFA 3" in shown and len(shown) == len(set(shown)) == 10  # 12 products, 10 different things
    assert "Also in 2 other colours or sizes" in html
    card = html.split('data-variants="2"', 1)[1].split("</p>", 1)[0]
    assert len(re.findall(r'<a href="/products/sofa-', card)) == 2


def test_an_answer_stored_before_grouping_shows_one_card_per_group(client, coloured, answer):
    sofas = coloured["products"]["sofa"]
    upload = answer(png(draw(SOFA[1], SOFA[2])))
    same_picture(*sofas[:3])  # grouped after the answer was stored

    shown = names(client.get(upload.get_absolute_url()).content.decode())

    assert len([name for name in shown if name in {"SOFA 0", "SOFA 1", "SOFA 2"}]) == 1


def test_variants_sharing_a_picture_are_one_result_of_the_api_with_its_variants(client, coloured, answer):
    sofas = coloured["products"]["sofa"]
    same_picture(*sofas[:3])
    upload = answer(png(draw(SOFA[1], SOFA[2])))

    body = client.get(reverse("api:upload_status", args=[upload.id])).json()

    group = {s.sku for s in sofas[:3]}
    cards = [card for card in body["results"] if card["sku"] in group]
    assert len(cards) == 1 and len(body["results"]) == 10
    assert {option["sku"] for option in cards[0]["variants"]} == group - {cards[0]["sku"]}
    assert cards[0]["variants_total"] == 2
    assert cards[0]["variants"][0]["url"].startswith("http://testserver/products/")
    assert body["colour"]["lab"][1] > 40 and body["colour"]["hex"].startswith("#")


def test_same_name_and_type_variants_are_grouped_in_similar_items(client, coloured):
    lamps = coloured["products"]["lamp"]
    same_name_and_type(*lamps[:3])

    body = client.get(reverse("api:product_similar", args=[lamps[3].sku]), {"k": "12"}).json()

    group = {lamp.sku for lamp in lamps[:3]}
    cards = [card for card in body["results"] if card["sku"] in group]
    assert len(cards) == 1 and cards[0]["variants_total"] == 2
    assert len(body["results"]) == 9  # 11 other products, of which 3 are one thing


def test_the_product_page_groups_variants_and_leaves_out_its_own(client, coloured):
    lamps = coloured["products"]["lamp"]
    same_name_and_type(*lamps[:3])

    own = client.get(Product.objects.get(pk=lamps[0].pk).get_absolute_url()).content.decode()
    other = client.get(lamps[3].get_absolute_url()).content.decode()

    assert "LAMP" not in names(own, 'id="similar"')  # another colour of the same lamp is not "similar"
    assert names(other, 'id="similar"').count("LAMP") == 1
    assert "Also in 2 other colours or sizes" in other


def test_same_colour_puts_the_red_products_first(client, coloured, answer):
    sofas, lamps = coloured["products"]["sofa"], coloured["products"]["lamp"]
    Product.objects.filter(pk__in=[sofas[2].pk, sofas[3].pk]).update(colours=[BLUE])  # blue sofas
    Product.objects.filter(pk=lamps[0].pk).update(colours=[RED])  # a red lamp
    upload = answer(png(draw(SOFA[1], SOFA[2])))  # a red sofa

    default = names(client.get(upload.get_absolute_url()).content.decode())
    response = client.get(upload.get_absolute_url(), {"category": "", "max_price": "", "colour": "same"})

    assert sorted(default[:4]) == ["SOFA 0", "SOFA 1", "SOFA 2", "SOFA 3"]
    assert sorted(names(response.content.decode())[:3]) == ["LAMP 0", "SOFA 0", "SOFA 1"]
    assertContains(response, 'id="refine-colour" name="colour" type="checkbox" value="same" checked')


def test_same_colour_through_the_api(client, coloured, answer):
    sofas, lamps = coloured["products"]["sofa"], coloured["products"]["lamp"]
    Product.objects.filter(pk__in=[sofas[2].pk, sofas[3].pk]).update(colours=[BLUE])
    Product.objects.filter(pk=lamps[0].pk).update(colours=[RED])
    upload = answer(png(draw(SOFA[1], SOFA[2])))

    body = client.get(reverse("api:upload_status", args=[upload.id]), {"colour": "same"}).json()

    assert {card["sku"] for card in body["results"][:3]} == {sofas[0].sku, sofas[1].sku, lamps[0].sku}
    assert body["results"][0]["colour"]["lab"][1] > 40


def test_same_colour_asked_with_the_upload_is_answered_by_the_worker(coloured, answer):
    sofas, lamps = coloured["products"]["sofa"], coloured["products"]["lamp"]
    Product.objects.filter(pk__in=[sofas[2].pk, sofas[3].pk]).update(colours=[BLUE])
    Product.objects.filter(pk=lamps[0].pk).update(colours=[RED])

    upload = answer(png(draw(SOFA[1], SOFA[2])), colour="same")

    first = {row["product_id"] for row in upload.results[:3]}
    assert first == {sofas[0].pk, sofas[1].pk, lamps[0].pk}
    assert upload.filters["same_colour"] is True


def test_a_bad_colour_is_a_bad_request(client, coloured, answer):
    upload = answer(png(draw(SOFA[1], SOFA[2])))

    response = client.get(reverse("api:upload_status", args=[upload.id]), {"colour": "purple"})

    assert response.status_code == 400
    assert "colour must be 'same'" in response.json()["error"]


def test_an_upload_without_a_known_colour_offers_no_colour_control(client, coloured, answer):
    upload = answer(png(draw(SOFA[1], SOFA[2])))
    InspirationUpload.objects.filter(pk=upload.pk).update(colours=None)  # answered before colours were kept

    response = client.get(upload.get_absolute_url(), {"colour": "same"})

    assert 'id="refine-colour"' not in response.content.decode()
    assert len(names(response.content.decode())) == 12
