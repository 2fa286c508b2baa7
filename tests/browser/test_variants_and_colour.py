"""In a real browser: the results page shows variants as one card with their options, and the "same colour"
control ranks the photo's colour first, at 1280 and at 375 px."""

import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from catalog.models import Product
from catalog.services.features import products_features_fill
from recommender.models import InspirationUpload
from recommender.services.uploads import parse_upload_request, upload_create
from tests.browser.conftest import PHONE, no_sideways_scroll, screenshot
from tests.recommender.conftest import KINDS, draw, png

pytestmark = [pytest.mark.services, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

SOFA = KINDS[0]
RED, BLUE = [41.0, 61.0, 42.0, 1.0], [30.0, 30.0, -62.0, 1.0]


@pytest.fixture
def red_sofa_upload(served):
    """Three sofas that share one picture, a blue sofa, a red lamp; a red sofa photo answered in this process
    (Celery runs eagerly here) through the worker's service."""
    products_features_fill(missing_only=False)
    sofas, lamps = served["products"]["sofa"], served["products"]["lamp"]
    Product.objects.filter(pk__in=[s.pk for s in sofas[:3]]).update(image_sha256="one-picture")
    Product.objects.filter(pk=sofas[3].pk).update(colours=[BLUE])
    Product.objects.filter(pk=lamps[0].pk).update(colours=[RED])
    photo = SimpleUploadedFile("sofa.png", png(draw(SOFA[1], SOFA[2])), content_type="image/png")
    upload = upload_create(image=photo, request=parse_upload_request(crop=None, category=None, max_price=None))
    upload.refresh_from_db()
    assert upload.status == InspirationUpload.Status.DONE, upload.error
    return upload


def result_names(page) -> list[str]:
    return page.locator("#results .card .name").all_inner_texts()


def test_variants_show_as_one_card_and_same_colour_puts_the_photos_colour_first(page, red_sofa_upload):
    page.goto(red_sofa_upload.get_absolute_url())

    names = result_names(page)
    assert len(names) == 10 and len([n for n in names if n in {"SOFA 0", "SOFA 1", "SOFA 2"}]) == 1
    grouped = page.locator("#results .card").filter(has=page.locator(".variants"))
    assert grouped.count() == 1
    assert "Also in 2 other colours or sizes" in grouped.locator(".variants").inner_text()
    assert grouped.locator(".variants a").count() == 2
    screenshot(page, "results-variants-1280")

    page.get_by_label("Same colour as your photo").check()
    page.click("#refine-submit")
    page.wait_for_url(re.compile(r"colour=same"))

    names = result_names(page)
    assert "LAMP 0" in names[:2] and names[0].startswith(("SOFA", "LAMP"))
    assert names.index("SOFA 3") > names.index("LAMP 0")  # the blue sofa after the red lamp
    assert page.locator("#refine-colour").is_checked()
    swatch = page.locator(".swatch-colour").evaluate("el => getComputedStyle(el).backgroundColor")
    red, green, blue = (int(v) for v in re.findall(r"\d+", swatch)[:3])
    assert red > 150 and green < 80 and blue < 80  # the photo's red
    screenshot(page, "results-same-colour-1280")

    page.set_viewport_size(PHONE)
    assert no_sideways_scroll(page)
    option = page.locator("#results .variants a").first
    box = option.bounding_box()
    assert box["height"] >= 24  # a target a thumb can hit
    screenshot(page, "results-same-colour-375")

    option.click()
    page.wait_for_url(re.compile(r"/products/sofa-"))
    assert page.locator("h1").inner_text().startswith("SOFA")
