"""EncoderConfig in its three parts: flat names still reach their part (ENCODER_CONFIG, --set), and the flat config
that checkpoints kept before the split still loads."""

import numpy as np
import pytest

from encoders.inference import embed_backbone_features, load_encoder
from encoders.model import DataConfig, EncoderConfig, ModelConfig, OptimisationConfig
from encoders.training import train_encoder
from recommender.services.retraining import default_config, quick_config
from tests.encoders.helpers import make_catalog, tiny_config


def flat(config: EncoderConfig) -> dict:
    """The config as checkpoints stored it before the split: one flat dict."""
    return {name: value for part in config.to_dict().values() for name, value in part.items()}


def test_the_config_is_made_of_a_model_a_data_and_an_optimisation_part():
    config = EncoderConfig()

    assert isinstance(config.model, ModelConfig) and isinstance(config.data, DataConfig)
    assert isinstance(config.optimisation, OptimisationConfig)
    assert set(config.to_dict()) == {"model", "data", "optimisation"}
    assert config.to_dict()["optimisation"]["epochs"] == 40 and "epochs" not in config.to_dict()["model"]


def test_flat_names_and_whole_parts_both_change_their_field():
    config = EncoderConfig().replace(epochs=3, latent_dim=32, data={"wild_views": 0})

    assert (config.optimisation.epochs, config.model.latent_dim, config.data.wild_views) == (3, 32, 0)
    assert config.data.batch_size == DataConfig().batch_size  # the rest is left as it was
    with pytest.raises(ValueError, match="unknown config field 'colour'"):
        EncoderConfig().replace(colour="red")
    with pytest.raises(ValueError, match="unknown model config field 'epochs'"):
        EncoderConfig().replace(model={"epochs": 3})


def test_a_flat_config_from_before_the_split_is_read_into_its_parts():
    older = {**flat(EncoderConfig()), "retired_knob": 1}
    del older["served_dim"]  # older still: from before the served projection

    config = EncoderConfig.from_dict(older)

    assert config.model.served_dim == 0  # those versions served the full width
    assert config.optimisation.epochs == 40 and config.model.latent_dim == 256
    assert EncoderConfig.from_dict(config.to_dict()) == config


def test_a_checkpoint_written_with_a_flat_config_still_loads_and_embeds_the_same(tmp_path):
    images, categories = make_catalog(tmp_path, n=6)
    checkpoint = train_encoder(
        config=tiny_config(epochs=1),
        product_images=images,
        categories=categories,
        coview_pairs=[],
        backgrounds=[],
        seed=0,
    )
    older = {**checkpoint, "config": flat(EncoderConfig.from_dict(checkpoint["config"]))}
    features = np.random.default_rng(0).standard_normal((3, 32)).astype(np.float32)

    now, before = load_encoder(checkpoint), load_encoder(older)

    assert before.config == now.config
    assert np.array_equal(embed_backbone_features(before, features), embed_backbone_features(now, features))


def test_encoder_config_overrides_reach_scheduled_retraining(settings):
    settings.ENCODER_CONFIG = {"epochs": 7, "latent_dim": 32, "data": {"wild_views": 2}}

    config = default_config()

    assert (config.optimisation.epochs, config.model.latent_dim, config.data.wild_views) == (7, 32, 2)
    assert quick_config().optimisation.epochs == 4 and quick_config().model.latent_dim == 32
    settings.ENCODER_CONFIG = tiny_config(epochs=5).to_dict()  # what the worker tests hand over: every part
    assert default_config() == tiny_config(epochs=5)
    settings.ENCODER_CONFIG = {"epoch": 7}
    with pytest.raises(ValueError, match="unknown config field 'epoch'"):
        default_config()
