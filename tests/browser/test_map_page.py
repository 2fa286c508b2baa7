"""The map page in Chromium: pictures come from the tiles' sprite sheets, zooming loads deeper tiles, the keyboard
reaches products, and a phone does not scroll sideways. The map is written by the real writer into the test's
INDEX_ROOT, as the index build does."""

from pathlib import Path

import pytest

from tests.browser.conftest import PHONE, no_sideways_scroll, screenshot
from tests.recommender.test_map import build_map

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

READY = "document.getElementById('map').getAttribute('aria-busy') === 'false'"
# Product links in view, with whether their picture is drawn from a sprite sheet.
IN_VIEW = """() => {
  const box = document.getElementById("map").getBoundingClientRect();
  return Array.from(document.querySelectorAll(".map-item:not([hidden])"))
    .filter(a => { const r = a.getBoundingClientRect();
      return r.right > box.left && r.left < box.right && r.bottom > box.top && r.top < box.bottom; })
    .map(a => ({ sku: a.dataset.sku, label: a.getAttribute("aria-label"), href: a.getAttribute("href"),
                 sprite: getComputedStyle(a).backgroundImage, width: a.getBoundingClientRect().width }));
}"""

FOCUSED = """() => {
  const a = document.activeElement, r = a.getBoundingClientRect();
  const box = document.getElementById("map").getBoundingClientRect();
  return { item: a.classList.contains("map-item"), sku: a.dataset.sku,
           inside: r.left >= box.left && r.right <= box.right && r.top >= box.top && r.bottom <= box.bottom };
}"""


@pytest.fixture
def map_of_400(settings):
    # 4 × 4 cells a tile: small tiles, so that even 400 products make a pyramid several levels deep
    return build_map(Path(settings.INDEX_ROOT), n=400, tile_cells=4)


def tile_requests(page) -> list[str]:
    return page.evaluate("performance.getEntriesByType('resource').map(e => e.name).filter(n => n.includes('/tiles/'))")


def test_the_map_shows_pictures_from_sprite_sheets(page, map_of_400):
    page.goto("/map/")
    page.wait_for_function(READY)

    items = page.evaluate(IN_VIEW)
    assert items and all(".jpg" in item["sprite"] for item in items)
    assert all(item["width"] >= 24 for item in items)  # tap targets
    sample = map_of_400["products"][items[0]["sku"]]
    assert items[0]["label"] == sample.name and items[0]["href"] == sample.url
    assert page.locator("#map-status").inner_text() == "400 products on the map."
    assert page.locator("#map-legend li").all_inner_texts() == ["lamp", "rug", "sofa"]
    assert len(items) < 400  # the first view shows the most representative products, not all of them
    screenshot(page, "map-tiles")


def test_zooming_in_loads_deeper_tiles_and_shows_more_of_the_catalog(page, map_of_400):
    page.goto("/map/")
    page.wait_for_function(READY)
    levels_before = {url.split("/tiles/")[1].split("/")[0] for url in tile_requests(page)}

    for _ in range(3):
        page.get_by_role("button", name="Zoom in").click()
    page.wait_for_timeout(100)
    page.wait_for_function(READY)

    levels_after = {url.split("/tiles/")[1].split("/")[0] for url in tile_requests(page)}
    assert max(map(int, levels_after)) > max(map(int, levels_before))
    items = page.evaluate(IN_VIEW)
    assert items and all(".jpg" in item["sprite"] for item in items)
    assert page.locator("#map-mini").is_visible()  # where the view is, on the mini-map
    screenshot(page, "map-tiles-zoomed", full_page=False)


def test_tabbing_through_the_products_keeps_each_in_view(page, map_of_400):
    page.goto("/map/")
    page.wait_for_function(READY)
    page.focus("#map")
    page.keyboard.press("+")
    page.wait_for_timeout(100)
    page.wait_for_function(READY)

    seen = []
    for _ in range(400):
        page.keyboard.press("Tab")
        focused = page.evaluate(FOCUSED)
        if not focused["item"]:
            break  # past the last product in the map: on to the page's next link
        assert focused["inside"], focused
        seen.append(focused["sku"])

    assert len(set(seen)) >= 10


def test_keys_pan_and_zoom_the_map(page, map_of_400):
    page.goto("/map/")
    page.wait_for_function(READY)
    page.focus("#map")
    first = page.evaluate(IN_VIEW)

    page.keyboard.press("+")
    page.keyboard.press("ArrowRight")
    page.wait_for_timeout(100)
    page.wait_for_function(READY)

    assert {i["sku"] for i in page.evaluate(IN_VIEW)} != {i["sku"] for i in first}
    page.keyboard.press("0")
    page.wait_for_timeout(100)
    assert {i["sku"] for i in page.evaluate(IN_VIEW)} == {i["sku"] for i in first}


def test_on_a_phone_the_map_fits_without_sideways_scroll(page, map_of_400):
    page.set_viewport_size(PHONE)
    page.goto("/map/")
    page.wait_for_function(READY)

    items = page.evaluate(IN_VIEW)
    assert items and all(".jpg" in item["sprite"] for item in items)
    assert no_sideways_scroll(page)
    screenshot(page, "map-tiles-375")


def test_without_a_map_the_page_says_when_it_will_appear(page):
    page.goto("/map/")

    page.get_by_text("The map appears once a trained model is live.").wait_for()
    assert page.locator("#map").is_hidden()
