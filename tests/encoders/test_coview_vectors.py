"""The product part of "goes with": what the rooms, sets and orders that held two products say of them, fitted
from the pairs at training time and looked up by product key."""

import numpy as np
import pytest
import torch

from encoders.coview_vectors import CoviewTable, fit_coview_vectors
from encoders.evaluation import EncoderEmbedder, goes_with_vectors
from encoders.inference import encode_images, load_encoder
from encoders.queries import Catalog
from encoders.training import build_model, train_encoder
from tests.encoders.helpers import draw_product, tiny_config

# products 0 and 2 were never held together, but rooms held each with 1 and with 3; 4, 5, 6 are another set;
# 7 was in no room
PAIRS = torch.tensor([[0, 1, 2], [0, 3, 1], [2, 1, 1], [2, 3, 2], [4, 5, 1], [4, 6, 1], [5, 6, 3]])


def cosine(a: torch.Tensor, b: torch.Tensor) -> float:
    return float(a @ b / (a.norm() * b.norm()))


def test_products_held_with_the_same_others_get_near_rows_though_never_held_together():
    rows = fit_coview_vectors(PAIRS, products=8, dim=4, seed=0)

    assert rows.shape == (8, 4)
    assert cosine(rows[0], rows[2]) > 0.9  # the company they keep
    assert abs(cosine(rows[0], rows[4])) < 0.1 and abs(cosine(rows[2], rows[5])) < 0.1  # the other set
    assert torch.allclose(rows[:7].norm(dim=1), torch.ones(7), atol=1e-5)
    assert torch.equal(rows[7], torch.zeros(4))  # in no room: nothing to say


def test_the_same_pairs_and_seed_give_the_same_rows_and_leave_the_random_state_alone():
    torch.manual_seed(123)
    expected_next = torch.rand(3)
    torch.manual_seed(123)

    first = fit_coview_vectors(PAIRS, products=8, dim=4, seed=5)

    assert torch.equal(torch.rand(3), expected_next)
    assert torch.equal(fit_coview_vectors(PAIRS, products=8, dim=4, seed=5), first)


def test_more_dimensions_than_products_are_zero_and_no_pairs_give_zero_rows():
    rows = fit_coview_vectors(torch.tensor([[0, 1, 1], [1, 2, 1]]), products=3, dim=8, seed=0)
    assert rows.shape == (3, 8) and torch.equal(rows[:, 3:], torch.zeros(3, 5))

    assert torch.equal(
        fit_coview_vectors(torch.zeros(0, 3, dtype=torch.long), products=3, dim=4, seed=0), torch.zeros(3, 4)
    )


def test_the_table_gives_each_key_its_row_and_a_key_it_does_not_hold_a_zero_row():
    table = CoviewTable.of([40, 7, 12], torch.tensor([[1.0, 0.0], [0.0, 1.0], [0.5, 0.5]]))

    assert table.rows([7, 99, 40, 12, 3]).tolist() == [[0.0, 1.0], [0.0, 0.0], [1.0, 0.0], [0.5, 0.5], [0.0, 0.0]]
    again = CoviewTable.from_checkpoint(table.to_checkpoint())
    assert again.keys.tolist() == [7, 12, 40] and again.vectors.dtype == torch.float16
    assert torch.equal(again.rows([40, 7, 12]), table.rows([40, 7, 12]))
    with pytest.raises(ValueError, match="2 product keys for 3"):
        CoviewTable.of([1, 2], torch.zeros(3, 2))
    with pytest.raises(ValueError, match="given twice"):
        CoviewTable.of([1, 1], torch.zeros(2, 2))


@pytest.fixture(scope="module")
def trained_with_pairs(tmp_path_factory):
    folder = tmp_path_factory.mktemp("coview")
    paths = [
        draw_product(folder / f"p{i}.png", shape="square" if i % 2 else "round", colour=(30 * i, 200 - 20 * i, 90))
        for i in range(8)
    ]
    checkpoint = train_encoder(
        config=tiny_config(epochs=2),
        product_images=paths,
        categories=["sofa", "lamp"] * 4,
        coview_pairs=[tuple(int(x) for x in row) for row in PAIRS],
        backgrounds=[],
        seed=0,
        progress=lambda *args: None,
        product_keys=[100 + i for i in range(8)],
    )
    return checkpoint, paths


def test_a_trained_products_goes_with_vector_joins_its_picture_with_its_pairs_by_its_key(trained_with_pairs):
    checkpoint, paths = trained_with_pairs
    encoder = load_encoder(checkpoint)
    keys = [100 + i for i in range(8)]

    by_key = encode_images(encoder, paths, head="goes_with", keys=keys)
    unnamed = encode_images(encoder, paths, head="goes_with")
    as_new = encode_images(encoder, paths, head="goes_with", keys=[200 + i for i in range(8)])

    assert checkpoint["coview"]["keys"].tolist() == keys
    assert np.allclose(np.linalg.norm(by_key, axis=1), 1.0, atol=1e-5)
    assert np.allclose(as_new, unnamed, atol=1e-6)  # a product the model never saw: the part its picture suggests
    assert not np.allclose(by_key[:7], as_new[:7], atol=1e-3)  # in a room: its own pairs count
    # 0 and 2 were never held together, 4 never with either: the company they kept draws 0 nearer to 2 than to 4
    assert by_key[0] @ by_key[2] - by_key[0] @ by_key[4] > as_new[0] @ as_new[2] - as_new[0] @ as_new[4] + 0.3


def test_a_product_without_a_part_of_its_own_takes_the_one_its_picture_suggests():
    model = build_model(tiny_config(goes_with_dim=8, coview_dim=4), ["sofa", "lamp"])
    generator = torch.Generator().manual_seed(0)
    pictures = torch.nn.functional.normalize(torch.randn(40, 8, generator=generator), dim=1)
    parts = torch.nn.functional.normalize(pictures @ torch.randn(8, 4, generator=generator), dim=1)
    parts[30:] = 0  # ten products in no pair: nothing to learn from

    model.fit_coview_from_picture(pictures, parts, ridge=1e-6)
    held = torch.tensor([True] * 20 + [False] * 20)
    joined = model.joined_goes_with(pictures, parts, held)

    share = model.config.coview_share
    assert torch.allclose(joined[:20, 8:], parts[:20] * share**0.5, atol=1e-5)  # its own part
    guessed = torch.nn.functional.normalize(joined[20:30, 8:], dim=1)
    assert ((guessed * parts[20:30]).sum(dim=1) > 0.9).all()  # the part its picture suggests
    assert torch.allclose(model.joined_goes_with(pictures[20:30]), joined[20:30])  # none named: the same guess


def test_the_evaluation_reads_the_catalogs_goes_with_vectors_by_product_as_the_worker_stores_them(trained_with_pairs):
    checkpoint, paths = trained_with_pairs
    encoder = load_encoder(checkpoint)
    keys = [100 + i for i in range(8)]
    catalog = Catalog(images=paths, categories=["sofa", "lamp"] * 4, skus=[f"s{i}" for i in range(8)], product_ids=keys)

    vectors = goes_with_vectors(EncoderEmbedder(encoder), catalog)

    assert np.allclose(vectors, encode_images(encoder, paths, head="goes_with", keys=keys), atol=1e-6)
