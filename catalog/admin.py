from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.db.models import Count
from django.utils.html import format_html, format_html_join

from catalog.colours import lab_hex
from catalog.images import validate_image_file
from catalog.models import Category, CoView, Product
from catalog.prices import format_price
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


@admin.register(Product)
class ProductAdmin(admin.ModelAdmin):
    form = ProductAdminForm
    list_display = ["list_thumbnail", "sku", "name", "category", "shown_price", "is_active"]
    list_display_links = ["list_thumbnail", "sku", "name"]
    list_filter = ["category", "is_active", "price_is_demo"]
    list_select_related = ["category"]
    search_fields = ["sku", "name", "type"]
    readonly_fields = ["image_preview", "main_colours", "created_at", "updated_at"]
    fieldsets = [
        (None, {"fields": ["sku", "name", "slug", "category", "type", "price", "price_is_demo", "is_active"]}),
        ("Details", {"fields": ["description", "color", "size"]}),
        ("Photo", {"fields": ["image", "image_preview", "main_colours"]}),
        ("History", {"fields": ["created_at", "updated_at"], "classes": ["collapse"]}),
    ]
    actions = ["activate", "deactivate"]
    list_per_page = 50

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
                if too_large:
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
    """Read-only: the strongest pairs of products viewed together."""

    list_display = ["first_thumbnail", "product_a", "second_thumbnail", "product_b", "count", "last_seen"]
    list_select_related = ["product_a", "product_b"]
    search_fields = ["product_a__name", "product_a__sku", "product_b__name", "product_b__sku"]
    ordering = ["-count", "-last_seen"]
    list_per_page = 50

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
