"""The held-out products: a share of the catalog that a second model never sees, so that its figures say how the
encoder does on products staff add after training ("loo" asks it about products it was trained on, with their
labels). Pure (no torch, no Django): the split and the key of a split; ``TrainingInputs.without`` takes the
held-out products out of what training reads.

The split is by product, stratified by category: within each category the products are ordered by a digest of
(seed, sku) and the first ``round(fraction × n)`` are held out, at most all but one (a category keeps a product
in training, so every category stays in the label set). The order depends on the sku alone, so a product added to
the catalog moves at most one other product of its category across the line: splits of two nights' catalogs
overlap almost wholly.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

HOLDOUT_SEED = 0  # one split for every version, so that two versions are compared on the same held-out products


def _order_key(seed: int, sku: str) -> str:
    return hashlib.sha256(f"{seed}:{sku}".encode()).hexdigest()


def holdout_split(
    *, categories: Sequence[str], skus: Sequence[str], fraction: float, seed: int = HOLDOUT_SEED
) -> list[int]:
    """Catalog indices of the held-out products, ascending: ``fraction`` of each category's products (rounded), a
    category always keeping one product in training. ``fraction`` 0 holds out nothing."""
    if not 0 <= fraction < 1:
        raise ValueError(f"the held-out fraction must be at least 0 and below 1, got {fraction}")
    if len(categories) != len(skus):
        raise ValueError("categories and skus differ in length")
    by_category: dict[str, list[int]] = {}
    for i, category in enumerate(categories):
        by_category.setdefault(category, []).append(i)
    held_out: list[int] = []
    for members in by_category.values():
        quota = min(int(fraction * len(members) + 0.5), len(members) - 1)
        held_out.extend(sorted(members, key=lambda i: _order_key(seed, skus[i]))[:quota])
    return sorted(held_out)


def split_key(*, skus: Sequence[str], held_out: Sequence[int], room_queries: Sequence[Sequence[int]]) -> str:
    """A digest of the held-out queries (the held-out skus, and the skus of the rooms' held-out products in room
    order): two measurements with the same key scored the same queries in the same order, so the gate may pair
    them query by query."""
    payload = repr(([skus[i] for i in held_out], [[skus[i] for i in room] for room in room_queries]))
    return hashlib.sha256(payload.encode()).hexdigest()[:16]
