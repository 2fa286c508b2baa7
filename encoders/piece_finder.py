"""Finding the pieces of furniture in a room photo (torch: workers and commands only).

The frozen backbone's feature map is computed once over the whole photo (resized so that its short side is
``PIECE_SIDE``). Candidate boxes are windows of several sizes and shapes slid over that map; a box's feature is
the mean of the map over its cells, which is exactly the pooled feature the heads read for a whole image. The
piece head (the category head tuned on windows of TRAIN room photos, ``encoders.piece_categories``; the category
head itself in a version trained before it) says what each box shows and how sure it is, and a box is ranked by that
confidence times how much it stands out of its surround (the head has no "not a piece": the contrast is what tells
a piece from a stretch of floor). Overlapping boxes are suppressed (greedy IoU) and the best few are the
pieces, each searching with its window's vector. A piece's vector may instead come from its box cut from the
photo (a little larger, ``CROP_MARGIN``) and passed through the backbone again at the encoder's input size, one
batch for all the pieces (``vectors="crop"``): over three seeds that found as many of the room's products in the
merged first ten and a few more in the union of the pieces' answers, at about three times the finder's cost, so
the window stays the default (README, "Pieces of a room photo"). Categories
in ``IGNORED_CATEGORIES`` are never pieces (none: leaving any out did not pay). An encoder given an objectness
head (``encoders.objectness``, fitted on synthetic rooms) can rank by it too (``SCORES``); training makes none, as
it did not pay over the contrast. The choices are measured by ``bench/room_pieces.py`` (README, "Pieces of a room
photo").
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
import torch
from PIL import Image

from encoders.imagenet_categories import PIECE_IMAGENET_WEIGHT
from encoders.inference import LoadedEncoder, backbone_features, photo_categories
from encoders.pieces import Piece, suppress_overlaps
from encoders.preprocess import ImageInput, load_rgb, to_tensor

PIECES_MAX = 10  # pieces a room photo yields at most (the worker's ROOM_PIECES)
PIECE_SIDE = 320  # pixels of the photo's short side in the backbone's single pass
LONG_SIDE_MAX = 2  # times PIECE_SIDE: the longest side of the pass, so a panorama does not cost a bigger pass
WINDOW_SCALES = (0.3, 0.45, 0.6, 0.8)  # a window's side, as a share of the photo's short side, before its shape
WINDOW_SHAPES = (0.5, 1.0, 2.0)  # width / height of the windows
OVERLAP_IOU = 0.3  # a box overlapping a kept piece by more than this is the same piece
MIN_CONFIDENCE = 0.3  # a box the head is less sure of is not offered as a piece
SCORE = "confidence x contrast"  # how a box is ranked: "confidence" alone, or times its contrast with its surround
SCORES = (  # the ways a box may be ranked: products of the piece head's confidence, contrast and objectness
    "confidence",
    "confidence x contrast",
    "objectness",
    "confidence x objectness",
    "confidence x objectness x contrast",
)
PIECE_HEAD = "scene"  # the head the pieces search with ("similar" space; taught on room crops, then on these windows)
PIECE_VECTORS = "window"  # a piece's search vector: its window of the one pass, or its box cut out and encoded ("crop")
VECTOR_SOURCES = ("crop", "window")
CROP_MARGIN = 0.1  # a piece's crop is its box grown by this share of its width and height on each side
IGNORED_CATEGORIES = ()  # categories never offered as pieces
BACKBONE_STRIDE = {"efficientnet_lite0": 32, "tiny_cnn": 16}  # pixels of the photo per cell of the feature map


@dataclass(frozen=True)
class FinderSettings:
    """Every choice of the finder; the defaults are the measured ones (README, bench/room_pieces.py)."""

    side: int = PIECE_SIDE
    scales: tuple[float, ...] = WINDOW_SCALES
    shapes: tuple[float, ...] = WINDOW_SHAPES
    overlap_iou: float = OVERLAP_IOU
    per_category: bool = False  # suppress overlaps only between boxes of one category
    min_confidence: float = MIN_CONFIDENCE
    score: str = SCORE
    head: str = PIECE_HEAD
    ignored: tuple[str, ...] = IGNORED_CATEGORIES
    vectors: str = PIECE_VECTORS
    crop_margin: float = CROP_MARGIN
    max_pieces: int = PIECES_MAX  # pieces a photo yields at most


def find_pieces(
    encoder: LoadedEncoder,
    image: ImageInput,
    *,
    max_pieces: int | None = None,
    settings: FinderSettings | None = None,
) -> list[Piece]:
    """The pieces of furniture in a photo, best first, at most ``max_pieces`` (``settings.max_pieces`` unless
    given): one pass of the backbone over the photo finds them, then (``settings.vectors`` "crop") one batch of the
    pieces' crops gives their search vectors. A version without a category head finds none (the photo is then
    answered whole)."""
    settings = settings or FinderSettings()
    max_pieces = settings.max_pieces if max_pieces is None else max_pieces
    if not encoder.has_category_head or max_pieces <= 0:
        return []
    if settings.vectors not in VECTOR_SOURCES:
        raise ValueError(f"vectors must be one of {VECTOR_SOURCES}, got {settings.vectors!r}")
    if settings.vectors == "window":
        fmap = photo_feature_map(encoder, image, side=settings.side)  # (F, h, w)
        return pieces_of_map(encoder, fmap, max_pieces=max_pieces, settings=settings)
    photo = load_rgb(image)  # read once: the pass and the crops
    pieces = pieces_of_map(encoder, photo_feature_map(encoder, photo, side=settings.side), max_pieces=max_pieces,
                           settings=settings)  # fmt: skip
    return with_crop_vectors(encoder, photo, pieces, settings=settings)


def piece_crop(photo: Image.Image, box: Sequence[float], *, margin: float) -> Image.Image:
    """The piece's box (x, y, width, height as fractions) grown by ``margin`` of its size on each side, within the
    photo, cut from it (at least one pixel each way)."""
    width, height = photo.size
    x, y, w, h = box
    x0, y0 = max(0.0, (x - margin * w) * width), max(0.0, (y - margin * h) * height)
    x1, y1 = min(float(width), (x + w + margin * w) * width), min(float(height), (y + h + margin * h) * height)
    left, top = min(round(x0), width - 1), min(round(y0), height - 1)
    return photo.crop((left, top, max(round(x1), left + 1), max(round(y1), top + 1)))


@torch.inference_mode()
def with_crop_vectors(
    encoder: LoadedEncoder, photo: Image.Image, pieces: list[Piece], *, settings: FinderSettings
) -> list[Piece]:
    """The pieces with their search vectors taken from their crops (``piece_crop``) passed through the backbone
    in one batch, at the encoder's input size, and the ``settings.head`` head; their boxes and categories stay."""
    if not pieces:
        return pieces
    crops = [piece_crop(photo, piece.box, margin=settings.crop_margin) for piece in pieces]
    feats = torch.from_numpy(backbone_features(encoder, crops))
    vectors = encoder.model.query_vectors(feats, head=settings.head).numpy().astype(np.float32)
    return [replace(piece, vector=vector) for piece, vector in zip(pieces, vectors, strict=True)]


