import gc
import json
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from recommender.index import (
    ACTIVE_FILE,
    IndexCache,
    IndexUnavailable,
    LoadedIndex,
    activate,
    active_version,
    build_index,
    choose_parameters,
    collect_garbage,
    exact_neighbours,
    exact_search,
    list_versions,
    merge_results,
    recall_at_k,
    recall_curve,
)
from recommender.index import build as index_build
from recommender.index import versions as index_versions

DIM = 32


def random_vectors(n: int, *, seed: int = 0) -> np.ndarray:
    vectors = np.random.default_rng(seed).standard_normal((n, DIM)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


@pytest.fixture(scope="module")
def vectors() -> np.ndarray:
    return random_vectors(2000)


@pytest.fixture(scope="module")
def product_ids() -> np.ndarray:
    # Not 0..n-1, and not sorted, so the item -> product map is really exercised.
    return np.random.default_rng(1).permutation(np.arange(1000, 3000)).astype(np.int64)


def build(root: Path, vectors: np.ndarray, product_ids, **overrides):
    options = {"n_trees": 10, "search_k": 2000, "seed": 0} | overrides
    return build_index(vectors=vectors, product_ids=product_ids, root=root, **options)


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_build_writes_a_complete_version(tmp_path, vectors, product_ids):
    built = build(tmp_path, vectors, product_ids, metadata={"encoder_version": 7})

    assert list_versions(tmp_path) == [built.version]
    assert sorted(p.name for p in built.path.iterdir()) == ["index.ann", "items.npy", "meta.json"]
    np.testing.assert_array_equal(np.load(built.path / "items.npy"), product_ids)
    meta = json.loads((built.path / "meta.json").read_text())
    assert meta["dimension"] == DIM and meta["count"] == 2000 and meta["n_trees"] == 10
    assert meta["search_k"] == 2000 and meta["seed"] == 0
    assert meta["metadata"] == {"encoder_version": 7}
    assert meta["file_bytes"] == (built.path / "index.ann").stat().st_size == built.file_bytes
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]
    assert active_version(tmp_path) is None


def test_build_rejects_mismatched_or_duplicate_ids(tmp_path, vectors):
    with pytest.raises(ValueError, match="product ids"):
        build(tmp_path, vectors, [1, 2, 3])
    with pytest.raises(ValueError, match="duplicates"):
        build(tmp_path, vectors[:3], [1, 2, 2])


def test_query_returns_products_best_first_with_cosine_similarity(tmp_path, vectors, product_ids):
    loaded = LoadedIndex.load(build(tmp_path, vectors, product_ids).path)

    results = loaded.query(vectors[5], k=10)

    assert len(results) == 10
    assert results[0][0] == product_ids[5] and results[0][1] == pytest.approx(1.0, abs=1e-5)
    scores = [score for _, score in results]
    assert scores == sorted(scores, reverse=True)
    row_of = {int(pid): row for row, pid in enumerate(product_ids)}
    for product_id, score in results:
        assert score == pytest.approx(float(vectors[row_of[product_id]] @ vectors[5]), abs=1e-4)


def test_query_product_excludes_the_product_itself(tmp_path, vectors, product_ids):
    loaded = LoadedIndex.load(build(tmp_path, vectors, product_ids).path)
    product_id = int(product_ids[42])

    results = loaded.query_product(product_id, k=10)

    assert len(results) == 10
    assert product_id not in [pid for pid, _ in results]
    scores = [score for _, score in results]
    assert scores == sorted(scores, reverse=True)
    assert loaded.query_product(999_999, k=10) == []


def test_vector_contains_and_len(tmp_path, vectors, product_ids):
    loaded = LoadedIndex.load(build(tmp_path, vectors, product_ids).path)

    assert len(loaded) == 2000
    assert int(product_ids[7]) in loaded and 999_999 not in loaded
    np.testing.assert_allclose(loaded.vector(int(product_ids[7])), vectors[7], atol=1e-6)
    assert loaded.vector(999_999) is None


