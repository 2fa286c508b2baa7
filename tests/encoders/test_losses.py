import torch
import torch.nn.functional as F

from encoders import losses
from encoders.backbone import build_backbone
from encoders.model import LookalikeEncoder
from tests.encoders.helpers import tiny_config


def test_reconstruction_loss_is_zero_for_a_perfect_copy():
    x = torch.rand(2, 3, 8, 8)

    assert float(losses.reconstruction_loss(x, x)) == 0.0


def test_supervised_contrastive_prefers_codes_grouped_by_label():
    labels = torch.tensor([0, 0, 1, 1])
    grouped = torch.tensor([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0], [0.1, 0.9]])
    mixed = grouped[[0, 2, 1, 3]]

    good = losses.supervised_contrastive_loss(grouped, labels, temperature=0.1)
    bad = losses.supervised_contrastive_loss(mixed, labels, temperature=0.1)

    assert float(good) < float(bad)


def test_coview_weights_follow_counts():
    counts = torch.tensor([1, 3, 0])

    assert losses.coview_weights(counts, mode="count").tolist() == [1.0, 3.0, 0.0]
    assert torch.allclose(losses.coview_weights(counts, mode="log"), torch.log1p(counts.float()))


def test_coview_loss_counts_only_pairs_with_weight():
    torch.manual_seed(0)
    a, b = torch.randn(4, 3), torch.randn(4, 3)
    counts = torch.tensor([5, 0, 0, 0])
    logits = F.normalize(a, dim=1) @ F.normalize(b, dim=1).T / 0.5
    expected = 0.5 * (
        F.cross_entropy(logits[0:1], torch.tensor([0])) + F.cross_entropy(logits.T[0:1], torch.tensor([0]))
    )

    loss = losses.coview_loss(a, b, counts, temperature=0.5, mode="count")

    assert torch.allclose(loss, expected, atol=1e-6)


def test_coview_regulariser_pulls_a_coviewed_pair_closer_than_a_random_pair():
    torch.manual_seed(0)
    config = tiny_config(backbone_dim=16).model
    model = LookalikeEncoder(config=config, backbone=build_backbone(config), num_categories=1)
    feats = torch.randn(8, config.backbone_dim)  # 8 products' backbone features
    pairs = torch.tensor([[0, 1, 3], [2, 3, 1], [4, 5, 2], [6, 7, 1]])  # (a, b, count)
    optimizer = torch.optim.Adam(model.goes_with.parameters(), lr=1e-2)

    for _ in range(30):
        codes = model.embed_features(feats)["goes_with"]
        loss = losses.coview_loss(
            codes[pairs[:, 0]], codes[pairs[:, 1]], pairs[:, 2], temperature=0.2, ids_a=pairs[:, 0], ids_b=pairs[:, 1]
        )
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

    with torch.no_grad():
        g = F.normalize(model.embed_features(feats)["goes_with"], dim=1)
    coviewed = float(g[0] @ g[1])
    random_pair = float(g[0] @ g[6])
    assert coviewed > random_pair + 0.5


def test_uniformity_is_lower_for_spread_codes():
    spread = torch.eye(4)
    collapsed = torch.ones(4, 4) + 0.01 * torch.eye(4)

    assert float(losses.uniformity_loss(spread)) < float(losses.uniformity_loss(collapsed))


def test_scene_loss_is_lower_when_a_crop_shows_the_rooms_product():
    products = torch.eye(3)  # three products, orthogonal codes
    positives = torch.tensor([[True, False, False]])  # the room holds product 0
    showing = torch.tensor([[[1.0, 0.0, 0.0], [0.0, 0.0, 1.0]]])  # one crop shows product 0
    not_showing = torch.tensor([[[0.0, 1.0, 0.0], [0.0, 0.0, 1.0]]])

    good = losses.scene_loss(showing, products, positives, temperature=0.1)
    bad = losses.scene_loss(not_showing, products, positives, temperature=0.1)

    assert float(good) < float(bad)
