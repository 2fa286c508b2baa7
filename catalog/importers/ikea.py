"""The IKEA interior-design dataset: ``catalog.json`` and ``rooms.json`` (see shared/data/README.md)."""

import json
from pathlib import Path

from catalog.importers.records import BadRow, ProductRecord, SessionRecord


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


def read_ikea_rooms(path: Path, *, split: str | None = None) -> tuple[list[SessionRecord | BadRow], int]:
    """Each room is one browsing session in which all its products were viewed together.
    Returns the sessions and how many rooms the split filter left out."""
    sessions: list[SessionRecord | BadRow] = []
    left_out = 0
    for number, room in enumerate(_load_json_list(path), start=1):
        line = f"{path.name} room {number}"
        if not isinstance(room, dict) or not isinstance(room.get("items"), list) or not room.get("room"):
            sessions.append(BadRow(line, "expected an object with 'room' and a list of 'items'"))
            continue
        if split and room.get("split") != split:
            left_out += 1
            continue
        views = [(line, str(sku), None) for sku in room["items"]]
        sessions.append(SessionRecord(line=line, session_key=f"ikea-room:{room['room']}", views=views))
    return sessions, left_out
