"""Stored product vectors: writing them in revision order, and reading them back by revision.

No torch here: the web process reads vectors (the fresh set, a product's own vector) and the index build
streams them. Computing vectors from images is ``recommender.services.encoding`` (workers only).

Every write takes the next value of the ``vectors`` counter inside its transaction (see ``VectorCounter``),
so "the counter reads R" means every row with revision <= R is committed: ``vectors_revision()`` is a
transaction-safe watermark. An index build records the watermark it read its vectors under; the rows of
the serving encoder with a higher revision are the fresh set that queries search exactly.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

import numpy as np
from django.db import transaction
from django.db.models import Exists, F, OuterRef
from django.utils import timezone

from catalog.models import Product
from encoders.models import EncoderVersion
from recommender.models import VECTOR_DTYPE, IndexVersion, ProductEmbedding, VectorCounter

COUNTER = "vectors"
SPACES = ("similar", "goes_with")


def vector_bytes(vector: np.ndarray) -> bytes:
    return np.ascontiguousarray(vector, dtype=VECTOR_DTYPE).tobytes()


def vector_from_bytes(data) -> np.ndarray:
    return np.frombuffer(bytes(data), dtype=VECTOR_DTYPE).astype(np.float32)


@dataclass(frozen=True)
class ProductVectors:
    product_id: int
    image_sha256: str
    similar: np.ndarray  # (D,) float32
    goes_with: np.ndarray  # (G,) float32
    categories: dict[str, float] = field(default_factory=dict)  # category slug -> probability (kept_guess)


@dataclass(frozen=True)
class VectorBatch:
    """Rows of one read, in one order: ids (n,), similar (n, D), goes_with (n, G), revisions (n,)."""

    product_ids: np.ndarray
    similar: np.ndarray
    goes_with: np.ndarray
    revisions: np.ndarray

    def __len__(self) -> int:
        return int(self.product_ids.size)


def _next_revision() -> int:
    """Take the next revision. Must run inside the writing transaction: the counter row stays locked until it
    commits, so the next writer waits and commits later with a higher revision."""
    if not VectorCounter.objects.filter(name=COUNTER).update(value=F("value") + 1):
        VectorCounter.objects.get_or_create(name=COUNTER)  # a database migrated without its row
        VectorCounter.objects.filter(name=COUNTER).update(value=F("value") + 1)
    return VectorCounter.objects.values_list("value", flat=True).get(name=COUNTER)


def product_category_guess(*, product_id: int, version: EncoderVersion) -> dict[str, float]:
    """What ``product_id``'s picture looks like by ``version``'s category head ({slug: probability}; empty without
    the head or without vectors). One indexed query."""
    row = ProductEmbedding.objects.filter(product_id=product_id, encoder_version=version).values_list("categories")
    found = row.first()
    return dict(found[0]) if found else {}


def vectors_revision() -> int:
    """The last committed revision: every row at or below it is visible to any read that starts after this."""
    return VectorCounter.objects.filter(name=COUNTER).values_list("value", flat=True).first() or 0


@transaction.atomic
def vectors_store(*, version: EncoderVersion, rows: Sequence[ProductVectors]) -> int:
    """Upsert the vectors of ``rows`` under ``version`` in one transaction; returns their revision."""
    if not rows:
        return vectors_revision()
    revision = _next_revision()
    now = timezone.now()
    ProductEmbedding.objects.bulk_create(
        [
            ProductEmbedding(
                product_id=row.product_id,
                encoder_version=version,
                similar=vector_bytes(row.similar),
                goes_with=vector_bytes(row.goes_with),
                image_sha256=row.image_sha256,
                categories=row.categories,
                revision=revision,
                updated_at=now,
            )
            for row in rows
        ],
        update_conflicts=True,
        unique_fields=["product", "encoder_version"],
        update_fields=["similar", "goes_with", "image_sha256", "categories", "revision", "updated_at"],
    )
    return revision


def _batch(rows: list[tuple]) -> VectorBatch:
    """(product id, similar bytes, goes-with bytes, revision) rows -> arrays."""
    if not rows:
        empty = np.zeros((0, 0), np.float32)
        return VectorBatch(np.zeros(0, np.int64), empty, empty, np.zeros(0, np.int64))
    return VectorBatch(
        product_ids=np.fromiter((row[0] for row in rows), dtype=np.int64, count=len(rows)),
        similar=np.stack([vector_from_bytes(row[1]) for row in rows]),
        goes_with=np.stack([vector_from_bytes(row[2]) for row in rows]),
        revisions=np.fromiter((row[3] for row in rows), dtype=np.int64, count=len(rows)),
    )


def _rows(version: EncoderVersion, *, active_only: bool):
    rows = ProductEmbedding.objects.filter(encoder_version=version)
    if active_only:
        rows = rows.filter(product__is_active=True)
    return rows


def vectors_since(*, version: EncoderVersion, revision: int) -> VectorBatch:
    """Every row of ``version`` written after ``revision`` (inactive products included: queries filter them)."""
    rows = _rows(version, active_only=False).filter(revision__gt=revision).order_by("revision", "product_id")
    return _batch(list(rows.values_list("product_id", "similar", "goes_with", "revision")))


def vectors_batches(*, version: EncoderVersion, up_to_revision: int, batch_size: int = 5000) -> Iterator[VectorBatch]:
    """The active products' rows of ``version`` at or below ``up_to_revision``, in batches, streamed with a
    database cursor so that a million rows never sit in memory at once (keyset pagination by product id)."""
    after = 0
    while True:
        rows = list(
            _rows(version, active_only=True)
            .filter(revision__lte=up_to_revision, product_id__gt=after)
            .order_by("product_id")
            .values_list("product_id", "similar", "goes_with", "revision")[:batch_size]
        )
        if not rows:
            return
        yield _batch(rows)
        after = rows[-1][0]


def product_vectors(*, product_id: int, version: EncoderVersion) -> ProductVectors | None:
    row = (
        ProductEmbedding.objects.filter(product_id=product_id, encoder_version=version)
        .values_list("image_sha256", "similar", "goes_with")
        .first()
    )
    if row is None:
        return None
    return ProductVectors(product_id, row[0], vector_from_bytes(row[1]), vector_from_bytes(row[2]))


def stored_image_hashes(*, version: EncoderVersion, product_ids: Sequence[int]) -> dict[int, str]:
    return dict(
        ProductEmbedding.objects.filter(encoder_version=version, product_id__in=list(product_ids)).values_list(
            "product_id", "image_sha256"
        )
    )


def products_without_guess(*, version: EncoderVersion, product_ids: Sequence[int]) -> set[int]:
    """Those of ``product_ids`` whose vectors under ``version`` carry no category guess (stored before guesses were
    kept, or by a version without a category head)."""
    return set(
        ProductEmbedding.objects.filter(
            encoder_version=version, product_id__in=list(product_ids), categories={}
        ).values_list("product_id", flat=True)
    )


def vectors_in_use(*, index_versions: Sequence[str]) -> set[int]:
    """Encoder versions whose vectors may still be read: the live one, those the index versions still on disk
    (``index_versions``, by name) were built from, and those newer than the live one (a retrain may be encoding
    one right now)."""
    keep = set(IndexVersion.objects.filter(name__in=list(index_versions)).values_list("encoder_version_id", flat=True))
    live = EncoderVersion.objects.filter(is_active=True).first()
    newer = EncoderVersion.objects.all()
    if live is not None:
        newer = newer.filter(created_at__gt=live.created_at)
    keep |= set(newer.values_list("pk", flat=True))
    if live is not None:
        keep.add(live.pk)
    return keep


def vectors_collect_garbage(*, index_versions: Sequence[str]) -> int:
    """Delete the vectors of encoder versions nothing uses any more (see ``vectors_in_use``); returns how many
    rows went."""
    keep = vectors_in_use(index_versions=index_versions)
    deleted, _ = ProductEmbedding.objects.exclude(encoder_version_id__in=keep).delete()
    return deleted


def products_without_vectors(*, version: EncoderVersion, limit: int) -> list[int]:
    """Active products with no vector under ``version``, or one computed from another image (up to ``limit``,
    oldest first)."""
    current = ProductEmbedding.objects.filter(
        product=OuterRef("pk"), encoder_version=version, image_sha256=OuterRef("image_sha256")
    )
    missing = Product.objects.filter(is_active=True).exclude(Exists(current)).order_by("pk")
    return list(missing.values_list("pk", flat=True)[:limit])


def products_without_guess_under(*, version: EncoderVersion, limit: int) -> list[int]:
    """Active products whose vectors under ``version`` carry no category guess (stored before guesses were kept),
    up to ``limit``, by primary key."""
    unguessed = ProductEmbedding.objects.filter(
        encoder_version=version, categories={}, product__is_active=True
    ).order_by("product_id")
    return list(unguessed.values_list("product_id", flat=True)[:limit])


def fresh_set_size(*, version: EncoderVersion, watermark: int) -> int:
    """How many vectors of ``version`` an index with ``watermark`` leaves to exact search."""
    return ProductEmbedding.objects.filter(encoder_version=version, revision__gt=watermark).count()
