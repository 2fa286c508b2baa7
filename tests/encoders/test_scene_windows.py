"""The scene head tuned on the piece finder's windows of TRAIN room photos, after the training loop."""

import numpy as np
import torch

from encoders.inference import encode_images, load_encoder
from encoders.scene_windows import scene_head_on_windows, tune_scene_head
from encoders.training import build_model
from tests.encoders.helpers import make_background, make_catalog, tiny_config, train_with_room_photos


def parameters(module) -> list[torch.Tensor]:
    return [p.detach().clone() for p in module.parameters()]


def test_tuning_lowers_the_rooms_loss_and_moves_the_scene_head_alone():
    torch.manual_seed(0)
    config = tiny_config(freeze_backbone=True)
    model = build_model(config, ["lamp", "sofa"])
    width = config.model.backbone_dim
    windows = torch.randn(4, 3, width)  # four room photos, three windows each
    positives = torch.zeros(4, 6, dtype=torch.bool)
    positives[torch.arange(4), torch.tensor([0, 2, 4, 5])] = True
    products = torch.randn(6, width)
    similar, scene = parameters(model.similar), parameters(model.scene)

    losses = tune_scene_head(model, windows, positives, products, steps=60, lr=1e-2, temperature=0.1, seed=0)

    assert len(losses) == 60 and np.mean(losses[-10:]) < np.mean(losses[:10])
    assert all(torch.equal(a, b) for a, b in zip(similar, parameters(model.similar), strict=True))
    assert not all(torch.equal(a, b) for a, b in zip(scene, parameters(model.scene), strict=True))
    assert not model.training


def test_photos_without_a_product_are_not_tuned_on(tmp_path):
    config = tiny_config(freeze_backbone=True)
    model = build_model(config, ["lamp"])
    before = parameters(model.scene)

    class Encoder:  # best_windows is never reached: there is nothing to tune on
        pass

    encoder = Encoder()
    encoder.model = model
    losses = scene_head_on_windows(
        encoder,
        [(make_background(tmp_path), torch.zeros(3, dtype=torch.bool))],
        torch.randn(3, config.model.backbone_dim),
        count=4,
        steps=10,
        lr=1e-2,
        temperature=0.1,
        seed=0,
    )

    assert losses == [] and all(torch.equal(a, b) for a, b in zip(before, parameters(model.scene), strict=True))


def test_training_with_room_photos_tunes_the_scene_head_on_the_finders_windows(tmp_path):
    paths, categories = make_catalog(tmp_path)
    room = make_background(tmp_path)

    def trained(steps: int):
        config = tiny_config(freeze_backbone=True, w_scene=1.0, scene_rooms_per_step=2, scene_window_steps=steps)
        return load_encoder(train_with_room_photos(config, paths, categories, room))

    without, tuned = trained(0), trained(30)

    assert np.allclose(encode_images(without, paths), encode_images(tuned, paths), atol=1e-5)  # "similar" kept
    scene_without, scene_tuned = (encode_images(e, [room], head="scene") for e in (without, tuned))
    assert not np.allclose(scene_without, scene_tuned, atol=1e-4)
