"""Computing product vectors from their photos with an encoder version (torch: workers and commands only)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from catalog.models import Product
from encoders.category_ranking import kept_guess
from encoders.inference import backbone_features, category_distributions, embed_backbone_features
from encoders.lifecycle import encoder_load
from encoders.models import EncoderVersion
from recommender.services.category_guesses import category_guess_batch, guess_of
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


def images_encode(
    *, version: EncoderVersion, images: Sequence, product_ids: Sequence[int] | None = None
) -> EncodedImages:
    """Images → their vectors and category guesses; the backbone runs once. ``product_ids`` name the products the
    images show: each one's "goes with" vector takes its co-view part from the version (encoders.coview_vectors)."""
    encoder = encoder_load(version)
    features = backbone_features(encoder, list(images))
    return EncodedImages(
        similar=embed_backbone_features(encoder, features, head="similar"),
        goes_with=embed_backbone_features(encoder, features, head="goes_with", keys=product_ids),
        categories=[kept_guess(guess) for guess in category_distributions(encoder, features)],
    )


def products_encode(*, version: EncoderVersion, products: Sequence[Product]) -> int:
    """Encode ``products`` and store their vectors and category guesses in one transaction (one revision)."""
    if not products:
        return 0
    encoded = images_encode(
        version=version,
        images=[product.image.path for product in products],
        product_ids=[product.pk for product in products],
    )
    vectors_store(
        version=version,
        rows=[
            ProductVectors(product.pk, product.image_sha256, s, g, guess)
            for product, s, g, guess in zip(
                products,
                encoded.similar,
                encoded.goes_with,
                [guess_of(rows) for rows in category_guess_batch(encoded.categories)],  # by slug: one query
                strict=True,
            )
        ],
    )
    return len(products)


def product_encode(*, product_id: int, version: EncoderVersion) -> bool:
    """(Re)compute one product's vectors under ``version``. Does nothing (False) for a product that is gone,
    inactive, or already encoded from the same image, unless those vectors lack the category guess ``version``
    gives (stored before guesses were kept)."""
    product = Product.objects.filter(pk=product_id, is_active=True).first()
    if product is None or not stale_products(version=version, products=[product]):
        return False
    products_encode(version=version, products=[product])
    return True


def stale_products(*, version: EncoderVersion, products: Sequence[Product]) -> list[Product]:
    """Those of ``products`` without up-to-date vectors under ``version``: none, from another picture, or, where
    the version has a category head, without the guess that releases before kept none."""
    ids = [product.pk for product in products]
    current = stored_image_hashes(version=version, product_ids=ids)
    guesses = encoder_load(version).has_category_head
    unguessed = products_without_guess(version=version, product_ids=ids) if guesses else set()
    return [p for p in products if current.get(p.pk) != p.image_sha256 or p.pk in unguessed]


def catalog_encode(*, version: EncoderVersion, batch_size: int = 32, progress: Progress = iter) -> int:
    """Encode every active product that has no up-to-date vectors under ``version`` (none, from another picture,
    or, where the version has a category head, without the guess that releases before kept none); returns how
    many. Walks the catalog by primary key in pages, so a million products never sit in memory at once."""
    total = Product.objects.filter(is_active=True).count()
    done, after = 0, 0
    for _ in progress(range(0, total, batch_size)):
        page = list(Product.objects.filter(is_active=True, pk__gt=after).order_by("pk")[:batch_size])
        if not page:
            break
        after = page[-1].pk
        done += products_encode(version=version, products=stale_products(version=version, products=page))
    # products added while we walked (their pk is above the last page) are caught by their own encode tasks
    return done
