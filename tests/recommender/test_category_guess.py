"""What an answered photo looks like (the category head's guesses): in the API, and on the results page as
"Looks like: …" with a one-click switch to the next likely categories through the page's own filters."""

import re
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from pytest_django.asserts import assertContains, assertNotContains

from catalog.models import Category
from recommender.models import InspirationUpload
from recommender.services.category_guesses import category_line
from recommender.services.search import Filters
from recommender.services.uploads import parse_upload_request, upload_create
from tests.catalog.factories import CategoryFactory
from tests.recommender.conftest import KINDS, draw, png

pytestmark = pytest.mark.django_db

SOFA = KINDS[0]
DISPLAY_NAMES = {"sofa": "Sofas", "lamp": "Lamps", "rug": "Rugs & carpets"}


def guesses(*pairs) -> list[dict]:
    return [{"slug": slug, "probability": probability} for slug, probability in pairs]


def done_upload(categories: list[dict], **fields) -> InspirationUpload:
    """A done upload as the worker leaves it, with no results (what it looks like needs none)."""
    return InspirationUpload.objects.create(
        image="uploads/done.png", status=InspirationUpload.Status.DONE, results=[], categories=categories, **fields
    )


@pytest.fixture
def named():
    """The three test categories with the display names shoppers read."""
    return {slug: CategoryFactory(name=slug, slug=slug, display_name=name) for slug, name in DISPLAY_NAMES.items()}


@pytest.fixture
def answered(served, django_capture_on_commit_callbacks):
    """A sofa photo answered through the worker's service, its vector kept (so its filters can change), then given
    the category head's guesses."""
    for slug, name in DISPLAY_NAMES.items():
        Category.objects.filter(slug=slug).update(display_name=name)
    photo = SimpleUploadedFile("sofa.png", png(draw(SOFA[1], SOFA[2])), content_type="image/png")
    with django_capture_on_commit_callbacks(execute=True):
        upload = upload_create(image=photo, request=parse_upload_request(crop=None, category=None, max_price=None))
    upload.refresh_from_db()
    assert upload.status == InspirationUpload.Status.DONE
    upload.categories = guesses(("sofa", 0.9213), ("lamp", 0.05), ("rug", 0.021), ("gone", 0.005))
    upload.save(update_fields=["categories"])
    return upload


def status_json(client, upload: InspirationUpload, **query) -> dict:
    response = client.get(f"/api/uploads/{upload.id}", query)
    assert response.status_code == 200
    return response.json()


def category_line_html(response) -> str:
    html = response.content.decode()
    match = re.search(r'<p class="category-line" id="category-line">(.*?)</p>', html, re.S)
    assert match, "no category line on the page"
    return match.group(1)


def line_text(response) -> str:
    return " ".join(re.sub(r"<[^>]+>", "", category_line_html(response)).split())


def switch_links(response) -> list[tuple[str, str]]:
    """(href, text) of each link of the category line, in order."""
    links = re.findall(r'<a href="([^"]*)" class="category-choice">([^<]*)</a>', category_line_html(response))
    return [(href.replace("&amp;", "&"), text) for href, text in links]


def names(response) -> list[str]:
    grid = response.content.decode().split('id="results"', 1)[1].split("</ul>", 1)[0]
    return re.findall(r'<span class="name">([^<]*)</span>', grid)


# the API


def test_the_api_names_the_guessed_categories_most_likely_first_with_rounded_probabilities(client, named):
    upload = done_upload(guesses(("sofa", 0.92126), ("lamp", 0.0512), ("rug", 0.0004)))

    body = status_json(client, upload)

    assert body["categories"] == [
        {"slug": "sofa", "name": "Sofas", "probability": 0.921},
        {"slug": "lamp", "name": "Lamps", "probability": 0.051},
        {"slug": "rug", "name": "Rugs & carpets", "probability": 0.0},
    ]


def test_the_api_leaves_out_categories_the_catalog_no_longer_has(client, named):
    upload = done_upload(guesses(("gone", 0.6), ("lamp", 0.3), ("also-gone", 0.05), ("sofa", 0.05)))

    assert [row["slug"] for row in status_json(client, upload)["categories"]] == ["lamp", "sofa"]


