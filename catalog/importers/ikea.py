"""The IKEA interior-design dataset: ``catalog.json`` and ``rooms.json`` (see shared/data/README.md)."""

import json
from pathlib import Path

from catalog.importers.records import BadRow, GroupRecord, ProductRecord


def _load_json_list(path: Path) -> list:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ValueError(f"{path}: cannot read JSON ({error})") from error
    if not isinstance(data, list):
        raise ValueError(f"{path}: expected a JSON list")
    return data


def read_ikea_catalog(folder: Path) -> list[ProductRecord | BadRow]:
    records: list[ProductRecord | BadRow] = []
    for number, item in enumerate(_load_json_list(folder / "catalog.json"), start=1):
        line = f"catalog.json item {number}"
        if not isinstance(item, dict):
            records.append(BadRow(line, "not a JSON object"))
            continue
        image = str(item.get("image") or "")
        image_path = (folder / image).resolve()
        if not image:
            records.append(BadRow(line, "no image"))
            continue
        if not image_path.is_relative_to(folder.resolve()):
            records.append(BadRow(line, f"image path {image!r} leaves the catalog folder"))
            continue
        records.append(
            ProductRecord(
                line=line,
                sku=str(item.get("sku") or "").strip(),
                name=str(item.get("name") or "").strip(),
                category=str(item.get("category") or "").strip(),
                type=str(item.get("type") or "").strip(),
                description=str(item.get("description") or "").strip(),
                color=str(item.get("color") or "").strip(),
                size=str(item.get("size") or "").strip(),
                price=str(item.get("price") or "").strip(),
                image_name=image_path.name,
                read_image=image_path.read_bytes,
            )
        )
    return records


def read_ikea_rooms(path: Path, *, split: str | None = None) -> tuple[list[GroupRecord | BadRow], int]:
    """Each room is one group of products used together. Returns the groups and how many rooms the split filter
    left out. The group key is the one rooms had when they were imported as browsing sessions, so importing
    them again finds and moves those (see ``used_together_record``)."""
    groups: list[GroupRecord | BadRow] = []
    left_out = 0
    for number, room in enumerate(_load_json_list(path), start=1):
        line = f"{path.name} room {number}"
        if not isinstance(room, dict) or not isinstance(room.get("items"), list) or not room.get("room"):
            groups.append(BadRow(line, "expected an object with 'room' and a list of 'items'"))
            continue
        if split and room.get("split") != split:
            left_out += 1
            continue
        items = [(line, str(sku)) for sku in room["items"]]
        groups.append(GroupRecord(line=line, group_key=f"ikea-room:{room['room']}", items=items))
    return groups, left_out
