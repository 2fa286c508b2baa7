"""Computing product vectors from their photos with an encoder version (torch: workers and commands only)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence

import numpy as np

from catalog.models import Product
from encoders.inference import backbone_features, embed_backbone_features
from encoders.lifecycle import encoder_load
from encoders.models import EncoderVersion
from recommender.services.vectors import ProductVectors, stored_image_hashes, vectors_store

logger = logging.getLogger(__name__)
Progress = Callable[[Iterable], Iterable]


def images_encode(*, version: EncoderVersion, images: Sequence) -> tuple[np.ndarray, np.ndarray]:
    """Images → ("similar" (N, D), "goes with" (N, G)) float32, L2-normalised; the backbone runs once."""
    encoder = encoder_load(version)
    features = backbone_features(encoder, list(images))
    return (
        embed_backbone_features(encoder, features, head="similar"),
        embed_backbone_features(encoder, features, head="goes_with"),
    )


def products_encode(*, version: EncoderVersion, products: Sequence[Product]) -> int:
    """Encode ``products`` and store their vectors in one transaction (one revision)."""
    if not products:
        return 0
    similar, goes_with = images_encode(version=version, images=[product.image.path for product in products])
    vectors_store(
        version=version,
        rows=[
            ProductVectors(product.pk, product.image_sha256, s, g)
            for product, s, g in zip(products, similar, goes_with, strict=True)
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
    """Encode every active product that has no up-to-date vectors under ``version``; returns how many. Walks the
    catalog by primary key in pages, so a million products never sit in memory at once."""
    total = Product.objects.filter(is_active=True).count()
    done, after = 0, 0
    for _ in progress(range(0, total, batch_size)):
        page = list(Product.objects.filter(is_active=True, pk__gt=after).order_by("pk")[:batch_size])
        if not page:
            break
        after = page[-1].pk
        current = stored_image_hashes(version=version, product_ids=[product.pk for product in page])
        stale = [product for product in page if current.get(product.pk) != product.image_sha256]
        done += products_encode(version=version, products=stale)
    # products added while we walked (their pk is above the last page) are caught by their own encode tasks
    return done