@dataclass(frozen=True)
class RankedWindows:
    """Every candidate window of a feature map, as the finder ranks them."""

    windows: np.ndarray  # (N, 4) cells
    features: torch.Tensor  # (N, F) the mean of the map over each
    probabilities: np.ndarray  # (N, C) what each shows, over the encoder's categories
    best: np.ndarray  # (N,) its likeliest category not left out
    confidence: np.ndarray  # (N,) that category's probability
    score: np.ndarray  # (N,) how it ranks (``settings.score``)


@torch.inference_mode()
def ranked_windows(encoder: LoadedEncoder, fmap: torch.Tensor, *, settings: FinderSettings) -> RankedWindows:
    """The windows of a photo's feature map (F, h, w), each scored by the piece head (and its contrast)."""
    _, h, w = fmap.shape
    windows = candidate_windows(h, w, scales=settings.scales, shapes=settings.shapes)
    feats = window_features(fmap, windows)
    probabilities = photo_categories(encoder, feats, weight=PIECE_IMAGENET_WEIGHT, head="piece").numpy()
    allowed = np.array([name not in settings.ignored for name in encoder.categories])
    masked = np.where(allowed, probabilities, -1.0)
    best = masked.argmax(axis=1)
    confidence = masked[np.arange(len(best)), best]
    score = window_scores(encoder, fmap, windows, confidence, settings.score)
    return RankedWindows(windows, feats, probabilities, best, confidence, score)


