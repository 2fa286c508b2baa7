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

import numpy as np
import torch
from django.conf import settings
from django.utils import timezone

from encoders import metrics as retrieval
from encoders.data import TrainingData, training_data
from encoders.evaluation import (
    BackboneEmbedder,
    EncoderEmbedder,
    evaluate,
    figures_of,
    held_out_scores,
    query_scores,
)
from encoders.heartbeat import TrainingHeartbeat, versions_interrupted_fail
from encoders.holdout import holdout_split, split_key
from encoders.inference import LoadedEncoder, load_encoder
from encoders.intervals import figure_intervals
from encoders.model import EncoderConfig
from encoders.models import EncoderVersion
from encoders.piece_finder import FinderSettings
from encoders.queries import HELD_OUT_FIGURES, QuerySet
from encoders.training import train_encoder
from encoders.versions import CHECKPOINT_NAME, checkpoint_path, query_scores_read, query_scores_write, version_dir

logger = logging.getLogger(__name__)


def served_finder() -> FinderSettings:
    """How the worker finds the pieces of a room photo, and so how a version's pieces figures are measured: the
    finder's defaults with ``ROOM_PIECE_VECTORS`` and at most ``ROOM_PIECES`` pieces."""
    return FinderSettings(vectors=settings.ROOM_PIECE_VECTORS, max_pieces=settings.ROOM_PIECES)


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


def _train_on(data, *, config: EncoderConfig, seed: int, progress, **options) -> dict:
    """``train_encoder`` on the catalog, pairs, backgrounds and room photos of ``data``, with this machine's threads
    and feature cache."""
    return train_encoder(
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
        product_keys=data.product_ids,
        **options,
    )


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
    ``extra_pairs`` (product ids and a count) join the co-view pairs (see ``training_data``). While it trains, the
    version's heartbeat says its process is alive (encoders.heartbeat); versions left "training" by a process that
    died are marked failed first."""
    versions_interrupted_fail()
    data = training_data(extra_pairs=extra_pairs)
    version = EncoderVersion.objects.create(name=_new_name(), config=config.to_dict())
    with TrainingHeartbeat(version):
        return _train_version(version, data=data, config=config, seed=seed, progress=progress, queries=queries)


def _train_version(
    version: EncoderVersion, *, data: TrainingData, config: EncoderConfig, seed: int, progress, queries
) -> EncoderVersion:
    """``encoder_train``'s work on the version it created (see there)."""
    from encoders.pictures import pictures_write

    directory = version_dir(version)
    started = time.monotonic()
    try:
        directory.mkdir(parents=True, exist_ok=False)
        checkpoint = _train_on(data, config=config, seed=seed, progress=progress)
        checkpoint["data"]["product_ids"] = data.product_ids
        temporary = directory / (CHECKPOINT_NAME + ".tmp")
        torch.save(checkpoint, temporary)
        os.replace(temporary, directory / CHECKPOINT_NAME)
        encoder = encoder_load(version)
        embedder = EncoderEmbedder(encoder, finder=served_finder())
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
    embedder = EncoderEmbedder(encoder_load(version), finder=served_finder())
    scores = query_scores(embedder, data.catalog, queries)
    # the held-out figures come from a second training (encoder_held_out), not from this version's weights: kept
    held_out = _held_out_part(version)
    query_scores_write(version, {**held_out["scores"], **scores})
    version.metrics = {**held_out["metrics"], **figures_of(scores)}
    version.intervals = {**held_out["intervals"], **figure_intervals(scores)}
    version.baseline = {**held_out["baseline"], **evaluate(BackboneEmbedder(embedder), data.catalog, queries)}
    version.save(update_fields=["metrics", "intervals", "baseline"])
    return version.metrics


def _held_out_part(version: EncoderVersion) -> dict[str, dict]:
    """The version's stored held-out figures, intervals, baseline and per-query scores."""
    kept = {}
    for part, values in [
        ("metrics", version.metrics),
        ("intervals", version.intervals),
        ("baseline", version.baseline),
        ("scores", query_scores_read(version)),
    ]:
        kept[part] = {name: value for name, value in (values or {}).items() if name in HELD_OUT_FIGURES}
    return kept


def held_out_fraction() -> float:
    """EVALUATION_HOLDOUT: the share of products the held-out model trains without (0: not measured)."""
    return float(settings.EVALUATION_HOLDOUT)


