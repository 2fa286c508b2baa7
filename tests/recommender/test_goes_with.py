"""What "Goes well with" serves: staff pins first, then the learned neighbours and the products used together
(rooms, sets, orders), each pair raising its product by the rooms that held it; never pairs only viewed together,
never what staff excluded, by product or by category."""

import math

import pytest
from django.utils import timezone

from catalog.models import CategoryComplementExclusion, ComplementCuration, CoView, Product
from catalog.services.curation import category_exclusion_save, complement_curate
from recommender.services.complement_ranking import complements_ranked
from recommender.services.search import goes_with_products

pytestmark = pytest.mark.django_db

EVERYTHING = 12  # k that asks for every product of the served catalog


def pair(first, second, *, kind: str, count: int) -> CoView:
    low, high = sorted([first, second], key=lambda product: product.pk)
    return CoView.objects.create(product_a=low, product_b=high, kind=kind, count=count, last_seen=timezone.now())


def ids(results) -> list[int]:
    return [pid for pid, _ in results]


def scores(results) -> dict[int, float]:
    return dict(results)


def test_a_used_together_pair_raises_its_product_by_the_rooms_that_held_it_and_a_viewed_pair_does_not(served, settings):
    sofa = served["products"]["sofa"][0]
    before = scores(goes_with_products(product=sofa, k=EVERYTHING))
    least, viewed = (Product.objects.get(pk=pid) for pid in list(before)[-1:-3:-1])  # the two that fit least
    pair(sofa, least, kind=CoView.Kind.USED, count=20)
    pair(sofa, viewed, kind=CoView.Kind.VIEWED, count=50)

    after = scores(goes_with_products(product=sofa, k=EVERYTHING))

    assert list(after)[0] == least.pk  # the learned neighbour that fitted least, held by 20 rooms: first
    raised = before[least.pk] + settings.COMPLEMENT_PAIR_WEIGHT * math.log(21)
    assert after[least.pk] == pytest.approx(raised, abs=1e-6)
    assert after[viewed.pk] == pytest.approx(before[viewed.pk], abs=1e-6)  # viewed together: alternatives


def test_a_pair_held_by_fewer_rooms_than_the_minimum_does_not_count(served, settings):
    settings.COVIEW_MIN_SESSIONS = 3
    sofa = served["products"]["sofa"][0]
    before = scores(goes_with_products(product=sofa, k=EVERYTHING))
    last = list(before)[-1]
    low, high = sorted([sofa.pk, last])
    CoView.objects.create(product_a_id=low, product_b_id=high, kind=CoView.Kind.USED, count=2, last_seen=timezone.now())

    assert scores(goes_with_products(product=sofa, k=EVERYTHING)) == pytest.approx(before)


def test_a_pair_outside_the_learned_neighbours_is_ranked_with_its_own_cosine(served, settings):
    sofa = served["products"]["sofa"][0]
    learned = goes_with_products(product=sofa, k=EVERYTHING)
    (_, nearest_score), (last, last_score) = learned[0], learned[-1]
    low, high = sorted([sofa.pk, last])
    CoView.objects.create(product_a_id=low, product_b_id=high, kind=CoView.Kind.USED, count=1, last_seen=timezone.now())
    raised = last_score + settings.COMPLEMENT_PAIR_WEIGHT * math.log(2)

    assert raised > nearest_score  # in the fixture's spread of cosines one room is enough to lead

    top = goes_with_products(product=sofa, k=1)  # one learned neighbour fetched: the pair comes on its own

    assert top == [(last, pytest.approx(raised, abs=1e-6))]


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

    # curations, the pairs on either side (two index scans), the products allowed, the fresh set's counter and the
    # learned neighbours' check: the same for any catalog
    with django_assert_max_num_queries(6):
        goes_with_products(product=sofa, k=8)


def test_the_api_lists_pins_first_and_never_an_excluded_product(client, served):
    sofa, lamp, rug = served["products"]["sofa"][0], served["products"]["lamp"][1], served["products"]["rug"][2]
    complement_curate(product=sofa, other=lamp, action=ComplementCuration.Action.PIN)
    complement_curate(product=sofa, other=rug, action=ComplementCuration.Action.EXCLUDE)

    body = client.get(f"/api/products/{sofa.sku}/goes-with", {"k": "10"}).json()

    skus = [card["sku"] for card in body["results"]]
    assert skus[0] == lamp.sku
    assert rug.sku not in skus and len(skus) == 7


def test_the_ranking_adds_the_weighted_log_of_each_pairs_count_to_its_cosine():
    cosines = {1: 0.9, 2: 0.5, 3: 0.2, 4: 0.5}
    counts = {3: 1, 4: 3}

    ranked = complements_ranked(cosines, counts, k=3, weight=0.5)

    assert ranked == [
        (4, pytest.approx(0.5 + 0.5 * math.log(4))),  # 1.19: held by three rooms
        (1, pytest.approx(0.9)),
        (3, pytest.approx(0.2 + 0.5 * math.log(2))),  # 0.55: one room lifts it above 2 (0.5)
    ]
    assert complements_ranked(cosines, {}, k=2, weight=0.5) == [(1, 0.9), (2, 0.5)]  # ties: by id


def test_the_worker_stores_each_products_goes_with_vector_with_what_its_rooms_say(catalog_products):
    import numpy as np

    from encoders.inference import backbone_features, embed_backbone_features
    from encoders.lifecycle import encoder_load, encoder_train
    from recommender.models import ProductEmbedding
    from recommender.services.encoding import catalog_encode
    from tests.encoders.helpers import tiny_config

    sofas, lamps, rugs = catalog_products["sofa"], catalog_products["lamp"], catalog_products["rug"]
    for sofa in sofas[:2]:  # two sofas never held together, each held with the same lamp and rug
        pair(sofa, lamps[0], kind=CoView.Kind.USED, count=2)
        pair(sofa, rugs[0], kind=CoView.Kind.USED, count=1)
    version = encoder_train(config=tiny_config(epochs=2))

    catalog_encode(version=version)

    products = [*sofas, *lamps, *rugs]
    stored = {row.product_id: row.goes_with_vector for row in ProductEmbedding.objects.filter(encoder_version=version)}
    encoder = encoder_load(version)
    features = backbone_features(encoder, [product.image.path for product in products])
    by_id = embed_backbone_features(encoder, features, head="goes_with", keys=[product.pk for product in products])
    as_new = embed_backbone_features(encoder, features, head="goes_with")  # the part each picture suggests
    for i, product in enumerate(products):
        assert np.allclose(stored[product.pk], by_id[i], atol=2e-3)  # stored as float16
        assert not np.allclose(stored[product.pk], as_new[i], atol=1e-2)  # its own part, fitted on its rooms
