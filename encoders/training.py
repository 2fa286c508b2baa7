"""Training the similarity-regularised autoencoder: a plain loop, top to bottom.

1. Seed everything.
2. Build the views of every product: view 0 is the clean catalog shot, views 1..K are the
   product composited onto TRAIN room photos ("in the wild"). With a frozen backbone each
   view is pushed through it once (optionally cached on disk); the loop then trains the
   heads and the decoder on those features, which is what fits the CPU budget.
3. Each step: a batch of products, a clean and a wild view of each -> category SupCon +
   instance InfoNCE on the "similar" code, reconstruction of the clean product from both,
   a batch of co-viewed pairs (clean shots) -> count-weighted InfoNCE on the "goes with"
   code, and a few TRAIN room photos (crops) -> multiple-instance loss on the scene head.
4. Fit the served projection (PCA of the catalog's "similar" vectors onto config.served_dim), so that the
   served vector is compact whatever the width of the code and its residual.
5. Return a checkpoint dict (plain types and tensors only: loadable with weights_only=True).
"""

from __future__ import annotations

import hashlib
import random
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from tqdm import tqdm

from encoders import losses
from encoders.backbone import build_backbone, extract_features
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

CHECKPOINT_VERSION = 1
COMPOSITE_VERSION = 2  # bump when the in-the-wild compositing changes: it keys the feature cache

Progress = Callable[[str, int, int, dict], None]  # (stage, done, total, info)


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def preprocess_for(config: EncoderConfig) -> dict:
    p = default_preprocess()
    p["image_size"] = config.image_size
    p["recon_size"] = config.recon_size
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