def test_unloaded_index_raises_index_unavailable(tmp_path, vectors, product_ids):
    loaded = LoadedIndex.load(build(tmp_path, vectors, product_ids).path)

    loaded.unload()
    loaded.unload()

    with pytest.raises(IndexUnavailable):
        loaded.query(vectors[0], k=5)


def test_chosen_parameters_reach_the_target_recall(tmp_path, vectors, product_ids):
    curve = recall_curve(vectors, n_trees_options=(5, 20), search_k_options=(100, 1000, 4000), k=10, sample=200)
    n_trees, search_k = choose_parameters(curve, target_recall=0.95)
    loaded = LoadedIndex.load(build(tmp_path, vectors, product_ids, n_trees=n_trees, search_k=search_k).path)

    query_ids = np.random.default_rng(3).choice(len(vectors), size=200, replace=False)
    recall = recall_at_k(loaded, vectors, query_ids, k=10, search_k=search_k)

    assert recall >= 0.95
    assert {"n_trees", "search_k", "recall", "mean_ms", "p95_ms", "build_seconds", "file_bytes"} <= set(curve[0])


def test_choose_parameters_prefers_fast_then_few_trees_and_falls_back_to_best_recall():
    def row(n_trees, search_k, recall, mean_ms):
        return {"n_trees": n_trees, "search_k": search_k, "recall": recall, "mean_ms": mean_ms}

    curve = [row(10, 100, 0.90, 0.1), row(50, 500, 0.96, 0.50), row(10, 2000, 0.97, 0.52), row(10, 9000, 0.99, 2.0)]
    assert choose_parameters(curve, target_recall=0.95) == (10, 2000)  # within 10% of fastest, fewer trees
    assert choose_parameters(curve, target_recall=0.999) == (10, 9000)


def test_exact_neighbours_matches_brute_force(vectors):
    indices, similarities = exact_neighbours(vectors, vectors[:3], 5)

    expected = np.argsort(-(vectors[:3] @ vectors.T), axis=1)[:, :5]
    np.testing.assert_array_equal(indices, expected)
    assert similarities[:, 0] == pytest.approx(1.0, abs=1e-5)


def test_activate_switches_the_pointer_only_by_os_replace(tmp_path, vectors, product_ids, monkeypatch):
    first = build(tmp_path, vectors, product_ids)
    second = build(tmp_path, vectors, product_ids)
    replaced = []
    real_replace = os.replace
    monkeypatch.setattr(
        index_versions.os, "replace", lambda src, dst: (replaced.append((Path(src), Path(dst))), real_replace(src, dst))
    )

    activate(root=tmp_path, version=first.version)
    activate(root=tmp_path, version=second.version)

    temp = tmp_path / f"{ACTIVE_FILE}.tmp-{os.getpid()}"
    assert replaced == [(temp, tmp_path / ACTIVE_FILE)] * 2
    assert active_version(tmp_path) == second.version
    assert not temp.exists()


def test_half_built_version_is_never_listed_nor_activated(tmp_path, vectors, product_ids):
    building = tmp_path / ".building-20990101T000000Z-deadbeef-123"
    building.mkdir()
    (building / "index.ann").write_bytes(b"\0" * 64)

    assert list_versions(tmp_path) == []
    with pytest.raises(ValueError):
        activate(root=tmp_path, version=building.name)
    assert active_version(tmp_path) is None


