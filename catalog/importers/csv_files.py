"""CSV catalogs (``sku,name,category,price,description,image``) and view logs (``session_id,sku,viewed_at``)."""

import csv
from datetime import UTC, datetime
from pathlib import Path

from django.utils import timezone
from django.utils.dateparse import parse_datetime

from catalog.importers.records import BadRow, ProductRecord, SessionRecord

CATALOG_COLUMNS = ["sku", "name", "category", "price", "description", "image"]
VIEW_COLUMNS = ["session_id", "sku", "viewed_at"]


def _rows(path: Path, required: list[str]):
    try:
        handle = path.open(newline="", encoding="utf-8-sig")
    except OSError as error:
        raise ValueError(f"{path}: cannot open ({error})") from error
    with handle:
        reader = csv.DictReader(handle)
        missing = [column for column in required if column not in (reader.fieldnames or [])]
        if missing:
            raise ValueError(f"{path}: missing column(s) {', '.join(missing)}; expected {','.join(required)}")
        try:
            for row in reader:
                yield f"{path.name} line {reader.line_num}", row
        except (csv.Error, UnicodeDecodeError) as error:
            raise ValueError(f"{path} line {reader.line_num}: {error}") from error


def read_csv_catalog(path: Path) -> list[ProductRecord | BadRow]:
    folder = path.parent.resolve()
    records: list[ProductRecord | BadRow] = []
    for line, row in _rows(path, CATALOG_COLUMNS):
        image = (row.get("image") or "").strip()
        if not image:
            records.append(BadRow(line, "no image"))
            continue
        image_path = (folder / image).resolve()
        if not image_path.is_relative_to(folder):
            records.append(BadRow(line, f"image path {image!r} leaves the CSV's folder"))
            continue
        records.append(
            ProductRecord(
                line=line,
                sku=(row.get("sku") or "").strip(),
                name=(row.get("name") or "").strip(),
                category=(row.get("category") or "").strip(),
                price=(row.get("price") or "").strip(),
                description=(row.get("description") or "").strip(),
                image_name=image_path.name,
                read_image=image_path.read_bytes,
            )
        )
    return records


def _parse_time(value: str) -> datetime | None:
    parsed = parse_datetime(value.strip())
    if parsed is not None and timezone.is_naive(parsed):
        parsed = timezone.make_aware(parsed, UTC)
    return parsed


def read_csv_views(path: Path) -> list[SessionRecord | BadRow]:
    by_session: dict[str, list[tuple[str, str, datetime | None]]] = {}
    first_line: dict[str, str] = {}
    bad: list[SessionRecord | BadRow] = []
    for line, row in _rows(path, VIEW_COLUMNS):
        session_id = (row.get("session_id") or "").strip()
        sku = (row.get("sku") or "").strip()
        viewed_at = _parse_time(row.get("viewed_at") or "")
        if not session_id or not sku:
            bad.append(BadRow(line, "session_id and sku are required"))
        elif viewed_at is None:
            bad.append(BadRow(line, f"viewed_at {row.get('viewed_at')!r} is not an ISO 8601 date and time"))
        else:
            first_line.setdefault(session_id, line)
            by_session.setdefault(session_id, []).append((line, sku, viewed_at))
    sessions: list[SessionRecord | BadRow] = [
        SessionRecord(line=first_line[key], session_key=f"csv:{key}", views=sorted(views, key=lambda v: v[2]))
        for key, views in by_session.items()
    ]
    return bad + sessions
