"""Importing catalogs and co-view logs. Each product and each session is written in its own transaction:
a bad row is reported with its line and the import goes on; nothing is ever half-imported."""

import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

from django.core.exceptions import ValidationError
from django.db import connection, transaction

from catalog.images import validate_image_bytes
from catalog.importers.records import BadRow, GroupRecord, LeftOut, ProductRecord, SessionRecord
from catalog.models import CoView, Product, ProductView
from catalog.services.coviews import coview_record, session_hashes, used_together_record
from catalog.services.features import FEATURE_FIELDS, product_features_compute
from catalog.services.products import category_get_or_create, product_save

Progress = Callable[[Iterable], Iterable]
TEXT_FIELDS = ("name", "type", "description", "color", "size")


@dataclass
class ImportSummary:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    left_out: int = 0  # items not imported on purpose (e.g. not furniture)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (line, reason)

    def skip(self, line: str, reason: str) -> None:
        self.skipped.append((line, reason))


def _error_text(error: ValidationError) -> str:
    if hasattr(error, "message_dict"):
        return "; ".join(f"{name}: {' '.join(messages)}" for name, messages in error.message_dict.items())
    return " ".join(error.messages)


def _parse_price(text: str) -> Decimal | None:
    if not text:
        return None
    try:
        price = Decimal(text)
    except InvalidOperation:
        raise ValidationError(f"price {text!r} is not a number")
    if price < 0 or not price.is_finite():
        raise ValidationError(f"price {text!r} must be a number of zero or more")
    return price


def _product_upsert(record: ProductRecord) -> str:
    """Create or update one product from a record; returns "created", "updated" or "unchanged"."""
    for name in ("sku", "name", "category"):
        if not getattr(record, name):
            raise ValidationError(f"{name} is empty")
    price = _parse_price(record.price)
    try:
        image_data = record.read_image()
    except (OSError, KeyError) as error:
        raise ValidationError(f"cannot read image {record.image_name!r} ({error})")
    validate_image_bytes(image_data)
    image_sha256 = hashlib.sha256(image_data).hexdigest()
    with transaction.atomic():
        category = category_get_or_create(name=record.category)
        product = Product.objects.select_for_update().filter(sku=record.sku).first()
        values = {name: getattr(record, name) for name in TEXT_FIELDS}
        values.update(category_id=category.pk, price=price, price_is_demo=False)
        if price is None and product is not None and product.price_is_demo:
            # a source without prices keeps the demo prices given after the last import (scripts/demo.sh)
            values.update(price=product.price, price_is_demo=True)
        if product is None:
            product_save(product=Product(sku=record.sku, **values), image_data=image_data, image_name=record.image_name)
            return "created"
        changed = {name for name, value in values.items() if getattr(product, name) != value}
        image_changed = product.image_sha256 != image_sha256
        if not changed and not image_changed:
            if product.colours is None or not product.variant_key:  # imported before these were computed
                product_features_compute(product=product, image_data=image_data)
                product.save(update_fields=FEATURE_FIELDS)
            return "unchanged"
        for name in changed:
            setattr(product, name, values[name])
        product_save(
            product=product,
            image_data=image_data if image_changed else None,
            image_name=record.image_name,
        )
        return "updated"


def catalog_import(*, records: list[ProductRecord | BadRow | LeftOut], progress: Progress = iter) -> ImportSummary:
    summary = ImportSummary()
    seen: set[str] = set()
    for record in progress(records):
        if isinstance(record, LeftOut):
            summary.left_out += 1
            continue
        if isinstance(record, BadRow):
            summary.skip(record.line, record.reason)
            continue
        if record.sku in seen:
            summary.skip(record.line, f"sku {record.sku} appears earlier in the same file")
            continue
        seen.add(record.sku)
        try:
            outcome = _product_upsert(record)
        except ValidationError as error:
            summary.skip(record.line, _error_text(error))
            continue
        setattr(summary, outcome, getattr(summary, outcome) + 1)
    return summary


@dataclass
class CoviewImportSummary:
    sessions: int = 0  # browsing sessions imported: their products were viewed together
    views: int = 0
    groups: int = 0  # rooms, sets or orders imported: their products were used together
    pairs_counted: int = 0
    already_imported: int = 0
    moved_from_viewed: int = 0  # groups once imported as browsing sessions, now counted as used together
    skipped: list[tuple[str, str]] = field(default_factory=list)


@transaction.atomic
def _session_import(session: SessionRecord, products: dict[str, Product], summary: CoviewImportSummary) -> None:
    key_hashes = session_hashes(session.session_key)  # what it was recorded under, now or before
    whole_session = all(viewed_at is None for _, _, viewed_at in session.views)
    if whole_session and ProductView.objects.filter(session_hash__in=key_hashes).exists():
        summary.already_imported += 1
        return
    recorded = existing = 0
    seen_together: set[str] = set()
    for line, sku, viewed_at in session.views:
        product = products.get(sku)
        if product is None:
            summary.skipped.append((line, f"unknown sku {sku}"))
            continue
        if whole_session and sku in seen_together:
            continue
        seen_together.add(sku)
        if (
            viewed_at is not None
            and ProductView.objects.filter(session_hash__in=key_hashes, product=product, viewed_at=viewed_at).exists()
        ):
            existing += 1
            continue
        summary.pairs_counted += len(
            coview_record(session_key=session.session_key, product=product, viewed_at=viewed_at)
        )
        recorded += 1
    if recorded:
        summary.sessions += 1
        summary.views += recorded
    elif existing:
        summary.already_imported += 1


def _group_import(group: GroupRecord, products: dict[str, Product], summary: CoviewImportSummary) -> None:
    known = []
    for line, sku in group.items:
        product = products.get(sku)
        if product is None:
            summary.skipped.append((line, f"unknown sku {sku}"))
        else:
            known.append(product)
    if len({product.pk for product in known}) < 2:
        return  # nothing to pair yet: left unrecorded, so an import after the catalog grows counts the group
    try:
        recorded = used_together_record(group_key=group.group_key, products=known)
    except ValueError as error:
        summary.skipped.append((group.line, str(error)))
        return
    if recorded.already_recorded:
        summary.already_imported += 1
        return
    summary.groups += 1
    summary.pairs_counted += recorded.pairs
    summary.moved_from_viewed += int(recorded.moved_from_viewed)


def coview_import(
    *, records: list[SessionRecord | GroupRecord | BadRow], progress: Progress = iter
) -> CoviewImportSummary:
    """Import browsing sessions (viewed together) and rooms, sets or orders (used together); each session or
    group in its own transaction."""
    summary = CoviewImportSummary()
    skus = {sku for r in records if isinstance(r, SessionRecord) for _, sku, _ in r.views}
    skus |= {sku for r in records if isinstance(r, GroupRecord) for _, sku in r.items}
    products = Product.objects.in_bulk(list(skus), field_name="sku")
    for record in progress(records):
        if isinstance(record, BadRow):
            summary.skipped.append((record.line, record.reason))
        elif isinstance(record, GroupRecord):
            _group_import(record, products, summary)
        else:
            _session_import(record, products, summary)
    if summary.pairs_counted:
        planner_statistics_refresh(CoView)
    return summary


def planner_statistics_refresh(model) -> None:
    """Refresh the database's statistics of ``model``'s table after a bulk import, as PostgreSQL advises after
    populating a table: where autovacuum is off, or has not come round yet, the planner still believes the table
    as it was, and reads the pairs of a room's lookalikes (``catalog.selectors.used_together_among``) by scanning
    every pair of their kind instead of looking up those products' pairs."""
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {connection.ops.quote_name(model._meta.db_table)}")
