"""What trains the "goes with" head: pairs used together, shoppers' good matches and staff pins; never pairs only
viewed together, staff exclusions, or pairs of categories staff said never go together."""

import pytest
from django.utils import timezone

from catalog.models import CategoryComplementExclusion, ComplementCuration, CoView
from catalog.selectors import used_together_among
from catalog.services.curation import category_exclusion_save, complement_curate
from encoders.data import training_data
from tests.catalog.factories import CategoryFactory, ProductFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def catalog():
    """Dining chairs, tables and ovens, two of each, by name."""
    products = {}
    for category in ["chair", "table", "oven"]:
        kind = CategoryFactory(name=category)
        for n in range(2):
            products[f"{category}{n}"] = ProductFactory(name=f"{category}{n}", category=kind)
    return products


def pair(first, second, *, kind: str = CoView.Kind.USED, count: int = 1) -> None:
    low, high = sorted([first, second], key=lambda product: product.pk)
    CoView.objects.create(product_a=low, product_b=high, kind=kind, count=count, last_seen=timezone.now())


def named_pairs(catalog, extra_pairs=()) -> dict[tuple[str, str], int]:
    data = training_data(extra_pairs=extra_pairs)
    names = {product.pk: name for name, product in catalog.items()}
    return {
        tuple(sorted((names[data.product_ids[a]], names[data.product_ids[b]]))): count
        for a, b, count in data.coview_pairs
    }


def test_only_pairs_used_together_train_goes_with(catalog):
    pair(catalog["chair0"], catalog["table0"], kind=CoView.Kind.USED, count=2)
    pair(catalog["chair0"], catalog["chair1"], kind=CoView.Kind.VIEWED, count=40)

    assert named_pairs(catalog) == {("chair0", "table0"): 2}


def test_a_pin_trains_as_strongly_as_the_strongest_pair(catalog):
    pair(catalog["chair0"], catalog["table0"], count=5)
    pair(catalog["chair1"], catalog["table1"], count=1)
    complement_curate(product=catalog["table1"], other=catalog["chair1"], action=ComplementCuration.Action.PIN)
    complement_curate(product=catalog["chair0"], other=catalog["table1"], action=ComplementCuration.Action.PIN)

    assert named_pairs(catalog) == {("chair0", "table0"): 5, ("chair1", "table1"): 5, ("chair0", "table1"): 5}


def test_excluded_pairs_leave_the_data_and_the_good_match_answers(catalog):
    pair(catalog["chair0"], catalog["table0"], count=3)
    pair(catalog["chair1"], catalog["table1"], count=1)
    complement_curate(product=catalog["table0"], other=catalog["chair0"], action=ComplementCuration.Action.EXCLUDE)
    answers = [(catalog["chair0"].pk, catalog["table0"].pk, 2)]

    assert named_pairs(catalog, extra_pairs=answers) == {("chair1", "table1"): 1}


def test_pairs_of_categories_that_never_go_together_leave_the_data_unless_pinned(catalog):
    pair(catalog["chair0"], catalog["oven0"], count=4)
    pair(catalog["oven1"], catalog["chair1"], count=2)
    pair(catalog["chair0"], catalog["table0"], count=1)
    category_exclusion_save(
        exclusion=CategoryComplementExclusion(category=catalog["oven0"].category, excluded=catalog["chair0"].category)
    )
    complement_curate(product=catalog["chair1"], other=catalog["oven1"], action=ComplementCuration.Action.PIN)

    assert named_pairs(catalog) == {("chair0", "table0"): 1, ("chair1", "oven1"): 1}


def test_the_evaluations_catalog_holds_the_pairs_used_together_as_the_room_answer_reads_them(catalog):
    pair(catalog["chair0"], catalog["table0"], count=3)
    pair(catalog["chair1"], catalog["table1"], kind=CoView.Kind.VIEWED, count=9)
    pair(catalog["chair1"], catalog["oven0"])
    complement_curate(product=catalog["chair1"], other=catalog["oven0"], action=ComplementCuration.Action.EXCLUDE)
    complement_curate(product=catalog["chair0"], other=catalog["oven1"], action=ComplementCuration.Action.PIN)

    data = training_data()
    names = {product.pk: name for name, product in catalog.items()}
    used = {
        tuple(sorted((names[data.product_ids[a]], names[data.product_ids[b]]))) for a, b in data.catalog.used_together
    }

    # the pairs as stored (staff's word trains "goes with", not what a room held); the same the worker reads
    assert used == {("chair0", "table0"), ("chair1", "oven0")}
    ids = [product.pk for product in catalog.values()]
    assert {tuple(sorted((names[a], names[b]))) for a, b in used_together_among(ids)} == used
