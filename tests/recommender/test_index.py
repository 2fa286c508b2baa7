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
from annoy import AnnoyIndex

from recommender.index import (
    ACTIVE_FILE,
    GOES_WITH,
    INDEX_FILE,
    SIMILAR,
    IndexBuilder,
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
    load_leased,
    merge_results,
    recall_at_k,
    recall_curve,
)
from recommender.index import build as index_build
from recommender.index import versions as index_versions

DIM = 32  # the similar space in these tests
GOES_DIM = 16


def random_vectors(n: int, dim: int = DIM, *, seed: int = 0) -> np.ndarray:
    vectors = np.random.default_rng(seed).standard_normal((n, dim)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


@pytest.fixture(scope="module")
def vectors() -> np.ndarray:
    return random_vectors(2000)


@pytest.fixture(scope="module")
def goes_with() -> np.ndarray:
    return random_vectors(2000, GOES_DIM, seed=5)


@pytest.fixture(scope="module")
def product_ids() -> np.ndarray:
    # Not 0..n-1, and not sorted, so the item -> product map is really exercised.
    return np.random.default_rng(1).permutation(np.arange(1000, 3000)).astype(np.int64)


def build(
    root: Path, vectors: np.ndarray, product_ids, *, goes=None, positions=None, batch=700, metadata=None, **options
):
    """A two-space version: ``goes`` (default: the similar vectors' first GOES_DIM columns) for goes_with."""
    goes = np.ascontiguousarray(vectors[:, :GOES_DIM]) if goes is None else goes
    ids = np.asarray(product_ids)
    with IndexBuilder(
        root=root, dimensions={SIMILAR: vectors.shape[1], GOES_WITH: goes.shape[1]}, **options
    ) as builder:
        for start in range(0, len(ids), batch):
            part = slice(start, start + batch)
            builder.add(
                ids[part],
                {SIMILAR: vectors[part], GOES_WITH: goes[part]},
                None if positions is None else positions[part],
            )
        return builder.finish(metadata or {})


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_build_writes_a_complete_two_space_version(tmp_path, vectors, goes_with, product_ids):
    built = build(tmp_path, vectors, product_ids, goes=goes_with, metadata={"encoder_version": 7})

    assert list_versions(tmp_path) == [built.version]
    assert sorted(p.name for p in built.path.iterdir()) == ["goes_with.ann", "items.npy", "meta.json", "similar.ann"]
    np.testing.assert_array_equal(np.load(built.path / "items.npy"), product_ids)
    meta = json.loads((built.path / "meta.json").read_text())
    assert meta["format"] == 2 and meta["count"] == 2000 and meta["seed"] == 0 and meta["built_at"]
    assert meta["metadata"] == {"encoder_version": 7}
    for space, dimension in [(SIMILAR, DIM), (GOES_WITH, GOES_DIM)]:
        section = meta["spaces"][space]
        assert section["dimension"] == dimension and section["tuned_k"] == 10
        assert section["file_bytes"] == (built.path / f"{space}.ann").stat().st_size == built.spaces[space].file_bytes
        assert section["n_trees"] == built.spaces[space].n_trees >= 1
        assert section["search_k"] == built.spaces[space].search_k
        assert section["recall_at_10"] == pytest.approx(built.spaces[space].recall_at_10, abs=1e-4)
        assert {"file_digest", "build_seconds"} <= set(section)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]
    assert active_version(tmp_path) is None


def test_builder_rejects_bad_batches_and_stays_usable(tmp_path, vectors, goes_with):
    builder = IndexBuilder(root=tmp_path, dimensions={SIMILAR: DIM, GOES_WITH: GOES_DIM})
    good = {SIMILAR: vectors[:3], GOES_WITH: goes_with[:3]}

    with pytest.raises(ValueError, match="expected \\(3, 32\\)"):
        builder.add([1, 2, 3], {SIMILAR: vectors[:3, :8], GOES_WITH: goes_with[:3]})
    with pytest.raises(ValueError, match="for 2 ids"):
        builder.add([1, 2], good)
    with pytest.raises(ValueError, match="spaces"):
        builder.add([1, 2, 3], {SIMILAR: vectors[:3]})
    with pytest.raises(ValueError, match="duplicates"):
        builder.add([1, 2, 2], good)
    broken = vectors[:3].copy()
    broken[1, 4] = np.nan
    with pytest.raises(ValueError, match=r"products \[2\] contain NaN"):
        builder.add([1, 2, 3], {SIMILAR: broken, GOES_WITH: goes_with[:3]})
    builder.add([1, 2, 3], good)

    assert len(builder) == 3
    builder.abort()
    assert list(tmp_path.iterdir()) == []


