"""Sweet Home 3D furniture libraries (``.sh3f``): zip files whose ``PluginFurnitureCatalog.properties``
names each item's id, name, category, icon and creator. Only packs under an open licence are imported, and of
those only furniture: the categories of a home's rooms and its lights, and of them only pieces at least
``MIN_FURNITURE_CM`` on some side (a sofa, a desk lamp; not a fork, a phone or a hot dog)."""

import re
import zipfile
from pathlib import Path

from django.utils.text import slugify

from catalog.importers.records import BadRow, LeftOut, ProductRecord

CATALOG_FILE = "PluginFurnitureCatalog.properties"
OPEN_LICENCES = ("public domain", "cc-0", "cc0", "creative commons")
# Kept: furniture, by the libraries' own category names. Left out: Characters (people and animals), Vehicles,
# Miscellaneous (phones, plugs, tools), Exterior (trees, parking slots), Doors and windows, Staircases.
FURNITURE_CATEGORIES = ("Living room", "Bedroom", "Kitchen", "Bathroom", "Office", "Lights")
MIN_FURNITURE_CM = 30.0
_ESCAPES = {"t": "\t", "n": "\n", "r": "\r", "f": "\f"}


def _unescape(text: str) -> str:
    def replace(match: re.Match) -> str:
        escaped = match.group(1)
        if escaped.startswith("u"):
            return chr(int(escaped[1:], 16))
        return _ESCAPES.get(escaped, escaped)

    return re.sub(r"\\(u[0-9a-fA-F]{4}|.)", replace, text)


def parse_properties(text: str) -> dict[str, str]:
    """Java ``.properties``: comments, continuation lines, ``key=value`` / ``key: value``, escapes."""
    properties: dict[str, str] = {}
    logical = ""
    for raw in text.splitlines():
        line = raw.lstrip()
        if not logical and (not line or line[0] in "#!"):
            continue
        trailing = len(line) - len(line.rstrip("\\"))
        if trailing % 2 == 1:
            logical += line[:-1]
            continue
        logical += line
        match = re.match(r"((?:\\.|[^=:\s\\])*)\s*[=:\s]?\s*(.*)", logical, re.DOTALL)
        if match:
            properties[_unescape(match.group(1))] = _unescape(match.group(2))
        logical = ""
    return properties


def licence_is_open(licence: str) -> bool:
    return any(word in licence.lower() for word in OPEN_LICENCES)


def clean_sku(item_id: str) -> str:
    """An article number from the library's internal id: "Scopia#simple_sofa" → "SCOPIA-SIMPLE-SOFA". The same
    id always gives the same sku, so a second import updates the products of the first."""
    return slugify(re.sub(r"[#_\s]+", "-", item_id)).upper()[:64]


def _size_cm(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        return 0.0


def not_furniture(item: dict[str, str]) -> str:
    """Why an item is not imported as furniture; empty if it is."""
    category = item.get("category", "")
    if category not in FURNITURE_CATEGORIES:
        return f"not furniture: category {category!r}"
    largest = max(_size_cm(item.get(side, "")) for side in ("width", "depth", "height"))
    if 0 < largest < MIN_FURNITURE_CM:  # an item without sizes is judged by its category alone
        return f"not furniture: {largest:g} cm at most, an accessory"
    return ""


def _pack_records(path: Path) -> list[ProductRecord | BadRow | LeftOut]:
    try:
        with zipfile.ZipFile(path) as archive:
            properties = parse_properties(archive.read(CATALOG_FILE).decode("latin-1"))
            members = set(archive.namelist())
    except (OSError, zipfile.BadZipFile, KeyError) as error:
        return [BadRow(path.name, f"not a Sweet Home 3D furniture library ({error})")]
    licence = properties.get("license", "")
    if not licence_is_open(licence):
        return [BadRow(path.name, f"skipped the whole pack: licence {licence or 'not stated'!r} is not CC-0 or CC-BY")]

    def reader(member: str):
        def read() -> bytes:
            with zipfile.ZipFile(path) as archive:
                return archive.read(member)

        return read

    records: list[ProductRecord | BadRow | LeftOut] = []
    numbers = sorted(int(key.split("#")[1]) for key in properties if re.fullmatch(r"id#\d+", key))
    for number in numbers:
        item = {key.split("#")[0]: value for key, value in properties.items() if key.endswith(f"#{number}")}
        line = f"{path.name} item {number}"
        left_out = not_furniture(item)
        if left_out:
            records.append(LeftOut(line, left_out))
            continue
        icon = item.get("icon", "").lstrip("/")
        if icon not in members:
            records.append(BadRow(line, f"icon {icon!r} is not in the archive"))
            continue
        dimensions = [item.get(k, "") for k in ("width", "depth", "height")]
        size = " × ".join(dimensions) + " cm" if all(dimensions) else ""
        creator = item.get("creator", "")
        records.append(
            ProductRecord(
                line=line,
                sku=clean_sku(item.get("id", "")),
                name=item.get("name", ""),
                category=item.get("category", ""),
                description=f"3D model by {creator}, {licence}." if creator else f"{licence}.",
                size=size,
                image_name=Path(icon).name,
                read_image=reader(icon),
            )
        )
    return records


def read_sweethome3d(path: Path) -> list[ProductRecord | BadRow | LeftOut]:
    """``path`` is one ``.sh3f`` file or a folder of them."""
    packs = sorted(path.glob("*.sh3f")) if path.is_dir() else [path]
    records: list[ProductRecord | BadRow | LeftOut] = []
    for pack in packs:
        records.extend(_pack_records(pack))
    return records
