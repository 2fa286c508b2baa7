"""The map page in Chromium: pictures come from the tiles' sprite sheets, zooming loads deeper tiles, the keyboard
reaches products, a phone does not scroll sideways, a product found by name is zoomed to and ringed, and a photo
is ringed among its matches. The map is written by the real writer into the test's INDEX_ROOT, as the index build
does (or by a real index build, with ``served``)."""

import json
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from recommender.models import InspirationUpload
from recommender.services.encoding import catalog_encode
from recommender.services.indexing import index_build, serving_activate
from recommender.services.uploads import parse_upload_request, upload_create
from tests.browser.conftest import DESKTOP, PHONE, no_sideways_scroll, screenshot
from tests.catalog.factories import CategoryFactory, ProductFactory
from tests.recommender.conftest import KINDS, draw, fit_latent_map, make_encoder_version, png
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


# -- finding a product, and where a photo lands (issue 13, item 5; item 4's mini-map) ----------------------------------

# The centre of an element and of the map's view, in page pixels.
CENTRES = """selector => {
  const centre = r => ({ x: r.left + r.width / 2, y: r.top + r.height / 2, width: r.width });
  const el = document.querySelector(selector);
  const plane = document.getElementById("map-plane").getBoundingClientRect();
  return { mark: el && centre(el.getBoundingClientRect()), view: centre(plane) };
}"""


@pytest.fixture
def served_deep(settings, tiny_checkpoint):
    """240 products served by a real index build, whose map (8 × 8 cells a tile) is several levels deep. Returns the
    sku of a product that only a tile of the deepest level holds."""
    from django.core.files.base import ContentFile

    for category, colour, shape in KINDS:
        kind = CategoryFactory(name=category, slug=category)
        for n in range(80):
            picture = draw(colour, shape, shade=(n % 40) - 20, size=48 + n % 5 * 4)
            ProductFactory(
                name=f"{category.upper()} {n:02d}",
                category=kind,
                image=ContentFile(png(picture), name=f"{category}-{n}.png"),
                image_sha256=f"{category}-{n}",
            )
    version = make_encoder_version(settings, tiny_checkpoint)
    catalog_encode(version=version)
    fit_latent_map(version)
    index = serving_activate(index_version=index_build(encoder_version=version))
    tiles = Path(settings.INDEX_ROOT) / index.name / "map" / "tiles"
    deepest = max(int(level.name) for level in tiles.iterdir())
    assert deepest >= 2
    tile = json.loads(next((tiles / str(deepest)).glob("*/*.json")).read_text())
    return tile["points"][0][tile["fields"].index("sku")]


def answered_photo():
    """A photo of a sofa, answered in this process (Celery runs eagerly) through the worker's own service."""
    image = SimpleUploadedFile("sofa.png", png(draw(KINDS[0][1], KINDS[0][2])), content_type="image/png")
    upload = upload_create(image=image, request=parse_upload_request(crop=None, category=None, max_price=None))
    upload.refresh_from_db()
    assert upload.status == InspirationUpload.Status.DONE
    return upload


def near(a: dict, b: dict, tolerance: float = 3) -> bool:
    return abs(a["x"] - b["x"]) <= tolerance and abs(a["y"] - b["y"]) <= tolerance


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["1280", "375"])
def test_finding_a_product_zooms_the_map_to_it_rings_it_and_focuses_it(page, served, viewport):
    rug = served["products"]["rug"][2]
    page.set_viewport_size(viewport)
    page.goto("/map/")
    page.wait_for_function(READY)

    page.fill("#map-find-input", "rug")
    page.get_by_text("4 products found.").wait_for()
    assert page.get_by_role("option").all_inner_texts()[2].startswith("RUG 2")
    assert page.locator("#map-find-input").get_attribute("aria-expanded") == "true"
    for _ in range(3):
        page.keyboard.press("ArrowDown")
    assert page.locator("#map-find-input").get_attribute("aria-activedescendant") == "map-find-option-2"
    page.keyboard.press("Enter")
    page.get_by_text("RUG 2 is ringed on the map.").wait_for()
    page.wait_for_function(READY)

    focused = page.evaluate(FOCUSED)
    assert focused == {"item": True, "sku": rug.sku, "inside": True}  # keyboard focus is on the product
    ring = page.evaluate(CENTRES, ".map-mark-found")
    item = page.evaluate(CENTRES, f'.map-item[data-sku="{rug.sku}"]')
    assert near(ring["mark"], item["mark"], 1) and near(ring["mark"], ring["view"])  # ringed, in the middle
    assert page.locator(".map-mark-found").is_visible()
    assert page.locator("#map-mini").is_visible()  # zoomed in
    screenshot(page, f"map-find-{viewport['width']}", full_page=False)


def test_a_product_only_a_deep_tile_holds_is_found_by_walking_down_the_tiles(page, served_deep):
    page.goto("/map/")
    page.wait_for_function(READY)

    page.fill("#map-find-input", served_deep)
    page.get_by_text("1 product found.").wait_for()
    page.keyboard.press("Enter")
    page.get_by_text("is ringed on the map.").wait_for()
    page.wait_for_function(READY)

    assert page.evaluate(FOCUSED) == {"item": True, "sku": served_deep, "inside": True}
    ring = page.evaluate(CENTRES, ".map-mark-found")
    item = page.evaluate(CENTRES, f'.map-item[data-sku="{served_deep}"]')
    assert near(ring["mark"], item["mark"], 1) and near(ring["mark"], ring["view"])
    screenshot(page, "map-find-deep", full_page=False)


