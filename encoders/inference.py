"""Loading a trained encoder and turning images into search vectors.

Every function uses exactly the preprocessing stored in the checkpoint.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from encoders.backbone import EfficientNetFeatures, build_backbone, fold_batch_norms
from encoders.coview_vectors import CoviewTable
from encoders.imagenet_categories import blend_with_imagenet, imagenet_classifier
from encoders.model import EncoderConfig, LookalikeEncoder, ModelConfig
from encoders.preprocess import ImageInput, image_tensor, scene_crops

HEADS = ("similar", "goes_with", "scene")


@dataclass
class LoadedEncoder:
    model: LookalikeEncoder
    config: ModelConfig  # the network's part of the config: all that inference reads
    preprocess: dict
    categories: list[str]
    checkpoint: dict = field(repr=False)  # metrics, data snapshot, version
    has_category_head: bool = True  # False for versions trained before the category head: they guess nothing
    objectness: torch.nn.Module | None = None  # an objectness head for the piece finder (encoders.objectness), if any
    coview: CoviewTable | None = None  # the trained products' co-view parts of "goes with", by id (None: no part)


def load_encoder(path_or_checkpoint: str | Path | dict) -> LoadedEncoder:
    """A checkpoint file (or the dict train_encoder returned) -> a ready, eval-mode encoder.

    A frozen pretrained backbone is not in the checkpoint; it is rebuilt from the installed
    package, so only the keys under "backbone." may be missing; a version trained before the category head has
    none under "category." either (it guesses no categories), and one trained before the piece head none under
    "piece_category." (its piece finder reads windows with the category head, as it then did).
    """
    if isinstance(path_or_checkpoint, dict):
        ckpt = path_or_checkpoint
    else:
        ckpt = torch.load(path_or_checkpoint, map_location="cpu", weights_only=True)
    config = EncoderConfig.from_dict(ckpt["config"]).model
    backbone = build_backbone(config, pretrained=config.freeze_backbone)
    model = LookalikeEncoder(config=config, backbone=backbone, num_categories=len(ckpt["categories"]))
    result = model.load_state_dict(ckpt["state_dict"], strict=False)
    has_category_head = not any(k.startswith("category.") for k in result.missing_keys)
    before_piece_head = ("piece_category.", "piece_head_tuned")  # absent: the category head reads windows too
    missing_keys = [k for k in result.missing_keys if not k.startswith(before_piece_head)]
    empty = {k for k, v in model.state_dict().items() if v.numel() == 0}  # e.g. a projection this version lacks
    missing = [
        k
        for k in missing_keys
        if (config.backbone_in_checkpoint or not k.startswith("backbone."))
        and not k.startswith("category.")
        and k not in empty
    ]
    if missing or result.unexpected_keys:
        raise ValueError(f"checkpoint does not match the model: missing {missing}, unexpected {result.unexpected_keys}")
    model.eval()
    if isinstance(model.backbone, EfficientNetFeatures):
        fold_batch_norms(model.backbone)  # a loaded encoder only infers
    return LoadedEncoder(
        model=model,
        config=config,
        preprocess=dict(ckpt["preprocess"]),
        categories=list(ckpt["categories"]),
        checkpoint=ckpt,
        has_category_head=has_category_head,
        coview=CoviewTable.from_checkpoint(ckpt["coview"]) if config.coview_dim and "coview" in ckpt else None,
    )


def _check_head(head: str) -> None:
    if head not in HEADS:
        raise ValueError(f"head must be one of {HEADS}, got {head!r}")


@torch.inference_mode()
def backbone_features(encoder: LoadedEncoder, images: Sequence[ImageInput], *, batch_size: int = 16) -> np.ndarray:
    """Raw backbone features (N, F) float32 — cacheable, then fed to embed_backbone_features."""
    out = []
    for start in range(0, len(images), batch_size):
        batch = torch.stack(
            [image_tensor(im, preprocess=encoder.preprocess) for im in images[start : start + batch_size]]
        )
        out.append(encoder.model.features(batch.contiguous(memory_format=torch.channels_last)).float())
    dim = encoder.config.backbone_dim
    return torch.cat(out).numpy() if out else np.zeros((0, dim), np.float32)


@torch.inference_mode()
def embed_backbone_features(
    encoder: LoadedEncoder, features: np.ndarray, *, head: str = "similar", keys: Sequence[int] | None = None
) -> np.ndarray:
    """Backbone features (N, F) -> L2-normalised search vectors (N, D) float32 of one head. For "goes_with",
    ``keys`` (the products' ids) give each product its co-view part (encoders.coview_vectors): a product the
    encoder was trained without, or none named, takes the part its picture suggests."""
    _check_head(head)
    feats = torch.as_tensor(np.asarray(features, dtype=np.float32))
    if len(feats) == 0:
        return np.zeros((0, 0), np.float32)
    if keys is not None and len(keys) != len(feats):
        raise ValueError(f"{len(keys)} product keys for {len(feats)} images")
    coview = held = None
    if head == "goes_with" and keys is not None and encoder.coview is not None:
        coview, held = encoder.coview.lookup(keys)
    return encoder.model.query_vectors(feats, head=head, coview=coview, held=held).numpy().astype(np.float32)


def encode_images(
    encoder: LoadedEncoder,
    images: Sequence[ImageInput],
    *,
    head: str = "similar",
    batch_size: int = 16,
    keys: Sequence[int] | None = None,
) -> np.ndarray:
    """Images (paths or PIL images) -> (N, D) float32, L2-normalised, for cosine search (``keys``: see
    ``embed_backbone_features``)."""
    _check_head(head)
    features = backbone_features(encoder, images, batch_size=batch_size)
    return embed_backbone_features(encoder, features, head=head, keys=keys)


@torch.inference_mode()
def reconstruct(encoder: LoadedEncoder, images: Sequence[ImageInput], *, batch_size: int = 16) -> list[Image.Image]:
    """The decoder's redrawing of each image from its "similar" code ("what the model sees")."""
    return reconstruct_features(encoder, backbone_features(encoder, images, batch_size=batch_size))


@dataclass(frozen=True)
class QueryEncoding:
    """What one photo is searched with, and what is kept of it."""

    vector: np.ndarray  # (D,) its "similar" search vector
    code: np.ndarray  # (latent_dim,) its raw latent code: what ``reconstruct_codes`` draws later, without the photo
    categories: dict[str, float]  # what it looks like: category -> probability; empty without a category head


@torch.inference_mode()
def category_probabilities(encoder: LoadedEncoder, features: np.ndarray) -> np.ndarray:
    """Backbone features (N, F) -> what each photo shows: probabilities (N, C) over ``encoder.categories``."""
    feats = torch.as_tensor(np.asarray(features, dtype=np.float32))
    return photo_categories(encoder, feats).numpy().astype(np.float32)


@torch.inference_mode()
def photo_categories(
    encoder: LoadedEncoder, feats: torch.Tensor, *, weight: float | None = None, head: str = "category"
) -> torch.Tensor:
    """Pooled backbone features (N, F) -> probabilities (N, C): the category head's (or the piece head's, ``head``
    "piece", for windows of a room photo), blended with what the backbone's ImageNet classifier says of the same
    features (``encoders.imagenet_categories``; ``weight``: its share, IMAGENET_WEIGHT unless given)."""
    probabilities = torch.softmax(encoder.model.category_logits(feats, head=head), dim=1)
    classifier = imagenet_classifier(encoder.model.backbone)
    return blend_with_imagenet(
        probabilities, feats, classifier=classifier, categories=encoder.categories, weight=weight
    )


def category_distributions(encoder: LoadedEncoder, features: np.ndarray) -> list[dict[str, float]]:
    """Backbone features (N, F) -> each one's category distribution, category name -> probability (empty dicts
    for a version without a category head)."""
    if not encoder.has_category_head:
        return [{} for _ in range(len(features))]
    rows = category_probabilities(encoder, features).tolist()
    return [dict(zip(encoder.categories, row, strict=True)) for row in rows]


@torch.inference_mode()
def encode_query(encoder: LoadedEncoder, image: ImageInput) -> QueryEncoding:
    """One photo -> its search vector, latent code and category guess: the backbone runs once."""
    return encode_queries(encoder, [image])[0]


@torch.inference_mode()
def encode_queries(encoder: LoadedEncoder, images: Sequence[ImageInput]) -> list[QueryEncoding]:
    """Several photos -> each one's search vector, latent code and category guess, from one backbone batch (what
    the worker does with uploads queued together). Each photo's encoding is the one ``encode_query`` gives it."""
    if not images:
        return []
    features = backbone_features(encoder, images, batch_size=len(images))
    feats = torch.from_numpy(features)
    vectors = encoder.model.query_vectors(feats, head="similar").numpy().astype(np.float32)
    codes = encoder.model.embed_features(feats)["similar"].numpy().astype(np.float32)
    guesses = category_distributions(encoder, features)
    return [
        QueryEncoding(
            vector=vectors[i],
            code=codes[i],
            categories=guesses[i],
        )
        for i in range(len(images))
    ]


@torch.inference_mode()
def reconstruct_codes(encoder: LoadedEncoder, codes: np.ndarray) -> list[Image.Image]:
    """The decoder's drawing of raw latent codes (N, latent_dim) ("what the model sees")."""
    z = torch.as_tensor(np.asarray(codes, dtype=np.float32))
    pixels = (encoder.model.decoder(z) * 255).round().clamp(0, 255).to(torch.uint8)  # (B, 3, R, R)
    return [Image.fromarray(p.permute(1, 2, 0).numpy(), mode="RGB") for p in pixels]


@torch.inference_mode()
def reconstruct_features(encoder: LoadedEncoder, features: np.ndarray) -> list[Image.Image]:
    """The same from backbone features (N, F) already computed, so a caller runs the backbone once."""
    feats = torch.as_tensor(np.asarray(features, dtype=np.float32))
    return reconstruct_codes(encoder, encoder.model.embed_features(feats)["similar"].numpy())


def encode_scene(
    encoder: LoadedEncoder, image: ImageInput, *, head: str = "scene", grid: Sequence[int] | None = None
) -> np.ndarray:
    """A room photo -> one query vector per crop, (M, D) float32 L2-normalised.

    The crops are the checkpoint's (preprocess["scene_grid"]) unless `grid` is given. Search
    the "similar" vectors of the catalog with each row and merge the results by the best
    score per product (encoders.metrics.multi_query_scores does exactly that).
    """
    pre = encoder.preprocess
    crops = scene_crops(image, grid=grid or pre.get("scene_grid", (1, 2, 3)), overlap=pre.get("scene_overlap", 0.25))
    return encode_images(encoder, crops, head=head)
