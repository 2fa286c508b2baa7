"""Privacy: shoppers' photos are kept only for UPLOAD_RETENTION_DAYS."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from recommender.models import InspirationUpload


def uploads_purge(*, older_than_days: int | None = None) -> int:
    """Delete uploads (rows, photos and their reconstructions) older than the retention period; returns how many."""
    days = settings.UPLOAD_RETENTION_DAYS if older_than_days is None else older_than_days
    cutoff = timezone.now() - timedelta(days=days)
    deleted = 0
    for upload in InspirationUpload.objects.filter(created_at__lt=cutoff).iterator():
        for picture in (upload.image, upload.reconstruction):
            if picture:
                picture.storage.delete(picture.name)
        upload.delete()
        deleted += 1
    return deleted
