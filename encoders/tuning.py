"""Tuning one head after the training loop (torch: training only): the stages that teach a head on the TRAIN room
photos' windows (``encoders.scene_windows``, ``encoders.piece_categories``) share the loop."""

from __future__ import annotations

from collections.abc import Callable, Iterable

import torch


def adam_steps(
    parameters: Iterable[torch.nn.Parameter], loss_of_step: Callable[[], torch.Tensor], *, steps: int, lr: float
) -> list[float]:
    """``steps`` Adam steps at ``lr`` on ``parameters``, each minimising what ``loss_of_step()`` returns (it draws
    its own batch); returns each step's loss."""
    optimizer = torch.optim.Adam(parameters, lr=lr)
    history = []
    for _ in range(steps):
        loss = loss_of_step()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        history.append(loss.item())
    return history