@torch.inference_mode()
def pieces_of_map(
    encoder: LoadedEncoder, fmap: torch.Tensor, *, max_pieces: int | None = None, settings: FinderSettings
) -> list[Piece]:
    """The pieces of a photo's feature map (F, h, w): windows scored by the piece head (and their contrast),
    overlaps suppressed; the search vectors are computed for the chosen few only."""
    _, h, w = fmap.shape
    ranked = ranked_windows(encoder, fmap, settings=settings)
    best, confidence, score = ranked.best, ranked.confidence, ranked.score
    keep = np.flatnonzero((confidence >= settings.min_confidence) & (score > 0))
    boxes = window_boxes(ranked.windows, h, w)  # (N, 4) fractions
    chosen = suppress_overlaps(
        boxes[keep],
        score[keep],
        iou=settings.overlap_iou,
        max_count=settings.max_pieces if max_pieces is None else max_pieces,
        groups=best[keep] if settings.per_category else None,
    )
    picked = keep[chosen]
    if not len(picked):
        return []
    vectors = encoder.model.query_vectors(ranked.features[picked], head=settings.head).numpy().astype(np.float32)
    return [
        Piece(
            box=tuple(round(float(v), 4) for v in boxes[i]),
            category=encoder.categories[best[i]],
            confidence=float(confidence[i]),
            vector=vector,
            categories=dict(zip(encoder.categories, ranked.probabilities[i].tolist(), strict=True)),
        )
        for i, vector in zip(picked.tolist(), vectors, strict=True)
    ]


def window_scores(
    encoder: LoadedEncoder, fmap: torch.Tensor, windows: np.ndarray, confidence: np.ndarray, score: str
) -> np.ndarray:
    """How each window (N, 4) ranks: the product of the factors ``score`` names (SCORES), over "confidence" (the
    piece head's), "contrast" (with its surround, clipped at 0) and "objectness" (the encoder's objectness head,
    encoders.objectness: only when it has one)."""
    if score not in SCORES:
        raise ValueError(f"unknown score {score!r}")
    factors = score.split(" x ")
    result = np.ones(len(windows))
    if "confidence" in factors:
        result = result * confidence
    if "contrast" in factors:
        result = result * np.clip(window_contrast(fmap, windows), 0.0, None)
    if "objectness" in factors:
        if encoder.objectness is None:
            raise ValueError(f"score {score!r} needs an objectness head, and this encoder has none")
        result = result * encoder.objectness.scores(fmap, windows)
    return result


def photo_tensor(image: ImageInput, *, side: int, stride: int, preprocess: dict) -> torch.Tensor:
    """The whole photo resized so that its short side is ``side`` (a long side past LONG_SIDE_MAX times that scales
    the photo down further), each side a whole number of the backbone's ``stride``, normalised as the checkpoint's
    preprocessing says: (3, H, W). Not letterboxed: every cell of the map is photo, so a box's cells are the same
    fractions of the map and of the photo."""
    img = load_rgb(image)
    w, h = img.size
    scale = min(side / min(w, h), LONG_SIDE_MAX * side / max(w, h))
    size = (max(stride, round(w * scale / stride) * stride), max(stride, round(h * scale / stride) * stride))
    resample = Image.Resampling.BILINEAR if preprocess.get("resample") == "bilinear" else Image.Resampling.BICUBIC
    return to_tensor(img.resize(size, resample), preprocess=preprocess)


@torch.inference_mode()
def photo_feature_map(encoder: LoadedEncoder, image: ImageInput, *, side: int = PIECE_SIDE) -> torch.Tensor:
    """The backbone's one pass over the photo: its feature map (F, H/stride, W/stride), float32."""
    x = photo_tensor(image, side=side, stride=BACKBONE_STRIDE[encoder.config.backbone], preprocess=encoder.preprocess)
    x = x.unsqueeze(0).contiguous(memory_format=torch.channels_last)
    return encoder.model.backbone.feature_map(x)[0].float()


