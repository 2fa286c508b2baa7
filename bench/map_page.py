"""The catalog map page: seconds from opening /map/ until every product picture in view has loaded, and the bytes
that took, at 2,187 and at 100,000 products; and the tile writer's seconds and peak memory.

    .venv/bin/python bench/map_page.py                         # 2,187 and 100,000 products, the default tiling
    .venv/bin/python bench/map_page.py --sizes 100000 --compare  # tilings side by side: tile cells × sprite px
    .venv/bin/python bench/map_page.py --tilings 8x48 16x64     # these tilings only
    .venv/bin/python bench/map_page.py --work var/bench-map      # keep (and reuse) the written maps

The maps are synthetic, so no database of 100,000 products is needed: positions come from a clustered
distribution (a few clusters per category), and product i is the i-th product of the IKEA catalog under
../shared/data/ikea/ (its name, category and thumbnail, cycling). Each map is written by
``recommender.maptiles.map_tiles_write`` (in a subprocess, for its peak RSS) into a temporary INDEX_ROOT whose
ACTIVE names it, the site runs on it (``manage.py runserver --noreload``), and Debian's Chromium opens /map/ in a
fresh browser context per run (empty cache), on the loopback and on Lighthouse's "slow 4G" (1.6 Mbit/s down,
150 ms round trip), at 1280 × 900 and at 375 × 812. "Pictures" ends when the page says it is no longer busy and
every product link in view shows its sprite sheet, decoded; "zoom ×8" is the same after pressing + three times.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

CATALOG = ROOT.parent / "shared" / "data" / "ikea"
VERSION = "20260101T000000.000000Z-0000{:04x}"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
VIEWPORTS = {"desktop 1280×900": {"width": 1280, "height": 900}, "phone 375×812": {"width": 375, "height": 812}}
NETWORKS = {
    "loopback": None,
    # Lighthouse's mobile throttling ("slow 4G"): 150 ms round trip, 1.6 Mbit/s down, 750 kbit/s up.
    "slow 4G": {"offline": False, "latency": 150, "downloadThroughput": 1.6e6 / 8, "uploadThroughput": 750e3 / 8},
}
DEFAULT = "8x48"  # tile cells a side × sprite cell px
COMPARE = ["4x48", "8x48", "8x64", "16x48", "16x64", "32x64"]

# In the page from its first script on: the moment (ms since navigation) when the map stops being busy and every
# product link in view shows a decoded sprite. Polled every frame, so the figure is within one frame.
READY_PROBE = """
window.__mapReady = null;
window.__mapWatch = function () {
  window.__mapReady = null;
  var frames = 0;
  function check() {
    if (frames++ < 2) return requestAnimationFrame(check); // a zoom or pan is drawn on the next frame
    var map = document.getElementById("map");
    if (map && !map.hidden && map.getAttribute("aria-busy") === "false") {
      var box = map.getBoundingClientRect();
      var inView = Array.prototype.filter.call(document.querySelectorAll(".map-item:not([hidden])"), function (a) {
        var r = a.getBoundingClientRect();
        return r.right > box.left && r.left < box.right && r.bottom > box.top && r.top < box.bottom;
      });
      var painted = inView.every(function (a) { return getComputedStyle(a).backgroundImage.indexOf(".jpg") >= 0; });
      if (inView.length && painted) {
        window.__mapReady = { ms: performance.now(), pictures: inView.length };
        return;
      }
    }
    requestAnimationFrame(check);
  }
  requestAnimationFrame(check);
};
window.__mapWatch();
"""
BYTES = """() => {
  const entries = performance.getEntriesByType("navigation").concat(performance.getEntriesByType("resource"));
  return { bytes: entries.reduce((sum, e) => sum + (e.transferSize || 0), 0), requests: entries.length };
}"""


# -- synthetic maps ------------------------------------------------------------------------------------------------


def catalog_rows() -> list[dict]:
    rows = json.loads((CATALOG / "catalog.json").read_text())
    return [row for row in rows if (CATALOG / row["image"]).is_file()]


def clustered_positions(categories: list[str], n: int, seed: int = 0):
    """(n, 2) positions in [0, 1]: three clusters per category, of different spreads, plus 3 % scattered."""
    import numpy as np

    rng = np.random.default_rng(seed)
    names = sorted(set(categories))
    centres = rng.uniform(0.12, 0.88, (len(names), 3, 2))
    spreads = rng.uniform(0.015, 0.06, (len(names), 3))
    kind = np.array([names.index(categories[i % len(categories)]) for i in range(n)])
    which = rng.integers(0, 3, n)
    positions = centres[kind, which] + rng.normal(size=(n, 2)) * spreads[kind, which, None]
    scattered = rng.random(n) < 0.03
    positions[scattered] = rng.uniform(0, 1, (int(scattered.sum()), 2))
    return np.clip(positions, 0, 1).astype(np.float32)


def write_map(directory: Path, n: int, cells: int, thumb: int) -> dict:
    """Runs in its own process (``write`` subcommand), so that its peak RSS is the writer's alone."""
    import numpy as np

    from recommender.maptiles import MapProduct, map_tiles_write

    rows = catalog_rows()
    positions = clustered_positions([row["category"] for row in rows], n)
    ids = np.arange(1, n + 1, dtype=np.int64)
    calls = []

    def describe(batch):
        calls.append(len(batch))
        products = {}
        for pid in batch.tolist():
            row = rows[(pid - 1) % len(rows)]
            products[pid] = MapProduct(
                sku=f"{row['sku']}-{pid}",
                name=f"{row['name']} {row['type']}".strip(),
                url=f"/products/p-{pid}/",
                category=row["category"].replace("_", " "),
                thumbnail=CATALOG / row["image"],
            )
        return products

    started = time.perf_counter()
    meta = map_tiles_write(
        directory=directory, product_ids=ids, positions=positions, describe=describe, tile_cells=cells, thumb_size=thumb
    )
    return {
        "seconds": time.perf_counter() - started,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "describe_calls": len(calls),
        "largest_describe": max(calls),
        **meta["build"],
        "levels": meta["levels"],
        "depths": meta["depths"],
    }


