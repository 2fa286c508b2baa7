from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import F, Q
from django.db.models.functions import Greatest, Least
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
    """An unordered pair of products seen together, of one kind; stored with ``product_a < product_b``.

    The kinds mean different things: products *viewed together* in one browsing session are mostly alternatives
    to each other, while products *used together* in one room, set or order are complements. Only the second
    feeds "goes well with"."""

    class Kind(models.TextChoices):
        VIEWED = "viewed", "viewed together"
        USED = "used", "used together"

    product_a = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="+")
    product_b = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=8, choices=Kind.choices, default=Kind.VIEWED)
    count = models.PositiveIntegerField(default=0)
    last_seen = models.DateTimeField()

    class Meta:
        verbose_name = "co-view pair"
        constraints = [
            models.UniqueConstraint(fields=["product_a", "product_b", "kind"], name="coview_unique_pair_per_kind"),
            models.CheckConstraint(condition=Q(product_a__lt=F("product_b")), name="coview_ordered_pair"),
        ]
        indexes = [
            models.Index(fields=["kind", "-count"]),
            # a product's strongest pairs, read in order and no further than needed (catalog.selectors)
            models.Index(fields=["product_a", "kind", "-count", "product_b"], name="coview_strongest_as_a"),
            models.Index(fields=["product_b", "kind", "-count", "product_a"], name="coview_strongest_as_b"),
        ]

    def __str__(self) -> str:
        return f"{self.product_a_id} + {self.product_b_id} {self.get_kind_display()} ×{self.count}"


class UsedTogetherGroup(models.Model):
    """One imported room, set or order whose products were used together (its key stored hashed), so that
    importing the same file again counts none of its pairs twice."""

    key_hash = models.CharField(max_length=64, unique=True)
    imported_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"group {self.key_hash[:12]} imported {self.imported_at:%Y-%m-%d %H:%M}"


class ComplementCuration(models.Model):
    """Staff's word on one pair of products under "Goes well with", both ways: a pin shows the pair first, an
    exclusion never shows it. Both override what the data says and what the model learned, and both feed
    training (a pin as a strong used-together pair; an exclusion is removed from the positive pairs)."""

    class Action(models.TextChoices):
        PIN = "pin", "pin: show first"
        EXCLUDE = "exclude", "exclude: never show"

    product = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="complement_curations")
    other = models.ForeignKey(
        Product, on_delete=models.CASCADE, related_name="complement_curations_of", verbose_name="goes with"
    )
    action = models.CharField(max_length=8, choices=Action.choices)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "curated “goes with” pair"
        ordering = ["created_at", "pk"]
        constraints = [
            # one word per pair, whichever product it was given on
            models.UniqueConstraint(
                Least("product", "other"),
                Greatest("product", "other"),
                name="complement_curation_one_per_pair",
                violation_error_message="These two products are already pinned or excluded as a pair.",
            ),
            models.CheckConstraint(
                condition=~Q(product=F("other")),
                name="complement_curation_two_products",
                violation_error_message="A product cannot go with itself.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.product_id} {self.action} {self.other_id}"

    def clean(self) -> None:
        # The constraints say the same, but a form that sets ``product`` itself (the inline on the product's page)
        # leaves constraints on it unchecked: checked here, so staff get a message rather than an error page.
        if self.product_id is None or self.other_id is None:
            return
        if self.product_id == self.other_id:
            raise ValidationError({"other": "A product cannot go with itself."})
        same_pair = Q(product_id=self.product_id, other_id=self.other_id) | Q(
            product_id=self.other_id, other_id=self.product_id
        )
        if ComplementCuration.objects.filter(same_pair).exclude(pk=self.pk).exists():
            raise ValidationError({"other": "These two products are already pinned or excluded as a pair."})


class CategoryComplementExclusion(models.Model):
    """Two categories whose products never go together, either way (a dining chair and a microwave): no product
    of one is ever shown under "Goes well with" of a product of the other, and no such pair trains the model."""

    category = models.ForeignKey(Category, on_delete=models.CASCADE, related_name="+")
    excluded = models.ForeignKey(Category, on_delete=models.CASCADE, related_name="+", verbose_name="never goes with")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "categories that never go together"
        verbose_name_plural = "categories that never go together"
        constraints = [
            models.UniqueConstraint(
                Least("category", "excluded"),
                Greatest("category", "excluded"),
                name="category_exclusion_one_per_pair",
                violation_error_message="These two categories are already excluded as a pair.",
            ),
            models.CheckConstraint(
                condition=~Q(category=F("excluded")),
                name="category_exclusion_two_categories",
                violation_error_message="A category is never shown with itself already; choose another one.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.category_id} never with {self.excluded_id}"