def held_out_embedder(
    *, config: EncoderConfig, data: TrainingData, held_out: Sequence[int], seed: int = 0, progress=None
) -> tuple[EncoderEmbedder, dict]:
    """The model trained as ``config`` says on ``data`` without the ``held_out`` products (catalog indices), as an
    embedder of the whole catalog, and its checkpoint. With a frozen backbone the clean views' cached features,
    computed for the whole catalog before the held-out products were taken out, are the catalog's features."""
    full: dict[str, torch.Tensor] = {}
    checkpoint = _train_on(
        data,
        config=config,
        seed=seed,
        progress=progress,
        held_out=held_out,
        on_full_inputs=lambda inputs: full.update(clean=inputs.views[0]),
    )
    embedder = EncoderEmbedder(load_encoder(checkpoint))
    if config.model.freeze_backbone:
        # the clean views' features are the backbone features of the catalog, as evaluation computes them
        embedder.use_catalog_features(data.catalog.images, full["clean"].numpy())
    return embedder, checkpoint


def held_out_measure(
    *,
    config: EncoderConfig,
    data: TrainingData,
    queries: QuerySet | None,
    fraction: float,
    seed: int = 0,
    progress=None,
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray], dict] | None:
    """Train a model as ``config`` says on ``data`` without the held-out products (encoders.holdout) and score
    them against the whole catalog, every product encoded by that model; the pretrained features are scored the
    same way, on the same queries. Returns (scores, baseline scores, what was held out); None where the catalog
    is too small to hold any product out (a category keeps one product in training).

    The inputs are built for the whole catalog before the held-out products are taken out, so the backbone
    features cached by the version's own training (ENCODER_CACHE_DIR) serve again, and with a frozen backbone
    the clean shots' features are the catalog's for the evaluation too: the cost is a second training loop."""
    catalog = data.catalog
    held_out = holdout_split(categories=catalog.categories, skus=catalog.skus, fraction=fraction)
    if not held_out:
        return None
    embedder, checkpoint = held_out_embedder(config=config, data=data, held_out=held_out, seed=seed, progress=progress)
    scores = held_out_scores(embedder, catalog, queries, held_out)
    baseline = held_out_scores(BackboneEmbedder(embedder), catalog, queries, held_out)
    rooms = retrieval.room_products(queries.rooms, catalog.sku_index) if queries is not None else []
    asking = set(held_out)
    room_queries = [[p for p in room if p in asking] for room in rooms if len(set(room)) >= 2]
    info = {
        "fraction": fraction,
        "products": len(held_out),
        "trained_on": checkpoint["data"]["products"],
        "split": split_key(skus=catalog.skus, held_out=held_out, room_queries=room_queries),
        "train_seconds": round(checkpoint["metrics"]["train_seconds"], 1),
    }
    return scores, baseline, info


def encoder_held_out(
    *,
    version: EncoderVersion,
    queries: QuerySet | None,
    fraction: float | None = None,
    progress=None,
    extra_pairs: Sequence[tuple[int, int, int]] = (),
) -> dict[str, float]:
    """Measure ``version``'s held-out figures on the current catalog (``held_out_measure`` with the version's
    config and seed) and store them on it beside its other figures: figures, intervals, the pretrained
    baseline, per-query scores, and ``data["held_out"]`` (the share, the count and the split's key, which tells
    the gate whether two versions were scored on the same held-out products). Nothing is stored (and {} is
    returned) where the catalog is too small to hold a product out."""
    fraction = held_out_fraction() if fraction is None else fraction
    data = training_data(extra_pairs=extra_pairs)
    measured = held_out_measure(
        config=EncoderConfig.from_dict(version.config),
        data=data,
        queries=queries,
        fraction=fraction,
        seed=int((version.data or {}).get("seed", 0)),
        progress=progress,
    )
    if measured is None:
        logger.warning("%s: no product can be held out of this catalog; held-out figures not measured", version.name)
        return {}
    scores, baseline, info = measured
    query_scores_write(version, {**query_scores_read(version), **scores})
    version.metrics = {**(version.metrics or {}), **figures_of(scores)}
    version.intervals = {**(version.intervals or {}), **figure_intervals(scores)}
    version.baseline = {**(version.baseline or {}), **figures_of(baseline)}
    version.data = {**(version.data or {}), "held_out": info}
    version.save(update_fields=["metrics", "intervals", "baseline", "data"])
    return {name: version.metrics[name] for name in HELD_OUT_FIGURES}
