"""Staff curate "Goes well with" in a real browser: pin a product on another product's admin page, and the
shopper's product page shows it first."""

import pytest

from catalog.models import ComplementCuration
from tests.browser.conftest import screenshot, staff_sign_in

pytestmark = [pytest.mark.services, pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def test_staff_pin_a_product_and_the_product_page_shows_it_first(page, served, django_user_model):
    sofa = served["products"]["sofa"][0]
    page.goto(sofa.get_absolute_url())
    cards = page.locator("#goes-with .card .name")
    before = cards.all_inner_texts()
    pinned = next(p for p in served["products"]["rug"] + served["products"]["lamp"] if p.name != before[0])

    staff_sign_in(page, django_user_model)
    page.goto(f"/admin/catalog/product/{sofa.pk}/change/")
    row = page.locator("#complement_curations-group tr.form-row").first
    row.locator(".select2-selection").click()  # the autocomplete: type a few letters, pick the product
    page.locator(".select2-search__field").fill(pinned.name)
    page.locator(".select2-results__option", has_text=pinned.name).first.click()
    row.locator("select[name$='-action']").select_option("pin")
    page.locator("#complement_curations-group").scroll_into_view_if_needed()
    screenshot(page, "admin-goes-with-pin", full_page=False)
    page.click("input[name=_continue]")
    page.wait_for_url("**/change/")
    assert "was changed successfully" in page.locator(".messagelist").inner_text()
    assert ComplementCuration.objects.filter(product=sofa, other=pinned, action="pin").exists()

    page.goto(sofa.get_absolute_url())

    assert cards.first.inner_text() == pinned.name
    assert cards.count() == len(before)
    page.locator("#goes-with").scroll_into_view_if_needed()
    screenshot(page, "product-goes-with-pinned")
