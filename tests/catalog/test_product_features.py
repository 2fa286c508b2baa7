"""The features computed from a product's picture and name: on save, on import, and backfilled by a command."""

import io

import pytest
from django.core.files.base import ContentFile
from django.core.management import call_command

from catalog.colours import delta_e, main_colour
from catalog.models import Product
from catalog.services.products import product_create
from catalog.variants import variant_key
from tests.catalog.factories import CategoryFactory, ProductFactory
from tests.images import image_bytes

pytestmark = pytest.mark.django_db

RED_LAB = [41.0, 61.0, 42.0]  # about sRGB (190, 25, 30)


def red_product(**fields) -> Product:
    """A product saved the way products were before features existed: no colours, no variant key."""
    return ProductFactory(image=ContentFile(image_bytes(color="#be191e", size=(200, 160)), name="red.jpg"), **fields)


def test_saving_a_product_computes_its_colours_and_variant_key():
    product = product_create(
        sku="1",
        name="KLIPPAN",
        type="Two-seat sofa",
        category=CategoryFactory(),
        image_data=image_bytes(color="#be191e", size=(200, 160)),
    )

    product.refresh_from_db()
    assert delta_e(main_colour(product.colours), RED_LAB) < 8
    assert product.variant_key == variant_key(name="KLIPPAN", type="Two-seat sofa")


def test_the_backfill_command_fills_missing_hash_key_and_colours():
    products = [red_product(name=f"EKTORP {n}") for n in range(3)]
    assert all(p.colours is None and p.variant_key == "" and p.image_sha256 == "" for p in products)

    out = io.StringIO()
    call_command("product_features", "--missing", "--batch", "2", stdout=out, verbosity=0)

    for product in products:
        product.refresh_from_db()
        assert delta_e(main_colour(product.colours), RED_LAB) < 8
        assert product.variant_key == variant_key(name=product.name, type=product.type)
        assert len(product.image_sha256) == 64
    assert "Computed the features of 3 product(s), 0 failed" in out.getvalue()


def test_the_backfill_with_missing_leaves_computed_products_alone():
    done = red_product(name="DONE", colours=[[10.0, 0.0, 0.0, 1.0]], variant_key="k", image_sha256="h")
    missing = red_product(name="MISSING")

    call_command("product_features", "--missing", stdout=io.StringIO(), verbosity=0)

    done.refresh_from_db()
    missing.refresh_from_db()
    assert done.colours == [[10.0, 0.0, 0.0, 1.0]] and done.variant_key == "k"
    assert missing.colours is not None


def test_the_backfill_reports_a_product_whose_image_is_gone_and_goes_on():
    gone, kept = red_product(name="GONE"), red_product(name="KEPT")
    gone.image.storage.delete(gone.image.name)

    out = io.StringIO()
    call_command("product_features", "--missing", stdout=out, verbosity=0)

    gone.refresh_from_db()
    kept.refresh_from_db()
    assert gone.colours is None and kept.colours is not None
    assert f"skipped {gone.sku}" in out.getvalue()
    assert "1 product(s), 1 failed" in out.getvalue()


def test_reimporting_an_unchanged_catalog_fills_missing_features(tmp_path):
    from catalog.importers.csv_files import read_csv_catalog
    from catalog.services.imports import catalog_import

    (tmp_path / "sofa.jpg").write_bytes(image_bytes(color="#be191e", size=(200, 160)))
    (tmp_path / "catalog.csv").write_text("sku,name,category,price,description,image\nS1,EKTORP,Sofa,,,sofa.jpg\n")
    catalog_import(records=read_csv_catalog(tmp_path / "catalog.csv"))
    Product.objects.update(colours=None, variant_key="")  # as if imported before features existed

    summary = catalog_import(records=read_csv_catalog(tmp_path / "catalog.csv"))

    product = Product.objects.get(sku="S1")
    assert summary.unchanged == 1
    assert delta_e(main_colour(product.colours), RED_LAB) < 8 and product.variant_key


def test_staff_see_a_products_main_colours_in_admin(admin_client):
    product = product_create(
        sku="1", name="KLIPPAN", category=CategoryFactory(), image_data=image_bytes(color="#be191e", size=(200, 160))
    )

    response = admin_client.get(f"/admin/catalog/product/{product.pk}/change/")

    html = response.content.decode()
    assert "Main colours" in html
    assert "background:#" in html.split("Main colours", 1)[1]
