"""Writing products: every path that creates or changes a product (admin, imports) comes through here."""

from collections.abc import Iterable
from decimal import Decimal
from pathlib import PurePath

from django.conf import settings
from django.core.files.base import ContentFile
from django.db import transaction
from django.utils.text import slugify

from catalog.category_names import default_display_name
from catalog.images import thumbnail_jpeg, validate_image_bytes
from catalog.models import Category, Product
from catalog.services.features import product_features_compute
from catalog.signals import notify_product_changed
from catalog.variants import variant_key


def category_get_or_create(*, name: str) -> Category:
    name = " ".join(name.split())
    category = Category.objects.filter(name__iexact=name).first()
    if category:
        return category
    slug = slugify(name) or "category"
    base, n = slug, 2
    while Category.objects.filter(slug=slug).exists():
        slug, n = f"{base}-{n}", n + 1
    return Category.objects.create(name=name, slug=slug, display_name=default_display_name(name))


def product_slug(*, name: str, sku: str) -> str:
    return slugify(f"{name}-{sku}")[:255] or slugify(sku) or "product"


def _delete_files(names: Iterable[str]) -> None:
    storage = Product._meta.get_field("image").storage
    for name in names:
        if name:
            storage.delete(name)


@transaction.atomic
def product_save(*, product: Product, image_data: bytes | None = None, image_name: str = "") -> Product:
    """Save ``product``. With ``image_data`` (already validated bytes) the image and its thumbnail are
    replaced, with the picture's content hash and main colours. Files written here are removed again if the
    database write fails, and the old files are removed only once the new ones are committed, so nothing is left
    half-saved."""
    if not product.slug:
        product.slug = product_slug(name=product.name, sku=product.sku)
    product.variant_key = variant_key(name=product.name, type=product.type)
    written: list[str] = []
    replaced: list[str] = []
    try:
        if image_data is not None:
            if product.pk:
                replaced = list(Product.objects.filter(pk=product.pk).values_list("image", "thumbnail").first() or [])
            stem = slugify(PurePath(image_name).stem)[:60] or slugify(product.sku) or "image"
            extension = validate_image_bytes(image_data).extension
            product.image.save(f"{stem}.{extension}", ContentFile(image_data), save=False)
            written.append(product.image.name)
            product.thumbnail.save(
                f"{stem}.jpg", ContentFile(thumbnail_jpeg(image_data, size=settings.THUMBNAIL_SIZE)), save=False
            )
            written.append(product.thumbnail.name)
            product_features_compute(product=product, image_data=image_data)
        product.full_clean()
        product.save()
    except BaseException:
        _delete_files(written)
        raise
    transaction.on_commit(lambda: _delete_files(name for name in replaced if name not in written))
    notify_product_changed(product_id=product.pk)
    return product


def product_create(
    *,
    sku: str,
    name: str,
    category: Category,
    image_data: bytes,
    image_name: str = "",
    type: str = "",
    description: str = "",
    color: str = "",
    size: str = "",
    price: Decimal | None = None,
    is_active: bool = True,
) -> Product:
    product = Product(
        sku=sku,
        name=name,
        category=category,
        type=type,
        description=description,
        color=color,
        size=size,
        price=price,
        is_active=is_active,
    )
    return product_save(product=product, image_data=image_data, image_name=image_name)


@transaction.atomic
def products_set_active(*, product_ids: Iterable[int], is_active: bool) -> int:
    """Activate or deactivate products; returns how many changed."""
    ids = list(
        Product.objects.filter(pk__in=list(product_ids)).exclude(is_active=is_active).values_list("pk", flat=True)
    )
    Product.objects.filter(pk__in=ids).update(is_active=is_active)
    for product_id in ids:
        notify_product_changed(product_id=product_id)
    return len(ids)
