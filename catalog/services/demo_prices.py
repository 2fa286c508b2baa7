"""Made-up prices for the IKEA demo catalog, whose source has none: without them no price filter could ever
match. Each is marked ``price_is_demo`` and shown as "demo price"; a real price from a later import replaces it.

Deterministic: a product's price depends only on its sku and category, so every run gives the same prices."""

import hashlib
from decimal import ROUND_FLOOR, Decimal

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from catalog.models import Product

# A plausible range per IKEA category (in the shop's currency): a price is drawn log-uniformly inside it.
DEMO_PRICE_RANGES = {
    "sofa": (299, 1999),
    "armchair": (99, 699),
    "chair": (29, 249),
    "stool_bench": (19, 199),
    "table": (49, 899),
    "desk": (79, 499),
    "bed": (149, 1299),
    "wardrobe_cabinet": (99, 1199),
    "drawers": (79, 599),
    "shelving": (29, 399),
    "lamp": (9, 199),
    "rug": (19, 399),
    "textile": (4, 79),
    "decor": (2, 59),
    "kitchenware": (1, 49),
    "storage_box": (3, 39),
    "fixture_appliance": (9, 899),
    "children": (9, 199),
    "other": (4, 99),
}


def demo_price(*, sku: str, category: str) -> Decimal | None:
    """A shop-like price for ``sku`` in the IKEA ``category``: 4.99, 49, 149, 1,299; None for other categories."""
    if category not in DEMO_PRICE_RANGES:
        return None
    low, high = DEMO_PRICE_RANGES[category]
    share = int.from_bytes(hashlib.sha256(sku.encode()).digest()[:8], "big") / 2**64
    amount = low * (high / low) ** share
    if amount < 20:
        return Decimal(int(amount)) + Decimal("0.99")
    step = 100 if amount >= 1000 else 10
    rounded = (Decimal(amount) / step).quantize(Decimal(1), rounding=ROUND_FLOOR) * step
    return max(rounded, Decimal(step)) - 1


@transaction.atomic
def demo_prices_apply() -> int:
    """Give every product of an IKEA category that has no price (or a demo price) its demo price; returns how
    many changed. Prices are not part of any vector, so nothing is re-encoded."""
    products = (
        Product.objects.select_for_update(of=("self",))
        .filter(category__name__in=list(DEMO_PRICE_RANGES))
        .filter(Q(price__isnull=True) | Q(price_is_demo=True))
        .select_related("category")
    )
    now = timezone.now()
    changed = []
    for product in products:
        price = demo_price(sku=product.sku, category=product.category.name)
        if product.price != price or not product.price_is_demo:
            product.price, product.price_is_demo, product.updated_at = price, True, now
            changed.append(product)
    Product.objects.bulk_update(changed, ["price", "price_is_demo", "updated_at"], batch_size=500)
    return len(changed)