def test_the_api_sends_an_empty_list_without_a_category_head(client, named):
    assert status_json(client, done_upload([]))["categories"] == []


def test_the_api_sends_no_categories_before_the_upload_is_done(client, named):
    upload = InspirationUpload.objects.create(
        image="uploads/q.png", status=InspirationUpload.Status.PROCESSING, categories=guesses(("sofa", 0.9))
    )

    assert status_json(client, upload)["categories"] == []


def test_the_api_sends_at_most_category_guesses_of_them(client, named, settings):
    settings.CATEGORY_GUESSES = 2
    upload = done_upload(guesses(("sofa", 0.5), ("lamp", 0.3), ("rug", 0.2)))

    assert [row["slug"] for row in status_json(client, upload)["categories"]] == ["sofa", "lamp"]


def test_the_api_reads_the_categories_in_one_query_whatever_their_number(client, named):
    without = done_upload([])
    one = done_upload(guesses(("sofa", 0.9)))
    five = done_upload(guesses(("sofa", 0.5), ("lamp", 0.2), ("rug", 0.1), ("gone", 0.1), ("x", 0.1)))
    counts = {}
    for name, upload in {"without": without, "one": one, "five": five}.items():
        with CaptureQueriesContext(connection) as captured:
            status_json(client, upload)
        counts[name] = len(captured)

    assert counts["one"] == counts["five"] == counts["without"] + 1


# the line, as the service builds it


def test_unfiltered_the_line_offers_the_second_and_third_guesses_of_at_least_two_percent(named):
    upload = done_upload(guesses(("sofa", 0.9), ("lamp", 0.08), ("rug", 0.019)))

    line = category_line(upload=upload, filters=Filters(), can_refine=True)

    assert line.top.slug == "sofa" and line.top.percent == 90 and line.shown is None
    assert [(choice.guess.slug, choice.filters) for choice in line.choices] == [("lamp", Filters(category="lamp"))]


def test_the_fourth_guess_is_never_offered(named):
    CategoryFactory(name="bed", slug="bed", display_name="Beds")
    upload = done_upload(guesses(("sofa", 0.4), ("lamp", 0.3), ("rug", 0.2), ("bed", 0.1)))

    line = category_line(upload=upload, filters=Filters(), can_refine=True)

    assert [choice.guess.slug for choice in line.choices] == ["lamp", "rug"]


def test_filtered_to_another_category_the_line_offers_the_top_guess_and_all_categories(named):
    upload = done_upload(guesses(("sofa", 0.9), ("lamp", 0.08), ("rug", 0.02)))
    price = Decimal("300")

    line = category_line(
        upload=upload, filters=Filters(category="rug", max_price=price, same_colour=True), can_refine=True
    )

    assert line.shown.slug == "rug" and line.shown_guess.percent == 2
    assert [choice.filters for choice in line.choices] == [
        Filters(category="sofa", max_price=price, same_colour=True),
        Filters(max_price=price, same_colour=True),
    ]


def test_filtered_to_the_top_guess_the_line_offers_the_next_guesses_and_all_categories(named):
    upload = done_upload(guesses(("sofa", 0.9), ("lamp", 0.08)))

    line = category_line(upload=upload, filters=Filters(category="sofa"), can_refine=True)

    assert line.shows_top
    assert [(choice.guess and choice.guess.slug, choice.filters) for choice in line.choices] == [
        ("lamp", Filters(category="lamp")),
        (None, Filters()),
    ]


def test_a_vector_that_cannot_be_searched_again_gets_the_line_without_links(named):
    upload = done_upload(guesses(("sofa", 0.9), ("lamp", 0.08)))

    line = category_line(upload=upload, filters=Filters(), can_refine=False)

    assert line.top.slug == "sofa" and line.choices == []


def test_no_line_without_guesses_or_when_no_guessed_category_is_in_the_catalog(named):
    assert category_line(upload=done_upload([]), filters=Filters(), can_refine=True) is None
    gone = done_upload(guesses(("gone", 0.9)))
    assert category_line(upload=gone, filters=Filters(), can_refine=True) is None


