"""What the results page and the API show of a room answer: the pieces the worker stored on the upload (each a box
on the photo and its own lookalikes) and what goes well with them, read with a fixed number of queries whatever
the number of pieces.

Pieces of one category (four chairs round a table) are shown as one strip, "Chairs · 4 in your photo": their
lookalikes are near-identical, and four strips of them would push everything else down. Every piece keeps its own
hotspot (and its place in the API's ``pieces``); each hotspot of that kind brings the kind's strip forward.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from catalog.models import Category, Product
from encoders.pieces import within_category
from recommender.hotspots import SIZES, place_hotspots, smallest_display
from recommender.models import InspirationUpload
from recommender.services.room_answer import PIECE_RESULTS
from recommender.services.variants import variants_attach

# A hotspot's centre stays this far inside the photo's edges, so the whole marker is on the photo.
HOTSPOT_MARGIN = 0.08


def _lookalikes(items: list) -> str:
    count = len(items)
    return f"{count} lookalike{'' if count == 1 else 's'}"


@dataclass(frozen=True)
class RoomPiece:
    number: int  # from 1, most confident first: what the hotspot and its strip show
    box: tuple[float, float, float, float]  # (x, y, w, h), fractions of the photo
    slug: str
    category: Category | None  # None when the category was deleted since
    confidence: float
    items: list  # [(product, score)], best first, each with ``.variants``: its strip (within its category if sure)
    open_items: list  # [(product, score)] of any category: what a budget falls back on (``items`` when not kept)
    group: int = 0  # the index of its strip among the room's strips (pieces of one category share one)
    kin: tuple[int, int] = (1, 1)  # (its place among the pieces of its category, how many there are)
    strip_anchor: str = ""  # the id of its strip: the first piece of its category's anchor
    spot: tuple[float, float] | None = None  # where its hotspot sits (fractions of the photo), once placed

    @property
    def label(self) -> str:
        return self.category.label if self.category is not None else "Piece"

    @property
    def anchor(self) -> str:
        return f"piece-{self.number}"

    @property
    def within_category(self) -> bool:
        """Sure of its category: its strip and budget stay within it (``room_answer.within_category``)."""
        return within_category(self.confidence)

    @property
    def summary(self) -> str:
        """What the hotspot says, e.g. "Sofas: 10 lookalikes", or "Chairs (2 of 4 in your photo): 10 lookalikes"
        for one of several pieces of a kind (the lookalikes of the kind's strip)."""
        place, count = self.kin
        if count == 1:
            return f"{self.label}: {_lookalikes(self.items)}"
        return f"{self.label} ({place} of {count} in your photo): {_lookalikes(self.items)}"

    @property
    def centre(self) -> tuple[float, float]:
        """Where the hotspot sits: its ``spot`` once placed (``room_hotspots_place``), else the middle of the box,
        kept HOTSPOT_MARGIN inside the photo."""
        if self.spot is not None:
            return self.spot
        x, y, w, h = self.box
        return (
            min(max(x + w / 2, HOTSPOT_MARGIN), 1 - HOTSPOT_MARGIN),
            min(max(y + h / 2, HOTSPOT_MARGIN), 1 - HOTSPOT_MARGIN),
        )


@dataclass(frozen=True)
class RoomStrip:
    """One strip of lookalikes: the pieces of one category, most confident first, and their lookalikes merged (each
    product once, with its best score among the pieces, best first)."""

    pieces: list[RoomPiece]
    items: list  # [(product, score)]

    @property
    def lead(self) -> RoomPiece:
        return self.pieces[0]

    @property
    def label(self) -> str:
        return self.lead.label

    @property
    def anchor(self) -> str:
        return self.lead.anchor

    @property
    def count(self) -> int:
        return len(self.pieces)

    @property
    def title(self) -> str:
        """The strip's heading: "Sofas: 10 lookalikes", or "Chairs · 4 in your photo" for several of a kind."""
        if self.count == 1:
            return self.summary
        return f"{self.label} · {self.count} in your photo"

    @property
    def summary(self) -> str:
        return f"{self.label}: {_lookalikes(self.items)}"


@dataclass(frozen=True)
class RoomView:
    pieces: list[RoomPiece]  # every piece found, most confident first (each has its own hotspot)
    complements: list  # [(product, score)], best first
    strips: list[RoomStrip] = field(default_factory=list)  # one per category, in the order of its first piece
    # [(product, score)]: the pieces' lookalikes as the worker ranked them, or merged by score (everything_with_context)
    everything: list = field(default_factory=list)
    everything_with_context: bool = False  # ranked with what the likely matches were used with, not by score alone

    @property
    def shows_everything(self) -> bool:
        """ "Everything in this room" is shown beside the strips when there are several: over one strip it would
        repeat it."""
        return bool(self.everything) and len(self.strips) > 1

    hotspot_size: int = SIZES[0]  # pixels of every hotspot marker

    @property
    def one_of_each_kind(self) -> tuple[int, ...]:
        """The indexes (from 0) of the first piece of each category: what a budget furnishes unless the shopper
        ticks others (one table and one chair for a room with four chairs)."""
        return tuple(strip.lead.number - 1 for strip in self.strips)


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


def _stored_pieces(upload: InspirationUpload) -> list[tuple[tuple, str, float, list, list | None]]:
    """The done upload's pieces as (box, slug, confidence, ranked ids, open ranked ids or None), rows that cannot be
    read left out rather than breaking the page."""
    if upload.status != InspirationUpload.Status.DONE or not isinstance(upload.pieces, list):
        return []
    pieces = []
    for row in upload.pieces:
        if not isinstance(row, dict):
            continue
        box, slug, confidence = _box(row.get("box")), row.get("category"), row.get("confidence")
        if box is None or not isinstance(slug, str) or not isinstance(confidence, (int, float)):
            continue
        open_ranked = _ranked(row["open_results"]) if "open_results" in row else None
        pieces.append((box, slug, float(confidence), _ranked(row.get("results")), open_ranked))
    return pieces


def _strip_items(piece_slug: str, sure: bool, items: list) -> list:
    """A piece's strip: a piece sure of its category shows its lookalikes of that category (pieces answered before
    the worker searched within the category kept the open ranking), unless none is of it."""
    if not sure:
        return items
    inside = [(product, score) for product, score in items if product.category.slug == piece_slug]
    return inside or items


def _merged(pieces: list[RoomPiece], *, limit: int | None = None) -> list:
    """The pieces' lookalikes, each product once with its best score, best first; ``limit`` of them (as many as
    the longest strip unless given): a strip of several pieces of one kind, and "Everything in this room" of an
    upload answered before the worker ranked it (``room_answer.room_everything``, stored on the upload)."""
    best: dict[int, tuple] = {}
    for piece in pieces:
        for product, score in piece.items:
            if product.pk not in best or score > best[product.pk][1]:
                best[product.pk] = (product, score)
    ranked = sorted(best.values(), key=lambda item: (-item[1], item[0].pk))
    return ranked[: limit if limit is not None else max(len(piece.items) for piece in pieces)]


def _kind_items(members: list[RoomPiece]) -> list:
    """A strip's lookalikes: its pieces' merged (``_merged``). When one of them is sure of the kind the strip is
    named for, only products of that kind, as many as before (an unsure piece's bedspreads never stand under
    "Tables"), unless none is of it."""
    merged = _merged(members)
    if not any(member.within_category for member in members):
        return merged
    slug = members[0].slug
    of_kind = [
        replace(member, items=[(product, score) for product, score in member.items if product.category.slug == slug])
        for member in members
    ]
    if not any(member.items for member in of_kind):
        return merged
    return _merged(of_kind, limit=len(merged))


def room_strips(pieces: list[RoomPiece]) -> tuple[list[RoomPiece], list[RoomStrip]]:
    """The pieces with their strip (``group``, ``kin``, ``strip_anchor``) and the strips: one per category, in the
    order of its first (most confident) piece."""
    by_slug: dict[str, list[RoomPiece]] = {}
    for piece in pieces:
        by_slug.setdefault(piece.slug, []).append(piece)
    grouped = {}
    for group, kind in enumerate(by_slug.values()):
        for place, piece in enumerate(kind, start=1):
            grouped[piece.number] = replace(piece, group=group, kin=(place, len(kind)), strip_anchor=kind[0].anchor)
    placed = [grouped[piece.number] for piece in pieces]
    strips = []
    for kind in by_slug.values():
        members = [grouped[piece.number] for piece in kind]
        strips.append(RoomStrip(pieces=members, items=_kind_items(members)))
    return placed, strips


def room_view(*, upload: InspirationUpload) -> RoomView:
    """The upload's pieces with their products, their strips (one per category), its complements and everything in
    the room (as the worker ranked it; merged here for an upload answered before it did). Four queries
    (categories, products, and the products' variants) whatever the number of pieces; none when there are none."""
    stored = _stored_pieces(upload)
    complements = _ranked(upload.complements) if stored else []
    everything = _ranked(upload.everything) if stored else []
    if not stored:
        return RoomView(pieces=[], complements=[])
    slugs = sorted({slug for _, slug, *_ in stored})
    categories = Category.objects.in_bulk(slugs, field_name="slug")
    ids = {pid for *_, ranked, open_ranked in stored for pid, _ in ranked + (open_ranked or [])}
    ids |= {pid for pid, _ in complements + everything}
    products = Product.objects.select_related("category").in_bulk(ids)
    variants_attach(list(products.values()))

    def found(ranked: list[tuple[int, float]]) -> list:
        return [(products[pid], score) for pid, score in ranked if pid in products]

    pieces = [
        RoomPiece(
            number=number,
            box=box,
            slug=slug,
            category=categories.get(slug),
            confidence=confidence,
            items=_strip_items(slug, within_category(confidence), found(ranked)),
            open_items=found(ranked if open_ranked is None else open_ranked),
        )
        for number, (box, slug, confidence, ranked, open_ranked) in enumerate(stored, start=1)
    ]
    pieces, strips = room_strips(pieces)
    return RoomView(
        pieces=pieces,
        complements=found(complements),
        strips=strips,
        everything=found(everything) if everything else _merged(pieces, limit=PIECE_RESULTS),
        everything_with_context=bool(everything),
    )


FALLBACK_PHOTO = (1200, 900)  # a photo whose size cannot be read is placed for as a 4:3 one


def photo_size(upload: InspirationUpload) -> tuple[int, int]:
    """The upload's photo in pixels (read from its header); FALLBACK_PHOTO when it cannot be read."""
    try:
        width, height = upload.image.width, upload.image.height
    except (OSError, ValueError, TypeError):
        return FALLBACK_PHOTO
    return (width, height) if width and height else FALLBACK_PHOTO


def room_hotspots_place(room: RoomView, *, photo: tuple[int, int]) -> RoomView:
    """The room with its hotspots placed so that no two overlap on a photo of ``photo`` pixels shown at its
    smallest on the results page (``recommender.hotspots``): each piece's ``spot``, and the markers' size."""
    if not room.pieces:
        return room
    width, height = smallest_display(*photo)
    layout = place_hotspots([piece.box for piece in room.pieces], width=width, height=height)
    pieces = [replace(piece, spot=spot) for piece, spot in zip(room.pieces, layout.spots, strict=True)]
    return replace(room, pieces=pieces, hotspot_size=layout.size)
