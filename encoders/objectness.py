"""An objectness head for the piece finder, supervised by synthetic rooms (torch: workers, commands and benches).

The category head was trained on clean catalog shots and has no notion of "not a piece"; the finder's contrast with
the surround stands in for one. This module tries supervision instead (issue 12): catalog products are pasted onto
TRAIN room photos at known boxes (``synthetic_room``, with ``encoders.composites.foreground_mask``), the frozen
backbone's feature map of each synthetic room is computed once, and a light head learns, for every candidate window
of the finder, its overlap (IoU) with the nearest pasted box from the window's pooled feature and that of the ring
around it (``window_inputs``): what is inside, and what it stands out from. The finder ranks windows by it when its
``score`` asks (``encoders.piece_finder``). Measured by ``bench/room_pieces.py`` (README, "Pieces of a room photo").
"""

from __future__ import annotations

import random
from collections.abc import Sequence

import numpy as np
import torch
from PIL import Image
from torch import nn

from encoders.composites import foreground_mask
from encoders.pieces import box_iou

PASTE_SCALE = (0.25, 0.7)  # a pasted product's longer side, as a share of the room photo's short side
PASTE_OVERLAP = 0.1  # a pasted box overlaps an earlier one by at most this IoU (so no box hides another)
MASK_FLOOR = 128  # a pixel of the pasted mask counts as the product from this opacity


def synthetic_room(
    background: Image.Image,
    products: Sequence[Image.Image],
    rng: random.Random,
    *,
    side: int,
    scale: tuple[float, float] = PASTE_SCALE,
    max_overlap: float = PASTE_OVERLAP,
    attempts: int = 20,
) -> tuple[Image.Image, np.ndarray]:
    """Products on white pasted onto a room photo (resized so that its short side is ``side``), each where it
    overlaps no earlier one by more than ``max_overlap``: the photo and the pasted boxes (K, 4) as (x, y, width,
    height) fractions of it, tight around each product's opaque pixels. A product that finds no room is left out."""
    w, h = background.size
    k = side / min(w, h)
    canvas = background.convert("RGB").resize((max(1, round(w * k)), max(1, round(h * k))), Image.Resampling.BILINEAR)
    cw, ch = canvas.size
    boxes: list[tuple[float, float, float, float]] = []
    for product in products:
        mask = foreground_mask(product)
        length = max(product.size)
        target = rng.uniform(*scale) * min(cw, ch)
        size = (max(1, round(product.size[0] * target / length)), max(1, round(product.size[1] * target / length)))
        if size[0] > cw or size[1] > ch:
            continue
        shot = product.convert("RGB").resize(size, Image.Resampling.BICUBIC)
        mask = mask.resize(size, Image.Resampling.BILINEAR)
        opaque = np.asarray(mask) >= MASK_FLOOR
        if not opaque.any():
            continue
        rows, cols = np.flatnonzero(opaque.any(axis=1)), np.flatnonzero(opaque.any(axis=0))
        for _ in range(attempts):
            x, y = rng.randint(0, cw - size[0]), rng.randint(0, ch - size[1])
            box = ((x + cols[0]) / cw, (y + rows[0]) / ch, (cols[-1] + 1 - cols[0]) / cw, (rows[-1] + 1 - rows[0]) / ch)
            if not boxes or box_iou(box, np.array(boxes)).max() <= max_overlap:
                canvas.paste(shot, (x, y), mask)
                boxes.append(box)
                break
    return canvas, np.asarray(boxes, dtype=np.float64).reshape(-1, 4)


def window_targets(boxes: np.ndarray, pasted: np.ndarray) -> np.ndarray:
    """Each window box (N, 4)'s best IoU with a pasted box (K, 4): (N,), 0 without any."""
    if not len(pasted):
        return np.zeros(len(boxes))
    return np.stack([box_iou(box, boxes) for box in pasted]).max(axis=0)


