"""Locks held as leases in the database (see JobLock). Every time here is the database's own clock (``Now()``), so
workers on machines whose clocks disagree still agree on when a lease runs out."""

from __future__ import annotations

import os
import socket
import uuid
from datetime import timedelta

from django.db import IntegrityError, transaction
from django.db.models.functions import Now

from recommender.models import JobLock

RETRAIN_LOCK = "retrain"  # the pipeline's lock: retraining, making a version live, rebuilding the index


def lock_held(*, name: str) -> bool:
    """Whether a process holds ``name`` now: its lease has not run out (by the database's clock)."""
    return JobLock.objects.filter(name=name, expires_at__gte=Now()).exists()


def lock_owner() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def lock_acquire(*, name: str, owner: str, seconds: float) -> bool:
    expires = Now() + timedelta(seconds=seconds)
    if JobLock.objects.filter(name=name, expires_at__lt=Now()).update(owner=owner, expires_at=expires):
        return True  # took over an expired lease
    try:
        with transaction.atomic():
            JobLock.objects.create(name=name, owner=owner, expires_at=expires)
    except IntegrityError:
        return False
    return True


def lock_refresh(*, name: str, owner: str, seconds: float) -> bool:
    """Extend the lease; False if it is no longer ours."""
    expires = Now() + timedelta(seconds=seconds)
    return bool(JobLock.objects.filter(name=name, owner=owner).update(expires_at=expires))


def lock_release(*, name: str, owner: str) -> None:
    JobLock.objects.filter(name=name, owner=owner).delete()
