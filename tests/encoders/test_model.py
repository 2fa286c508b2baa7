import torch
import torch.nn.functional as F
from torch import nn

from encoders.backbone import build_backbone, fold_batch_norms, load_efficientnet_lite0
from encoders.model import Decoder, EncoderConfig, LookalikeEncoder
from tests.encoders.helpers import tiny_config


def test_forward_shapes_on_cpu():
    config = tiny_config().model
    model = LookalikeEncoder(config=config, backbone=build_backbone(config), num_categories=5)
    images = torch.randn(4, 3, config.image_size, config.image_size)

    out = model(images)

    assert out["similar"].shape == (4, config.latent_dim)
    assert out["goes_with"].shape == (4, config.goes_with_dim)
    assert out["reconstruction"].shape == (4, 3, config.recon_size, config.recon_size)
    assert out["logits"].shape == (4, 5)
    assert out["reconstruction"].min() >= 0.0 and out["reconstruction"].max() <= 1.0


def test_query_vectors_are_unit_length():
    config = tiny_config().model
    model = LookalikeEncoder(config=config, backbone=build_backbone(config), num_categories=2).eval()

    vectors = model.query_vectors(torch.randn(3, config.backbone_dim), head="similar")

    assert torch.allclose(vectors.norm(dim=1), torch.ones(3), atol=1e-5)


def test_decoder_reaches_requested_size():
    decoder = Decoder(latent_dim=8, size=64)

    assert decoder(torch.randn(2, 8)).shape == (2, 3, 64, 64)


def test_config_round_trips_through_a_plain_dict():
    config = tiny_config(w_coview=0.25)

    assert EncoderConfig.from_dict(config.to_dict()) == config


def test_tiny_model_overfits_one_batch():
    torch.manual_seed(0)
    config = tiny_config().model
    model = LookalikeEncoder(config=config, backbone=build_backbone(config), num_categories=2)
    images = torch.rand(4, 3, config.image_size, config.image_size)
    target = F.interpolate(images, size=config.recon_size, mode="area")
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)

    def loss_now() -> torch.Tensor:
        return F.mse_loss(model(images)["reconstruction"], target)

    first = float(loss_now().detach())
    for _ in range(150):
        loss = loss_now()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

    assert float(loss_now().detach()) < first / 10


def test_real_pretrained_backbone_gives_1280_features():
    backbone = load_efficientnet_lite0(pretrained=True)

    with torch.inference_mode():
        feats = backbone(torch.randn(1, 3, 224, 224))

    assert feats.shape == (1, 1280)
    assert torch.isfinite(feats).all()


def test_folding_the_batch_norms_keeps_the_features_and_leaves_none():
    plain, folded = load_efficientnet_lite0(), fold_batch_norms(load_efficientnet_lite0())
    square, wide = torch.randn(2, 3, 224, 224), torch.randn(1, 3, 256, 320)

    with torch.inference_mode():
        assert torch.allclose(folded(square), plain(square), atol=1e-4)
        assert torch.allclose(folded.feature_map(wide), plain.feature_map(wide), atol=1e-4)  # the piece finder's input
    assert sum(isinstance(m, nn.BatchNorm2d) for m in plain.modules()) == 49
    assert not any(isinstance(m, nn.BatchNorm2d) for m in folded.modules())


def test_frozen_pretrained_backbone_has_no_trainable_parameters():
    backbone = build_backbone(EncoderConfig().model, pretrained=True)

    assert not any(p.requires_grad for p in backbone.parameters())


def test_untrained_scene_head_equals_the_similar_head():
    config = tiny_config().model
    model = LookalikeEncoder(config=config, backbone=build_backbone(config), num_categories=2).eval()
    feats = torch.randn(3, config.backbone_dim)

    codes = model.embed_features(feats)

    assert torch.equal(codes["scene"], codes["similar"])


def test_the_goes_with_head_trains_only_itself():
    """The co-view term's gradient stops at the "goes with" head: the features' normalisation and the backbone,
    which the "similar" and scene codes share, are shaped by their own terms alone."""
    config = tiny_config().model
    model = LookalikeEncoder(config=config, backbone=build_backbone(config), num_categories=2)
    images = torch.randn(4, 3, config.image_size, config.image_size)

    model(images)["goes_with"].pow(2).sum().backward()

    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in model.goes_with.parameters())
    shared = [*model.feature_norm.parameters(), *model.backbone.parameters()]
    assert all(p.grad is None or not p.grad.any() for p in shared)
