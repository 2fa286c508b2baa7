from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from catalog.models import Product
from catalog.services.products import category_get_or_create, product_create, product_save, products_set_active
from catalog.signals import product_changed
from tests.catalog.factories import CategoryFactory
from tests.images import image_bytes

pytestmark = pytest.mark.django_db


def stored_files(media_root) -> list[str]:
    return sorted(str(p.relative_to(media_root)) for p in media_root.rglob("*") if p.is_file())


def test_product_create_stores_image_thumbnail_and_hash(isolated_media):
    product = product_create(
        sku="100.200.30",
        name="KLIPPAN",
        category=CategoryFactory(name="Sofa"),
        image_data=image_bytes(size=(600, 400)),
        image_name="klippan.jpg",
        price=Decimal("249.00"),
    )

    assert product.slug == "klippan-10020030"
    assert product.image.name.startswith("products/klippan")
    assert product.thumbnail.width == 256
    assert len(product.image_sha256) == 64
    assert len(stored_files(isolated_media)) == 2


def test_a_failed_save_leaves_no_file_behind(isolated_media):
    category = CategoryFactory()
    product_create(sku="dup", name="First", category=category, image_data=image_bytes())

    with pytest.raises(ValidationError):
        product_create(sku="dup", name="Second", category=category, image_data=image_bytes(color="red"))

    assert Product.objects.count() == 1
    assert len(stored_files(isolated_media)) == 2


def test_replacing_the_image_removes_the_old_files_after_commit(isolated_media, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        product = product_create(sku="a", name="Lamp", category=CategoryFactory(), image_data=image_bytes())
    old = stored_files(isolated_media)

    with django_capture_on_commit_callbacks(execute=True):
        product_save(product=product, image_data=image_bytes(color="red", format="PNG"), image_name="new.png")

    files = stored_files(isolated_media)
    assert len(files) == 2
    assert not set(old) & set(files)


def test_product_changed_is_sent_only_after_commit(django_capture_on_commit_callbacks):
    received = []

    def receiver(sender, product_id, **kwargs):
        received.append(product_id)

    product_changed.connect(receiver)
    try:
        with django_capture_on_commit_callbacks(execute=False) as callbacks:
            product = product_create(sku="x", name="Chair", category=CategoryFactory(), image_data=image_bytes())
        assert received == []
        for callback in callbacks:
            callback()
    finally:
        product_changed.disconnect(receiver)

    assert received == [product.pk]


def test_products_set_active_changes_only_what_differs():
    category = CategoryFactory()
    first = product_create(sku="1", name="A", category=category, image_data=image_bytes())
    second = product_create(sku="2", name="B", category=category, image_data=image_bytes(), is_active=False)

    changed = products_set_active(product_ids=[first.pk, second.pk], is_active=False)

    assert changed == 1
    assert not Product.objects.filter(is_active=True).exists()


def test_category_get_or_create_reuses_names_case_insensitively():
    first = category_get_or_create(name="Armchair")

    assert category_get_or_create(name="  armchair ") == first
    assert category_get_or_create(name="Arm-chair").slug == "arm-chair"
