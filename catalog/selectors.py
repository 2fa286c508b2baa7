"""Reading the catalog: querysets with their joins already applied."""

from django.db.models import Count, Q, QuerySet, Value
from django.db.models.functions import Coalesce, NullIf

from catalog.models import Category, Product


def _contains_any_case(field: str, text: str) -> Q:
    """``field`` contains ``text`` in any case. PostgreSQL compares every letter without case; SQLite only ASCII
    letters (its LIKE folds A–Z alone), so there the text is also tried as typed, upper-cased and lower-cased:
    "söderhamn" finds "SÖDERHAMN" and "Söderhamn" finds "söderhamn", though not every mix of cases of a letter
    outside ASCII ("sÖderhamn" finds "SÖDERHAMN" but not "Söderhamn")."""
    condition = Q()
    for variant in dict.fromkeys([text, text.upper(), text.lower(), text[:1].upper() + text[1:].lower()]):
        condition |= Q(**{f"{field}__icontains": variant})
    return condition


def active_products(*, category: Category | None = None, search: str = "") -> QuerySet[Product]:
    products = Product.objects.filter(is_active=True).select_related("category")
    if category is not None:
        products = products.filter(category=category)
    if search:
        products = products.filter(
            _contains_any_case("name", search) | _contains_any_case("type", search) | Q(sku__iexact=search)
        )
    return products


def categories_with_active_products() -> QuerySet[Category]:
    return (
        Category.objects.annotate(active_count=Count("products", filter=Q(products__is_active=True)))
        .filter(active_count__gt=0)
        .order_by(Coalesce(NullIf("display_name", Value("")), "name"), "name")
    )
