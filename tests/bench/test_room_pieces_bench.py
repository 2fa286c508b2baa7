"""bench/room_pieces.py and the benches that measure a version's pieces on the dev data (bench/dev_data.py,
bench/room_context.py, bench/piece_ceiling.py): each run end to end through a tiny encoder, as a person runs them."""

import json
from types import SimpleNamespace

import numpy as np
import pytest
from django.utils import timezone
from PIL import Image

from bench import piece_ceiling, room_context, room_pieces
from bench.dev_data import measured_version
from catalog.models import CoView
from encoders.piece_finder import FinderSettings
from tests.recommender.conftest import KINDS, draw, png


def room_photo(size=(160, 120)) -> Image.Image:
    """A sofa and a lamp of the tiny catalog on a grey floor."""
    photo = Image.new("RGB", size, (150, 150, 150))
    photo.paste(draw(KINDS[0][1], KINDS[0][2]), (8, 40))
    photo.paste(draw(KINDS[1][1], KINDS[1][2]), (88, 30))
    return photo


def test_the_used_together_pairs_are_those_of_one_train_room_each_once():
    rooms = [
        {"items": ["a", "b", "c"], "split": "train"},
        {"items": ["b", "a", "zz"], "split": "train"},  # a product the catalog lacks is left out
        {"items": ["c", "d"], "split": "dev"},  # the rooms measured on are never pairs
    ]

    pairs = room_pieces.used_together(rooms, {"a": 0, "b": 1, "c": 2, "d": 3})

    assert pairs == {(0, 1), (0, 2), (1, 2)}


def test_the_finder_options_are_tried_at_the_finders_own_number_of_pieces():
    default = FinderSettings(max_pieces=7)
    options = room_pieces.options(default)

    assert options[0] == ("default (below)", default, 7)
    assert {count for label, _, count in options if not label.startswith("at most")} == {7}
    assert [count for label, _, count in options if label.startswith("at most")] == [4, 6, 8, 12]


def test_the_room_pieces_bench_prints_a_row_for_every_way_of_finding_the_pieces(tiny_checkpoint, tmp_path, capsys):
    data = tmp_path / "ikea"
    (data / "images").mkdir(parents=True)
    products = []
    for n in range(3):
        for category, colour, shape in KINDS:
            sku = f"{category}-{n}"
            draw(colour, shape, shade=n * 12).save(data / "images" / f"{sku}.png")
            products.append({"sku": sku, "image": f"images/{sku}.png", "category": category})
    room_photo().save(data / "room.jpg")
    rooms = [
        {"room": "dev", "items": ["sofa-0", "lamp-0"], "photo": "room.jpg", "split": "dev"},
        {"room": "train", "items": ["sofa-1", "lamp-1", "rug-1"], "photo": "room.jpg", "split": "train"},
    ]
    (data / "catalog.json").write_text(json.dumps(products))
    (data / "rooms.json").write_text(json.dumps(rooms))

    room_pieces.main(["--checkpoint", str(tiny_checkpoint), "--data", str(data)])

    lines = capsys.readouterr().out.splitlines()
    rows = [line for line in lines if line.startswith("| ") and not line.startswith("| way")]
    assert rows[0].startswith("| photo answered whole")
    assert rows[2].startswith("| default (below) |")
    assert len(rows) == 2 + len(room_pieces.options(FinderSettings()))
    for row in rows:
        cells = [cell.strip() for cell in row.strip("|").split("|")]
        assert all(0.0 <= float(cell) <= 1.0 for cell in cells[3:6])  # hit, R and union are shares
    assert any(line.startswith("Default:") and "at most 10 pieces" in line for line in lines)


@pytest.fixture
def dev_data(tmp_path, served):
    """The dev data as the benches read it: one web photo per kind and one dev room photo of a sofa and a lamp;
    the sofa and the lamp of the catalog used together."""
    queries = tmp_path / "queries"
    for category, colour, shape in KINDS:
        (queries / category).mkdir(parents=True)
        (queries / category / "1.png").write_bytes(png(draw(colour, shape, size=80)))
    (queries / "accept.json").write_text(json.dumps({category: [category] for category, _, _ in KINDS}))
    room_photo().save(tmp_path / "room.jpg")
    sofa, lamp = served["products"]["sofa"][0], served["products"]["lamp"][0]
    rooms = tmp_path / "rooms.json"
    rooms.write_text(json.dumps([{"room": "r", "items": [sofa.sku, lamp.sku], "photo": "room.jpg", "split": "dev"}]))
    first, second = sorted([sofa, lamp], key=lambda product: product.pk)
    CoView.objects.create(product_a=first, product_b=second, count=1, kind=CoView.Kind.USED, last_seen=timezone.now())
    return SimpleNamespace(version=served["encoder"].name, queries=queries, rooms=rooms, split="dev")


@pytest.mark.django_db
def test_a_measured_version_reports_its_pieces_figures(dev_data):
    figures = measured_version(dev_data).pieces_figures()

    values = [float(cell) for cell in figures.split(" | ")]
    assert len(values) == 4  # hit@10, R@10, union R@10, precision
    assert all(0.0 <= value <= 1.0 for value in values)


@pytest.mark.django_db
def test_the_room_context_bench_prints_a_row_per_weight_and_temperature(dev_data, capsys):
    argv = ["--version", dev_data.version, "--queries", str(dev_data.queries), "--rooms", str(dev_data.rooms)]

    assert room_context.main([*argv, "--weights", "0,2", "--temperatures", "0.05,0.1"]) == 0

    out = capsys.readouterr().out
    assert "1 pairs used together" in out
    rows = [line for line in out.splitlines() if line.startswith("| ") and not line.startswith("| weight")]
    assert [row.split(" | ")[:2] for row in rows] == [["| 0", "0"], ["| 2", "0.05"], ["| 2", "0.1"]]


def test_the_best_windows_are_chosen_greedily_for_the_room_products_they_add():
    answers = np.array([[1, 2, 3], [3, 4, 9], [5, 9, 9], [4, 5, 6]])
    room = {1, 2, 3, 4, 5, 6}

    assert piece_ceiling.best_windows(answers, room, 1) == {1, 2, 3}
    assert piece_ceiling.best_windows(answers, room, 2) == {1, 2, 3, 4, 5, 6}
    assert piece_ceiling.best_windows(answers, {7}, 3) == set()  # none of the room's products: nothing found


@pytest.mark.django_db
def test_the_piece_ceiling_bench_prints_a_row_per_pass(dev_data, capsys):
    argv = ["--version", dev_data.version, "--queries", str(dev_data.queries), "--rooms", str(dev_data.rooms)]

    assert piece_ceiling.main([*argv, "--sides", "64,96", "--pieces", "2"]) == 0

    rows = [line for line in capsys.readouterr().out.splitlines() if line.startswith("| ") and "px" in line]
    assert [row.split(" | ")[0] for row in rows] == ["| 64 px", "| 96 px"]
    for row in rows:
        every, chance, best, finder, drawn = (float(cell) for cell in row.split(" | ")[2:7])
        assert 0.0 <= finder <= every <= 1.0 and max(best, drawn, chance) <= 1.0 and best <= every and drawn <= every
