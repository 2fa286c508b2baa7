"""Celery tasks: each takes ids, re-fetches, and calls one service. State lives in the database.

Queues (CELERY_TASK_ROUTES): ``default`` answers shoppers' uploads and nothing else heavy; ``pictures`` draws an
upload's reconstruction ("what the model sees") when staff ask for it in admin; ``products`` (re)encodes catalog
products, so a bulk import never waits in front of a shopper; ``training`` retrains, one at a time.
"""

from __future__ import annotations

import logging
import os

from celery import shared_task
from celery.exceptions import SoftTimeLimitExceeded
from celery.signals import worker_process_init
from django.conf import settings
from django.db import InterfaceError, OperationalError

from recommender.services.uploads import RecommenderNotReady

logger = logging.getLogger(__name__)
TRANSIENT = (OperationalError, InterfaceError, RecommenderNotReady)
UNAVAILABLE = "Recommendations are not available right now. Please try again in a few minutes."
UNREADABLE = "We could not read this photo. Please try another one."
TOO_SLOW = "Finding matches took too long. Please try again."


@worker_process_init.connect
def warm_up(**kwargs) -> None:
    """Set the process's CPU priority (WORKER_CPU_PRIORITY) and torch's threads, and load the serving encoder and
    index before the first task, so that the first shopper of a new worker process does not wait for them. Nothing
    after the priority is required: a failure (no encoder yet, the database down) only means the first task loads
    them itself."""
    from recommender.cpu_priority import cpu_priority_apply

    applied = cpu_priority_apply(settings.WORKER_CPU_PRIORITY)  # before torch starts its threads: they inherit it
    if applied != "normal":
        logger.info("worker process %d runs at CPU priority %s", os.getpid(), applied)
    import torch

    torch.set_num_threads(settings.TORCH_THREADS)
    try:
        from encoders.lifecycle import encoder_load
        from recommender.services.search import serving_state

        state = serving_state()
        if state.encoder_version is not None:
            encoder_load(state.encoder_version)
    except Exception:
        logger.warning("warm-up skipped; the first task loads the encoder", exc_info=True)
    finally:
        from django.db import connections

        connections.close_all()  # a fresh connection per task, never one opened here


@shared_task(
    bind=True,
    acks_late=True,
    # A photo that kills the worker must not come back in a loop: the delivery is dropped, the upload stays
    # "processing", and the reaper sends it again (counting attempts) once it is stale.
    reject_on_worker_lost=False,
    soft_time_limit=60,
    time_limit=90,
    max_retries=5,
)
def encode_upload(self, upload_id: str) -> None:
    """Answer the upload, with up to UPLOAD_BATCH_MAX - 1 other queued uploads in the same backbone batch
    (``uploads_claim_companions``); their own deliveries then find them taken and do nothing."""
    from PIL import UnidentifiedImageError

    from recommender.services.upload_processing import (
        query_image,
        upload_claim,
        upload_release,
        uploads_answer,
        uploads_claim_companions,
    )
    from recommender.services.uploads import upload_fail

    worker = self.request.hostname or ""
    upload = upload_claim(upload_id=upload_id, worker=worker)
    if upload is None:
        return  # finished, gone, or another delivery has it
    batch = [upload, *uploads_claim_companions(first=upload, worker=worker, limit=settings.UPLOAD_BATCH_MAX - 1)]
    try:
        decoded = []
        for each in batch:
            try:
                decoded.append((each, query_image(each)))
            except (UnidentifiedImageError, SyntaxError) as error:  # the stored photo itself cannot be decoded
                logger.warning("upload %s: unreadable photo: %s", each.pk, error)
                upload_fail(upload_id=each.pk, message=UNREADABLE)
        if decoded:
            uploads_answer(decoded)
    except SoftTimeLimitExceeded:
        for each in batch:
            upload_fail(upload_id=each.pk, message=TOO_SLOW)
    except Exception as error:  # not the photo's fault: a service is down or not ready; try again later
        if self.request.retries >= self.max_retries:
            logger.exception("upload %s failed after %d retries", upload_id, self.request.retries)
            for each in batch:
                upload_fail(upload_id=each.pk, message=UNAVAILABLE)
            return
        log = logger.info if isinstance(error, TRANSIENT) else logger.exception
        log("upload %s will be retried: %s", upload_id, error)
        for each in batch:  # those not answered yet go back to the queue; the companions' own deliveries, or the
            upload_release(upload_id=each.pk)  # reaper if those have gone, take them again
        raise self.retry(exc=error, countdown=min(60, 2 ** (self.request.retries + 1)))


