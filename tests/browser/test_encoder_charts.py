"""Staff in a real browser: an encoder version's page shows its training curves and its figures beside earlier
versions, drawn to fit a 1280 px window."""

from datetime import timedelta

import pytest
from django.utils import timezone

from encoders.models import EncoderVersion
from tests.browser.conftest import DESKTOP, no_sideways_scroll, screenshot, staff_sign_in

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

TERMS = ["loss", "recon", "supcon", "instance", "coview", "scene"]


def history(epochs: int) -> list[dict]:
    return [
        {"epoch": e, **{term: (i + 1) * 2.0 / (1 + 0.3 * e) + 0.05 * (e % 3) for i, term in enumerate(TERMS)}}
        for e in range(1, epochs + 1)
    ]


def figures(level: float) -> tuple[dict, dict]:
    names = ["web P@10", "loo P@10", "room hit@10", "room R@10", "scene hit@10", "scene R@10"]
    values = {name: min(0.97, level + 0.05 * i) for i, name in enumerate(names)}
    intervals = {name: [round(v - 0.06, 3), round(min(1.0, v + 0.06), 3)] for name, v in values.items()}
    return values, intervals


@pytest.fixture
def versions():
    now = timezone.now()
    made = []
    for days, (name, level) in enumerate([("enc-20261127-030000-aa01", 0.45), ("enc-20261128-030000-bb02", 0.5)]):
        metrics, intervals = figures(level)
        version = EncoderVersion.objects.create(name=name, status="ready", metrics=metrics, intervals=intervals)
        EncoderVersion.objects.filter(pk=version.pk).update(created_at=now - timedelta(days=3 - days))
        made.append(version)
    metrics, intervals = figures(0.55)
    made.append(
        EncoderVersion.objects.create(
            name="enc-20261130-030000-cc03",
            status="ready",
            metrics=metrics,
            intervals=intervals,
            history=history(40),
        )
    )
    return made


def test_staff_see_the_training_curves_and_the_figures_chart_fit_the_window(page, versions, django_user_model):
    staff_sign_in(page, django_user_model)

    page.goto(f"/admin/encoders/encoderversion/{versions[-1].pk}/change/")

    charts = page.locator("svg.chart")
    assert charts.count() == len(TERMS) + 1  # a curve per term, and the figures chart
    figures_chart = page.get_by_role("img", name="Figures of enc-20261130-030000-cc03 and earlier versions")
    figures_chart.scroll_into_view_if_needed()
    assert figures_chart.is_visible()
    assert page.get_by_role("img", name="Training curve: reconstruction, per epoch").is_visible()
    for i in range(charts.count()):
        box = charts.nth(i).bounding_box()
        assert box["width"] > 150 and box["height"] > 80  # drawn at a readable size
        assert box["x"] >= 0 and box["x"] + box["width"] <= DESKTOP["width"]  # and inside the window
    assert no_sideways_scroll(page)
    page.get_by_text("The figures as a table").click()
    assert page.get_by_role("cell", name="55 % (49–61 %)").first.is_visible()  # the text alternative, opened
    assert no_sideways_scroll(page)
    screenshot(page, "admin-encoder-charts")


def test_staff_read_each_figure_in_plain_words_rounded_beside_the_pretrained_baseline(page, django_user_model):
    version = EncoderVersion.objects.create(
        name="enc-20261130-040000-dd04",
        status="ready",
        metrics={"web P@10": 0.48498085599999285, "room hit@10": 0.5363},
        baseline={"web P@10": 0.638, "room hit@10": 0.144},
    )
    staff_sign_in(page, django_user_model)

    page.goto(f"/admin/encoders/encoderversion/{version.pk}/change/")
    content = page.locator("#content-main")
    text = content.inner_text()
    assert "Shoppers' photos" in text and "the share of the photographed kind" in text  # a label and its meaning
    assert "48 %" in text and "64 %" in text  # rounded, and the pretrained features' figure beside it
    assert "Goes well with (any)" in text and "54 %" in text and "14 %" in text
    assert "0.48498" not in text
    assert no_sideways_scroll(page)
    screenshot(page, "admin-encoder-figures")

    page.goto("/admin/encoders/encoderversion/")
    listing = page.locator("#result_list").inner_text()
    assert "48 %" in listing and "0.48498" not in listing


def test_a_version_without_figures_says_why_in_the_browser(page, django_user_model):
    version = EncoderVersion.objects.create(name="enc-20261130-040000-ee05", status="ready")
    staff_sign_in(page, django_user_model)

    page.goto(f"/admin/encoders/encoderversion/{version.pk}/change/")
    text = page.locator("#content-main").inner_text()
    assert "no evaluation data is configured" in text and "EVALUATION_QUERIES" in text
    screenshot(page, "admin-encoder-unmeasured")
