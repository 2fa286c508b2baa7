"""Staff in a real browser: sign in, add a product with a photo, and find it recommended at once."""

import time

import pytest

from catalog.models import Product
from tests.browser.conftest import screenshot, staff_sign_in
from tests.recommender.conftest import KINDS, draw, png

pytestmark = [pytest.mark.services, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

LAMP = KINDS[1]


def reload_until(page, url: str, condition, *, timeout: float = 30) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        page.goto(url)
        if condition():
            return True
        time.sleep(0.5)
    return False


def test_staff_add_a_product_and_find_it_on_a_similar_products_page(page, served, worker, django_user_model):
    lamp = served["products"]["lamp"][0]
    staff_sign_in(page, django_user_model)

    page.goto("/admin/catalog/product/add/")
    page.fill("#id_sku", "NEW-LAMP-1")
    page.fill("#id_name", "Brand-new lamp")
    page.select_option("#id_category", label="lamp")
    page.fill("#id_price", "149.00")
    page.set_input_files(
        "#id_image", {"name": "new-lamp.png", "mimeType": "image/png", "buffer": png(draw(LAMP[1], LAMP[2], shade=6))}
    )
    page.click("input[name=_continue]")
    page.wait_for_url("**/change/")
    assert "was added successfully" in page.locator(".messagelist").inner_text()
    added = Product.objects.get(sku="NEW-LAMP-1")

    similar = page.locator("#similar")
    found = reload_until(page, lamp.get_absolute_url(), lambda: "Brand-new lamp" in similar.inner_text())
    assert found, worker.log.read_text()[-3000:]

    change_url = f"/admin/catalog/product/{added.pk}/change/"
    neighbours = page.locator("ol.neighbours")
    assert reload_until(page, change_url, lambda: neighbours.count() == 1)
    assert "LAMP" in neighbours.locator("li").first.inner_text()
    neighbours.scroll_into_view_if_needed()
    screenshot(page, "admin-product")


@pytest.fixture
def slow_training_worker(redis_url, live_server, tmp_path, eager_celery):
    """A real worker whose retraining lasts long enough (a few hundred epochs) to be watched from the page."""
    from tests.encoders.helpers import tiny_config
    from tests.recommender.worker import Worker, broker_url, use_broker

    real = Worker(
        broker=broker_url(redis_url, database=13),
        log=tmp_path / "worker.log",
        encoder_config=tiny_config(epochs=1500).to_dict(),
        concurrency=1,
    )
    restore = use_broker(eager_celery, real.broker)
    real.start()
    yield real
    real.stop()
    restore()


def test_staff_see_the_live_versions_and_can_retrain(page, served, slow_training_worker, django_user_model):
    staff_sign_in(page, django_user_model)

    page.goto("/admin/encoders/encoderversion/")
    assert "enc-test" in page.locator("#result_list").inner_text()
    page.goto("/admin/recommender/indexversion/")
    assert served["index"].name in page.locator("#result_list").inner_text()
    page.goto("/admin/recommender/retrainrun/")

    page.get_by_role("link", name="Retrain now").click()
    assert "keep being served by the live version" in page.locator("#content-main").inner_text()
    screenshot(page, "admin-retrain-confirm")
    page.get_by_role("button", name="Start the retrain").click()
    page.wait_for_url("**/admin/recommender/retrainrun/")
    page.locator("#retrain-live:not([hidden])").wait_for(timeout=60_000)  # the run, live: stage and progress
    assert page.locator("#retrain-stage").inner_text()
    screenshot(page, "admin-retrain-running")
    page.locator("#result_list").get_by_text("Promoted").wait_for(timeout=240_000)  # the list reloads at the end
    assert page.locator("#retrain-live").is_hidden()


def test_staff_draw_what_the_model_sees_of_an_upload_on_its_admin_page(page, served, worker, django_user_model):
    """Shoppers are not shown the decoder's redrawing; staff ask for it on the upload's page, and a worker on the
    pictures queue draws it."""
    from django.core.files.uploadedfile import SimpleUploadedFile

    from recommender.models import InspirationUpload
    from recommender.services.uploads import parse_upload_request, upload_create

    photo = SimpleUploadedFile("lamp.png", png(draw(LAMP[1], LAMP[2])), content_type="image/png")
    upload = upload_create(image=photo, request=parse_upload_request(crop=None, category=None, max_price=None))
    change_url = f"/admin/recommender/inspirationupload/{upload.pk}/change/"
    answered = reload_until(page, f"/api/uploads/{upload.pk}", lambda: '"status": "done"' in page.content())
    assert answered, worker.log.read_text()[-3000:]

    staff_sign_in(page, django_user_model, next_url=change_url)
    assert "Not drawn yet." in page.locator(".field-what_the_model_sees").inner_text()
    page.get_by_role("button", name="Draw what the model sees").click()
    page.wait_for_url(f"**{change_url}")
    assert "Drawing what the model sees of 1 upload(s)" in page.locator(".messagelist").inner_text()

    picture = page.get_by_role("img", name="What the model sees: the decoder's redrawing of this upload")
    assert reload_until(page, change_url, lambda: picture.count() == 1), worker.log.read_text()[-3000:]
    assert picture.evaluate("img => img.complete && img.naturalWidth > 0")
    assert InspirationUpload.objects.get(pk=upload.pk).reconstruction
    screenshot(page, "admin-upload-model-sees")
