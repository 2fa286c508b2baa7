"""A room answer in Chromium: the photo with a numbered hotspot on each piece, chosen by mouse, keyboard or touch,
brings that piece's strip of lookalikes forward; at 1280 px and 375 px (no sideways scrolling). The room answer
appears on the page of a shopper who waited for it (its pieces are found after the first answer). Saves
screenshots under var/screenshots/."""

import pytest
from django.core.files.base import ContentFile
from PIL import Image, ImageDraw

from catalog.models import Category
from recommender.models import InspirationUpload
from recommender.services import upload_processing
from recommender.services.upload_processing import upload_pieces_find
from tests.browser.conftest import PHONE, no_sideways_scroll, screenshot
from tests.browser.test_accessibility import AUDIT
from tests.browser.test_shopper import upload_file, wait_for_results
from tests.recommender.conftest import KINDS, png
from tests.recommender.test_room_answer import piece_of

pytestmark = [pytest.mark.services, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

DISPLAY_NAMES = {"sofa": "Sofas", "lamp": "Lamps", "rug": "Rugs & carpets"}
# Where each piece stands in the room photo (x, y, w, h as fractions), in the order the worker ranks them.
BOXES = {"sofa": (0.08, 0.45, 0.5, 0.35), "lamp": (0.72, 0.12, 0.16, 0.55), "rug": (0.25, 0.82, 0.55, 0.14)}


def room_photo(width: int = 800, height: int = 500) -> bytes:
    """A plain room: a wall, a floor, and a sofa, a lamp and a rug drawn at their boxes."""
    image = Image.new("RGB", (width, height), (236, 230, 218))
    pen = ImageDraw.Draw(image)
    pen.rectangle((0, int(height * 0.7), width, height), fill=(190, 160, 120))
    for category, colour, shape in KINDS:
        x, y, w, h = BOXES[category]
        box = (int(x * width), int(y * height), int((x + w) * width), int((y + h) * height))
        if shape == "round":
            pen.ellipse(box, fill=colour)
        elif shape == "stripes":
            for top in range(box[1], box[3], 12):
                pen.rectangle((box[0], top, box[2], min(top + 6, box[3])), fill=colour)
        else:
            pen.rectangle(box, fill=colour)
    return png(image)


@pytest.fixture
def room(catalog_products):
    """A done upload of a room photo as the worker leaves it: three pieces, each with its lookalikes, and what goes
    well with them."""
    for slug, name in DISPLAY_NAMES.items():
        Category.objects.filter(slug=slug).update(display_name=name)
    pieces = [
        {
            "box": list(BOXES[category]),
            "category": category,
            "confidence": confidence,
            "results": [
                {"product_id": product.pk, "score": round(0.9 - n / 20, 3)}
                for n, product in enumerate(catalog_products[category])
            ],
        }
        for category, confidence in (("sofa", 0.93), ("lamp", 0.81), ("rug", 0.66))
    ]
    return InspirationUpload.objects.create(
        image=ContentFile(room_photo(), name="room.png"),
        status=InspirationUpload.Status.DONE,
        results=[{"product_id": product.pk, "score": 0.8} for product in catalog_products["sofa"]],
        kind=InspirationUpload.Kind.ROOM,
        pieces=pieces,
        complements=[{"product_id": catalog_products["rug"][1].pk, "score": 0.7}],
    )


def chosen_strip(page) -> str:
    """The strip brought forward: the highlighted one (CSS :target), which also has the keyboard focus."""
    return page.evaluate(
        """() => {
          const target = document.querySelector('.piece-strip:target');
          const focused = document.activeElement.closest('.piece-strip');
          return target && focused === target ? target.id : null;
        }"""
    )


def strip_in_view(page, strip_id: str) -> bool:
    return page.evaluate(
        """(id) => {
          const box = document.getElementById(id).getBoundingClientRect();
          return box.top >= -1 && box.top < window.innerHeight / 2;
        }""",
        strip_id,
    )


def hotspots_on_the_photo(page) -> list[dict]:
    """Each hotspot's size and whether it lies wholly on the photo and is what a tap at its centre hits."""
    return page.evaluate(
        """() => {
          const photo = document.querySelector('.room-photo').getBoundingClientRect();
          return [...document.querySelectorAll('.hotspot')].map(a => {
            const box = a.getBoundingClientRect();
            const hit = document.elementFromPoint(box.left + box.width / 2, box.top + box.height / 2);
            return {
              width: box.width, height: box.height,
              inside: box.left >= photo.left && box.right <= photo.right && box.top >= photo.top
                && box.bottom <= photo.bottom,
              reachable: hit === a || a.contains(hit),
            };
          });
        }"""
    )


def test_the_shopper_chooses_a_piece_of_the_room_by_mouse_and_by_keyboard(page, room):
    page.goto(room.get_absolute_url())

    hotspots = page.locator(".hotspot")
    assert hotspots.count() == 3
    for spot in hotspots_on_the_photo(page):
        assert spot["inside"] and spot["reachable"] and spot["width"] >= 44 and spot["height"] >= 44, spot
    assert page.get_by_role("link", name="Lamps: 4 lookalikes").is_visible()
    assert page.locator("#piece-1").get_by_role("heading", name="Sofas: 4 lookalikes").is_visible()
    assert page.locator("#piece-2 .strip .card").count() == 4
    assert page.locator("#complements .card").count() == 1
    everything = page.locator("#everything")
    assert everything.get_by_role("heading", name="Everything in this room").is_visible()
    assert everything.locator(".card").count() == 10  # the three pieces' 12 lookalikes, the best 10
    assert page.evaluate(AUDIT) == []  # labels, alt text, contrast
    screenshot(page, "room-answer-1280")

    page.get_by_role("link", name="Rugs & carpets: 4 lookalikes").click()
    page.wait_for_function("() => location.hash === '#piece-3'")
    page.wait_for_function("() => document.getElementById('piece-3').getBoundingClientRect().top < 200")
    assert chosen_strip(page) == "piece-3" and strip_in_view(page, "piece-3")
    assert page.locator("#hotspot-3").get_attribute("aria-current") == "true"
    screenshot(page, "room-answer-chosen-1280", full_page=False)

    # From the keyboard: the hotspots are in reading order, Enter chooses one, Tab goes on into its strip.
    page.evaluate("window.scrollTo(0, 0)")
    page.locator("#hotspot-1").focus()
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "hotspot-2"
    page.keyboard.press("Enter")
    page.wait_for_function("() => location.hash === '#piece-2'")
    assert chosen_strip(page) == "piece-2"
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.closest('.piece-strip')?.id") == "piece-2"
    assert page.locator("#hotspot-3").get_attribute("aria-current") is None


def test_the_switch_answers_the_room_as_one_piece(page, room):
    page.goto(room.get_absolute_url())

    page.get_by_role("link", name="Answer as one piece").click()
    page.wait_for_url("**?as=piece")

    assert page.locator(".hotspot").count() == 0
    assert page.locator("#results .card").count() == 4
    page.set_viewport_size(PHONE)
    assert no_sideways_scroll(page)
    screenshot(page, "room-answered-as-one-piece-375", full_page=False)
    page.get_by_role("link", name="Answer as a room").click()
    page.wait_for_url("**?as=room")
    assert page.locator(".hotspot").count() == 3


def test_a_room_on_a_phone_is_tapped_without_sideways_scrolling(phone, room):
    phone.goto(room.get_absolute_url())
    assert no_sideways_scroll(phone)
    for spot in hotspots_on_the_photo(phone):
        assert spot["inside"] and spot["reachable"] and spot["width"] >= 44, spot
    screenshot(phone, "room-answer-375")

    phone.locator("#hotspot-2").tap()
    phone.wait_for_function("() => location.hash === '#piece-2'")
    phone.wait_for_function("() => Math.abs(document.getElementById('piece-2').getBoundingClientRect().top) < 40")
    assert chosen_strip(phone) == "piece-2"
    assert no_sideways_scroll(phone)
    screenshot(phone, "room-answer-chosen-375", full_page=False)


def follows_the_pieces(request) -> bool:
    """The answer's page long-polls the upload for its pieces."""
    return "/api/uploads/" in request.url and "after=done%3Apieces" in request.url


def upload_a_room_and_see_it_followed(page) -> InspirationUpload:
    """Upload a room photo from the home page; returns the upload once its answer is shown and the page follows
    it for its pieces."""
    page.goto("/")
    page.set_input_files("#image", upload_file("room.png", room_photo()))
    page.locator("#preview-image").wait_for()
    with page.expect_request(follows_the_pieces):
        page.click("#upload-submit")
        return wait_for_results(page)


def test_the_room_answer_appears_on_the_page_when_its_pieces_are_found(page, served, settings, monkeypatch):
    """The shopper uploads a room photo and stays on the answer; the pieces task runs only after the page showed
    the first answer (Celery runs eagerly in the live server here, with the pieces task held back), through the
    worker's service with a finder that returns a sofa, a lamp and a rug. The page is never reloaded by the test."""
    settings.REDIS_URL = ""  # the long-poll re-reads the database
    held_back = []
    monkeypatch.setattr(upload_processing, "_send_find_pieces", held_back.append)
    upload = upload_a_room_and_see_it_followed(page)
    assert held_back == [str(upload.pk)] and page.locator(".hotspot").count() == 0
    assert page.locator("#pieces-status").inner_text() == "Looking for each piece of furniture in your photo…"

    found = [piece_of(served["products"][kind][0], 0.9, box=BOXES[kind]) for kind in ("sofa", "lamp", "rug")]
    upload_pieces_find(upload_id=upload.pk, pieces_of=lambda encoder, picture: found)

    page.locator(".hotspot").first.wait_for()
    assert page.locator(".hotspot").count() == 3 and page.locator(".piece-strip").count() == 3
    assert page.locator("#pieces-status").count() == 0  # nothing more is waited for


def test_a_photo_without_pieces_says_so_and_stops_following(page, served, settings, monkeypatch):
    settings.REDIS_URL = ""
    monkeypatch.setattr(upload_processing, "_send_find_pieces", lambda upload_id: None)
    upload = upload_a_room_and_see_it_followed(page)

    upload_pieces_find(upload_id=upload.pk, pieces_of=lambda encoder, picture: [])

    status = page.locator("#pieces-status")
    status.get_by_text("We found no separate pieces of furniture in your photo.").wait_for()
    polls = []
    page.on("request", lambda request: "/api/uploads/" in request.url and polls.append(request.url))
    page.wait_for_timeout(1000)
    assert polls == [] and page.locator("#results .card").count() > 0


# Four sofas the finder boxed round one spot and a lamp beside them: their boxes' middles a few pixels apart.
CROWDED = [
    ("sofa", 0.93, (0.30, 0.40, 0.20, 0.30)),
    ("sofa", 0.9, (0.33, 0.42, 0.20, 0.30)),
    ("lamp", 0.85, (0.36, 0.38, 0.10, 0.30)),
    ("sofa", 0.8, (0.31, 0.45, 0.22, 0.28)),
    ("sofa", 0.7, (0.35, 0.40, 0.18, 0.32)),
]

OVERLAPS = """() => {
  const boxes = [...document.querySelectorAll('.hotspot')].map(a => a.getBoundingClientRect());
  const pairs = [];
  boxes.forEach((a, i) => boxes.slice(i + 1).forEach((b, j) => {
    if (a.left < b.right && b.left < a.right && a.top < b.bottom && b.top < a.bottom) pairs.push([i + 1, i + j + 2]);
  }));
  return pairs;
}"""


@pytest.fixture
def crowded_room(catalog_products):
    for slug, name in DISPLAY_NAMES.items():
        Category.objects.filter(slug=slug).update(display_name=name)
    pieces = [
        {
            "box": list(box),
            "category": category,
            "confidence": confidence,
            "results": [{"product_id": product.pk, "score": 0.9} for product in catalog_products[category][:2]],
        }
        for category, confidence, box in CROWDED
    ]
    return InspirationUpload.objects.create(
        image=ContentFile(room_photo(), name="room.png"),
        status=InspirationUpload.Status.DONE,
        kind="room",
        pieces=pieces,
    )


def test_hotspots_of_pieces_close_together_never_overlap_on_a_phone(phone, crowded_room):
    phone.goto(crowded_room.get_absolute_url())

    assert phone.locator(".hotspot").count() == 5
    assert phone.evaluate(OVERLAPS) == []
    for spot in hotspots_on_the_photo(phone):
        assert spot["inside"] and spot["reachable"] and spot["width"] >= 24 and spot["height"] >= 24, spot
    assert no_sideways_scroll(phone)
    screenshot(phone, "room-answer-crowded-375", full_page=False)

    # the sofas are one strip: the fourth sofa's hotspot brings it forward
    assert phone.locator(".piece-strip").count() == 2
    phone.locator("#hotspot-5").tap()
    phone.wait_for_function("() => location.hash === '#piece-1'")
    assert phone.locator("#piece-1 h3").inner_text().endswith("Sofas · 4 in your photo")
