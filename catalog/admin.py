from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.db import transaction
from django.db.models import Count
from django.urls import reverse
from django.utils.html import format_html, format_html_join

from catalog.colours import lab_hex
from catalog.images import validate_image_file
from catalog.models import Category, CategoryComplementExclusion, ComplementCuration, CoView, Product
from catalog.prices import format_price
from catalog.services.curation import category_exclusion_save, category_exclusions_delete, complement_curate
from catalog.services.products import product_save, products_set_active
from config.upload_handlers import upload_too_large


def thumbnail_tag(product: Product, size: int = 64) -> str:
    image = product.thumbnail or product.image
    if not image:
        return "—"
    return format_html(
        '<img src="{}" alt="{}" style="width:{}px;height:{}px;object-fit:contain;background:#fff">',
        image.url,
        product.name,
        size,
        size,
    )


@admin.register(Category)
class CategoryAdmin(admin.ModelAdmin):
    list_display = ["name", "display_name", "slug", "product_count"]
    list_editable = ["display_name"]
    search_fields = ["name", "display_name"]
    fields = ["name", "display_name", "slug"]
    prepopulated_fields = {"slug": ["name"]}

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(product_count=Count("products"))

    @admin.display(ordering="product_count", description="products")
    def product_count(self, category: Category) -> int:
        return category.product_count


class ProductAdminForm(forms.ModelForm):
    # A plain file field: our own check (catalog.images) gives every message about the photo.
    image = forms.FileField(widget=forms.ClearableFileInput(attrs={"accept": "image/jpeg,image/png,image/webp"}))

    class Meta:
        model = Product
        fields = [
            "sku",
            "name",
            "slug",
            "category",
            "type",
            "description",
            "color",
            "size",
            "price",
            "price_is_demo",
            "image",
            "is_active",
        ]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "slug" in self.fields:  # a view-only staff member's form has no fields
            self.fields["slug"].required = False
            self.fields["slug"].help_text = "Left empty, it is made from the name and sku."
        self.image_data: bytes | None = None
        self.photo_too_large = False  # set by ProductAdmin when the photo was cut off while it streamed in

    def clean(self):
        cleaned = super().clean()
        if "price" in self.changed_data and "price_is_demo" not in self.changed_data:
            cleaned["price_is_demo"] = False  # a price staff typed is a real one
        return cleaned

    def clean_image(self):
        image = self.cleaned_data.get("image")
        if self.photo_too_large:
            limit = settings.IMAGE_MAX_BYTES // (1024 * 1024)
            raise forms.ValidationError(f"The image is larger than {limit} MB. Please choose a smaller file.")
        if "image" in self.changed_data and image:
            self.image_data, _ = validate_image_file(image)
        return image


class ComplementCurationInline(admin.TabularInline):
    """Pin or exclude products under this product's "Goes well with" (the pair, both ways). Shown on the change
    page only: a product is curated once it exists. Staff need the curation's own add/change/delete permissions
    (and to change the product); a view-only member sees the rows and changes nothing."""

    model = ComplementCuration
    fk_name = "product"
    fields = ["other", "action", "created_at"]
    readonly_fields = ["created_at"]
    autocomplete_fields = ["other"]
    extra = 1
    verbose_name = "curated “goes well with” product"
    verbose_name_plural = "“Goes well with”, curated by staff: pins show first, exclusions never show"


