"""What training feeds the model, built once before the loop: the views of every product (view 0 the clean
catalog shot, views 1..K the product composited onto TRAIN room photos), the reconstruction targets, the co-view
pairs and the crops of TRAIN room photos. With a frozen backbone every view goes through it once, cached on disk
by a digest of the inputs: the slow part on a CPU.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from tqdm import tqdm

from encoders.backbone import extract_features
from encoders.composites import WildComposite, foreground_mask
from encoders.model import EncoderConfig, LookalikeEncoder
from encoders.preprocess import (
    default_preprocess,
    image_tensor,
    letterbox,
    load_rgb,
    recon_target,
    scene_crops,
    to_tensor,
)

COMPOSITE_VERSION = 2  # bump when the in-the-wild compositing changes: it keys the feature cache

Progress = Callable[[str, int, int, dict], None]  # (stage, done, total, info)


def report_progress(progress: Progress | None, bar: tqdm | None, stage: str, done: int, total: int, info: dict) -> None:
    if progress is not None:
        progress(stage, done, total, info)
    elif bar is not None:
        bar.n = done
        if info:
            bar.set_postfix({k: f"{v:.3f}" if isinstance(v, float) else v for k, v in info.items()})
        bar.refresh()


def preprocess_for(config: EncoderConfig) -> dict:
    p = default_preprocess()
    p["image_size"] = config.model.image_size
    p["recon_size"] = config.model.recon_size
    return p


def inputs_digest(*, product_images: list, categories: list[str], coview_pairs: list, backgrounds: list) -> str:
    """sha256 over the image bytes, the background bytes, the categories and the pairs."""
    h = hashlib.sha256()
    for path in product_images:
        h.update(Path(path).read_bytes())
    h.update(b"--backgrounds--")
    for path in backgrounds:
        h.update(Path(path).read_bytes())
    h.update("\n".join(categories).encode())
    h.update(repr(sorted(tuple(int(x) for x in p) for p in coview_pairs)).encode())
    return h.hexdigest()


def _load_backgrounds(backgrounds: list, max_side: int = 512) -> list[Image.Image]:
    out = []
    for path in backgrounds:
        img = load_rgb(path)
        img.thumbnail((max_side, max_side))
        out.append(img)
    return out


def build_views(
    *,
    config: EncoderConfig,
    preprocess: dict,
    product_images: list,
    backgrounds: list,
    backbone: torch.nn.Module,
    seed: int,
    cache_dir: Path | None = None,
    cache_key: str = "",
    progress: Progress | None = None,
) -> torch.Tensor:
    """Inputs of every view of every product.

    Frozen backbone: features (V, N, F) float32. Trainable backbone: images (V, N, 3, S, S)
    uint8. V = 1 + config.data.wild_views; view 0 is the clean shot. Composite v of product i is
    drawn from RNGs seeded by (seed, v, i), so a view is the same in every run.
    """
    size = preprocess["image_size"]
    frozen, wild_views = config.model.freeze_backbone, config.data.wild_views
    bgs = _load_backgrounds(backgrounds) if wild_views else []
    wild = WildComposite(backgrounds=bgs, size=size)
    n = len(product_images)
    fill = preprocess["letterbox_fill"]
    squares: dict[int, Image.Image] = {}  # clean letterboxed shots, loaded once for all views
    masks: dict[int, Image.Image] = {}  # their foreground masks, computed once for all wild views

    def clean(i: int) -> Image.Image:
        if i not in squares:
            squares[i] = letterbox(load_rgb(product_images[i]), size=size, fill=fill, resample=preprocess["resample"])
        return squares[i]

    def composite(i: int, v: int) -> Image.Image:
        if i not in masks:
            masks[i] = foreground_mask(clean(i))
        torch.manual_seed(seed * 1_000_003 + v * 10_007 + i)  # torchvision v2 draws from torch's RNG
        return wild(clean(i), random.Random(f"{seed}-{v}-{i}"), masks[i])

    views = []
    for v in range(1 + wild_views):
        path = None
        if cache_dir is not None and frozen:
            # the clean view depends on the images and preprocessing only; wild views also on
            # the seed and the compositing code
            kind = "clean" if v == 0 else f"wild{COMPOSITE_VERSION}-s{seed}-v{v}"
            path = Path(cache_dir) / f"views-{cache_key}-{kind}.pt"
            if path.exists():
                views.append(torch.load(path, map_location="cpu", weights_only=True))
                continue

        def square(i: int, v: int = v) -> Image.Image:
            return clean(i) if v == 0 else composite(i, v)

        bar = tqdm(total=n, desc=f"view {v}", leave=False) if progress is None else None
        if frozen:

            def report(done: int, total: int, v: int = v, bar: tqdm | None = bar) -> None:
                report_progress(progress, bar, f"features view {v}", done, total, {})

            feats = extract_features(
                backbone,
                lambda i: to_tensor(square(i), preprocess=preprocess),
                count=n,
                batch_size=16,
                progress=report,
            )
            if path is not None:
                path.parent.mkdir(parents=True, exist_ok=True)
                torch.save(feats, path)
            views.append(feats)
        else:
            imgs = torch.stack(
                [torch.from_numpy(np.asarray(square(i), dtype=np.uint8).copy()).permute(2, 0, 1) for i in range(n)]
            )
            views.append(imgs)
        if bar is not None:
            bar.close()
    return torch.stack(views)


def build_scene_inputs(
    *,
    scene_photos: list[tuple[str | Path, list[int]]],
    n_products: int,
    preprocess: dict,
    backbone: torch.nn.Module,
    config: EncoderConfig,
    cache_dir: Path | None,
    progress: Progress | None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Backbone features of the crops of each room photo (S, M, F) and its products (S, N) bool."""
    if not scene_photos or not config.model.freeze_backbone:
        return torch.zeros(0), torch.zeros(0, n_products, dtype=torch.bool)
    grid, overlap = preprocess["scene_grid"], preprocess["scene_overlap"]
    positives = torch.zeros(len(scene_photos), n_products, dtype=torch.bool)
    for s, (_, products) in enumerate(scene_photos):
        positives[s, list(products)] = True
    h = hashlib.sha256(repr((config.model.backbone, sorted(preprocess.items()))).encode())
    for photo, _ in scene_photos:
        h.update(Path(photo).read_bytes())
    key = h.hexdigest()[:16]
    path = cache_dir / f"scene-{key}.pt" if cache_dir is not None else None
    if path is not None and path.exists():
        return torch.load(path, map_location="cpu", weights_only=True), positives
    crops = [c for photo, _ in scene_photos for c in scene_crops(photo, grid=grid, overlap=overlap)]
    bar = tqdm(total=len(crops), desc="scene crops", leave=False) if progress is None else None
    feats = extract_features(
        backbone,
        lambda i: image_tensor(crops[i], preprocess=preprocess),
        count=len(crops),
        batch_size=16,
        progress=lambda done, total: report_progress(progress, bar, "features scene crops", done, total, {}),
    )
    if bar is not None:
        bar.close()
    feats = feats.view(len(scene_photos), -1, feats.shape[-1])  # (S, M, F)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        torch.save(feats, path)
    return feats, positives


