from django.db import models
from django.db.models import F, Q
from django.urls import reverse


class Category(models.Model):
    name = models.CharField(max_length=100, unique=True)
    slug = models.SlugField(max_length=100, unique=True)
    display_name = models.CharField(
        max_length=100, blank=True, help_text="What shoppers read (e.g. “Wardrobes & cabinets”); empty: the name."
    )

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "categories"

    def __str__(self) -> str:
        return self.label

    @property
    def label(self) -> str:
        """The name shown on pages; the slug stays in URLs and the API."""
        return self.display_name or self.name


class Product(models.Model):
    sku = models.CharField(max_length=64, unique=True)
    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=255, unique=True)
    category = models.ForeignKey(Category, on_delete=models.PROTECT, related_name="products")
    type = models.CharField(max_length=120, blank=True, help_text="The retailer's own product type.")
    description = models.TextField(blank=True)
    color = models.CharField(max_length=120, blank=True)
    size = models.CharField(max_length=120, blank=True, help_text="Size or dimensions, as shown.")
    price = models.DecimalField(max_digits=10, decimal_places=2, null=True, blank=True)
    price_is_demo = models.BooleanField(
        default=False, help_text="A made-up price for the demo catalog (the source has none); shown as such."
    )
    image = models.ImageField(upload_to="products/")
    image_sha256 = models.CharField(max_length=64, blank=True, editable=False)
    variant_key = models.CharField(
        max_length=40,
        blank=True,
        editable=False,
        help_text="The same for every product of one name and type (its colours and sizes): see catalog/variants.py.",
    )
    colours = models.JSONField(
        null=True,
        blank=True,
        editable=False,
        help_text="The image's main colours, [[L, a, b, share], ...] in CIELAB, largest first; null: not computed.",
    )
    thumbnail = models.ImageField(upload_to="products/thumbs/", blank=True, editable=False)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name", "sku"]
        indexes = [
            models.Index(fields=["category", "is_active"]),
            models.Index(fields=["variant_key", "is_active"], name="product_variant_key_active"),
            models.Index(fields=["image_sha256"], name="product_image_sha256"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(price__isnull=True) | Q(price__gte=0), name="product_price_not_negative")
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.sku})"

    def get_absolute_url(self) -> str:
        return reverse("catalog:product_detail", kwargs={"slug": self.slug})

    @property
    def shown_type(self) -> str:
        """The retailer's type where it adds something: empty when it only repeats the name or the category."""
        kind = self.type.strip()
        repeated = {self.name.strip().casefold(), self.category.name.casefold(), self.category.label.casefold()}
        return "" if kind.casefold() in repeated else kind


class ProductView(models.Model):
    """One product page view in one browsing session (the session key is stored hashed)."""

    session_hash = models.CharField(max_length=64)
    product = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="views")
    viewed_at = models.DateTimeField()

    class Meta:
        indexes = [models.Index(fields=["session_hash", "viewed_at"])]

    def __str__(self) -> str:
        return f"{self.product_id} viewed at {self.viewed_at:%Y-%m-%d %H:%M}"


class CoView(models.Model):
    """An unordered pair of products viewed in the same session; stored with ``product_a < product_b``."""

    product_a = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="+")
    product_b = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="+")
    count = models.PositiveIntegerField(default=0)
    last_seen = models.DateTimeField()

    class Meta:
        verbose_name = "co-view pair"
        constraints = [
            models.UniqueConstraint(fields=["product_a", "product_b"], name="coview_unique_pair"),
            models.CheckConstraint(condition=Q(product_a__lt=F("product_b")), name="coview_ordered_pair"),
        ]
        indexes = [models.Index(fields=["-count"]), models.Index(fields=["product_b"])]

    def __str__(self) -> str:
        return f"{self.product_a_id} + {self.product_b_id} ×{self.count}"
