"""encoders/imagenet_categories.py: the backbone's ImageNet classifier's opinion, in the catalog's categories,
blended into what a photo shows."""

import pytest
import torch
from torch import nn
from torchvision.models import EfficientNet_B0_Weights

from encoders.backbone import load_efficientnet_lite0
from encoders.imagenet_categories import CATEGORY_CLASSES, IMAGENET_WEIGHT, blend_with_imagenet, imagenet_classifier
from encoders.inference import LoadedEncoder, photo_categories
from encoders.model import EncoderConfig, LookalikeEncoder

DINING_TABLE, TENCH = 532, 0
CATEGORIES = ["bed", "table", "chair"]


def classifier_naming(index: int, *, dim: int = 4) -> nn.Linear:
    """An ImageNet classifier that is sure that feature e0 shows class ``index``."""
    classifier = nn.Linear(dim, 1000)
    with torch.no_grad():
        classifier.weight.zero_()
        classifier.bias.zero_()
        classifier.weight[index, 0] = 50.0
    return classifier


def test_the_table_names_the_imagenet_classes_it_means():
    names = EfficientNet_B0_Weights.IMAGENET1K_V1.meta["categories"]  # the standard class order, without a download
    mapped = {category: {names[index] for index in classes} for category, classes in CATEGORY_CLASSES.items()}

    assert mapped["table"] == {"dining table"}
    assert mapped["chair"] == {"barber chair", "folding chair", "rocking chair", "throne"}
    assert mapped["sofa"] == {"studio couch"}
    assert mapped["bed"] == {"four-poster", "studio couch", "quilt"}
    assert mapped["wardrobe_cabinet"] == {"wardrobe", "china cabinet", "medicine chest", "entertainment center"}
    assert mapped["drawers"] == {"chiffonier", "file"}


def test_a_class_of_two_categories_is_shared_between_them_as_the_head_shares_them():
    head = torch.tensor([[0.6, 0.1, 0.3]])  # over bed, table, sofa: the head sees a bed more than a sofa
    features = torch.tensor([[1.0, 0.0, 0.0, 0.0]])
    studio_couch = classifier_naming(831)  # a sofa bed: a kind of both

    blended = blend_with_imagenet(head, features, classifier=studio_couch, categories=["bed", "table", "sofa"])

    kept = 1 - IMAGENET_WEIGHT
    expected = [0.6 * kept + IMAGENET_WEIGHT * 0.6 / 0.9, 0.1 * kept, 0.3 * kept + IMAGENET_WEIGHT * 0.3 / 0.9]
    assert blended[0].tolist() == pytest.approx(expected, abs=1e-4)
    assert blended.sum().item() == pytest.approx(1.0)


def test_a_dining_table_moves_the_guess_to_table_and_the_rows_still_sum_to_one():
    head = torch.tensor([[0.6, 0.2, 0.2]])  # the head reads the dining set as a bed
    features = torch.tensor([[1.0, 0.0, 0.0, 0.0]])

    blended = blend_with_imagenet(head, features, classifier=classifier_naming(DINING_TABLE), categories=CATEGORIES)

    expected_table = 0.2 * (1 - IMAGENET_WEIGHT) + IMAGENET_WEIGHT
    assert blended[0].tolist() == pytest.approx(
        [0.6 * (1 - IMAGENET_WEIGHT), expected_table, 0.2 * (1 - IMAGENET_WEIGHT)]
    )
    assert blended.argmax().item() == 1
    assert blended.sum().item() == pytest.approx(1.0)


def test_a_class_of_no_category_leaves_the_head_to_judge():
    head = torch.tensor([[0.6, 0.3, 0.1]])
    features = torch.tensor([[1.0, 0.0, 0.0, 0.0]])

    blended = blend_with_imagenet(head, features, classifier=classifier_naming(TENCH), categories=CATEGORIES)

    assert blended[0].tolist() == pytest.approx([0.6, 0.3, 0.1], abs=1e-4)


def test_without_a_classifier_or_a_mapped_category_the_head_stands():
    head = torch.tensor([[0.5, 0.5]])
    features = torch.tensor([[1.0, 0.0, 0.0, 0.0]])

    assert blend_with_imagenet(head, features, classifier=None, categories=["bed", "table"]) is head
    unknown = ["sideboard", "ottoman"]  # categories named otherwise than the table's
    assert blend_with_imagenet(head, features, classifier=classifier_naming(DINING_TABLE), categories=unknown) is head
    assert imagenet_classifier(nn.Sequential(nn.Linear(4, 4))) is None


def test_a_photo_is_judged_with_the_shipped_imagenet_classifier():
    config = EncoderConfig().model
    model = LookalikeEncoder(config=config, backbone=load_efficientnet_lite0(), num_categories=len(CATEGORIES)).eval()
    encoder = LoadedEncoder(model=model, config=config, preprocess={}, categories=CATEGORIES, checkpoint={})
    classifier = imagenet_classifier(model.backbone)
    row = classifier.weight[DINING_TABLE].detach()
    dining_set = (row / row.norm() ** 2 * 20).unsqueeze(0)  # a pooled feature it calls a dining table
    with torch.inference_mode():
        head = torch.softmax(model.category_logits(dining_set), dim=1)

        blended = photo_categories(encoder, dining_set)

    assert blended[0, 1].item() == pytest.approx(head[0, 1].item() * (1 - IMAGENET_WEIGHT) + IMAGENET_WEIGHT, abs=1e-3)
    assert blended.argmax().item() == 1
