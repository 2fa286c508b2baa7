"""What "Goes well with" serves: staff pins first, then products used together (rooms, sets, orders), then the
learned neighbours; never pairs only viewed together, never what staff excluded, by product or by category."""

import pytest
from django.utils import timezone

from catalog.models import CategoryComplementExclusion, ComplementCuration, CoView
from catalog.services.curation import category_exclusion_save, complement_curate
from recommender.services.search import PINNED_SCORE, goes_with_products

pytestmark = pytest.mark.django_db

EVERYTHING = 12  # k that asks for every product of the served catalog


def pair(first, second, *, kind: str, count: int) -> CoView:
    low, high = sorted([first, second], key=lambda product: product.pk)
    return CoView.objects.create(product_a=low, product_b=high, kind=kind, count=count, last_seen=timezone.now())


def ids(results) -> list[int]:
    return [pid for pid, _ in results]


def from_data(results) -> list[int]:
    """The products shown because of a pair (scores above 1); learned neighbours score a cosine, at most 1."""
    return [pid for pid, score in results if 1.0 < score < PINNED_SCORE]


def test_used_together_pairs_are_served_and_viewed_together_pairs_are_not(served, settings):
    sofa, lamp, rug = served["products"]["sofa"][0], served["products"]["lamp"][0], served["products"]["rug"][0]
    pair(sofa, lamp, kind=CoView.Kind.VIEWED, count=50)
    pair(sofa, rug, kind=CoView.Kind.USED, count=settings.COVIEW_MIN_SESSIONS)

    results = goes_with_products(product=sofa, k=5)

    assert ids(results)[0] == rug.pk
    assert from_data(results) == [rug.pk]


def test_a_pinned_pair_shows_first_both_ways(served, settings):
    sofa, lamp, rug = served["products"]["sofa"][0], served["products"]["lamp"][2], served["products"]["rug"][0]
    pair(sofa, rug, kind=CoView.Kind.USED, count=50)
    complement_curate(product=sofa, other=lamp, action=ComplementCuration.Action.PIN)

    on_sofa = goes_with_products(product=sofa, k=5)
    on_lamp = goes_with_products(product=lamp, k=5)

    assert ids(on_sofa)[:2] == [lamp.pk, rug.pk]
    assert ids(on_lamp)[0] == sofa.pk  # pinned on the sofa's page, the pair holds on the lamp's too


def test_pins_keep_the_order_staff_pinned_them_in(served):
    sofa = served["products"]["sofa"][0]
    rug, lamp = served["products"]["rug"][1], served["products"]["lamp"][3]
    complement_curate(product=sofa, other=rug, action=ComplementCuration.Action.PIN)
    complement_curate(product=lamp, other=sofa, action=ComplementCuration.Action.PIN)

    assert ids(goes_with_products(product=sofa, k=3))[:2] == [rug.pk, lamp.pk]


def test_an_excluded_pair_never_shows_neither_from_data_nor_learned(served):
    sofa, rug = served["products"]["sofa"][0], served["products"]["rug"][0]
    pair(sofa, rug, kind=CoView.Kind.USED, count=50)
    shown_before = ids(goes_with_products(product=sofa, k=EVERYTHING))
    complement_curate(product=rug, other=sofa, action=ComplementCuration.Action.EXCLUDE)

    results = goes_with_products(product=sofa, k=EVERYTHING)

    assert shown_before[0] == rug.pk
    assert rug.pk not in ids(results)
    assert len(results) == len(shown_before) - 1  # every other product still shows


def test_an_excluded_category_never_shows_as_a_complement_either_way(served):
    sofa, rug = served["products"]["sofa"][0], served["products"]["rug"][0]
    pair(sofa, rug, kind=CoView.Kind.USED, count=50)
    rugs = {product.pk for product in served["products"]["rug"]}
    sofas = {product.pk for product in served["products"]["sofa"]}
    assert rugs & set(ids(goes_with_products(product=sofa, k=EVERYTHING)))

    category_exclusion_save(exclusion=CategoryComplementExclusion(category=sofa.category, excluded=rug.category))

    on_sofa = ids(goes_with_products(product=sofa, k=EVERYTHING))
    on_rug = ids(goes_with_products(product=rug, k=EVERYTHING))
    assert not rugs & set(on_sofa) and not sofas & set(on_rug)
    assert len(on_sofa) == 4  # the lamps: filtered over a bounded over-fetch, still there


def test_a_product_page_reads_a_bounded_number_of_rows_with_curations(served, django_assert_max_num_queries):
    sofa = served["products"]["sofa"][0]
    for n, product in enumerate(served["products"]["lamp"] + served["products"]["rug"]):
        action = ComplementCuration.Action.PIN if n % 2 else ComplementCuration.Action.EXCLUDE
        complement_curate(product=sofa, other=product, action=action)
        pair(sofa, product, kind=CoView.Kind.USED, count=5 + n)
    category_exclusion_save(
        exclusion=CategoryComplementExclusion(
            category=served["products"]["lamp"][0].category, excluded=served["products"]["rug"][0].category
        )
    )
    goes_with_products(product=sofa, k=8)  # the fresh set and the excluded categories are loaded once per process

    with django_assert_max_num_queries(5):
        goes_with_products(product=sofa, k=8)


def test_the_api_lists_pins_first_and_never_an_excluded_product(client, served):
    sofa, lamp, rug = served["products"]["sofa"][0], served["products"]["lamp"][1], served["products"]["rug"][2]
    complement_curate(product=sofa, other=lamp, action=ComplementCuration.Action.PIN)
    complement_curate(product=sofa, other=rug, action=ComplementCuration.Action.EXCLUDE)

    body = client.get(f"/api/products/{sofa.sku}/goes-with", {"k": "10"}).json()

    skus = [card["sku"] for card in body["results"]]
    assert skus[0] == lamp.sku
    assert rug.sku not in skus and len(skus) == 7
