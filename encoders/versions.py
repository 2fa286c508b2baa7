"""Encoder versions as records: where their files live, which one is live, and the promotion rule.

No torch here: the web process, admin and beat import this module. Training, evaluating and loading a
version's model happen in ``encoders.lifecycle`` (workers and management commands only).
"""

from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from encoders.models import EncoderVersion

CHECKPOINT_NAME = "checkpoint.pt"


def version_dir(version: EncoderVersion) -> Path:
    return Path(settings.MODELS_ROOT) / version.name


def checkpoint_path(version: EncoderVersion) -> Path:
    return version_dir(version) / CHECKPOINT_NAME


def active_encoder_version() -> EncoderVersion | None:
    return EncoderVersion.objects.filter(is_active=True).first()


@transaction.atomic
def encoder_activate(*, version: EncoderVersion) -> EncoderVersion:
    if version.status != EncoderVersion.Status.READY:
        raise ValueError(f"{version.name} is {version.status}; only a ready version can be activated")
    if not checkpoint_path(version).is_file():
        raise ValueError(f"{version.name} has no checkpoint at {checkpoint_path(version)}")
    EncoderVersion.objects.filter(~Q(pk=version.pk), is_active=True).update(is_active=False)
    version.is_active = True
    version.activated_at = timezone.now()
    version.save(update_fields=["is_active", "activated_at"])
    return version


def encoder_is_not_worse(*, candidate: dict[str, float], live: dict[str, float], tolerance: float) -> tuple[bool, str]:
    """Promotion rule: every figure the live version has must be matched by the candidate within ``tolerance``
    (the dev rooms are few: differences under ~0.02 are noise). Returns the verdict and a readable reason."""
    if not live:
        return True, "no live figures to compare with"
    missing = sorted(set(live) - set(candidate))
    if missing:
        return False, f"the candidate has no figure for {', '.join(missing)}"
    worse = [
        f"{name} {candidate[name]:.3f} < {value:.3f}"
        for name, value in live.items()
        if candidate[name] < value - tolerance
    ]
    if worse:
        return False, "worse than the live version: " + "; ".join(worse)
    better = sum(candidate[name] - value for name, value in live.items())
    return True, f"not worse on any figure (sum of differences {better:+.3f})"
