import uuid

import numpy as np
from django.db import models
from django.db.models import Q
from django.db.models.functions import Now

from catalog.models import Product
from encoders.models import EncoderVersion

VECTOR_DTYPE = np.float16  # stored vectors: half the bytes of float32, rankings unchanged (README, "vectors")


class ProductEmbedding(models.Model):
    """A product's vectors under one encoder version: L2-normalised, stored as raw float16 bytes.

    ``revision`` orders every write: rows written by one transaction share the value that transaction took from
    the ``vectors`` counter (see ``VectorCounter``), and transactions commit in revision order. So "every row
    with revision <= R" is a complete, transaction-safe snapshot once the counter reads R: the watermark that
    separates an index build from the fresh set."""

    product = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="embeddings")
    encoder_version = models.ForeignKey(EncoderVersion, on_delete=models.CASCADE, related_name="embeddings")
    similar = models.BinaryField()
    goes_with = models.BinaryField()
    image_sha256 = models.CharField(max_length=64, help_text="The image the vectors were computed from.")
    categories = models.JSONField(
        default=dict,
        blank=True,
        help_text="What the image looks like by this version's category head: {category slug: probability}, its "
        "likeliest few (encoders.category_ranking.kept_guess); empty for a version without the head. The product "
        "page ranks the product's similar items with it.",
    )
    revision = models.BigIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["product", "encoder_version"], name="one_embedding_per_version")]
        indexes = [models.Index(fields=["encoder_version", "revision"])]

    def __str__(self) -> str:
        return f"{self.product_id} under {self.encoder_version_id}"

    @property
    def similar_vector(self) -> np.ndarray:
        return np.frombuffer(bytes(self.similar), dtype=VECTOR_DTYPE).astype(np.float32)

    @property
    def goes_with_vector(self) -> np.ndarray:
        return np.frombuffer(bytes(self.goes_with), dtype=VECTOR_DTYPE).astype(np.float32)


class VectorCounter(models.Model):
    """One row per counter. A transaction that writes vectors increments ``vectors`` first; the row lock it takes
    is held until commit, so writers commit one after another in counter order (the database's own ordering,
    never a wall clock)."""

    name = models.CharField(max_length=32, unique=True)
    value = models.BigIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.name} = {self.value}"


class IndexVersion(models.Model):
    """One index build over the vectors of one encoder version: an Annoy file per space ("similar", "goes_with")."""

    name = models.CharField(max_length=80, unique=True)
    encoder_version = models.ForeignKey(EncoderVersion, on_delete=models.PROTECT, related_name="indexes")
    item_count = models.PositiveIntegerField()
    n_trees = models.PositiveIntegerField()
    search_k = models.IntegerField()
    recall_at_10 = models.FloatField(null=True, blank=True, help_text="Against exact search, on a sample.")
    build_seconds = models.FloatField()
    spaces = models.JSONField(default=dict, blank=True, help_text="Per space: dimension, n_trees, search_k, recall.")
    vectors_revision = models.BigIntegerField(default=0, help_text="The watermark: vectors up to here are in it.")
    is_active = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    activated_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["is_active"], condition=Q(is_active=True), name="one_active_index")
        ]

    def __str__(self) -> str:
        return f"{self.name}{' (live)' if self.is_active else ''}"


class InspirationUpload(models.Model):
    """A shopper's photo and, once a worker has encoded it, the products that look most alike."""

    class Status(models.TextChoices):
        QUEUED = "queued"
        PROCESSING = "processing"
        DONE = "done"
        FAILED = "failed"

    class Kind(models.TextChoices):
        PIECE = "piece"
        ROOM = "room"

    class PiecesStatus(models.TextChoices):
        NOT_LOOKED = "", "Not looked for"
        LOOKING = "looking", "Being looked for"
        LOOKED = "looked", "Looked for"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    image = models.ImageField(upload_to="uploads/%Y/%m/%d/")
    crop = models.JSONField(null=True, blank=True, help_text="[x, y, w, h] as fractions of the image.")
    filters = models.JSONField(default=dict, blank=True, help_text="category (slug) and max_price.")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    error = models.TextField(blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    results = models.JSONField(default=list, blank=True, help_text="[{product_id, score}], best first.")
    reconstruction = models.ImageField(
        upload_to="uploads/reconstructions/",
        blank=True,
        help_text="The decoder's redrawing of the query image, drawn only when staff ask (admin).",
    )
    code = models.BinaryField(
        null=True, blank=True, help_text="The photo's latent code (float16), kept for drawing the reconstruction."
    )
    vector = models.BinaryField(
        null=True, blank=True, help_text="The search vector served (float16), kept for changing filters later."
    )
    colours = models.JSONField(
        null=True, blank=True, help_text="The photo's (or the box's) main colours, [[L, a, b, share], ...] in CIELAB."
    )
    categories = models.JSONField(
        default=list,
        blank=True,
        help_text='What the photo looks like, by the encoder\'s category head: [{"slug", "probability"}], most '
        "likely first, every category the catalog still has (pages show CATEGORY_GUESSES); empty when the encoder "
        "has no category head.",
    )
    kind = models.CharField(
        max_length=8,
        choices=Kind.choices,
        default=Kind.PIECE,
        help_text="How the photo is answered first: as one piece, or as a room of several pieces.",
    )
    pieces = models.JSONField(
        default=list,
        blank=True,
        help_text='The pieces found in the photo, best first: [{"box": [x, y, w, h], "category": slug, "confidence", '
        '"results": [{product_id, score}]}]; empty when none were looked for or found.',
    )
    complements = models.JSONField(
        default=list,
        blank=True,
        help_text="What goes well with the pieces found, [{product_id, score}], best first, none of their categories.",
    )
    everything = models.JSONField(
        default=list,
        blank=True,
        help_text='"Everything in this room": the pieces\' lookalikes merged, [{product_id, score}], best first, each '
        "raised by how well it goes with the other pieces' best matches (score: its best match to a piece).",
    )
    pieces_status = models.CharField(
        max_length=8,
        choices=PiecesStatus.choices,
        default=PiecesStatus.NOT_LOOKED,
        blank=True,
        help_text="Whether the follow-up task is still looking for the pieces (a waiting page keeps following), has "
        "looked (``pieces`` is final, empty when none were found), or never will (a box marked, none looked for).",
    )
    encoder_version = models.ForeignKey(EncoderVersion, null=True, blank=True, on_delete=models.SET_NULL)
    index_version = models.ForeignKey(IndexVersion, null=True, blank=True, on_delete=models.SET_NULL)
    worker = models.CharField(max_length=200, blank=True, help_text="The Celery worker of the last attempt.")
    created_at = models.DateTimeField(auto_now_add=True)
    # The database's clock, never a worker's: the reaper compares these with the database's now.
    queued_at = models.DateTimeField(db_default=Now(), help_text="When it was last sent to a worker.")
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["status", "queued_at"]), models.Index(fields=["status", "started_at"])]
        permissions = [("draw_inspirationupload", "Can draw what the model sees of an upload")]

    def __str__(self) -> str:
        return f"upload {self.id} ({self.status})"

    def get_absolute_url(self) -> str:
        from django.urls import reverse

        return reverse("recommender:upload_detail", kwargs={"upload_id": self.id})

    @property
    def pieces_pending(self) -> bool:
        """Answered, and its pieces still being looked for: a page showing the answer waits for them."""
        return self.status == self.Status.DONE and self.pieces_status == self.PiecesStatus.LOOKING