def test_duplicate_ids_across_batches_fail_the_build_and_leave_nothing(tmp_path, vectors, goes_with):
    builder = IndexBuilder(root=tmp_path, dimensions={SIMILAR: DIM, GOES_WITH: GOES_DIM})
    builder.add([1, 2, 3], {SIMILAR: vectors[:3], GOES_WITH: goes_with[:3]})
    builder.add([4, 3], {SIMILAR: vectors[3:5], GOES_WITH: goes_with[3:5]})

    with pytest.raises(ValueError, match=r"duplicates across batches: \[3\]"):
        builder.finish({})

    assert list(tmp_path.iterdir()) == []
    with pytest.raises(RuntimeError):
        builder.add([9], {SIMILAR: vectors[:1], GOES_WITH: goes_with[:1]})


def test_leaving_a_with_block_by_an_exception_removes_the_build(tmp_path, vectors, goes_with):
    with pytest.raises(KeyError), IndexBuilder(root=tmp_path, dimensions={SIMILAR: DIM}) as builder:
        builder.add([1, 2], {SIMILAR: vectors[:2]})
        assert [p.name.startswith(".building-") for p in tmp_path.iterdir()] == [True]
        raise KeyError("the catalog read failed")

    assert list(tmp_path.iterdir()) == []


def test_query_returns_products_best_first_with_cosine_similarity(tmp_path, vectors, goes_with, product_ids):
    loaded = LoadedIndex.load(build(tmp_path, vectors, product_ids, goes=goes_with).path)
    row_of = {int(pid): row for row, pid in enumerate(product_ids)}

    for space, matrix in [(SIMILAR, vectors), (GOES_WITH, goes_with)]:
        results = loaded.query(matrix[5], k=10, space=space)

        assert len(results) == 10
        assert results[0][0] == product_ids[5] and results[0][1] == pytest.approx(1.0, abs=1e-5)
        scores = [score for _, score in results]
        assert scores == sorted(scores, reverse=True)
        for product_id, score in results:
            assert score == pytest.approx(float(matrix[row_of[product_id]] @ matrix[5]), abs=1e-4)


def test_query_product_excludes_the_product_itself(tmp_path, vectors, product_ids):
    loaded = LoadedIndex.load(build(tmp_path, vectors, product_ids).path)
    product_id = int(product_ids[42])

    for space in (SIMILAR, GOES_WITH):
        results = loaded.query_product(product_id, k=10, space=space)

        assert len(results) == 10
        assert product_id not in [pid for pid, _ in results]
        scores = [score for _, score in results]
        assert scores == sorted(scores, reverse=True)
        assert loaded.query_product(999_999, k=10, space=space) == []


def test_vector_contains_len_and_spaces(tmp_path, vectors, goes_with, product_ids):
    loaded = LoadedIndex.load(build(tmp_path, vectors, product_ids, goes=goes_with).path)

    assert len(loaded) == 2000
    assert loaded.spaces == (SIMILAR, GOES_WITH)
    assert loaded.has_space(GOES_WITH) and not loaded.has_space("colour")
    assert loaded.dimension == loaded.dimension_of(SIMILAR) == DIM and loaded.dimension_of(GOES_WITH) == GOES_DIM
    assert int(product_ids[7]) in loaded and 999_999 not in loaded
    np.testing.assert_allclose(loaded.vector(int(product_ids[7])), vectors[7], atol=1e-6)
    np.testing.assert_allclose(loaded.vector(int(product_ids[7]), space=GOES_WITH), goes_with[7], atol=1e-6)
    assert loaded.vector(999_999) is None
    with pytest.raises(IndexUnavailable, match="no 'colour' space"):
        loaded.query(vectors[0], k=3, space="colour")
    with pytest.raises(ValueError, match="dimension"):
        loaded.query(vectors[0], k=3, space=GOES_WITH)


