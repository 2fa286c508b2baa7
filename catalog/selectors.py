"""Reading the catalog: querysets with their joins already applied."""

from collections.abc import Iterable
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache
from django.db.models import Count, Q, QuerySet, Value
from django.db.models.functions import Coalesce, NullIf

from catalog.models import Category, CategoryComplementExclusion, ComplementCuration, CoView, Product

CATEGORY_EXCLUSIONS_CACHE_KEY = "catalog:category-complement-exclusions"


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


@dataclass(frozen=True)
class ComplementCurationOf:
    """Staff's word on one product's "goes well with": the pinned products in the order they were pinned, and
    the excluded ones."""

    pinned: list[int]
    excluded: frozenset[int]


def complement_curation_of(*, product_id: int) -> ComplementCurationOf:
    """One indexed query (both foreign keys are indexed); a product's curations are as many as staff made."""
    rows = ComplementCuration.objects.filter(Q(product_id=product_id) | Q(other_id=product_id)).order_by(
        "created_at", "pk"
    )
    pinned, excluded = [], set()
    for first, second, action in rows.values_list("product_id", "other_id", "action"):
        partner = second if first == product_id else first
        if action == ComplementCuration.Action.PIN:
            pinned.append(partner)
        else:
            excluded.add(partner)
    return ComplementCurationOf(pinned=pinned, excluded=frozenset(excluded))


def curated_pairs() -> tuple[list[tuple[int, int]], frozenset[tuple[int, int]]]:
    """Every pinned and every excluded pair of products, as (lower id, higher id): what training reads."""
    pinned, excluded = [], set()
    for first, second, action in ComplementCuration.objects.order_by("pk").values_list(
        "product_id", "other_id", "action"
    ):
        pair = (min(first, second), max(first, second))
        if action == ComplementCuration.Action.PIN:
            pinned.append(pair)
        else:
            excluded.add(pair)
    return pinned, frozenset(excluded)


def category_exclusion_pairs(*, cached: bool = True) -> frozenset[tuple[int, int]]:
    """Every pair of categories that never go together, as (lower id, higher id): a small set (at most the
    square of the number of categories, in practice a few dozen), cached, so a request usually reads nothing.
    ``cached=False`` reads the database (training, which must see the latest word)."""
    pairs = cache.get(CATEGORY_EXCLUSIONS_CACHE_KEY) if cached else None
    if pairs is None:
        rows = CategoryComplementExclusion.objects.values_list("category_id", "excluded_id")
        pairs = frozenset((min(a, b), max(a, b)) for a, b in rows)
        cache.set(CATEGORY_EXCLUSIONS_CACHE_KEY, pairs, settings.CATEGORY_EXCLUSIONS_CACHE_SECONDS)
    return pairs


def categories_never_with(*, category_id: int) -> frozenset[int]:
    """The categories whose products never go with a product of ``category_id``."""
    return frozenset(b if a == category_id else a for a, b in category_exclusion_pairs() if category_id in (a, b))


def strongest_pairs(*, product_id: int, kind: str, min_count: int, limit: int) -> list[tuple[int, int]]:
    """The ``limit`` products paired with ``product_id`` most often, as (product id, count), strongest first (ties
    by id), of pairs of ``kind`` counted at least ``min_count`` times. Two index scans that each stop after
    ``limit`` rows (a pair is stored once, under its lower id): a product ordered with thousands of others costs
    the same as one with a few."""
    pairs = CoView.objects.filter(kind=kind, count__gte=min_count)
    as_first = pairs.filter(product_a_id=product_id).order_by("-count", "product_b_id")[:limit]
    as_second = pairs.filter(product_b_id=product_id).order_by("-count", "product_a_id")[:limit]
    found = [*as_first.values_list("product_b_id", "count"), *as_second.values_list("product_a_id", "count")]
    return sorted(found, key=lambda pair: (-pair[1], pair[0]))[:limit]


def used_together_among(product_ids: Iterable[int]) -> set[tuple[int, int]]:
    """The pairs of ``product_ids`` that were used together (rooms, sets and orders imported as ``CoView`` "used"),
    as (lower id, higher id). One query on the pairs' own index; its cost grows with the number of ids asked about,
    never with the catalog."""
    ids = sorted(set(product_ids))
    if len(ids) < 2:
        return set()
    pairs = CoView.objects.filter(kind=CoView.Kind.USED, product_a_id__in=ids, product_b_id__in=ids)
    return set(pairs.values_list("product_a_id", "product_b_id"))
