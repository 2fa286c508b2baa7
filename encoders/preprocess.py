"""Image loading and the preprocessing recorded in checkpoints (what inference needs; no torchvision).
In-the-wild compositing for training lives in ``encoders.composites``."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageOps

ImageInput = str | Path | Image.Image


def default_preprocess() -> dict:
    """The exact preprocessing parameters; stored in every checkpoint as plain values."""
    return {
        "image_size": 224,
        "letterbox_fill": [255, 255, 255],
        "resample": "bicubic",
        "mean": [0.485, 0.456, 0.406],
        "std": [0.229, 0.224, 0.225],
        "recon_size": 64,
        "scene_grid": [1, 2, 3],  # room photos are queried by the whole photo and g x g crops
        "scene_overlap": 0.25,
    }


_RESAMPLE = {"bicubic": Image.Resampling.BICUBIC, "bilinear": Image.Resampling.BILINEAR}


def load_rgb(image: ImageInput) -> Image.Image:
    """Open a path (or take a PIL image), apply EXIF orientation, composite alpha on white."""
    img = image if isinstance(image, Image.Image) else Image.open(image)
    img = ImageOps.exif_transpose(img)
    if img.mode in ("RGBA", "LA", "P"):
        img = img.convert("RGBA")
        white = Image.new("RGBA", img.size, (255, 255, 255, 255))
        img = Image.alpha_composite(white, img)
    return img.convert("RGB")


def letterbox(img: Image.Image, *, size: int, fill=(255, 255, 255), resample: str = "bicubic") -> Image.Image:
    """Resize keeping the aspect ratio, centred on a `size` x `size` canvas of `fill`."""
    w, h = img.size
    scale = size / max(w, h)
    nw, nh = max(1, round(w * scale)), max(1, round(h * scale))
    resized = img.resize((nw, nh), _RESAMPLE[resample])
    canvas = Image.new("RGB", (size, size), tuple(fill))
    canvas.paste(resized, ((size - nw) // 2, (size - nh) // 2))
    return canvas


def to_tensor(img: Image.Image, *, preprocess: dict) -> torch.Tensor:
    """A square RGB image -> normalised tensor (3, S, S) for the backbone."""
    x = torch.from_numpy(np.asarray(img, dtype=np.uint8).copy()).permute(2, 0, 1).float() / 255.0
    mean = torch.tensor(preprocess["mean"]).view(3, 1, 1)
    std = torch.tensor(preprocess["std"]).view(3, 1, 1)
    return (x - mean) / std


def image_tensor(image: ImageInput, *, preprocess: dict) -> torch.Tensor:
    """Load, letterbox onto white, resize and normalise: (3, S, S)."""
    img = letterbox(
        load_rgb(image),
        size=preprocess["image_size"],
        fill=preprocess["letterbox_fill"],
        resample=preprocess["resample"],
    )
    return to_tensor(img, preprocess=preprocess)


def recon_target(image: ImageInput, *, preprocess: dict) -> torch.Tensor:
    """The decoder's target: the clean product letterboxed at recon_size, uint8 (3, R, R)."""
    img = letterbox(load_rgb(image), size=preprocess["recon_size"], fill=preprocess["letterbox_fill"])
    return torch.from_numpy(np.asarray(img, dtype=np.uint8).copy()).permute(2, 0, 1)


def scene_crops(image: ImageInput, *, grid: Sequence[int] = (1, 2, 3), overlap: float = 0.25) -> list[Image.Image]:
    """A room photo -> the whole photo plus overlapping crops on g x g grids.

    Crops of an n x n grid are enlarged by `overlap` of a cell on each side, so a piece of
    furniture cut by a grid line still appears whole in some crop.
    """
    img = load_rgb(image)
    w, h = img.size
    crops = []
    for g in grid:
        cw, ch = w / g, h / g
        for r in range(g):
            for c in range(g):
                x0 = max(0.0, c * cw - overlap * cw)
                y0 = max(0.0, r * ch - overlap * ch)
                x1 = min(float(w), (c + 1) * cw + overlap * cw)
                y1 = min(float(h), (r + 1) * ch + overlap * ch)
                crops.append(img.crop((round(x0), round(y0), round(x1), round(y1))))
    return crops
