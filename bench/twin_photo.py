"""A product photo for a bench's "twin" product: the source's picture re-encoded, so it looks the same to the encoder
but is not the same file. A byte-identical picture would make the twin a variant of its source (one card, see
``catalog.variants``), and a product's own variants are left out of its "similar" list; for the same reason each
twin gets a name of its own (two twins of one source with one name and type would be one card)."""

from __future__ import annotations

from io import BytesIO

from PIL import Image


def twin_photo(data: bytes) -> bytes:
    with Image.open(BytesIO(data)) as image:
        picture = image.convert("RGB")
    buffer = BytesIO()
    picture.save(buffer, format="JPEG", quality=93)
    return buffer.getvalue()
