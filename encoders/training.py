"""Training the similarity-regularised autoencoder: ``train_encoder`` runs named stages, top to bottom.

1. ``seed_everything``, then ``build_model``.
2. ``prepare_inputs`` (encoders.training_inputs): the views of every product (view 0 the clean catalog shot,
   views 1..K the product composited onto TRAIN room photos, "in the wild"), the reconstruction targets, the
   co-view pairs and the crops of TRAIN room photos. With a frozen backbone each view goes through it once
   (optionally cached on disk) and the loop trains the heads and the decoder on those features, which is what
   fits the CPU budget. With ``held_out`` products (encoders.holdout) the inputs are cut to the others
   (``TrainingInputs.without``): the held-out model that measures how the encoder does on new products.
3. ``train_loop``: each step (``step_terms``) takes a batch of products, a clean and a wild view of each ->
   category SupCon + instance InfoNCE on the "similar" code, the reconstruction of the clean product from both,
   and the category head's cross-entropy on the clean shot; a batch of co-viewed pairs (clean shots) -> count-weighted
   InfoNCE on the "goes with" code; a few TRAIN room photos (crops) -> a multiple-instance loss on the scene head.
   The mean of each term per epoch is kept.
   ``piece_head_on_rooms`` (encoders.piece_categories): then the piece head, the category head the piece finder
   reads windows of room photos with, is copied from the category head and tuned on windows of the TRAIN room
   photos, the kinds of their products as weak labels.
   ``scene_on_windows`` (encoders.scene_windows): then the scene head alone is tuned on the piece finder's best
   windows of the TRAIN room photos, what the finder searches with in place of their crops.
4. ``fit_coview_vectors`` (encoders.coview_vectors): each product's co-occurrence part of "goes with", from the
   pairs, kept by product key.
5. ``fit_served_projection``: PCA of the catalog's "similar" vectors onto ``served_dim`` (and of its joined "goes
   with" vectors, the head's output and the co-occurrence part, onto ``served_goes_with_dim``), so that the served
   vectors are compact whatever the width of the code and its residual.
6. ``checkpoint_of``: a checkpoint dict (plain types and tensors only: loadable with weights_only=True).
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from encoders import losses
from encoders.backbone import build_backbone
from encoders.coview_vectors import PICTURE_RIDGE, CoviewTable, fit_coview_vectors
from encoders.inference import LoadedEncoder
from encoders.model import EncoderConfig, LookalikeEncoder
from encoders.piece_categories import piece_head_on_windows
from encoders.scene_windows import scene_head_on_windows
from encoders.training_inputs import Progress, TrainingInputs, normalise_uint8, prepare_inputs, report_progress

CHECKPOINT_VERSION = 2  # 2: the config in its parts (model, data, optimisation); 1 kept it flat


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def build_model(config: EncoderConfig, categories: list[str]) -> LookalikeEncoder:
    """The network for ``config`` with its backbone (pretrained where it is one), one class per category."""
    backbone = build_backbone(config.model, pretrained=True)
    return LookalikeEncoder(config=config.model, backbone=backbone, num_categories=len(set(categories)))


def _to_features(model: LookalikeEncoder, inputs: TrainingInputs, x: torch.Tensor) -> torch.Tensor:
    """View inputs -> backbone features (B, F); cached features pass straight through."""
    if model.config.freeze_backbone:
        return x
    return model.features(normalise_uint8(x, inputs.preprocess))


def _being_trained(model: LookalikeEncoder, inputs: TrainingInputs, config: EncoderConfig) -> LoadedEncoder:
    """The model being trained, as the piece finder reads an encoder (the stages after the loop find windows)."""
    return LoadedEncoder(
        model=model, config=config.model, preprocess=inputs.preprocess, categories=inputs.categories, checkpoint={}
    )


@torch.no_grad()
def _clean_features(model: LookalikeEncoder, inputs: TrainingInputs) -> torch.Tensor:
    """The backbone features of every product's clean shot (N, F), 256 at a time."""
    views = inputs.views[0]
    return torch.cat([_to_features(model, inputs, views[start : start + 256]) for start in range(0, len(views), 256)])


