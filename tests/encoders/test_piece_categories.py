"""The piece head: the category head copied and tuned on windows of TRAIN room photos, their products' kinds as
weak labels; only the piece finder reads it."""

import math

import numpy as np
import torch

from encoders.inference import category_probabilities, load_encoder
from encoders.piece_categories import piece_head_on_windows, tune_piece_head, weak_label_loss
from encoders.training import build_model
from tests.encoders.helpers import make_background, make_catalog, tiny_config, train_with_room_photos


def parameters(module) -> list[torch.Tensor]:
    return [p.detach().clone() for p in module.parameters()]


def test_the_weak_label_loss_by_hand():
    # one photo, two windows, two kinds; the photo holds kind 0 only
    logits = torch.log(torch.tensor([[[0.8, 0.2], [0.4, 0.6]]]))
    present = torch.tensor([[True, False]])

    loss = weak_label_loss(logits, present)

    # kind 0: its best window says 0.8 -> -log 0.8; kind 1, absent: its best window says 0.6 -> -log(1 - 0.6)
    assert math.isclose(loss.item(), -math.log(0.8) - math.log(0.4), rel_tol=1e-5)


def test_a_window_sure_of_a_kind_the_room_lacks_costs_more_than_one_unsure_of_it():
    present = torch.tensor([[True, False]])
    sure_of_the_absent = torch.log(torch.tensor([[[0.9, 0.1], [0.05, 0.95]]]))
    unsure_of_it = torch.log(torch.tensor([[[0.9, 0.1], [0.5, 0.5]]]))

    assert weak_label_loss(sure_of_the_absent, present) > weak_label_loss(unsure_of_it, present)


def test_tuning_teaches_the_head_the_rooms_kinds_and_keeps_the_clean_shots():
    torch.manual_seed(0)
    config = tiny_config(freeze_backbone=True)
    model = build_model(config, ["lamp", "sofa", "table"])
    width = config.model.backbone_dim
    sofa_window, table_window = torch.randn(width), torch.randn(width)
    # rooms with a sofa show the sofa window among noise, rooms with a table the table window
    windows = torch.randn(8, 5, width) * 0.3
    present = torch.zeros(8, 3, dtype=torch.bool)
    for room in range(8):
        kind, window = (1, sofa_window) if room % 2 == 0 else (2, table_window)
        windows[room, room % 5] = window
        present[room, kind] = True
    shots, labels = torch.randn(12, width), torch.arange(12) % 3
    head = model.category

    losses = tune_piece_head(head, windows, present, shots, labels, steps=150, lr=1e-2, seed=0)

    assert np.mean(losses[-10:]) < np.mean(losses[:10])
    said = torch.softmax(head(torch.stack([sofa_window, table_window])), dim=1).argmax(dim=1)
    assert said.tolist() == [1, 2]
    assert not head.training


def test_the_stage_tunes_a_copy_and_leaves_the_category_head_alone(tmp_path):
    torch.manual_seed(0)
    paths, categories = make_catalog(tmp_path)
    room = make_background(tmp_path)
    encoder = load_encoder(train_with_room_photos(tiny_config(piece_window_steps=0), paths, categories, room))
    model = encoder.model
    category, feats = parameters(model.category), torch.randn(3, model.config.backbone_dim)
    assert torch.equal(model.category_logits(feats, head="piece"), model.category_logits(feats))  # untuned

    losses = piece_head_on_windows(
        encoder,
        [(room, ["lamp"]), (room, ["table", "lamp"]), (room, ["unknown kind"])],
        torch.randn(len(paths), model.config.backbone_dim),
        categories,
        count=6,
        steps=20,
        lr=1e-2,
        seed=0,
    )

    assert len(losses) == 20
    assert all(torch.equal(a, b) for a, b in zip(category, parameters(model.category), strict=True))
    assert bool(model.piece_head_tuned)
    assert not torch.allclose(model.category_logits(feats, head="piece"), model.category_logits(feats))


def test_photos_without_a_known_kind_leave_the_piece_head_untuned(tmp_path):
    config = tiny_config(freeze_backbone=True)
    model = build_model(config, ["lamp"])

    class Encoder:  # no window is ever drawn: there is nothing to tune on
        categories = ["lamp"]

    encoder = Encoder()
    encoder.model = model
    losses = piece_head_on_windows(
        encoder, [(make_background(tmp_path), ["sofa"])], torch.randn(2, 32), ["lamp", "lamp"],
        count=4, steps=10, lr=1e-2, seed=0,
    )  # fmt: skip

    assert losses == [] and not bool(model.piece_head_tuned)


def test_training_with_room_photos_tunes_the_piece_head_and_nothing_else(tmp_path):
    paths, categories = make_catalog(tmp_path)
    room = make_background(tmp_path)

    def trained(steps: int):
        config = tiny_config(freeze_backbone=True, w_scene=1.0, scene_rooms_per_step=2, piece_window_steps=steps)
        return load_encoder(train_with_room_photos(config, paths, categories, room))

    without, tuned = trained(0), trained(30)

    assert not bool(without.model.piece_head_tuned) and bool(tuned.model.piece_head_tuned)
    feats = torch.randn(4, without.config.backbone_dim)
    assert np.allclose(category_probabilities(without, feats.numpy()), category_probabilities(tuned, feats.numpy()))
    piece_without, piece_tuned = (e.model.category_logits(feats, head="piece") for e in (without, tuned))
    assert not torch.allclose(piece_without, piece_tuned, atol=1e-4)


def test_a_version_saved_before_the_piece_head_loads_and_reads_windows_with_its_category_head(tmp_path):
    paths, categories = make_catalog(tmp_path)
    room = make_background(tmp_path)
    checkpoint = train_with_room_photos(tiny_config(piece_window_steps=30), paths, categories, room)
    checkpoint["state_dict"] = {
        k: v for k, v in checkpoint["state_dict"].items() if not k.startswith(("piece_category.", "piece_head_tuned"))
    }

    encoder = load_encoder(checkpoint)

    feats = torch.randn(2, encoder.config.backbone_dim)
    assert torch.equal(encoder.model.category_logits(feats, head="piece"), encoder.model.category_logits(feats))
