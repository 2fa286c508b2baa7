"""The map's tile pyramid (recommender/maptiles.py): pure numpy + Pillow, so no database here."""

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from recommender import maptiles
from recommender.maptiles import (
    OTHER_COLOUR,
    PALETTE,
    MapProduct,
    category_legend,
    map_meta,
    map_tile_path,
    map_tiles_write,
)


def colour_of(pid: int) -> tuple[int, int, int]:
    """A solid colour per product, far enough from its neighbours to survive JPEG."""
    return (40 + (pid * 67) % 200, 40 + (pid * 131) % 200, 40 + (pid * 29) % 200)


@pytest.fixture
def catalog(tmp_path):
    """600 products in three clusters, plus three at exactly the same place; each with a solid-colour thumbnail."""
    rng = np.random.default_rng(3)
    n = 600
    centres = np.array([[0.25, 0.3], [0.7, 0.65], [0.5, 0.9]])
    positions = centres[np.arange(n) % 3] + rng.normal(scale=0.05, size=(n, 2))
    positions[:3] = [0.4, 0.4]  # duplicates: the same product photo under three SKUs
    positions = np.clip(positions, 0, 1).astype(np.float32)
    ids = np.arange(1000, 1000 + n, dtype=np.int64)
    pictures = tmp_path / "thumbs"
    pictures.mkdir()
    for pid in ids.tolist():
        Image.new("RGB", (48, 40), colour_of(pid)).save(pictures / f"{pid}.png")
    return {"ids": ids, "positions": positions, "pictures": pictures}


class Describer:
    """describe() as the index build passes it: one query per call, recorded."""

    def __init__(self, pictures: Path, *, missing: set[int] = frozenset(), no_picture: set[int] = frozenset()):
        self.pictures, self.missing, self.no_picture = pictures, missing, no_picture
        self.calls: list[int] = []

    def __call__(self, ids: np.ndarray) -> dict[int, MapProduct]:
        self.calls.append(len(ids))
        return {
            pid: MapProduct(
                sku=f"SKU-{pid}",
                name=f"Product {pid}",
                url=f"/products/p-{pid}/",
                category=f"kind {pid % 3}",
                thumbnail=None if pid in self.no_picture else self.pictures / f"{pid}.png",
            )
            for pid in ids.tolist()
            if pid not in self.missing
        }


def write(tmp_path, catalog, describer=None, **options):
    describer = describer or Describer(catalog["pictures"])
    meta = map_tiles_write(
        directory=tmp_path / "version" / "map",
        product_ids=catalog["ids"],
        positions=catalog["positions"],
        describe=describer,
        **{"tile_cells": 4, "thumb_size": 32, "batch_size": 64, **options},
    )
    return tmp_path / "version" / "map", meta, describer


def tiles_of(directory: Path) -> dict[tuple[int, int, int], dict]:
    found = {}
    for path in (directory / "tiles").glob("*/*/*.json"):
        level, x, y = int(path.parts[-3]), int(path.parts[-2]), int(path.stem)
        found[(level, x, y)] = json.loads(path.read_text())
    return found


def rows(tile: dict) -> list[dict]:
    return [dict(zip(tile["fields"], point, strict=True)) for point in tile["points"]]


def test_every_product_lands_in_exactly_one_tile_that_contains_its_place(tmp_path, catalog):
    directory, meta, _ = write(tmp_path, catalog)

    placed = [(key, point) for key, tile in tiles_of(directory).items() for point in rows(tile)]

    skus = [point["sku"] for _, point in placed]
    assert sorted(skus) == sorted(f"SKU-{pid}" for pid in catalog["ids"].tolist())
    assert meta["count"] == len(skus) == 600
    for (level, x, y), point in placed:
        n = 2**level
        assert min(int(point["x"] * n), n - 1) == x and min(int(point["y"] * n), n - 1) == y
        assert level == max(0, point["depth"] - 2)  # tile_cells 4 = 2^2: level 0 holds depths 0..2


def test_no_tile_holds_more_points_than_its_cap_even_where_products_share_a_place(tmp_path, catalog):
    directory, meta, _ = write(tmp_path, catalog)

    sizes = [len(tile["points"]) for tile in tiles_of(directory).values()]

    assert meta["tile"]["cap"] == 16
    assert max(sizes) <= 16
    assert meta["levels"] > 2  # 600 products do not fit in a few tiles of 16


