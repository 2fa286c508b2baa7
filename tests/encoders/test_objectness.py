import random

import numpy as np
import pytest
import torch
from PIL import Image, ImageDraw

from encoders.backbone import build_backbone
from encoders.inference import LoadedEncoder
from encoders.model import LookalikeEncoder
from encoders.objectness import ObjectnessHead, fit_objectness, synthetic_room, window_targets
from encoders.piece_finder import FinderSettings, candidate_windows, find_pieces, photo_feature_map, window_boxes
from encoders.pieces import box_iou
from encoders.preprocess import default_preprocess
from tests.encoders.helpers import tiny_config

COLOURS = [(200, 30, 30), (30, 160, 40), (30, 60, 200), (220, 180, 20)]


def shot(colour, *, size=(60, 40)) -> Image.Image:
    """A product on white: a coloured rectangle with a white margin of 10 pixels."""
    img = Image.new("RGB", size, (255, 255, 255))
    ImageDraw.Draw(img).rectangle((10, 10, size[0] - 11, size[1] - 11), fill=colour)
    return img


def background(size=(200, 150)) -> Image.Image:
    img = Image.new("RGB", size, (140, 110, 90))
    ImageDraw.Draw(img).rectangle((0, size[1] * 2 // 3, size[0], size[1]), fill=(90, 70, 60))
    return img


def colour_box(photo: Image.Image, colour) -> tuple[float, float, float, float]:
    """The (x, y, w, h) fractions around the pixels of the photo close to ``colour``."""
    arr = np.asarray(photo, dtype=np.int64)
    near = np.abs(arr - np.array(colour)).sum(axis=2) < 60
    rows, cols = np.flatnonzero(near.any(axis=1)), np.flatnonzero(near.any(axis=0))
    w, h = photo.size
    return cols[0] / w, rows[0] / h, (cols[-1] + 1 - cols[0]) / w, (rows[-1] + 1 - rows[0]) / h


def test_synthetic_room_boxes_are_where_the_products_were_pasted():
    products = [shot(c, size=(240, 160)) for c in COLOURS[:3]]

    photo, boxes = synthetic_room(background(), products, random.Random(3), side=300, max_overlap=0.0)

    assert photo.size == (400, 300)  # the short side is ``side``
    assert boxes.shape == (3, 4)
    for colour, box in zip(COLOURS, boxes, strict=False):
        assert box_iou(box, np.array([colour_box(photo, colour)]))[0] >= 0.9


def test_synthetic_room_boxes_overlap_no_more_than_allowed_and_products_that_do_not_fit_are_left_out():
    products = [shot(c, size=(80, 80)) for c in COLOURS]

    photo, boxes = synthetic_room(background(), products, random.Random(0), side=150, scale=(0.6, 0.7))

    assert 1 <= len(boxes) < len(products)  # four products of 0.6 of the short side do not fit a 200 x 150 photo
    for i in range(len(boxes)):
        assert box_iou(boxes[i], np.delete(boxes, i, axis=0)).max(initial=0) <= 0.1


def test_window_targets_are_each_windows_best_iou_with_a_pasted_box():
    windows = np.array([[0.0, 0.0, 0.5, 0.5], [0.5, 0.5, 0.5, 0.5], [0.25, 0.0, 0.5, 0.5]])
    pasted = np.array([[0.0, 0.0, 0.5, 0.5], [0.5, 0.5, 0.25, 0.25]])

    targets = window_targets(windows, pasted)

    assert targets == pytest.approx([1.0, 0.25, 1 / 3])
    assert window_targets(windows, np.zeros((0, 4))).tolist() == [0, 0, 0]


def tiny_encoder() -> LoadedEncoder:
    """An untrained tiny_cnn backbone (stride 16) under the heads: what the objectness head reads."""
    torch.manual_seed(0)
    config = tiny_config().model
    model = LookalikeEncoder(config=config, backbone=build_backbone(config, pretrained=False), num_categories=2)
    return LoadedEncoder(
        model=model.eval(), config=config, preprocess=default_preprocess(), categories=["lamp", "table"], checkpoint={}
    )


def synthetic_set(encoder, count: int, seed: int):
    rng = random.Random(seed)
    maps, boxes = [], []
    for _ in range(count):
        products = [shot(rng.choice(COLOURS), size=(rng.randint(40, 80), rng.randint(40, 80))) for _ in range(2)]
        photo, pasted = synthetic_room(background(), products, rng, side=160, scale=(0.3, 0.5))
        maps.append(photo_feature_map(encoder, photo, side=160))
        boxes.append(pasted)
    return maps, boxes


def windows_of(h, w):
    settings = FinderSettings()
    return candidate_windows(h, w, scales=settings.scales, shapes=settings.shapes)


def test_the_head_learns_to_score_pasted_products_above_the_room_around_them():
    encoder = tiny_encoder()
    maps, boxes = synthetic_set(encoder, 24, seed=0)
    held_maps, held_boxes = synthetic_set(encoder, 8, seed=1)
    untrained = ObjectnessHead(feature_dim=maps[0].shape[0])

    head = fit_objectness(maps, boxes, windows_of, epochs=20)

    def ranked_above(model):
        """The share of (window on a pasted product, window off every product) pairs of held-out rooms that the
        model scores in that order."""
        on, off = [], []
        for fmap, pasted in zip(held_maps, held_boxes, strict=True):
            windows = windows_of(*fmap.shape[1:])
            targets = window_targets(window_boxes(windows, *fmap.shape[1:]), pasted)
            scores = model.scores(fmap, windows)
            on.extend(scores[targets >= 0.5])
            off.extend(scores[targets == 0])
        return (np.array(on)[:, None] > np.array(off)[None, :]).mean()

    assert ranked_above(head) >= 0.95
    assert ranked_above(untrained) < 0.8


def test_objectness_scores_need_a_head_and_an_encoder_without_one_finds_pieces_as_before():
    encoder = tiny_encoder()
    photo, _ = synthetic_room(background(), [shot(COLOURS[0]), shot(COLOURS[2])], random.Random(1), side=160)
    before = find_pieces(encoder, photo, max_pieces=3, settings=FinderSettings(min_confidence=0))

    with pytest.raises(ValueError, match="objectness head"):
        find_pieces(encoder, photo, settings=FinderSettings(min_confidence=0, score="confidence x objectness"))

    maps, boxes = synthetic_set(encoder, 12, seed=0)
    encoder.objectness = fit_objectness(maps, boxes, windows_of, epochs=5)
    after = find_pieces(encoder, photo, max_pieces=3, settings=FinderSettings(min_confidence=0))
    assert [p.box for p in after] == [p.box for p in before]  # the default score does not read the head
    ranked = find_pieces(encoder, photo, max_pieces=3, settings=FinderSettings(min_confidence=0, score="objectness"))
    assert 1 <= len(ranked) <= 3