@shared_task(bind=True, acks_late=True, soft_time_limit=60, time_limit=90, max_retries=3)
def find_upload_pieces(self, upload_id: str) -> None:
    """The room answer of a done upload (its pieces, each answered), on the ``pictures`` queue, whose worker runs
    at the idle CPU priority: it never delays a shopper's first answer. Transient errors are retried with a growing
    delay; when the pieces will not be found (any other error, too slow, or the retries spent) the upload stops
    "looking", so the page showing its answer stops waiting for them."""
    from recommender.services.upload_processing import upload_pieces_find, upload_pieces_give_up

    try:
        upload_pieces_find(upload_id=upload_id)
    except TRANSIENT as error:
        if self.request.retries >= self.max_retries:
            upload_pieces_give_up(upload_id=upload_id)
            raise
        logger.info("pieces of upload %s will be looked for again: %s", upload_id, error)
        raise self.retry(exc=error, countdown=2 ** (self.request.retries + 1))
    except Exception:
        upload_pieces_give_up(upload_id=upload_id)
        raise


@shared_task(acks_late=True, soft_time_limit=30, time_limit=60, autoretry_for=TRANSIENT, retry_backoff=2, max_retries=3)
def draw_upload(upload_id: str) -> None:
    from recommender.services.upload_processing import upload_draw

    upload_draw(upload_id=upload_id)


@shared_task(
    acks_late=True, soft_time_limit=120, time_limit=150, autoretry_for=TRANSIENT, retry_backoff=2, max_retries=5
)
def encode_product(product_id: int) -> None:
    from recommender.services.encoding import product_encode
    from recommender.services.search import serving_encoder_version

    version = serving_encoder_version()
    if version is not None:
        product_encode(product_id=product_id, version=version)


@shared_task(acks_late=True, soft_time_limit=3 * 3600, time_limit=3 * 3600 + 300)
def retrain(trigger: str = "schedule") -> None:
    from recommender.services.retraining import retrain_run

    retrain_run(trigger=trigger)


@shared_task(acks_late=True, soft_time_limit=3 * 3600, time_limit=3 * 3600 + 300)
def make_live(encoder_version_id: int) -> None:
    from encoders.models import EncoderVersion
    from recommender.services.retraining import encoder_make_live

    version = EncoderVersion.objects.filter(pk=encoder_version_id).first()
    if version is not None and encoder_make_live(version=version) is None:
        logger.warning("%s was not made live: another retrain or make-live holds the lock", version.name)


@shared_task(acks_late=True, soft_time_limit=300, time_limit=330)
def reconcile_catalog() -> None:
    from encoders.lifecycle import encoder_load
    from recommender.services.reconcile import catalog_reconcile
    from recommender.services.search import serving_encoder_version

    version = serving_encoder_version()
    found = catalog_reconcile(guesses=version is not None and encoder_load(version).has_category_head)
    for product_id in found.missing + found.unguessed:
        encode_product.delay(product_id)
    if found.rebuild:
        rebuild_index.delay()
    if found.missing or found.unguessed or found.rebuild:
        logger.warning(
            "reconcile: %d products queued for encoding, %d to be given their category guess; fresh set %d%s",
            len(found.missing),
            len(found.unguessed),
            found.fresh,
            ", index rebuild queued" if found.rebuild else "",
        )


@shared_task(acks_late=True, soft_time_limit=3 * 3600, time_limit=3 * 3600 + 300)
def rebuild_index() -> None:
    from recommender.services.retraining import index_rebuild

    if index_rebuild(trigger="reconcile") is None:
        logger.info("index rebuild skipped: a retrain holds the lock (it builds a new index itself)")


@shared_task(acks_late=True, soft_time_limit=60, time_limit=90)
def reap_stale_uploads() -> None:
    from recommender.services.notify import upload_changed
    from recommender.services.uploads import uploads_pieces_reap, uploads_reap

    requeue, failed = uploads_reap()
    for upload_id in requeue:
        encode_upload.delay(upload_id)
    if requeue or failed:
        logger.warning("reaped uploads: %d requeued, %d failed", len(requeue), failed)
    no_pieces = uploads_pieces_reap()
    for upload_id in no_pieces:
        upload_changed(upload_id)  # a page still waiting for the pieces stops
    if no_pieces:
        logger.warning("reaped uploads: %d no longer looking for their pieces", len(no_pieces))


@shared_task(acks_late=True, soft_time_limit=60, time_limit=90)
def fail_interrupted_trainings() -> None:
    """Versions left "training" by a process that died (killed, out of memory, its machine lost) are marked failed,
    so admin stops showing them as training (encoders.heartbeat)."""
    from encoders.heartbeat import versions_interrupted_fail

    versions_interrupted_fail()


@shared_task(acks_late=True, soft_time_limit=600, time_limit=660)
def purge_old_uploads() -> None:
    from recommender.services.retention import uploads_purge

    deleted = uploads_purge()
    if deleted:
        logger.info("deleted %d uploads past the retention period", deleted)
