"""The held-out products: a seeded split by category, training that never sees them, and their figures."""

from pathlib import Path

import numpy as np
import pytest
import torch

from encoders import metrics, training
from encoders.evaluation import held_out_scores
from encoders.holdout import holdout_split
from encoders.model import EncoderConfig
from encoders.queries import Catalog, QuerySet
from encoders.training import build_model, train_encoder
from encoders.training_inputs import prepare_inputs
from tests.encoders.helpers import COLOURS, draw_product, tiny_config


def catalog_of(counts: dict[str, int]) -> tuple[list[str], list[str]]:
    categories = [name for name, n in counts.items() for _ in range(n)]
    return categories, [f"{c}-{i}" for i, c in enumerate(categories)]


def test_the_split_holds_out_a_fifth_of_each_category_the_same_way_every_time():
    categories, skus = catalog_of({"sofa": 20, "lamp": 30, "bed": 50})

    held_out = holdout_split(categories=categories, skus=skus, fraction=0.2)

    assert held_out == holdout_split(categories=categories, skus=skus, fraction=0.2)
    assert len(held_out) == 20 and len(set(held_out)) == 20
    assert [sum(categories[i] == name for i in held_out) for name in ("sofa", "lamp", "bed")] == [4, 6, 10]
    assert held_out != holdout_split(categories=categories, skus=skus, fraction=0.2, seed=1)
    assert holdout_split(categories=categories, skus=skus, fraction=0.0) == []


def test_the_split_depends_on_the_skus_so_a_new_product_moves_at_most_one_other():
    categories, skus = catalog_of({"sofa": 40})
    before = {skus[i] for i in holdout_split(categories=categories, skus=skus, fraction=0.2)}

    after = holdout_split(categories=[*categories, "sofa"], skus=[*skus, "new-sofa"], fraction=0.2)

    assert len(before - {[*skus, "new-sofa"][i] for i in after}) <= 1


def test_a_category_always_keeps_a_product_in_training():
    categories, skus = catalog_of({"sofa": 1, "lamp": 2, "bed": 3})

    held_out = holdout_split(categories=categories, skus=skus, fraction=0.5)

    assert {categories[i] for i in held_out} == {"lamp", "bed"}
    assert sum(categories[i] == "lamp" for i in held_out) == 1
    with pytest.raises(ValueError):
        holdout_split(categories=categories, skus=skus, fraction=1.0)


def small_catalog(tmp_path: Path, n: int = 10) -> tuple[list[Path], list[str]]:
    """Every product a different picture (colour and shape), so a view tells which product it shows."""
    paths, categories = [], []
    for i in range(n):
        shape = "square" if i % 2 == 0 else "round"
        colour = tuple((c + 37 * i) % 256 for c in COLOURS[i % len(COLOURS)])
        paths.append(draw_product(tmp_path / f"p{i}.png", shape=shape, colour=colour))
        categories.append("table" if shape == "square" else "lamp")
    return paths, categories


PAIRS = [(0, 1, 3), (2, 3, 1), (1, 4, 2), (5, 6, 4), (7, 8, 1)]


def full_inputs(tmp_path: Path, config: EncoderConfig):
    images, categories = small_catalog(tmp_path)
    model = build_model(config, categories)
    inputs = prepare_inputs(
        config=config,
        model=model,
        product_images=images,
        categories=categories,
        coview_pairs=PAIRS,
        backgrounds=[],
        scene_photos=[],
        seed=0,
        cache_dir=None,
        progress=lambda *a: None,
    )
    return images, categories, inputs


def test_the_held_out_model_reads_none_of_their_shots_labels_or_pairs(tmp_path):
    config = tiny_config(wild_views=1)
    images, categories, inputs = full_inputs(tmp_path, config)
    held_out = [1, 6]

    kept = inputs.without(held_out)

    assert kept.products == 8
    for i in held_out:  # no clean shot, no composite, no reconstruction target of a held-out product
        assert not any(torch.equal(kept.views[v, j], inputs.views[v, i]) for v in range(2) for j in range(8))
        assert not any(torch.equal(kept.targets[j], inputs.targets[i]) for j in range(8))
    survivors = [0, 2, 3, 4, 5, 7, 8, 9]
    assert all(torch.equal(kept.views[:, j], inputs.views[:, old]) for j, old in enumerate(survivors))
    assert [kept.categories[label] for label in kept.labels] == [categories[i] for i in survivors]
    # pairs with a held-out product are gone; the others point at the same products, re-indexed
    assert [(survivors[a], survivors[b], c) for a, b, c in kept.pairs.tolist()] == [(2, 3, 1), (7, 8, 1)]
    assert kept.counts["products"] == 8 and kept.counts["pairs"] == 2 and kept.counts["held_out"] == 2


