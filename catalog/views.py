from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render

from catalog.models import Category
from catalog.selectors import active_products, categories_with_active_products
from catalog.services.coviews import coview_record
from config.ratelimit import allowed

PRODUCTS_PER_PAGE = 24


def product_list(request: HttpRequest) -> HttpResponse:
    category_slug = request.GET.get("category", "")
    search = request.GET.get("q", "").strip()[:100]
    category = get_object_or_404(Category, slug=category_slug) if category_slug else None
    page = Paginator(active_products(category=category, search=search), PRODUCTS_PER_PAGE).get_page(
        request.GET.get("page")
    )
    return render(
        request,
        "catalog/product_list.html",
        {"page": page, "categories": categories_with_active_products(), "category": category, "search": search},
    )


def product_detail(request: HttpRequest, slug: str) -> HttpResponse:
    """The product; the view is recorded as co-view data unless its client is over the per-minute limit."""
    product = get_object_or_404(active_products(), slug=slug)
    if allowed(request, "view"):
        if not request.session.session_key:
            request.session.save()
        coview_record(session_key=request.session.session_key, product=product)
    return render(request, "catalog/product_detail.html", {"product": product})
