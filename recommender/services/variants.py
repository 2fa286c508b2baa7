"""One card per group of variants (see ``catalog.variants``): the best-ranked product of the group stands for it,
and the card lists the others as its options. Both steps are bounded: grouping works on the candidates a search
has already read, and the options are read with a fixed number of queries, at most MAX_OPTIONS per card."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from django.db import connection

from catalog.models import Product

MAX_OPTIONS = 3  # options named on one card; the card says how many more there are


@dataclass(frozen=True)
class Variants:
    """The other colours and sizes of a card's product: ``options`` (at most MAX_OPTIONS) out of ``total``."""

    options: list[Product] = field(default_factory=list)
    total: int = 0

    @property
    def more(self) -> int:
        return max(self.total - len(self.options), 0)


def distinct_variants(
    ranked: list[tuple[int, float]], keys: dict[int, tuple[str, str]], *, shown: tuple[str, str] = ("", "")
) -> list[tuple[int, float]]:
    """``ranked`` (best first) with only the first product of each group of variants. ``keys`` holds each product's
    (picture hash, variant key); empty keys group nothing. A product left out joins its group with both its keys,
    so a chain (same picture as one, same name and type as another) stays one group. Variants of ``shown`` (the
    keys of the product a page is about) are all left out."""
    seen_pictures = {shown[0]} - {""}
    seen_names = {shown[1]} - {""}
    kept = []
    for product_id, score in ranked:
        picture, name = keys.get(product_id, ("", ""))
        is_variant = (picture and picture in seen_pictures) or (name and name in seen_names)
        if picture:
            seen_pictures.add(picture)
        if name:
            seen_names.add(name)
        if not is_variant:
            kept.append((product_id, score))
    return kept


GROUP_FIELDS = ("id", "sku", "name", "slug", "color", "size", "image", "thumbnail", "image_sha256", "variant_key")


def _group_members(field_name: str, values: set[str]) -> dict[str, tuple[list[Product], int]]:
    """For each value of ``field_name``: its first MAX_OPTIONS + 1 active products (by name, then sku) and how many
    there are. One query through the field's index, returning at most (MAX_OPTIONS + 1) rows per value; the database
    reads the members of the groups shown (a product family's colours and sizes), never the rest of the catalog.
    Written in SQL: every answer and product page runs it twice, and the ORM took longer to build this window
    query than the database took to run it (README, "Serving")."""
    if not values:
        return {}
    meta = Product._meta
    column = connection.ops.quote_name(meta.get_field(field_name).column)
    columns = ", ".join(connection.ops.quote_name(meta.get_field(name).column) for name in GROUP_FIELDS)
    marks = ", ".join(["%s"] * len(values))
    rows = Product.objects.raw(
        f"SELECT * FROM (SELECT {columns}, "
        f"ROW_NUMBER() OVER (PARTITION BY {column} ORDER BY {connection.ops.quote_name('name')}, "
        f"{connection.ops.quote_name('sku')}) AS position, COUNT(*) OVER (PARTITION BY {column}) AS members "
        f"FROM {connection.ops.quote_name(meta.db_table)} WHERE {column} IN ({marks}) "
        f"AND {connection.ops.quote_name('is_active')}) AS ranked WHERE position <= %s",
        [*sorted(values), MAX_OPTIONS + 1],
    )
    groups: dict[str, tuple[list[Product], int]] = defaultdict(lambda: ([], 0))
    for product in rows:
        members, _ = groups[getattr(product, field_name)]
        members.append(product)
        groups[getattr(product, field_name)] = (members, product.members)
    return groups


def with_variants(items: list[tuple[Product, float]]) -> list[tuple[Product, float]]:
    """One card per group of variants in ``items`` (an answer stored before grouping may hold several), each
    product given ``.variants``: its other colours and sizes. Two queries whatever the number of cards."""
    kept = distinct_variants(
        [(index, score) for index, (_, score) in enumerate(items)],
        {index: (product.image_sha256, product.variant_key) for index, (product, _) in enumerate(items)},
    )
    items = [(items[index][0], score) for index, score in kept]
    variants_attach([product for product, _ in items])
    return items


def variants_attach(products: list[Product]) -> None:
    """Give each of ``products`` ``.variants``: its other colours and sizes (none are left out, unlike
    ``with_variants``). Two queries whatever the number of products."""
    by_picture = _group_members("image_sha256", {p.image_sha256 for p in products if p.image_sha256})
    by_name = _group_members("variant_key", {p.variant_key for p in products if p.variant_key})
    for product in products:
        same_picture, pictures = by_picture.get(product.image_sha256, ([], 0)) if product.image_sha256 else ([], 0)
        same_name, names = by_name.get(product.variant_key, ([], 0)) if product.variant_key else ([], 0)
        others = {m.pk: m for m in [*same_name, *same_picture] if m.pk != product.pk}
        options = sorted(others.values(), key=lambda m: (m.name, m.sku))
        total = max(len(options), pictures - 1, names - 1)
        product.variants = Variants(options=options[:MAX_OPTIONS], total=total)