@admin.register(Product)
class ProductAdmin(admin.ModelAdmin):
    form = ProductAdminForm
    list_display = ["list_thumbnail", "sku", "name", "category", "shown_price", "is_active"]
    list_display_links = ["list_thumbnail", "sku", "name"]
    list_filter = ["category", "is_active", "price_is_demo"]
    list_select_related = ["category"]
    search_fields = ["sku", "name", "type"]
    readonly_fields = ["image_preview", "main_colours", "created_at", "updated_at", "curated_on_other_products"]
    fieldsets = [
        (None, {"fields": ["sku", "name", "slug", "category", "type", "price", "price_is_demo", "is_active"]}),
        ("Details", {"fields": ["description", "color", "size"]}),
        ("Photo", {"fields": ["image", "image_preview", "main_colours"]}),
        ("History", {"fields": ["created_at", "updated_at"], "classes": ["collapse"]}),
        ("“Goes well with”, curated on other products' pages", {"fields": ["curated_on_other_products"]}),
    ]
    inlines = [ComplementCurationInline]
    actions = ["activate", "deactivate"]
    list_per_page = 50

    def get_inline_instances(self, request, obj=None):
        return super().get_inline_instances(request, obj) if obj is not None else []

    def get_fieldsets(self, request, obj=None):
        fieldsets = super().get_fieldsets(request, obj)
        if obj is None:  # nothing is curated on a product that does not exist yet
            fieldsets = [
                (name, options) for name, options in fieldsets if "curated_on_other_products" not in options["fields"]
            ]
        return fieldsets

    @admin.display(description="pairs")
    def curated_on_other_products(self, product: Product) -> str:
        """A pair curated on the other product's page holds both ways; shown here so staff see every word on
        this product's "Goes well with"."""
        rows = list(product.complement_curations_of.select_related("product").order_by("created_at", "pk")[:100])
        if not rows:
            return "None."
        return format_html(
            "<ul>{}</ul>",
            format_html_join(
                "",
                '<li>{} <a href="{}">{}</a></li>',
                (
                    (
                        curation.get_action_display(),
                        reverse("admin:catalog_product_change", args=[curation.product_id]),
                        curation.product,
                    )
                    for curation in rows
                ),
            ),
        )

    @admin.display(description="photo")
    def list_thumbnail(self, product: Product) -> str:
        return thumbnail_tag(product)

    @admin.display(description="price", ordering="price")
    def shown_price(self, product: Product) -> str:
        if product.price is None:
            return "—"
        return f"{format_price(product.price)} (demo price)" if product.price_is_demo else format_price(product.price)

    @admin.display(description="main colours")
    def main_colours(self, product: Product) -> str:
        """What "same colour" compares: the picture's main colours, largest share first."""
        if not product.colours:
            return "— (computed on save, or by manage.py product_features --missing)"
        return format_html_join(
            " ",
            '<span title="L {} a {} b {}" style="display:inline-flex;align-items:center;gap:.3rem">'
            '<span style="width:1rem;height:1rem;border:1px solid #888;background:{}"></span>{} %</span>',
            ((L, a, b, lab_hex([L, a, b]), round(share * 100)) for L, a, b, share in product.colours),
        )

    @admin.display(description="preview")
    def image_preview(self, product: Product) -> str:
        if not product.image:
            return "—"
        return format_html(
            '<img src="{}" alt="{}" style="max-width:480px;max-height:480px;background:#fff">',
            product.image.url,
            product.name,
        )

    def get_form(self, request, obj=None, change=False, **kwargs):
        form_class = super().get_form(request, obj, change, **kwargs)
        too_large = request.method == "POST" and request.FILES is not None and upload_too_large(request)

        class Form(form_class):
            def __init__(self, *args, **form_kwargs):
                super().__init__(*args, **form_kwargs)
                self.photo_too_large = too_large
                if too_large and "image" in self.fields:
                    self.fields["image"].required = False  # the error below says what is wrong, not "required"

        return Form

    def save_model(self, request, obj: Product, form: ProductAdminForm, change: bool) -> None:
        product_save(
            product=obj, image_data=form.image_data, image_name=getattr(form.cleaned_data["image"], "name", "")
        )

    @admin.action(description="Activate selected products", permissions=["change"])
    def activate(self, request, queryset):
        changed = products_set_active(product_ids=queryset.values_list("pk", flat=True), is_active=True)
        self.message_user(request, f"Activated {changed} product(s).", messages.SUCCESS)

    @admin.action(description="Deactivate selected products", permissions=["change"])
    def deactivate(self, request, queryset):
        changed = products_set_active(product_ids=queryset.values_list("pk", flat=True), is_active=False)
        self.message_user(request, f"Deactivated {changed} product(s).", messages.SUCCESS)


