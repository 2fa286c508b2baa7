"""A shopper's flows in a real browser: upload (file picker, drag and drop, paste, a marked box), errors,
results, feedback, the map."""

import base64
import re

import pytest
from PIL import Image

from recommender.models import InspirationUpload, RecommendationFeedback
from tests.browser.conftest import screenshot
from tests.recommender.conftest import KINDS, draw, png

pytestmark = [pytest.mark.services, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

SOFA, LAMP = KINDS[0], KINDS[1]
RESULTS_TIMEOUT = 60_000


def room_photo(size: int = 64) -> bytes:
    """A "room": a sofa on the left, a lamp on the right."""
    image = Image.new("RGB", (size * 2, size), "white")
    image.paste(draw(SOFA[1], SOFA[2], size=size), (0, 0))
    image.paste(draw(LAMP[1], LAMP[2], size=size), (size, 0))
    return png(image)


# The results page waits for nothing more: its pieces are in (no "Looking for…" line) or known absent.
PIECES_SETTLED = """() => {
  const line = document.getElementById('pieces-status');
  return document.readyState === 'complete' && (!line || line.textContent.startsWith('We found no'));
}"""


def upload_file(name: str, data: bytes, mime: str = "image/png") -> dict:
    return {"name": name, "mimeType": mime, "buffer": data}


def result_names(page) -> list[str]:
    return page.locator("#results .card .name").all_inner_texts()


def wait_for_results(page) -> InspirationUpload:
    page.wait_for_url(re.compile(r"/uploads/[0-9a-f-]{36}/$"))
    page.locator("#results").wait_for(timeout=RESULTS_TIMEOUT)
    return InspirationUpload.objects.get(pk=page.url.rstrip("/").rsplit("/", 1)[1])


def test_a_shopper_uploads_a_photo_with_the_file_picker_and_sees_results(page, served, worker):
    page.goto("/")
    screenshot(page, "home")

    page.set_input_files("#image", upload_file("lamp.png", png(draw(LAMP[1], LAMP[2]))))
    page.locator("#preview-image").wait_for()
    page.click("#upload-submit")
    upload = wait_for_results(page)
    assert upload.status == InspirationUpload.Status.DONE, worker.log.read_text()[-2000:]
    # the worker looks for the photo's pieces after the answer; the page follows until they are in (it reloads)
    # or known absent (it says so), and then waits for nothing more
    page.wait_for_function(PIECES_SETTLED)
    polls_after_answer = []
    page.on("request", lambda request: "/api/uploads/" in request.url and polls_after_answer.append(request.url))

    names = result_names(page)
    assert len(names) == 12 and names[0].startswith("LAMP")
    first = page.locator("#results .card a").first
    assert re.search(r"\d+% match", first.inner_text())
    assert page.get_by_text("What the model sees").count() == 0  # staff-only now
    page.wait_for_timeout(1000)
    assert polls_after_answer == []  # the answer is final: the page waits for nothing more
    assert page.locator("#upload-point").count() == 1
    assert page.get_by_role("status").first.inner_text() == "12 products look like your photo."
    screenshot(page, "results")

    first.click()
    assert page.locator("h1").inner_text().startswith("LAMP")


def test_drag_and_drop_uploads_the_dropped_photo(page, served, worker):
    page.goto("/")
    page.evaluate(
        """async ({data, name}) => {
            const bytes = Uint8Array.from(atob(data), c => c.charCodeAt(0));
            const transfer = new DataTransfer();
            transfer.items.add(new File([bytes], name, {type: "image/png"}));
            const zone = document.getElementById("dropzone");
            for (const type of ["dragenter", "dragover", "drop"]) {
                zone.dispatchEvent(new DragEvent(type, {dataTransfer: transfer, bubbles: true, cancelable: true}));
            }
        }""",
        {"data": base64.b64encode(png(draw(SOFA[1], SOFA[2]))).decode(), "name": "dropped-sofa.png"},
    )

    page.locator("#preview-image").wait_for()
    assert page.eval_on_selector("#image", "input => input.files[0].name") == "dropped-sofa.png"
    page.click("#upload-submit")
    wait_for_results(page)
    page.wait_for_function(PIECES_SETTLED)  # the page may reload once more to show the photo's pieces

    assert result_names(page)[0].startswith("SOFA")


def test_a_pasted_photo_is_used(page, served):
    page.goto("/")
    page.evaluate(
        """({data}) => {
            const bytes = Uint8Array.from(atob(data), c => c.charCodeAt(0));
            const transfer = new DataTransfer();
            transfer.items.add(new File([bytes], "image.png", {type: "image/png"}));
            document.dispatchEvent(new ClipboardEvent("paste", {clipboardData: transfer, bubbles: true}));
        }""",
        {"data": base64.b64encode(png(draw(LAMP[1], LAMP[2]))).decode()},
    )

    page.locator("#preview-image").wait_for()
    assert page.eval_on_selector("#image", "input => input.files.length") == 1


def test_marking_a_box_searches_only_inside_it(page, served, worker):
    page.goto("/")
    page.set_input_files("#image", upload_file("room.png", room_photo()))
    picture = page.locator("#preview-image")
    picture.wait_for()
    page.wait_for_function("document.getElementById('preview-image').naturalWidth > 0")
    box = picture.bounding_box()

    # drag a box around the lamp, on the right half of the photo
    page.mouse.move(box["x"] + box["width"] * 0.55, box["y"] + box["height"] * 0.05)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * 0.8, box["y"] + box["height"] * 0.5, steps=5)
    page.mouse.move(box["x"] + box["width"] * 0.97, box["y"] + box["height"] * 0.95, steps=5)
    page.mouse.up()
    crop = [float(v) for v in page.input_value("#crop").split(",")]
    assert 0.5 < crop[0] < 0.6 and crop[2] > 0.35 and crop[3] > 0.8
    assert page.locator("#crop-box").is_visible()
    screenshot(page, "upload-crop-box")

    page.click("#upload-submit")
    upload = wait_for_results(page)

    assert upload.crop == pytest.approx(crop, abs=1e-3)
    assert [name[:4] for name in result_names(page)[:4]] == ["LAMP"] * 4
    assert "inside the box you marked" in page.locator(".upload-summary").inner_text()


