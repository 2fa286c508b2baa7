"""Furnish it within a budget in Chromium: on a room answer the shopper enters a budget, sees one product per piece
and the total, swaps one item, and learns the cheapest total when the budget is too small; at 1280 px and 375 px
(no sideways scrolling). Saves screenshots under var/screenshots/."""

import re
from decimal import Decimal

import pytest

from catalog.models import Product
from tests.browser.conftest import no_sideways_scroll, screenshot
from tests.browser.test_accessibility import AUDIT
from tests.browser.test_room_answer import room  # noqa: F401  (fixture)

pytestmark = [pytest.mark.services, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

# Each piece's lookalikes score 0.9, 0.85, 0.8, 0.75 (the room fixture); their prices, best first (None: no price).
PRICES = {"sofa": ["900", "400", "300", "100"], "lamp": ["300", "100", "50", None], "rug": ["80", "60", "40", "20"]}


@pytest.fixture
def priced_room(room, catalog_products):  # noqa: F811
    for kind, prices in PRICES.items():
        for product, price in zip(catalog_products[kind], prices, strict=True):
            Product.objects.filter(pk=product.pk).update(price=None if price is None else Decimal(price))
    Product.objects.filter(pk=catalog_products["rug"][0].pk).update(price_is_demo=True)
    return room


# The page opens at the set (its address ends in #furnish): the section's top at its scroll margin (1rem) from the
# top of the window, or the window scrolled as far as it goes. Scrolling may be smooth, so this is waited for.
SCROLLED_TO_THE_SET = """() => {
  const top = document.getElementById('furnish').getBoundingClientRect().top;
  const bottom = window.scrollY + window.innerHeight >= document.documentElement.scrollHeight - 1;
  return window.scrollY > 0 && (Math.abs(top - 16) < 2 || (bottom && top >= 0));
}"""


def set_names(page) -> list[str]:
    return page.locator("#furnish-set .furnish-item .name").all_inner_texts()


def furnish(page, budget: str) -> None:
    page.get_by_label("Your budget (EUR)").fill(budget)
    page.get_by_role("button", name="Furnish").click()
    page.wait_for_url(f"**budget={budget}**")
    page.wait_for_function(SCROLLED_TO_THE_SET)


def swap_to(page, piece: int, name: str) -> None:
    """Open piece ``piece``'s swap control and choose ``name``."""
    card = page.locator(f"#furnish-item-{piece}")
    card.locator("summary").click()
    card.get_by_role("link", name=re.compile(rf"^{name} ")).click()
    page.wait_for_url("**pick=**")
    page.wait_for_function(SCROLLED_TO_THE_SET)


def test_the_shopper_furnishes_the_room_within_a_budget_and_swaps_an_item(page, priced_room):
    page.goto(f"{priced_room.get_absolute_url()}?as=room")
    assert page.get_by_role("checkbox", name="Lamps").is_checked()

    furnish(page, "600")

    # SOFA 1 + LAMP 1 + RUG 0 (2.6, €580): the best-scoring set within €600
    assert set_names(page) == ["SOFA 1", "LAMP 1", "RUG 0"]
    assert page.locator("#furnish-total").inner_text() == "Total €580 of your €600 budget (with demo prices)."
    assert page.locator("#furnish-item-3 .price").inner_text() == "€80 demo price"
    assert page.locator("#furnish-left-out").inner_text() == "1 lookalike without a price was left out."
    assert page.evaluate(AUDIT) == []  # labels, alt text, contrast
    screenshot(page, "budget-set-1280", full_page=False)

    swap_to(page, 1, "SOFA 3")

    # the €100 sofa leaves room for the best lamp
    assert set_names(page) == ["SOFA 3", "LAMP 0", "RUG 0"]
    assert page.locator("#furnish-total").inner_text() == "Total €480 of your €600 budget (with demo prices)."
    assert page.locator("#furnish-item-1 .furnish-pinned").inner_text() == "Your choice"
    page.locator("#furnish-item-2 summary").click()
    page.wait_for_function(SCROLLED_TO_THE_SET)
    screenshot(page, "budget-swapped-1280", full_page=False)

    furnish(page, "100")

    assert page.locator("#furnish-set").count() == 0
    assert page.locator("#furnish-none").inner_text() == (
        "Nothing fits a budget of €100: the cheapest set of these 3 pieces costs €170. "
        "Raise the budget or untick a piece."
    )
    screenshot(page, "budget-too-small-1280", full_page=False)


def test_a_budget_on_a_phone_without_sideways_scrolling(phone, priced_room):
    phone.goto(f"{priced_room.get_absolute_url()}?as=room")
    phone.get_by_role("checkbox", name="Rugs & carpets").uncheck()
    furnish(phone, "500")

    assert set_names(phone) == ["SOFA 1", "LAMP 1"]
    assert phone.locator("#furnish-total").inner_text() == "Total €500 of your €500 budget."
    assert not phone.get_by_role("checkbox", name="Rugs & carpets").is_checked()
    assert no_sideways_scroll(phone)
    phone.locator("#furnish-item-1 summary").tap()
    assert no_sideways_scroll(phone)
    screenshot(phone, "budget-set-375")

    phone.locator("#furnish-item-1").get_by_role("link", name=re.compile(r"^SOFA 2 ")).tap()
    phone.wait_for_url("**pick=**")
    phone.wait_for_function(SCROLLED_TO_THE_SET)
    assert set_names(phone) == ["SOFA 2", "LAMP 1"]
    assert phone.locator("#furnish-total").inner_text() == "Total €400 of your €500 budget."

    furnish(phone, "0")
    assert "the cheapest set of these 2 pieces costs €150" in phone.locator("#furnish-none").inner_text()
    assert no_sideways_scroll(phone)
    screenshot(phone, "budget-too-small-375", full_page=False)

    phone.get_by_label("Your budget (EUR)").fill("")
    phone.get_by_role("button", name="Furnish").click()
    phone.wait_for_url("**budget=&**")
    phone.wait_for_function(SCROLLED_TO_THE_SET)
    assert phone.get_by_role("alert").inner_text() == "Enter a budget, for example 1500."
    screenshot(phone, "budget-error-375", full_page=False)