def test_each_space_answers_from_its_own_file(tmp_path):
    # Similar pairs products (0,1) (2,3) (4,5); goes_with pairs them (0,3) (1,4) (2,5): different neighbours.
    similar = np.repeat(np.eye(3, DIM, dtype=np.float32), 2, axis=0) + 0.01 * random_vectors(6, seed=3)
    goes = np.eye(3, GOES_DIM, dtype=np.float32)[[0, 1, 2, 0, 1, 2]] + 0.01 * random_vectors(6, GOES_DIM, seed=4)
    ids = np.arange(100, 106)
    loaded = LoadedIndex.load(build(tmp_path, similar, ids, goes=goes).path)

    assert [pid for pid, _ in loaded.query_product(100, k=1)] == [101]
    assert [pid for pid, _ in loaded.query_product(100, k=1, space=GOES_WITH)] == [103]
    assert [pid for pid, _ in loaded.query(goes[4], k=2, space=GOES_WITH)] == [104, 101]


def test_streaming_in_batches_gives_the_same_neighbours_as_one_batch(tmp_path, vectors, goes_with, product_ids):
    many = LoadedIndex.load(build(tmp_path / "a", vectors, product_ids, goes=goes_with, batch=333, n_jobs=1).path)
    one = LoadedIndex.load(build(tmp_path / "b", vectors, product_ids, goes=goes_with, batch=2000, n_jobs=1).path)

    for space in (SIMILAR, GOES_WITH):
        assert many.meta["spaces"][space] | {"build_seconds": 0, "tune_seconds": 0} == one.meta["spaces"][space] | {
            "build_seconds": 0,
            "tune_seconds": 0,
        }
        for product_id in product_ids[::20].tolist():
            assert many.query_product(product_id, k=10, space=space, search_k=50) == one.query_product(
                product_id, k=10, space=space, search_k=50
            )


def test_small_catalogs_search_everything(tmp_path, vectors, goes_with):
    for n in (1, 5, 50):
        built = build(tmp_path, vectors[:n], np.arange(n), goes=goes_with[:n])
        loaded = LoadedIndex.load(built.path)

        for space in (SIMILAR, GOES_WITH):
            assert built.spaces[space].search_k >= n * built.spaces[space].n_trees
            assert built.spaces[space].recall_at_10 == 1.0
            assert len(loaded.query_product(0, k=10, space=space)) == min(10, n - 1)


def exact_recall(loaded: LoadedIndex, space: str, matrix: np.ndarray, product_ids: np.ndarray) -> float:
    """recall@10 of query_product over every product, against numpy's exact cosine top-10 (itself excluded)."""
    similarities = matrix @ matrix.T
    np.fill_diagonal(similarities, -np.inf)
    truth = np.argsort(-similarities, axis=1)[:, :10]
    hits = 0
    for row, product_id in enumerate(product_ids.tolist()):
        found = {pid for pid, _ in loaded.query_product(product_id, k=10, space=space)}
        hits += len(found & set(product_ids[truth[row]].tolist()))
    return hits / (10 * len(product_ids))


def test_the_builders_measured_recall_equals_an_independent_exact_measurement(tmp_path):
    # Uniform random vectors in 24-d are hard for trees, so the target is met below recall 1.
    similar, goes = random_vectors(2500, 24, seed=8), random_vectors(2500, 12, seed=9)
    ids = np.arange(5000, 7500)

    built = build(tmp_path, similar, ids, goes=goes, target_recall=0.8, tuning_queries=2500)
    loaded = LoadedIndex.load(built.path)

    for space, matrix in [(SIMILAR, similar), (GOES_WITH, goes)]:
        chosen = built.spaces[space]
        assert 0.8 <= chosen.recall_at_10 < 1.0
        assert chosen.search_k < 2500 * chosen.n_trees
        assert exact_recall(loaded, space, matrix, ids) == chosen.recall_at_10
        # The smallest search_k measured to meet the target (by the recall's lower confidence bound), and one
        # close below it was measured to miss.
        curve = {search_k: lower for search_k, _, lower in loaded.meta["spaces"][space]["recall_curve"]}
        assert curve[chosen.search_k] >= 0.8 and chosen.recall_lower_bound >= 0.8
        below = [search_k for search_k, lower in curve.items() if search_k < chosen.search_k]
        assert below and all(curve[search_k] < 0.8 for search_k in below)
        assert max(below) >= chosen.search_k / 1.1


