"""Benchmark of the served index: two spaces streamed through IndexBuilder, at 100k and 1M products.

    .venv/bin/python bench/index_bench.py [--sizes 100000] [--grid 5,10,20,40,80] [--million [--million-grid 15,30,60]]

For each size: (1) the n_trees curve, one similar-only build per n_trees in ``--grid`` with
search_k calibrated by the builder to the target, showing what each tree count costs in query
time, build time, file size and memory for the same recall (the evidence behind
recommender.index.calibration.N_TREES_RULE); (2) the build the product makes, both spaces with
the rule's n_trees, one table row per space.

Every build runs in a child process fed in batches from a generator, so neither the child nor
this process ever holds a space's vectors as one matrix; the child reports its peak RSS
(VmHWM, which includes the pages of the memory-mapped Annoy files it writes) and its peak
anonymous memory (RssAnon, sampled every 0.2 s). Not ru_maxrss: Linux carries it over from
before exec, when the child still shared this process's pages (the grid's mapped indexes).

This process then measures recall@10 itself: exact cosine top-10 of ``--queries`` random rows
(each excluded from its own neighbours), computed in chunks from a regenerated stream, against
LoadedIndex.query_product at the version's tuned search_k; and times single-threaded queries
on the memory-mapped files (a product's neighbours, query_product; an uploaded photo's, query
by vector) after that warm-up pass, in ROUNDS interleaved passes. Synthetic vectors are a
Gaussian mixture: unit-norm centres plus isotropic noise of norm ``--noise``, L2-normalised
(``--centres-from FILE.npy`` takes the centres of a space of that dimension from real vectors).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from recommender.index import (  # noqa: E402
    DEFAULT_TUNING_QUERIES,
    GOES_WITH,
    SIMILAR,
    IndexBuilder,
    LoadedIndex,
    exact_neighbours,
)

K = 10
ROUNDS = 3  # timing passes per configuration


# --- the synthetic catalog, regenerated identically by every pass ---------------------------


def space_centres(config: dict, space: str, dimension: int) -> np.ndarray:
    if config["centres_from"]:
        real = np.load(config["centres_from"], mmap_mode="r")
        if real.shape[1] == dimension:
            centres = np.asarray(real[: config["centres"]], dtype=np.float32)
            return centres / np.linalg.norm(centres, axis=1, keepdims=True)
    rng = np.random.default_rng([config["seed"], dimension, 1 if space == SIMILAR else 2])
    centres = rng.standard_normal((config["centres"], dimension)).astype(np.float32)
    return centres / np.linalg.norm(centres, axis=1, keepdims=True)


def stream(config: dict, n: int) -> Iterator[tuple[int, np.ndarray, dict[str, np.ndarray], np.ndarray]]:
    """(first row, product ids, {space: (b, d) vectors}, raw (b, 2) positions) batches of the catalog."""
    dims = config["dimensions"]
    centres = {space: space_centres(config, space, dim) for space, dim in dims.items()}
    batch = config["batch"]
    for number, start in enumerate(range(0, n, batch)):
        rows = min(batch, n - start)
        rng = np.random.default_rng([config["seed"], number])
        vectors = {}
        for space, dim in dims.items():
            labels = rng.integers(0, centres[space].shape[0], size=rows)
            noisy = centres[space][labels] + rng.standard_normal((rows, dim), dtype=np.float32) * np.float32(
                config["noise"] / np.sqrt(dim)
            )
            vectors[space] = noisy / np.linalg.norm(noisy, axis=1, keepdims=True)
        first = vectors[SIMILAR] if SIMILAR in vectors else next(iter(vectors.values()))
        positions = first[:, :2] * 40.0 + rng.standard_normal((rows, 2), dtype=np.float32)  # any range will do
        ids = 10 * np.arange(start, start + rows, dtype=np.int64) + 7  # not 0..n-1
        yield start, ids, vectors, positions


# --- the build, in a child process ---------------------------------------------------------------


def child_build(config: dict) -> None:
    peak = {"anon_kb": 0}
    done = threading.Event()

    def sample() -> None:
        while not done.wait(0.2):
            peak["anon_kb"] = max(peak["anon_kb"], status_kb("RssAnon"))

    threading.Thread(target=sample, daemon=True).start()
    started = time.perf_counter()
    with IndexBuilder(
        root=Path(config["root"]),
        dimensions=config["dimensions"],
        seed=config["seed"],
        target_recall=config["target"],
        n_trees=config["n_trees"],
    ) as builder:
        for _, ids, vectors, positions in stream(config, config["n"]):
            builder.add(ids, vectors, positions)
        build = builder.finish({"bench": True})
    wall = time.perf_counter() - started
    done.set()
    peak["anon_kb"] = max(peak["anon_kb"], status_kb("RssAnon"))
    print(
        json.dumps(
            {
                "path": str(build.path),
                "wall_seconds": wall,
                "vmhwm_mb": status_kb("VmHWM") / 1024,
                "peak_anon_mb": peak["anon_kb"] / 1024,
                "spaces": {
                    name: {
                        "n_trees": s.n_trees,
                        "search_k": s.search_k,
                        "recall": s.recall_at_10,
                        "build_seconds": s.build_seconds,
                        "tune_seconds": s.tune_seconds,
                        "file_mb": s.file_bytes / 2**20,
                    }
                    for name, s in build.spaces.items()
                },
            }
        )
    )


def status_kb(field: str) -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def run_build(config: dict) -> dict:
    result = subprocess.run(
        [sys.executable, __file__, "--child", json.dumps(config)], capture_output=True, text=True, cwd=ROOT
    )
    if result.returncode != 0:
        raise SystemExit(f"build failed:\n{result.stderr[-4000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


# --- independent measurement in this process -------------------------------------------------


def exact_truth(config: dict, n: int, query_rows: np.ndarray) -> tuple[dict, dict]:
    """Query vectors and exact top-K rows (query excluded) per space, from two passes over the stream."""
    queries = {space: np.empty((query_rows.size, dim), np.float32) for space, dim in config["dimensions"].items()}
    for start, _, vectors, _ in stream(config, n):
        inside = (query_rows >= start) & (query_rows < start + config["batch"])
        for space, block in vectors.items():
            queries[space][inside] = block[query_rows[inside] - start]
    best = {
        space: (np.full((query_rows.size, K), -np.inf), np.zeros((query_rows.size, K), np.int64)) for space in queries
    }
    for start, _, vectors, _ in stream(config, n):
        for space, block in vectors.items():
            rows, scores = exact_neighbours(block, queries[space], min(K + 1, block.shape[0]))
            rows = rows + start
            scores = np.where(rows == query_rows[:, None], -np.inf, scores)  # not its own neighbour
            merged_scores = np.concatenate([best[space][0], scores], axis=1)
            merged_rows = np.concatenate([best[space][1], rows], axis=1)
            order = np.argsort(-merged_scores, axis=1, kind="stable")[:, :K]
            best[space] = (np.take_along_axis(merged_scores, order, 1), np.take_along_axis(merged_rows, order, 1))
    return queries, {space: rows for space, (_, rows) in best.items()}


def recall_of(loaded: LoadedIndex, space: str, truth: np.ndarray, query_rows: np.ndarray) -> float:
    """recall@K of query_product (the tuned search_k) against the exact truth; also warms the mapping."""
    hits = 0
    for product_id, expected in zip((10 * query_rows + 7).tolist(), (10 * truth + 7).tolist(), strict=True):
        found = [pid for pid, _ in loaded.query_product(product_id, k=K, space=space)]
        hits += len(set(found).intersection(expected))
    return hits / (K * query_rows.size)


def time_queries(loaded: LoadedIndex, space: str, queries: np.ndarray, query_rows: np.ndarray) -> dict:
    """One timed pass of product queries, then one of vector queries, single-threaded."""
    # Wall time is what a caller waits on this (shared) machine; CPU time leaves out the time the thread spent
    # descheduled by other processes, so it shows the cost on an idle core.
    product_ms, product_cpu_ms, vector_ms = [], [], []
    for product_id in (10 * query_rows + 7).tolist():
        started, started_cpu = time.perf_counter(), time.thread_time()
        loaded.query_product(product_id, k=K, space=space)
        product_ms.append((time.perf_counter() - started) * 1000)
        product_cpu_ms.append((time.thread_time() - started_cpu) * 1000)
    for vector in queries:
        started = time.perf_counter()
        loaded.query(vector, k=K, space=space)
        vector_ms.append((time.perf_counter() - started) * 1000)
    return {
        "p50": float(np.percentile(product_ms, 50)),
        "p95": float(np.percentile(product_ms, 95)),
        "cpu_p50": float(np.percentile(product_cpu_ms, 50)),
        "vector_p50": float(np.percentile(vector_ms, 50)),
        "load": os.getloadavg()[0],
    }


def measure_all(indexes: dict, config: dict, n: int, truth_cache: dict) -> dict:
    """{(name, space): recall and median timings} for loaded ``indexes`` {name: LoadedIndex}.

    Timing passes go round every (index, space) ROUNDS times and report the median of each figure, so
    that a change in the machine's load during the run does not favour one configuration.
    """
    key = (n, tuple(config["dimensions"]))
    if key not in truth_cache:
        query_rows = np.sort(np.random.default_rng(config["seed"] + 99).choice(n, config["queries"], replace=False))
        truth_cache[key] = (query_rows, *exact_truth(config, n, query_rows))
    query_rows, queries, truth = truth_cache[key]
    pairs = [(name, space) for name, loaded in indexes.items() for space in loaded.spaces]
    recalls = {(name, space): recall_of(indexes[name], space, truth[space], query_rows) for name, space in pairs}
    rounds: dict = {pair: [] for pair in pairs}
    for _ in range(ROUNDS):
        for name, space in pairs:
            rounds[(name, space)].append(time_queries(indexes[name], space, queries[space], query_rows))
    return {
        pair: {"recall": recalls[pair]}
        | {stat: float(np.median([r[stat] for r in rounds[pair]])) for stat in rounds[pair][0]}
        for pair in pairs
    }


# --- tables ------------------------------------------------------------------------------------


def print_grid(config: dict, n: int, truth_cache: dict) -> None:
    space = SIMILAR
    dim = config["dimensions"][space]
    config = config | {"dimensions": {space: dim}}
    target = config["target"]
    print(f"\n#### n_trees curve: {n:,} x {dim} ({space} only), search_k calibrated to recall@10 >= {target}\n")
    with tempfile.TemporaryDirectory(prefix="index-bench-", dir=config["workdir"]) as root:
        children = {
            n_trees: run_build(config | {"n_trees": n_trees, "root": f"{root}/{n_trees}", "n": n})
            for n_trees in config["grid"]
        }
        indexes = {n_trees: LoadedIndex.load(Path(child["path"])) for n_trees, child in children.items()}
        measured = measure_all(indexes, config, n, truth_cache)
        for loaded in indexes.values():
            loaded.unload()
    print(
        "| n_trees | search_k | recall@10 (builder) | recall@10 (bench) | p50 ms | p95 ms | CPU p50 ms "
        "| vector p50 ms | build s | file MB | peak RSS MB | load |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for n_trees, child in children.items():
        built, got = child["spaces"][space], measured[(n_trees, space)]
        print(
            f"| {n_trees} | {built['search_k']} | {built['recall']:.3f} | {got['recall']:.3f} | {got['p50']:.3f} | "
            f"{got['p95']:.3f} | {got['cpu_p50']:.3f} | {got['vector_p50']:.3f} | {child['wall_seconds']:.0f} | "
            f"{built['file_mb']:.0f} | {child['vmhwm_mb']:.0f} | {got['load']:.1f} |"
        )
    print(
        f"\nrecall@10 (builder): measured by IndexBuilder on its own {DEFAULT_TUNING_QUERIES} sampled rows; "
        f"times: median of {ROUNDS} interleaved passes; build s: the whole child process; load: 1-min load average "
        "while timing.",
        flush=True,
    )


def print_served(config: dict, n: int, truth_cache: dict) -> None:
    dims = ", ".join(f"{space} {dim}" for space, dim in config["dimensions"].items())
    with tempfile.TemporaryDirectory(prefix="index-bench-", dir=config["workdir"]) as root:
        load_before = os.getloadavg()[0]
        child = run_build(config | {"n_trees": None, "root": root, "n": n})
        load_after = os.getloadavg()[0]
        loaded = LoadedIndex.load(Path(child["path"]))
        measured = measure_all({"served": loaded}, config, n, truth_cache)
        loaded.unload()
    print(f"\n#### Served build: {n:,} products, {dims} dimensions, n_trees by rule, both spaces in one build\n")
    print(
        "| space | n_trees x search_k | recall@10 (builder) | recall@10 (bench) | p50 ms | p95 ms | CPU p50 ms "
        "| vector p50 ms | space build s | tune s | file MB | load |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for space, built in child["spaces"].items():
        got = measured[("served", space)]
        print(
            f"| {space} | {built['n_trees']} x {built['search_k']} | {built['recall']:.3f} | {got['recall']:.3f} | "
            f"{got['p50']:.3f} | {got['p95']:.3f} | {got['cpu_p50']:.3f} | {got['vector_p50']:.3f} | "
            f"{built['build_seconds']:.0f} | {built['tune_seconds']:.0f} | {built['file_mb']:.0f} | {got['load']:.1f} |"
        )
    print(
        f"\nWhole build (stream, add, trees, tuning, files): {child['wall_seconds']:.0f} s; peak RSS "
        f"{child['vmhwm_mb']:.0f} MB (VmHWM), of which anonymous at most "
        f"{child['peak_anon_mb']:.0f} MB, the rest pages of the Annoy files being written. "
        f"Load average {load_before:.1f} when the build started, {load_after:.1f} when it ended.",
        flush=True,
    )


def int_list(text: str) -> list[int]:
    return [int(part) for part in text.split(",") if part]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int_list, default=[100_000])
    parser.add_argument("--million", action="store_true", help="also 1,000,000 products")
    parser.add_argument("--grid", type=int_list, default=[10, 20, 30, 40], help="n_trees of the curve ('' for none)")
    parser.add_argument("--million-grid", type=int_list, default=[], help="n_trees of the curve at 1M")
    # the default encoder's served widths (encoders.model.ModelConfig: served_dim, served_goes_with_dim)
    parser.add_argument("--similar-dim", type=int, default=128)
    parser.add_argument("--goes-with-dim", type=int, default=64)
    parser.add_argument("--target", type=float, default=0.95)
    parser.add_argument("--queries", type=int, default=2000, help="bench queries per measurement")
    parser.add_argument("--centres", type=int, default=200)
    parser.add_argument("--noise", type=float, default=1.0, help="noise norm relative to the unit centre")
    parser.add_argument("--centres-from", default="", help=".npy of real vectors whose first rows become centres")
    parser.add_argument("--batch", type=int, default=5000, help="rows per IndexBuilder.add")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workdir", default=None, help="where the builds are written (default: system temp)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child_build(json.loads(args.child))
        return

    config = {
        "dimensions": {SIMILAR: args.similar_dim, GOES_WITH: args.goes_with_dim},
        "target": args.target,
        "queries": args.queries,
        "centres": args.centres,
        "noise": args.noise,
        "centres_from": args.centres_from,
        "batch": args.batch,
        "seed": args.seed,
        "workdir": args.workdir,
        "grid": args.grid,
    }
    load = ", ".join(f"{value:.1f}" for value in os.getloadavg())
    print(
        f"Synthetic clustered vectors: per space a {args.centres}-centre Gaussian mixture (unit-norm centres"
        f"{' from ' + args.centres_from if args.centres_from else ', random'}; centre chosen uniformly per row; "
        f"isotropic noise of norm {args.noise}), L2-normalised, seed {args.seed}; fed to IndexBuilder in batches of "
        f"{args.batch}. Recall@10 vs exact cosine search over {args.queries} random rows, each excluded from its own "
        f"neighbours. Times: single-threaded calls on the memory-mapped files, {os.cpu_count()} CPUs, "
        f"load average {load} at start."
    )
    truth_cache: dict = {}
    sizes = args.sizes + ([1_000_000] if args.million else [])
    for n in sizes:
        print(f"\n### {n:,} products\n")
        grid = args.million_grid if n == 1_000_000 and args.million else args.grid
        if grid:
            print_grid(config | {"grid": grid}, n, truth_cache)
        print_served(config, n, truth_cache)


if __name__ == "__main__":
    main()
