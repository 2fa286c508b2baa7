"""Encoder versions as records: where their files live, which one is live, and the promotion rule.

No torch here: the web process, admin and beat import this module. Training, evaluating and loading a
version's model happen in ``encoders.lifecycle`` (workers and management commands only).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from encoders.intervals import gate_compare
from encoders.models import EncoderVersion
from encoders.queries import HELD_OUT_FIGURES, UNGATED_FIGURES

CHECKPOINT_NAME = "checkpoint.pt"
QUERY_SCORES_NAME = "query_scores.json"
LOO_FIGURE = "loo P@10"


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


def query_scores_path(version: EncoderVersion) -> Path:
    return version_dir(version) / QUERY_SCORES_NAME


def query_scores_write(version: EncoderVersion, scores: dict) -> None:
    """Keep each figure's per-query scores beside the checkpoint (written to a temporary name, then renamed): the
    gate compares two versions query by query. They stay out of the database, where only the intervals go."""
    path = query_scores_path(version)
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text(json.dumps({name: [round(float(v), 6) for v in values] for name, values in scores.items()}))
    os.replace(temporary, path)


def query_scores_read(version: EncoderVersion) -> dict[str, list[float]]:
    """The per-query scores of the version's last measurement; empty when it has none."""
    try:
        return json.loads(query_scores_path(version).read_text())
    except (OSError, ValueError):
        return {}


def encoder_is_not_worse(
    *, candidate: EncoderVersion, live: EncoderVersion | None, tolerance: float
) -> tuple[bool, str, dict]:
    """The promotion gate: no figure of the candidate may be worse than the live version's beyond its interval
    (encoders.intervals.figure_is_worse states the rule), held-out figures in place of loo where both have them
    (``gate_figures``). Both were measured on the same catalog and queries just before, except the live version's
    held-out figures: those are from when it was a candidate (measuring them again would cost a second training
    every night); they are paired query by query only when scored on the same held-out products. Returns the
    verdict, a readable reason and the per-figure comparison kept on the run."""
    if live is None:
        return True, "no live version to compare with", {}
    live_figures = gate_figures(candidate=candidate, live=live)
    live_scores = query_scores_read(live)
    if not same_held_out_queries(candidate, live):
        # scored on other held-out products (the catalog changed): compared by their intervals, never paired
        live_scores = {name: values for name, values in live_scores.items() if name not in HELD_OUT_FIGURES}
    return gate_compare(
        candidate=candidate.metrics or {},
        live=live_figures,
        tolerance=tolerance,
        candidate_intervals=candidate.intervals,
        live_intervals=live.intervals,
        candidate_scores=query_scores_read(candidate),
        live_scores=live_scores,
    )


def gate_figures(*, candidate: EncoderVersion, live: EncoderVersion) -> dict[str, float]:
    """The live figures the gate compares. Where both versions have held-out figures (encoders.holdout), those
    stand in for loo P@10, which asks a model about the products it was trained on; loo stays on the version for
    staff to read. Where either lacks them (a version measured before they existed, or EVALUATION_HOLDOUT=0),
    the gate falls back to loo. Figures where more is not better (UNGATED_FIGURES: pieces per photo) are never
    compared."""
    live_metrics, candidate_metrics = live.metrics or {}, candidate.metrics or {}
    both = all(name in live_metrics and name in candidate_metrics for name in HELD_OUT_FIGURES)
    left_out = ({LOO_FIGURE} if both else set(HELD_OUT_FIGURES)) | set(UNGATED_FIGURES)
    return {name: value for name, value in live_metrics.items() if name not in left_out}


def same_held_out_queries(first: EncoderVersion, second: EncoderVersion) -> bool:
    """Whether both versions' held-out figures were scored on the same held-out products, in the same order."""
    key_first = ((first.data or {}).get("held_out") or {}).get("split")
    return key_first is not None and key_first == ((second.data or {}).get("held_out") or {}).get("split")