def test_tuning_queries_are_sampled_from_all_rows(tmp_path):
    # The first batch is easy (tight clusters of 11: each row's 10 neighbours are its cluster), the second
    # uniform noise. Tuned on the first batch alone, search_k would be tiny and the recall claimed ~1.
    easy = np.repeat(random_vectors(182, 24, seed=1), 11, axis=0) + 1e-3 * random_vectors(2002, 24, seed=2)
    hard = random_vectors(1998, 24, seed=3)
    similar = np.concatenate([easy, hard]).astype(np.float32)
    ids = np.arange(4000)

    built = build(tmp_path, similar, ids, goes=similar[:, :GOES_DIM].copy(), batch=2002, tuning_queries=400)
    loaded = LoadedIndex.load(built.path)

    recall = built.spaces[SIMILAR].recall_at_10
    assert recall >= 0.95
    assert abs(recall - exact_recall(loaded, SIMILAR, similar / np.linalg.norm(similar, axis=1)[:, None], ids)) < 0.03


def test_positions_are_normalised_and_follow_their_products(tmp_path, vectors, product_ids):
    rows = np.arange(2000, dtype=np.float32)
    raw = np.stack([rows * 3.0 - 500.0, -rows], axis=1)  # x grows with the row, y falls
    raw[17] = [1e9, 1e9]  # a far outlier is clipped, not allowed to squash the rest

    built = build(tmp_path, vectors, product_ids, positions=raw)
    loaded = LoadedIndex.load(built.path)

    stored = np.load(built.path / "positions.npy")
    assert stored.dtype == np.float32 and stored.shape == (2000, 2)
    assert stored.min() >= 0.02 - 1e-6 and stored.max() <= 0.98 + 1e-6
    assert loaded.position(int(product_ids[17])) == pytest.approx((0.98, 0.02))  # right, and top: largest y
    assert loaded.position(int(product_ids[0]))[0] == pytest.approx(0.02)
    assert loaded.position(int(product_ids[0]))[1] < 0.5 < loaded.position(int(product_ids[1999]))[1]
    middle = loaded.position(int(product_ids[1000]))
    assert middle == pytest.approx((0.5, 0.5), abs=0.01)
    assert loaded.position(999_999) is None
    found = loaded.positions_of(np.array([product_ids[1000], 999_999, product_ids[17]]))
    np.testing.assert_allclose(found[0], middle)
    assert np.isnan(found[1]).all()
    np.testing.assert_allclose(found[2], [0.98, 0.02])


def test_a_build_without_positions_has_none(tmp_path, vectors, product_ids):
    built = build(tmp_path, vectors[:100], product_ids[:100])
    loaded = LoadedIndex.load(built.path)

    assert not (built.path / "positions.npy").exists() and not built.has_positions
    assert loaded.position(int(product_ids[0])) is None
    assert np.isnan(loaded.positions_of(product_ids[:3])).all()


def test_positions_in_only_some_batches_are_rejected(tmp_path, vectors):
    builder = IndexBuilder(root=tmp_path, dimensions={SIMILAR: DIM})
    builder.add([1], {SIMILAR: vectors[:1]}, np.zeros((1, 2)))

    with pytest.raises(ValueError, match="every batch or with none"):
        builder.add([2], {SIMILAR: vectors[1:2]})
    builder.abort()