@admin.register(CoView)
class CoViewAdmin(admin.ModelAdmin):
    """Read-only: the strongest pairs of products viewed together or used together. Staff may pin or exclude
    pairs from here (it takes the permissions to add and change curated pairs)."""

    list_display = ["first_thumbnail", "product_a", "second_thumbnail", "product_b", "kind", "count", "last_seen"]
    list_filter = ["kind"]
    list_select_related = ["product_a", "product_b"]
    search_fields = ["product_a__name", "product_a__sku", "product_b__name", "product_b__sku"]
    ordering = ["-count", "-last_seen"]
    list_per_page = 50
    actions = ["pin_pairs", "exclude_pairs"]

    @admin.display(description="")
    def first_thumbnail(self, pair: CoView) -> str:
        return thumbnail_tag(pair.product_a, 48)

    @admin.display(description="")
    def second_thumbnail(self, pair: CoView) -> str:
        return thumbnail_tag(pair.product_b, 48)

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def has_curate_permission(self, request) -> bool:
        return request.user.has_perms(["catalog.add_complementcuration", "catalog.change_complementcuration"])

    def _curate(self, request, queryset, action: str) -> None:
        pairs = list(queryset.select_related("product_a", "product_b")[: self.list_per_page + 1])
        if len(pairs) > self.list_per_page:
            self.message_user(
                request, f"Select at most {self.list_per_page} pairs at a time; nothing was changed.", messages.ERROR
            )
            return
        with transaction.atomic():  # all of them or none
            for pair in pairs:
                complement_curate(product=pair.product_a, other=pair.product_b, action=action)
        label = ComplementCuration.Action(action).label
        self.message_user(request, f"{len(pairs)} pair(s) now {label}.", messages.SUCCESS)

    @admin.action(description="Pin selected pairs under “Goes well with”", permissions=["curate"])
    def pin_pairs(self, request, queryset):
        self._curate(request, queryset, ComplementCuration.Action.PIN)

    @admin.action(description="Exclude selected pairs from “Goes well with”", permissions=["curate"])
    def exclude_pairs(self, request, queryset):
        self._curate(request, queryset, ComplementCuration.Action.EXCLUDE)


@admin.register(ComplementCuration)
class ComplementCurationAdmin(admin.ModelAdmin):
    """Every pinned and excluded pair; also curated inline on each product's page."""

    list_display = ["product", "action", "other", "created_at"]
    list_filter = ["action"]
    list_select_related = ["product", "other"]
    search_fields = ["product__name", "product__sku", "other__name", "other__sku"]
    autocomplete_fields = ["product", "other"]
    fields = ["product", "other", "action"]
    list_per_page = 50


@admin.register(CategoryComplementExclusion)
class CategoryComplementExclusionAdmin(admin.ModelAdmin):
    """Categories whose products never go together, either way (a dining chair and an oven)."""

    list_display = ["category", "excluded", "created_at"]
    list_select_related = ["category", "excluded"]
    search_fields = ["category__name", "category__display_name", "excluded__name", "excluded__display_name"]
    autocomplete_fields = ["category", "excluded"]
    fields = ["category", "excluded"]

    def save_model(self, request, obj: CategoryComplementExclusion, form, change: bool) -> None:
        category_exclusion_save(exclusion=obj)

    def delete_model(self, request, obj: CategoryComplementExclusion) -> None:
        category_exclusions_delete(exclusion_ids=[obj.pk])

    def delete_queryset(self, request, queryset) -> None:
        category_exclusions_delete(exclusion_ids=list(queryset.values_list("pk", flat=True)))
