"""The shopper's experience, second pass (issue 13), in Chromium at 1280 px and 375 px: choosing a photo on a
phone, prices and filters that work, human category names, the results page, error pages, the Sweet Home 3D
demo catalog, names with any letters. Each test saves screenshots under var/screenshots/."""

import re
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.utils import timezone

from catalog.models import Category, CoView, Product
from recommender.models import InspirationUpload
from recommender.services.uploads import parse_upload_request, upload_create
from tests.browser.conftest import PHONE, no_sideways_scroll, screenshot
from tests.browser.test_shopper import room_photo
from tests.catalog.test_sweethome3d import make_pack
from tests.images import image_bytes
from tests.recommender.conftest import KINDS, draw, png

pytestmark = [pytest.mark.services, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

LAMP = KINDS[1]
DISPLAY_NAMES = {"sofa": "Sofas", "lamp": "Lamps", "rug": "Rugs & carpets"}


@pytest.fixture
def named_categories(catalog_products):
    """Display names given before the index (and its map) is built."""
    for slug, name in DISPLAY_NAMES.items():
        Category.objects.filter(slug=slug).update(display_name=name)


def answer(*, crop: str | None = None, photo: bytes | None = None) -> InspirationUpload:
    """An upload answered in this process (Celery runs eagerly) through the worker's own service."""
    image = SimpleUploadedFile("photo.png", photo or png(draw(LAMP[1], LAMP[2])), content_type="image/png")
    upload = upload_create(image=image, request=parse_upload_request(crop=crop, category=None, max_price=None))
    upload.refresh_from_db()
    assert upload.status == InspirationUpload.Status.DONE
    return upload


def result_names(page) -> list[str]:
    return page.locator("#results .card .name").all_inner_texts()


def both_widths(page, name: str) -> None:
    """Screenshots at 1280 px and at 375 px, and no sideways scrolling on the phone."""
    screenshot(page, f"{name}-1280")
    page.set_viewport_size(PHONE)
    assert no_sideways_scroll(page), name
    screenshot(page, f"{name}-375")
    page.set_viewport_size({"width": 1280, "height": 900})


# 1. choosing a photo on a phone


def test_a_phone_offers_take_a_photo_and_choose_a_photo_and_no_desktop_hints(phone, page, served):
    phone.goto("/")

    assert phone.locator("#take-photo").is_visible() and phone.locator("#choose-photo").is_visible()
    assert phone.get_attribute("#camera", "capture") == "environment"
    assert phone.get_attribute("#image", "capture") is None  # the gallery stays reachable
    assert not phone.locator("#dropzone-hint").is_visible()
    targets = phone.locator(".site-header nav a").evaluate_all(
        "links => links.map(a => { const r = a.getBoundingClientRect(); return [a.textContent, r.width, r.height]; })"
    )
    assert targets and all(width >= 44 and height >= 44 for _, width, height in targets), targets
    screenshot(phone, "home-photo-choices-375")

    phone.set_input_files(
        "#camera", {"name": "camera.png", "mimeType": "image/png", "buffer": png(draw(LAMP[1], "round"))}
    )
    phone.locator("#preview-image").wait_for()
    assert phone.eval_on_selector("#image", "input => input.files[0].name") == "camera.png"
    assert phone.eval_on_selector("#camera", "input => input.files.length") == 0  # sent once
    assert phone.locator("#chosen-photo").inner_text() == "Photo chosen: camera.png"
    phone.click("#upload-submit")
    phone.wait_for_url(re.compile(r"/uploads/[0-9a-f-]{36}/$"))
    assert InspirationUpload.objects.get().status == InspirationUpload.Status.DONE

    page.goto("/")
    assert page.locator("#dropzone-hint").is_visible() and page.locator("#choose-photo").is_visible()
    assert not page.locator("#take-photo").is_visible()  # a desktop browser ignores capture: one button
    screenshot(page, "home-photo-choices-1280")


# 2. prices that work


def test_the_shopper_changes_the_filters_on_the_results_page_and_loosens_them(page, named_categories, served):
    upload = answer()
    first_answer = list(upload.results)
    page.goto(upload.get_absolute_url())
    assert all(re.fullmatch(r"€\d[\d,]*", price) for price in page.locator("#results .price").all_inner_texts())

    page.select_option("#refine-category", "rug")
    page.fill("#refine-max-price", "200")
    page.click("#refine-submit")
    page.wait_for_url(re.compile(r"\?category=rug&max_price=200$"))
    assert sorted(result_names(page)) == ["RUG 0", "RUG 1"]  # priced 100 and 200
    both_widths(page, "results-filters-changed")

    page.fill("#refine-max-price", "50")
    page.click("#refine-submit")
    page.wait_for_url(re.compile(r"max_price=50$"))
    assert result_names(page) == []
    assert page.locator("#no-results").inner_text().startswith("Loosen the filters:")
    assert page.get_by_role("status").first.inner_text() == "No product with a price of €50 or less in Rugs & carpets."
    both_widths(page, "results-nothing-left")

    page.get_by_role("link", name="Show every price in Rugs & carpets").click()
    assert sorted(result_names(page)) == ["RUG 0", "RUG 1", "RUG 2", "RUG 3"]
    upload.refresh_from_db()
    assert InspirationUpload.objects.count() == 1 and upload.results == first_answer


def test_a_product_page_shows_its_price_in_the_currency_and_says_when_it_is_made_up(page, served):
    sofa = served["products"]["sofa"][1]
    Product.objects.filter(pk=sofa.pk).update(price=Decimal("1299"), price_is_demo=True)

    page.goto(sofa.get_absolute_url())

    assert page.locator(".product-info .price").inner_text() == "€1,299 demo price"
    both_widths(page, "product-demo-price")


# 3. human category names


def test_pages_show_category_display_names_and_keep_slugs_in_addresses(page, named_categories, served):
    upload = answer()
    page.goto("/")
    assert page.locator("#category option").all_inner_texts() == ["Any category", "Lamps", "Rugs & carpets", "Sofas"]

    page.goto(upload.get_absolute_url())
    assert "Lamps" in page.locator("#results .card .meta").first.inner_text()
    legend = page.locator("#where .legend li").all_inner_texts()
    assert {"Lamps", "Rugs & carpets", "Sofas"} <= set(legend) and "rug" not in legend

    page.goto("/products/")
    page.get_by_role("link", name="Rugs & carpets").first.click()
    assert page.url.endswith("?category=rug")
    assert page.locator("h1").inner_text() == "Rugs & carpets"
    both_widths(page, "products-display-names")


# 4. the results page: the marked box, and cards that are alike


def test_the_results_photo_draws_the_box_that_was_searched(page, served):
    upload = answer(crop="0.5,0,0.5,1", photo=room_photo())  # the lamp, right half of the room

    page.goto(upload.get_absolute_url())

    photo = page.locator(".upload-photo-frame img").bounding_box()
    box = page.locator("#crop-outline").bounding_box()
    assert abs(box["x"] - (photo["x"] + photo["width"] / 2)) <= 3 and abs(box["width"] - photo["width"] / 2) <= 3
    assert abs(box["y"] - photo["y"]) <= 3 and abs(box["height"] - photo["height"]) <= 3
    both_widths(page, "results-marked-box")


def test_goes_well_with_cards_all_show_no_match_bar(page, served, settings):
    sofa, lamp = served["products"]["sofa"][0], served["products"]["lamp"][0]
    CoView.objects.create(
        kind=CoView.Kind.USED,
        product_a=sofa,
        product_b=lamp,
        count=settings.COVIEW_MIN_SESSIONS,
        last_seen=timezone.now(),
    )

    page.goto(sofa.get_absolute_url())

    assert page.locator("#goes-with .card").count() == 8
    assert page.locator("#goes-with .match").count() == 0
    assert page.locator("#similar .match").count() == page.locator("#similar .card").count() == 8
    both_widths(page, "product-goes-with")


# 6. errors as a person sees them


def test_a_removed_product_shows_the_designed_not_found_page(page, served):
    sofa = served["products"]["sofa"][0]
    Product.objects.filter(pk=sofa.pk).update(is_active=False)

    response = page.goto(sofa.get_absolute_url())

    assert response.status == 404
    assert page.locator("h1").inner_text() == "We can’t find that page"
    assert page.get_by_role("link", name="Browse the products").is_visible()
    assert "URLconf" not in page.content()
    both_widths(page, "error-404")


def test_a_server_error_shows_the_designed_page(page, settings):
    page.goto("/")  # the page fixture's URLs; now the same plus a page that fails
    settings.ROOT_URLCONF = "tests.browser.error_urls"

    response = page.goto("/broken/")

    assert response.status == 500
    assert page.locator("h1").inner_text() == "Something went wrong on our side"
    assert page.locator(".site-header .brand").is_visible()  # styled: the stylesheet loaded
    assert page.evaluate("getComputedStyle(document.querySelector('.site-header')).display") == "flex"
    both_widths(page, "error-500")


# 8. the newcomer's demo catalog (Sweet Home 3D)


def test_the_sweet_home_3d_catalog_shows_sharp_icons_single_labels_and_clean_article_numbers(page, tmp_path):
    make_pack(tmp_path / "Scopia.sh3f")
    call_command("import_catalog", str(tmp_path), verbosity=0)

    page.goto("/products/")
    assert sorted(page.locator(".card .name").all_inner_texts()) == ["Desk lamp", "Sofa"]  # no phone, bus, people
    assert page.locator(".card .meta").all_inner_texts() == ["Lights", "Living room"]
    assert page.eval_on_selector(".card img", "img => getComputedStyle(img).objectFit") == "scale-down"
    both_widths(page, "sweethome3d-products")

    page.get_by_role("link", name=re.compile("Sofa")).first.click()
    assert page.locator(".product-info .meta").inner_text() == "Living room"
    assert page.locator(".product dd").first.inner_text() == "SCOPIA-SIMPLE-SOFA"
    # the photo's size is known once it has loaded (read earlier, naturalWidth is 0); one that never loads times out
    page.wait_for_function("() => { const img = document.querySelector('.product-photo'); return img && img.complete }")
    natural, shown = page.eval_on_selector(
        ".product-photo", "img => [img.naturalWidth, img.getBoundingClientRect().width]"
    )
    assert natural == 128 and shown <= natural  # at its own size, never upscaled
    both_widths(page, "sweethome3d-product")


# 9. names


def test_names_keep_every_letter_and_are_found_in_small_letters(page, tmp_path):
    (tmp_path / "a.jpg").write_bytes(image_bytes(size=(300, 300)))
    rows = ["1,SÖDERHAMN,Sofy,499,,a.jpg", "2,Ørsta,Sofy,299,,a.jpg", "3,Łóżko,Łóżka,199,,a.jpg"]
    (tmp_path / "catalog.csv").write_text("sku,name,category,price,description,image\n" + "\n".join(rows), "utf-8")
    call_command("import_catalog", str(tmp_path / "catalog.csv"), verbosity=0)

    page.goto("/products/")
    assert set(page.locator(".card .name").all_inner_texts()) == {"Łóżko", "Ørsta", "SÖDERHAMN"}
    page.fill("#q", "söderhamn")
    page.click(".filters button")
    assert page.locator(".card .name").all_inner_texts() == ["SÖDERHAMN"]
    both_widths(page, "products-unicode-search")

    page.goto("/products/?q=łóżko")
    page.locator(".card a").first.click()
    assert page.locator("h1").inner_text() == "Łóżko"
    assert page.title() == "Łóżko · Lookalike"
    both_widths(page, "product-unicode")
