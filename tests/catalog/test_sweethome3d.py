"""The newcomer's demo catalog (Sweet Home 3D libraries): furniture only, clean article numbers, no doubled labels."""

import zipfile
from io import StringIO

import pytest
from django.core.management import call_command
from pytest_django.asserts import assertContains, assertNotContains

from catalog.importers.sweethome3d import clean_sku, not_furniture
from catalog.models import Product
from tests.images import image_bytes

pytestmark = pytest.mark.django_db

# (id, name, category, largest side in cm)
ITEMS = [
    ("Scopia#simple_sofa", "Sofa", "Living room", 180),
    ("Scopia#desk_lamp", "Desk lamp", "Lights", 45),
    ("Scopia#fork", "Fork", "Kitchen", 18),
    ("Scopia#phone", "Mobile phone", "Miscellaneous", 15),
    ("Scopia#bus", "City bus", "Vehicles", 1200),
    ("Scopia#girl", "Girl", "Characters", 120),
    ("Scopia#door", "Door", "Doors and windows", 210),
]


def make_pack(path, items=ITEMS):
    lines = ["name=Scopia", "license=Creative Commons Attribution 3.0 Unported license", ""]
    with zipfile.ZipFile(path, "w") as archive:
        for n, (item_id, name, category, largest) in enumerate(items, start=1):
            icon = f"/scopia/{n}.png"
            archive.writestr(icon.lstrip("/"), image_bytes(size=(128, 128), format="PNG"))
            lines += [
                f"id#{n}={item_id}",
                f"name#{n}={name}",
                f"category#{n}={category}",
                f"icon#{n}={icon}",
                f"creator#{n}=eTeks",
                f"width#{n}={largest}",
                f"depth#{n}={largest / 2}",
                f"height#{n}={largest / 3}",
            ]
        archive.writestr("PluginFurnitureCatalog.properties", "\n".join(lines))


def run_import(path) -> str:
    out = StringIO()
    call_command("import_catalog", str(path), verbosity=0, stdout=out)
    return out.getvalue()


@pytest.mark.parametrize(
    "item_id, sku",
    [
        ("Scopia#simple_sofa", "SCOPIA-SIMPLE-SOFA"),
        ("Blend Swap CC-0#mofx_mailbox", "BLEND-SWAP-CC-0-MOFX-MAILBOX"),
        ("eTeks#bed140x190", "ETEKS-BED140X190"),
    ],
)
def test_internal_ids_become_clean_article_numbers(item_id, sku):
    assert clean_sku(item_id) == sku


def test_only_furniture_is_kept(tmp_path):
    make_pack(tmp_path / "Scopia.sh3f")

    output = run_import(tmp_path)

    assert sorted(Product.objects.values_list("sku", flat=True)) == ["SCOPIA-DESK-LAMP", "SCOPIA-SIMPLE-SOFA"]
    assert "Created 2, updated 0, unchanged 0, skipped 0, left out 5 that are not furniture" in output


@pytest.mark.parametrize(
    "category, largest, kept",
    [("Bedroom", 200, True), ("Office", 0, True), ("Kitchen", 10, False), ("Exterior", 200, False)],
)
def test_what_counts_as_furniture(category, largest, kept):
    item = {"category": category, "width": str(largest) if largest else ""}

    assert (not_furniture(item) == "") is kept


def test_a_second_import_changes_nothing(tmp_path):
    make_pack(tmp_path / "Scopia.sh3f")
    run_import(tmp_path)

    assert "Created 0, updated 0, unchanged 2" in run_import(tmp_path)


def test_cards_and_pages_show_each_label_once_and_a_clean_article_number(client, tmp_path):
    make_pack(tmp_path / "Scopia.sh3f")
    run_import(tmp_path)
    sofa = Product.objects.get(sku="SCOPIA-SIMPLE-SOFA")

    listing = client.get("/products/")
    page = client.get(sofa.get_absolute_url())

    assertContains(listing, '<span class="meta">Living room</span>', html=True)
    assertNotContains(listing, "Sofa · Sofa")
    assertContains(page, "<dt>Article</dt><dd>SCOPIA-SIMPLE-SOFA</dd>", html=True)
    assertNotContains(page, "Scopia#")
    assertNotContains(page, " · Sofa")
