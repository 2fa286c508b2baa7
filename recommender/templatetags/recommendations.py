"""Recommendation sections for catalog templates, so that ``catalog`` itself never imports the recommender."""

from django import template

from recommender.services.feedback import feedback_of_session
from recommender.services.search import goes_with_products, products_in_order, similar_products

register = template.Library()
SECTION_SIZE = 8


def _section(context, product, *, title: str, section_id: str, feedback_context: str, items, empty: str) -> dict:
    request = context.get("request")
    session_key = request.session.session_key if request is not None else None
    return {
        "title": title,
        "section_id": section_id,
        "items": items,
        "empty": empty,
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
        items=products_in_order(similar_products(product=product, k=SECTION_SIZE)),
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
        empty="Nothing yet: suggestions grow as shoppers browse.",
    )


@register.filter
def answer_for(answers: dict, product) -> str:
    """The session's verdict on ``product`` ("good", "bad" or "")."""
    return (answers or {}).get(product.pk, "")


@register.filter
def get_item(mapping: dict, key):
    return (mapping or {}).get(key, "")
