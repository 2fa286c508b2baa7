"""The retraining pipeline: train → measure on held-out products → evaluate → promote only if no figure is worse
beyond its interval → encode the catalog → build the index → switch serving to both at once → catch up on products
saved meanwhile.

One pipeline at a time (a retrain, or staff making a version live), under a lease lock in the database. A
thread renews the lease through every stage; a run whose lease was lost (another process took the lock after
it expired) stops before it switches anything. A crashed worker holds the lock only until its lease runs out.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from django.conf import settings
from django.db import close_old_connections, connection
from django.utils import timezone

from encoders.data import evaluation_query_set
from encoders.lifecycle import encoder_evaluate, encoder_held_out, encoder_train, held_out_fraction
from encoders.model import EncoderConfig
from encoders.models import EncoderVersion
from encoders.versions import active_encoder_version, encoder_is_not_worse
from recommender.models import IndexVersion, RetrainRun
from recommender.services.encoding import catalog_encode
from recommender.services.feedback import feedback_training_pairs
from recommender.services.indexing import index_build, serving_activate
from recommender.services.locks import RETRAIN_LOCK, lock_acquire, lock_owner, lock_refresh, lock_release

logger = logging.getLogger(__name__)
INTERRUPTED = "Interrupted: the process running it stopped before it finished (its lock's lease ran out)."
HEARTBEAT_SECONDS = 30
QUICK_CONFIG = {"epochs": 4, "wild_views": 1}


class LeaseLost(RuntimeError):
    """Another process holds the pipeline's lock now: this run must not switch anything."""


def default_config() -> EncoderConfig:
    """The configuration scheduled retraining uses: EncoderConfig's defaults with ENCODER_CONFIG's overrides (flat
    field names, e.g. ``{"epochs": 20}``, or parts, e.g. ``{"optimisation": {"epochs": 20}}``)."""
    return EncoderConfig().replace(**settings.ENCODER_CONFIG)


def quick_config() -> EncoderConfig:
    """A short configuration for a first demo: a few minutes on two cores."""
    return default_config().replace(**QUICK_CONFIG)


class Lease:
    """The pipeline lock, held for as long as the ``with`` block runs: acquired on entry (``held`` says whether it
    was), renewed every ``every`` seconds by a thread, released on exit. ``check()`` raises LeaseLost once a
    renewal found the lock in other hands."""

    def __init__(self, *, name: str = RETRAIN_LOCK, seconds: float | None = None, every: float | None = None):
        self.name = name
        self.owner = lock_owner()
        self.seconds = seconds if seconds is not None else settings.RETRAIN_LOCK_SECONDS
        self.every = every if every is not None else HEARTBEAT_SECONDS
        self.held = False
        self._lost = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __enter__(self) -> Lease:
        self.held = lock_acquire(name=self.name, owner=self.owner, seconds=self.seconds)
        if self.held:
            self._thread = threading.Thread(target=self._renew, name=f"lease-{self.name}", daemon=True)
            self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        if not self.held:
            return
        self._stop.set()
        self._thread.join()
        if not self._lost.is_set():
            lock_release(name=self.name, owner=self.owner)

    def _renew(self) -> None:
        try:
            while not self._stop.wait(self.every):
                close_old_connections()
                if not lock_refresh(name=self.name, owner=self.owner, seconds=self.seconds):
                    logger.error("the %s lock was taken by another process; this run stops", self.name)
                    self._lost.set()
                    return
        except Exception:
            logger.exception("could not renew the %s lock", self.name)
            self._lost.set()
        finally:
            connection.close()

    def check(self) -> None:
        if self._lost.is_set():
            raise LeaseLost(f"the {self.name} lock was lost (its lease ran out and another process took it)")


class Stages:
    """Runs the named stages of one pipeline run: times each, checks the lease between them, and shows staff the
    current stage and its progress on the run's row."""

    def __init__(self, run: RetrainRun, lease: Lease, report: Callable | None = None):
        self.run = run
        self.lease = lease
        self.report = report
        self._last_saved = 0.0

    def __call__(self, stage: str, work: Callable):
        self.lease.check()
        self.run.stage = stage
        self.run.progress = {"started": timezone.now().isoformat()}
        self.run.save(update_fields=["stage", "progress"])
        started = time.monotonic()
        result = work()
        self.run.timings[stage] = round(time.monotonic() - started, 2)
        self.lease.check()
        return result

    def progress(self, stage: str, done: int, total: int, info: dict | None = None) -> None:
        """Training's progress callback: passed on, kept on the run at most every two seconds, and a lost lease
        stops training at once."""
        if self.report is not None:
            self.report(stage, done, total, info or {})
        self.lease.check()
        now = time.monotonic()
        if now - self._last_saved >= 2 or done == total:
            self._last_saved = now
            self.run.progress = {
                **self.run.progress,
                "step": stage,
                "done": done,
                "total": total,
                "at": timezone.now().isoformat(),
            }
            self.run.save(update_fields=["progress"])