class RecommendationFeedback(models.Model):
    """A shopper's answer to one recommendation ("good match" / "not this"): social data for retraining.
    One answer per session, source (a product, or an upload) and recommended product in a context; a new
    answer replaces the old one. The session key is stored hashed, as for co-views."""

    class Context(models.TextChoices):
        SIMILAR = "similar"
        GOES_WITH = "goes_with", "goes with"
        UPLOAD = "upload"

    class Verdict(models.TextChoices):
        GOOD = "good", "good match"
        BAD = "bad", "not this"

    session_hash = models.CharField(max_length=64)
    source = models.ForeignKey(Product, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    recommended = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="feedback")
    context = models.CharField(max_length=16, choices=Context.choices)
    upload = models.ForeignKey(InspirationUpload, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    verdict = models.CharField(max_length=8, choices=Verdict.choices)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "recommendation feedback"
        verbose_name_plural = "recommendation feedback"
        ordering = ["-updated_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["session_hash", "source", "recommended", "context"],
                condition=Q(source__isnull=False),
                name="one_feedback_per_session_pair",
            ),
            models.UniqueConstraint(
                fields=["session_hash", "upload", "recommended"],
                condition=Q(upload__isnull=False),
                name="one_feedback_per_session_upload",
            ),
            models.CheckConstraint(
                condition=Q(source__isnull=False) | Q(upload__isnull=False), name="feedback_has_a_source"
            ),
        ]
        indexes = [models.Index(fields=["context", "verdict"])]

    def __str__(self) -> str:
        return f"{self.source_id or self.upload_id} → {self.recommended_id} ({self.context}): {self.verdict}"


class RetrainRun(models.Model):
    """One run of the retraining pipeline: train → evaluate → promote or not → encode → index → activate."""

    class Status(models.TextChoices):
        RUNNING = "running"
        PROMOTED = "promoted"
        KEPT = "kept", "kept the live version"
        REINDEXED = "reindexed", "rebuilt the index"
        FAILED = "failed"

    status = models.CharField(max_length=16, choices=Status.choices, default=Status.RUNNING)
    trigger = models.CharField(max_length=32, default="schedule", help_text="schedule, staff, command or reconcile")
    candidate = models.ForeignKey(EncoderVersion, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    live_before = models.ForeignKey(EncoderVersion, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    index_version = models.ForeignKey(IndexVersion, null=True, blank=True, on_delete=models.SET_NULL)
    reason = models.TextField(blank=True)
    comparison = models.JSONField(
        default=dict,
        blank=True,
        help_text="The gate's comparison per figure: both versions' figures and intervals, and the difference's.",
    )
    timings = models.JSONField(default=dict, blank=True, help_text="seconds per stage")
    stage = models.CharField(max_length=32, blank=True, help_text="The stage running now (empty once finished).")
    progress = models.JSONField(default=dict, blank=True, help_text="The running stage's progress: done, total.")
    error = models.TextField(blank=True)
    started_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-started_at"]
        permissions = [("start_retrainrun", "Can start a retrain")]

    def __str__(self) -> str:
        return f"retrain {self.started_at:%Y-%m-%d %H:%M} ({self.status})"


class JobLock(models.Model):
    """A lease-style lock in the database: held until released or until ``expires_at``, so a worker that
    crashed while holding it blocks others only until the lease runs out."""

    name = models.CharField(max_length=64, unique=True)
    owner = models.CharField(max_length=200)
    expires_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.name} held by {self.owner} until {self.expires_at:%H:%M:%S}"
