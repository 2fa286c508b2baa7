"""Tiny configs and images drawn with Pillow, shared by the encoder tests."""

from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageDraw

from encoders.model import EncoderConfig
from encoders.training import train_encoder

COLOURS = [(200, 30, 30), (30, 160, 40), (30, 60, 200), (220, 180, 20), (120, 40, 160), (20, 160, 170)]


def tiny_config(**overrides) -> EncoderConfig:
    base = dict(
        backbone="tiny_cnn",
        freeze_backbone=False,
        backbone_dim=32,
        tiny_width=8,
        image_size=32,
        hidden_dim=32,
        latent_dim=16,
        goes_with_dim=8,
        coview_dim=4,
        recon_size=16,
        dropout=0.0,
        wild_views=1,
        residual_weight=0.0,
        w_scene=0.0,
        epochs=2,
        batch_size=8,
        pair_batch_size=8,
        lr=3e-3,
    )
    return EncoderConfig().replace(**{**base, **overrides})


def draw_product(path: Path, *, shape: str, colour: tuple[int, int, int], size: int = 48) -> Path:
    """A 'catalog shot': one coloured shape on white."""
    img = Image.new("RGB", (size, size), (255, 255, 255))
    d = ImageDraw.Draw(img)
    box = (size // 5, size // 5, size - size // 5, size - size // 5)
    if shape == "square":
        d.rectangle(box, fill=colour)
    else:
        d.ellipse(box, fill=colour)
    img.save(path)
    return path


def make_catalog(tmp_path: Path, n: int = 8) -> tuple[list[Path], list[str]]:
    paths, cats = [], []
    for i in range(n):
        shape = "square" if i % 2 == 0 else "round"
        paths.append(draw_product(tmp_path / f"p{i}.png", shape=shape, colour=COLOURS[i % len(COLOURS)]))
        cats.append("table" if shape == "square" else "lamp")
    return paths, cats


def make_background(tmp_path: Path) -> Path:
    img = Image.new("RGB", (64, 48), (140, 110, 90))
    ImageDraw.Draw(img).rectangle((0, 30, 64, 48), fill=(90, 70, 60))
    path = tmp_path / "room.jpg"
    img.save(path)
    return path


def train_with_room_photos(config: EncoderConfig, paths, categories, room) -> dict:
    """A checkpoint of ``config`` trained on the catalog with one pair and two TRAIN room photos (``room`` twice:
    products 0 and 1, then 2), on one thread."""
    return train_encoder(
        config=config,
        product_images=paths,
        categories=categories,
        coview_pairs=[(0, 1, 1)],
        backgrounds=[room],
        seed=0,
        progress=lambda *args: None,
        scene_photos=[(room, [0, 1]), (room, [2])],
        num_threads=1,
    )
