"""Product vectors: computing and storing each product's "similar" and "goes with" vectors per encoder version."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence

import numpy as np
from django.db import transaction

from catalog.models import Product
from encoders.inference import backbone_features, embed_backbone_features
from encoders.lifecycle import encoder_load
from encoders.models import EncoderVersion
from recommender.models import ProductEmbedding

logger = logging.getLogger(__name__)
Progress = Callable[[Iterable], Iterable]


def product_vectors(*, version: EncoderVersion, images: Sequence) -> tuple[np.ndarray, np.ndarray]:
    """Images → ("similar" (N, D), "goes with" (N, G)) float32, L2-normalised; the backbone runs once."""
    encoder = encoder_load(version)
    features = backbone_features(encoder, list(images))
    return (
        embed_backbone_features(encoder, features, head="similar"),
        embed_backbone_features(encoder, features, head="goes_with"),
    )


@transaction.atomic
def _store(*, version: EncoderVersion, products: Sequence[Product], similar: np.ndarray, goes_with: np.ndarray) -> None:
    for product, s, g in zip(products, similar, goes_with, strict=True):
        ProductEmbedding.objects.update_or_create(
            product=product,
            encoder_version=version,
            defaults={
                "similar": np.ascontiguousarray(s, dtype=np.float32).tobytes(),
                "goes_with": np.ascontiguousarray(g, dtype=np.float32).tobytes(),
                "image_sha256": product.image_sha256,
            },
        )


def products_encode(*, version: EncoderVersion, products: Sequence[Product]) -> int:
    if not products:
        return 0
    similar, goes_with = product_vectors(version=version, images=[product.image.path for product in products])
    _store(version=version, products=products, similar=similar, goes_with=goes_with)
    return len(products)


def product_encode(*, product_id: int, version: EncoderVersion | None = None) -> ProductEmbedding | None:
    """(Re)compute one product's vectors under ``version`` (default: the serving one). Does nothing for a product
    that is gone, inactive, already encoded from the same image, or when no encoder is live yet."""
    from recommender.services.search import serving_encoder_version

    version = version or serving_encoder_version()
    product = Product.objects.filter(pk=product_id, is_active=True).first()
    if version is None or product is None:
        return None
    existing = ProductEmbedding.objects.filter(product=product, encoder_version=version).first()
    if existing and existing.image_sha256 == product.image_sha256:
        return existing
    products_encode(version=version, products=[product])
    return ProductEmbedding.objects.get(product=product, encoder_version=version)


def catalog_encode(*, version: EncoderVersion, batch_size: int = 32, progress: Progress = iter) -> int:
    """Encode every active product that has no up-to-date vectors under ``version``; returns how many."""
    current = dict(ProductEmbedding.objects.filter(encoder_version=version).values_list("product_id", "image_sha256"))
    stale = [
        product
        for product in Product.objects.filter(is_active=True).order_by("pk")
        if current.get(product.pk) != product.image_sha256
    ]
    done = 0
    for start in progress(range(0, len(stale), batch_size)):
        done += products_encode(version=version, products=stale[start : start + batch_size])
    return done


def embeddings_matrix(*, version: EncoderVersion, field: str = "similar", active_only: bool = True, updated_since=None):
    """(product ids, (N, D) float32) of every stored vector under ``version`` (stored since ``updated_since``)."""
    rows = ProductEmbedding.objects.filter(encoder_version=version)
    if active_only:
        rows = rows.filter(product__is_active=True)
    if updated_since is not None:
        rows = rows.filter(updated_at__gte=updated_since)
    pairs = list(rows.order_by("product_id").values_list("product_id", field))
    if not pairs:
        return [], np.zeros((0, 0), np.float32)
    return [pid for pid, _ in pairs], np.stack([np.frombuffer(bytes(blob), dtype=np.float32) for _, blob in pairs])