def test_failed_build_leaves_no_version_behind(tmp_path, vectors, product_ids, monkeypatch):
    def fail(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(index_build.np, "save", fail)

    with pytest.raises(OSError, match="disk full"):
        build(tmp_path, vectors, product_ids)

    assert list_versions(tmp_path) == []
    assert list(tmp_path.iterdir()) == []


def test_cache_reloads_after_activate_and_drops_the_old_lease(tmp_path, vectors, product_ids):
    first = build(tmp_path, vectors, product_ids)
    second = build(tmp_path, vectors[::-1].copy(), product_ids)
    activate(root=tmp_path, version=first.version)
    clock = FakeClock()
    cache = IndexCache(recheck_seconds=1.0, clock=clock)
    lease_name = f"{socket.gethostname()}-{os.getpid()}"

    old = cache.get(tmp_path)
    assert old.version == first.version
    assert (first.path / "leases" / lease_name).exists()

    activate(root=tmp_path, version=second.version)
    assert cache.get(tmp_path) is old  # the pointer is only re-read every recheck_seconds
    clock.now += 1.5
    new = cache.get(tmp_path)

    assert new.version == second.version
    assert (second.path / "leases" / lease_name).exists()
    del old
    gc.collect()
    assert not (first.path / "leases" / lease_name).exists()


def test_cache_keeps_serving_the_old_version_when_the_new_one_is_corrupt(tmp_path, vectors, product_ids):
    first = build(tmp_path, vectors, product_ids)
    second = build(tmp_path, vectors, product_ids)
    activate(root=tmp_path, version=first.version)
    clock = FakeClock()
    cache = IndexCache(clock=clock)
    cache.get(tmp_path)
    (second.path / "index.ann").write_bytes(b"broken")

    activate(root=tmp_path, version=second.version)
    clock.now += 2

    assert cache.get(tmp_path).version == first.version
    assert isinstance(cache.last_error, IndexUnavailable)


def test_cache_returns_none_without_an_active_version(tmp_path):
    assert IndexCache().get(tmp_path) is None


def write_lease(version_path: Path, name: str, *, age_seconds: float = 0) -> None:
    lease = version_path / "leases" / name
    lease.parent.mkdir(exist_ok=True)
    lease.touch()
    stamp = time.time() - age_seconds
    os.utime(lease, (stamp, stamp))


def dead_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def test_collect_garbage_spares_active_recent_and_leased_versions(tmp_path, vectors, product_ids):
    small = vectors[:200]
    names = [build(tmp_path, small, product_ids[:200]).version for _ in range(7)]
    activate(root=tmp_path, version=names[0])
    host = socket.gethostname()
    write_lease(tmp_path / names[1], "otherhost-1")  # fresh lease from another machine
    write_lease(tmp_path / names[2], f"{host}-{os.getpid()}", age_seconds=7200)  # old but running here
    write_lease(tmp_path / names[3], "otherhost-2", age_seconds=7200)  # stale
    write_lease(tmp_path / names[4], f"{host}-{dead_pid()}", age_seconds=7200)  # process gone
    # names[5] and names[6] are the two most recent.

    removed = collect_garbage(root=tmp_path, keep=2, stale_lease_seconds=3600)

    assert sorted(removed) == [names[3], names[4]]
    assert list_versions(tmp_path) == [names[0], names[1], names[2], names[5], names[6]]


def test_collect_garbage_removes_old_leaseless_version(tmp_path, vectors, product_ids):
    names = [build(tmp_path, vectors[:200], product_ids[:200]).version for _ in range(2)]
    activate(root=tmp_path, version=names[1])

    assert collect_garbage(root=tmp_path, keep=1) == [names[0]]
    assert list_versions(tmp_path) == [names[1]]


def test_collect_garbage_removes_only_abandoned_temp_directories(tmp_path):
    old = tmp_path / ".building-20200101T000000Z-aaaaaaaa-1"
    fresh = tmp_path / ".building-20990101T000000Z-bbbbbbbb-2"
    old.mkdir()
    fresh.mkdir()
    stamp = time.time() - 7200
    os.utime(old, (stamp, stamp))

    assert collect_garbage(root=tmp_path) == [old.name]
    assert fresh.exists() and not old.exists()


def test_truncated_index_raises_index_unavailable(tmp_path, vectors, product_ids):
    built = build(tmp_path, vectors, product_ids)
    index_file = built.path / "index.ann"
    with open(index_file, "r+b") as handle:
        handle.truncate(built.file_bytes // 2)

    with pytest.raises(IndexUnavailable, match="bytes"):
        LoadedIndex.load(built.path)


def test_overwritten_index_of_the_same_size_raises_index_unavailable(tmp_path, vectors, product_ids):
    built = build(tmp_path, vectors, product_ids)
    with open(built.path / "index.ann", "r+b") as handle:
        handle.write(b"\xff" * 4096)

    with pytest.raises(IndexUnavailable, match="digest"):
        LoadedIndex.load(built.path)


def test_missing_files_raise_index_unavailable(tmp_path, vectors, product_ids):
    built = build(tmp_path, vectors, product_ids)
    (built.path / "index.ann").unlink()

    with pytest.raises(IndexUnavailable):
        LoadedIndex.load(built.path)
    with pytest.raises(IndexUnavailable):
        LoadedIndex.load(tmp_path / "no-such-version")


def test_exact_search_ranks_by_cosine():
    vectors = np.array([[1, 0], [0.6, 0.8], [0, 1], [-1, 0]], dtype=np.float32)

    results = exact_search(vectors, [10, 11, 12, 13], np.array([1.0, 0.1]), k=3)

    assert [pid for pid, _ in results] == [10, 11, 12]
    assert results[0][1] == pytest.approx(1 / np.sqrt(1.01), abs=1e-6)
    assert len(exact_search(vectors, [10, 11, 12, 13], np.array([1.0, 0.0]), k=10)) == 4
    assert exact_search(np.empty((0, 2), dtype=np.float32), [], np.array([1.0, 0.0]), k=3) == []


def test_merge_results_fresh_score_wins_and_duplicates_collapse():
    indexed = [(1, 0.9), (2, 0.8), (3, 0.7)]
    fresh = [(2, 0.5), (4, 0.85)]

    assert merge_results(indexed, fresh, k=10) == [(1, 0.9), (4, 0.85), (3, 0.7), (2, 0.5)]


def test_merge_results_excludes_and_truncates():
    indexed = [(1, 0.9), (2, 0.8), (3, 0.7)]
    fresh = [(4, 0.85)]

    assert merge_results(indexed, fresh, k=2, exclude={1}) == [(4, 0.85), (2, 0.8)]


def test_merge_results_drops_superseded_indexed_scores():
    indexed = [(1, 0.9), (2, 0.8)]
    fresh = [(3, 0.4)]  # product 1 was re-encoded and no longer ranks

    assert merge_results(indexed, fresh, k=10, superseded={1, 3}) == [(2, 0.8), (3, 0.4)]


def test_cache_serves_queries_from_many_threads_across_switches(tmp_path, vectors, product_ids):
    names = [build(tmp_path, vectors[:500], product_ids[:500]).version for _ in range(2)]
    activate(root=tmp_path, version=names[0])
    cache = IndexCache(recheck_seconds=0.0)
    errors = []
    stop = threading.Event()

    def reader():
        try:
            while not stop.is_set():
                assert len(cache.get(tmp_path).query(vectors[0], k=5)) == 5
        except Exception as error:  # reported below, not swallowed
            errors.append(error)

    threads = [threading.Thread(target=reader) for _ in range(4)]
    for thread in threads:
        thread.start()
    for switch in range(20):
        activate(root=tmp_path, version=names[switch % 2])
        time.sleep(0.01)
    stop.set()
    for thread in threads:
        thread.join()

    assert errors == []
    gc.collect()
    live = {name for name in names if any((tmp_path / name / "leases").glob("*"))}
    assert live == {cache.get(tmp_path).version}


def test_meta_without_required_fields_raises_index_unavailable(tmp_path, vectors, product_ids):
    built = build(tmp_path, vectors[:100], product_ids[:100])
    (built.path / "meta.json").write_text(json.dumps({"count": 100}))

    with pytest.raises(IndexUnavailable, match="lacks"):
        LoadedIndex.load(built.path)
