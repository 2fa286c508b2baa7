"""The piece finder's category head, taught on the windows of TRAIN room photos (torch: training only).

The category head is trained on the catalog's clean shots and reads a stretch of a real room as whatever clean shot
it resembles most: a living room's sofa as a bed, a wall as a wardrobe. The TRAIN rooms say which kinds of product
each of their photos holds (the kinds of its products), not where: weak labels. This stage copies the category head
into the piece head and tunes the copy on the finder's windows of those photos with a multiple-instance loss: for
each kind the room holds, its best window should say that kind; for each kind it does not hold, no window should
(``weak_label_loss``). The clean shots' cross-entropy is kept beside it, so the head still knows a clean shot. Only
the piece finder reads the piece head (``encoders.piece_finder``): an upload's category guess, the product pages'
guesses and every other figure stay the category head's. Measured by ``bench/piece_categories.py`` (README,
"The piece head on room windows").
"""

from __future__ import annotations

import copy
from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

from encoders.inference import LoadedEncoder
from encoders.piece_finder import FinderSettings, photo_feature_map, ranked_windows
from encoders.preprocess import ImageInput
from encoders.tuning import adam_steps

ROOMS_PER_STEP = 16  # TRAIN room photos in each step of the tuning
PRODUCTS_PER_STEP = 256  # clean shots in each step, whose cross-entropy keeps the head knowing a clean shot


@torch.inference_mode()
def sampled_windows(encoder: LoadedEncoder, photo: ImageInput, count: int, *, seed: int) -> torch.Tensor:
    """``count`` of the windows the finder could offer as pieces in a photo (those standing out of their surround:
    a positive score), drawn at random without repeats, their features (count, F); drawn again when fewer."""
    settings = FinderSettings()
    ranked = ranked_windows(encoder, photo_feature_map(encoder, photo, side=settings.side), settings=settings)
    candidates = np.flatnonzero(ranked.score > 0)
    if not len(candidates):
        candidates = np.arange(len(ranked.score))
    rng = np.random.default_rng(seed)
    chosen = rng.permutation(candidates)[:count] if len(candidates) >= count else rng.choice(candidates, count)
    return ranked.features[np.sort(chosen)].clone()


def weak_label_loss(logits: torch.Tensor, present: torch.Tensor) -> torch.Tensor:
    """Multiple-instance loss of windows' category logits (S, M, C) of S photos, whose kinds are ``present`` (S, C)
    bool: each photo's probability of a kind is its best window's, and it should be 1 for the kinds the photo holds
    and 0 for the others (binary cross-entropy, the two sides weighed equally)."""
    best = torch.log_softmax(logits, dim=2).max(dim=1).values.clamp(max=-1e-6)  # (S, C) log p of the best window
    held = present.float()
    absent = 1.0 - held
    held_term = -(best * held).sum() / held.sum().clamp(min=1.0)
    absent_term = -(torch.log(-torch.expm1(best)) * absent).sum() / absent.sum().clamp(min=1.0)
    return held_term + absent_term


def tune_piece_head(
    head: nn.Module,
    windows: torch.Tensor,
    present: torch.Tensor,
    product_features: torch.Tensor,
    product_labels: torch.Tensor,
    *,
    steps: int,
    lr: float,
    seed: int,
) -> list[float]:
    """Tune ``head`` (backbone features -> category logits) on ``windows`` (S, M, F) of S room photos holding the
    kinds ``present`` (S, C), beside the cross-entropy of the clean shots ``product_features`` (N, F) of kinds
    ``product_labels`` (N,): ``steps`` Adam steps. Returns each step's loss; the head is left in eval mode."""
    gen = torch.Generator().manual_seed(seed)

    def loss_of_step() -> torch.Tensor:
        rooms = torch.randint(0, len(windows), (min(ROOMS_PER_STEP, len(windows)),), generator=gen)
        rows, count, width = windows[rooms].shape
        logits = head(windows[rooms].reshape(rows * count, width)).view(rows, count, -1)
        shots = torch.randint(0, len(product_features), (min(PRODUCTS_PER_STEP, len(product_features)),), generator=gen)
        clean = nn.functional.cross_entropy(head(product_features[shots]), product_labels[shots])
        return weak_label_loss(logits, present[rooms]) + clean

    head.train()
    history = adam_steps(head.parameters(), loss_of_step, steps=steps, lr=lr)
    head.eval()
    return history


def piece_head_on_windows(
    encoder: LoadedEncoder,
    photos: Sequence[tuple[ImageInput, Sequence[str]]],
    product_features: torch.Tensor,
    product_categories: Sequence[str],
    *,
    count: int,
    steps: int,
    lr: float,
    seed: int,
) -> list[float]:
    """The stage: the encoder's piece head becomes a copy of its category head tuned on ``count`` windows of each
    of ``photos`` (a TRAIN room photo and the kinds of its products) and on the clean shots ``product_features``
    (N, F) of ``product_categories``. Photos without a known kind are skipped; with none, or no steps, the piece
    head is left as it is. Returns the losses."""
    index = {name: i for i, name in enumerate(encoder.categories)}
    kept = [(photo, [index[k] for k in kinds if k in index]) for photo, kinds in photos]
    kept = [(photo, kinds) for photo, kinds in kept if kinds]
    if not kept or steps <= 0:
        return []
    model = encoder.model
    model.eval()
    windows = torch.stack([sampled_windows(encoder, photo, count, seed=seed + i) for i, (photo, _) in enumerate(kept)])
    present = torch.zeros(len(kept), len(encoder.categories), dtype=torch.bool)
    for row, (_, kinds) in enumerate(kept):
        present[row, kinds] = True
    labels = torch.tensor([index[name] for name in product_categories], dtype=torch.long)
    head = copy.deepcopy(model.category)
    history = tune_piece_head(head, windows, present, product_features, labels, steps=steps, lr=lr, seed=seed)
    model.piece_category.load_state_dict(head.state_dict())
    model.piece_head_tuned.fill_(True)
    return history
