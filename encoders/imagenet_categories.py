"""What the backbone's own ImageNet classifier says a photo shows, in the catalog's categories.

The category head is trained on the catalog's clean shots, and reads a dining set in a real room as a bed (README,
"Category-aware ranking"). EfficientNet-Lite0's ImageNet classifier, shipped with its weights, was trained on 1.28
million real photos, and names most of the same photos a "dining table". It is one linear layer over the very
feature the heads read (the mean-pooled last convolution), so asking it costs nothing. ``CATEGORY_CLASSES`` says
which of its 1,000 classes are a kind of each catalog category; a class split between two categories ("studio couch":
a sofa bed) gives each its share. A photo's category distribution is the head's, with ``IMAGENET_WEIGHT`` of it
replaced by the classifier's opinion where it has one: the probability it puts on the mapped classes. Where it sees
nothing the catalog sells (a dog, a window), the head's distribution stands.

The table is written for the catalog's category names (those of the demo catalog's 19); a category it does not
name, or a catalog whose categories are named otherwise, is judged by the head alone.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

import torch
from torch import nn

IMAGENET_WEIGHT = 0.5  # the share of a photo's category distribution given to the ImageNet classifier's opinion

# category name -> ((ImageNet class index, share of it), ...); the class's name beside it
CATEGORY_CLASSES: dict[str, tuple[tuple[int, float], ...]] = {
    "chair": ((423, 1.0), (559, 1.0), (765, 1.0), (857, 1.0)),  # barber chair, folding chair, rocking chair, throne
    "table": ((532, 1.0),),  # dining table
    "desk": ((526, 1.0),),  # desk
    "sofa": ((831, 0.5),),  # studio couch (a sofa bed: half a sofa)
    "bed": ((564, 1.0), (831, 0.5), (750, 0.5)),  # four-poster, studio couch (half), quilt (half: a made bed)
    "children": ((520, 1.0), (516, 1.0), (431, 1.0), (850, 1.0)),  # crib, cradle, bassinet, teddy
    "wardrobe_cabinet": ((894, 1.0), (495, 1.0), (648, 1.0), (548, 1.0)),  # wardrobe, china cabinet,
    # medicine chest, entertainment center
    "drawers": ((493, 1.0), (553, 1.0)),  # chiffonier, file (cabinet)
    "shelving": ((453, 1.0), (729, 1.0)),  # bookcase, plate rack
    "lamp": ((846, 1.0), (619, 1.0), (818, 1.0)),  # table lamp, lampshade, spotlight
    "stool_bench": ((703, 1.0),),  # park bench
    "textile": ((721, 1.0), (794, 1.0), (854, 1.0), (905, 1.0), (797, 1.0), (750, 0.5)),  # pillow, shower curtain,
    # theater curtain, window shade, sleeping bag, quilt (half)
    "rug": ((539, 1.0), (741, 1.0)),  # doormat, prayer rug
    "decor": ((409, 1.0), (892, 1.0), (530, 1.0), (883, 1.0), (470, 1.0)),  # analog clock, wall clock,
    # digital clock, vase, candle
    "kitchenware": ((504, 1.0), (505, 1.0), (968, 1.0), (849, 1.0), (567, 1.0), (659, 1.0), (809, 1.0), (544, 1.0),
                    (647, 1.0), (868, 1.0)),  # coffee mug, coffeepot, cup, teapot, frying pan, mixing bowl,
    # soup bowl, Dutch oven, measuring cup, tray
    "fixture_appliance": ((534, 1.0), (760, 1.0), (827, 1.0), (651, 1.0), (896, 1.0), (861, 1.0), (876, 1.0),
                          (435, 1.0), (804, 1.0), (545, 1.0), (811, 1.0), (521, 1.0)),  # dishwasher, refrigerator,
    # stove, microwave, washbasin, toilet seat, tub, bathtub, soap dispenser, electric fan, space heater, Crock Pot
    "storage_box": ((588, 1.0), (790, 1.0), (519, 1.0), (492, 1.0), (709, 1.0)),  # hamper, shopping basket, crate,
    # chest, pencil box
}  # fmt: skip
IMAGENET_CLASSES = 1000


@lru_cache(maxsize=8)
def class_map(categories: tuple[str, ...]) -> torch.Tensor:
    """(1000, C): how much of each ImageNet class's probability goes to each of ``categories``."""
    mapping = torch.zeros(IMAGENET_CLASSES, len(categories))
    for column, name in enumerate(categories):
        for index, share in CATEGORY_CLASSES.get(name, ()):
            mapping[index, column] += share
    return mapping


def imagenet_classifier(backbone: nn.Module) -> nn.Linear | None:
    """The ImageNet classifier over the backbone's pooled feature, where the backbone has one (EfficientNet-Lite0's
    ``_fc``); None for others (the tests' tiny network)."""
    classifier = getattr(getattr(backbone, "net", None), "_fc", None)
    return classifier if isinstance(classifier, nn.Linear) and classifier.out_features == IMAGENET_CLASSES else None


def blend_with_imagenet(
    head: torch.Tensor,
    features: torch.Tensor,
    *,
    classifier: nn.Linear | None,
    categories: Sequence[str],
    weight: float | None = None,
) -> torch.Tensor:
    """The head's probabilities (N, C) over ``categories``, with ``weight`` of them replaced by the ImageNet
    classifier's opinion of the same pooled features (N, F): the probability it puts on each category's classes;
    the share it puts on classes of no category keeps the head's distribution. Rows still sum to 1. ``weight``:
    IMAGENET_WEIGHT unless given (``bench/category_ranking.py --imagenet-weights`` sets the constant to compare)."""
    weight = IMAGENET_WEIGHT if weight is None else weight
    if classifier is None or weight <= 0:
        return head
    mapping = class_map(tuple(categories))
    if not mapping.any():
        return head
    opinion = torch.softmax(classifier(features), dim=1) @ mapping  # (N, C)
    no_opinion = (1.0 - opinion.sum(dim=1, keepdim=True)).clamp(min=0.0)  # (N, 1)
    return head * (1.0 - weight + weight * no_opinion) + weight * opinion