def test_before_publish_adds_files_inside_the_version_before_it_is_visible(tmp_path, vectors, product_ids):
    seen = {}

    def add_tiles(building: Path, items: np.ndarray, positions: np.ndarray | None) -> None:
        seen.update(listed=list_versions(tmp_path), items=items.copy(), positions=positions.copy(), at=building)
        assert (building / "meta.json").is_file() and (building / "positions.npy").is_file()
        (building / "tiles").mkdir()
        (building / "tiles" / "0.png").write_bytes(b"png")

    raw = np.random.default_rng(0).standard_normal((300, 2))
    builder = IndexBuilder(root=tmp_path, dimensions={SIMILAR: DIM})
    builder.add(product_ids[:300], {SIMILAR: vectors[:300]}, raw)
    built = builder.finish({}, before_publish=add_tiles)

    assert seen["listed"] == [] and seen["at"].name.startswith(".building-")
    np.testing.assert_array_equal(seen["items"], product_ids[:300])
    np.testing.assert_array_equal(seen["positions"], np.load(built.path / "positions.npy"))
    assert (built.path / "tiles" / "0.png").read_bytes() == b"png"


def test_a_failure_inside_before_publish_leaves_no_directory(tmp_path, vectors, product_ids):
    def fail(building: Path, items: np.ndarray, positions: np.ndarray | None) -> None:
        (building / "tiles").mkdir()
        raise OSError("tile renderer crashed")

    builder = IndexBuilder(root=tmp_path, dimensions={SIMILAR: DIM, GOES_WITH: GOES_DIM})
    builder.add(product_ids[:100], {SIMILAR: vectors[:100], GOES_WITH: vectors[:100, :GOES_DIM]})

    with pytest.raises(OSError, match="tile renderer"):
        builder.finish({}, before_publish=fail)

    assert list(tmp_path.iterdir()) == []


def test_unloaded_index_raises_index_unavailable(tmp_path, vectors, product_ids):
    loaded = LoadedIndex.load(build(tmp_path, vectors, product_ids).path)

    loaded.unload()
    loaded.unload()

    with pytest.raises(IndexUnavailable):
        loaded.query(vectors[0], k=5)
    with pytest.raises(IndexUnavailable):
        loaded.query_product(int(product_ids[0]), k=5, space=GOES_WITH)


def test_build_index_still_writes_a_similar_only_version(tmp_path, vectors, product_ids):
    built = build_index(vectors=vectors, product_ids=product_ids, root=tmp_path, n_trees=10, search_k=2000)
    loaded = LoadedIndex.load(built.path)

    assert INDEX_FILE == "similar.ann" and (built.path / INDEX_FILE).is_file()
    assert loaded.spaces == (SIMILAR,) and (built.n_trees, built.search_k) == (10, 2000)
    assert loaded.query(vectors[3], k=1)[0][0] == product_ids[3]
    with pytest.raises(ValueError, match="product ids"):
        build_index(vectors=vectors, product_ids=[1, 2, 3], root=tmp_path, n_trees=10, search_k=100)
    with pytest.raises(ValueError, match="duplicates"):
        build_index(vectors=vectors[:3], product_ids=[1, 2, 2], root=tmp_path, n_trees=10, search_k=100)


def write_format_1_version(root: Path, name: str, vectors: np.ndarray, product_ids: np.ndarray) -> Path:
    """A version as the single-space code wrote it (format 1)."""
    from recommender.index.files import _file_digest

    path = root / name
    path.mkdir(parents=True)
    annoy = AnnoyIndex(vectors.shape[1], "angular")
    for item, vector in enumerate(vectors):
        annoy.add_item(item, vector)
    annoy.build(5)
    annoy.save(str(path / "index.ann"))
    annoy.unload()
    np.save(path / "items.npy", np.asarray(product_ids, dtype=np.int64))
    meta = {
        "format": 1,
        "version": name,
        "metric": "angular",
        "dimension": vectors.shape[1],
        "count": len(vectors),
        "n_trees": 5,
        "search_k": 700,
        "tuned_k": 10,
        "seed": 0,
        "on_disk": False,
        "build_seconds": 0.1,
        "file_bytes": (path / "index.ann").stat().st_size,
        "file_digest": _file_digest(path / "index.ann"),
        "built_at": "2026-01-01T00:00:00Z",
        "metadata": {"encoder_version": "old"},
    }
    (path / "meta.json").write_text(json.dumps(meta))
    return path