def _report(progress: Progress | None, bar: tqdm | None, stage: str, done: int, total: int, info: dict) -> None:
    if progress is not None:
        progress(stage, done, total, info)
    elif bar is not None:
        bar.n = done
        if info:
            bar.set_postfix({k: f"{v:.3f}" if isinstance(v, float) else v for k, v in info.items()})
        bar.refresh()


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
    uint8. V = 1 + config.wild_views; view 0 is the clean shot. Composite v of product i is
    drawn from RNGs seeded by (seed, v, i), so a view is the same in every run.
    """
    size = preprocess["image_size"]
    bgs = _load_backgrounds(backgrounds) if config.wild_views else []
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
    for v in range(1 + config.wild_views):
        path = None
        if cache_dir is not None and config.freeze_backbone:
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
        if config.freeze_backbone:

            def report(done: int, total: int, v: int = v, bar: tqdm | None = bar) -> None:
                _report(progress, bar, f"features view {v}", done, total, {})

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
    if not scene_photos or not config.freeze_backbone:
        return torch.zeros(0), torch.zeros(0, n_products, dtype=torch.bool)
    grid, overlap = preprocess["scene_grid"], preprocess["scene_overlap"]
    positives = torch.zeros(len(scene_photos), n_products, dtype=torch.bool)
    for s, (_, products) in enumerate(scene_photos):
        positives[s, list(products)] = True
    h = hashlib.sha256(repr((config.backbone, sorted(preprocess.items()))).encode())
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
        progress=lambda done, total: _report(progress, bar, "features scene crops", done, total, {}),
    )
    if bar is not None:
        bar.close()
    feats = feats.view(len(scene_photos), -1, feats.shape[-1])  # (S, M, F)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        torch.save(feats, path)
    return feats, positives


def _normalise_uint8(x: torch.Tensor, preprocess: dict) -> torch.Tensor:
    mean = torch.tensor(preprocess["mean"]).view(1, 3, 1, 1)
    std = torch.tensor(preprocess["std"]).view(1, 3, 1, 1)
    return (x.float() / 255.0 - mean) / std


def train_encoder(
    *,
    config: EncoderConfig,
    product_images: list[str | Path],
    categories: list[str],
    coview_pairs: list[tuple[int, int, int]],
    backgrounds: list[str | Path],
    seed: int,
    progress: Progress | None = None,
    num_threads: int | None = None,
    cache_dir: str | Path | None = None,
    scene_photos: list[tuple[str | Path, list[int]]] | None = None,
) -> dict:
    """Train an encoder on a catalog and return its checkpoint dict.

    product_images[i] and categories[i] describe product i; coview_pairs are
    (index_a, index_b, count) over those indices (TRAIN sessions only); backgrounds are
    photos used for in-the-wild composites (TRAIN room photos only). `progress`, if given,
    is called as progress(stage, done, total, info) instead of drawing tqdm bars.
    `cache_dir` keeps frozen-backbone features of each view between runs. `scene_photos`
    are (photo, product indices) of TRAIN rooms; they train the scene head (config.w_scene).
    """
    if len(product_images) != len(categories):
        raise ValueError("product_images and categories differ in length")
    if num_threads is not None:
        torch.set_num_threads(num_threads)
    started = time.perf_counter()
    seed_everything(seed)
    preprocess = preprocess_for(config)
    vocab = sorted(set(categories))
    labels = torch.tensor([vocab.index(c) for c in categories])
    n = len(product_images)
    scene_photos = list(scene_photos or []) if config.w_scene else []
    digest = inputs_digest(
        product_images=product_images,
        categories=categories,
        coview_pairs=coview_pairs,
        backgrounds=[*backgrounds, *(photo for photo, _ in scene_photos)],
    )

    backbone = build_backbone(config, pretrained=True)
    model = LookalikeEncoder(config=config, backbone=backbone, num_categories=len(vocab))

    # 2. views and reconstruction targets
    view_key = hashlib.sha256(repr((digest, config.backbone, sorted(preprocess.items()))).encode()).hexdigest()[:16]
    views = build_views(
        config=config,
        preprocess=preprocess,
        product_images=product_images,
        backgrounds=backgrounds,
        backbone=backbone,
        seed=seed,
        cache_dir=Path(cache_dir) if cache_dir is not None else None,
        cache_key=view_key,
        progress=progress,
    )
    targets = torch.stack([recon_target(p, preprocess=preprocess) for p in product_images])  # (N, 3, R, R) uint8
    scene_feats, scene_pos = build_scene_inputs(
        scene_photos=scene_photos,
        n_products=n,
        preprocess=preprocess,
        backbone=backbone,
        config=config,
        cache_dir=Path(cache_dir) if cache_dir is not None else None,
        progress=progress,
    )
    feature_seconds = time.perf_counter() - started

    pairs = torch.tensor([[a, b, c] for a, b, c in coview_pairs], dtype=torch.long).view(-1, 3)
    torch.manual_seed(seed)  # dropout masks must not depend on whether the views came from the cache

    # 3. the loop
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=config.lr, weight_decay=config.weight_decay)
    steps_per_epoch = max(1, (n + config.batch_size - 1) // config.batch_size)
    total_steps = config.epochs * steps_per_epoch
    scheduler = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=config.lr, total_steps=max(total_steps, 1), pct_start=0.1
    )
    gen = torch.Generator().manual_seed(seed)
    n_views = views.shape[0]
    history: list[dict] = []
    bar = tqdm(total=total_steps, desc="train") if progress is None else None
    step = 0
    model.train()
    if config.freeze_backbone:
        model.backbone.eval()  # frozen BatchNorm statistics

    def to_features(x: torch.Tensor) -> torch.Tensor:
        """View inputs -> backbone features (B, F); cached features pass straight through."""
        return x if config.freeze_backbone else model.features(_normalise_uint8(x, preprocess))

    for epoch in range(config.epochs):
        order = torch.randperm(n, generator=gen)
        sums: dict[str, float] = {}
        for start in range(0, n, config.batch_size):
            idx = order[start : start + config.batch_size]
            b = len(idx)
            wild_view = (
                torch.randint(1, n_views, (b,), generator=gen) if n_views > 1 else torch.zeros(b, dtype=torch.long)
            )
            codes_a = model.embed_features(to_features(views[0, idx]))  # clean shots
            codes_b = model.embed_features(to_features(views[wild_view, idx]))  # in the wild
            z = torch.cat([codes_a["similar"], codes_b["similar"]])  # (2B, D)
            y = torch.cat([labels[idx], labels[idx]])
            # decode a slice of the codes, half clean half wild views, all aiming at the clean shot
            r = min(b, max(1, config.recon_batch // 2))
            rows = torch.cat([torch.arange(r), b + torch.arange(r)])
            target = targets[idx[:r]].float().div(255.0).repeat(2, 1, 1, 1)  # (2r, 3, R, R)

            terms = {"recon": losses.reconstruction_loss(model.decoder(z[rows]), target)}
            if config.w_supcon:
                terms["supcon"] = losses.supervised_contrastive_loss(z, y, temperature=config.temperature)
            if config.w_instance and n_views > 1:
                terms["instance"] = losses.info_nce(
                    codes_a["similar"], codes_b["similar"], temperature=config.temperature
                )
            if config.w_classify:
                terms["classify"] = torch.nn.functional.cross_entropy(model.classifier(z), y)
            if config.w_uniform:
                terms["uniform"] = losses.uniformity_loss(z)
            if config.w_coview and len(pairs):
                pick = torch.randint(0, len(pairs), (config.pair_batch_size,), generator=gen)
                pa, pb, pc = pairs[pick].unbind(1)
                # clean shots only: "goes with" is asked of catalog products (measured: pairs of
                # random views dropped dev room hit@10 from 0.43 to 0.26 with three wild views)
                fa, fb = to_features(views[0, pa]), to_features(views[0, pb])
                terms["coview"] = losses.coview_loss(
                    model.embed_features(fa)["goes_with"],
                    model.embed_features(fb)["goes_with"],
                    pc,
                    temperature=config.temperature,
                    mode=config.coview_weighting,
                    ids_a=pa,
                    ids_b=pb,
                )
            if config.w_scene and len(scene_feats):
                rooms = torch.randint(0, len(scene_feats), (config.scene_rooms_per_step,), generator=gen)
                in_rooms = scene_pos[rooms].any(dim=0).nonzero().squeeze(1)
                cand = torch.unique(torch.cat([in_rooms, idx]))  # the rooms' products + other products
                s_, m_, f_ = scene_feats[rooms].shape
                crop_codes = model.embed_features(to_features(scene_feats[rooms].view(s_ * m_, f_)))
                # only the scene correction learns here: the similar code of a crop is detached, and
                # so are the products' codes, so rooms never pull their products together
                delta = crop_codes["scene"] - crop_codes["similar"]
                crops = (crop_codes["similar"].detach() + delta).view(s_, m_, -1)  # (S, M, D)
                with torch.no_grad():
                    prods = model.embed_features(to_features(views[0, cand]))["similar"]  # (P, D)
                positives = scene_pos[rooms][:, cand]  # (S, P)
                terms["scene"] = losses.scene_loss(crops, prods, positives, temperature=config.temperature)
            weights = {
                "recon": config.w_recon,
                "supcon": config.w_supcon,
                "instance": config.w_instance,
                "classify": config.w_classify,
                "uniform": config.w_uniform,
                "coview": config.w_coview,
                "scene": config.w_scene,
            }
            loss = sum(weights[k] * v for k, v in terms.items())
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            scheduler.step()
            step += 1
            for k, v in {"loss": loss, **terms}.items():
                sums[k] = sums.get(k, 0.0) + float(v.detach()) * b
            _report(progress, bar, "train", step, total_steps, {"epoch": epoch + 1, "loss": float(loss.detach())})
        history.append({"epoch": epoch + 1, **{k: v / n for k, v in sums.items()}})
    if bar is not None:
        bar.close()
    model.eval()

    # 4. the served projection: PCA of the catalog's clean shots' "similar" vectors onto config.served_dim
    with torch.no_grad():
        clean = torch.cat([to_features(views[0, start : start + 256]) for start in range(0, n, 256)])
        model.fit_projection(model.unprojected_vectors(clean))

    state = {
        k: v.detach().clone()
        for k, v in model.state_dict().items()
        if config.backbone_in_checkpoint or not k.startswith("backbone.")
    }
    return {
        "version": CHECKPOINT_VERSION,
        "config": config.to_dict(),
        "preprocess": preprocess,
        "state_dict": state,
        "optimizer": optimizer.state_dict(),
        "categories": vocab,
        "metrics": {
            "history": history,
            "train_seconds": time.perf_counter() - started,
            "feature_seconds": feature_seconds,
        },
        "data": {
            "products": n,
            "pairs": len(coview_pairs),
            "backgrounds": len(backgrounds),
            "scene_photos": len(scene_photos),
            "inputs_sha256": digest,
            "seed": seed,
        },
    }
