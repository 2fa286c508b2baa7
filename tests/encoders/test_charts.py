"""An encoder version's admin page charts its training curves and its figures beside earlier versions: inline SVG
drawn by the server, scaled to the page, with text alternatives."""

import re
from datetime import timedelta

import pytest
from django.utils import timezone

from encoders.charts import ChartedVersion, figures_chart_html, training_curves_html
from encoders.models import EncoderVersion

HISTORY = [
    {"epoch": 1, "loss": 5.0, "recon": 0.09, "supcon": 4.2},
    {"epoch": 2, "loss": 3.5, "recon": 0.07, "supcon": 3.1},
    {"epoch": 3, "loss": 3.0, "recon": 0.06, "supcon": 2.8},
]


def test_each_term_of_the_loss_gets_its_own_curve_with_a_text_alternative():
    html = training_curves_html(HISTORY)

    assert html.count("<svg") == 3 and html.count("<polyline") == 3  # total, reconstruction, contrastive
    assert 'viewBox="0 0 320 180"' in html and "width:100%;height:auto" in html  # scales to the page
    assert "<title" in html and 'role="img"' in html
    assert "total loss (weighted sum): 5 after epoch 1, 3 after epoch 3; lowest 3 after epoch 3." in html
    assert "<summary>The training curves as a table</summary>" in html and "<td>0.07</td>" in html


def test_the_curve_falls_where_the_loss_falls():
    html = training_curves_html(HISTORY)

    points = re.search(r'<polyline points="([^"]+)"', html).group(1).split()
    heights = [float(point.split(",")[1]) for point in points]
    assert heights == sorted(heights)  # SVG y grows downwards: a falling loss draws a line going down


def test_a_figures_chart_puts_each_version_on_a_scale_with_its_interval():
    versions = [
        ChartedVersion(name="enc-old", figures={"web P@10": 0.60}, intervals={"web P@10": [0.55, 0.65]}, live=True),
        ChartedVersion(name="enc-new", figures={"web P@10": 0.75}, intervals={"web P@10": [0.70, 0.80]}, current=True),
    ]

    html = figures_chart_html(versions, ["web P@10", "loo P@10"], {"web P@10": "Shoppers' photos"})

    assert html.count("<circle") == 2 and "loo P@10" not in html  # a figure no version has is left out
    assert "enc-old (live)" in html and "enc-new (this)" in html
    assert "Shoppers&#x27; photos 75 % (70–80 %)" in html  # the description reads this version's figures
    assert "<td>60 % (55–65 %)</td>" in html  # and the table holds every version's


@pytest.mark.django_db
def test_the_admin_page_of_a_version_draws_its_curves_and_its_figures_beside_earlier_ones(admin_client):
    earlier = EncoderVersion.objects.create(
        name="enc-earlier", status="ready", metrics={"web P@10": 0.6}, intervals={"web P@10": [0.5, 0.7]}
    )
    EncoderVersion.objects.filter(pk=earlier.pk).update(created_at=timezone.now() - timedelta(days=1))
    version = EncoderVersion.objects.create(
        name="enc-now",
        status="ready",
        metrics={"web P@10": 0.75, "loo P@10": 0.9},
        intervals={"web P@10": [0.7, 0.8], "loo P@10": [0.88, 0.92]},
        history=HISTORY,
    )

    page = admin_client.get(f"/admin/encoders/encoderversion/{version.pk}/change/").content.decode()

    assert "Training curves" in page and page.count("<polyline") == 3
    assert "Figures beside earlier versions" in page
    assert "Figures of enc-now and earlier versions, with their 95 % intervals" in page
    assert "enc-earlier" in page and "<td>60 % (50–70 %)</td>" in page


@pytest.mark.django_db
def test_a_version_without_curves_or_figures_says_so(admin_client):
    version = EncoderVersion.objects.create(name="enc-old", status="ready")

    page = admin_client.get(f"/admin/encoders/encoderversion/{version.pk}/change/").content.decode()

    assert 'class="chart"' not in page and "versions trained before the curves were kept have none" in page