def test_format_1_versions_load_as_similar_only(tmp_path, vectors, product_ids):
    path = write_format_1_version(tmp_path, "20260101T000000.000000Z-0ld0ne00", vectors[:300], product_ids[:300])
    activate(root=tmp_path, version=path.name)

    loaded = IndexCache().get(tmp_path)

    assert loaded.version == path.name and loaded.spaces == (SIMILAR,)
    assert not loaded.has_space(GOES_WITH)
    assert (loaded.dimension, loaded.n_trees, loaded.search_k) == (DIM, 5, 700)
    assert loaded.query(vectors[4], k=1)[0][0] == product_ids[4]
    assert len(loaded.query_product(int(product_ids[4]), k=5)) == 5
    assert loaded.position(int(product_ids[4])) is None
    with pytest.raises(IndexUnavailable, match="goes_with"):
        loaded.query_product(int(product_ids[4]), k=5, space=GOES_WITH)


def test_format_1_version_with_a_damaged_file_is_unavailable(tmp_path, vectors, product_ids):
    path = write_format_1_version(tmp_path, "20260101T000000.000000Z-0ld0ne00", vectors[:300], product_ids[:300])
    with open(path / "index.ann", "r+b") as handle:
        handle.write(b"\xff" * 64)

    with pytest.raises(IndexUnavailable, match="digest"):
        LoadedIndex.load(path)


def test_chosen_parameters_reach_the_target_recall(tmp_path, vectors, product_ids):
    curve = recall_curve(vectors, n_trees_options=(5, 20), search_k_options=(100, 1000, 4000), k=10, sample=200)
    n_trees, search_k = choose_parameters(curve, target_recall=0.95)
    built = build_index(vectors=vectors, product_ids=product_ids, root=tmp_path, n_trees=n_trees, search_k=search_k)
    loaded = LoadedIndex.load(built.path)

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
    first = build(tmp_path, vectors[:300], product_ids[:300])
    second = build(tmp_path, vectors[:300], product_ids[:300])
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
    builder = IndexBuilder(root=tmp_path, dimensions={SIMILAR: DIM, GOES_WITH: GOES_DIM})
    builder.add(product_ids[:10], {SIMILAR: vectors[:10], GOES_WITH: vectors[:10, :GOES_DIM]})

    assert list_versions(tmp_path) == []
    with pytest.raises(ValueError):
        activate(root=tmp_path, version=builder.path.name)
    assert active_version(tmp_path) is None
    builder.abort()


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


def mapped_files() -> set[str]:
    with open("/proc/self/maps") as maps:
        return {line.split(maxsplit=5)[-1].strip() for line in maps if line.count(" ") >= 5}


@pytest.mark.skipif(not Path("/proc/self/maps").exists(), reason="needs /proc")
def test_a_released_index_unmaps_every_space_before_dropping_its_lease(tmp_path, vectors, product_ids):
    built = build(tmp_path, vectors, product_ids)
    loaded = load_leased(built.path)
    files = {str(built.path / "similar.ann"), str(built.path / "goes_with.ann")}
    assert files <= mapped_files()

    del loaded
    gc.collect()

    assert not files & mapped_files()
    assert not list((built.path / "leases").iterdir())


def test_cache_keeps_serving_the_old_version_when_the_new_one_is_corrupt(tmp_path, vectors, product_ids):
    first = build(tmp_path, vectors[:300], product_ids[:300])
    second = build(tmp_path, vectors[:300], product_ids[:300])
    activate(root=tmp_path, version=first.version)
    clock = FakeClock()
    cache = IndexCache(clock=clock)
    cache.get(tmp_path)
    (second.path / "goes_with.ann").write_bytes(b"broken")

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


def test_a_long_streamed_build_keeps_its_directory_fresh(tmp_path, vectors, monkeypatch):
    monkeypatch.setattr(index_build, "_HEARTBEAT_SECONDS", 0.0)
    builder = IndexBuilder(root=tmp_path, dimensions={SIMILAR: DIM})
    stamp = time.time() - 7200
    os.utime(builder.path, (stamp, stamp))

    builder.add([1, 2], {SIMILAR: vectors[:2]})

    assert collect_garbage(root=tmp_path) == []
    assert builder.finish({}).path.is_dir()


