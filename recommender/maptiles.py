"""The catalog map as a level-of-detail tile pyramid: written once per index version, then only read.

Pure numpy + Pillow, no Django. The index build passes every product's place on the map (screen fractions) and a
``describe`` callback that turns a batch of product ids into what the page shows; the web process then serves
small immutable files, so a request costs the same at 2k or 1M products.

Layout under ``directory`` (an index version's ``map/``)::

    map.json                       meta: count, levels, tile geometry, categories and colours, overview points
    tiles/<level>/<x>/<y>.json     the points of one tile, and which of its four children have points or points below
    tiles/<level>/<x>/<y>.jpg      one sprite sheet of those points' thumbnails (only for a tile with points)

Depths and levels. At depth ``d`` the map is a grid of 2^d × 2^d cells. A point takes the shallowest depth whose
cell at its position holds no point yet (of that depth or any shallower one); of the points that compete for a
free cell, the one nearest their mean wins, so depth 0 is the single most representative product, depth 1 adds
up to four more, and so on. Every cell of every depth thus holds at most one point of that depth or shallower,
and every point has a depth (positions are first spread onto a 2^22 grid, so two products never share a cell).

A tile of level ``l`` covers 1/2^l of the map on each side and ``tile_cells`` (g = 2^k) cells per side: level 0
holds depths 0..k, level l ≥ 1 holds depth k + l. So no tile holds more than g² points, and the page, showing
depths up to the one whose cells are about a thumbnail wide, loads only levels 0..(depth − k) and, of those,
only the tiles that intersect the view.
"""

from __future__ import annotations

import json
import logging
import math
import os
import shutil
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

logger = logging.getLogger(__name__)

FORMAT = 1
META_FILE = "map.json"
TILES_DIR = "tiles"
KINDS = ("json", "jpg")
GRID_BITS = 22  # the finest grid: 2^22 cells a side, finer than a float32 fraction resolves near 1
FIELDS = ["sku", "name", "url", "category", "x", "y", "depth", "cell"]
OVERVIEW_FIELDS = ["sku", "name", "url", "category", "x", "y"]

# Eleven colours for the largest categories and a grey for the rest, each at least 4:1 against white and at
# least 30 apart (CIELAB ΔE76) from every other, so borders stay legible and tell categories apart.
PALETTE = [
    "#0a6fd6",
    "#d6281b",
    "#138a1b",
    "#8a3ffc",
    "#d0168a",
    "#a86b00",
    "#00827a",
    "#7a4a2a",
    "#5a6900",
    "#1a237e",
    "#1d1d1f",
]
OTHER_COLOUR = "#5f6368"
PLACEHOLDER_RGB = (241, 243, 244)  # a sprite cell whose product has no readable thumbnail


@dataclass(frozen=True)
class MapProduct:
    sku: str
    name: str
    url: str  # the product page's path, e.g. /products/ektorp-sofa-123/
    category: str  # display name shown in the legend and the tooltip
    thumbnail: Path | None  # a JPEG/PNG on disk, None where the product has none


@dataclass(frozen=True)
class _Tile:
    level: int
    x: int
    y: int
    points: np.ndarray  # indices into the input arrays, in reading order
    # child (2x + i, 2y + j) at i + 2j: 2 = it has points (so a sprite), 1 = only tiles below it do, 0 = nothing
    children: tuple[int, int, int, int]


# -- placing: depths, tiles ----------------------------------------------------------------------------------------


