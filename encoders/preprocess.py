"""Image loading, the preprocessing recorded in checkpoints, and in-the-wild compositing.

Catalog shots are products on white; shoppers photograph furniture in rooms. Training inputs
therefore include the product pasted onto a TRAIN room photo (a cheap foreground mask comes
from the near-white background), so the encoder learns to ignore the room around the product.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageFilter, ImageOps
from torchvision.transforms import v2

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


def foreground_mask(img: Image.Image, *, threshold: int = 235) -> Image.Image:
    """A soft mask ('L') of the non-white pixels of a product shot on white.

    A closing (max then min filter) fills small white holes inside the product; a blur softens
    the edge so the paste does not leave a hard white halo.
    """
    arr = np.asarray(img.convert("RGB"), dtype=np.uint8)
    fg = (arr.min(axis=2) < threshold).astype(np.uint8) * 255
    mask = Image.fromarray(fg, mode="L")
    mask = mask.filter(ImageFilter.MaxFilter(5)).filter(ImageFilter.MinFilter(5))
    return mask.filter(ImageFilter.GaussianBlur(1.5))


class WildComposite:
    """Paste a product shot onto a random crop of a background photo, then photo augmentations.

    Produces the "in the wild" input whose target is the clean product. Deterministic given
    the `random.Random` passed to `__call__` (torchvision v2 draws from torch's global RNG,
    which the caller seeds).
    """

    def __init__(self, *, backgrounds: list[Image.Image], size: int, scale=(0.45, 0.95)):
        self.backgrounds = backgrounds
        self.size = size
        self.scale = scale
        self.photometric = v2.Compose(
            [
                v2.RandomHorizontalFlip(),
                v2.ColorJitter(brightness=0.3, contrast=0.3, saturation=0.3, hue=0.03),
                v2.RandomResizedCrop(size, scale=(0.7, 1.0), ratio=(0.8, 1.25), antialias=True),
            ]
        )

    def __call__(self, product: Image.Image, rng: random.Random, mask: Image.Image | None = None) -> Image.Image:
        """`product` on white (any size) and optionally its foreground_mask -> (size, size) RGB."""
        s = self.size
        mask = foreground_mask(product) if mask is None else mask
        if self.backgrounds:
            bg = self.backgrounds[rng.randrange(len(self.backgrounds))]
            bw, bh = bg.size
            side = int(min(bw, bh) * rng.uniform(0.5, 1.0))
            x0, y0 = rng.randint(0, bw - side), rng.randint(0, bh - side)
            canvas = bg.crop((x0, y0, x0 + side, y0 + side)).resize((s, s), Image.Resampling.BILINEAR)
        else:
            canvas = Image.new("RGB", (s, s), (255, 255, 255))
        target = int(s * rng.uniform(*self.scale))
        pw, ph = product.size
        k = target / max(pw, ph)
        new_size = (max(1, int(pw * k)), max(1, int(ph * k)))
        prod = product.resize(new_size, Image.Resampling.BICUBIC)
        mask = mask.resize(new_size, Image.Resampling.BILINEAR)
        px = rng.randint(0, s - prod.size[0])
        py = rng.randint(0, s - prod.size[1])
        canvas.paste(prod, (px, py), mask)
        return self.photometric(canvas)
