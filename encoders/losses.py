"""Loss terms of the similarity-regularised autoencoder.

- reconstruction: the decoder must redraw the clean product from the code of any view
  (clean or composited onto a room), which is the denoising-autoencoder objective.
- supervised contrastive on categories: same-category products attract in the "similar" code.
  This is what keeps "similar" precise; co-view pairs are deliberately NOT applied to it
  (co-viewed products are complementary: a sofa and its rug).
- instance alignment: the clean and the in-the-wild view of one product are each other's
  positive (InfoNCE), so a shopper's photo lands on the product, not just on its category.
- co-view: weighted InfoNCE on the separate "goes with" head; pairs weighted by their count.
- scene (multiple-instance): the best-matching crop of a TRAIN room photo should score the
  room's products above the other products in the batch.
- uniformity (Wang & Isola 2020): spreads codes over the sphere for cosine search.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F


def reconstruction_loss(reconstruction: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean squared error; both (B, 3, R, R) in [0, 1]."""
    return F.mse_loss(reconstruction, target)


def supervised_contrastive_loss(z: torch.Tensor, labels: torch.Tensor, *, temperature: float) -> torch.Tensor:
    """SupCon (Khosla et al. 2020) over a batch: z (B, D) unnormalised, labels (B,) int.

    Anchors with no positive in the batch are skipped.
    """
    z = F.normalize(z, dim=1)
    sim = z @ z.T / temperature  # (B, B)
    eye = torch.eye(len(z), dtype=torch.bool, device=z.device)
    sim = sim.masked_fill(eye, -1e9)
    log_prob = sim - torch.logsumexp(sim, dim=1, keepdim=True)
    pos = (labels[:, None] == labels[None, :]) & ~eye  # (B, B)
    n_pos = pos.sum(dim=1)
    has = n_pos > 0
    if not has.any():
        return z.sum() * 0.0
    mean_log_prob = (log_prob * pos).sum(dim=1)[has] / n_pos[has]
    return -mean_log_prob.mean()


def info_nce(
    a: torch.Tensor, b: torch.Tensor, *, temperature: float, weights: torch.Tensor | None = None
) -> torch.Tensor:
    """Symmetric InfoNCE: row i of a (B, D) and row i of b (B, D) are positives, the rest negatives.

    `weights` (B,) scales each pair's term (normalised to mean 1).
    """
    a, b = F.normalize(a, dim=1), F.normalize(b, dim=1)
    logits = a @ b.T / temperature  # (B, B)
    target = torch.arange(len(a), device=a.device)
    per_pair = 0.5 * (
        F.cross_entropy(logits, target, reduction="none") + F.cross_entropy(logits.T, target, reduction="none")
    )
    if weights is None:
        return per_pair.mean()
    w = weights / weights.mean()
    return (per_pair * w).mean()


def coview_weights(counts: torch.Tensor, *, mode: str) -> torch.Tensor:
    """Pair weights from co-view counts (B,): 'log' = log(1 + count), 'count', or 'none'."""
    counts = counts.float()
    if mode == "log":
        return torch.log1p(counts)
    if mode == "count":
        return counts
    if mode == "none":
        return torch.ones_like(counts)
    raise ValueError(f"unknown coview weighting {mode!r}")


def coview_loss(
    g_a: torch.Tensor,
    g_b: torch.Tensor,
    counts: torch.Tensor,
    *,
    temperature: float,
    mode: str = "log",
    ids_a: torch.Tensor | None = None,
    ids_b: torch.Tensor | None = None,
) -> torch.Tensor:
    """Co-view regulariser on the goes-with codes of pairs (B, G), weighted by count (B,).

    When product ids are given, an in-batch "negative" that is the same product as the
    positive (a product seen in several sampled pairs) is masked out rather than pushed away.
    """
    a, b = F.normalize(g_a, dim=1), F.normalize(g_b, dim=1)
    logits = a @ b.T / temperature  # (B, B)
    if ids_a is not None and ids_b is not None:
        # symmetric, so it serves both directions of the loss
        same = (ids_b[None, :] == ids_b[:, None]) | (ids_a[None, :] == ids_a[:, None])  # (B, B)
        same.fill_diagonal_(False)
        logits = logits.masked_fill(same, -1e9)
    target = torch.arange(len(a), device=a.device)
    per_pair = 0.5 * (
        F.cross_entropy(logits, target, reduction="none") + F.cross_entropy(logits.T, target, reduction="none")
    )
    w = coview_weights(counts, mode=mode)
    return (per_pair * w).sum() / w.sum().clamp_min(1e-8)


def uniformity_loss(z: torch.Tensor, *, t: float = 2.0) -> torch.Tensor:
    """log E[exp(-t ||u - v||^2)] over distinct pairs of normalised codes (B, D)."""
    z = F.normalize(z, dim=1)
    sq = torch.pdist(z).pow(2)
    if sq.numel() == 0:
        return z.sum() * 0.0
    return torch.logsumexp(-t * sq, dim=0) - math.log(sq.numel())


def scene_loss(
    crop_codes: torch.Tensor, product_codes: torch.Tensor, positives: torch.Tensor, *, temperature: float
) -> torch.Tensor:
    """Multiple-instance loss for room photos.

    crop_codes (S, M, D): M crops of each of S photos; product_codes (P, D) candidates;
    positives (S, P) bool: product p is in the room of photo s. A photo scores a product by
    its best crop; each room's products should win a softmax over all candidates.
    """
    crops = F.normalize(crop_codes, dim=-1)
    prods = F.normalize(product_codes, dim=-1)
    scores = torch.einsum("smd,pd->smp", crops, prods).amax(dim=1) / temperature  # (S, P)
    log_prob = scores - torch.logsumexp(scores, dim=1, keepdim=True)
    n_pos = positives.sum(dim=1).clamp_min(1)
    return -((log_prob * positives).sum(dim=1) / n_pos).mean()
