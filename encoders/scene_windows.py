"""The scene head taught on the windows the piece finder searches with (torch: training only).

The training loop teaches the scene head on fixed crops of each TRAIN room photo, each passed through the backbone
at the encoder's input size. The piece finder searches with something else: the mean of a coarse pass's feature map
over a window (``encoders.piece_finder``). After the loop, the finder's best windows of each TRAIN room photo,
ranked as the finder ranks them with the just-tuned piece head, take the crops' place, and the scene head
alone is tuned on them with the same multiple-instance loss (``encoders.losses.scene_loss``: a room's products
should each be found by its best window), the similar codes of the windows and the products' codes fixed. Nothing
else reads the scene head. Measured on three seeds (``bench/scene_windows.py``; README, "The scene head on the
finder's windows").
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from encoders import losses
from encoders.inference import LoadedEncoder
from encoders.model import LookalikeEncoder
from encoders.piece_finder import FinderSettings, photo_feature_map, ranked_windows
from encoders.preprocess import ImageInput
from encoders.tuning import adam_steps

ROOMS_PER_STEP = 16  # TRAIN room photos in each step of the tuning


@torch.inference_mode()
def best_windows(encoder: LoadedEncoder, photo: ImageInput, count: int) -> torch.Tensor:
    """The finder's ``count`` best windows of a photo, ranked as it ranks them (``ranked_windows``): their features
    (count, F), the best repeated when the photo has fewer windows."""
    settings = FinderSettings()
    ranked = ranked_windows(encoder, photo_feature_map(encoder, photo, side=settings.side), settings=settings)
    order = np.argsort(-ranked.score, kind="stable")
    return ranked.features[np.resize(order[:count], count)].clone()


def tune_scene_head(
    model: LookalikeEncoder,
    windows: torch.Tensor,
    positives: torch.Tensor,
    product_features: torch.Tensor,
    *,
    steps: int,
    lr: float,
    temperature: float,
    seed: int,
) -> list[float]:
    """Tune ``model.scene`` alone on ``windows`` (S, M, F) backbone features of S room photos, whose products
    are ``positives`` (S, N) bool over the N products of ``product_features`` (N, F): ``steps`` Adam steps of
    ROOMS_PER_STEP photos. Returns each step's loss. The model is left in eval mode."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        products = model.embed_features(product_features)["similar"]  # (N, D) fixed

    def loss_of_step() -> torch.Tensor:
        batch = torch.randint(0, len(windows), (min(ROOMS_PER_STEP, len(windows)),), generator=gen)
        rows, count, width = windows[batch].shape
        crops = model.scene_codes_for_training(windows[batch].reshape(rows * count, width)).view(rows, count, -1)
        return losses.scene_loss(crops, products, positives[batch], temperature=temperature)

    model.eval()
    model.scene.train()
    history = adam_steps(model.scene.parameters(), loss_of_step, steps=steps, lr=lr)
    model.eval()
    return history


def scene_head_on_windows(
    encoder: LoadedEncoder,
    photos: Sequence[tuple[ImageInput, torch.Tensor]],
    product_features: torch.Tensor,
    *,
    count: int,
    steps: int,
    lr: float,
    temperature: float,
    seed: int,
) -> list[float]:
    """The stage: each of ``photos`` (a TRAIN room photo and its products' positions among the N products, a bool
    (N,) row) gives its ``count`` best windows, and the encoder's scene head is tuned on them. Photos without a
    product are skipped; nothing is done without one. Returns the losses."""
    kept = [(photo, row) for photo, row in photos if bool(row.any())]
    if not kept or steps <= 0:
        return []
    encoder.model.eval()
    windows = torch.stack([best_windows(encoder, photo, count) for photo, _ in kept])
    positives = torch.stack([row for _, row in kept])
    return tune_scene_head(
        encoder.model, windows, positives, product_features, steps=steps, lr=lr, temperature=temperature, seed=seed
    )
