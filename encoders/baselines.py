"""Embedding functions of the reference baselines (data/baselines.md).

All images are letterboxed onto white (alpha composited on white) before resizing. The
pixel baselines take uint8 arrays (N, S, S, 3) from `letterboxed_array`, so callers can
build (and cache) those once.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from encoders.backbone import load_efficientnet_lite0
from encoders.preprocess import ImageInput, default_preprocess, image_tensor, letterbox, load_rgb


def letterboxed_array(images: Sequence[ImageInput], *, size: int) -> np.ndarray:
    """Images -> (N, size, size, 3) uint8, letterboxed onto white."""
    return np.stack([np.asarray(letterbox(load_rgb(im), size=size), dtype=np.uint8) for im in images])


def random_vectors(n: int, *, dim: int = 64, seed: int = 0) -> np.ndarray:
    """(n, dim) Gaussian vectors: the chance level."""
    return np.random.default_rng(seed).standard_normal((n, dim)).astype(np.float32)


def raw_pixels(pixels: np.ndarray, *, size: int = 16) -> np.ndarray:
    """(N, S, S, 3) uint8 -> (N, size*size*3) float32 of the image resized to size x size."""
    x = torch.from_numpy(pixels).permute(0, 3, 1, 2).float() / 255.0
    x = F.interpolate(x, size=(size, size), mode="area")
    return x.flatten(1).numpy()


def pca_fit(pixels: np.ndarray, *, components: int = 64) -> tuple[np.ndarray, np.ndarray]:
    """Fit PCA on (N, 64, 64, 3) uint8 catalog images -> (mean (P,), components (K, P))."""
    x = pixels.reshape(len(pixels), -1).astype(np.float32) / 255.0
    mean = x.mean(axis=0)
    _, _, vt = np.linalg.svd(x - mean, full_matrices=False)
    return mean, vt[:components]


def pca_embed(pixels: np.ndarray, mean: np.ndarray, components: np.ndarray) -> np.ndarray:
    x = pixels.reshape(len(pixels), -1).astype(np.float32) / 255.0
    return (x - mean) @ components.T


class ConvAutoencoder(nn.Module):
    """Plain conv AE: (B, 3, 64, 64) -> latent (B, L) -> (B, 3, 64, 64)."""

    def __init__(self, *, latent_dim: int = 64):
        super().__init__()
        self.encoder = nn.Sequential(
            nn.Conv2d(3, 32, 4, 2, 1), nn.ReLU(),  # (B, 32, 32, 32)
            nn.Conv2d(32, 64, 4, 2, 1), nn.ReLU(),  # (B, 64, 16, 16)
            nn.Conv2d(64, 128, 4, 2, 1), nn.ReLU(),  # (B, 128, 8, 8)
            nn.Conv2d(128, 128, 4, 2, 1), nn.ReLU(),  # (B, 128, 4, 4)
            nn.Flatten(), nn.Linear(128 * 16, latent_dim),
        )  # fmt: skip
        self.decoder = nn.Sequential(
            nn.Linear(latent_dim, 128 * 16), nn.Unflatten(1, (128, 4, 4)), nn.ReLU(),
            nn.ConvTranspose2d(128, 128, 4, 2, 1), nn.ReLU(),  # (B, 128, 8, 8)
            nn.ConvTranspose2d(128, 64, 4, 2, 1), nn.ReLU(),  # (B, 64, 16, 16)
            nn.ConvTranspose2d(64, 32, 4, 2, 1), nn.ReLU(),  # (B, 32, 32, 32)
            nn.ConvTranspose2d(32, 3, 4, 2, 1), nn.Sigmoid(),  # (B, 3, 64, 64)
        )  # fmt: skip

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        z = self.encoder(x)
        return z, self.decoder(z)


def _as_tensor(pixels: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(pixels).permute(0, 3, 1, 2).float() / 255.0  # (N, 3, S, S)


def conv_autoencoder_train(
    pixels: np.ndarray, *, latent_dim: int = 64, epochs: int = 15, batch_size: int = 64, seed: int = 0
) -> ConvAutoencoder:
    """A short MSE training on (N, 64, 64, 3) uint8 catalog images."""
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    model = ConvAutoencoder(latent_dim=latent_dim)
    x = _as_tensor(pixels)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    for _ in range(epochs):
        for idx in torch.randperm(len(x), generator=gen).split(batch_size):
            _, recon = model(x[idx])
            loss = F.mse_loss(recon, x[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
    return model.eval()


@torch.inference_mode()
def conv_autoencoder_embed(model: ConvAutoencoder, pixels: np.ndarray) -> np.ndarray:
    return torch.cat([model(b)[0] for b in _as_tensor(pixels).split(256)]).numpy()


@torch.inference_mode()
def efficientnet_features(images: Sequence[ImageInput], *, batch_size: int = 16) -> np.ndarray:
    """Pretrained EfficientNet-Lite0 ImageNet features: (N, 1280), 224x224, mean-pooled."""
    net = load_efficientnet_lite0().to(memory_format=torch.channels_last)
    pre = default_preprocess()
    out = []
    for start in range(0, len(images), batch_size):
        batch = torch.stack([image_tensor(im, preprocess=pre) for im in images[start : start + batch_size]])
        out.append(net(batch.contiguous(memory_format=torch.channels_last)))
    return torch.cat(out).numpy() if out else np.zeros((0, 1280), np.float32)