def test_a_product_can_be_chosen_with_a_click_or_a_tap(page, served):
    lamp = served["products"]["lamp"][1]
    page.set_viewport_size(PHONE)
    page.goto("/map/")
    page.wait_for_function(READY)

    page.fill("#map-find-input", lamp.sku)
    page.get_by_text("1 product found.").wait_for()
    page.get_by_role("option", name=lamp.name).click()

    page.get_by_text(f"{lamp.name} is ringed on the map.").wait_for()
    assert page.evaluate(FOCUSED)["sku"] == lamp.sku


def test_a_product_saved_since_the_map_was_drawn_says_when_it_appears(page, served):
    ProductFactory(name="LAMP new", category=served["products"]["lamp"][0].category)
    page.goto("/map/")
    page.wait_for_function(READY)

    page.fill("#map-find-input", "lamp new")
    page.get_by_text("1 product found.").wait_for()
    page.keyboard.press("Enter")  # the first product listed

    page.get_by_text(
        "LAMP new was added after the map was drawn: it appears on the map after the next index build."
    ).wait_for()
    assert page.locator(".map-mark-found").count() == 0


def test_a_search_that_finds_nothing_says_so(page, served):
    page.goto("/map/")
    page.wait_for_function(READY)

    page.fill("#map-find-input", "wardrobe")

    page.get_by_text("No product matches “wardrobe”.").wait_for()
    assert page.locator("#map-find-results").is_hidden()


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["1280", "375"])
def test_where_is_my_photo_centres_the_map_on_it_among_its_outlined_matches(page, served, viewport):
    upload = answered_photo()
    page.set_viewport_size(viewport)
    page.goto(f"/map/?upload={upload.id}")
    page.get_by_role("button", name="Where is my photo").wait_for()
    page.wait_for_function(READY)

    assert (
        page.locator("#map-status").inner_text() == "Your photo is ringed on the map, among its 12 matches (outlined)."
    )
    assert page.locator(".map-mark-match").count() == 12
    assert near(*page.evaluate(CENTRES, ".map-mark-photo").values()) and page.locator(".map-mark-photo").is_visible()
    screenshot(page, f"map-photo-{viewport['width']}", full_page=False)

    page.focus("#map")
    for _ in range(4):
        page.keyboard.press("ArrowLeft")
    page.wait_for_timeout(100)
    assert not near(*page.evaluate(CENTRES, ".map-mark-photo").values())  # panned away

    page.get_by_role("button", name="Where is my photo").click()
    page.wait_for_timeout(100)
    assert near(*page.evaluate(CENTRES, ".map-mark-photo").values())


def test_the_photo_button_stays_hidden_for_an_upload_not_answered(page, served):
    upload = InspirationUpload.objects.create(image="uploads/x.png")  # queued
    page.goto(f"/map/?upload={upload.id}")

    page.get_by_text("Your photo is still being read").wait_for()
    assert page.get_by_role("button", name="Where is my photo").is_hidden()


# Each match's link on the results page's mini-map: its box, and whether a point 9 px right of its centre (outside
# the drawn dot) still reaches a match's link.
MATCH_TARGETS = """() => Array.from(document.querySelectorAll("#where a.found")).map(a => {
  const r = a.getBoundingClientRect(), x = r.left + r.width / 2 + 9, y = r.top + r.height / 2;
  const hit = document.elementFromPoint(x, y);
  return { width: r.width, height: r.height, reaches: Boolean(hit && hit.closest("a.found")),
           hit: hit && (hit.tagName + "." + hit.getAttribute("class") + "#" + (hit.parentNode.id || "")) };
})"""


def test_on_a_phone_the_mini_maps_matches_are_24px_targets_and_it_links_to_the_whole_map(page, served):
    upload = answered_photo()
    page.set_viewport_size(PHONE)
    page.goto(upload.get_absolute_url())
    page.locator("#where").scroll_into_view_if_needed()

    targets = page.evaluate(MATCH_TARGETS)
    assert len(targets) == 12
    assert all(t["width"] >= 24 and t["height"] >= 24 for t in targets), targets
    assert all(t["reaches"] for t in targets), [t for t in targets if not t["reaches"]]
    assert no_sideways_scroll(page)
    screenshot(page, "results-where-375", full_page=False)

    page.get_by_role("link", name="See it on the whole map").click()
    page.wait_for_url(f"**/map/?upload={upload.id}")
    page.get_by_role("button", name="Where is my photo").wait_for()
    assert page.locator(".map-mark-photo").count() == 1


def test_on_a_desktop_the_mini_map_links_to_the_whole_map(page, served):
    upload = answered_photo()
    page.goto(upload.get_absolute_url())

    assert page.get_by_role("link", name="See it on the whole map").get_attribute("href") == f"/map/?upload={upload.id}"
    assert all(t["width"] >= 24 for t in page.evaluate(MATCH_TARGETS))
    page.locator("#where").scroll_into_view_if_needed()
    screenshot(page, "results-where", full_page=False)
