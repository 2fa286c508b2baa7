"""Benchmark: Annoy recall@10 against exact search, query time, build time and file size.

    .venv/bin/python bench/index_bench.py [--sizes 10000,100000] [--dim 128] [--million]

For each size prints a markdown table of the recall curve over (n_trees, search_k) and the
configuration recommender.index.choose_parameters picks for the target recall. Vectors are
synthetic but clustered (a Gaussian mixture, normalised), since real embeddings are clustered
and uniform random vectors are a much harder, unrealistic case for tree-based search.

--million builds 1,000,000 vectors with on_disk_build at fixed parameters (--million-trees,
--million-search-k) through build_index, and reports build time, file size and recall on a
sample of queries. It needs ~1 GB of RAM for the vectors plus the page cache of the file.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from recommender.index import (  # noqa: E402
    DEFAULT_N_TREES_OPTIONS,
    DEFAULT_SEARCH_K_OPTIONS,
    DEFAULT_TARGET_RECALL,
    LoadedIndex,
    _measure,
    build_index,
    choose_parameters,
    recall_curve,
)


def clustered_vectors(n: int, dim: int, *, centres: int, noise: float, seed: int) -> np.ndarray:
    """``n`` unit vectors: a random centre each (unit norm) plus Gaussian noise of norm ~``noise``."""
    rng = np.random.default_rng(seed)
    means = rng.standard_normal((centres, dim)).astype(np.float32)
    means /= np.linalg.norm(means, axis=1, keepdims=True)
    vectors = np.empty((n, dim), dtype=np.float32)
    for start in range(0, n, 100_000):  # in chunks to keep the float64 temporaries small
        stop = min(n, start + 100_000)
        labels = rng.integers(0, centres, size=stop - start)
        noisy = means[labels] + rng.standard_normal((stop - start, dim)).astype(np.float32) * (noise / np.sqrt(dim))
        vectors[start:stop] = noisy / np.linalg.norm(noisy, axis=1, keepdims=True)
    return vectors


def print_curve(curve: list[dict], chosen: tuple[int, int]) -> None:
    print("| n_trees | search_k | recall@10 | mean ms | p95 ms | build s | file MB |")
    print("|--------:|---------:|----------:|--------:|-------:|--------:|--------:|")
    for row in curve:
        mark = " **<- chosen**" if (row["n_trees"], row["search_k"]) == chosen else ""
        print(
            f"| {row['n_trees']} | {row['search_k']} | {row['recall']:.3f} | {row['mean_ms']:.3f} | "
            f"{row['p95_ms']:.3f} | {row['build_seconds']:.1f} | {row['file_bytes'] / 2**20:.1f} |{mark}"
        )


def run_size(args: argparse.Namespace, n: int) -> None:
    vectors = clustered_vectors(n, args.dim, centres=args.centres, noise=args.noise, seed=args.seed)
    started = time.perf_counter()
    curve = recall_curve(
        vectors,
        n_trees_options=args.n_trees,
        search_k_options=args.search_k,
        k=10,
        sample=args.sample,
        seed=args.seed,
    )
    chosen = choose_parameters(curve, target_recall=args.target)
    print(f"\n### {n:,} vectors x {args.dim} dims ({time.perf_counter() - started:.0f} s)\n")
    print_curve(curve, chosen)
    row = next(r for r in curve if (r["n_trees"], r["search_k"]) == chosen)
    print(
        f"\nchoose_parameters(target_recall={args.target}) -> n_trees={chosen[0]}, search_k={chosen[1]} "
        f"(recall {row['recall']:.3f}, {row['mean_ms']:.3f} ms/query)"
    )


def run_million(args: argparse.Namespace) -> None:
    n = 1_000_000
    vectors = clustered_vectors(n, args.dim, centres=args.centres, noise=args.noise, seed=args.seed)
    with tempfile.TemporaryDirectory(prefix="index-bench-", dir=args.workdir) as directory:
        built = build_index(
            vectors=vectors,
            product_ids=np.arange(n),
            root=Path(directory),
            n_trees=args.million_trees,
            search_k=args.million_search_k,
            seed=args.seed,
            on_disk=True,
        )
        loaded = LoadedIndex.load(built.path)
        query_ids = np.random.default_rng(args.seed).choice(n, size=args.sample, replace=False)
        recall, times = _measure(loaded, vectors, query_ids, 10, args.million_search_k)
        loaded.unload()
    print(f"\n### 1,000,000 vectors x {args.dim} dims, on_disk_build\n")
    print("| n_trees | search_k | recall@10 | mean ms | p95 ms | build s | file MB |")
    print("|--------:|---------:|----------:|--------:|-------:|--------:|--------:|")
    print(
        f"| {built.n_trees} | {built.search_k} | {recall:.3f} | {times.mean():.3f} | "
        f"{np.percentile(times, 95):.3f} | {built.build_seconds:.1f} | {built.file_bytes / 2**20:.1f} |"
    )


def int_list(text: str) -> list[int]:
    return [int(part) for part in text.split(",") if part]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int_list, default=[10_000, 100_000])
    parser.add_argument("--dim", type=int, default=128)
    parser.add_argument("--n-trees", type=int_list, default=list(DEFAULT_N_TREES_OPTIONS))
    parser.add_argument("--search-k", type=int_list, default=list(DEFAULT_SEARCH_K_OPTIONS))
    parser.add_argument("--target", type=float, default=DEFAULT_TARGET_RECALL)
    parser.add_argument("--sample", type=int, default=500, help="queries per measurement")
    parser.add_argument("--centres", type=int, default=200)
    parser.add_argument("--noise", type=float, default=1.0, help="noise norm relative to the unit centre")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--million", action="store_true")
    parser.add_argument("--million-trees", type=int, default=50)
    parser.add_argument("--million-search-k", type=int, default=20_000)
    parser.add_argument("--workdir", default=None, help="where --million writes its index (default: system temp)")
    args = parser.parse_args()

    print(
        f"Synthetic clustered vectors: {args.centres}-centre Gaussian mixture, noise norm {args.noise}, "
        f"L2-normalised, seed {args.seed}. Recall@10 vs exact cosine search over {args.sample} query rows "
        "(each excluded from its own neighbours); times are single-threaded Python calls to Annoy on a "
        "memory-mapped file."
    )
    for n in args.sizes:
        run_size(args, n)
    if args.million:
        run_million(args)


if __name__ == "__main__":
    main()
