"""The model work on encoder versions: loading one for inference, training a new one, measuring one.

This module imports torch: only workers and management commands use it, never the web process.
"""

from __future__ import annotations

import logging
import os
import shutil
import time
from collections.abc import Sequence
from functools import lru_cache

import torch
from django.conf import settings
from django.utils import timezone

from encoders.data import training_data
from encoders.evaluation import BackboneEmbedder, EncoderEmbedder, evaluate, figures_of, query_scores
from encoders.inference import LoadedEncoder, load_encoder
from encoders.intervals import figure_intervals
from encoders.model import EncoderConfig
from encoders.models import EncoderVersion
from encoders.queries import QuerySet
from encoders.training import train_encoder
from encoders.versions import CHECKPOINT_NAME, checkpoint_path, query_scores_write, version_dir

logger = logging.getLogger(__name__)


@lru_cache(maxsize=2)
def _load(path: str, modified: float) -> LoadedEncoder:
    torch.set_num_threads(settings.TORCH_THREADS)
    return load_encoder(path)


def encoder_load(version: EncoderVersion) -> LoadedEncoder:
    """The loaded encoder of ``version``, cached per process."""
    path = checkpoint_path(version)
    return _load(str(path), path.stat().st_mtime)


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
        scores = query_scores(embedder, data.catalog, queries) if queries is not None else {}
        if scores:
            query_scores_write(version, scores)
        baseline = evaluate(BackboneEmbedder(embedder), data.catalog, queries) if queries is not None else {}
    except Exception as error:
        logger.exception("training %s failed", version.name)
        shutil.rmtree(directory, ignore_errors=True)
        version.status = EncoderVersion.Status.FAILED
        version.error = f"{type(error).__name__}: {error}"
        version.train_seconds = time.monotonic() - started
        version.save(update_fields=["status", "error", "train_seconds"])
        raise
    version.status = EncoderVersion.Status.READY
    version.metrics = figures_of(scores)
    version.intervals = figure_intervals(scores)
    version.baseline = baseline
    version.history = checkpoint["metrics"]["history"]
    version.data = {key: value for key, value in checkpoint["data"].items() if key != "product_ids"}
    version.train_seconds = time.monotonic() - started
    version.save(update_fields=["status", "metrics", "intervals", "baseline", "history", "data", "train_seconds"])
    return version


def encoder_evaluate(*, version: EncoderVersion, queries: QuerySet) -> dict[str, float]:
    """Measure ``version`` on the current active catalog and store the figures and their intervals on it (and its
    per-query scores beside its checkpoint, for the gate's paired comparison)."""
    data = training_data()
    embedder = EncoderEmbedder(encoder_load(version))
    scores = query_scores(embedder, data.catalog, queries)
    query_scores_write(version, scores)
    version.metrics = figures_of(scores)
    version.intervals = figure_intervals(scores)
    version.baseline = evaluate(BackboneEmbedder(embedder), data.catalog, queries)
    version.save(update_fields=["metrics", "intervals", "baseline"])
    return version.metrics