def test_malformed_rows_are_left_out(named):
    upload = done_upload(
        [{"slug": "gone"}, "sofa", {"slug": "sofa", "probability": "high"}, {"slug": "lamp", "probability": 0.7}]
    )

    assert category_line(upload=upload, filters=Filters(), can_refine=True).top.slug == "lamp"


# the results page


def test_the_results_page_says_what_the_photo_looks_like_and_offers_the_next_guesses(client, answered):
    response = client.get(answered.get_absolute_url())

    assert line_text(response) == "Looks like: Sofas (92 %). Not Sofas? Lamps (5 %) · Rugs &amp; carpets (2 %)"
    assert switch_links(response) == [
        ("?category=lamp&max_price=", "Lamps (5 %)"),
        ("?category=rug&max_price=", "Rugs &amp; carpets (2 %)"),
    ]


def test_the_second_guess_link_shows_that_category_and_offers_the_top_guess_and_all_categories(client, answered):
    response = client.get(answered.get_absolute_url(), {"category": "lamp", "max_price": ""})

    assert names(response) and all(name.startswith("LAMP") for name in names(response))
    assert line_text(response) == "Showing only Lamps (5 %). Looks like: Sofas (92 %) · All categories"
    assert switch_links(response) == [
        ("?category=sofa&max_price=", "Sofas (92 %)"),
        ("?category=&max_price=", "All categories"),
    ]


def test_all_categories_is_the_first_answer_again(client, answered):
    first = client.get(answered.get_absolute_url())

    response = client.get(answered.get_absolute_url(), {"category": "", "max_price": ""})

    assert names(response) == names(first) and len(names(response)) == 12
    assert line_text(response).startswith("Looks like: Sofas (92 %).")


def test_filtered_to_the_top_guess_the_page_says_so(client, answered):
    response = client.get(answered.get_absolute_url(), {"category": "sofa", "max_price": ""})

    assert line_text(response) == (
        "Showing only Sofas, what it looks like most (92 %). Not Sofas? Lamps (5 %) · Rugs &amp; carpets (2 %) · "
        "All categories"
    )


def test_the_switch_keeps_the_price_and_colour_filters(client, answered):
    response = client.get(answered.get_absolute_url(), {"category": "", "max_price": "300", "colour": "same"})

    assert [href for href, _ in switch_links(response)] == [
        "?category=lamp&max_price=300&colour=same",
        "?category=rug&max_price=300&colour=same",
    ]


def test_an_upload_without_guesses_shows_no_line(client, answered):
    InspirationUpload.objects.filter(pk=answered.pk).update(categories=[])

    assertNotContains(client.get(answered.get_absolute_url()), 'id="category-line"')


def test_an_upload_that_cannot_be_searched_again_shows_the_guess_without_links(client, named):
    upload = done_upload(guesses(("sofa", 0.9), ("lamp", 0.08)))

    response = client.get(upload.get_absolute_url())

    assert line_text(response) == "Looks like: Sofas (90 %)."
    assert switch_links(response) == []


def test_category_names_are_escaped(client, answered):
    Category.objects.filter(slug="lamp").update(display_name='<img src=x onerror="alert(1)">Lamps')

    response = client.get(answered.get_absolute_url())

    assertNotContains(response, "<img src=x")
    assertContains(response, "&lt;img src=x onerror=&quot;alert(1)&quot;&gt;Lamps (5 %)")


def test_the_line_costs_one_query_whatever_the_number_of_guesses(client, answered):
    client.get(answered.get_absolute_url())  # warm the serving state
    costs = []
    for categories in ([], guesses(("sofa", 0.9)), answered.categories):
        InspirationUpload.objects.filter(pk=answered.pk).update(categories=categories)
        with CaptureQueriesContext(connection) as captured:
            client.get(answered.get_absolute_url(), {"category": "rug", "max_price": ""})
        costs.append(len(captured))

    assert costs[1] == costs[2] == costs[0] + 1