def window_inputs(fmap: torch.Tensor, windows: np.ndarray) -> torch.Tensor:
    """What the head reads of each window (N, 4) of a map (F, h, w): its mean feature and the mean feature of the
    ring around it (the window grown by half its size on every side, within the photo; the window's own mean when
    it has no ring): (N, 2F)."""
    from encoders.piece_finder import grown_windows, window_sums

    h, w = fmap.shape[1:]
    grown = grown_windows(windows, h, w)
    inside = window_sums(fmap, windows)  # (F, N) float64
    around = window_sums(fmap, grown) - inside
    area = torch.as_tensor((windows[:, 2] - windows[:, 0]) * (windows[:, 3] - windows[:, 1])).double()
    ring = torch.as_tensor((grown[:, 2] - grown[:, 0]) * (grown[:, 3] - grown[:, 1])).double() - area
    inside_mean = inside / area
    ring_mean = torch.where(ring > 0, around / ring.clamp(min=1), inside_mean)
    return torch.cat([inside_mean, ring_mean]).T.float().contiguous()


class ObjectnessHead(nn.Module):
    """A window's inputs (N, 2F) -> the logit of its overlap with a piece (N,): a small MLP."""

    def __init__(self, *, feature_dim: int, hidden_dim: int = 64):
        super().__init__()
        self.feature_dim = feature_dim
        self.hidden_dim = hidden_dim
        self.net = nn.Sequential(
            nn.LayerNorm(2 * feature_dim), nn.Linear(2 * feature_dim, hidden_dim), nn.ReLU(), nn.Linear(hidden_dim, 1)
        )

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        return self.net(inputs).squeeze(1)

    @torch.inference_mode()
    def scores(self, fmap: torch.Tensor, windows: np.ndarray) -> np.ndarray:
        """The predicted overlap with a piece of each window (N, 4) of a map (F, h, w): (N,) in [0, 1]."""
        return torch.sigmoid(self(window_inputs(fmap, windows))).double().numpy()


def fit_objectness(
    maps: Sequence[torch.Tensor],
    pasted: Sequence[np.ndarray],
    windows_of,
    *,
    epochs: int = 30,
    windows_per_map: int = 64,
    hidden_dim: int = 64,
    lr: float = 1e-3,
    seed: int = 0,
) -> ObjectnessHead:
    """A head fitted on feature maps (F, h, w) of synthetic rooms and their pasted boxes (K, 4): binary cross-
    entropy against each window's IoU with its nearest pasted box. ``windows_of(h, w)`` gives a map's candidate
    windows (the finder's). Each epoch reads, per map, every window that overlaps a pasted box by 0.3 or more and
    ``windows_per_map`` others drawn at random, so the few good windows are not drowned by the many poor ones."""
    from encoders.piece_finder import window_boxes

    generator = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    head = ObjectnessHead(feature_dim=maps[0].shape[0], hidden_dim=hidden_dim)
    examples = []
    for fmap, boxes in zip(maps, pasted, strict=True):
        windows = windows_of(*fmap.shape[1:])
        targets = torch.as_tensor(window_targets(window_boxes(windows, *fmap.shape[1:]), boxes)).float()
        examples.append((fmap.float(), windows, targets))
    optimiser = torch.optim.Adam(head.parameters(), lr=lr, weight_decay=1e-4)
    head.train()
    for _ in range(epochs):
        for i in torch.randperm(len(examples), generator=generator).tolist():
            fmap, windows, targets = examples[i]
            good = torch.nonzero(targets >= 0.3).flatten()
            others = torch.randint(len(targets), (windows_per_map,), generator=generator)
            pick = torch.cat([good, others])
            inputs = window_inputs(fmap, windows[pick.numpy()])
            optimiser.zero_grad()
            nn.functional.binary_cross_entropy_with_logits(head(inputs), targets[pick]).backward()
            optimiser.step()
    return head.eval()