def test_the_room_photos_lose_the_held_out_products_and_a_photo_left_with_none_is_dropped(tmp_path):
    _, _, inputs = full_inputs(tmp_path, tiny_config(wild_views=0))
    positives = torch.zeros(3, 10, dtype=torch.bool)
    positives[0, [1, 2]] = True  # a room with a held-out product and a kept one
    positives[1, [6]] = True  # a room of held-out products only
    positives[2, [3, 4]] = True
    features = torch.arange(3.0).view(3, 1, 1).expand(3, 2, 4)
    rooms = type(inputs)(**{**inputs.__dict__, "scene_features": features, "scene_positives": positives})

    kept = rooms.without([1, 6])

    assert kept.scene_positives.tolist() == [
        [False, True, False, False, False, False, False, False],
        [False, False, True, True, False, False, False, False],
    ]
    assert kept.scene_features[:, 0, 0].tolist() == [0.0, 2.0]


def test_training_with_held_out_products_fits_the_loop_and_the_served_projection_on_the_others(tmp_path, monkeypatch):
    images, categories = small_catalog(tmp_path)
    seen = {}
    loop, projection = training.train_loop, training.fit_served_projection

    def spy_loop(model, inputs, **options):
        seen["loop"] = inputs
        return loop(model, inputs, **options)

    def spy_projection(model, inputs, coview):
        seen["pca"] = inputs
        seen["coview"] = coview
        return projection(model, inputs, coview)

    monkeypatch.setattr(training, "train_loop", spy_loop)
    monkeypatch.setattr(training, "fit_served_projection", spy_projection)

    checkpoint = train_encoder(
        config=tiny_config(epochs=1),
        product_images=images,
        categories=categories,
        coview_pairs=PAIRS,
        backgrounds=[],
        seed=0,
        progress=lambda *a: None,
        held_out=[1, 6],
    )

    assert seen["loop"].products == seen["pca"].products == 8
    assert checkpoint["data"]["products"] == 8 and checkpoint["data"]["held_out"] == 2
    assert checkpoint["data"]["pairs"] == 2
    # the co-view parts are of the products kept, by their own keys: a held-out product has none
    assert checkpoint["coview"]["keys"].tolist() == [0, 2, 3, 4, 5, 7, 8, 9]
    assert len(seen["coview"]) == 8


class FixedEmbedder:
    """Every product's vector given by hand: a point on the unit circle at ``angles`` degrees."""

    def __init__(self, angles):
        radians = np.radians(np.asarray(angles, dtype=np.float64))
        self.vectors = np.stack([np.cos(radians), np.sin(radians)], axis=1)

    def catalog(self, images, *, head):
        return self.vectors


def test_held_out_figures_by_hand_on_a_tiny_catalog():
    # 20 products 5° apart: sofas at 0°..45°, lamps at 50°..95°; cosine neighbours are the nearest angles
    angles = [5 * i for i in range(20)]
    catalog = Catalog(
        images=[Path(f"p{i}.png") for i in range(20)],
        categories=["sofa"] * 10 + ["lamp"] * 10,
        skus=[f"s{i}" for i in range(20)],
    )
    rooms = [["s0", "s19"], ["s9", "s10", "s3"], ["s4", "s5"]]
    queries = QuerySet(web_images=[], web_classes=[], accept={}, rooms=rooms, scene_photos=[], scene_rooms=[])

    scores = held_out_scores(FixedEmbedder(angles), catalog, queries, held_out=[0, 9, 19])

    # s0: 5°..50° -> 9 sofas and one lamp; s9 (45°): 20°..70° -> 5 sofas; s19 (95°): 50°..90° -> 9 lamps
    assert scores["held-out P@10"].tolist() == pytest.approx([0.9, 0.5, 0.9])
    # only held-out products ask: s0 misses s19 and s19 misses s0 (far apart); s9 finds s10 (50°); room 3 has none
    assert scores["held-out room hit@10"].tolist() == [0.0, 0.0, 1.0]


def test_the_room_task_asks_only_the_products_it_is_given():
    vectors = np.array([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0], [0.1, 0.9]])
    rooms = [[0, 1], [2, 3, 0]]

    hits, recalls = metrics.room_hit_recall_scores(vectors, rooms, k=2, query_products=[1, 2])

    assert hits.tolist() == [1.0, 1.0] and recalls.tolist() == [1.0, 0.5]
