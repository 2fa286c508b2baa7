from datetime import timedelta

import pytest
from django.utils import timezone

from catalog.models import CoView, ProductView
from catalog.services.coviews import coview_record
from tests.catalog.factories import ProductFactory

pytestmark = pytest.mark.django_db


def pair_count(first, second) -> int:
    low, high = sorted((first.pk, second.pk))
    pair = CoView.objects.filter(product_a_id=low, product_b_id=high).first()
    return pair.count if pair else 0


@pytest.fixture
def start():
    return timezone.now() - timedelta(days=1)


def test_views_within_the_window_pair_the_products(start):
    sofa, lamp = ProductFactory(), ProductFactory()

    coview_record(session_key="s1", product=sofa, viewed_at=start)
    coview_record(session_key="s1", product=lamp, viewed_at=start + timedelta(minutes=29))

    assert pair_count(sofa, lamp) == 1


def test_products_viewed_in_one_session_are_viewed_together_not_used_together(start):
    sofa, lamp = ProductFactory(), ProductFactory()

    coview_record(session_key="s1", product=sofa, viewed_at=start)
    coview_record(session_key="s1", product=lamp, viewed_at=start + timedelta(minutes=1))

    assert list(CoView.objects.values_list("kind", flat=True)) == [CoView.Kind.VIEWED]


def test_views_further_apart_than_the_window_are_not_paired(start):
    sofa, lamp = ProductFactory(), ProductFactory()

    coview_record(session_key="s1", product=sofa, viewed_at=start)
    coview_record(session_key="s1", product=lamp, viewed_at=start + timedelta(minutes=31))

    assert pair_count(sofa, lamp) == 0


def test_a_pair_is_counted_once_per_session(start):
    sofa, lamp = ProductFactory(), ProductFactory()

    for minute, product in enumerate([sofa, lamp, sofa, lamp, sofa]):
        coview_record(session_key="s1", product=product, viewed_at=start + timedelta(minutes=minute))

    assert pair_count(sofa, lamp) == 1
    assert ProductView.objects.count() == 5


def test_a_pair_first_within_the_window_later_in_the_session_is_counted(start):
    sofa, lamp = ProductFactory(), ProductFactory()

    coview_record(session_key="s1", product=sofa, viewed_at=start)
    coview_record(session_key="s1", product=lamp, viewed_at=start + timedelta(minutes=45))
    coview_record(session_key="s1", product=sofa, viewed_at=start + timedelta(minutes=50))

    assert pair_count(sofa, lamp) == 1


def test_each_session_adds_one_to_the_pair(start):
    sofa, lamp = ProductFactory(), ProductFactory()

    for session in ["s1", "s2", "s3"]:
        coview_record(session_key=session, product=sofa, viewed_at=start)
        coview_record(session_key=session, product=lamp, viewed_at=start + timedelta(minutes=1))

    assert pair_count(sofa, lamp) == 3


def test_different_sessions_are_never_paired(start):
    sofa, lamp = ProductFactory(), ProductFactory()

    coview_record(session_key="s1", product=sofa, viewed_at=start)
    coview_record(session_key="s2", product=lamp, viewed_at=start)

    assert not CoView.objects.exists()


def test_a_third_product_pairs_with_both_and_pairs_are_stored_ordered(start):
    sofa, lamp, rug = ProductFactory(), ProductFactory(), ProductFactory()

    coview_record(session_key="s1", product=rug, viewed_at=start)
    coview_record(session_key="s1", product=lamp, viewed_at=start)
    paired = coview_record(session_key="s1", product=sofa, viewed_at=start)

    assert sorted(paired) == sorted([rug.pk, lamp.pk])
    assert CoView.objects.count() == 3
    assert all(pair.product_a_id < pair.product_b_id for pair in CoView.objects.all())


def test_session_keys_are_stored_hashed(start):
    coview_record(session_key="secret-session-key", product=ProductFactory(), viewed_at=start)

    assert "secret" not in ProductView.objects.get().session_hash
