import numpy as np
import pytest
import torch
from PIL import Image

from encoders.inference import (
    backbone_features,
    encode_images,
    encode_query,
    encode_scene,
    load_encoder,
    reconstruct,
)
from encoders.training import train_encoder
from tests.encoders.helpers import draw_product, make_background, make_catalog, tiny_config, train_with_room_photos


@pytest.fixture
def trained(tmp_path):
    paths, categories = make_catalog(tmp_path)
    checkpoint = train_encoder(
        config=tiny_config(),
        product_images=paths,
        categories=categories,
        coview_pairs=[(0, 1, 2), (2, 3, 1), (4, 7, 1)],
        backgrounds=[make_background(tmp_path)],
        seed=0,
        progress=lambda *args: None,
        num_threads=1,
    )
    return checkpoint, paths


def test_checkpoint_round_trips_to_identical_embeddings(trained, tmp_path):
    checkpoint, paths = trained
    torch.save(checkpoint, tmp_path / "encoder.pt")

    before = encode_images(load_encoder(checkpoint), paths)
    after = encode_images(load_encoder(tmp_path / "encoder.pt"), paths)

    assert np.array_equal(before, after)


def test_checkpoint_holds_plain_metadata(trained, tmp_path):
    checkpoint, paths = trained
    torch.save(checkpoint, tmp_path / "encoder.pt")

    loaded = torch.load(tmp_path / "encoder.pt", map_location="cpu", weights_only=True)

    assert loaded["version"] == 2
    assert loaded["categories"] == ["lamp", "table"]
    assert loaded["data"]["products"] == len(paths) and loaded["data"]["pairs"] == 3
    assert len(loaded["data"]["inputs_sha256"]) == 64
    assert len(loaded["metrics"]["history"]) == loaded["config"]["optimisation"]["epochs"]
    assert loaded["preprocess"]["image_size"] == loaded["config"]["model"]["image_size"]


def test_training_is_reproducible(tmp_path):
    paths, categories = make_catalog(tmp_path)
    kwargs = dict(
        config=tiny_config(epochs=1),
        product_images=paths,
        categories=categories,
        coview_pairs=[(0, 1, 1)],
        backgrounds=[make_background(tmp_path)],
        seed=3,
        progress=lambda *args: None,
    )

    first, second = train_encoder(**kwargs), train_encoder(**kwargs)

    assert all(torch.equal(first["state_dict"][k], second["state_dict"][k]) for k in first["state_dict"])


def test_how_many_pairs_a_step_sees_changes_the_goes_with_head_alone(tmp_path):
    """The co-view term draws its pairs and its dropout from its own random stream and its gradient stops at the
    "goes with" head: every other weight comes out the same whatever the pair batch (a frozen backbone, as served)."""
    paths, categories = make_catalog(tmp_path)

    def trained_with(pair_batch_size: int) -> dict:
        return train_encoder(
            config=tiny_config(epochs=2, freeze_backbone=True, dropout=0.2, pair_batch_size=pair_batch_size),
            product_images=paths,
            categories=categories,
            coview_pairs=[(0, 1, 2), (2, 3, 1), (4, 7, 1), (1, 5, 1)],
            backgrounds=[make_background(tmp_path)],
            seed=0,
            progress=lambda *args: None,
        )["state_dict"]

    few, many = trained_with(2), trained_with(8)

    # the head, and what is fitted on its output after training: its projection, the guess of a new product's part
    own = [k for k in few if k.startswith(("goes_with", "coview_from_picture"))]
    assert own and any(not torch.equal(few[k], many[k]) for k in own)
    assert all(torch.equal(few[k], many[k]) for k in few if k not in own)


def test_encode_images_gives_unit_float32_rows_for_paths_and_pil_images(trained):
    checkpoint, paths = trained
    encoder = load_encoder(checkpoint)
    images = [paths[0], Image.open(paths[1]).convert("RGBA")]

    similar = encode_images(encoder, images, head="similar", batch_size=1)
    goes_with = encode_images(encoder, images, head="goes_with")

    assert similar.shape == (2, encoder.config.latent_dim) and similar.dtype == np.float32
    assert goes_with.shape == (2, encoder.config.goes_with_input_dim)  # no served projection at these widths
    assert np.allclose(np.linalg.norm(similar, axis=1), 1.0, atol=1e-5)


def test_reconstruct_returns_images_of_the_decoder_size(trained):
    checkpoint, paths = trained
    encoder = load_encoder(checkpoint)

    images = reconstruct(encoder, paths[:3])

    assert len(images) == 3
    assert images[0].size == (encoder.config.recon_size, encoder.config.recon_size)


def test_encode_scene_gives_one_vector_per_crop(trained, tmp_path):
    checkpoint, _ = trained
    room = Image.new("RGB", (80, 60), (150, 120, 100))

    vectors = encode_scene(load_encoder(checkpoint), room, grid=(1, 2))

    assert vectors.shape == (5, 16)


def test_scene_photos_train_the_scene_head_with_a_frozen_backbone(tmp_path):
    paths, categories = make_catalog(tmp_path)
    room = make_background(tmp_path)

    checkpoint = train_with_room_photos(
        tiny_config(freeze_backbone=True, w_scene=1.0, scene_rooms_per_step=2), paths, categories, room
    )

    assert "scene" in checkpoint["metrics"]["history"][-1]
    assert checkpoint["data"]["scene_photos"] == 2
    assert np.array_equal(
        encode_images(load_encoder(checkpoint), paths[:2]), encode_images(load_encoder(checkpoint), paths[:2])
    )


