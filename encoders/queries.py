"""The evaluation data, without any model: the catalog as the evaluation sees it, the dev query set read
from disk, and the names of the figures. Importable by the web process (no torch)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp"}
FIGURES = ["web P@10", "web class P@10", "loo P@10", "room hit@10", "room R@10", "scene hit@10", "scene R@10"]
# Measured with a second model trained without a share of the products (EVALUATION_HOLDOUT; encoders.holdout).
HELD_OUT_FIGURES = ["held-out P@10", "held-out room hit@10"]
# Room photos answered by the pieces found in them (encoders.piece_finder): only an encoder with a category head.
PIECE_FIGURES = ["pieces hit@10", "pieces R@10", "pieces union R@10", "piece precision", "pieces per photo"]
# Figures where more is not better: read by staff, never gated (encoders.versions.gate_figures), shown as numbers.
UNGATED_FIGURES = ["pieces per photo"]
# What staff read: a plain name and one line on what each figure measures (k = 10 everywhere).
FIGURE_LABELS = {
    "web P@10": ("Shoppers' photos", "Of the 10 products answered to a web photo, the share of the photographed kind."),
    "web class P@10": (
        "Shoppers' photos, every kind alike",
        "Shoppers' photos, the mean over the kinds photographed, so that rare kinds (tables) count as much as others.",
    ),
    "loo P@10": ("Catalog lookalikes", "Of the 10 products most like a catalog product, the share in its category."),
    "room hit@10": (
        "Goes well with (any)",
        'How often a product\'s 10 "goes well with" hold another product of a room it is in.',
    ),
    "room R@10": (
        "Goes well with (share)",
        "The share of a room's other products in a product's 10 \"goes well with\".",
    ),
    "scene hit@10": ("Room photos (any)", "How often the 10 products answered to a room photo hold one of that room."),
    "scene R@10": ("Room photos (share)", "The share of a room's products among the 10 answered to its photo."),
    "pieces hit@10": (
        "Room photos by their pieces (any)",
        "How often the products answered to a room photo's pieces, merged as the page shows them, hold one of that "
        "room in their first 10.",
    ),
    "pieces R@10": (
        "Room photos by their pieces (share)",
        "The share of a room's products among the first 10 of its pieces' merged answer.",
    ),
    "pieces union R@10": (
        "Room photos, every piece's answer",
        "The share of a room's products found in any of its pieces' 10 lookalikes.",
    ),
    "piece precision": (
        "Pieces of the right kind",
        "The share of the pieces found in a room photo whose kind is one of the room's products' kinds.",
    ),
    "pieces per photo": ("Pieces per room photo", "How many pieces are found in a room photo, on average."),
    "held-out P@10": (
        "New products' lookalikes",
        "Like catalog lookalikes, for products the model never saw in training: the share in their category.",
    ),
    "held-out room hit@10": (
        "New products go well with",
        "Like goes well with (any), for products the model never saw in training.",
    ),
}


def figures_measured(metrics: dict) -> list[str]:
    """The figures to show for a version: the seven, then the held-out and piece ones where it has them."""
    return [*FIGURES, *(name for name in [*HELD_OUT_FIGURES, *PIECE_FIGURES] if name in (metrics or {}))]


@dataclass(frozen=True)
class Catalog:
    images: list[Path]
    categories: list[str]
    skus: list[str]
    product_ids: list[int] | None = None  # the products' ids, which key their co-view parts; None: their indices
    used_together: frozenset[tuple[int, int]] = frozenset()  # pairs of indices used together ("everything in a room")

    @property
    def product_keys(self) -> list[int]:
        """What names each product in a checkpoint's co-view parts (``train_encoder``'s ``product_keys``)."""
        return list(self.product_ids) if self.product_ids is not None else list(range(len(self.skus)))

    @property
    def sku_index(self) -> dict[str, int]:
        return {sku: i for i, sku in enumerate(self.skus)}


@dataclass(frozen=True)
class QuerySet:
    web_images: list[Path]
    web_classes: list[str]
    accept: dict[str, list[str]]
    rooms: list[list[str]]  # skus of each room (room task)
    scene_photos: list[Path]  # room photos (scene task)
    scene_rooms: list[list[str]]  # skus of the room of each photo


def load_query_set(*, queries: Path, rooms: Path, split: str | None = None) -> QuerySet:
    """``queries``: one folder of photos per class plus ``accept.json`` (class → accepted categories).
    ``rooms``: a rooms.json (``items``, optional ``photo`` relative to it, optional ``split``)."""
    try:
        accept = json.loads((queries / "accept.json").read_text())
        room_list = json.loads(rooms.read_text())
    except (OSError, json.JSONDecodeError) as error:
        raise ValueError(f"cannot read the evaluation data: {error}") from error
    web = sorted(
        (path, name)
        for name in accept
        if (queries / name).is_dir()
        for path in (queries / name).iterdir()
        if path.suffix.lower() in IMAGE_SUFFIXES
    )
    if split:
        room_list = [room for room in room_list if room.get("split") == split]
    with_photo = [room for room in room_list if room.get("photo") and (rooms.parent / room["photo"]).is_file()]
    return QuerySet(
        web_images=[path for path, _ in web],
        web_classes=[name for _, name in web],
        accept={name: list(categories) for name, categories in accept.items()},
        rooms=[list(room["items"]) for room in room_list],
        scene_photos=[rooms.parent / room["photo"] for room in with_photo],
        scene_rooms=[list(room["items"]) for room in with_photo],
    )
