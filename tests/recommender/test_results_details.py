"""The results page's photo shows the box that was searched; "goes well with" cards are alike (no match bars)."""

import pytest
from django.utils import timezone

from catalog.models import CoView
from recommender.models import InspirationUpload
from recommender.templatetags.recommendations import crop_style
from tests.recommender.test_pages import section

pytestmark = pytest.mark.django_db


def test_the_marked_box_is_drawn_over_the_photo(client, catalog_products):
    upload = InspirationUpload.objects.create(
        image="uploads/room.png", status="done", crop=[0.1, 0.25, 0.5, 0.6], results=[]
    )

    html = client.get(upload.get_absolute_url()).content.decode()

    assert (
        '<span class="crop-outline" id="crop-outline" style="left:10.00%;top:25.00%;width:50.00%;height:60.00%"' in html
    )
    assert "we searched inside the box you marked" in html


def test_a_photo_without_a_box_has_no_outline(client, catalog_products):
    upload = InspirationUpload.objects.create(image="uploads/room.png", status="done", results=[])

    assert 'id="crop-outline"' not in client.get(upload.get_absolute_url()).content.decode()


@pytest.mark.parametrize("crop", [None, "x", [0.1, 0.2], ["a", 0, 0, 0]])
def test_a_malformed_box_draws_nothing(crop):
    assert crop_style(crop) == ""


def test_no_goes_with_card_has_a_match_bar_whether_used_together_or_learned(client, served, settings):
    sofa, lamp = served["products"]["sofa"][0], served["products"]["lamp"][0]
    CoView.objects.create(
        kind=CoView.Kind.USED,
        product_a=sofa,
        product_b=lamp,
        count=settings.COVIEW_MIN_SESSIONS,
        last_seen=timezone.now(),
    )

    html = client.get(sofa.get_absolute_url()).content.decode()

    goes_with, similar = section(html, "goes-with"), section(html, "similar")
    assert goes_with.count('class="card"') == 8 and "LAMP 0" in goes_with  # the pair used together, and learned ones
    assert 'class="match"' not in goes_with
    assert similar.count('class="match"') == similar.count('class="card"') == 8  # every similar card has one
