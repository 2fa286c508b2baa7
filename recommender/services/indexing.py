"""Building Annoy indexes from stored product vectors and switching what queries use."""

from __future__ import annotations

import logging
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from encoders.models import EncoderVersion
from encoders.versions import encoder_activate
from recommender import index as annoy_index
from recommender.models import IndexVersion
from recommender.services.embeddings import embeddings_matrix

logger = logging.getLogger(__name__)


def index_root() -> Path:
    return Path(settings.INDEX_ROOT)


def index_build(*, encoder_version: EncoderVersion, seed: int = 0) -> IndexVersion:
    """Measure a recall curve on the vectors, choose ``n_trees`` and ``search_k`` that reach the target recall@10
    against exact search, and write a new, complete index version (not yet serving)."""
    vectors_read_at = timezone.now()
    product_ids, vectors = embeddings_matrix(version=encoder_version)
    if not product_ids:
        raise ValueError(f"no product vectors under encoder {encoder_version.name}: run encode_catalog first")
    curve = annoy_index.recall_curve(vectors, sample=min(500, len(product_ids)), seed=seed)
    n_trees, search_k = annoy_index.choose_parameters(curve, target_recall=settings.INDEX_TARGET_RECALL)
    recall = next(row["recall"] for row in curve if (row["n_trees"], row["search_k"]) == (n_trees, search_k))
    build = annoy_index.build_index(
        vectors=vectors,
        product_ids=product_ids,
        root=index_root(),
        n_trees=n_trees,
        search_k=search_k,
        seed=seed,
        metadata={
            "encoder_version": encoder_version.name,
            "vectors_read_at": vectors_read_at.isoformat(),
            "recall_at_10": recall,
        },
    )
    return IndexVersion.objects.create(
        name=build.version,
        encoder_version=encoder_version,
        item_count=build.count,
        n_trees=n_trees,
        search_k=search_k,
        recall_at_10=recall,
        build_seconds=build.build_seconds,
    )


@transaction.atomic
def serving_activate(*, index_version: IndexVersion) -> IndexVersion:
    """Make ``index_version`` and its encoder what every query uses. Processes follow the ACTIVE pointer, which
    names the index and, through its metadata, the encoder, so both switch together, atomically."""
    encoder_activate(version=index_version.encoder_version)
    IndexVersion.objects.filter(is_active=True).exclude(pk=index_version.pk).update(is_active=False)
    index_version.is_active = True
    index_version.activated_at = timezone.now()
    index_version.save(update_fields=["is_active", "activated_at"])
    annoy_index.activate(root=index_root(), version=index_version.name)  # last: a failure above rolls back
    transaction.on_commit(index_collect_garbage)
    return index_version


def index_collect_garbage() -> list[str]:
    removed = annoy_index.collect_garbage(root=index_root())
    if removed:
        logger.info("removed old index versions %s", ", ".join(removed))
    return removed
