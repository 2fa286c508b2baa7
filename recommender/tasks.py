"""Celery tasks: each takes ids, re-fetches, and calls one service. State lives in the database."""

from __future__ import annotations

import logging

from celery import shared_task
from celery.exceptions import SoftTimeLimitExceeded
from celery.signals import worker_process_init
from django.conf import settings
from django.db import InterfaceError, OperationalError

from recommender.services.uploads import RecommenderNotReady

logger = logging.getLogger(__name__)
TRANSIENT = (OperationalError, InterfaceError, RecommenderNotReady)


@worker_process_init.connect
def limit_torch_threads(**kwargs) -> None:
    import torch

    torch.set_num_threads(settings.TORCH_THREADS)


@shared_task(
    bind=True,
    acks_late=True,
    soft_time_limit=60,
    time_limit=90,
    autoretry_for=TRANSIENT,
    retry_backoff=2,
    retry_backoff_max=60,
    max_retries=5,
)
def encode_upload(self, upload_id: str) -> None:
    from recommender.services.uploads import upload_fail, upload_process

    try:
        upload_process(upload_id=upload_id)
    except TRANSIENT:
        if self.request.retries >= self.max_retries:
            upload_fail(
                upload_id=upload_id, message="Recommendations are not available right now. Please try again later."
            )
            return
        raise
    except SoftTimeLimitExceeded:
        upload_fail(upload_id=upload_id, message="Finding matches took too long. Please try again.")
    except Exception:
        logger.exception("upload %s failed", upload_id)
        upload_fail(upload_id=upload_id, message="We could not read this photo. Please try another one.")


@shared_task(
    acks_late=True, soft_time_limit=120, time_limit=150, autoretry_for=TRANSIENT, retry_backoff=2, max_retries=5
)
def encode_product(product_id: int) -> None:
    from recommender.services.embeddings import product_encode

    product_encode(product_id=product_id)


@shared_task(acks_late=True, soft_time_limit=3 * 3600, time_limit=3 * 3600 + 300)
def retrain(trigger: str = "schedule") -> None:
    from recommender.services.retraining import retrain_run

    retrain_run(trigger=trigger)


@shared_task(acks_late=True, soft_time_limit=60, time_limit=90)
def reap_stale_uploads() -> None:
    from recommender.services.uploads import uploads_reap

    requeue, failed = uploads_reap()
    for upload_id in requeue:
        encode_upload.delay(upload_id)
    if requeue or failed:
        logger.warning("reaped uploads: %d requeued, %d failed", len(requeue), failed)


@shared_task(acks_late=True, soft_time_limit=600, time_limit=660)
def purge_old_uploads() -> None:
    from recommender.services.retention import uploads_purge

    deleted = uploads_purge()
    if deleted:
        logger.info("deleted %d uploads past the retention period", deleted)
