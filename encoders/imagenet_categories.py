"""What the backbone's own ImageNet classifier says a photo shows, in the catalog's categories.

The category head is trained on the catalog's clean shots, and reads a dining set in a real room as a bed (README,
"Category-aware ranking"). EfficientNet-Lite0's ImageNet classifier, shipped with its weights, was trained on 1.28
million real photos, and names most of the same photos a "dining table". It is one linear layer over the very
feature the heads read (the mean-pooled last convolution), so asking it costs nothing. ``CATEGORY_CLASSES`` says
which of its 1,000 classes are a kind of each catalog category. A photo's category distribution is the head's, with
``IMAGENET_WEIGHT`` of it replaced by the classifier's opinion where it has one: the probability it puts on each
category's classes. A class that is a kind of two categories ("studio couch": a sofa bed; "quilt": a made bed, or
a textile) is shared between them as the head shares its probability between them: the classifier says which
kind of thing it is, the head which of the catalog's. Where the classifier sees nothing the catalog sells (a
dog, a window), the head's distribution stands.

The table is written for the catalog's category names (those of the demo catalog's 19); a category it does not
name, or a catalog whose categories are named otherwise, is judged by the head alone.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

import torch
from torch import nn

IMAGENET_WEIGHT = 1.0  # the share of a photo's category distribution given to the ImageNet classifier's opinion
PIECE_IMAGENET_WEIGHT = 0.5  # ... of a window of a room photo's feature map, where the piece finder reads it

# category name -> (ImageNet class index, ...); the classes' names beside them
CATEGORY_CLASSES: dict[str, tuple[int, ...]] = {
    "chair": (423, 559, 765, 857),  # barber chair, folding chair, rocking chair, throne
    "table": (532,),  # dining table
    "desk": (526,),  # desk
    "sofa": (831,),  # studio couch
    "bed": (564, 831, 750),  # four-poster, studio couch, quilt
    "children": (520, 516, 431, 850),  # crib, cradle, bassinet, teddy
    "wardrobe_cabinet": (894, 495, 648, 548),  # wardrobe, china cabinet, medicine chest, entertainment center
    "drawers": (493, 553),  # chiffonier, file (cabinet)
    "shelving": (453, 729),  # bookcase, plate rack
    "lamp": (846, 619, 818),  # table lamp, lampshade, spotlight
    "stool_bench": (703,),  # park bench
    "textile": (721, 794, 854, 905, 797, 750),  # pillow, shower curtain, theater curtain, window shade, sleeping
    # bag, quilt
    "rug": (539, 741),  # doormat, prayer rug
    "decor": (409, 892, 530, 883, 470),  # analog clock, wall clock, digital clock, vase, candle
    "kitchenware": (504, 505, 968, 849, 567, 659, 809, 544, 647, 868),  # coffee mug, coffeepot, cup, teapot,
    # frying pan, mixing bowl, soup bowl, Dutch oven, measuring cup, tray
    "fixture_appliance": (534, 760, 827, 651, 896, 861, 876, 435, 804, 545, 811, 521),  # dishwasher, refrigerator,
    # stove, microwave, washbasin, toilet seat, tub, bathtub, soap dispenser, electric fan, space heater, Crock Pot
    "storage_box": (588, 790, 519, 492, 709),  # hamper, shopping basket, crate, chest, pencil box
}
IMAGENET_CLASSES = 1000


@lru_cache(maxsize=8)
def class_map(categories: tuple[str, ...]) -> tuple[torch.Tensor, torch.Tensor]:
    """The ImageNet classes that are a kind of any of ``categories`` (M,), and which of them each is (M, C): 1 where
    the class is a kind of the category."""
    membership = torch.zeros(IMAGENET_CLASSES, len(categories))
    for column, name in enumerate(categories):
        for index in CATEGORY_CLASSES.get(name, ()):
            membership[index, column] = 1.0
    mapped = torch.nonzero(membership.sum(dim=1) > 0).flatten()
    return mapped, membership[mapped]


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
    classifier's opinion of the same pooled features (N, F): the probability it puts on each category's classes, a
    class of several categories shared among them in the proportions of the head's probabilities; the share it puts
    on classes of no category keeps the head's distribution. Rows still sum to 1. ``weight``: IMAGENET_WEIGHT
    unless given (``bench/category_ranking.py --imagenet-weights`` sets the constant to compare)."""
    weight = IMAGENET_WEIGHT if weight is None else weight
    if classifier is None or weight <= 0:
        return head
    mapped, membership = class_map(tuple(categories))  # (M,), (M, C)
    if not len(mapped):
        return head
    said = torch.softmax(classifier(features), dim=1)[:, mapped]  # (N, M)
    shares = membership[None] * head[:, None, :]  # (N, M, C): each class's categories, as the head weighs them
    shares = shares / shares.sum(dim=2, keepdim=True).clamp(min=1e-12)
    opinion = torch.einsum("nm,nmc->nc", said, shares)  # (N, C)
    no_opinion = (1.0 - opinion.sum(dim=1, keepdim=True)).clamp(min=0.0)  # (N, 1)
    return head * (1.0 - weight + weight * no_opinion) + weight * opinion