def _serve(stages: Stages, version: EncoderVersion, *, seed: int) -> IndexVersion:
    """Encode the catalog under ``version``, index it and switch serving to both; then encode under it the
    products saved meanwhile (their own encode tasks may have used the version serving before the switch)."""
    stages("encode_catalog", lambda: catalog_encode(version=version))
    index_version = stages("build_index", lambda: index_build(encoder_version=version, seed=seed))
    stages.run.index_version = index_version
    stages("activate", lambda: serving_activate(index_version=index_version))
    stages("catch_up", lambda: catalog_encode(version=version))
    return index_version


@contextmanager
def pipeline_run(*, report: Callable | None = None, **fields) -> Iterator[Stages | None]:
    """Hold the pipeline lock for the ``with`` block and record it as a RetrainRun made of ``fields``: yields the
    run's Stages, or None when another pipeline holds the lock. An exception marks the run failed and goes on;
    the run is finished (its time and last stage kept) in every case."""
    with Lease() as lease:
        if not lease.held:
            yield None
            return
        # Holding the lock, no other run is alive: one still marked running was left by a process that died
        RetrainRun.objects.filter(status=RetrainRun.Status.RUNNING).update(
            status=RetrainRun.Status.FAILED, error=INTERRUPTED, stage="", finished_at=timezone.now()
        )
        run = RetrainRun.objects.create(**fields)
        try:
            yield Stages(run, lease, report)
        except Exception as error:
            logger.exception("the %s run failed", run.trigger)
            run.status = RetrainRun.Status.FAILED
            run.error = f"{type(error).__name__}: {error}"
            raise
        finally:
            run.stage = ""
            run.finished_at = timezone.now()
            run.save()


def retrain_run(
    *, trigger: str, config: EncoderConfig | None = None, seed: int = 0, progress=None
) -> RetrainRun | None:
    """Run the whole pipeline; None if another pipeline holds the lock. A failure leaves serving unchanged.
    ``progress`` receives the training progress (stage, done, total, info)."""
    with pipeline_run(trigger=trigger, live_before=active_encoder_version(), report=progress) as stages:
        if stages is None:
            logger.info("a retrain is already running; not starting another")
            return None
        run = stages.run
        queries = evaluation_query_set()
        feedback = feedback_training_pairs()
        candidate = stages(
            "train",
            lambda: encoder_train(
                config=config or default_config(),
                seed=seed,
                progress=stages.progress,
                queries=queries,
                extra_pairs=feedback,
            ),
        )
        run.candidate = candidate
        if queries is not None and held_out_fraction() > 0:
            # a second training without a share of the products: how the candidate's recipe does on new ones
            stages(
                "held_out",
                lambda: encoder_held_out(
                    version=candidate, queries=queries, progress=stages.progress, extra_pairs=feedback
                ),
            )
        live = run.live_before
        if live is not None and queries is not None:
            # Measure the live version on today's catalog too, so both are compared on the same ground.
            stages("evaluate_live", lambda: encoder_evaluate(version=live, queries=queries))
        promote, run.reason, run.comparison = encoder_is_not_worse(
            candidate=candidate, live=live, tolerance=settings.PROMOTION_TOLERANCE
        )
        if not promote:
            run.status = RetrainRun.Status.KEPT
            return run
        _serve(stages, candidate, seed=seed)
        run.status = RetrainRun.Status.PROMOTED
        return run


def encoder_make_live(*, version: EncoderVersion, trigger: str = "staff", seed: int = 0) -> RetrainRun | None:
    """Serve ``version`` exactly as a promotion does (encode the catalog under it, build its index, switch both,
    catch up), recorded as a run; None if another pipeline holds the lock."""
    if version.status != EncoderVersion.Status.READY:
        raise ValueError(f"{version.name} is {version.status}; only a ready version can be made live")
    fields = {"candidate": version, "live_before": active_encoder_version(), "reason": "made live by hand"}
    with pipeline_run(trigger=trigger, **fields) as stages:
        if stages is None:
            return None
        _serve(stages, version, seed=seed)
        stages.run.status = RetrainRun.Status.PROMOTED
        return stages.run


def index_rebuild(*, trigger: str = "reconcile", seed: int = 0) -> RetrainRun | None:
    """Build a new index of the serving encoder's vectors (folding the fresh set in) and switch to it, recorded
    as a run; None if another pipeline holds the lock."""
    version = active_encoder_version()
    if version is None:
        return None
    with pipeline_run(trigger=trigger, candidate=version, live_before=version) as stages:
        if stages is None:
            return None
        index_version = stages("build_index", lambda: index_build(encoder_version=version, seed=seed))
        stages.run.index_version = index_version
        stages("activate", lambda: serving_activate(index_version=index_version))
        stages.run.status = RetrainRun.Status.REINDEXED
        stages.run.reason = f"rebuilt the index of {version.name}: {index_version.item_count} products"
        return stages.run