@pytest.mark.parametrize("name", ["similar.ann", "goes_with.ann"])
def test_truncated_index_raises_index_unavailable(tmp_path, vectors, product_ids, name):
    built = build(tmp_path, vectors, product_ids)
    with open(built.path / name, "r+b") as handle:
        handle.truncate((built.path / name).stat().st_size // 2)

    with pytest.raises(IndexUnavailable, match="bytes"):
        LoadedIndex.load(built.path)


@pytest.mark.parametrize("name", ["similar.ann", "goes_with.ann", "items.npy", "positions.npy"])
def test_overwritten_file_of_the_same_size_raises_index_unavailable(tmp_path, vectors, product_ids, name):
    built = build(tmp_path, vectors, product_ids, positions=np.zeros((2000, 2)))
    with open(built.path / name, "r+b") as handle:
        handle.seek(200)
        handle.write(b"\x7f" * 64)

    with pytest.raises(IndexUnavailable, match="digest"):
        LoadedIndex.load(built.path)


@pytest.mark.parametrize("name", ["similar.ann", "goes_with.ann", "items.npy"])
def test_missing_files_raise_index_unavailable(tmp_path, vectors, product_ids, name):
    built = build(tmp_path, vectors[:300], product_ids[:300])
    (built.path / name).unlink()

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


def test_readers_see_both_spaces_switch_together_across_many_switches(tmp_path):
    # In version A product 1's nearest neighbour is 2 in both spaces; in version B it is 3 in both.
    def pair_version(near: int) -> str:
        similar, goes = random_vectors(400, seed=near), random_vectors(400, GOES_DIM, seed=near + 10)
        ids = np.arange(1, 401)
        similar[near - 1] = similar[0] + 0.001
        goes[near - 1] = goes[0] + 0.001
        return build(tmp_path, similar, ids, goes=goes).version

    names = [pair_version(2), pair_version(3)]
    activate(root=tmp_path, version=names[0])
    cache = IndexCache(recheck_seconds=0.0)
    errors, pairs, seen = [], set(), set()
    stop = threading.Event()

    def reader():
        try:
            while not stop.is_set():
                index = cache.get(tmp_path)
                similar = index.query_product(1, k=1)[0][0]
                time.sleep(0.001)  # let a switch happen between the two spaces' queries
                goes = index.query_product(1, k=1, space=GOES_WITH)[0][0]
                pairs.add((similar, goes))
                seen.add(index.version)
        except Exception as error:  # reported below, not swallowed
            errors.append(error)

    threads = [threading.Thread(target=reader) for _ in range(4)]
    for thread in threads:
        thread.start()
    for switch in range(20):
        name = names[switch % 2]
        activate(root=tmp_path, version=name)
        seen.clear()
        deadline = time.monotonic() + 5
        while name not in seen and time.monotonic() < deadline and not errors:
            time.sleep(0.002)  # until a reader has queried the new version
    stop.set()
    for thread in threads:
        thread.join()

    assert errors == []
    assert pairs == {(2, 2), (3, 3)}
    gc.collect()
    live = {name for name in names if any((tmp_path / name / "leases").glob("*"))}
    assert live == {cache.get(tmp_path).version}


def test_meta_without_required_fields_raises_index_unavailable(tmp_path, vectors, product_ids):
    built = build(tmp_path, vectors[:100], product_ids[:100])
    meta = json.loads((built.path / "meta.json").read_text())
    del meta["spaces"][GOES_WITH]["search_k"]
    (built.path / "meta.json").write_text(json.dumps(meta))

    with pytest.raises(IndexUnavailable, match="goes_with.*lacks"):
        LoadedIndex.load(built.path)
    (built.path / "meta.json").write_text(json.dumps({"format": 2, "count": 100}))
    with pytest.raises(IndexUnavailable, match="lacks"):
        LoadedIndex.load(built.path)
