"""Shoppers' inspiration photos: accepted, normalised and stored here (the web process), answered by a worker
(``recommender.services.upload_processing``), and sent again by the reaper when a worker or the broker lost them.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal, InvalidOperation

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.db import transaction
from django.db.models import Q
from django.db.models.functions import Now

from catalog.images import upright_jpeg, validate_image_file
from catalog.models import Category
from recommender.models import InspirationUpload
from recommender.services.search import Filters

logger = logging.getLogger(__name__)


class UploadRejected(Exception):
    """Bad input from a shopper: ``message`` is shown to them, ``status`` is the HTTP status to answer with."""

    def __init__(self, message: str, *, status: int = 400):
        super().__init__(message)
        self.message = message
        self.status = status


GAVE_UP = "We could not process this photo after several tries. Please upload it again."


class RecommenderNotReady(Exception):
    """No encoder is live yet: the upload waits and is retried."""


@dataclass(frozen=True)
class UploadRequest:
    crop: list[float] | None
    filters: Filters


def parse_crop(text: str | None) -> list[float] | None:
    """``x,y,w,h`` as fractions of the image (0–1), the box inside the image and not empty."""
    if not text:
        return None
    try:
        values = [float(part) for part in text.split(",")]
    except ValueError:
        raise UploadRejected("crop must be four numbers x,y,w,h between 0 and 1.")
    if len(values) != 4 or not all(0.0 <= v <= 1.0 for v in values):
        raise UploadRejected("crop must be four numbers x,y,w,h between 0 and 1.")
    x, y, w, h = values
    if w < 0.02 or h < 0.02 or x + w > 1.0001 or y + h > 1.0001:
        raise UploadRejected("crop must be a box inside the photo, at least 2% wide and tall.")
    return values


def parse_filters(*, category: str | None, max_price: str | None, colour: str | None = None) -> Filters:
    """The filters of a form or a query string; ``colour=same`` ranks products of the photo's colour first."""
    category = (category or "").strip()
    if category and not Category.objects.filter(slug=category).exists():
        raise UploadRejected(f"Unknown category {category!r}.")
    price = None
    if max_price not in (None, ""):
        try:
            price = Decimal(str(max_price).strip())
        except InvalidOperation:
            raise UploadRejected("max_price must be a number.")
        if not price.is_finite() or price < 0:
            raise UploadRejected("max_price must be a number of zero or more.")
    colour = (colour or "").strip()
    if colour not in ("", "same"):
        raise UploadRejected("colour must be 'same' (products of the photo's colour first) or empty.")
    return Filters(category=category, max_price=price, same_colour=colour == "same")


def parse_upload_request(
    *, crop: str | None, category: str | None, max_price: str | None, colour: str | None = None
) -> UploadRequest:
    return UploadRequest(
        crop=parse_crop(crop), filters=parse_filters(category=category, max_price=max_price, colour=colour)
    )


def upload_create_from_post(*, data, files, too_large: bool = False) -> InspirationUpload:
    """An upload from a multipart POST (the form and the API send the same fields). ``too_large``: the body's
    photo went over IMAGE_MAX_BYTES while it streamed in, and was never read whole."""
    if too_large:
        raise UploadRejected(
            f"The photo is larger than {settings.IMAGE_MAX_BYTES // (1024 * 1024)} MB. Please choose a smaller file.",
            status=413,
        )
    return upload_create(
        image=files.get("image"),
        request=parse_upload_request(
            crop=data.get("crop"),
            category=data.get("category"),
            max_price=data.get("max_price"),
            colour=data.get("colour"),
        ),
    )


