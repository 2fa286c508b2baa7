"""Recommendation sections for catalog templates, so that ``catalog`` itself never imports the recommender."""

from urllib.parse import urlencode

from django import template

from catalog.colours import lab_hex, main_colour
from catalog.variants import variant_label
from recommender.services.feedback import feedback_of_session
from recommender.services.search import goes_with_products, products_in_order, similar_products
from recommender.services.variants import with_variants

register = template.Library()
SECTION_SIZE = 8


def _section(
    context, product, *, title: str, section_id: str, feedback_context: str, items, empty: str, hide_match=False
) -> dict:
    request = context.get("request")
    session_key = request.session.session_key if request is not None else None
    return {
        "title": title,
        "section_id": section_id,
        "items": items,
        "empty": empty,
        "hide_match": hide_match,
        "request": request,
        "csrf_token": context.get("csrf_token"),
        "feedback": {"context": feedback_context, "source": product.sku},
        "answers": feedback_of_session(session_key=session_key, context=feedback_context, source=product)
        if items
        else {},
    }


@register.inclusion_tag("recommender/_recommendations.html", takes_context=True)
def similar_items(context, product):
    return _section(
        context,
        product,
        title="Similar items",
        section_id="similar",
        feedback_context="similar",
        items=with_variants(products_in_order(similar_products(product=product, k=SECTION_SIZE))),
        empty="Similar items appear here once the recommender has seen this product.",
    )


@register.inclusion_tag("recommender/_recommendations.html", takes_context=True)
def goes_well_with(context, product):
    return _section(
        context,
        product,
        title="Goes well with",
        section_id="goes-with",
        feedback_context="goes_with",
        items=products_in_order(goes_with_products(product=product, k=SECTION_SIZE)),
        empty="Nothing yet: suggestions appear once the recommender has seen this product.",
        # No match bar on any of these cards: a pinned or used-together pair has no similarity to show, and bars on
        # only the learned suggestions read as if the others matched worse.
        hide_match=True,
    )


@register.filter
def answer_for(answers: dict, product) -> str:
    """The session's verdict on ``product`` ("good", "bad" or "")."""
    return (answers or {}).get(product.pk, "")


@register.filter
def get_item(mapping: dict, key):
    return (mapping or {}).get(key, "")


@register.filter
def match_share(score) -> float:
    """A cosine similarity as the share a match bar shows: below zero (nothing alike) is 0 %, so every card of a
    section that shows bars has one."""
    return min(max(float(score), 0.0), 1.0)


@register.filter
def filters_query(filters) -> str:
    """A results page's query string for ``filters`` (category and price always present: empty means "any")."""
    query = {"category": filters.category, "max_price": "" if filters.max_price is None else str(filters.max_price)}
    if filters.same_colour:
        query["colour"] = "same"
    return urlencode(query)


@register.filter
def colour_hex(colours) -> str:
    """The main colour of stored colours (``[[L, a, b, share], ...]``) as ``#rrggbb``; empty when unknown."""
    main = main_colour(colours)
    return lab_hex(main) if main else ""


@register.filter
def option_label(product) -> str:
    """How a variant is named among a card's options."""
    return variant_label(color=product.color, size=product.size, name=product.name, sku=product.sku)


@register.filter
def crop_style(crop) -> str:
    """The marked box ``[x, y, w, h]`` (fractions of the photo) as a CSS position over the photo."""
    try:
        x, y, w, h = (min(max(float(value), 0.0), 1.0) for value in crop)
    except (TypeError, ValueError):
        return ""
    return f"left:{x:.2%};top:{y:.2%};width:{w:.2%};height:{h:.2%}"


@register.filter
def hotspot_style(piece) -> str:
    """Where a piece's hotspot sits over the photo (its ``centre``, fractions of the photo) as a CSS position."""
    x, y = piece.centre
    return f"left:{x:.2%};top:{y:.2%}"
