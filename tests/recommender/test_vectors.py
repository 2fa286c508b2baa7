"""Stored vectors: compact, ordered by the database, and collected when nothing uses them."""

import threading

import numpy as np
import pytest
from django.db import connection, transaction

from encoders.models import EncoderVersion
from recommender.models import IndexVersion, ProductEmbedding
from recommender.services.vectors import (
    ProductVectors,
    vectors_batches,
    vectors_collect_garbage,
    vectors_revision,
    vectors_since,
    vectors_store,
)
from tests.catalog.factories import ProductFactory


def unit(seed: int, dim: int) -> np.ndarray:
    vector = np.random.default_rng(seed).standard_normal(dim).astype(np.float32)
    return vector / np.linalg.norm(vector)


def row(product, seed: int = 0) -> ProductVectors:
    return ProductVectors(product.pk, "sha", unit(seed, 16), unit(seed + 1, 8))


def encoder(name: str) -> EncoderVersion:
    return EncoderVersion.objects.create(name=name, status=EncoderVersion.Status.READY)


@pytest.mark.django_db
def test_vectors_are_stored_as_float16_and_read_back_within_half_precision():
    version, product = encoder("enc-a"), ProductFactory()
    stored = row(product)

    vectors_store(version=version, rows=[stored])

    embedding = ProductEmbedding.objects.get(product=product)
    assert len(bytes(embedding.similar)) == 16 * 2
    assert np.allclose(embedding.similar_vector, stored.similar, atol=1e-3)


@pytest.mark.django_db
def test_every_write_takes_a_higher_revision_and_reads_follow_it():
    version = encoder("enc-a")
    first, second = ProductFactory(), ProductFactory()

    r1 = vectors_store(version=version, rows=[row(first)])
    r2 = vectors_store(version=version, rows=[row(second), row(first, seed=5)])

    assert r2 > r1 == r2 - 1
    assert vectors_revision() == r2
    since = vectors_since(version=version, revision=r1)
    assert sorted(since.product_ids.tolist()) == sorted([first.pk, second.pk])
    assert np.allclose(since.similar[since.product_ids.tolist().index(first.pk)], unit(5, 16), atol=1e-3)
    assert len(vectors_since(version=version, revision=r2)) == 0


@pytest.mark.django_db
def test_batches_stream_only_active_products_up_to_the_watermark():
    version = encoder("enc-a")
    products = ProductFactory.create_batch(5)
    products[1].is_active = False
    products[1].save()
    watermark = vectors_store(version=version, rows=[row(p, seed=i) for i, p in enumerate(products)])
    vectors_store(version=version, rows=[row(ProductFactory())])  # after the watermark: the fresh set's

    batches = list(vectors_batches(version=version, up_to_revision=watermark, batch_size=2))

    assert [len(batch) for batch in batches] == [2, 2]
    streamed = [pid for batch in batches for pid in batch.product_ids.tolist()]
    assert streamed == sorted(p.pk for i, p in enumerate(products) if i != 1)


@pytest.mark.django_db(transaction=True)
def test_a_write_committed_after_a_reader_looked_is_above_the_watermark_it_read():
    """The boundary between an index build and the fresh set: a writer that took its revision first but commits
    late is never below a watermark read before its commit, and a later writer waits for it."""
    version = encoder("enc-a")
    early, late = ProductFactory(), ProductFactory()
    revision_taken, release = threading.Event(), threading.Event()
    revisions = {}

    def slow_writer():
        with transaction.atomic():
            revisions["slow"] = vectors_store(version=version, rows=[row(early)])
            revision_taken.set()
            release.wait(10)
        connection.close()

    def second_writer():
        revisions["second"] = vectors_store(version=version, rows=[row(late)])
        connection.close()

    slow = threading.Thread(target=slow_writer)
    slow.start()
    assert revision_taken.wait(10)
    watermark = vectors_revision()  # read while the slow writer holds its revision, uncommitted
    second = threading.Thread(target=second_writer)
    second.start()
    second.join(0.5)
    assert second.is_alive()  # it waits for the slow writer: commits happen in revision order
    release.set()
    slow.join(10)
    second.join(10)

    assert watermark < revisions["slow"] < revisions["second"]
    fresh = vectors_since(version=version, revision=watermark)
    assert sorted(fresh.product_ids.tolist()) == sorted([early.pk, late.pk])


@pytest.mark.django_db
def test_garbage_collection_keeps_live_indexed_and_newer_versions_and_deletes_the_rest():
    old, indexed, live, candidate = (encoder(name) for name in ["enc-1", "enc-2", "enc-3", "enc-4"])
    EncoderVersion.objects.filter(pk=live.pk).update(is_active=True)
    IndexVersion.objects.create(
        name="idx-2", encoder_version=indexed, item_count=1, n_trees=1, search_k=1, build_seconds=0
    )
    product = ProductFactory()
    for version in (old, indexed, live, candidate):
        vectors_store(version=version, rows=[row(product)])

    deleted = vectors_collect_garbage(index_versions=["idx-2"])

    assert deleted == 1
    kept = set(ProductEmbedding.objects.values_list("encoder_version__name", flat=True))
    assert kept == {"enc-2", "enc-3", "enc-4"}
    assert vectors_collect_garbage(index_versions=[]) == 1  # once its index is gone, enc-2's go too