@transaction.atomic
def upload_create(*, image, request: UploadRequest) -> InspirationUpload:
    """Check the photo, store it re-encoded as an upright JPEG of at most UPLOAD_MAX_SIDE pixels with no metadata
    (no EXIF, no GPS), then enqueue its encoding once the transaction commits. The stored name is the upload's
    own id: nothing of the shopper's file name reaches the disk."""
    from recommender.tasks import encode_upload

    if image is None:
        raise UploadRejected("Choose a photo to upload.")
    if getattr(image, "size", 0) > settings.IMAGE_MAX_BYTES:
        raise UploadRejected(
            f"The photo is larger than {settings.IMAGE_MAX_BYTES // (1024 * 1024)} MB. Please choose a smaller file.",
            status=413,
        )
    try:
        data, _ = validate_image_file(image, decode=False)
        stored = upright_jpeg(data, max_side=settings.UPLOAD_MAX_SIDE)
    except ValidationError as error:
        raise UploadRejected(error.messages[0], status=413 if error.code == "too_large" else 400)
    upload = InspirationUpload(crop=request.crop, filters=request.filters.as_json())
    upload.image.save(f"{upload.id}.jpg", ContentFile(stored), save=False)
    try:
        upload.full_clean(exclude=["image", "queued_at"])
        upload.save()
    except BaseException:
        upload.image.storage.delete(upload.image.name)
        raise
    transaction.on_commit(lambda: _enqueue(encode_upload, str(upload.id)))
    return upload


def _enqueue(task, upload_id: str) -> None:
    """Send the task; if the broker is down the upload stays "queued" in the database and the reaper sends it
    again once the broker is back, so an accepted upload is never lost."""
    try:
        task.delay(upload_id)
    except Exception:
        logger.warning("could not enqueue upload %s; the reaper will retry", upload_id, exc_info=True)


def upload_fail(*, upload_id, message: str) -> None:
    InspirationUpload.objects.filter(pk=upload_id).exclude(status=InspirationUpload.Status.DONE).update(
        status=InspirationUpload.Status.FAILED, error=message, finished_at=Now()
    )


def uploads_reap(*, stale_seconds: int | None = None) -> tuple[list[str], int]:
    """Uploads a worker took but never finished (it died: ``processing`` since before the cutoff) and uploads
    sent but never taken (the broker was down or lost the message: ``queued`` since before the cutoff). Those with
    attempts left go back to ``queued`` with a new ``queued_at``, so the next run does not send them again; the
    others fail with a readable reason. Every time is the database's. Returns (ids to send, how many failed)."""
    stale_seconds = stale_seconds if stale_seconds is not None else settings.UPLOAD_STALE_SECONDS
    cutoff = Now() - timedelta(seconds=stale_seconds)
    Status = InspirationUpload.Status
    with transaction.atomic():
        stuck = InspirationUpload.objects.select_for_update(skip_locked=True).filter(
            Q(status=Status.PROCESSING, started_at__lt=cutoff) | Q(status=Status.QUEUED, queued_at__lt=cutoff)
        )
        ids = list(stuck.values_list("pk", flat=True))
        stuck = InspirationUpload.objects.filter(pk__in=ids)
        failed = stuck.filter(attempts__gte=settings.UPLOAD_MAX_ATTEMPTS).update(
            status=Status.FAILED, error=GAVE_UP, finished_at=Now()
        )
        retry = stuck.filter(attempts__lt=settings.UPLOAD_MAX_ATTEMPTS)
        requeue = [str(pk) for pk in retry.values_list("pk", flat=True)]
        retry.update(status=Status.QUEUED, queued_at=Now())
    return requeue, failed


# The pieces task waits behind others on the ``pictures`` queue, whose worker runs at the idle CPU priority: its
# upload is stale only after this many times UPLOAD_STALE_SECONDS.
PIECES_STALE_FACTOR = 5


def uploads_pieces_reap(*, stale_seconds: int | None = None) -> list[str]:
    """Uploads answered long ago (PIECES_STALE_FACTOR x UPLOAD_STALE_SECONDS, by the database's clock) whose pieces
    are still "being looked for": their task was lost with a worker that died. They stop "looking", so a page
    waiting for their pieces stops (the answer stays; pieces found later are still stored). Returns their ids."""
    stale_seconds = stale_seconds if stale_seconds is not None else settings.UPLOAD_STALE_SECONDS
    cutoff = Now() - timedelta(seconds=stale_seconds * PIECES_STALE_FACTOR)
    stuck = InspirationUpload.objects.filter(
        status=InspirationUpload.Status.DONE,
        pieces_status=InspirationUpload.PiecesStatus.LOOKING,
        finished_at__lt=cutoff,
    )
    ids = [str(pk) for pk in stuck.values_list("pk", flat=True)]
    InspirationUpload.objects.filter(pk__in=ids, pieces_status=InspirationUpload.PiecesStatus.LOOKING).update(
        pieces_status=InspirationUpload.PiecesStatus.NOT_LOOKED
    )
    return ids