def _product_terms(
    model: LookalikeEncoder, inputs: TrainingInputs, idx: torch.Tensor, config: EncoderConfig, gen: torch.Generator
) -> dict[str, torch.Tensor]:
    """The "similar" code's terms on a batch of products, a clean and a wild view of each."""
    opt, b, n_views = config.optimisation, len(idx), inputs.views.shape[0]
    wild_view = torch.randint(1, n_views, (b,), generator=gen) if n_views > 1 else torch.zeros(b, dtype=torch.long)
    feats_a = _to_features(model, inputs, inputs.views[0, idx])  # clean shots
    feats_b = _to_features(model, inputs, inputs.views[wild_view, idx])  # in the wild
    codes_a, codes_b = model.embed_features(feats_a), model.embed_features(feats_b)
    z = torch.cat([codes_a["similar"], codes_b["similar"]])  # (2B, D)
    y = torch.cat([inputs.labels[idx], inputs.labels[idx]])
    # decode a slice of the codes, half clean half wild views, all aiming at the clean shot
    r = min(b, max(1, config.data.recon_batch // 2))
    rows = torch.cat([torch.arange(r), b + torch.arange(r)])
    target = inputs.targets[idx[:r]].float().div(255.0).repeat(2, 1, 1, 1)  # (2r, 3, R, R)
    terms = {"recon": losses.reconstruction_loss(model.decoder(z[rows]), target)}
    if opt.w_supcon:
        terms["supcon"] = losses.supervised_contrastive_loss(z, y, temperature=opt.temperature)
    if opt.w_instance and n_views > 1:
        terms["instance"] = losses.info_nce(codes_a["similar"], codes_b["similar"], temperature=opt.temperature)
    if opt.w_classify:
        terms["classify"] = torch.nn.functional.cross_entropy(model.classifier(z), y)
    if opt.w_uniform:
        terms["uniform"] = losses.uniformity_loss(z)
    if opt.w_category:
        terms["category"] = _category_term(model, inputs, feats_a.detach(), inputs.labels[idx], opt)
    return terms


def _category_term(
    model: LookalikeEncoder, inputs: TrainingInputs, feats: torch.Tensor, labels: torch.Tensor, opt
) -> torch.Tensor:
    """The category head's cross-entropy on clean shots, each class weighted by the inverse of its number of
    products: shoppers photograph a sofa as often as a cushion, though the catalog holds many more textiles. The
    in-the-wild composites are left out: on the dev photos they taught the head the rooms behind the products
    (README, "Category-aware ranking")."""
    counts = torch.bincount(inputs.labels, minlength=len(inputs.categories)).clamp(min=1).float()
    weights = counts.reciprocal()  # cross_entropy divides by the batch's total weight: only the ratios matter
    logits = model.category_logits(feats)  # (B, C)
    return torch.nn.functional.cross_entropy(logits, labels, weight=weights, label_smoothing=opt.category_smoothing)


def _coview_term(
    model: LookalikeEncoder, inputs: TrainingInputs, config: EncoderConfig, gen: torch.Generator
) -> torch.Tensor:
    """Count-weighted InfoNCE on the "goes with" code of a batch of co-viewed pairs, on clean shots only: "goes
    with" is asked of catalog products, not of photos. ``gen`` is the term's own: its pairs, and its dropout (drawn
    from a random state forked off it), take nothing from the other terms' random draws, so how many pairs a step
    sees changes nothing but the "goes with" head (whose input is detached: ``LookalikeEncoder.embed_features``)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(int(torch.randint(0, 2**62, (1,), generator=gen)))
        pick = torch.randint(0, len(inputs.pairs), (config.data.pair_batch_size,), generator=gen)
        pa, pb, pc = inputs.pairs[pick].unbind(1)
        fa = _to_features(model, inputs, inputs.views[0, pa])
        fb = _to_features(model, inputs, inputs.views[0, pb])
        return losses.coview_loss(
            model.embed_features(fa)["goes_with"],
            model.embed_features(fb)["goes_with"],
            pc,
            temperature=config.optimisation.temperature,
            mode=config.optimisation.coview_weighting,
            ids_a=pa,
            ids_b=pb,
        )


def _scene_term(
    model: LookalikeEncoder, inputs: TrainingInputs, idx: torch.Tensor, config: EncoderConfig, gen: torch.Generator
) -> torch.Tensor:
    """The multiple-instance loss of a few TRAIN room photos' crops against their rooms' products."""
    rooms = torch.randint(0, len(inputs.scene_features), (config.data.scene_rooms_per_step,), generator=gen)
    in_rooms = inputs.scene_positives[rooms].any(dim=0).nonzero().squeeze(1)
    cand = torch.unique(torch.cat([in_rooms, idx]))  # the rooms' products + other products
    s_, m_, f_ = inputs.scene_features[rooms].shape
    # only the scene correction learns here, and the products' codes are fixed, so rooms never pull their
    # products together
    features = _to_features(model, inputs, inputs.scene_features[rooms].view(s_ * m_, f_))
    crops = model.scene_codes_for_training(features).view(s_, m_, -1)  # (S, M, D)
    with torch.no_grad():
        prods = model.embed_features(_to_features(model, inputs, inputs.views[0, cand]))["similar"]  # (P, D)
    positives = inputs.scene_positives[rooms][:, cand]  # (S, P)
    return losses.scene_loss(crops, prods, positives, temperature=config.optimisation.temperature)


def step_terms(
    model: LookalikeEncoder,
    inputs: TrainingInputs,
    idx: torch.Tensor,
    config: EncoderConfig,
    gen: torch.Generator,
    pair_gen: torch.Generator,
) -> dict[str, torch.Tensor]:
    """Every loss term of one step on the products ``idx``, by name (the names of the training history); the
    co-view term draws from ``pair_gen`` alone."""
    opt = config.optimisation
    terms = _product_terms(model, inputs, idx, config, gen)
    if opt.w_coview and len(inputs.pairs):
        terms["coview"] = _coview_term(model, inputs, config, pair_gen)
    if opt.w_scene and len(inputs.scene_features):
        terms["scene"] = _scene_term(model, inputs, idx, config, gen)
    return terms


def train_loop(
    model: LookalikeEncoder,
    inputs: TrainingInputs,
    *,
    config: EncoderConfig,
    seed: int,
    progress: Progress | None,
) -> tuple[torch.optim.Optimizer, list[dict]]:
    """AdamW with a one-cycle schedule over ``epochs``; returns the optimizer and the history (per epoch, the mean
    of the weighted loss and of each term over the products)."""
    opt, n = config.optimisation, inputs.products
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=opt.lr, weight_decay=opt.weight_decay)
    steps_per_epoch = max(1, (n + config.data.batch_size - 1) // config.data.batch_size)
    total_steps = opt.epochs * steps_per_epoch
    scheduler = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=opt.lr, total_steps=max(total_steps, 1), pct_start=0.1
    )
    weights = opt.loss_weights()
    gen = torch.Generator().manual_seed(seed)
    pair_gen = torch.Generator().manual_seed(seed + 1)  # the co-view term's own (``_coview_term``)
    history: list[dict] = []
    bar = tqdm(total=total_steps, desc="train") if progress is None else None
    step = 0
    model.train()
    if model.config.freeze_backbone:
        model.backbone.eval()  # frozen BatchNorm statistics
    for epoch in range(opt.epochs):
        order = torch.randperm(n, generator=gen)
        sums: dict[str, float] = {}
        for start in range(0, n, config.data.batch_size):
            idx = order[start : start + config.data.batch_size]
            terms = step_terms(model, inputs, idx, config, gen, pair_gen)
            loss = sum(weights[k] * v for k, v in terms.items())
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            scheduler.step()
            step += 1
            for k, v in {"loss": loss, **terms}.items():
                sums[k] = sums.get(k, 0.0) + float(v.detach()) * len(idx)
            report_progress(
                progress, bar, "train", step, total_steps, {"epoch": epoch + 1, "loss": float(loss.detach())}
            )
        history.append({"epoch": epoch + 1, **{k: v / n for k, v in sums.items()}})
    if bar is not None:
        bar.close()
    model.eval()
    return optimizer, history


def coview_table_of(config: EncoderConfig, inputs: TrainingInputs, keys: Sequence[int], *, seed: int) -> CoviewTable:
    """Each product's co-occurrence part of "goes with" (``keys[i]`` names product i of ``inputs``), as the
    checkpoint stores it (float16)."""
    if len(keys) != inputs.products:
        raise ValueError(f"{len(keys)} product keys for {inputs.products} products")
    vectors = fit_coview_vectors(inputs.pairs, products=inputs.products, dim=config.model.coview_dim, seed=seed)
    return CoviewTable.of(keys, vectors.to(torch.float16))


def piece_head_on_rooms(
    model: LookalikeEncoder,
    inputs: TrainingInputs,
    scene_photos: list[tuple[str | Path, list[int]]],
    *,
    categories: Sequence[str],
    held_out: set[int],
    config: EncoderConfig,
    seed: int,
) -> list[float]:
    """The piece head tuned on windows of the TRAIN room photos, the kinds of each one's products (``categories``
    of all the products, ``scene_photos`` indices among them) as weak labels (``encoders.piece_categories``), beside
    the clean shots of the products not ``held_out``. Returns the tuning's losses."""
    opt = config.optimisation
    if opt.piece_window_steps <= 0 or not scene_photos:
        return []
    photos = [(photo, sorted({categories[i] for i in indices if i not in held_out})) for photo, indices in scene_photos]
    clean = _clean_features(model, inputs)
    encoder = _being_trained(model, inputs, config)
    return piece_head_on_windows(
        encoder,
        photos,
        clean,
        [inputs.categories[int(label)] for label in inputs.labels],
        count=opt.piece_windows,
        steps=opt.piece_window_steps,
        lr=opt.piece_window_lr,
        seed=seed,
    )


def scene_on_windows(
    model: LookalikeEncoder,
    inputs: TrainingInputs,
    scene_photos: list[tuple[str | Path, list[int]]],
    *,
    products: int,
    held_out: set[int],
    config: EncoderConfig,
    seed: int,
) -> list[float]:
    """The scene head tuned on the piece finder's windows of the TRAIN room photos (``encoders.scene_windows``),
    where the loop trained it on their crops (a frozen backbone with room photos); ``scene_photos`` hold indices
    among all ``products``, those ``held_out`` taken out as the inputs were. Returns the tuning's losses."""
    opt = config.optimisation
    if opt.scene_window_steps <= 0 or not len(inputs.scene_features):
        return []
    keep = torch.tensor([i for i in range(products) if i not in held_out], dtype=torch.long)
    photos = []
    for photo, indices in scene_photos:
        row = torch.zeros(products, dtype=torch.bool)
        row[list(indices)] = True
        photos.append((photo, row[keep]))
    encoder = _being_trained(model, inputs, config)
    return scene_head_on_windows(
        encoder,
        photos,
        inputs.views[0],
        count=opt.scene_windows,
        steps=opt.scene_window_steps,
        lr=opt.scene_window_lr,
        temperature=opt.temperature,
        seed=seed,
    )


@torch.no_grad()
def fit_served_projection(model: LookalikeEncoder, inputs: TrainingInputs, coview: torch.Tensor) -> None:
    """PCA of the catalog's clean shots' "similar" vectors onto ``served_dim``, and of their joined "goes with"
    vectors (each with its product's co-view part: ``coview`` (N, C), in the products' order) onto
    ``served_goes_with_dim``; and the regression that guesses a new product's co-view part from its picture (kept
    in the model's buffers)."""
    clean = _clean_features(model, inputs)
    pictures = torch.nn.functional.normalize(model.embed_features(clean)["goes_with"], dim=1)
    model.fit_coview_from_picture(pictures, coview, ridge=PICTURE_RIDGE)
    goes_with = model.joined_goes_with(pictures, coview)
    model.fit_projection(model.unprojected_vectors(clean), goes_with)


def checkpoint_of(
    *,
    model: LookalikeEncoder,
    optimizer: torch.optim.Optimizer,
    config: EncoderConfig,
    inputs: TrainingInputs,
    history: list[dict],
    seed: int,
    train_seconds: float,
    feature_seconds: float,
    coview: CoviewTable,
) -> dict:
    """The checkpoint dict: weights (without a frozen pretrained backbone, rebuilt from its package), optimizer,
    config, preprocessing, categories, the products' co-view parts, the history and timings, and what the data
    was."""
    state = {
        k: v.detach().clone()
        for k, v in model.state_dict().items()
        if config.model.backbone_in_checkpoint or not k.startswith("backbone.")
    }
    return {
        "version": CHECKPOINT_VERSION,
        "config": config.to_dict(),
        "preprocess": inputs.preprocess,
        "state_dict": state,
        "optimizer": optimizer.state_dict(),
        "categories": inputs.categories,
        "coview": coview.to_checkpoint(),
        "metrics": {"history": history, "train_seconds": train_seconds, "feature_seconds": feature_seconds},
        "data": {**inputs.counts, "seed": seed},
    }


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
    held_out: Sequence[int] = (),
    on_full_inputs: Callable[[TrainingInputs], None] | None = None,
    product_keys: Sequence[int] | None = None,
) -> dict:
    """Train an encoder on a catalog and return its checkpoint dict.

    product_images[i] and categories[i] describe product i; coview_pairs are
    (index_a, index_b, count) over those indices (TRAIN sessions only); backgrounds are
    photos used for in-the-wild composites (TRAIN room photos only). `progress`, if given,
    is called as progress(stage, done, total, info) instead of drawing tqdm bars.
    `cache_dir` keeps frozen-backbone features of each view between runs. `scene_photos`
    are (photo, product indices) of TRAIN rooms; they train the scene head (w_scene).
    `held_out` (indices) are products the model must never see (encoders.holdout): the inputs are built for
    the whole catalog, so the cached backbone features serve, then every trace of them is taken out
    (``TrainingInputs.without``) before the loop and the served projection's fit. `on_full_inputs`, if given,
    receives the inputs of the whole catalog before they are cut (the held-out evaluation reads the clean shots'
    cached backbone features there instead of computing them again). `product_keys[i]` (the product's id) names
    product i in the checkpoint's co-view parts (encoders.coview_vectors; its index where not given).
    """
    if len(product_images) != len(categories):
        raise ValueError("product_images and categories differ in length")
    keys = [int(key) for key in product_keys] if product_keys is not None else list(range(len(categories)))
    if len(keys) != len(categories) or len(set(keys)) != len(keys):
        raise ValueError("product_keys must name every product once")
    if num_threads is not None:
        torch.set_num_threads(num_threads)
    started = time.perf_counter()
    seed_everything(seed)
    gone = set(held_out)
    model = build_model(config, [c for i, c in enumerate(categories) if i not in gone])
    inputs = prepare_inputs(
        config=config,
        model=model,
        product_images=product_images,
        categories=categories,
        coview_pairs=coview_pairs,
        backgrounds=backgrounds,
        scene_photos=list(scene_photos or []) if config.optimisation.w_scene else [],
        seed=seed,
        cache_dir=Path(cache_dir) if cache_dir is not None else None,
        progress=progress,
    )
    if on_full_inputs is not None:
        on_full_inputs(inputs)
    inputs = inputs.without(held_out)
    feature_seconds = time.perf_counter() - started
    torch.manual_seed(seed)  # dropout masks must not depend on whether the views came from the cache
    optimizer, history = train_loop(model, inputs, config=config, seed=seed, progress=progress)
    piece_head_on_rooms(
        model, inputs, list(scene_photos or []), categories=categories, held_out=gone, config=config, seed=seed
    )
    scene_on_windows(
        model, inputs, list(scene_photos or []), products=len(categories), held_out=gone, config=config, seed=seed
    )
    kept_keys = [key for i, key in enumerate(keys) if i not in gone]
    coview = coview_table_of(config, inputs, kept_keys, seed=seed)
    fit_served_projection(model, inputs, coview.rows(kept_keys))
    return checkpoint_of(
        model=model,
        optimizer=optimizer,
        config=config,
        inputs=inputs,
        history=history,
        seed=seed,
        train_seconds=time.perf_counter() - started,
        feature_seconds=feature_seconds,
        coview=coview,
    )
