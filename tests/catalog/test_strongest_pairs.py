"""A product's strongest pairs are read in order, no further than needed: what a product page costs does not grow
with how many products it was ever ordered or placed with."""

import json

import pytest
from django.db import connection
from django.utils import timezone

from catalog.models import Category, CoView, Product
from catalog.selectors import strongest_pairs

pytestmark = pytest.mark.django_db

USED = CoView.Kind.USED


def products(count: int) -> list[Product]:
    category = Category.objects.create(name="Things", slug="things")
    return Product.objects.bulk_create(
        Product(sku=f"P{n:05d}", name=f"Thing {n}", slug=f"thing-{n}", category=category, image="x.jpg")
        for n in range(count)
    )


def test_the_strongest_pairs_on_either_side_come_first_ties_by_id(settings):
    hub, *others = products(6)
    now = timezone.now()
    counts = [1, 4, 2, 4, 3]  # hub has the lowest id: it is product_a of each pair
    CoView.objects.bulk_create(
        CoView(product_a=hub, product_b=other, kind=USED, count=n, last_seen=now)
        for other, n in zip(others, counts, strict=True)
    )
    CoView.objects.create(product_a=others[0], product_b=others[1], kind=USED, count=9, last_seen=now)
    CoView.objects.create(product_a=hub, product_b=others[0], kind=CoView.Kind.VIEWED, count=50, last_seen=now)

    assert strongest_pairs(product_id=hub.pk, kind=USED, min_count=2, limit=3) == [
        (others[1].pk, 4),
        (others[3].pk, 4),
        (others[4].pk, 3),
    ]
    assert strongest_pairs(product_id=others[1].pk, kind=USED, min_count=1, limit=5) == [
        (others[0].pk, 9),  # others[1] is the higher id of this pair
        (hub.pk, 4),
    ]


def rows_read(plan: dict) -> int:
    """The most rows any scan of the plan read (per loop)."""
    own = plan.get("Actual Rows", 0) if "Scan" in plan["Node Type"] else 0
    return max([own, *(rows_read(child) for child in plan.get("Plans", []))])


def test_a_product_paired_with_thousands_reads_only_as_many_pairs_as_it_shows():
    if connection.vendor != "postgresql":
        pytest.skip("reads PostgreSQL's query plans")
    first, *middle, last = products(3002)  # ids in this order: a pair is stored under its lower id
    now = timezone.now()
    CoView.objects.bulk_create(  # the first product is the lower id of 2,000 pairs, the last the higher of 1,000
        [
            *(
                CoView(product_a=first, product_b=other, kind=USED, count=1 + n % 7, last_seen=now)
                for n, other in enumerate(middle[:2000])
            ),
            *(
                CoView(product_a=other, product_b=last, kind=USED, count=1 + n % 5, last_seen=now)
                for n, other in enumerate(middle[:1000])
            ),
        ]
    )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE catalog_coview")

    pairs = CoView.objects.filter(kind=USED, count__gte=1)
    for queryset in [
        pairs.filter(product_a_id=first.pk).order_by("-count", "product_b_id")[:30],
        pairs.filter(product_b_id=last.pk).order_by("-count", "product_a_id")[:30],
    ]:
        plan = json.loads(queryset.explain(format="json", analyze=True))[0]["Plan"]
        assert rows_read(plan) <= 30, queryset.explain(analyze=True)
    strongest = strongest_pairs(product_id=first.pk, kind=USED, min_count=1, limit=30)
    assert [count for _, count in strongest] == [7] * 30
