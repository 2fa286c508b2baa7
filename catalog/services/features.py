"""Filling in what is computed from a product's picture and name (content hash, variant key, main colours) for
products saved before these existed, in batches: memory stays that of one batch whatever the catalog's size.
Vectors do not depend on these, so nothing is re-encoded."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field

from django.db import transaction
from django.db.models import Q

from catalog.colours import dominant_colours_of_bytes
from catalog.models import Product
from catalog.variants import variant_key

FEATURE_FIELDS = ["image_sha256", "variant_key", "colours"]


@dataclass
class FeaturesSummary:
    updated: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)  # (sku, reason)


def products_missing_features():
    """Products with a feature not computed yet (a product with no name has no variant key, by design)."""
    return Product.objects.filter(Q(colours__isnull=True) | Q(image_sha256="") | (Q(variant_key="") & ~Q(name="")))


def product_features_compute(*, product: Product, image_data: bytes) -> None:
    """Set the features of ``product`` (unsaved) from its image's bytes and its name and type."""
    product.image_sha256 = hashlib.sha256(image_data).hexdigest()
    product.variant_key = variant_key(name=product.name, type=product.type)
    product.colours = dominant_colours_of_bytes(image_data)


def products_features_fill(
    *, missing_only: bool = True, batch_size: int = 500, progress: Callable[[int], None] = lambda done: None
) -> FeaturesSummary:
    """Compute the features of every product (or only of those missing one), ``batch_size`` products at a time in
    primary-key order, each batch written in one transaction. A product whose image cannot be read is reported and
    left as it was."""
    summary = FeaturesSummary()
    products = products_missing_features() if missing_only else Product.objects.all()
    products = products.only("pk", "sku", "name", "type", "image", *FEATURE_FIELDS).order_by("pk")
    last_pk = 0
    while True:
        batch = list(products.filter(pk__gt=last_pk)[:batch_size])
        if not batch:
            return summary
        last_pk = batch[-1].pk
        done = []
        for product in batch:
            try:
                with product.image.open("rb") as handle:
                    image_data = handle.read()
                product_features_compute(product=product, image_data=image_data)
            except (OSError, ValueError, SyntaxError) as error:  # missing or unreadable file: leave it, say so
                summary.failed.append((product.sku, str(error) or type(error).__name__))
                continue
            done.append(product)
        with transaction.atomic():
            Product.objects.bulk_update(done, FEATURE_FIELDS)
        summary.updated += len(done)
        progress(len(batch))
