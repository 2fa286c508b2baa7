"""Reading the catalog: querysets with their joins already applied."""

from django.db.models import Count, Q, QuerySet

from catalog.models import Category, Product


def active_products(*, category: Category | None = None, search: str = "") -> QuerySet[Product]:
    products = Product.objects.filter(is_active=True).select_related("category")
    if category is not None:
        products = products.filter(category=category)
    if search:
        products = products.filter(Q(name__icontains=search) | Q(type__icontains=search) | Q(sku__iexact=search))
    return products


def categories_with_active_products() -> QuerySet[Category]:
    return (
        Category.objects.annotate(active_count=Count("products", filter=Q(products__is_active=True)))
        .filter(active_count__gt=0)
        .order_by("name")
    )