def train_plain(config, paths, categories) -> dict:
    """A checkpoint of ``config`` trained on the catalog alone (no pairs, no backgrounds), on one thread."""
    return train_encoder(
        config=config,
        product_images=paths,
        categories=categories,
        coview_pairs=[],
        backgrounds=[],
        seed=0,
        progress=lambda *args: None,
        num_threads=1,
    )


def test_the_served_vector_is_the_projection_of_code_and_residual(tmp_path):
    paths, categories = make_catalog(tmp_path)
    config = tiny_config(residual_weight=1.0, served_dim=8)  # code 16 + residual 32 -> served 8
    checkpoint = train_plain(config, paths, categories)
    torch.save(checkpoint, tmp_path / "encoder.pt")
    encoder = load_encoder(tmp_path / "encoder.pt")

    vectors = encode_images(encoder, paths)
    with torch.no_grad():
        features = torch.from_numpy(backbone_features(encoder, paths))
        unprojected = encoder.model.unprojected_vectors(features).numpy()

    assert vectors.shape == (len(paths), 8)
    assert unprojected.shape == (len(paths), 48)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert np.array_equal(vectors, encode_images(load_encoder(checkpoint), paths))
    # eight products span at most seven directions around their mean: the projection keeps their geometry
    assert np.array_equal(nearest(vectors), nearest(unprojected - unprojected.mean(axis=0)))


def nearest(vectors: np.ndarray) -> np.ndarray:
    unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    similarity = unit @ unit.T
    np.fill_diagonal(similarity, -np.inf)
    return similarity.argmax(axis=1)


def test_a_checkpoint_from_before_the_projection_still_serves_its_full_width(trained, tmp_path):
    checkpoint, paths = trained
    # those checkpoints kept the config flat, and had no served_dim
    older = {name: value for part in checkpoint["config"].values() for name, value in part.items()}
    older.pop("served_dim")
    checkpoint = {**checkpoint, "config": older}

    vectors = encode_images(load_encoder(checkpoint), paths)

    assert vectors.shape[1] == older["latent_dim"]


def test_the_category_head_guesses_the_kind_of_a_photo(tmp_path):
    """Tables are squares and lamps rounds in the tiny catalog: a new square photo is guessed a table."""
    paths, categories = make_catalog(tmp_path)
    checkpoint = train_encoder(
        config=tiny_config(epochs=30),
        product_images=paths,
        categories=categories,
        coview_pairs=[],
        backgrounds=[],
        seed=0,
        progress=lambda *args: None,
        num_threads=1,
    )
    square = draw_product(tmp_path / "new.png", shape="square", colour=(90, 90, 90))

    guess = encode_query(load_encoder(checkpoint), Image.open(square)).categories

    assert set(guess) == {"lamp", "table"} and sum(guess.values()) == pytest.approx(1.0, abs=1e-5)
    assert guess["table"] > 0.5
    assert "category" in checkpoint["metrics"]["history"][-1]  # the term is trained and recorded


def test_a_checkpoint_from_before_the_category_head_still_serves_and_guesses_nothing(trained):
    checkpoint, paths = trained
    older = {
        **checkpoint,
        "state_dict": {k: v for k, v in checkpoint["state_dict"].items() if not k.startswith("category.")},
    }

    encoder = load_encoder(older)
    encoded = encode_query(encoder, paths[0])

    assert not encoder.has_category_head and encoded.categories == {}
    assert np.allclose(encoded.vector, encode_images(load_encoder(checkpoint), [paths[0]])[0], atol=1e-6)


def test_the_served_goes_with_vector_is_the_projection_of_the_heads_output(tmp_path):
    paths, categories = make_catalog(tmp_path)
    config = tiny_config(served_goes_with_dim=4, coview_dim=0)  # the head's 8 -> served 4, no co-view part
    checkpoint = train_plain(config, paths, categories)
    encoder = load_encoder(checkpoint)

    vectors = encode_images(encoder, paths, head="goes_with")
    with torch.no_grad():
        features = torch.from_numpy(backbone_features(encoder, paths))
        outputs = torch.nn.functional.normalize(encoder.model.embed_features(features)["goes_with"], dim=1).numpy()

    assert vectors.shape == (len(paths), 4)
    assert outputs.shape == (len(paths), 8)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    centred = outputs - outputs.mean(axis=0)
    # the projection keeps the axes along which the products differ most: the four of a PCA
    assert np.allclose(
        np.abs(encoder.model.goes_with_projection.numpy() @ np.linalg.svd(centred, full_matrices=False)[2][:4].T),
        np.eye(4),
        atol=1e-3,
    )


def test_a_checkpoint_from_before_the_goes_with_projection_still_serves_the_heads_output(trained):
    checkpoint, paths = trained
    config = {part: dict(values) for part, values in checkpoint["config"].items()}
    config["model"].pop("served_goes_with_dim")
    config["model"].pop("coview_dim")
    state = {
        k: v
        for k, v in checkpoint["state_dict"].items()
        if not k.startswith(("goes_with_projection", "coview_from_picture"))
    }
    older = {**{k: v for k, v in checkpoint.items() if k != "coview"}, "config": config, "state_dict": state}

    vectors = encode_images(load_encoder(older), paths, head="goes_with")

    assert vectors.shape[1] == config["model"]["goes_with_dim"]
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