def normalise_uint8(x: torch.Tensor, preprocess: dict) -> torch.Tensor:
    mean = torch.tensor(preprocess["mean"]).view(1, 3, 1, 1)
    std = torch.tensor(preprocess["std"]).view(1, 3, 1, 1)
    return (x.float() / 255.0 - mean) / std


@dataclass(frozen=True)
class TrainingInputs:
    """Everything the loop reads, built once before it (``prepare_inputs``)."""

    preprocess: dict
    categories: list[str]  # the category vocabulary: label i is categories[i]
    labels: torch.Tensor  # (N,) each product's category
    views: torch.Tensor  # (V, N, F) backbone features, or (V, N, 3, S, S) uint8 images for a trainable backbone
    targets: torch.Tensor  # (N, 3, R, R) uint8 reconstruction targets: the clean shots
    pairs: torch.Tensor  # (P, 3) co-viewed product indices and their count
    scene_features: torch.Tensor  # (S, M, F) the crops of TRAIN room photos
    scene_positives: torch.Tensor  # (S, N) bool: the products of each room
    digest: str  # sha256 of every input
    counts: dict  # what the checkpoint records of the data

    @property
    def products(self) -> int:
        return self.views.shape[1]

    def without(self, held_out: Sequence[int]) -> TrainingInputs:
        """These inputs with the ``held_out`` products taken out wholly: their clean shots and in-the-wild
        composites, reconstruction targets and labels, every pair that has one of them (the rest re-indexed), and
        their places among the room photos' products (a photo left with none is dropped; the photos themselves
        stay, unlabelled pixels of TRAIN rooms). The label set is that of the products kept.

        Taken from inputs built for the whole catalog, so the held-out model reuses its cached backbone features:
        view i of a product depends on that product's image alone (and the backgrounds), never on the others."""
        gone = set(int(i) for i in held_out)
        if not gone:
            return self
        kept = [i for i in range(self.products) if i not in gone]
        new = torch.full((self.products,), -1, dtype=torch.long)
        new[kept] = torch.arange(len(kept))
        keep = torch.tensor(kept, dtype=torch.long)
        names = [self.categories[int(label)] for label in self.labels[keep]]
        vocab = sorted(set(names))
        pairs = self.pairs
        if len(pairs):
            pairs = pairs[(new[pairs[:, 0]] >= 0) & (new[pairs[:, 1]] >= 0)]
            pairs = torch.stack([new[pairs[:, 0]], new[pairs[:, 1]], pairs[:, 2]], dim=1)
        positives = self.scene_positives[:, keep]
        rooms = positives.any(dim=1)
        return replace(
            self,
            categories=vocab,
            labels=torch.tensor([vocab.index(name) for name in names], dtype=torch.long),
            views=self.views[:, keep],
            targets=self.targets[keep],
            pairs=pairs.view(-1, 3),
            scene_features=self.scene_features[rooms] if len(self.scene_features) else self.scene_features,
            scene_positives=positives[rooms],
            counts={
                **self.counts,
                "products": len(kept),
                "pairs": len(pairs),
                "scene_photos": int(rooms.sum()),
                "held_out": len(gone),
            },
        )


