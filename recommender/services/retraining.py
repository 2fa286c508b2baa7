"""The retraining pipeline: train → evaluate → promote only if not worse → encode the catalog → build the
index → switch serving to both at once. One run at a time, under a lease lock that a crashed worker
cannot hold for longer than its lease."""

from __future__ import annotations

import logging
import time
from dataclasses import replace

from django.conf import settings
from django.utils import timezone

from encoders.data import evaluation_query_set
from encoders.lifecycle import encoder_evaluate, encoder_train
from encoders.model import EncoderConfig
from encoders.versions import active_encoder_version, encoder_is_not_worse
from recommender.models import RetrainRun
from recommender.services.encoding import catalog_encode
from recommender.services.feedback import feedback_training_pairs
from recommender.services.indexing import index_build, serving_activate
from recommender.services.locks import lock_acquire, lock_owner, lock_refresh, lock_release

logger = logging.getLogger(__name__)
RETRAIN_LOCK = "retrain"
HEARTBEAT_SECONDS = 30
QUICK_CONFIG = {"epochs": 4, "wild_views": 1}


def default_config() -> EncoderConfig:
    """The configuration scheduled retraining uses: EncoderConfig's defaults with ENCODER_CONFIG's overrides."""
    return replace(EncoderConfig(), **settings.ENCODER_CONFIG)


def quick_config() -> EncoderConfig:
    """A short configuration for a first demo: a few minutes on two cores."""
    return replace(default_config(), **QUICK_CONFIG)


class _LeaseKeeper:
    """Training progress callback that keeps the lock's lease alive."""

    def __init__(self, owner: str, report=None):
        self.owner = owner
        self.report = report  # an optional progress callback to pass the training progress on to
        self.last = time.monotonic()

    def __call__(self, *args, **kwargs) -> None:
        if self.report is not None and args:
            self.report(*args, **kwargs)
        if time.monotonic() - self.last >= HEARTBEAT_SECONDS:
            self.last = time.monotonic()
            if not lock_refresh(name=RETRAIN_LOCK, owner=self.owner, seconds=settings.RETRAIN_LOCK_SECONDS):
                raise RuntimeError("the retrain lock was lost (its lease ran out)")


def retrain_run(
    *, trigger: str, config: EncoderConfig | None = None, seed: int = 0, progress=None
) -> RetrainRun | None:
    """Run the whole pipeline; None if another run holds the lock. A failure leaves serving unchanged.
    ``progress`` receives the training progress (stage, done, total, info)."""
    owner = lock_owner()
    if not lock_acquire(name=RETRAIN_LOCK, owner=owner, seconds=settings.RETRAIN_LOCK_SECONDS):
        logger.info("a retrain is already running; not starting another")
        return None
    keeper = _LeaseKeeper(owner, progress)
    run = RetrainRun.objects.create(trigger=trigger, live_before=active_encoder_version())
    timings: dict[str, float] = {}

    def timed(stage: str, work):
        started = time.monotonic()
        result = work()
        timings[stage] = round(time.monotonic() - started, 2)
        keeper()
        return result

    try:
        queries = evaluation_query_set()
        candidate = timed(
            "train",
            lambda: encoder_train(
                config=config or default_config(),
                seed=seed,
                progress=keeper,
                queries=queries,
                extra_pairs=feedback_training_pairs(),
            ),
        )
        run.candidate = candidate
        live = run.live_before
        if live is not None and queries is not None:
            # Measure the live version on today's catalog too, so both are compared on the same ground.
            timed("evaluate_live", lambda: encoder_evaluate(version=live, queries=queries))
        promote, reason = encoder_is_not_worse(
            candidate=candidate.metrics,
            live=live.metrics if live is not None else {},
            tolerance=settings.PROMOTION_TOLERANCE,
        )
        run.reason = reason
        if not promote:
            run.status = RetrainRun.Status.KEPT
            return run
        timed("encode_catalog", lambda: catalog_encode(version=candidate))
        index_version = timed("build_index", lambda: index_build(encoder_version=candidate, seed=seed))
        run.index_version = index_version
        timed("activate", lambda: serving_activate(index_version=index_version))
        # products saved while the catalog was encoded under the candidate: their own encode tasks may have used
        # the version serving then; encode them under the new one now (they join the fresh set)
        timed("catch_up", lambda: catalog_encode(version=candidate))
        run.status = RetrainRun.Status.PROMOTED
        return run
    except Exception as error:
        logger.exception("retrain failed")
        run.status = RetrainRun.Status.FAILED
        run.error = f"{type(error).__name__}: {error}"
        raise
    finally:
        run.timings = timings
        run.finished_at = timezone.now()
        run.save()
        lock_release(name=RETRAIN_LOCK, owner=owner)
