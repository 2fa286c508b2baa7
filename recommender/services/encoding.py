"""Computing product vectors from their photos with an encoder version (torch: workers and commands only)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from catalog.models import Category, Product
from encoders.category_ranking import kept_guess
from encoders.inference import backbone_features, category_probabilities, embed_backbone_features
from encoders.lifecycle import encoder_load
from encoders.models import EncoderVersion
from recommender.services.vectors import (
    ProductVectors,
    products_without_guess,
    stored_image_hashes,
    vectors_store,
)

logger = logging.getLogger(__name__)
Progress = Callable[[Iterable], Iterable]


@dataclass(frozen=True)
class EncodedImages:
    """Images through one encoder version: "similar" (N, D) and "goes with" (N, G) float32, L2-normalised, and each
    image's kept category guess by category name (empty dicts for a version without a category head)."""

    similar: np.ndarray
    goes_with: np.ndarray
    categories: list[dict[str, float]]


def images_encode(*, version: EncoderVersion, images: Sequence) -> EncodedImages:
    """Images → their vectors and category guesses; the backbone runs once."""
    encoder = encoder_load(version)
    features = backbone_features(encoder, list(images))
    guesses = [{} for _ in range(len(features))]
    if encoder.has_category_head and len(features):
        guesses = [
            kept_guess(dict(zip(encoder.categories, row.tolist(), strict=True)))
            for row in category_probabilities(encoder, features)
        ]
    return EncodedImages(
        similar=embed_backbone_features(encoder, features, head="similar"),
        goes_with=embed_backbone_features(encoder, features, head="goes_with"),
        categories=guesses,
    )


def _by_slug(guesses: list[dict[str, float]]) -> list[dict[str, float]]:
    """Guesses by category name (how the encoder knows them) -> by slug, categories the catalog no longer has
    dropped. One query."""
    names = {name for guess in guesses for name in guess}
    slugs = dict(Category.objects.filter(name__in=names).values_list("name", "slug")) if names else {}
    return [{slugs[name]: p for name, p in guess.items() if name in slugs} for guess in guesses]


def products_encode(*, version: EncoderVersion, products: Sequence[Product]) -> int:
    """Encode ``products`` and store their vectors and category guesses in one transaction (one revision)."""
    if not products:
        return 0
    encoded = images_encode(version=version, images=[product.image.path for product in products])
    vectors_store(
        version=version,
        rows=[
            ProductVectors(product.pk, product.image_sha256, s, g, guess)
            for product, s, g, guess in zip(
                products, encoded.similar, encoded.goes_with, _by_slug(encoded.categories), strict=True
            )
        ],
    )
    return len(products)


def product_encode(*, product_id: int, version: EncoderVersion) -> bool:
    """(Re)compute one product's vectors under ``version``. Does nothing (False) for a product that is gone,
    inactive, or already encoded from the same image."""
    product = Product.objects.filter(pk=product_id, is_active=True).first()
    if product is None:
        return False
    if stored_image_hashes(version=version, product_ids=[product.pk]).get(product.pk) == product.image_sha256:
        return False
    products_encode(version=version, products=[product])
    return True


def catalog_encode(*, version: EncoderVersion, batch_size: int = 32, progress: Progress = iter) -> int:
    """Encode every active product that has no up-to-date vectors under ``version`` (none, from another picture,
    or, where the version has a category head, without the guess that releases before kept none); returns how
    many. Walks the catalog by primary key in pages, so a million products never sit in memory at once."""
    guesses = encoder_load(version).has_category_head
    total = Product.objects.filter(is_active=True).count()
    done, after = 0, 0
    for _ in progress(range(0, total, batch_size)):
        page = list(Product.objects.filter(is_active=True, pk__gt=after).order_by("pk")[:batch_size])
        if not page:
            break
        after = page[-1].pk
        ids = [product.pk for product in page]
        current = stored_image_hashes(version=version, product_ids=ids)
        unguessed = products_without_guess(version=version, product_ids=ids) if guesses else set()
        stale = [p for p in page if current.get(p.pk) != p.image_sha256 or p.pk in unguessed]
        done += products_encode(version=version, products=stale)
    # products added while we walked (their pk is above the last page) are caught by their own encode tasks
    return done