def prepare_inputs(
    *,
    config: EncoderConfig,
    model: LookalikeEncoder,
    product_images: list,
    categories: list[str],
    coview_pairs: list[tuple[int, int, int]],
    backgrounds: list,
    scene_photos: list[tuple[str | Path, list[int]]],
    seed: int,
    cache_dir: Path | None,
    progress: Progress | None,
) -> TrainingInputs:
    """The views and targets of every product, the pairs and the room crops: the slow part on a CPU (every image
    goes through the backbone), cached on disk by a digest of the inputs."""
    preprocess = preprocess_for(config)
    vocab = sorted(set(categories))
    digest = inputs_digest(
        product_images=product_images,
        categories=categories,
        coview_pairs=coview_pairs,
        backgrounds=[*backgrounds, *(photo for photo, _ in scene_photos)],
    )
    view_key = hashlib.sha256(repr((digest, config.model.backbone, sorted(preprocess.items()))).encode()).hexdigest()[
        :16
    ]
    views = build_views(
        config=config,
        preprocess=preprocess,
        product_images=product_images,
        backgrounds=backgrounds,
        backbone=model.backbone,
        seed=seed,
        cache_dir=cache_dir,
        cache_key=view_key,
        progress=progress,
    )
    targets = torch.stack([recon_target(p, preprocess=preprocess) for p in product_images])  # (N, 3, R, R) uint8
    scene_features, scene_positives = build_scene_inputs(
        scene_photos=scene_photos,
        n_products=len(product_images),
        preprocess=preprocess,
        backbone=model.backbone,
        config=config,
        cache_dir=cache_dir,
        progress=progress,
    )
    return TrainingInputs(
        preprocess=preprocess,
        categories=vocab,
        labels=torch.tensor([vocab.index(c) for c in categories]),
        views=views,
        targets=targets,
        pairs=torch.tensor([[a, b, c] for a, b, c in coview_pairs], dtype=torch.long).view(-1, 3),
        scene_features=scene_features,
        scene_positives=scene_positives,
        digest=digest,
        counts={
            "products": len(product_images),
            "pairs": len(coview_pairs),
            "backgrounds": len(backgrounds),
            "scene_photos": len(scene_photos),
            "inputs_sha256": digest,
        },
    )
