"""CSV catalogs (``sku,name,category,price,description,image``) and co-view files, whose columns say their
kind: browsing sessions (``session_id,sku[,viewed_at]``: viewed together) or orders (``order_id,sku``: used
together)."""

import csv
from datetime import UTC, datetime
from pathlib import Path

from django.utils import timezone
from django.utils.dateparse import parse_datetime

from catalog.importers.records import BadRow, GroupRecord, ProductRecord, SessionRecord

CATALOG_COLUMNS = ["sku", "name", "category", "price", "description", "image"]
SESSION_COLUMNS = ["session_id", "sku"]  # and, optionally, viewed_at
ORDER_COLUMNS = ["order_id", "sku"]
COVIEW_FORMATS = (
    "session_id,sku[,viewed_at] (browsing sessions: viewed together) or order_id,sku (orders: used together)"
)


def _open(path: Path):
    try:
        return path.open(newline="", encoding="utf-8-sig")
    except OSError as error:
        raise ValueError(f"{path}: cannot open ({error})") from error


def _header(path: Path) -> list[str]:
    with _open(path) as handle:
        try:
            return [column.strip() for column in next(csv.reader(handle), [])]
        except (csv.Error, UnicodeDecodeError) as error:
            raise ValueError(f"{path} line 1: {error}") from error


def _rows(path: Path, required: list[str]):
    with _open(path) as handle:
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


def read_csv_coviews(path: Path) -> tuple[str, list[SessionRecord | GroupRecord | BadRow]]:
    """A co-view CSV of either kind, told apart by its columns (a file holds one kind): ("orders", groups used
    together) or ("sessions", sessions viewed together)."""
    columns = _header(path)
    if "session_id" in columns and "order_id" in columns:
        raise ValueError(f"{path}: has both session_id and order_id; a file holds one kind: {COVIEW_FORMATS}")
    if "order_id" in columns:
        return "orders", read_csv_orders(path)
    if "session_id" in columns:
        return "sessions", read_csv_sessions(path)
    found = ",".join(columns) if any(columns) else "none"
    raise ValueError(f"{path}: expected the columns {COVIEW_FORMATS}; found {found}")


def read_csv_sessions(path: Path) -> list[SessionRecord | BadRow]:
    """Browsing sessions: the products of a session were viewed together. With ``viewed_at``, views are paired
    within the co-view window, view by view; without it, a session is imported once, as a whole."""
    timed = "viewed_at" in _header(path)
    by_session: dict[str, list[tuple[str, str, datetime | None]]] = {}
    first_line: dict[str, str] = {}
    bad: list[SessionRecord | BadRow] = []
    for line, row in _rows(path, SESSION_COLUMNS):
        session_id = (row.get("session_id") or "").strip()
        sku = (row.get("sku") or "").strip()
        viewed_at = _parse_time(row.get("viewed_at") or "") if timed else None
        if not session_id or not sku:
            bad.append(BadRow(line, "session_id and sku are required"))
        elif timed and viewed_at is None:
            bad.append(BadRow(line, f"viewed_at {row.get('viewed_at')!r} is not an ISO 8601 date and time"))
        else:
            first_line.setdefault(session_id, line)
            by_session.setdefault(session_id, []).append((line, sku, viewed_at))
    sessions: list[SessionRecord | BadRow] = [
        SessionRecord(
            line=first_line[key],
            session_key=f"csv:{key}",
            views=sorted(views, key=lambda v: v[2]) if timed else views,
        )
        for key, views in by_session.items()
    ]
    return bad + sessions


def read_csv_orders(path: Path) -> list[GroupRecord | BadRow]:
    """Orders: the products of one order were used together. Order ids name an order across files, so a file
    imported again (or a later export that repeats orders) counts each order once."""
    by_order: dict[str, list[tuple[str, str]]] = {}
    first_line: dict[str, str] = {}
    bad: list[GroupRecord | BadRow] = []
    for line, row in _rows(path, ORDER_COLUMNS):
        order_id = (row.get("order_id") or "").strip()
        sku = (row.get("sku") or "").strip()
        if not order_id or not sku:
            bad.append(BadRow(line, "order_id and sku are required"))
            continue
        first_line.setdefault(order_id, line)
        by_order.setdefault(order_id, []).append((line, sku))
    groups: list[GroupRecord | BadRow] = [
        GroupRecord(line=first_line[key], group_key=f"csv-order:{key}", items=items) for key, items in by_order.items()
    ]
    return bad + groups