def candidate_windows(h: int, w: int, *, scales: Sequence[float], shapes: Sequence[float]) -> np.ndarray:
    """Every window of every size slid one cell at a time over an h x w map: (N, 4) int cells (row0, col0, row1,
    col1), ends excluded, without repeats. A window's side is a share of the map's short side; shapes stretch it
    keeping its area."""
    short = min(h, w)
    sizes = set()
    for scale in scales:
        for shape in shapes:
            rows = min(h, max(1, round(scale * short / np.sqrt(shape))))
            cols = min(w, max(1, round(scale * short * np.sqrt(shape))))
            sizes.add((rows, cols))
    windows = [
        (r, c, r + rows, c + cols)
        for rows, cols in sorted(sizes)
        for r in range(h - rows + 1)
        for c in range(w - cols + 1)
    ]
    return np.asarray(windows, dtype=np.int64).reshape(-1, 4)


def window_features(fmap: torch.Tensor, windows: np.ndarray) -> torch.Tensor:
    """The mean of the map (F, h, w) over each window (N, 4): (N, F), from its summed-area table."""
    sums = window_sums(fmap, windows)  # (F, N)
    r0, c0, r1, c1 = (torch.as_tensor(windows[:, i]) for i in range(4))
    return (sums / ((r1 - r0) * (c1 - c0)).double()).T.float().contiguous()


def window_sums(fmap: torch.Tensor, windows: np.ndarray) -> torch.Tensor:
    """The sum of the map (F, h, w) over each window (N, 4): (F, N) float64, four look-ups each."""
    table = torch.nn.functional.pad(fmap.double().cumsum(1).cumsum(2), (1, 0, 1, 0))  # (F, h + 1, w + 1)
    r0, c0, r1, c1 = (torch.as_tensor(windows[:, i]) for i in range(4))
    return table[:, r1, c1] - table[:, r0, c1] - table[:, r1, c0] + table[:, r0, c0]


def window_contrast(fmap: torch.Tensor, windows: np.ndarray) -> np.ndarray:
    """How much more the backbone fires inside each window than in the ring around it (the window grown by half
    its size on every side, within the photo), over its mean firing on the whole photo, times the square root of
    the window's share of the photo: (N,). A piece of furniture stands out of its surround; a window holding a
    piece and much floor stands out less, and the square root keeps a window cut on a piece's busiest edge from
    outranking the window that holds the whole piece. The whole photo has no surround and scores 0."""
    h, w = fmap.shape[1:]
    activation = fmap.norm(dim=0, keepdim=True)  # (1, h, w) how strongly each cell fires
    rows, cols = windows[:, 2] - windows[:, 0], windows[:, 3] - windows[:, 1]
    grown = grown_windows(windows, h, w)
    inside = window_sums(activation, windows)[0].numpy()
    around = window_sums(activation, grown)[0].numpy() - inside
    area = (rows * cols).astype(np.float64)
    ring = ((grown[:, 2] - grown[:, 0]) * (grown[:, 3] - grown[:, 1])).astype(np.float64) - area
    ring_mean = np.divide(around, ring, out=np.zeros_like(around), where=ring > 0)
    contrast = (inside / area - ring_mean) / max(float(activation.mean()), 1e-12)
    return np.where(ring > 0, contrast * np.sqrt(area / (h * w)), 0.0)


def grown_windows(windows: np.ndarray, h: int, w: int) -> np.ndarray:
    """Each window (N, 4) grown by half its size on every side, within the h x w map: (N, 4) cells."""
    rows, cols = windows[:, 2] - windows[:, 0], windows[:, 3] - windows[:, 1]
    return np.stack(
        [
            np.maximum(windows[:, 0] - rows // 2, 0),
            np.maximum(windows[:, 1] - cols // 2, 0),
            np.minimum(windows[:, 2] + rows // 2, h),
            np.minimum(windows[:, 3] + cols // 2, w),
        ],
        axis=1,
    )


def window_boxes(windows: np.ndarray, h: int, w: int) -> np.ndarray:
    """Cells (N, 4) of an h x w map -> boxes (x, y, width, height) as fractions of the photo: (N, 4)."""
    r0, c0, r1, c1 = (windows[:, i].astype(np.float64) for i in range(4))
    return np.stack([c0 / w, r0 / h, (c1 - c0) / w, (r1 - r0) / h], axis=1)
