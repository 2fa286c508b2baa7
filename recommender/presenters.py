"""What a recommendation looks like to a page or an API client."""

from __future__ import annotations

from django.http import HttpRequest

from catalog.models import Product
from catalog.prices import currency


def product_card(request: HttpRequest, product: Product, score: float | None = None) -> dict:
    image = product.thumbnail or product.image
    return {
        "sku": product.sku,
        "name": product.name,
        "url": request.build_absolute_uri(product.get_absolute_url()),
        "image": request.build_absolute_uri(image.url) if image else None,
        "category": product.category.slug,
        "category_name": product.category.label,
        "price": None if product.price is None else str(product.price),
        "currency": currency(),
        "price_is_demo": product.price_is_demo,
        "score": None if score is None else round(float(score), 4),
    }
