"""Encoder versions: training one from the catalog in the database, evaluating, activating, comparing.

The catalog and co-view data come from ``catalog``; everything about the model is in the pure modules
(``model``, ``training``, ``inference``, ``evaluation``).
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import time
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import torch
from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from catalog.models import CoView, Product
from encoders.evaluation import Catalog, EncoderEmbedder, QuerySet, evaluate, load_query_set
from encoders.inference import LoadedEncoder, load_encoder
from encoders.model import EncoderConfig
from encoders.models import EncoderVersion
from encoders.training import train_encoder

logger = logging.getLogger(__name__)
CHECKPOINT_NAME = "checkpoint.pt"


def version_dir(version: EncoderVersion) -> Path:
    return Path(settings.MODELS_ROOT) / version.name


def checkpoint_path(version: EncoderVersion) -> Path:
    return version_dir(version) / CHECKPOINT_NAME


def active_encoder_version() -> EncoderVersion | None:
    return EncoderVersion.objects.filter(is_active=True).first()


@lru_cache(maxsize=2)
def _load(path: str, modified: float) -> LoadedEncoder:
    torch.set_num_threads(settings.TORCH_THREADS)
    return load_encoder(path)


def encoder_load(version: EncoderVersion) -> LoadedEncoder:
    """The loaded encoder of ``version``, cached per process."""
    path = checkpoint_path(version)
    return _load(str(path), path.stat().st_mtime)


@dataclass(frozen=True)
class TrainingData:
    product_ids: list[int]
    catalog: Catalog
    coview_pairs: list[tuple[int, int, int]]  # indices into product_ids
    backgrounds: list[Path]
    scene_photos: list[tuple[Path, list[int]]]  # a TRAIN room photo and the indices of its products


def _product_image_path(product: Product) -> Path:
    return Path(product.image.path)


def training_rooms() -> list[tuple[Path, list[str]]]:
    """TRAIN room photos and their skus, from ``ENCODER_BACKGROUNDS`` (a rooms.json); a folder of photos gives
    backgrounds with no products. Used as in-the-wild backgrounds and to train the scene head."""
    source = Path(settings.ENCODER_BACKGROUNDS) if settings.ENCODER_BACKGROUNDS else None
    if source is None or not source.exists():
        return []
    if source.is_dir():
        return [
            (path, []) for path in sorted(source.iterdir()) if path.suffix.lower() in {".jpg", ".jpeg", ".png", ".webp"}
        ]
    split = settings.ENCODER_BACKGROUNDS_SPLIT
    return [
        (source.parent / room["photo"], [str(sku) for sku in room.get("items", [])])
        for room in json.loads(source.read_text())
        if room.get("photo") and (not split or room.get("split") == split) and (source.parent / room["photo"]).is_file()
    ]


def training_data(*, extra_pairs: Sequence[tuple[int, int, int]] = ()) -> TrainingData:
    """The active catalog and its co-view pairs, in a stable order (by product id). ``extra_pairs`` are more
    (product id, product id, count) pairs from elsewhere (shoppers' "good match" answers), added to the
    co-view counts; pairs with an inactive or unknown product are left out."""
    products = list(Product.objects.filter(is_active=True).select_related("category").order_by("pk"))
    if len(products) < 2:
        raise ValueError("the catalog needs at least two active products to train an encoder")
    index = {product.pk: i for i, product in enumerate(products)}
    counts: dict[tuple[int, int], int] = {}
    coviews = (
        CoView.objects.filter(product_a__is_active=True, product_b__is_active=True)
        .order_by("product_a_id", "product_b_id")
        .values_list("product_a_id", "product_b_id", "count")
    )
    for a, b, count in [*coviews, *extra_pairs]:
        if a in index and b in index and a != b:
            pair = (min(index[a], index[b]), max(index[a], index[b]))
            counts[pair] = counts.get(pair, 0) + count
    pairs = [(a, b, count) for (a, b), count in sorted(counts.items())]
    rooms = training_rooms()
    sku_index = {product.sku: i for i, product in enumerate(products)}
    return TrainingData(
        product_ids=[product.pk for product in products],
        catalog=Catalog(
            images=[_product_image_path(product) for product in products],
            categories=[product.category.name for product in products],
            skus=[product.sku for product in products],
        ),
        coview_pairs=pairs,
        backgrounds=[photo for photo, _ in rooms],
        scene_photos=[
            (photo, indices)
            for photo, skus in rooms
            if (indices := sorted({sku_index[sku] for sku in skus if sku in sku_index}))
        ],
    )


def evaluation_query_set() -> QuerySet | None:
    """The configured dev queries, or None where they are not on this machine."""
    queries, rooms = Path(settings.EVALUATION_QUERIES or "-"), Path(settings.EVALUATION_ROOMS or "-")
    if not (queries / "accept.json").is_file() or not rooms.is_file():
        return None
    return load_query_set(queries=queries, rooms=rooms, split=settings.EVALUATION_SPLIT or None)


def _new_name() -> str:
    return timezone.now().strftime("enc-%Y%m%d-%H%M%S-") + os.urandom(2).hex()


def encoder_train(
    *,
    config: EncoderConfig,
    seed: int = 0,
    progress=None,
    queries: QuerySet | None = None,
    extra_pairs: Sequence[tuple[int, int, int]] = (),
) -> EncoderVersion:
    """Train a new version on the current catalog, write its checkpoint (to a temporary name, then renamed),
    its pictures and, with ``queries``, its evaluation figures. The version ends ``ready`` or ``failed``.
    ``extra_pairs`` (product ids and a count) join the co-view pairs (see ``training_data``)."""
    from encoders.pictures import pictures_write

    data = training_data(extra_pairs=extra_pairs)
    version = EncoderVersion.objects.create(name=_new_name(), config=config.to_dict())
    directory = version_dir(version)
    started = time.monotonic()
    try:
        directory.mkdir(parents=True, exist_ok=False)
        checkpoint = train_encoder(
            config=config,
            product_images=data.catalog.images,
            categories=data.catalog.categories,
            coview_pairs=data.coview_pairs,
            backgrounds=data.backgrounds,
            scene_photos=data.scene_photos,
            seed=seed,
            progress=progress,
            num_threads=settings.TORCH_THREADS,
            cache_dir=settings.ENCODER_CACHE_DIR,
        )
        checkpoint["data"]["product_ids"] = data.product_ids
        temporary = directory / (CHECKPOINT_NAME + ".tmp")
        torch.save(checkpoint, temporary)
        os.replace(temporary, directory / CHECKPOINT_NAME)
        encoder = encoder_load(version)
        embedder = EncoderEmbedder(encoder)
        pictures_write(encoder=encoder, embedder=embedder, data=data, directory=directory)
        metrics = evaluate(embedder, data.catalog, queries) if queries is not None else {}
    except Exception as error:
        logger.exception("training %s failed", version.name)
        shutil.rmtree(directory, ignore_errors=True)
        version.status = EncoderVersion.Status.FAILED
        version.error = f"{type(error).__name__}: {error}"
        version.train_seconds = time.monotonic() - started
        version.save(update_fields=["status", "error", "train_seconds"])
        raise
    version.status = EncoderVersion.Status.READY
    version.metrics = metrics
    version.data = {key: value for key, value in checkpoint["data"].items() if key != "product_ids"}
    version.train_seconds = time.monotonic() - started
    version.save(update_fields=["status", "metrics", "data", "train_seconds"])
    return version


def encoder_evaluate(*, version: EncoderVersion, queries: QuerySet) -> dict[str, float]:
    """Measure ``version`` on the current active catalog and store the figures on it."""
    data = training_data()
    figures = evaluate(EncoderEmbedder(encoder_load(version)), data.catalog, queries)
    version.metrics = figures
    version.save(update_fields=["metrics"])
    return figures


@transaction.atomic
def encoder_activate(*, version: EncoderVersion) -> EncoderVersion:
    if version.status != EncoderVersion.Status.READY:
        raise ValueError(f"{version.name} is {version.status}; only a ready version can be activated")
    if not checkpoint_path(version).is_file():
        raise ValueError(f"{version.name} has no checkpoint at {checkpoint_path(version)}")
    EncoderVersion.objects.filter(~Q(pk=version.pk), is_active=True).update(is_active=False)
    version.is_active = True
    version.activated_at = timezone.now()
    version.save(update_fields=["is_active", "activated_at"])
    return version


def encoder_is_not_worse(*, candidate: dict[str, float], live: dict[str, float], tolerance: float) -> tuple[bool, str]:
    """Promotion rule: every figure the live version has must be matched by the candidate within ``tolerance``
    (the dev rooms are few: differences under ~0.02 are noise). Returns the verdict and a readable reason."""
    if not live:
        return True, "no live figures to compare with"
    missing = sorted(set(live) - set(candidate))
    if missing:
        return False, f"the candidate has no figure for {', '.join(missing)}"
    worse = [
        f"{name} {candidate[name]:.3f} < {value:.3f}"
        for name, value in live.items()
        if candidate[name] < value - tolerance
    ]
    if worse:
        return False, "worse than the live version: " + "; ".join(worse)
    better = sum(candidate[name] - value for name, value in live.items())
    return True, f"not worse on any figure (sum of differences {better:+.3f})"
