"""Recommendation sections for catalog templates, so that ``catalog`` itself never imports the recommender."""

from django import template

from recommender.services.search import goes_with_products, products_in_order, similar_products

register = template.Library()
SECTION_SIZE = 8


@register.inclusion_tag("recommender/_recommendations.html")
def similar_items(product):
    return {
        "title": "Similar items",
        "section_id": "similar",
        "items": products_in_order(similar_products(product=product, k=SECTION_SIZE)),
        "empty": "Similar items appear here once the recommender has seen this product.",
    }


@register.inclusion_tag("recommender/_recommendations.html")
def goes_well_with(product):
    return {
        "title": "Goes well with",
        "section_id": "goes-with",
        "items": products_in_order(goes_with_products(product=product, k=SECTION_SIZE)),
        "empty": "Nothing yet: suggestions grow as shoppers browse.",
    }
