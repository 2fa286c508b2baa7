"""Every active product is findable, always: saved during a retrain, saved while the broker was down, or one of
many saved since the index was built."""

import pytest

from catalog.services.products import product_create
from recommender.models import ProductEmbedding, RetrainRun
from recommender.services import retraining
from recommender.services.encoding import product_encode
from recommender.services.reconcile import catalog_reconcile
from recommender.services.retraining import retrain_run
from recommender.services.search import serving_state, similar_products
from recommender.tasks import reconcile_catalog
from tests.encoders.helpers import tiny_config
from tests.recommender.conftest import draw, png

pytestmark = pytest.mark.django_db


def new_lamp(sku: str, lamp):
    return product_create(
        sku=sku, name=f"Lamp {sku}", category=lamp.category, image_data=png(draw((30, 60, 200), "round"))
    )


def found(product, like) -> bool:
    return product.pk in [pid for pid, _ in similar_products(product=like, k=12)]


def test_a_product_saved_while_a_retrain_encodes_the_catalog_is_findable_after_the_switch(
    served, monkeypatch, django_capture_on_commit_callbacks
):
    lamp = served["products"]["lamp"][0]
    saved = []
    encode_catalog = retraining.catalog_encode

    def encode_then_a_save_arrives(*, version):
        done = encode_catalog(version=version)
        if not saved:  # staff save a product right after the candidate's snapshot of the catalog
            product = new_lamp("SAVED-DURING", lamp)
            product_encode(product_id=product.pk, version=serving_state().encoder_version)  # its own task
            saved.append(product)
        return done

    monkeypatch.setattr(retraining, "catalog_encode", encode_then_a_save_arrives)

    run = retrain_run(trigger="test", config=tiny_config(epochs=2, w_coview=0.0))

    assert run.status == RetrainRun.Status.PROMOTED
    assert serving_state().encoder_version == run.candidate
    assert ProductEmbedding.objects.filter(product=saved[0], encoder_version=run.candidate).exists()
    assert found(saved[0], lamp)


def test_a_product_whose_encode_was_never_delivered_is_found_by_the_reconcile_job(served, monkeypatch):
    from recommender import tasks

    lamp = served["products"]["lamp"][0]
    monkeypatch.setattr(tasks.encode_product, "delay", lambda *args: None)  # the broker was down: lost
    product = new_lamp("LOST-ENCODE", lamp)
    assert catalog_reconcile().missing == [product.pk]
    monkeypatch.undo()

    reconcile_catalog.delay()

    assert catalog_reconcile().missing == []
    assert found(product, lamp)


def test_vectors_stored_before_guesses_were_kept_are_given_their_guess_by_the_reconcile_job(served):
    sofa = served["products"]["sofa"][0]
    stored = ProductEmbedding.objects.filter(product=sofa, encoder_version=served["encoder"])
    stored.update(categories={})  # as the migration that added guesses left every row
    assert catalog_reconcile(guesses=True).unguessed == [sofa.pk]
    assert catalog_reconcile(guesses=False).unguessed == []  # an encoder without a category head guesses nothing

    reconcile_catalog.delay()

    assert stored.get().categories
    assert catalog_reconcile(guesses=True).unguessed == []
    assert product_encode(product_id=sofa.pk, version=served["encoder"]) is False  # nothing left to do


def test_a_fresh_set_past_its_limit_is_folded_into_a_rebuilt_index(served, settings):
    settings.FRESH_SET_MAX = 2
    lamp = served["products"]["lamp"][0]
    added = [new_lamp(f"FRESH-{n}", lamp) for n in range(3)]
    for product in added:
        product_encode(product_id=product.pk, version=served["encoder"])
    assert catalog_reconcile().rebuild

    reconcile_catalog.delay()

    state = serving_state()
    assert state.index.version != served["index"].name
    assert all(product.pk in state.index for product in added)
    assert len(state.fresh.ids) == 0
    assert not catalog_reconcile().rebuild
    assert RetrainRun.objects.get().status == RetrainRun.Status.REINDEXED
