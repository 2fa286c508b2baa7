"""Shoppers' inspiration photos: accepted and stored here, encoded and answered by a worker."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal, InvalidOperation
from io import BytesIO

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.db import transaction
from django.utils import timezone
from PIL import Image

from catalog.images import open_upright_rgb, validate_image_file
from catalog.models import Category
from encoders.inference import backbone_features, embed_backbone_features, reconstruct_features
from encoders.lifecycle import encoder_load
from recommender.models import IndexVersion, InspirationUpload
from recommender.services.maps import map_position
from recommender.services.search import Filters, search_vector, serving_state

logger = logging.getLogger(__name__)


class UploadRejected(Exception):
    """Bad input from a shopper: ``message`` is shown to them, ``status`` is the HTTP status to answer with."""

    def __init__(self, message: str, *, status: int = 400):
        super().__init__(message)
        self.message = message
        self.status = status


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


def parse_filters(*, category: str | None, max_price: str | None) -> Filters:
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
    return Filters(category=category, max_price=price)


def parse_upload_request(*, crop: str | None, category: str | None, max_price: str | None) -> UploadRequest:
    return UploadRequest(crop=parse_crop(crop), filters=parse_filters(category=category, max_price=max_price))


def upload_create_from_post(*, data, files) -> InspirationUpload:
    """An upload from a multipart POST (the form and the API send the same fields)."""
    return upload_create(
        image=files.get("image"),
        request=parse_upload_request(
            crop=data.get("crop"), category=data.get("category"), max_price=data.get("max_price")
        ),
    )


@transaction.atomic
def upload_create(*, image, request: UploadRequest) -> InspirationUpload:
    """Validate and store the photo, then enqueue its encoding once the transaction commits. The stored name
    is the upload's own id: nothing of the shopper's file name reaches the disk."""
    from recommender.tasks import encode_upload

    if image is None:
        raise UploadRejected("Choose a photo to upload.")
    if getattr(image, "size", 0) > settings.IMAGE_MAX_BYTES:
        raise UploadRejected(
            f"The photo is larger than {settings.IMAGE_MAX_BYTES // (1024 * 1024)} MB. Please choose a smaller file.",
            status=413,
        )
    try:
        data, info = validate_image_file(image)
    except ValidationError as error:
        raise UploadRejected(error.messages[0], status=413 if error.code == "too_large" else 400)
    upload = InspirationUpload(crop=request.crop, filters=request.filters.as_json())
    upload.image.save(f"{upload.id}.{info.extension}", ContentFile(data), save=False)
    try:
        upload.full_clean(exclude=["image"])
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


def _query_image(upload: InspirationUpload) -> Image.Image:
    with upload.image.open("rb") as handle:
        image = open_upright_rgb(handle.read())
    if upload.crop:
        x, y, w, h = upload.crop
        width, height = image.size
        box = (round(x * width), round(y * height), round((x + w) * width), round((y + h) * height))
        image = image.crop(box)
    return image


def upload_claim(*, upload_id) -> InspirationUpload | None:
    """Mark the upload as being processed (one more attempt); None if it is finished or gone."""
    with transaction.atomic():
        upload = InspirationUpload.objects.select_for_update().filter(pk=upload_id).first()
        if upload is None or upload.status in (InspirationUpload.Status.DONE, InspirationUpload.Status.FAILED):
            return None
        upload.status = InspirationUpload.Status.PROCESSING
        upload.attempts += 1
        upload.started_at = timezone.now()
        upload.save(update_fields=["status", "attempts", "started_at"])
        return upload


def upload_process(*, upload_id) -> InspirationUpload | None:
    """Encode the photo with the serving encoder, query the index, store the ranked results. Idempotent: a
    finished upload is left as it is; a retried one is computed again from the stored photo."""
    upload = upload_claim(upload_id=upload_id)
    if upload is None:
        return None
    state = serving_state()
    if state.encoder_version is None:
        raise RecommenderNotReady("no encoder is live yet")
    encoder = encoder_load(state.encoder_version)
    query = _query_image(upload)
    features = backbone_features(encoder, [query])  # the backbone runs once for the vector and the picture
    vector = embed_backbone_features(encoder, features, head="similar")[0]
    results = search_vector(
        vector, k=settings.RECOMMENDATIONS_PER_PAGE, filters=Filters.from_json(upload.filters), state=state
    )
    upload.results = [{"product_id": pid, "score": round(score, 5)} for pid, score in results]
    upload.encoder_version = state.encoder_version
    upload.index_version = (
        IndexVersion.objects.filter(name=state.index.version).first() if state.index is not None else None
    )
    _reconstruction_save(upload, reconstruct_features(encoder, features)[0])
    upload.map_position = map_position(version=state.encoder_version, vector=vector)
    upload.status = InspirationUpload.Status.DONE
    upload.error = ""
    upload.finished_at = timezone.now()
    upload.save(
        update_fields=[
            "results",
            "encoder_version",
            "index_version",
            "reconstruction",
            "map_position",
            "status",
            "error",
            "finished_at",
        ]
    )
    return upload


def _reconstruction_save(upload: InspirationUpload, picture: Image.Image) -> None:
    """Store "what the model sees" under the upload's id; a retry replaces the file of an earlier attempt."""
    name = f"{upload.id}.png"
    storage = upload.reconstruction.storage
    path = upload.reconstruction.field.generate_filename(upload, name)
    if storage.exists(path):
        storage.delete(path)
    buffer = BytesIO()
    picture.save(buffer, format="PNG")
    upload.reconstruction.save(name, ContentFile(buffer.getvalue()), save=False)


def upload_fail(*, upload_id, message: str) -> None:
    InspirationUpload.objects.filter(pk=upload_id).exclude(status=InspirationUpload.Status.DONE).update(
        status=InspirationUpload.Status.FAILED, error=message, finished_at=timezone.now()
    )


def uploads_reap(*, stale_seconds: int | None = None) -> tuple[list[str], int]:
    """Uploads left "processing" by a worker that died, or "queued" but never picked up (the broker was
    down): requeued while they have attempts left, failed with a readable reason after that.
    Returns (ids to requeue, how many failed)."""
    stale_seconds = stale_seconds if stale_seconds is not None else settings.UPLOAD_STALE_SECONDS
    cutoff = timezone.now() - timedelta(seconds=stale_seconds)
    stuck = InspirationUpload.objects.filter(
        status=InspirationUpload.Status.PROCESSING, started_at__lt=cutoff
    ) | InspirationUpload.objects.filter(status=InspirationUpload.Status.QUEUED, created_at__lt=cutoff)
    exhausted = stuck.filter(attempts__gte=settings.UPLOAD_MAX_ATTEMPTS)
    failed = exhausted.update(
        status=InspirationUpload.Status.FAILED,
        error="We could not process this photo after several tries. Please upload it again.",
        finished_at=timezone.now(),
    )
    retry = stuck.exclude(attempts__gte=settings.UPLOAD_MAX_ATTEMPTS)
    requeue = [str(pk) for pk in retry.values_list("pk", flat=True)]
    # Restart the clock of requeued work, so the next reaper run does not send it again straight away.
    InspirationUpload.objects.filter(pk__in=requeue, status=InspirationUpload.Status.PROCESSING).update(
        started_at=timezone.now()
    )
    return requeue, failed
