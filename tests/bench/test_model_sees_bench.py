"""bench/model_sees.py: SSIM and the colour figures on known cases, and one run through a tiny live encoder."""

import json
import sys

import numpy as np
import pytest
from PIL import Image

from bench import model_sees as bench
from catalog.colours import delta_e, srgb_to_lab
from tests.recommender.conftest import KINDS, draw


def structured_image(side: int = 64) -> np.ndarray:
    """A grey picture with structure: a gradient, a dark square and a light disc."""
    ys, xs = np.mgrid[0:side, 0:side]
    image = 40.0 + 2.0 * xs
    image[10:30, 8:28] = 20.0
    image[((ys - 44) ** 2 + (xs - 40) ** 2) < 120] = 230.0
    return image


def test_ssim_of_identical_images_is_one():
    assert bench.ssim(structured_image(), structured_image()) == pytest.approx(1.0)


def test_ssim_of_an_image_and_its_inverted_copy_is_low():
    texture = np.random.default_rng(0).uniform(0, 255, (64, 64))

    assert bench.ssim(structured_image(), 255.0 - structured_image()) < 0.1
    assert bench.ssim(texture, 255.0 - texture) < -0.9  # every local structure reversed


def test_ssim_of_two_flat_images_is_their_luminance_term():
    c1 = (0.01 * 255) ** 2

    value = bench.ssim(np.full((32, 32), 100.0), np.full((32, 32), 200.0))

    assert value == pytest.approx((2 * 100 * 200 + c1) / (100**2 + 200**2 + c1))


def test_ssim_falls_as_noise_grows():
    rng = np.random.default_rng(0)
    image = structured_image()
    slight, strong = (np.clip(image + rng.normal(0, s, image.shape), 0, 255) for s in (5, 60))

    assert 1.0 > bench.ssim(image, slight) > bench.ssim(image, strong)


def test_ssim_refuses_images_of_different_shapes_or_too_small():
    with pytest.raises(ValueError):
        bench.ssim(np.zeros((32, 32)), np.zeros((32, 31)))
    with pytest.raises(ValueError):
        bench.ssim(np.zeros((8, 8)), np.zeros((8, 8)))


def test_the_object_region_of_a_product_shot_leaves_out_its_white_background():
    shot = np.asarray(draw((200, 30, 30), "square"), dtype=np.float64)

    region = bench.object_region(srgb_to_lab(shot))

    assert region[32, 32] and not region[2, 2]
    assert region.mean() == pytest.approx((41 * 41) / (64 * 64), abs=0.02)


def test_a_copy_scores_perfectly_and_a_recoloured_copy_by_its_colour_distance():
    shot = draw((200, 30, 30), "square")
    recoloured = draw((30, 60, 200), "square")

    same = bench.compare("x", "catalog", "decoder", shot, shot)
    other = bench.compare("x", "catalog", "decoder", shot, recoloured)

    assert same.delta_e_mean_colour == 0.0 and same.delta_e_per_pixel == 0.0 and same.ssim == pytest.approx(1.0)
    red, blue = srgb_to_lab(np.array([200, 30, 30])), srgb_to_lab(np.array([30, 60, 200]))
    assert other.delta_e_mean_colour == pytest.approx(delta_e(red, blue), abs=1.0)


def test_the_summary_counts_the_photos_that_pass_both_thresholds():
    measures = [
        bench.Measure("a", "web: sofa", "decoder", 5.0, 9.0, 0.7, 0.5),
        bench.Measure("b", "web: sofa", "decoder", 15.0, 20.0, 0.8, 0.5),
        bench.Measure("c", "web: bed", "decoder", 5.0, 9.0, 0.3, 0.5),
        bench.Measure("d", "catalog", "decoder", 2.0, 3.0, 0.9, 0.5),
    ]

    rows = {(row["photos"], row["drawer"]): row for row in bench.summarise(measures, min_ssim=0.5, max_delta_e=10)}

    assert rows[("web photos", "decoder")]["count"] == 3
    assert rows[("web photos", "decoder")]["recognisable"] == pytest.approx(1 / 3)
    assert rows[("web: sofa", "decoder")]["recognisable"] == 0.5
    assert rows[("catalog", "decoder")]["recognisable"] == 1.0
    table = bench.markdown(list(rows.values()), min_ssim=0.5, max_delta_e=10)
    assert "| web photos | decoder | 3 | 8.3 | 12.7 | 0.600 | 0.700 | 33% |" in table


@pytest.mark.slow
@pytest.mark.django_db
def test_a_run_through_the_live_encoder_measures_web_photos_and_catalog_pictures(served, tmp_path, monkeypatch, capsys):
    for name, colour, shape in KINDS:
        (tmp_path / "photos" / name).mkdir(parents=True)
        Image.new("RGB", (120, 90), "beige").save(tmp_path / "photos" / name / "room.jpg")
        draw(colour, shape, size=96).save(tmp_path / "photos" / name / f"{name}.png")
    (tmp_path / "photos" / "accept.json").write_text(json.dumps({name: [name] for name, _, _ in KINDS}))
    out = tmp_path / "model-sees.json"
    argv = ["model_sees.py", "--photos", str(tmp_path / "photos"), "--per-class", "1", "--catalog", "2"]
    monkeypatch.setattr(sys, "argv", [*argv, "--json", str(out)])

    bench.main()

    written = json.loads(out.read_text())
    rows = {(row["photos"], row["drawer"]): row for row in written["summary"]}
    assert rows[("web photos", "decoder")]["count"] == 3 and rows[("catalog", "decoder")]["count"] == 2
    assert rows[("web photos", "grey blob")]["count"] == 3
    assert all(-1.0 <= photo["ssim"] <= 1.0 and photo["delta_e_mean_colour"] >= 0 for photo in written["photos"])
    printed = capsys.readouterr().out
    assert f"encoder {served['encoder'].name}" in printed and "| catalog | decoder | 2 |" in printed