def _quantize(positions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Cells of the finest grid; a point whose cell is taken moves to the nearest free one (ring by ring), which
    only products with (nearly) the same vector need and which shifts them by less than 1/4,000,000 of the map."""
    size = 1 << GRID_BITS
    q = np.clip(np.floor(positions.astype(np.float64) * size), 0, size - 1).astype(np.int64)
    qx, qy = q[:, 0].copy(), q[:, 1].copy()
    keys = (qx << GRID_BITS) | qy
    _, first = np.unique(keys, return_index=True)
    if len(first) == len(keys):
        return qx, qy
    duplicate = np.ones(len(keys), dtype=bool)
    duplicate[first] = False
    taken = set(keys[first].tolist())
    movers = np.flatnonzero(duplicate)
    movers = movers[np.argsort(keys[movers], kind="stable")]
    group_starts = np.flatnonzero(np.r_[True, keys[movers][1:] != keys[movers][:-1]])
    for group in np.split(movers, group_starts[1:]):
        # All products at one cell move together, to the free cells of the rings around it, nearest first.
        x0, y0 = int(qx[group[0]]), int(qy[group[0]])
        free: list[tuple[int, int]] = []
        ring = 0
        while len(free) < len(group):
            ring += 1
            cells = [
                (x0 + dx, y0 + dy)
                for dx in range(-ring, ring + 1)
                for dy in range(-ring, ring + 1)
                if max(abs(dx), abs(dy)) == ring and 0 <= x0 + dx < size and 0 <= y0 + dy < size
            ]
            cells.sort(key=lambda cell: (cell[0] - x0) ** 2 + (cell[1] - y0) ** 2)
            free += [cell for cell in cells if ((cell[0] << GRID_BITS) | cell[1]) not in taken]
        for i, (x1, y1) in zip(group.tolist(), free, strict=False):
            qx[i], qy[i] = x1, y1
            taken.add((x1 << GRID_BITS) | y1)
    return qx, qy


def map_depths(qx: np.ndarray, qy: np.ndarray, *, x: np.ndarray, y: np.ndarray, ids: np.ndarray) -> np.ndarray:
    """The depth of every point (see the module docstring): O(N log N) per depth, a few dozen depths at most."""
    n = len(qx)
    depth = np.full(n, -1, dtype=np.int16)
    remaining = np.arange(n)
    placed = np.empty(0, dtype=np.int64)
    for d in range(GRID_BITS + 1):
        shift = GRID_BITS - d
        key = ((qx[remaining] >> shift) << d) | (qy[remaining] >> shift)
        if len(placed):
            occupied = np.unique(((qx[placed] >> shift) << d) | (qy[placed] >> shift))
            free = ~np.isin(key, occupied)
        else:
            free = np.ones(len(remaining), dtype=bool)
        candidates, key = remaining[free], key[free]
        if len(candidates):
            _, cell, counts = np.unique(key, return_inverse=True, return_counts=True)
            mean_x = np.bincount(cell, weights=x[candidates]) / counts
            mean_y = np.bincount(cell, weights=y[candidates]) / counts
            distance = (x[candidates] - mean_x[cell]) ** 2 + (y[candidates] - mean_y[cell]) ** 2
            order = np.lexsort((ids[candidates], distance, cell))
            first = np.ones(len(order), dtype=bool)
            first[1:] = cell[order][1:] != cell[order][:-1]
            chosen = candidates[order[first]]
            depth[chosen] = d
            placed = np.concatenate([placed, chosen])
            remaining = remaining[depth[remaining] < 0]
        if not len(remaining):
            break
    return depth


def _tiles(qx: np.ndarray, qy: np.ndarray, depth: np.ndarray, k: int) -> Iterator[_Tile]:
    """Every tile that has points or has points below it, level by level, in reading order."""
    level = np.maximum(depth.astype(np.int64) - k, 0)
    tx, ty = qx >> (GRID_BITS - level), qy >> (GRID_BITS - level)  # 2^l tiles a side
    fine = GRID_BITS - np.maximum(depth.astype(np.int64), k)  # reading order inside a tile: its g × g cells
    order = np.lexsort((qx >> fine, qy >> fine, tx, ty, level))
    tile_key = (level[order] << 48) | (ty[order] << 24) | tx[order]
    starts = np.flatnonzero(np.r_[True, tile_key[1:] != tile_key[:-1]])
    ends = np.r_[starts[1:], len(order)]
    own = {int(tile_key[s]): (int(s), int(e)) for s, e in zip(starts, ends, strict=True)}

    # Tiles that have points at or below them: the non-empty ones and all their ancestors.
    below = np.unique(tile_key[starts])
    layer = below
    while len(layer):
        lv, ty_, tx_ = layer >> 48, (layer >> 24) & 0xFFFFFF, layer & 0xFFFFFF
        layer = np.unique((((lv - 1) << 48) | ((ty_ >> 1) << 24) | (tx_ >> 1))[lv > 0])
        layer = layer[~np.isin(layer, below)]
        below = np.union1d(below, layer)
    below_set = set(below.tolist())
    for key in below.tolist():
        lv, ty_, tx_ = key >> 48, (key >> 24) & 0xFFFFFF, key & 0xFFFFFF
        children = tuple(
            2 if child in own else 1 if child in below_set else 0
            for child in (((lv + 1) << 48) | ((2 * ty_ + j) << 24) | (2 * tx_ + i) for j in (0, 1) for i in (0, 1))
        )
        start, end = own.get(key, (0, 0))
        yield _Tile(level=lv, x=tx_, y=ty_, points=order[start:end], children=children)


# -- pictures and colours ------------------------------------------------------------------------------------------


def _thumbnail(path: Path | None, size: int) -> Image.Image | None:
    """One decode of the product's picture, fitted inside size × size on white; None if missing or unreadable."""
    if path is None:
        return None
    try:
        with Image.open(path) as image:
            image.draft("RGB", (size, size))  # JPEG decodes at 1/2, 1/4 or 1/8 scale: most of the saving
            if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
                rgba = image.convert("RGBA")
                image = Image.new("RGB", rgba.size, "white")
                image.paste(rgba, mask=rgba.getchannel("A"))
            else:
                image = image.convert("RGB")
            image.thumbnail((size, size), Image.Resampling.BICUBIC, reducing_gap=2.0)
            return image
    except (OSError, ValueError, Image.DecompressionBombError) as failure:
        logger.warning("map: no thumbnail from %s (%s)", path, failure)
        return None


def _sprite(thumbnails: list[Path | None], *, size: int, columns: int) -> Image.Image:
    rows = math.ceil(len(thumbnails) / columns)
    sheet = Image.new("RGB", (columns * size, rows * size), "white")
    for cell, path in enumerate(thumbnails):
        left, top = (cell % columns) * size, (cell // columns) * size
        picture = _thumbnail(path, size)
        if picture is None:
            sheet.paste(PLACEHOLDER_RGB, (left, top, left + size, top + size))
        else:
            sheet.paste(picture, (left + (size - picture.width) // 2, top + (size - picture.height) // 2))
    return sheet


def category_legend(counts: dict[str, int]) -> tuple[dict[str, str], list[dict]]:
    """Colours per category name and the legend: the largest categories get the palette's colours, and where there
    are more categories than colours, the smallest share one grey entry ("More: …")."""
    by_size = sorted(counts, key=lambda name: (-counts[name], name))
    distinct = by_size if len(by_size) <= len(PALETTE) + 1 else by_size[: len(PALETTE)]
    colours = {name: (PALETTE + [OTHER_COLOUR])[i] for i, name in enumerate(distinct)}
    rest = sorted(name for name in by_size if name not in colours)
    legend = [{"label": name, "colour": colours[name], "categories": [name]} for name in sorted(colours)]
    if rest:
        colours.update(dict.fromkeys(rest, OTHER_COLOUR))
        names = ", ".join(rest[:4]) + (f" and {len(rest) - 4} more" if len(rest) > 4 else "")
        legend.append({"label": f"More: {names}", "colour": OTHER_COLOUR, "categories": rest})
    return colours, legend


# -- writing -------------------------------------------------------------------------------------------------------


def _decimals(depth: int) -> int:
    """Decimals of x and y for a point of ``depth``: about 1/1000 of its cell, so shallow tiles stay small."""
    return min(9, 4 + math.ceil(depth * math.log10(2)))


def _write_json(path: Path, data: dict) -> int:
    blob = json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode()
    path.write_bytes(blob)
    return len(blob)


def map_tiles_write(
    *,
    directory: Path,
    product_ids: np.ndarray,
    positions: np.ndarray,
    describe: Callable[[np.ndarray], dict[int, MapProduct]],
    tile_cells: int = 8,
    thumb_size: int = 48,
    quality: int = 80,
    batch_size: int = 2048,
    overview_size: int = 300,
    workers: int = 2,
) -> dict:
    """Write the map of ``product_ids`` at ``positions`` ((N, 2) fractions, x right, y down) into ``directory``,
    which must not exist yet: everything is written under a temporary sibling that is renamed into place last.

    ``describe(ids)`` is called once per batch of whole tiles (about ``batch_size`` ids, never per product and
    never all N at once); ids it leaves out are left off the map. Each thumbnail is decoded once, and one tile's
    sprite at a time per worker thread is held in memory. Returns the meta written to ``map.json``.

    The defaults were chosen with ``bench/map_page.py --compare`` (100,000 products, Chromium on a slow 4G link;
    README, "The map page"): bigger tiles fetch more bytes out of view after a zoom, smaller ones more requests
    on opening."""
    started = time.perf_counter()
    directory = Path(directory)
    if tile_cells < 1 or tile_cells & (tile_cells - 1):
        raise ValueError("tile_cells must be a power of two")
    if directory.exists():
        raise FileExistsError(f"{directory} exists: a map is written once")
    ids = np.asarray(product_ids, dtype=np.int64).reshape(-1)
    places = np.asarray(positions, dtype=np.float64).reshape(-1, 2)
    if len(ids) != len(places):
        raise ValueError(f"{len(ids)} product ids but {len(places)} positions")
    usable = np.isfinite(places).all(axis=1)
    ids, places = ids[usable], np.clip(places[usable], 0.0, 1.0)

    k = tile_cells.bit_length() - 1
    qx, qy = _quantize(places)
    # The positions written are those of the (rarely moved) grid cells, at the grid's precision.
    x = np.where(np.floor(places[:, 0] * (1 << GRID_BITS)) == qx, places[:, 0], (qx + 0.5) / (1 << GRID_BITS))
    y = np.where(np.floor(places[:, 1] * (1 << GRID_BITS)) == qy, places[:, 1], (qy + 0.5) / (1 << GRID_BITS))
    depth = map_depths(qx, qy, x=x, y=y, ids=ids)
    placed_seconds = time.perf_counter() - started

    # The overview: the shallowest points, a few of the next depth where it does not fit whole, chosen at random
    # (seeded) so that they spread over the map instead of crowding its first rows.
    shuffle = np.random.default_rng(0).permutation(len(ids))
    overview_order = shuffle[np.argsort(depth[shuffle], kind="stable")][:overview_size]
    overview_rank = {int(i): rank for rank, i in enumerate(overview_order)}
    overview: list[list | None] = [None] * len(overview_order)

    building = directory.parent / f".{directory.name}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    (building / TILES_DIR).mkdir(parents=True)
    categories: dict[str, int] = {}  # display name -> index, in order of first appearance
    counts: dict[str, int] = {}
    totals = {"tiles": 0, "sprites": 0, "bytes": 0, "count": 0, "describe_calls": 0}

    def write_tile(tile: _Tile, rows: list[tuple[int, MapProduct]]) -> int:
        folder = building / TILES_DIR / str(tile.level) / str(tile.x)
        folder.mkdir(parents=True, exist_ok=True)
        columns = min(tile_cells, max(1, len(rows)))
        points = []
        for cell, (i, p) in enumerate(rows):
            places = _decimals(int(depth[i]))
            points.append(
                [p.sku, p.name, p.url, categories[p.category], round(float(x[i]), places), round(float(y[i]), places)]
                + [int(depth[i]), cell]
            )
        written = 0
        if len(tile.points):  # its parent says it has a sprite, even where describe left every product out
            sheet = _sprite([p.thumbnail for _, p in rows] or [None], size=thumb_size, columns=columns)
            sheet.save(folder / f"{tile.y}.jpg", "JPEG", quality=quality)
            written += (folder / f"{tile.y}.jpg").stat().st_size
        body = {
            "level": tile.level,
            "x": tile.x,
            "y": tile.y,
            "columns": columns,
            "children": list(tile.children),
            "fields": FIELDS,
            "points": points,
        }
        return written + _write_json(folder / f"{tile.y}.json", body)

    def flush(batch: list[_Tile], pool: ThreadPoolExecutor | None) -> None:
        wanted = np.concatenate([tile.points for tile in batch]) if batch else np.empty(0, np.int64)
        products = describe(ids[wanted]) if len(wanted) else {}
        totals["describe_calls"] += bool(len(wanted))
        work = []
        for tile in batch:
            rows = [(int(i), products[int(ids[i])]) for i in tile.points if int(ids[i]) in products]
            for i, product in rows:
                categories.setdefault(product.category, len(categories))
                counts[product.category] = counts.get(product.category, 0) + 1
                if i in overview_rank:
                    overview[overview_rank[i]] = [
                        product.sku,
                        product.name,
                        product.url,
                        categories[product.category],
                        round(float(x[i]), 4),
                        round(float(y[i]), 4),
                    ]
            work.append((tile, rows))
            totals["count"] += len(rows)
            totals["sprites"] += bool(len(tile.points))
        totals["tiles"] += len(work)
        results = pool.map(lambda job: write_tile(*job), work) if pool else (write_tile(*job) for job in work)
        totals["bytes"] += sum(results)

    try:
        with ThreadPoolExecutor(max_workers=workers) if workers > 1 else _no_pool() as pool:
            batch: list[_Tile] = []
            in_batch = 0
            for tile in _tiles(qx, qy, depth, k):
                batch.append(tile)
                in_batch += len(tile.points)
                if in_batch >= batch_size:
                    flush(batch, pool)
                    batch, in_batch = [], 0
            flush(batch, pool)

        colours, legend = category_legend(counts)
        names = sorted(categories, key=categories.get)
        levels = int(np.max(np.maximum(depth - k, 0))) + 1 if len(depth) else 0
        meta = {
            "format": FORMAT,
            "count": totals["count"],
            "levels": levels if totals["count"] else 0,
            "depths": int(depth.max()) + 1 if len(depth) and totals["count"] else 0,
            "tile": {"cells": tile_cells, "cap": tile_cells * tile_cells, "path": "tiles/{level}/{x}/{y}.{kind}"},
            "thumb": thumb_size,
            "fields": FIELDS,
            "categories": [{"name": name, "colour": colours[name], "count": counts[name]} for name in names],
            "legend": [
                {
                    "label": entry["label"],
                    "colour": entry["colour"],
                    "categories": [categories[n] for n in entry["categories"]],
                }
                for entry in legend
            ],
            "overview": {"fields": OVERVIEW_FIELDS, "points": [row for row in overview if row is not None]},
            "build": {
                "tiles": totals["tiles"],
                "sprites": totals["sprites"],
                "bytes": totals["bytes"],
                "describe_calls": totals["describe_calls"],
                "placing_seconds": round(placed_seconds, 3),
                "seconds": round(time.perf_counter() - started, 3),
            },
        }
        _write_json(building / META_FILE, meta)
        os.rename(building, directory)
    except BaseException:
        shutil.rmtree(building, ignore_errors=True)
        raise
    return meta


class _no_pool:
    def __enter__(self):
        return None

    def __exit__(self, *exc) -> None:
        return None


# -- reading -------------------------------------------------------------------------------------------------------

_meta_cache: dict[str, dict] = {}
_META_CACHE_SIZE = 16


def map_meta(directory: Path) -> dict | None:
    """``map.json`` of a map directory, read once per process (a map never changes once written); None where there
    is no map (or an unreadable one), which is looked for again on the next call."""
    key = str(directory)
    meta = _meta_cache.get(key)
    if meta is not None:
        return meta
    try:
        meta = json.loads((Path(directory) / META_FILE).read_bytes())
    except (OSError, ValueError):
        return None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        return None
    if len(_meta_cache) >= _META_CACHE_SIZE:
        _meta_cache.pop(next(iter(_meta_cache)))
    _meta_cache[key] = meta
    return meta


def map_tile_path(directory: Path, level: int, x: int, y: int, kind: str) -> Path | None:
    """The file of tile (level, x, y) of ``kind`` ("json" or "jpg"), or None unless it is one that was written.
    Only whole numbers in range make a path, so nothing outside ``directory/tiles`` can be named."""
    if kind not in KINDS or not all(type(value) is int for value in (level, x, y)):
        return None
    if not 0 <= level <= GRID_BITS or not (0 <= x < 1 << level and 0 <= y < 1 << level):
        return None
    path = Path(directory) / TILES_DIR / str(level) / str(x) / f"{y}.{kind}"
    return path if path.is_file() else None
