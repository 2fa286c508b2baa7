"""In-the-wild compositing for training (torchvision; never needed to answer a query).

Catalog shots are products on white; shoppers photograph furniture in rooms. Training inputs
therefore include the product pasted onto a TRAIN room photo (a cheap foreground mask comes
from the near-white background), so the encoder learns to ignore the room around the product.
"""

from __future__ import annotations

import random

import numpy as np
from PIL import Image, ImageFilter
from torchvision.transforms import v2


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
