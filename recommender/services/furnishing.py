"""Furnish it within a budget, on a room answer: the shopper's budget, the pieces they ticked and the products they
pinned, read from a query string (``?budget=1500&pieces=0,2&pick=0:17``), and the set ``recommender.budget.furnish``
chooses among each piece's best lookalikes. The products come from the room answer the page or the API has already
read (``room_pieces.room_view``: all pieces' products, with their prices, in one query), so furnishing adds no
query of its own."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_FLOOR, Decimal, InvalidOperation
from urllib.parse import urlencode

from catalog.models import Product
from catalog.prices import format_price
from recommender.budget import Candidate, Furnishing, furnish, swaps
from recommender.services.room_pieces import RoomPiece, RoomView
from recommender.services.uploads import UploadRejected

FURNISH_CANDIDATES = 10  # each piece's best lookalikes (on sale) the set is chosen from
MAX_BUDGET = Decimal("10000000")  # above this a budget is a typing slip, not a room's budget


@dataclass(frozen=True)
class FurnishRequest:
    budget: Decimal
    pieces: tuple[int, ...] | None  # indexes of the room's pieces (from 0, as the API lists them); None: one a kind
    picks: dict[int, int]  # piece index -> the product the shopper chose for it


@dataclass(frozen=True)
class FurnishedItem:
    index: int  # the piece's index among the room's pieces (what ``pieces`` and ``pick`` name)
    piece: RoomPiece
    product: Product
    score: float
    pinned: bool
    swaps: list[tuple[Product, float, str]]  # (product, score, query string that pins it), best first


@dataclass(frozen=True)
class FurnishAnswer:
    request: FurnishRequest
    furnishing: Furnishing
    pieces: list[tuple[int, RoomPiece]]  # the pieces furnished, with their indexes
    items: list[FurnishedItem]  # one per piece when the set fits the budget, else none

    @property
    def unpriced_pieces(self) -> list[RoomPiece]:
        """Pieces none of whose candidates has a price: no set can include them."""
        return [piece for (_, piece), priced in zip(self.pieces, self.furnishing.candidates, strict=True) if not priced]

    @property
    def has_demo_prices(self) -> bool:
        return any(item.product.price_is_demo for item in self.items)


def parse_budget(text: str | None) -> Decimal:
    """A total budget in the shop's currency: a number from 0 to MAX_BUDGET (cents beyond two places are dropped)."""
    text = (text or "").strip()
    if not text:
        raise UploadRejected("Enter a budget, for example 1500.")
    try:
        budget = Decimal(text)
    except InvalidOperation:
        raise UploadRejected("The budget must be a number, for example 1500.")
    if not budget.is_finite():
        raise UploadRejected("The budget must be a number, for example 1500.")
    if budget < 0:
        raise UploadRejected("The budget must be zero or more.")
    if budget > MAX_BUDGET:
        raise UploadRejected(f"The budget must be at most {format_price(MAX_BUDGET)}.")
    if budget.as_tuple().exponent < -2:  # a fraction of a cent buys nothing: shown and used as what it buys
        budget = budget.quantize(Decimal("0.01"), rounding=ROUND_FLOOR)
    return budget


def parse_piece_indexes(values: list[str]) -> tuple[int, ...] | None:
    """``pieces=0,2`` (or ``pieces=0&pieces=2``, as a form's checkboxes send it): the pieces to furnish; None when
    the parameter is absent (one piece of each kind). Present but empty means none was ticked."""
    if not values:
        return None
    parts = [part.strip() for value in values for part in value.split(",") if part.strip()]
    if not all(part.isascii() and part.isdigit() for part in parts):
        raise UploadRejected("pieces must be the numbers of pieces, from 0, separated by commas.")
    if not parts:
        raise UploadRejected("Tick at least one piece to furnish.")
    return tuple(sorted({int(part) for part in parts}))


def parse_picks(values: list[str]) -> dict[int, int]:
    """``pick=<piece>:<product id>``, once per pinned piece (the last one for a piece wins)."""
    picks = {}
    for value in values:
        piece, _, product = value.partition(":")
        if not (piece.isascii() and piece.isdigit() and product.isascii() and product.isdigit()):
            raise UploadRejected("pick must be <piece>:<product id>, for example 0:17.")
        picks[int(piece)] = int(product)
    return picks


def parse_furnish_request(query) -> FurnishRequest | None:
    """The budget request of a query string (a QueryDict); None when it asks for no budget."""
    if "budget" not in query:
        return None
    return FurnishRequest(
        budget=parse_budget(query.get("budget")),
        pieces=parse_piece_indexes(query.getlist("pieces")),
        picks=parse_picks(query.getlist("pick")),
    )


def piece_candidates(piece: RoomPiece) -> list[Candidate]:
    """The piece's best FURNISH_CANDIDATES lookalikes still on sale, best first, priced or not. A piece sure of its
    category is furnished within it (a mug never stands in for a chair): its lookalikes of that category, and only
    when none of those has a price, its open ranking (lookalikes of any category, ranked with its guess)."""
    on_sale = [(product, score) for product, score in piece.items if product.is_active]
    if piece.within_category:
        inside = [(product, score) for product, score in on_sale if product.category.slug == piece.slug]
        if any(product.price is not None for product, _ in inside[:FURNISH_CANDIDATES]):
            on_sale = inside
        else:
            on_sale = [(product, score) for product, score in piece.open_items if product.is_active]
    return [Candidate(product.pk, score, product.price) for product, score in on_sale[:FURNISH_CANDIDATES]]


def room_furnish(*, room: RoomView, request: FurnishRequest) -> FurnishAnswer:
    """The set for the request's budget among the room's pieces (the ticked ones; unless ticked, the first piece of
    each kind: a room with four chairs is furnished with one chair), with the pinned products kept
    and, for each item, the swaps that keep the set within the budget. Raises UploadRejected when the request names
    a piece the room does not have."""
    indexes = request.pieces if request.pieces is not None else room.one_of_each_kind
    if any(index >= len(room.pieces) for index in indexes):
        raise UploadRejected(f"pieces must be numbers from 0 to {len(room.pieces) - 1}: the pieces found.")
    chosen_pieces = [(index, room.pieces[index]) for index in indexes]
    pinned = {position: request.picks[index] for position, index in enumerate(indexes) if index in request.picks}
    furnishing = furnish([piece_candidates(piece) for _, piece in chosen_pieces], request.budget, pinned=pinned)
    products = {product.pk: product for _, piece in chosen_pieces for product, _ in piece.items + piece.open_items}
    items = []
    for position, candidate in enumerate(furnishing.chosen):
        index, piece = chosen_pieces[position]
        offered = [
            (products[swap.product_id], swap.score, furnish_query(request, {**request.picks, index: swap.product_id}))
            for swap in swaps(furnishing, position)
        ]
        items.append(
            FurnishedItem(
                index=index,
                piece=piece,
                product=products[candidate.product_id],
                score=candidate.score,
                pinned=position in furnishing.pinned,
                swaps=offered,
            )
        )
    return FurnishAnswer(request=request, furnishing=furnishing, pieces=chosen_pieces, items=items)


def furnish_query(request: FurnishRequest, picks: dict[int, int]) -> str:
    """The results page's query string for the request with these picks, as a room answer: what a swap links to."""
    fields = [("as", "room"), ("budget", f"{request.budget:f}")]
    if request.pieces is not None:
        fields.append(("pieces", ",".join(str(index) for index in request.pieces)))
    fields.extend(("pick", f"{index}:{product_id}") for index, product_id in sorted(picks.items()))
    return urlencode(fields)
