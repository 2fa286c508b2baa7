import json
import zipfile
from decimal import Decimal

import pytest
from django.core.management import CommandError, call_command

from catalog.models import Product
from tests.images import image_bytes

pytestmark = pytest.mark.django_db


def run_import(path) -> str:
    from io import StringIO

    out = StringIO()
    call_command("import_catalog", str(path), verbosity=0, stdout=out)
    return out.getvalue()


@pytest.fixture
def ikea_folder(tmp_path):
    folder = tmp_path / "ikea"
    (folder / "products").mkdir(parents=True)
    items = []
    for n, (category, color) in enumerate([("sofa", "red"), ("lamp", "yellow"), ("rug", "green")]):
        sku = f"00{n}.000.01"
        (folder / "products" / f"{sku}.jpg").write_bytes(image_bytes(color=color))
        items.append(
            {
                "sku": sku,
                "name": f"ITEM{n}",
                "type": category.title(),
                "category": category,
                "color": color,
                "size": "80 cm",
                "description": "",
                "image": f"products/{sku}.jpg",
            }
        )
    (folder / "catalog.json").write_text(json.dumps(items))
    return folder


def test_ikea_folder_is_imported_with_images(ikea_folder):
    output = run_import(ikea_folder)

    assert "Created 3, updated 0, unchanged 0, skipped 0" in output
    product = Product.objects.get(sku="001.000.01")
    assert (product.name, product.category.name, product.color) == ("ITEM1", "lamp", "yellow")
    assert product.thumbnail


def test_a_second_run_creates_nothing(ikea_folder):
    run_import(ikea_folder)

    output = run_import(ikea_folder)

    assert "Created 0, updated 0, unchanged 3, skipped 0" in output
    assert Product.objects.count() == 3


def test_changed_fields_and_images_update_the_product(ikea_folder):
    run_import(ikea_folder)
    items = json.loads((ikea_folder / "catalog.json").read_text())
    items[0]["name"] = "RENAMED"
    (ikea_folder / "catalog.json").write_text(json.dumps(items))
    (ikea_folder / "products" / "001.000.01.jpg").write_bytes(image_bytes(color="purple"))
    old_hash = Product.objects.get(sku="001.000.01").image_sha256

    output = run_import(ikea_folder)

    assert "Created 0, updated 2, unchanged 1" in output
    assert Product.objects.get(sku="000.000.01").name == "RENAMED"
    assert Product.objects.get(sku="001.000.01").image_sha256 != old_hash


def test_bad_rows_are_reported_with_their_line_and_the_rest_is_imported(ikea_folder):
    items = json.loads((ikea_folder / "catalog.json").read_text())
    (ikea_folder / "products" / "bad.jpg").write_bytes(b"not an image")
    items += [
        {"sku": "9", "name": "BROKEN", "category": "sofa", "image": "products/bad.jpg"},
        {"sku": "10", "name": "", "category": "sofa", "image": "products/000.000.01.jpg"},
        {"sku": "11", "name": "GONE", "category": "sofa", "image": "products/missing.jpg"},
        {"sku": "12", "name": "ESCAPE", "category": "sofa", "image": "../../etc/passwd"},
    ]
    (ikea_folder / "catalog.json").write_text(json.dumps(items))

    output = run_import(ikea_folder)

    assert "Created 3, updated 0, unchanged 0, skipped 4" in output
    assert "catalog.json item 4: The file is not an image" in output
    assert "catalog.json item 5: name is empty" in output
    assert "catalog.json item 6: cannot read image" in output
    assert "catalog.json item 7: image path '../../etc/passwd' leaves the catalog folder" in output
    assert not Product.objects.filter(sku__in=["9", "10", "11", "12"]).exists()


def test_csv_catalog_with_prices_and_relative_images(tmp_path):
    (tmp_path / "img").mkdir()
    (tmp_path / "img" / "a.png").write_bytes(image_bytes(format="PNG"))
    (tmp_path / "catalog.csv").write_text(
        "sku,name,category,price,description,image\n"
        "A1,Oak table,Table,199.50,Solid oak,img/a.png\n"
        "A2,Bad price,Table,cheap,,img/a.png\n"
        "A3,Negative,Table,-5,,img/a.png\n"
    )

    output = run_import(tmp_path / "catalog.csv")

    assert "Created 1, updated 0, unchanged 0, skipped 2" in output
    assert "catalog.csv line 3: price 'cheap' is not a number" in output
    assert "catalog.csv line 4" in output
    assert Product.objects.get(sku="A1").price == Decimal("199.50")


def test_csv_without_the_expected_columns_is_a_clear_error(tmp_path):
    (tmp_path / "catalog.csv").write_text("id,title\n1,x\n")

    with pytest.raises(CommandError, match="missing column"):
        run_import(tmp_path / "catalog.csv")


def make_pack(path, *, licence, items):
    lines = ["id=Test#Pack", "name=Test pack", f"license={licence}", ""]
    with zipfile.ZipFile(path, "w") as archive:
        for n, (name, category) in enumerate(items, start=1):
            icon = f"/pack/{name.lower()}.png"
            archive.writestr(icon.lstrip("/"), image_bytes(format="PNG"))
            lines += [
                f"id#{n}=Test#{name.lower()}",
                f"name#{n}={name}",
                f"category#{n}={category}",
                f"icon#{n}={icon}",
                f"creator#{n}=Someone",
                f"width#{n}=90",
                f"depth#{n}=40",
                f"height#{n}=75",
            ]
        archive.writestr("PluginFurnitureCatalog.properties", "\n".join(lines))


def test_sweet_home_3d_packs_under_an_open_licence_are_imported(tmp_path):
    make_pack(tmp_path / "open.sh3f", licence="Public domain", items=[("Armchair", "Living room"), ("Bed", "Bedroom")])
    make_pack(tmp_path / "closed.sh3f", licence="", items=[("Secret", "Office")])

    output = run_import(tmp_path)

    assert "Created 2" in output
    assert "closed.sh3f: skipped the whole pack" in output
    bed = Product.objects.get(sku="TEST-BED")
    assert (bed.name, bed.category.name, bed.size) == ("Bed", "Bedroom", "90 × 40 × 75 cm")


def test_an_unknown_path_is_a_clear_error(tmp_path):
    (tmp_path / "catalog.txt").write_text("hello")

    with pytest.raises(CommandError, match="not a catalog Lookalike can read"):
        run_import(tmp_path / "catalog.txt")
