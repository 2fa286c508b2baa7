from django.db import models
from django.db.models import Q


class EncoderVersion(models.Model):
    """One trained encoder. Its checkpoint and pictures live in ``MODELS_ROOT/<name>/``."""

    class Status(models.TextChoices):
        TRAINING = "training"
        READY = "ready"
        FAILED = "failed"

    name = models.CharField(max_length=64, unique=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.TRAINING)
    is_active = models.BooleanField(default=False)
    config = models.JSONField(default=dict)
    metrics = models.JSONField(default=dict, blank=True, help_text="Evaluation figures on the dev data.")
    baseline = models.JSONField(
        default=dict, blank=True, help_text="The pretrained features' figures, measured with the version's."
    )
    intervals = models.JSONField(
        default=dict,
        blank=True,
        help_text="Each figure's bootstrap 95 % interval over its dev queries: {figure: [low, high]}.",
    )
    history = models.JSONField(
        default=list,
        blank=True,
        help_text="The training curves: one row per epoch, the mean of the loss and of each of its terms.",
    )
    data = models.JSONField(default=dict, blank=True, help_text="What it was trained on: counts and a hash.")
    train_seconds = models.FloatField(null=True, blank=True)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    heartbeat_at = models.DateTimeField(
        "last sign of life",
        null=True,
        blank=True,
        help_text="While it trains: the database's time of its training process's last sign of life.",
    )
    activated_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        permissions = [("make_live_encoderversion", "Can make an encoder version live (encode, index and switch)")]
        constraints = [
            models.UniqueConstraint(fields=["is_active"], condition=Q(is_active=True), name="one_active_encoder"),
            models.CheckConstraint(
                condition=Q(is_active=False) | Q(status="ready"), name="only_ready_encoder_is_active"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name}{' (live)' if self.is_active else ''}"
