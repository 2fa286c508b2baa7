"""What an encoder is trained and measured on, read from the catalog in the database and the configured files.

No torch here: these are plain lists of paths, categories and pairs.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings

from catalog.models import CoView, Product
from catalog.selectors import category_exclusion_pairs, curated_pairs
from encoders.queries import Catalog, QuerySet, load_query_set


@dataclass(frozen=True)
class TrainingData:
    product_ids: list[int]
    catalog: Catalog
    coview_pairs: list[tuple[int, int, int]]  # indices into product_ids: used together, for the goes-with head
    backgrounds: list[Path]
    scene_photos: list[tuple[Path, list[int]]]  # a TRAIN room photo and the indices of its products


def _product_image_path(product: Product) -> Path:
    return Path(product.image.path)


def training_rooms() -> list[tuple[Path, list[str]]]:
    """TRAIN room photos and their skus, from ``ENCODER_BACKGROUNDS`` (a rooms.json); a folder of photos gives
    backgrounds with no products. Used as in-the-wild backgrounds and to train the scene head."""
    source = Path(settings.ENCODER_BACKGROUNDS) if settings.ENCODER_BACKGROUNDS else None
    if source is None or not source.exists():
        return []
    if source.is_dir():
        return [
            (path, []) for path in sorted(source.iterdir()) if path.suffix.lower() in {".jpg", ".jpeg", ".png", ".webp"}
        ]
    split = settings.ENCODER_BACKGROUNDS_SPLIT
    return [
        (source.parent / room["photo"], [str(sku) for sku in room.get("items", [])])
        for room in json.loads(source.read_text())
        if room.get("photo") and (not split or room.get("split") == split) and (source.parent / room["photo"]).is_file()
    ]


def training_data(*, extra_pairs: Sequence[tuple[int, int, int]] = ()) -> TrainingData:
    """The active catalog and the pairs that train "goes with", in a stable order (by product id).

    The pairs are those used together (rooms, sets, orders; viewed-together pairs are alternatives, mostly,
    and never train "goes with"), plus ``extra_pairs`` (product id, product id, count) from elsewhere (shoppers'
    "good match" answers), plus staff pins, each as strong as the strongest pair; staff exclusions, and pairs
    of categories staff said never go together, are left out (a pin wins over its categories' exclusion, as it
    does on the page). Pairs with an inactive or unknown product are left out. The catalog carries the pairs used
    together as they are (``Catalog.used_together``): what the room answer ranks "everything in this room" with."""
    products = list(Product.objects.filter(is_active=True).select_related("category").order_by("pk"))
    if len(products) < 2:
        raise ValueError("the catalog needs at least two active products to train an encoder")
    index = {product.pk: i for i, product in enumerate(products)}
    counts: dict[tuple[int, int], int] = {}
    coviews = list(
        CoView.objects.filter(kind=CoView.Kind.USED, product_a__is_active=True, product_b__is_active=True)
        .order_by("product_a_id", "product_b_id")
        .values_list("product_a_id", "product_b_id", "count")
    )

    def index_pair(a: int, b: int) -> tuple[int, int] | None:
        """Two active products' ids as their indices, lower first; None for another product or one with itself."""
        if a not in index or b not in index or a == b:
            return None
        return min(index[a], index[b]), max(index[a], index[b])

    used_together = frozenset(pair for a, b, _ in coviews if (pair := index_pair(a, b)))
    for a, b, count in [*coviews, *extra_pairs]:
        if pair := index_pair(a, b):
            counts[pair] = counts.get(pair, 0) + count
    pinned, excluded = curated_pairs()
    never_together = category_exclusion_pairs(cached=False)
    for a, b in excluded:
        if a in index and b in index:
            counts.pop((min(index[a], index[b]), max(index[a], index[b])), None)
    for pair in list(counts):
        categories = sorted((products[pair[0]].category_id, products[pair[1]].category_id))
        if tuple(categories) in never_together:
            del counts[pair]
    pin_count = max(counts.values(), default=1)
    for a, b in pinned:
        if a in index and b in index:
            pair = (min(index[a], index[b]), max(index[a], index[b]))
            counts[pair] = max(counts.get(pair, 0), pin_count)
    pairs = [(a, b, count) for (a, b), count in sorted(counts.items())]
    rooms = training_rooms()
    sku_index = {product.sku: i for i, product in enumerate(products)}
    return TrainingData(
        product_ids=[product.pk for product in products],
        catalog=Catalog(
            images=[_product_image_path(product) for product in products],
            categories=[product.category.name for product in products],
            skus=[product.sku for product in products],
            product_ids=[product.pk for product in products],
            used_together=used_together,
        ),
        coview_pairs=pairs,
        backgrounds=[photo for photo, _ in rooms],
        scene_photos=[
            (photo, indices)
            for photo, skus in rooms
            if (indices := sorted({sku_index[sku] for sku in skus if sku in sku_index}))
        ],
    )


def evaluation_query_set() -> QuerySet | None:
    """The configured dev queries, or None where they are not on this machine."""
    queries, rooms = Path(settings.EVALUATION_QUERIES or "-"), Path(settings.EVALUATION_ROOMS or "-")
    if not (queries / "accept.json").is_file() or not rooms.is_file():
        return None
    return load_query_set(queries=queries, rooms=rooms, split=settings.EVALUATION_SPLIT or None)
