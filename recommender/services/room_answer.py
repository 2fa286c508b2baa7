"""Answering a room photo piece by piece (in the worker, but without torch: it reads ``encoders.pieces.Piece``).

``encoders.piece_finder`` finds the pieces of furniture in a photo; here each piece is answered with its own
lookalikes, ranked with its own category guess (within its category when the head is sure of it), and the upload
is said to be a room when confident pieces of several kinds were found. "Everything in this room"
merges the pieces' lookalikes, each raised by the likely lookalikes it was used together with
(``encoders.room_context``). "Goes well with what you have" are the complements of each piece's best match, leaving
out the kinds of furniture the room already has.
"""

from __future__ import annotations

from dataclasses import replace

from catalog.models import Category, Product
from catalog.selectors import used_together_among
from encoders.pieces import ROOM_KIND_PIECES, Piece, within_category
from encoders.room_context import everything_in_room
from recommender.models import InspirationUpload
from recommender.services.category_search import category_search, category_search_and_within
from recommender.services.search import Filters, ServingState, goes_with_products

# A photo is answered as a room, without the shopper asking, when its pieces at least ROOM_MIN_CONFIDENCE sure are
# of at least ROOM_MIN_KINDS categories. Measured (``bench/room_or_piece.py``; README, "Room or one piece?"), the
# pieces' confidences do not tell a room photo from a shopper's photo of one piece in its room (a web photo of a
# sofa shows its room too): the piece head, tuned on room photos, is sure of two kinds in most of both. Three kinds
# at 0.7 call about a fifth of the room photos rooms and about a tenth of the photos of one piece, so a photo is
# answered as one piece unless it clearly holds several kinds, and the page offers the room answer ("Shop the
# room") whenever ROOM_MIN_PIECES pieces were found. Every piece the finder keeps is shown.
ROOM_MIN_PIECES = 2
ROOM_MIN_KINDS = 3
ROOM_MIN_CONFIDENCE = 0.7
PIECE_RESULTS = 10  # lookalikes per piece: one strip of the results page
FUSION_RANK_OFFSET = 60  # reciprocal rank fusion of the pieces' complements: 1 / (offset + rank), summed
ROOM_COMPLEMENTS = 12  # "goes well with what you have"


def _slugs_of(pieces: list[Piece]) -> dict[str, str]:
    """Category name (as the encoder knows it) -> the catalog's slug, for every name the pieces mention. One query."""
    names = {piece.category for piece in pieces}
    for piece in pieces:
        names.update(piece.categories or {})
    return dict(Category.objects.filter(name__in=names).values_list("name", "slug"))


def piece_guess(piece: Piece, slugs: dict[str, str]) -> dict[str, float]:
    """What the piece looks like, slug -> probability (what ``category_search`` ranks with): the head's whole
    distribution when the finder kept it, else its top category alone."""
    distribution = piece.categories or {piece.category: piece.confidence}
    return {slugs[name]: float(p) for name, p in distribution.items() if name in slugs}


def room_kind(categories_and_confidences: list[tuple[str, float]]) -> str:
    """ "room" when the confident pieces are of at least ROOM_MIN_KINDS different categories; otherwise "piece"
    (one thing, or a few, or nothing sure enough to split the photo into)."""
    confident = {category for category, confidence in categories_and_confidences if confidence >= ROOM_MIN_CONFIDENCE}
    return InspirationUpload.Kind.ROOM if len(confident) >= ROOM_MIN_KINDS else InspirationUpload.Kind.PIECE


def _ranked_rows(ranked: list[tuple[int, float]]) -> list[dict]:
    return [{"product_id": pid, "score": round(score, 5)} for pid, score in ranked]


