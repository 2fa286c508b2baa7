"""Variants: products that are the same thing in another colour or size. Two products are variants of each other
when they share a picture (the same image bytes, ``image_sha256``) or the same name and type (``variant_key``).
Shoppers see one card per group, with the others as its options."""

from __future__ import annotations

import hashlib
import re


def variant_key(*, name: str, type: str) -> str:
    """The key shared by every product of one name and type, whatever the case or spacing: a fixed-length hash,
    so that an index on it stays small. Empty when the product has no name."""
    name = " ".join(name.split()).casefold()
    if not name:
        return ""
    kind = " ".join(type.split()).casefold()
    return hashlib.sha1(f"{name}\x1f{kind}".encode()).hexdigest()


def variant_label(*, color: str, size: str, name: str, sku: str) -> str:
    """How an option is named on a card: its colour and size where the catalog has them, else its name."""
    parts = [re.sub(r"\s*,\s*", ", ", part.strip()) for part in (color, size) if part and part.strip()]
    return " · ".join(parts) if parts else f"{name} ({sku})"
