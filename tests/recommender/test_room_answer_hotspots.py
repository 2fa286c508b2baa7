"""The hotspots of a room answer never overlap: each sits at the middle of its piece's box when that is clear, else
nudged to the nearest clear point (inside its box when it can be), always wholly on the photo, and at least 24 px
wide, at the smallest size the page shows the photo (larger, the markers only move apart)."""

import random
import re

import pytest

from recommender.hotspots import EDGE, GAP, MIN_SIZE, SIZES, place_hotspots, smallest_display
from tests.recommender.test_room_answer import room_upload

# Four chairs round a small table, the way the finder boxes them: near-identical boxes, their middles a few pixels
# apart.
CHAIRS = [(0.30, 0.40, 0.20, 0.30), (0.33, 0.42, 0.20, 0.30), (0.31, 0.45, 0.22, 0.28), (0.35, 0.40, 0.18, 0.32)]


def pixels(layout, width: float, height: float) -> list[tuple[float, float]]:
    return [(x * width, y * height) for x, y in layout.spots]


def assert_apart_and_on_the_photo(layout, width: float, height: float) -> None:
    centres = pixels(layout, width, height)
    half = layout.size / 2
    for n, (x, y) in enumerate(centres):
        assert half <= x <= width - half and half <= y <= height - half, (n, x, y)
        for other_x, other_y in centres[n + 1 :]:
            # two squares of this size overlap unless they are a size apart along x or along y
            assert max(abs(x - other_x), abs(y - other_y)) >= layout.size + GAP - 0.05, (x, y, other_x, other_y)


def test_markers_of_pieces_on_top_of_each_other_are_moved_apart():
    layout = place_hotspots(CHAIRS, width=296, height=222)

    assert layout.clear and layout.size == SIZES[0]
    assert_apart_and_on_the_photo(layout, 296, 222)


def test_the_most_confident_piece_keeps_the_middle_of_its_box_and_the_next_is_nudged_within_its_own():
    sofa, armchair = (0.1, 0.3, 0.6, 0.6), (0.3, 0.4, 0.3, 0.4)  # the armchair's middle a few pixels from the sofa's

    layout = place_hotspots([sofa, armchair], width=296, height=222)

    assert layout.spots[0] == pytest.approx((0.40, 0.60), abs=1e-3)
    x, y, w, h = armchair
    assert x <= layout.spots[1][0] <= x + w and y <= layout.spots[1][1] <= y + h
    assert_apart_and_on_the_photo(layout, 296, 222)


def test_markers_of_pieces_far_apart_sit_at_the_middles_of_their_boxes():
    boxes = [(0.05, 0.5, 0.4, 0.4), (0.6, 0.1, 0.3, 0.3)]

    layout = place_hotspots(boxes, width=296, height=222)

    assert layout.spots == [pytest.approx((0.25, 0.7)), pytest.approx((0.75, 0.25))]


def test_a_box_at_the_edge_keeps_its_marker_wholly_on_the_photo():
    layout = place_hotspots([(0.0, 0.0, 0.05, 0.05), (0.97, 0.96, 0.03, 0.04)], width=296, height=222)

    assert_apart_and_on_the_photo(layout, 296, 222)
    assert layout.spots[0][0] * 296 == pytest.approx(SIZES[0] / 2 + EDGE, abs=0.05)


def test_a_small_photo_with_many_pieces_gets_smaller_markers_but_never_under_24_px():
    boxes = [(0.4, 0.4, 0.2, 0.2)] * 6

    layout = place_hotspots(boxes, width=120, height=120)

    assert layout.clear and MIN_SIZE <= layout.size < SIZES[0]
    assert_apart_and_on_the_photo(layout, 120, 120)


@pytest.mark.parametrize("seed", range(20))
def test_random_rooms_never_have_overlapping_markers(seed):
    rng = random.Random(seed)
    width, height = smallest_display(*rng.choice([(800, 500), (1200, 1600), (640, 640), (4000, 1000), (900, 2000)]))
    boxes = []
    for _ in range(rng.randint(2, 6)):
        w, h = rng.uniform(0.05, 0.5), rng.uniform(0.05, 0.5)
        boxes.append((rng.uniform(0, 1 - w), rng.uniform(0, 1 - h), w, h))

    layout = place_hotspots(boxes, width=width, height=height)

    assert layout.clear and layout.size >= MIN_SIZE
    assert_apart_and_on_the_photo(layout, width, height)


def test_the_smallest_display_is_a_320_px_phone_or_the_photo_itself():
    assert smallest_display(800, 500) == (296, 185)
    assert smallest_display(1000, 2000) == (224, 448)  # a tall photo is held by the height the page allows
    assert smallest_display(200, 150) == (200, 150)  # never enlarged


@pytest.mark.django_db
def test_the_page_places_the_hotspots_of_near_identical_boxes_apart(client, catalog_products):
    upload = room_upload(catalog_products, pieces=4)  # sofa, lamp, rug, sofa: the two sofas in the same box

    html = client.get(f"{upload.get_absolute_url()}?as=room").content.decode()

    places = re.findall(r'<a class="hotspot"[^>]*style="left:([\d.]+)%;top:([\d.]+)%"', html)
    assert len(places) == 4 and len(set(places)) == 4
    assert '<span class="room-photo-frame" id="room-photo" style="--hotspot: ' in html
