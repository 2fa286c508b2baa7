"""Changing the filters of an answered upload on its results page: the upload's stored search vector is queried
again in the web process (no torch, the cost of one filtered search), so the shopper never uploads again. The
stored ``results`` stay the worker's original answer."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.conf import settings

from catalog.models import Category, Product
from catalog.prices import format_price
from recommender.models import InspirationUpload
from recommender.services.category_guesses import guess_of
from recommender.services.colour_ranking import search_ranked
from recommender.services.search import Filters, products_in_order, serving_state
from recommender.services.variants import with_variants
from recommender.services.vectors import vector_from_bytes


@dataclass(frozen=True)
class UploadResults:
    filters: Filters  # the filters these results answer
    items: list  # [(product, score)], best first, one per group of variants (each with ``.variants``)
    refined: bool = False  # searched again for filters chosen on the page
    can_refine: bool = False  # the stored vector can be searched again (same encoder still serving)
    can_match_colour: bool = False  # the photo's colour is known, so "same colour" can rank by it
    empty_reason: str = ""  # why there is nothing, in words
    looser: list[tuple[str, Filters]] = field(default_factory=list)  # one click each, when there is nothing


def upload_results(*, upload: InspirationUpload, filters: Filters | None = None) -> UploadResults:
    """The products for a done upload: its stored answer, or with ``filters`` other than its own a new search of
    its stored vector (with "same colour", re-ranked by the photo's colour). With nothing to show, says why and
    how to loosen the filters."""
    own = Filters.from_json(upload.filters)
    state = serving_state() if upload.vector else None  # an upload answered before vectors were kept has none
    serving = state.encoder_version if state is not None else None
    # A vector is only comparable with the index of the encoder that made it.
    can_refine = serving is not None and upload.encoder_version_id == serving.pk
    can_match_colour = can_refine and bool(upload.colours)
    chosen = own if filters is None else filters
    if chosen.same_colour and not upload.colours:
        chosen = chosen.without_colour()  # answered before colours were kept: nothing to match
    if chosen != own and can_refine:
        found = search_ranked(
            vector_from_bytes(upload.vector),
            k=settings.RECOMMENDATIONS_PER_PAGE,
            filters=chosen,
            query_colours=upload.colours,
            query_categories=guess_of(upload.categories),
            state=state,
        )
        refined = True
    else:
        chosen, found, refined = own, [(row["product_id"], row["score"]) for row in upload.results], False
    items = with_variants(products_in_order(found))
    if items:
        return UploadResults(chosen, items, refined, can_refine, can_match_colour)
    return UploadResults(
        chosen, items, refined, can_refine, can_match_colour, empty_reason(chosen), looser_filters(chosen)
    )


def _category_label(slug: str) -> str:
    category = Category.objects.filter(slug=slug).first()
    return category.label if category is not None else slug


def empty_reason(filters: Filters) -> str:
    """Why a search with ``filters`` found nothing, as the shopper would put it."""
    where = f" in {_category_label(filters.category)}" if filters.category else ""
    if filters.max_price is not None:
        priced = Product.objects.filter(is_active=True, price__isnull=False)
        if filters.category:
            priced = priced.filter(category__slug=filters.category)
        if not priced.exists():
            return f"No product{where} has a price yet, so a highest price leaves nothing."
        return f"No product with a price of {format_price(filters.max_price)} or less{where}."
    if filters.category:
        return f"No product{where} looks like your photo."
    return "No product looks like your photo yet: the catalog may be empty."


def looser_filters(filters: Filters) -> list[tuple[str, Filters]]:
    """Each filter dropped in turn, the price first (the one that usually empties an answer)."""
    looser = []
    if filters.max_price is not None:
        where = f" in {_category_label(filters.category)}" if filters.category else ""
        looser.append((f"Show every price{where}", Filters(category=filters.category, same_colour=filters.same_colour)))
    if filters.category:
        price = f" up to {format_price(filters.max_price)}" if filters.max_price is not None else ""
        looser.append(
            (
                f"Search every category{price}",
                Filters(max_price=filters.max_price, same_colour=filters.same_colour),
            )
        )
    return looser
