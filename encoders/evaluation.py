"""The evaluation protocol end to end (pure: no Django): query sets from disk, embedders for an encoder
version and for the baselines, and the figures. ``evaluate_encoder`` (the command) and the research
bench both go through ``evaluate``.

Tasks (k = 10, cosine neighbours over the whole catalog; see encoders.metrics for the exact readings):
web P@10 (ranked with the photo's category guess, as the product answers it) and its mean over classes,
loo P@10, room hit@10 / R@10, scene hit@10 / R@10; for an encoder with a category head, the room photos answered
by their pieces as the product answers them (pieces hit@10 / R@10, union R@10, piece precision, pieces per photo);
and, with a model trained without a share of the products
(encoders.holdout), held-out P@10 and held-out room hit@10 (``held_out_scores``).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from pathlib import Path
from typing import Protocol

import numpy as np

from encoders import baselines, metrics
from encoders.category_ranking import agreeing_guess, kept_guess
from encoders.inference import (
    LoadedEncoder,
    backbone_features,
    category_distributions,
    embed_backbone_features,
    scene_crops,
)
from encoders.piece_finder import FinderSettings, find_pieces
from encoders.pieces import Piece, within_category
from encoders.queries import FIGURES, HELD_OUT_FIGURES, PIECE_FIGURES, Catalog, QuerySet
from encoders.room_context import TOGETHER_TEMPERATURE, TOGETHER_WEIGHT


class Embedder(Protocol):
    """Vectors for the catalog and for queries. ``head`` is "similar" or "goes_with"."""

    def catalog(self, images: Sequence[Path], *, head: str) -> np.ndarray: ...

    def queries(self, images: Sequence[Path]) -> np.ndarray: ...

    def scene(self, photo: Path) -> np.ndarray:  # (M, D): one or several query vectors per photo
        ...


class EncoderEmbedder:
    """A trained encoder: "similar" vectors for web, loo and scene (scene queried with multi-crops),
    "goes with" vectors for the room task. Backbone features are computed once per image set and kept,
    so the pretrained-features baseline (``BackboneEmbedder``) is measured on them at no extra cost."""

    def __init__(
        self,
        encoder: LoadedEncoder,
        *,
        scene_grid: Sequence[int] = (1, 2, 3),
        features_of: EncoderEmbedder | None = None,
        finder: FinderSettings | None = None,
    ):
        """``features_of``: another embedder whose backbone features this one shares (both frozen, with the same
        backbone and preprocessing: the held-out model of a version reads the version's features). ``finder``: how
        the pieces of room photos are found (the worker's ``encoders.lifecycle.served_finder``; the defaults if
        None)."""
        self.encoder = encoder
        self.finder = finder
        self.scene_grid = tuple(scene_grid)
        self._features: dict[tuple, np.ndarray] = features_of._features if features_of is not None else {}

    def features(self, key: tuple, images) -> np.ndarray:
        if key not in self._features:
            self._features[key] = backbone_features(self.encoder, list(images))
        return self._features[key]

    def use_catalog_features(self, images, features: np.ndarray) -> None:
        """Take ``features`` (N, F) as the backbone features of the catalog ``images``, computed elsewhere with the
        same frozen backbone and preprocessing (training's clean views)."""
        self._features[("catalog", tuple(images))] = np.asarray(features, dtype=np.float32)

    def catalog(self, images, *, head):
        features = self.features(("catalog", tuple(images)), images)
        return embed_backbone_features(self.encoder, features, head=head)

    def catalog_goes_with(self, images, product_keys) -> np.ndarray:
        """The catalog's "goes with" vectors as the worker stores them: each product's picture joined with its
        co-view part, looked up by its key (encoders.coview_vectors)."""
        features = self.features(("catalog", tuple(images)), images)
        return embed_backbone_features(self.encoder, features, head="goes_with", keys=list(product_keys))

    def queries(self, images):
        features = self.features(("queries", tuple(images)), images)
        return embed_backbone_features(self.encoder, features, head="similar")

    def query_categories(self, images) -> list[dict[str, float]] | None:
        """Each photo's category distribution from the category head (None for a version without one)."""
        if not self.encoder.has_category_head:
            return None
        return category_distributions(self.encoder, self.features(("queries", tuple(images)), images))

    def catalog_categories(self, images) -> list[dict[str, float]] | None:
        """Each catalog product's category guess from its picture, as the worker stores it and the product page
        ranks its similar items with (``kept_guess``); None for a version without a category head."""
        if not self.encoder.has_category_head:
            return None
        features = self.features(("catalog", tuple(images)), images)
        return [kept_guess(guess) for guess in category_distributions(self.encoder, features)]

    def scene_features(self, photo) -> np.ndarray:
        """(M, F): the whole photo first, then the crops of the grid."""
        return self.features(("scene", photo), scene_crops(photo, grid=self.scene_grid))

    def scene(self, photo):
        return embed_backbone_features(self.encoder, self.scene_features(photo), head="similar")

    def pieces(self, photo) -> list[Piece] | None:
        """The pieces the product finds in a room photo (encoders.piece_finder); None for a version without a
        category head (it finds none, and the piece figures are not measured)."""
        if not self.encoder.has_category_head:
            return None
        return find_pieces(self.encoder, photo, settings=self.finder)


class BackboneEmbedder:
    """The pretrained baseline (EfficientNet-Lite0 ImageNet features, whole-photo scene queries), read from the
    features an EncoderEmbedder computed for the same images: every version is shown beside it."""

    def __init__(self, embedder: EncoderEmbedder):
        self.embedder = embedder

    def catalog(self, images, *, head):
        return self.embedder.features(("catalog", tuple(images)), images)

    def queries(self, images):
        return self.embedder.features(("queries", tuple(images)), images)

    def scene(self, photo):
        return self.embedder.scene_features(photo)[:1]


class PixelEmbedder:
    """The pixel baselines: a function of letterboxed 64×64 uint8 pixels, the same for every task."""

    def __init__(self, embed):
        self.embed = embed
        self._catalog: np.ndarray | None = None

    def catalog(self, images, *, head):
        if self._catalog is None:
            self._catalog = self.embed(baselines.letterboxed_array(list(images), size=64))
        return self._catalog

    def queries(self, images):
        return self.embed(baselines.letterboxed_array(list(images), size=64))

    def scene(self, photo):
        return self.embed(baselines.letterboxed_array([photo], size=64))


class RandomEmbedder:
    def __init__(self, seed: int = 0):
        self.rng = np.random.default_rng(seed)

    def _vectors(self, n: int) -> np.ndarray:
        return self.rng.standard_normal((n, 64)).astype(np.float32)

    def catalog(self, images, *, head):
        return self._vectors(len(images))

    def queries(self, images):
        return self._vectors(len(images))

    def scene(self, photo):
        return self._vectors(1)


class PretrainedEmbedder:
    """EfficientNet-Lite0 ImageNet features (1280-d, 224×224, mean-pooled); whole-photo scene queries."""

    def __init__(self):
        self._catalog: np.ndarray | None = None

    def catalog(self, images, *, head):
        if self._catalog is None:
            self._catalog = baselines.efficientnet_features(list(images))
        return self._catalog

    def queries(self, images):
        return baselines.efficientnet_features(list(images))

    def scene(self, photo):
        return baselines.efficientnet_features([photo])


def baseline_embedders(catalog: Catalog, *, seed: int = 0, autoencoder_epochs: int = 15) -> dict[str, Embedder]:
    """The reference baselines of shared/data/baselines.md; PCA and the plain autoencoder fit on the catalog."""
    pixels = baselines.letterboxed_array(catalog.images, size=64)
    mean, components = baselines.pca_fit(pixels)
    autoencoder = baselines.conv_autoencoder_train(pixels, epochs=autoencoder_epochs, seed=seed)
    return {
        "random vectors": RandomEmbedder(seed),
        "raw pixels, 16×16 RGB": PixelEmbedder(baselines.raw_pixels),
        "PCA, 64 components of 64×64 RGB": PixelEmbedder(lambda px: baselines.pca_embed(px, mean, components)),
        f"plain conv autoencoder, 64×64, latent 64, {autoencoder_epochs} epochs": PixelEmbedder(
            lambda px: baselines.conv_autoencoder_embed(autoencoder, px)
        ),
        "EfficientNet-Lite0 ImageNet features": PretrainedEmbedder(),
    }


def query_scores(embedder: Embedder, catalog: Catalog, queries: QuerySet) -> dict[str, np.ndarray]:
    """Every figure's score on each of its queries (the figure is their mean; see encoders.intervals)."""
    similar = embedder.catalog(catalog.images, head="similar")
    goes_with = goes_with_vectors(embedder, catalog)
    index = catalog.sku_index
    room_hit, room_recall = metrics.room_hit_recall_scores(goes_with, metrics.room_products(queries.rooms, index))
    scene_scores = (
        metrics.multi_query_scores([embedder.scene(photo) for photo in queries.scene_photos], similar)
        if queries.scene_photos
        else np.zeros((0, len(catalog.images)))
    )
    scene_hit, scene_recall = metrics.scene_hit_recall_scores(
        scene_scores, metrics.room_products(queries.scene_rooms, index)
    )
    web = np.zeros(0)
    if queries.web_images:
        query_categories = getattr(embedder, "query_categories", None)
        web = metrics.web_precision_scores(
            embedder.queries(queries.web_images),
            queries.web_classes,
            queries.accept,
            similar,
            catalog.categories,
            guesses=query_categories(queries.web_images) if query_categories is not None else None,
        )
    return {
        "web P@10": web,
        "web class P@10": metrics.class_mean_scores(web, queries.web_classes),
        "loo P@10": metrics.loo_precision_scores(
            similar, catalog.categories, guesses=product_guesses(embedder, catalog)
        ),
        "room hit@10": room_hit,
        "room R@10": room_recall,
        "scene hit@10": scene_hit,
        "scene R@10": scene_recall,
        **piece_scores(embedder, catalog, queries, similar),
    }


def goes_with_vectors(embedder: Embedder, catalog: Catalog) -> np.ndarray:
    """The catalog's "goes with" vectors: by product where the embedder keeps a part of its own for each product
    (``EncoderEmbedder.catalog_goes_with``, by ``Catalog.product_keys``), else by picture."""
    by_product = getattr(embedder, "catalog_goes_with", None)
    if by_product is not None:
        return by_product(catalog.images, catalog.product_keys)
    return embedder.catalog(catalog.images, head="goes_with")


def piece_scores(
    embedder: Embedder,
    catalog: Catalog,
    queries: QuerySet,
    similar: np.ndarray,
    *,
    together_weight: float = TOGETHER_WEIGHT,
    together_temperature: float = TOGETHER_TEMPERATURE,
) -> dict[str, np.ndarray]:
    """The room photos answered as the product answers a room: by the pieces found in each (a photo without pieces
    by the whole photo, as the page falls back), each piece searching the catalog's "similar" vectors within its
    own category guess, their answers merged with the catalog's used-together pairs, weighing ``together_weight``
    at ``together_temperature`` (see encoders.metrics). Empty for an embedder that finds no pieces (no category
    head, the baselines)."""
    find = getattr(embedder, "pieces", None)
    found = [find(photo) for photo in queries.scene_photos] if find is not None else []
    if not found or any(pieces is None for pieces in found):
        return {}
    guess = getattr(embedder, "query_categories", None)

    def whole_of(i: int) -> tuple[np.ndarray, list[dict[str, float]] | None]:
        photo = queries.scene_photos[i]
        return embedder.scene(photo)[:1], guess([photo]) if guess is not None else None

    rooms = metrics.room_products(queries.scene_rooms, catalog.sku_index)
    return room_piece_scores(
        found,
        whole_of,
        similar,
        catalog.categories,
        rooms,
        together=catalog.used_together,
        together_weight=together_weight,
        together_temperature=together_temperature,
    )


def room_piece_scores(
    found: Sequence[Sequence[Piece]],
    whole_of: Callable[[int], tuple[np.ndarray, list[dict[str, float]] | None]],
    similar: np.ndarray,
    catalog_categories: Sequence[str],
    rooms: Sequence[Sequence[int]],
    *,
    together: Collection[tuple[int, int]] = (),
    together_weight: float = TOGETHER_WEIGHT,
    together_temperature: float = TOGETHER_TEMPERATURE,
) -> dict[str, np.ndarray]:
    """The five piece figures' per-photo scores from the pieces found in each photo; ``whole_of(i)`` gives the
    whole-photo vector (1, D) and category guess (or None) of photo i, asked only of a photo without pieces. The
    pieces' answers are merged as the worker merges them ("everything in this room", encoders.room_context) with
    the catalog's ``together`` pairs (of indices) weighing ``together_weight`` at ``together_temperature``; no pairs,
    or weight 0, merges them by their cosines alone."""
    answers, merged = [], []
    for i, pieces in enumerate(found):
        if pieces:
            scores, answer = pieces_answered(pieces, similar, catalog_categories)
        else:
            vectors, guesses = whole_of(i)
            scores = metrics.cosine_scores(vectors, similar)  # (1, N)
            answer = metrics.piece_answers(scores, catalog_categories, guesses)
        answers.append(answer)
        merged.append(
            metrics.merged_piece_scores(
                scores, answer, together=together, weight=together_weight, temperature=together_temperature
            )
        )
    hit, recall = metrics.scene_hit_recall_scores(np.stack(merged), rooms)
    return {
        "pieces hit@10": hit,
        "pieces R@10": recall,
        "pieces union R@10": metrics.union_recall_scores(answers, rooms),
        "piece precision": metrics.piece_precision_scores(
            [[piece.category for piece in pieces] for pieces in found], rooms, catalog_categories
        ),
        "pieces per photo": metrics.pieces_per_photo_scores([len(pieces) for pieces in found], rooms),
    }


def pieces_answered(
    pieces: Sequence[Piece], similar: np.ndarray, catalog_categories: Sequence[str]
) -> tuple[np.ndarray, np.ndarray]:
    """The pieces' cosines to the catalog's ``similar`` vectors (M, N) and their answers (M, k) as the worker
    answers them: each ranked with its own category guess, within its category when sure of it."""
    vectors = np.stack([piece.vector for piece in pieces])
    guesses = [piece.categories or {piece.category: piece.confidence} for piece in pieces]
    inside = [piece.category if within_category(piece.confidence) else None for piece in pieces]
    scores = metrics.cosine_scores(vectors, similar)
    return scores, metrics.piece_answers(scores, catalog_categories, guesses, inside=inside)


def product_guesses(embedder: Embedder, catalog: Catalog) -> list[dict[str, float]] | None:
    """Each catalog product's kept category guess where it agrees with the product's category, else {}
    (``agreeing_guess``; None for an embedder without a category head): a product's similar items are ranked
    with it, as the product page ranks them."""
    guess = getattr(embedder, "catalog_categories", None)
    if guess is None:
        return None
    guesses = guess(catalog.images)
    return None if guesses is None else [agreeing_guess(g, c) for g, c in zip(guesses, catalog.categories, strict=True)]


def held_out_scores(
    embedder: Embedder, catalog: Catalog, queries: QuerySet | None, held_out: Sequence[int]
) -> dict[str, np.ndarray]:
    """The held-out figures' per-query scores: ``embedder`` is the model trained without the ``held_out`` products
    (catalog indices); every product of the catalog is encoded by it. P@10: each held-out product against the
    whole catalog, itself excluded. Room hit@10: the dev rooms' (room, product) queries whose product is held out
    ("goes with" vectors). See encoders.metrics."""
    similar = embedder.catalog(catalog.images, head="similar")
    room_hit = np.zeros(0)
    if queries is not None and queries.rooms:
        goes_with = goes_with_vectors(embedder, catalog)
        rooms = metrics.room_products(queries.rooms, catalog.sku_index)
        room_hit, _ = metrics.room_hit_recall_scores(goes_with, rooms, query_products=held_out)
    guesses = product_guesses(embedder, catalog)
    return {
        "held-out P@10": metrics.held_out_precision_scores(
            similar, catalog.categories, held_out, guesses=None if guesses is None else [guesses[i] for i in held_out]
        ),
        "held-out room hit@10": room_hit,
    }


def figures_of(scores: dict[str, np.ndarray]) -> dict[str, float]:
    """The figures: each the mean of its per-query scores (0 where a figure has no queries)."""
    return {name: float(np.mean(values)) if len(values) else 0.0 for name, values in scores.items()}


def evaluate(embedder: Embedder, catalog: Catalog, queries: QuerySet) -> dict[str, float]:
    """The figures of one embedder on one catalog and query set."""
    return figures_of(query_scores(embedder, catalog, queries))


def figure_with_interval(value: float, interval: Sequence[float] | None) -> str:
    """``0.500 (0.40–0.60)``: the figure and its 95 % interval, as the command prints them."""
    if not interval:
        return f"{value:.3f}"
    return f"{value:.3f} ({interval[0]:.2f}–{interval[1]:.2f})"


def markdown_table(
    rows: dict[str, dict[str, float]], intervals: dict[str, dict[str, Sequence[float]]] | None = None
) -> str:
    """One row per method; with ``intervals`` ({method: {figure: [low, high]}}) each figure carries its 95 %
    bootstrap interval."""
    intervals = intervals or {}
    extra = [*HELD_OUT_FIGURES, *PIECE_FIGURES]
    names = [*FIGURES, *(f for f in extra if any(f in figures for figures in rows.values()))]
    lines = ["| method | " + " | ".join(names) + " |", "|---|" + "---|" * len(names)]
    for name, figures in rows.items():
        spans = intervals.get(name, {})
        cells = [figure_with_interval(figures[f], spans.get(f)) if f in figures else "–" for f in names]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)
