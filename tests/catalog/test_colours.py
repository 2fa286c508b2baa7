"""A product's main colours in CIELAB, computed from its picture without torch."""

import numpy as np
import pytest
from PIL import Image, ImageDraw

from catalog.colours import delta_e, dominant_colours, lab_hex, lab_to_srgb, main_colour, srgb_to_lab

RED = (190, 25, 30)


def red_sofa_on_white(size=(500, 400)) -> Image.Image:
    """A studio shot: a red sofa with dark legs and a soft grey shadow on a white background."""
    image = Image.new("RGB", size, (252, 252, 252))
    pen = ImageDraw.Draw(image)
    pen.ellipse((70, 320, 430, 360), fill=(228, 228, 228))  # the shadow on the floor
    pen.rectangle((80, 150, 420, 300), fill=RED)  # seat and back
    pen.rectangle((60, 190, 100, 300), fill=RED)  # arms
    pen.rectangle((400, 190, 440, 300), fill=RED)
    for x in (90, 395):
        pen.rectangle((x, 300, x + 15, 335), fill=(45, 35, 25))  # legs
    return image


def test_srgb_to_lab_matches_the_reference_values():
    assert np.allclose(srgb_to_lab(np.array([255, 0, 0])), [53.24, 80.09, 67.20], atol=0.05)
    assert np.allclose(srgb_to_lab(np.array([255, 255, 255])), [100, 0, 0], atol=0.01)
    assert np.allclose(srgb_to_lab(np.array([0, 0, 255])), [32.30, 79.19, -107.86], atol=0.05)


def test_lab_to_srgb_inverts_srgb_to_lab():
    colours = np.array([[12, 200, 99], [190, 25, 30], [0, 0, 0], [250, 250, 250]])

    assert np.array_equal(lab_to_srgb(srgb_to_lab(colours)), colours)
    assert lab_hex(srgb_to_lab(np.array(RED))) == "#be191e"


def test_the_dominant_colour_of_a_red_sofa_on_white_is_red():
    colours = dominant_colours(red_sofa_on_white())

    L, a, b = main_colour(colours)
    assert delta_e([L, a, b], srgb_to_lab(np.array(RED))) < 5
    assert a > 40 and L < 60  # red, not the white background nor the grey shadow
    assert colours[0][3] > 0.8
    assert sum(share for *_, share in colours) == pytest.approx(1, abs=0.01)


def test_a_white_product_on_white_is_white_not_its_shadow():
    image = Image.new("RGB", (300, 300), (253, 253, 253))
    pen = ImageDraw.Draw(image)
    pen.rectangle((40, 60, 260, 240), fill=(244, 243, 240), outline=(225, 225, 225))

    L, a, b = main_colour(dominant_colours(image))

    assert L > 90 and abs(a) < 3 and abs(b) < 5


def test_the_middle_of_a_room_photo_counts_most():
    """A blue armchair in the middle of a beige room: the chair's colour leads."""
    image = Image.new("RGB", (400, 300), (214, 200, 180))
    ImageDraw.Draw(image).rectangle((120, 80, 280, 240), fill=(30, 60, 170))

    L, a, b = main_colour(dominant_colours(image))

    assert delta_e([L, a, b], srgb_to_lab(np.array([30, 60, 170]))) < 10


def test_delta_e_is_the_distance_in_lab():
    assert delta_e([50, 0, 0], [50, 3, 4]) == pytest.approx(5)
    assert main_colour([]) is None and main_colour(None) is None