def prepared(work: Path, n: int, cells: int, thumb: int, number: int) -> tuple[Path, dict | None]:
    """An INDEX_ROOT holding one version with this map, ACTIVE naming it; the writer's figures if written now."""
    root = work / f"n{n}-cells{cells}-thumb{thumb}"
    active = root / "ACTIVE"
    if active.is_file() and (root / active.read_text().strip() / "map" / "map.json").is_file():
        return root, None  # written by an earlier run with --work
    version = VERSION.format(number)
    directory = root / version / "map"
    shutil.rmtree(root, ignore_errors=True)
    (root / version).mkdir(parents=True)
    (root / version / "meta.json").write_text("{}")
    command = [sys.executable, __file__, "write", str(directory), str(n), str(cells), str(thumb)]
    result = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, check=True)
    (root / "ACTIVE").write_text(version + "\n")
    return root, json.loads(result.stdout.strip().splitlines()[-1])


# -- the site ------------------------------------------------------------------------------------------------------


class Site:
    def __init__(self, index_root: Path, var: Path):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        env = {**os.environ, "INDEX_ROOT": str(index_root), "VAR_DIR": str(var), "DEBUG": "1"}
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = open(var / f"runserver-{self.port}.log", "w")  # noqa: SIM115  (closed by stop())
        self.process = subprocess.Popen(
            [sys.executable, "manage.py", "runserver", "--noreload", f"127.0.0.1:{self.port}"],
            cwd=ROOT,
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(self.url + "/api/map", timeout=5) as response:
                    self.meta = json.loads(response.read())
                    break
            except OSError:
                if time.monotonic() > deadline or self.process.poll() is not None:
                    raise RuntimeError(f"the site did not start: see {self.log.name}")
                time.sleep(0.3)

    def stop(self):
        self.process.terminate()
        self.process.wait(timeout=20)
        self.log.close()


def server_ms(site: Site, repeats: int = 100) -> dict[str, float]:
    """Median milliseconds of the meta and of the level-0 tile (JSON and sprite), one request at a time."""
    urls = {
        "/api/map": site.url + "/api/map",
        "tile .json": site.url + site.meta["tiles"]["json"].format(level=0, x=0, y=0),
        "tile .jpg": site.url + site.meta["tiles"]["jpg"].format(level=0, x=0, y=0),
    }
    medians = {}
    for name, url in urls.items():
        times = []
        for _ in range(repeats):
            started = time.perf_counter()
            with urllib.request.urlopen(url, timeout=10) as response:
                response.read()
            times.append((time.perf_counter() - started) * 1000)
        medians[name] = statistics.median(times)
    return medians


def open_map(browser, site: Site, viewport: dict, network: dict | None) -> dict:
    context = browser.new_context(viewport=viewport, base_url=site.url)
    try:
        page = context.new_page()
        page.add_init_script(READY_PROBE)
        if network:
            cdp = context.new_cdp_session(page)
            cdp.send("Network.enable")
            cdp.send("Network.emulateNetworkConditions", network)
        page.goto("/map/", wait_until="commit")
        page.wait_for_function("window.__mapReady", timeout=120_000, polling=100)
        first = page.evaluate("window.__mapReady")
        loaded = page.evaluate(BYTES)
        page.focus("#map")
        zoom_start = page.evaluate("performance.now()")
        for _ in range(3):
            page.keyboard.press("+")
        page.evaluate("window.__mapWatch()")
        page.wait_for_function("window.__mapReady", timeout=120_000, polling=100)
        zoomed = page.evaluate("window.__mapReady")
        after = page.evaluate(BYTES)
        return {
            "seconds": first["ms"] / 1000,
            "pictures": first["pictures"],
            "bytes": loaded["bytes"],
            "requests": loaded["requests"],
            "zoom_seconds": (zoomed["ms"] - zoom_start) / 1000,
            "zoom_pictures": zoomed["pictures"],
            "zoom_bytes": after["bytes"] - loaded["bytes"],
            "zoom_requests": after["requests"] - loaded["requests"],
        }
    finally:
        context.close()


# -- the report ----------------------------------------------------------------------------------------------------


def kib(value: float) -> str:
    return f"{value / 1024:,.0f} KiB"


def table(headers: list[str], rows: list[list]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[2187, 100_000])
    parser.add_argument("--compare", action="store_true", help=f"the tilings {' '.join(COMPARE)}")
    parser.add_argument(
        "--tilings", nargs="+", default=[DEFAULT], help="CELLSxPX: tile cells a side (a power of two) × sprite cell px"
    )
    parser.add_argument("--runs", type=int, default=3, help="page loads per case (the median is shown)")
    parser.add_argument("--work", type=Path, help="keep the maps here and reuse them on the next run")
    args = parser.parse_args()
    variants = [
        {"cells": int(cells), "thumb": int(thumb)}
        for cells, thumb in (tiling.split("x") for tiling in (COMPARE if args.compare else args.tilings))
    ]

    from playwright.sync_api import sync_playwright

    work = args.work or Path(tempfile.mkdtemp(prefix="map-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    writes, pages, servers = [], [], []
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
            number = 0
            for n in args.sizes:
                for variant in variants:
                    number += 1
                    label = f"{n:,} · {variant['cells']}² cells · {variant['thumb']} px"
                    print(f"… {label}", file=sys.stderr, flush=True)
                    root, written = prepared(work, n, variant["cells"], variant["thumb"], number)
                    if written:
                        writes.append(
                            [
                                f"{n:,}",
                                f"{variant['cells']}² = {variant['cells'] ** 2}",
                                variant["thumb"],
                                f"{written['seconds']:.1f}",
                                f"{written['peak_rss_mb']:.0f}",
                                written["levels"],
                                f"{written['tiles']:,}",
                                f"{written['bytes'] / 2**20:,.1f} MiB",
                                f"{written['describe_calls']} (≤ {written['largest_describe']:,} ids)",
                            ]
                        )
                    var = work / "var"
                    var.mkdir(exist_ok=True)
                    site = Site(root, var)
                    try:
                        medians = server_ms(site)
                        servers.append([label] + [f"{medians[name]:.1f}" for name in medians])
                        for network_name, network in NETWORKS.items():
                            for viewport_name, viewport in VIEWPORTS.items():
                                runs = [open_map(browser, site, viewport, network) for _ in range(args.runs)]
                                m = {key: statistics.median(run[key] for run in runs) for key in runs[0]}
                                pages.append(
                                    [
                                        label,
                                        network_name,
                                        viewport_name,
                                        f"**{m['seconds']:.2f}**",
                                        int(m["pictures"]),
                                        f"{kib(m['bytes'])} / {int(m['requests'])}",
                                        f"{m['zoom_seconds']:.2f}",
                                        int(m["zoom_pictures"]),
                                        f"{kib(m['zoom_bytes'])} / {int(m['zoom_requests'])}",
                                    ]
                                )
                    finally:
                        site.stop()
            browser.close()
    finally:
        if not args.work:
            shutil.rmtree(work, ignore_errors=True)

    print(
        f"\nChromium {CHROMIUM}, median of {args.runs} loads, each in a fresh context (empty cache); "
        f"{os.cpu_count()} CPUs.\n"
    )
    print("### Opening /map/: seconds until every picture in view has loaded (target ≤ 3 s)\n")
    print(
        table(
            [
                "map",
                "network",
                "viewport",
                "pictures s",
                "pictures",
                "bytes / requests",
                "zoom ×8 s",
                "pictures",
                "bytes / requests",
            ],
            pages,
        )
    )
    print("\n### Server: median ms per request, one at a time (loopback)\n")
    print(table(["map", "/api/map", "tile .json", "tile .jpg"], servers))
    if writes:
        print("\n### map_tiles_write\n")
        print(
            table(
                [
                    "products",
                    "tile cells (cap)",
                    "sprite px",
                    "seconds",
                    "peak RSS MiB",
                    "levels",
                    "tiles",
                    "on disk",
                    "describe calls",
                ],
                writes,
            )
        )


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "write":
        directory, n, cells, thumb = Path(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
        print(json.dumps(write_map(directory, n, cells, thumb)))
    else:
        main()
