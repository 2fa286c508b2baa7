"""Building indexes from stored product vectors and switching what queries use.

A build reads the vector counter first (the watermark), then streams every active product's vectors at or
below it from the database, batch by batch, into Annoy's on-disk build: one file per space ("similar",
"goes_with") in one version directory, with each product's place on the catalog map. Nothing here holds
the whole catalog's vectors in memory. Vectors written after the watermark are the fresh set that queries
search exactly until the next build.
"""

from __future__ import annotations

import itertools
import logging
from pathlib import Path

import numpy as np
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from catalog.models import Product
from encoders.latent_map import latent_map_data, project
from encoders.models import EncoderVersion
from encoders.versions import encoder_activate, version_dir
from recommender import index as annoy_index
from recommender.maptiles import MapProduct, map_tiles_write
from recommender.models import IndexVersion
from recommender.services.vectors import vectors_batches, vectors_collect_garbage, vectors_revision

logger = logging.getLogger(__name__)
MAP_DIR = "map"


def index_root() -> Path:
    return Path(settings.INDEX_ROOT)


def _positions(similar: np.ndarray, latent: dict | None) -> np.ndarray | None:
    """Raw 2-D map coordinates of a batch from the encoder's map projection (None without one)."""
    if latent is None or similar.shape[1] != len(latent["mean"]):
        return None
    return project(similar, latent).astype(np.float32)


def _describe(product_ids: np.ndarray) -> dict[int, MapProduct]:
    """What the map shows of a batch of products (one query per batch of tiles)."""
    products = Product.objects.filter(pk__in=product_ids.tolist(), is_active=True).select_related("category")
    return {
        product.pk: MapProduct(
            sku=product.sku,
            name=product.name,
            url=product.get_absolute_url(),
            category=product.category.label,
            thumbnail=Path((product.thumbnail or product.image).path) if (product.thumbnail or product.image) else None,
        )
        for product in products
    }


def _write_map(directory: Path, items: np.ndarray, positions: np.ndarray | None) -> None:
    """The catalog map of this index version (tiles and sprite sheets), inside it before it is published."""
    if positions is not None:
        map_tiles_write(directory=directory / MAP_DIR, product_ids=items, positions=positions, describe=_describe)


def index_build(*, encoder_version: EncoderVersion, seed: int = 0, batch_size: int = 5000) -> IndexVersion:
    """Stream the vectors of ``encoder_version`` into a new, complete index version (not yet serving), with
    parameters tuned to reach INDEX_TARGET_RECALL against exact search."""
    watermark = vectors_revision()
    batches = vectors_batches(version=encoder_version, up_to_revision=watermark, batch_size=batch_size)
    first = next(batches, None)
    if first is None:
        raise ValueError(f"no product vectors under encoder {encoder_version.name}: run encode_catalog first")
    latent = latent_map_data(version_dir(encoder_version))
    dimensions = {"similar": first.similar.shape[1], "goes_with": first.goes_with.shape[1]}
    with annoy_index.IndexBuilder(
        root=index_root(), dimensions=dimensions, seed=seed, target_recall=settings.INDEX_TARGET_RECALL
    ) as builder:
        for batch in itertools.chain([first], batches):
            builder.add(
                batch.product_ids,
                {"similar": batch.similar, "goes_with": batch.goes_with},
                positions=_positions(batch.similar, latent),
            )
        build = builder.finish(
            metadata={"encoder_version": encoder_version.name, "vectors_revision": watermark},
            before_publish=_write_map,
        )
    similar = build.spaces["similar"]
    return IndexVersion.objects.create(
        name=build.version,
        encoder_version=encoder_version,
        item_count=build.count,
        n_trees=similar.n_trees,
        search_k=similar.search_k,
        recall_at_10=similar.recall_at_10,
        build_seconds=build.build_seconds,
        spaces={
            name: {
                "dimension": space.dimension,
                "n_trees": space.n_trees,
                "search_k": space.search_k,
                "recall_at_10": space.recall_at_10,
            }
            for name, space in build.spaces.items()
        },
        vectors_revision=watermark,
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
    """Remove index versions no process maps any more, then the vectors of encoder versions nothing uses."""
    removed = annoy_index.collect_garbage(root=index_root())
    if removed:
        logger.info("removed old index versions %s", ", ".join(removed))
    deleted = vectors_collect_garbage(index_versions=annoy_index.list_versions(index_root()))
    if deleted:
        logger.info("deleted %d vectors of encoder versions no index uses", deleted)
    return removed