def room_answer(
    pieces: list[Piece], *, state: ServingState | None, filters: Filters, k: int = PIECE_RESULTS
) -> tuple[str, list[dict]]:
    """The kind of the photo (``room_kind`` of the first ROOM_KIND_PIECES of ``pieces``, which come best first
    from the finder) and its pieces, most confident first, each answered within what it looks like:
    ``[{"box", "category" (slug), "confidence", "results": [{"product_id", "score"}]}]``. A piece sure of
    its category (``within_category``) is answered with the nearest products of that category, and keeps the open
    ranking as ``open_results`` (what a budget falls back on when none of its category has a price); when the
    catalog has nothing of its category, it is answered with the open ranking alone, as an unsure piece is.

    A piece of a category the catalog no longer has is left out (there is nothing to name it by). The pieces are
    searched without the upload's category filter, which would give every piece the same kind of product, and
    without "same colour" (the colour known is the whole photo's); the highest price still applies. Cost: one
    query for the slugs, then one ``category_search`` per piece, whose pool also gives a piece sure of its category
    its nearest of that category (``category_search_and_within``; a filtered search only where the pool holds too
    few)."""
    confident = sorted(pieces, key=lambda piece: -piece.confidence)
    slugs = _slugs_of(confident) if confident else {}
    piece_filters = replace(filters.without_colour(), category="")
    answered = []
    for piece in confident:
        if piece.category not in slugs:
            continue
        slug = slugs[piece.category]
        guess, inside = piece_guess(piece, slugs), []
        if within_category(piece.confidence):
            ranked, inside = category_search_and_within(
                piece.vector, k=k, filters=piece_filters, guess=guess, within=slug, state=state
            )
        else:
            ranked = category_search(piece.vector, k=k, filters=piece_filters, guess=guess, state=state)
        row = {
            "box": [round(min(max(float(value), 0.0), 1.0), 4) for value in piece.box],
            "category": slug,
            "confidence": round(float(piece.confidence), 4),
            "results": _ranked_rows(inside or ranked),
        }
        if inside:
            row["open_results"] = _ranked_rows(ranked)
        answered.append(row)
    judged = [
        (slugs[piece.category], piece.confidence) for piece in pieces[:ROOM_KIND_PIECES] if piece.category in slugs
    ]
    return room_kind(judged), answered


def room_complements(pieces_answer: list[dict], *, k: int = ROOM_COMPLEMENTS) -> list[tuple[int, float]]:
    """What goes well with the pieces: the complements of each piece's best match (the goes-with path a product
    page shows), none of a category the pieces already have, each product once, best first. The pieces' rankings
    are fused by reciprocal rank (each product scores the sum over pieces of 1 / (FUSION_RANK_OFFSET + its rank)):
    their scores do not compare across pieces (a piece whose match many rooms held outscores one the encoder
    alone pairs), so the pieces take turns, and a product that goes with several of them comes first (measured:
    README, "Goes well with"). At most one goes-with query per piece, plus one query for the best matches and one
    for the categories."""
    best_ids = [row["results"][0]["product_id"] for row in pieces_answer if row.get("results")]
    best = Product.objects.select_related("category").in_bulk(best_ids)
    present = {row["category"] for row in pieces_answer} | {product.category.slug for product in best.values()}
    scores: dict[int, float] = {}
    for product_id in dict.fromkeys(best_ids):
        if product_id not in best:
            continue
        for rank, (pid, _) in enumerate(goes_with_products(product=best[product_id], k=k)):
            scores[pid] = scores.get(pid, 0.0) + 1.0 / (FUSION_RANK_OFFSET + rank + 1)
    category_of = dict(Product.objects.filter(pk__in=scores).values_list("pk", "category__slug"))
    kept = [(pid, score) for pid, score in scores.items() if category_of.get(pid) not in present | {None}]
    return sorted(kept, key=lambda item: (-item[1], item[0]))[:k]


def room_everything(pieces_answer: list[dict], *, k: int = PIECE_RESULTS) -> list[dict]:
    """ "Everything in this room": the pieces' results merged, each product once with its best score, ranked by
    that score raised by how likely the others it was used together with make it (``everything_in_room``).
    Bounded: one query for the pairs among at most PIECE_RESULTS products a piece."""
    answers = [_ranked_of(row.get("results")) for row in pieces_answer]
    together = used_together_among(pid for answer in answers for pid, _ in answer)
    return _ranked_rows(everything_in_room(answers, together, k=k))


def _ranked_of(rows) -> list[tuple[int, float]]:
    return [(row["product_id"], float(row["score"])) for row in rows or []]


def upload_pieces_store(
    upload: InspirationUpload, pieces: list[Piece], *, state: ServingState | None, filters: Filters
) -> None:
    """Set the upload's ``kind``, ``pieces``, ``complements`` and ``everything`` from the pieces found in its photo
    (the caller saves them with the rest of the answer). A photo for which the shopper chose a category is answered
    as one piece whatever it holds (they said what they want); its pieces are still kept, so the page can offer the
    room answer. Boxes are fractions of the whole photo: pieces are not looked for inside a box the shopper marked."""
    kind, answered = room_answer(pieces, state=state, filters=filters)
    if filters.category:
        kind = InspirationUpload.Kind.PIECE
    upload.kind = kind
    upload.pieces = answered
    upload.complements = [{"product_id": pid, "score": round(score, 5)} for pid, score in room_complements(answered)]
    upload.everything = room_everything(answered)