def test_the_box_can_be_marked_and_adjusted_with_the_keyboard(page, served):
    page.goto("/")
    page.set_input_files("#image", upload_file("room.png", room_photo()))
    page.locator("#preview-image").wait_for()

    page.click("#crop-start")  # the box starts in the middle and takes the focus
    assert page.input_value("#crop") == "0.25,0.25,0.5,0.5"
    page.keyboard.press("ArrowRight")
    page.keyboard.press("Shift+ArrowDown")

    assert page.input_value("#crop") == "0.27,0.25,0.5,0.52"
    page.keyboard.press("Escape")
    assert page.input_value("#crop") == ""


def test_a_file_that_is_not_a_photo_shows_a_clear_error(page, served):
    page.goto("/")

    page.set_input_files("#image", upload_file("notes.txt", b"just some text", "text/plain"))

    alert = page.get_by_role("alert")
    assert "“notes.txt” is not a photo" in alert.inner_text()
    assert page.eval_on_selector("#image", "input => input.files.length") == 0


def test_a_text_file_posing_as_a_jpeg_gets_the_servers_error(page, served):
    page.goto("/")

    page.set_input_files("#image", upload_file("notes.jpg", b"just some text", "image/jpeg"))
    page.click("#upload-submit")

    alert = page.get_by_role("alert")
    alert.wait_for()
    assert "The file is not an image Lookalike can read" in alert.inner_text()
    assert page.url.endswith("/")
    assert not InspirationUpload.objects.exists()


def test_feedback_on_a_recommendation_is_recorded(page, served):
    sofa = served["products"]["sofa"][0]
    page.goto(sofa.get_absolute_url())
    card = page.locator("#similar .card").first
    recommended = card.locator(".name").inner_text()

    good = card.get_by_role("button", name=f"Good match: {recommended}")
    good.click()

    page.wait_for_function("b => b.getAttribute('aria-pressed') === 'true'", arg=good.element_handle())
    stored = RecommendationFeedback.objects.get()
    assert (stored.source, stored.recommended.name, stored.context, stored.verdict) == (
        sofa,
        recommended,
        "similar",
        "good",
    )
    screenshot(page, "product")

    page.reload()
    card = page.locator("#similar .card").first
    assert card.get_by_role("button", name=f"Good match: {recommended}").get_attribute("aria-pressed") == "true"
    not_this = card.get_by_role("button", name=f"Not this: {recommended}")
    not_this.focus()
    page.keyboard.press("Enter")  # by keyboard too
    page.wait_for_function("b => b.getAttribute('aria-pressed') === 'true'", arg=not_this.element_handle())
    assert RecommendationFeedback.objects.get().verdict == "bad"
