"""At a 375 px phone width no page scrolls sideways; the pages are saved as screenshots."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from recommender.models import InspirationUpload
from recommender.services.uploads import parse_upload_request, upload_create
from tests.browser.conftest import PHONE, no_sideways_scroll, screenshot
from tests.recommender.conftest import KINDS, draw, png

# what sticks out: the page's width and the elements that reach past the window's right edge
WIDEST = """[document.documentElement.scrollWidth, window.innerWidth,
  Array.from(document.querySelectorAll("body *"))
    .filter(el => el.getBoundingClientRect().right > window.innerWidth + 1)
    .slice(0, 5).map(el => el.tagName + (el.id ? "#" + el.id : "") + "." + el.className)]"""

pytestmark = [pytest.mark.services, pytest.mark.slow, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def done_upload(served):
    """An upload encoded in this process (Celery runs eagerly here) through the same service as the worker."""
    photo = SimpleUploadedFile("lamp.png", png(draw(KINDS[1][1], KINDS[1][2])), content_type="image/png")
    upload = upload_create(image=photo, request=parse_upload_request(crop=None, category=None, max_price=None))
    upload.refresh_from_db()
    assert upload.status == InspirationUpload.Status.DONE
    return upload


def test_no_page_scrolls_sideways_on_a_phone(page, served, done_upload):
    page.set_viewport_size(PHONE)
    sofa = served["products"]["sofa"][0]
    pages = {
        "home": "/",
        "products": "/products/",
        "product": sofa.get_absolute_url(),
        "results": done_upload.get_absolute_url(),
        "map": "/map/",
    }
    wide = []
    for name, url in pages.items():
        page.goto(url)
        if name == "map":
            page.locator(".map-item:not([hidden])").first.wait_for()
        if name == "home":
            page.set_input_files(
                "#image", {"name": "lamp.png", "mimeType": "image/png", "buffer": png(draw((30, 60, 200), "round"))}
            )
            page.click("#crop-start")
        if not no_sideways_scroll(page):
            wide.append((name, page.evaluate(WIDEST)))
        screenshot(page, f"{name}-375")

    assert not wide, f"pages wider than the phone: {wide}"


# the cards whose name is wider than its own box (the box is the card's width: the text runs out of it)
NAMES_PAST_THEIR_CARD = """Array.from(document.querySelectorAll(".card .name"))
  .filter(name => name.scrollWidth > name.clientWidth + 1)
  .map(name => name.textContent)"""


def test_a_name_of_one_long_word_wraps_inside_its_card(page, served):
    sofa = served["products"]["sofa"][0]
    sofa.name = "CHRYSALIDOCARPUSLUTESCENS" * 3  # a plant's Latin name, thrice: one word wider than any card
    sofa.save(update_fields=["name"])

    page.goto("/products/")

    assert page.locator(".card .name", has_text=sofa.name).count() == 1
    assert page.evaluate(NAMES_PAST_THEIR_CARD) == []
