"""Staff curate "goes well with" in admin: pins and exclusions inline on a product's page or from the co-view
pairs, and categories that never go together. Only with the curation permissions (tests/test_admin_permissions.py
covers a view-only member)."""

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse
from django.utils import timezone

from catalog.models import CategoryComplementExclusion, ComplementCuration, CoView
from catalog.selectors import categories_never_with
from tests.catalog.factories import CategoryFactory, ProductFactory

pytestmark = pytest.mark.django_db

CURATOR = [
    "view_product",
    "change_product",
    "view_coview",
    "add_complementcuration",
    "change_complementcuration",
    "delete_complementcuration",
    "view_complementcuration",
    "add_categorycomplementexclusion",
    "delete_categorycomplementexclusion",
    "view_categorycomplementexclusion",
    "view_category",
]


def staff(client, django_user_model, codenames: list[str]):
    user = django_user_model.objects.create_user(f"staff-{len(codenames)}", password="pw", is_staff=True)
    user.user_permissions.set(Permission.objects.filter(codename__in=codenames))
    client.force_login(user)
    return client


@pytest.fixture
def curator(client, django_user_model):
    return staff(client, django_user_model, CURATOR)


def change_form(product, *rows, initial: int = 0) -> dict:
    """The product's change form as the page posts it, with curated rows (other product, action)."""
    data = {
        "sku": product.sku,
        "name": product.name,
        "slug": product.slug,
        "category": product.category.pk,
        "type": product.type,
        "price": "",
        "is_active": "on",
        "complement_curations-TOTAL_FORMS": str(len(rows)),
        "complement_curations-INITIAL_FORMS": str(initial),
    }
    for n, (other, action) in enumerate(rows):
        data[f"complement_curations-{n}-other"] = other.pk
        data[f"complement_curations-{n}-action"] = action
    return data


def test_staff_pin_a_product_on_the_product_page(curator):
    sofa, lamp = ProductFactory(name="Sofa"), ProductFactory(name="Lamp")
    url = reverse("admin:catalog_product_change", args=[sofa.pk])

    page = curator.get(url).content.decode()
    response = curator.post(url, change_form(sofa, (lamp, "pin")))

    assert "pins show first, exclusions never show" in page
    assert response.status_code == 302, response.content.decode()[-3000:]
    assert list(ComplementCuration.objects.values_list("product", "other", "action")) == [(sofa.pk, lamp.pk, "pin")]


def test_a_pair_curated_on_the_other_product_is_shown_and_cannot_be_curated_twice(curator):
    sofa, lamp = ProductFactory(name="Sofa"), ProductFactory(name="Lamp")
    ComplementCuration.objects.create(product=lamp, other=sofa, action="exclude")
    url = reverse("admin:catalog_product_change", args=[sofa.pk])

    page = curator.get(url).content.decode()
    response = curator.post(url, change_form(sofa, (lamp, "pin")))

    assert "exclude: never show" in page and reverse("admin:catalog_product_change", args=[lamp.pk]) in page
    assert response.status_code == 200
    assert "already pinned or excluded as a pair" in response.content.decode()
    assert list(ComplementCuration.objects.values_list("action", flat=True)) == ["exclude"]


def test_a_product_cannot_go_with_itself(curator):
    sofa = ProductFactory(name="Sofa")

    response = curator.post(reverse("admin:catalog_product_change", args=[sofa.pk]), change_form(sofa, (sofa, "pin")))

    assert "A product cannot go with itself." in response.content.decode()
    assert not ComplementCuration.objects.exists()


def test_staff_pin_or_exclude_pairs_from_the_co_view_list(curator):
    a, b, c = ProductFactory(name="Sofa A"), ProductFactory(name="Lamp B"), ProductFactory(name="Rug C")
    used = CoView.objects.create(product_a=a, product_b=b, kind="used", count=2, last_seen=timezone.now())
    viewed = CoView.objects.create(product_a=a, product_b=c, kind="viewed", count=9, last_seen=timezone.now())
    changelist = reverse("admin:catalog_coview_changelist")

    page = curator.get(changelist, {"kind": "used"}).content.decode()
    curator.post(changelist, {"action": "pin_pairs", "_selected_action": [used.pk]})
    curator.post(changelist, {"action": "exclude_pairs", "_selected_action": [viewed.pk, used.pk]})

    assert "Lamp B" in page and "Rug C" not in page  # filtered by kind
    assert dict(ComplementCuration.objects.values_list("other", "action")) == {b.pk: "exclude", c.pk: "exclude"}


def test_curating_more_pairs_than_a_page_at_once_is_refused_whole(curator):
    sofa, now = ProductFactory(name="Sofa"), timezone.now()
    pairs = [
        CoView.objects.create(product_a=sofa, product_b=ProductFactory(), kind="used", count=1, last_seen=now)
        for _ in range(51)
    ]

    response = curator.post(
        reverse("admin:catalog_coview_changelist"),
        {"action": "pin_pairs", "_selected_action": [pair.pk for pair in pairs]},
        follow=True,
    )

    assert "Select at most 50 pairs at a time; nothing was changed." in response.content.decode()
    assert not ComplementCuration.objects.exists()


def test_staff_exclude_a_category_and_serving_forgets_the_cached_set_at_once(curator):
    chairs, ovens = CategoryFactory(name="dining chair"), CategoryFactory(name="oven")
    assert categories_never_with(category_id=chairs.pk) == frozenset()  # read, and cached

    response = curator.post(
        reverse("admin:catalog_categorycomplementexclusion_add"), {"category": ovens.pk, "excluded": chairs.pk}
    )

    assert response.status_code == 302
    assert categories_never_with(category_id=chairs.pk) == {ovens.pk}
    exclusion = CategoryComplementExclusion.objects.get()
    curator.post(reverse("admin:catalog_categorycomplementexclusion_delete", args=[exclusion.pk]), {"post": "yes"})
    assert categories_never_with(category_id=ovens.pk) == frozenset()


def test_the_same_pair_of_categories_cannot_be_excluded_twice(curator):
    chairs, ovens = CategoryFactory(name="dining chair"), CategoryFactory(name="oven")
    CategoryComplementExclusion.objects.create(category=chairs, excluded=ovens)

    response = curator.post(
        reverse("admin:catalog_categorycomplementexclusion_add"), {"category": ovens.pk, "excluded": chairs.pk}
    )

    assert "already excluded as a pair" in response.content.decode()
    assert CategoryComplementExclusion.objects.count() == 1
