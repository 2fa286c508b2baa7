"""What the results page and the API show of a room answer: the pieces the worker stored on the upload (each a box
on the photo and its own lookalikes) and what goes well with them, read with a fixed number of queries whatever
the number of pieces."""

from __future__ import annotations

from dataclasses import dataclass

from catalog.models import Category, Product
from recommender.models import InspirationUpload
from recommender.services.variants import variants_attach

# A hotspot's centre stays this far inside the photo's edges, so the whole marker is on the photo.
HOTSPOT_MARGIN = 0.08


@dataclass(frozen=True)
class RoomPiece:
    number: int  # from 1, most confident first: what the hotspot and its strip show
    box: tuple[float, float, float, float]  # (x, y, w, h), fractions of the photo
    slug: str
    category: Category | None  # None when the category was deleted since
    confidence: float
    items: list  # [(product, score)], best first, each with ``.variants``

    @property
    def label(self) -> str:
        return self.category.label if self.category is not None else "Piece"

    @property
    def anchor(self) -> str:
        return f"piece-{self.number}"

    @property
    def summary(self) -> str:
        """What the hotspot and the strip say, e.g. "Sofas: 10 lookalikes"."""
        count = len(self.items)
        return f"{self.label}: {count} lookalike{'' if count == 1 else 's'}"

    @property
    def centre(self) -> tuple[float, float]:
        """Where the hotspot sits: the middle of the box, kept HOTSPOT_MARGIN inside the photo."""
        x, y, w, h = self.box
        return (
            min(max(x + w / 2, HOTSPOT_MARGIN), 1 - HOTSPOT_MARGIN),
            min(max(y + h / 2, HOTSPOT_MARGIN), 1 - HOTSPOT_MARGIN),
        )


@dataclass(frozen=True)
class RoomView:
    pieces: list[RoomPiece]
    complements: list  # [(product, score)], best first


def _box(value) -> tuple[float, float, float, float] | None:
    try:
        x, y, w, h = (min(max(float(part), 0.0), 1.0) for part in value)
    except (TypeError, ValueError):
        return None
    return (x, y, w, h)


def _ranked(rows) -> list[tuple[int, float]]:
    """Stored ``[{"product_id", "score"}]`` -> [(id, score)]; rows that are not an id with a number are left out."""
    ranked = []
    for row in rows if isinstance(rows, list) else []:
        if isinstance(row, dict) and isinstance(row.get("product_id"), int):
            score = row.get("score")
            ranked.append((row["product_id"], float(score) if isinstance(score, (int, float)) else 0.0))
    return ranked


def _stored_pieces(upload: InspirationUpload) -> list[tuple[tuple, str, float, list[tuple[int, float]]]]:
    """The done upload's pieces as (box, slug, confidence, ranked ids), rows that cannot be read left out rather
    than breaking the page."""
    if upload.status != InspirationUpload.Status.DONE or not isinstance(upload.pieces, list):
        return []
    pieces = []
    for row in upload.pieces:
        if not isinstance(row, dict):
            continue
        box, slug, confidence = _box(row.get("box")), row.get("category"), row.get("confidence")
        if box is None or not isinstance(slug, str) or not isinstance(confidence, (int, float)):
            continue
        pieces.append((box, slug, float(confidence), _ranked(row.get("results"))))
    return pieces


def room_view(*, upload: InspirationUpload) -> RoomView:
    """The upload's pieces with their products, and its complements. Four queries (categories, products, and the
    products' variants) whatever the number of pieces; none when there are no pieces."""
    stored = _stored_pieces(upload)
    complements = _ranked(upload.complements) if stored else []
    if not stored:
        return RoomView(pieces=[], complements=[])
    slugs = sorted({slug for _, slug, _, _ in stored})
    categories = Category.objects.in_bulk(slugs, field_name="slug")
    ids = {pid for *_, ranked in stored for pid, _ in ranked} | {pid for pid, _ in complements}
    products = Product.objects.select_related("category").in_bulk(ids)
    variants_attach(list(products.values()))
    pieces = [
        RoomPiece(
            number=number,
            box=box,
            slug=slug,
            category=categories.get(slug),
            confidence=confidence,
            items=[(products[pid], score) for pid, score in ranked if pid in products],
        )
        for number, (box, slug, confidence, ranked) in enumerate(stored, start=1)
    ]
    return RoomView(
        pieces=pieces, complements=[(products[pid], score) for pid, score in complements if pid in products]
    )