def test_each_cell_of_a_depth_holds_one_point_of_that_depth_or_shallower(tmp_path, catalog):
    directory, meta, _ = write(tmp_path, catalog)
    points = [point for tile in tiles_of(directory).values() for point in rows(tile)]

    for depth in range(meta["depths"]):
        cells = [
            (int(p["x"] * 2**depth), int(p["y"] * 2**depth)) for p in points if p["depth"] <= depth
        ]  # what the page shows at a zoom where this depth's cells are a picture wide

        assert len(cells) == len(set(cells))


def test_sprite_cells_show_their_own_products_thumbnail(tmp_path, catalog):
    directory, meta, _ = write(tmp_path, catalog)
    size = meta["thumb"]

    checked = 0
    for (level, x, y), tile in tiles_of(directory).items():
        if not tile["points"]:
            continue
        sheet = Image.open(directory / "tiles" / str(level) / str(x) / f"{y}.jpg").convert("RGB")
        for point in rows(tile):
            column, row = point["cell"] % tile["columns"], point["cell"] // tile["columns"]
            pixel = sheet.getpixel((column * size + size // 2, row * size + size // 2))
            expected = colour_of(int(point["sku"].removeprefix("SKU-")))
            assert max(abs(a - b) for a, b in zip(pixel, expected, strict=True)) < 24, (point, pixel, expected)
            checked += 1
    assert checked == 600


def test_describe_is_called_per_batch_of_tiles_never_per_product_nor_all_at_once(tmp_path, catalog):
    _, _, describer = write(tmp_path, catalog, batch_size=64)

    assert sum(describer.calls) == 600
    assert 600 / (64 + 16) <= len(describer.calls) < 600 / 16  # whole tiles of at most 16, about 64 ids a call
    assert max(describer.calls) < 600


def test_each_thumbnail_is_decoded_once(tmp_path, catalog, monkeypatch):
    opened = []
    real_open = Image.open
    monkeypatch.setattr(maptiles.Image, "open", lambda path, *a, **k: opened.append(path) or real_open(path, *a, **k))

    write(tmp_path, catalog)

    assert len(opened) == 600 and len(set(opened)) == 600


def test_a_product_without_a_readable_thumbnail_keeps_its_place_with_a_light_cell(tmp_path, catalog):
    broken = int(catalog["ids"][10])
    (catalog["pictures"] / f"{broken}.png").write_bytes(b"not a picture")
    lacking = int(catalog["ids"][11])
    directory, meta, _ = write(tmp_path, catalog, Describer(catalog["pictures"], no_picture={lacking}))

    found = {
        point["sku"]: (key, tile, point)
        for key, tile in tiles_of(directory).items()
        for point in rows(tile)
        if point["sku"] in {f"SKU-{broken}", f"SKU-{lacking}"}
    }

    assert meta["count"] == 600 and len(found) == 2
    for (level, x, y), tile, point in found.values():
        sheet = Image.open(directory / "tiles" / str(level) / str(x) / f"{y}.jpg").convert("RGB")
        column, row = point["cell"] % tile["columns"], point["cell"] // tile["columns"]
        pixel = sheet.getpixel((column * 32 + 16, row * 32 + 16))
        assert min(pixel) > 225  # the placeholder's light grey


def test_products_that_describe_leaves_out_are_not_on_the_map(tmp_path, catalog):
    gone = set(catalog["ids"][::2].tolist())
    directory, meta, _ = write(tmp_path, catalog, Describer(catalog["pictures"], missing=gone))

    skus = {point["sku"] for tile in tiles_of(directory).values() for point in rows(tile)}

    assert meta["count"] == 300 == len(skus)
    assert not skus & {f"SKU-{pid}" for pid in gone}


def test_children_flags_say_which_tiles_exist_below(tmp_path, catalog):
    directory, _, _ = write(tmp_path, catalog)
    tiles = tiles_of(directory)

    for (level, x, y), tile in tiles.items():
        for j in (0, 1):
            for i in (0, 1):
                flag = tile["children"][i + 2 * j]
                child = (level + 1, 2 * x + i, 2 * y + j)
                assert (child in tiles) == (flag > 0)
                if flag == 2:
                    assert tiles[child]["points"]
                    assert map_tile_path(directory, *child, "jpg") is not None
                elif flag == 1:
                    assert not tiles[child]["points"]
    assert all((level - 1, x // 2, y // 2) in tiles for level, x, y in tiles if level)


def test_meta_has_counts_geometry_overview_and_a_legend(tmp_path, catalog):
    directory, written, _ = write(tmp_path, catalog, overview_size=50)

    meta = map_meta(directory)

    assert meta == written
    assert meta["count"] == 600 and meta["tile"] == {"cells": 4, "cap": 16, "path": "tiles/{level}/{x}/{y}.{kind}"}
    assert {c["name"] for c in meta["categories"]} == {"kind 0", "kind 1", "kind 2"}
    assert [entry["label"] for entry in meta["legend"]] == ["kind 0", "kind 1", "kind 2"]
    overview = [dict(zip(meta["overview"]["fields"], p, strict=True)) for p in meta["overview"]["points"]]
    assert len(overview) == 50 and len({p["sku"] for p in overview}) == 50
    assert all(0 <= p["x"] <= 1 and 0 <= p["y"] <= 1 and p["url"].startswith("/products/") for p in overview)


def relative_luminance(colour: str) -> float:
    channels = [int(colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    r, g, b = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def lab(colour: str) -> np.ndarray:
    channels = np.array([int(colour[i : i + 2], 16) / 255 for i in (1, 3, 5)])
    linear = np.where(channels <= 0.04045, channels / 12.92, ((channels + 0.055) / 1.055) ** 2.4)
    xyz = np.array([[0.4124, 0.3576, 0.1805], [0.2126, 0.7152, 0.0722], [0.0193, 0.1192, 0.9505]]) @ linear
    xyz /= [0.95047, 1.0, 1.08883]
    f = np.where(xyz > 0.008856, np.cbrt(xyz), 7.787 * xyz + 16 / 116)
    return np.array([116 * f[1] - 16, 500 * (f[0] - f[1]), 200 * (f[1] - f[2])])


def test_twenty_categories_get_at_most_twelve_colours_that_differ_and_stand_out_on_white():
    counts = {f"category {i:02d}": 100 - i for i in range(20)}

    colours, legend = category_legend(counts)

    distinct = sorted(set(colours.values()))
    assert len(distinct) == 12 and len(legend) == 12
    assert all(1.05 / (relative_luminance(c) + 0.05) >= 3 for c in distinct)
    assert min(np.linalg.norm(lab(a) - lab(b)) for a in distinct for b in distinct if a < b) >= 25
    assert colours["category 00"] == PALETTE[0]  # the largest categories get their own colours
    assert legend[-1]["colour"] == OTHER_COLOUR and len(legend[-1]["categories"]) == 9
    assert legend[-1]["label"].startswith("More: category 11, category 12")


def test_a_map_is_written_once_and_a_failed_write_leaves_nothing(tmp_path, catalog):
    write(tmp_path, catalog)
    with pytest.raises(FileExistsError):
        write(tmp_path, catalog)

    def failing(ids):
        raise RuntimeError("database gone")

    with pytest.raises(RuntimeError):
        map_tiles_write(
            directory=tmp_path / "other" / "map",
            product_ids=catalog["ids"],
            positions=catalog["positions"],
            describe=failing,
        )
    assert list((tmp_path / "other").iterdir()) == []


def test_tile_paths_are_only_those_written(tmp_path, catalog):
    directory, _, _ = write(tmp_path, catalog)

    assert map_tile_path(directory, 0, 0, 0, "json") == directory / "tiles" / "0" / "0" / "0.json"
    assert map_tile_path(directory, 0, 0, 0, "jpg").is_file()
    for bad in [(0, 0, 0, "png"), (0, 0, 0, "../map.json"), (0, 1, 0, "json"), (-1, 0, 0, "json"), (1, 2, 0, "json")]:
        assert map_tile_path(directory, *bad) is None
    assert map_tile_path(directory, True, 0, 0, "json") is None
    assert map_tile_path(directory, "0", 0, 0, "json") is None
    assert map_tile_path(directory, 40, 0, 0, "json") is None
    assert map_tile_path(tmp_path / "nowhere", 0, 0, 0, "json") is None


def test_meta_of_a_directory_without_a_map_is_none(tmp_path):
    assert map_meta(tmp_path / "no-map") is None


def test_hundreds_of_products_at_one_place_each_get_a_cell_of_their_own_next_to_it(tmp_path, catalog):
    catalog["positions"][:300] = [0.6, 0.2]  # e.g. products without a photo, all encoded alike
    directory, meta, _ = write(tmp_path, catalog)

    points = [point for tile in tiles_of(directory).values() for point in rows(tile)]
    stacked = [p for p in points if int(p["sku"].removeprefix("SKU-")) < 1300]

    assert meta["count"] == 600 and len(stacked) == 300
    assert max(len(tile["points"]) for tile in tiles_of(directory).values()) <= 16
    assert max(abs(p["x"] - 0.6) + abs(p["y"] - 0.2) for p in stacked) < 1e-5
    assert len({(p["x"], p["y"]) for p in stacked}) == 300
