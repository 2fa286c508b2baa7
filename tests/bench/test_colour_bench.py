"""bench/colour.py: its measures on made-up answers, and one run against a live site."""

import json
import sys

import pytest

from bench import colour as bench
from catalog.services.features import products_features_fill
from tests.recommender.conftest import KINDS, draw

RED, BLUE = [41.0, 61.0, 42.0], [30.0, 30.0, -62.0]


def card(category: str, lab: list[float] | None, name: str = "X") -> dict:
    return {"category": category, "name": name, "colour": {"lab": lab, "hex": "#000000"} if lab else None}


def test_the_colour_distance_is_the_mean_over_the_top_ten_with_a_known_colour():
    results = [card("sofa", RED)] * 5 + [card("sofa", BLUE)] * 4 + [card("sofa", None)] + [card("sofa", BLUE)] * 5

    distance, unknown = bench.mean_colour_distance(RED, results)

    assert distance == pytest.approx(4 * bench.delta_e(RED, BLUE) / 9)
    assert unknown == 1


def test_no_known_colour_gives_no_distance():
    assert bench.mean_colour_distance(None, [card("sofa", RED)]) == (None, 0)
    assert bench.mean_colour_distance(RED, [card("sofa", None)]) == (None, 1)


def test_precision_counts_accepted_categories_in_the_top_ten_and_a_short_answer_misses():
    results = [card("chair", RED)] * 3 + [card("armchair", RED)] * 2 + [card("table", RED)] * 7

    assert bench.precision_at_k(results, ["chair", "armchair"]) == 0.5
    assert bench.precision_at_k(results[:4], ["chair"]) == 0.3


def test_distinct_names_count_each_name_once():
    assert bench.distinct_names([card("bed", RED, "MALM"), card("bed", RED, "malm"), card("bed", RED, "HEMNES")]) == 2


def test_the_summary_gives_means_over_photos_and_over_classes():
    measures = [
        bench.Measure("a", "bed", "default", 10.0, 0, 1.0, 10, 10),
        bench.Measure("b", "bed", "default", 30.0, 0, 1.0, 10, 10),
        bench.Measure("c", "table", "default", None, 10, 0.0, 8, 10),
    ]

    (row,) = bench.summarise(measures)

    assert row["delta_e"] == 20.0 and row["unknown_colours"] == 10
    assert row["precision"] == pytest.approx(2 / 3) and row["precision_class_mean"] == 0.5
    assert "| default | 3 | 20.0 | 0.667 | 0.500 | 1.000 | 0.000 | 9.3 |" in bench.markdown([row])


def test_sampling_takes_at_most_n_photos_a_class(tmp_path):
    for name, count in (("bed", 5), ("table", 2)):
        (tmp_path / name).mkdir()
        for n in range(count):
            (tmp_path / name / f"{n}.jpg").write_bytes(b"")
    (tmp_path / "accept.json").write_text(json.dumps({"bed": ["bed"], "table": ["table", "desk"]}))

    photos, accept = bench.web_photos(tmp_path)

    assert len(photos) == 7 and accept["table"] == ["table", "desk"]
    sample = bench.sample_per_class(photos, 3, seed=0)
    assert [c for _, c in sample].count("bed") == 3 and [c for _, c in sample].count("table") == 2


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_run_against_a_live_site_measures_both_rankings(live_server, served, tmp_path, monkeypatch, capsys):
    """The bench uploads through the API of a live server (the worker's task runs eagerly in it)."""
    products_features_fill(missing_only=False)
    for name, colour, shape in KINDS:
        (tmp_path / "photos" / name).mkdir(parents=True)
        draw(colour, shape).save(tmp_path / "photos" / name / f"{name}.png")
    (tmp_path / "photos" / "accept.json").write_text(json.dumps({name: [name] for name, _, _ in KINDS}))
    out = tmp_path / "colour.json"
    argv = ["colour.py", "--url", live_server.url, "--photos", str(tmp_path / "photos"), "--json", str(out)]
    monkeypatch.setattr(sys, "argv", argv)

    bench.main()

    summary = {row["ranking"]: row for row in json.loads(out.read_text())["summary"]}
    assert set(summary) == {"default", "same colour"} and summary["default"]["photos"] == 3
    assert summary["same colour"]["delta_e"] <= summary["default"]["delta_e"]
    assert "| same colour | 3 |" in capsys.readouterr().out
