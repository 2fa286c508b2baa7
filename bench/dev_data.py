"""What the benches that measure a trained version on the dev data share: where the data is, Django set up with the
site's environment (DATABASE_URL, VAR_DIR), and a version loaded to be changed in memory and measured."""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


def add_dev_data_arguments(parser: argparse.ArgumentParser) -> None:
    """--queries (the web photos), --rooms (a rooms.json) and --split (the rooms measured on)."""
    parser.add_argument("--queries", type=Path, default=ROOT.parent / "shared/data/webphotos")
    parser.add_argument("--rooms", type=Path, default=ROOT.parent / "shared/data/ikea/rooms.json")
    parser.add_argument("--split", default="dev")


def setup_django() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()


@dataclass
class DevVersion:
    """A trained version with a category head, and the dev data it is measured on (Django set up first)."""

    encoder: Any  # encoders.inference.LoadedEncoder
    data: Any  # encoders.data.TrainingData: the catalog, its pairs used together, the TRAIN room photos
    queries: Any  # encoders.queries.QuerySet: the dev room photos
    embedder: Any  # encoders.evaluation.EncoderEmbedder, finding pieces as the worker does
    similar: Any  # np.ndarray (N, D): the catalog's "similar" vectors

    @property
    def catalog(self) -> Any:
        return self.data.catalog


def dev_version(args: argparse.Namespace) -> DevVersion:
    """``args.version`` and the dev data (``args.queries``, ``args.rooms``, ``args.split``); exits with a message
    when the version finds no pieces."""
    from encoders.data import training_data
    from encoders.evaluation import EncoderEmbedder
    from encoders.lifecycle import encoder_load, served_finder
    from encoders.models import EncoderVersion
    from encoders.queries import load_query_set

    encoder = encoder_load(EncoderVersion.objects.get(name=args.version))
    if not encoder.has_category_head:
        raise SystemExit(f"{args.version} has no category head: it finds no pieces")
    data = training_data()
    queries = load_query_set(queries=args.queries, rooms=args.rooms, split=args.split)
    embedder = EncoderEmbedder(encoder, finder=served_finder())
    return DevVersion(encoder, data, queries, embedder, embedder.catalog(data.catalog.images, head="similar"))


@dataclass
class MeasuredVersion:
    """A trained version with a category head, loaded to be changed in memory and measured on the dev room photos
    (Django set up first): its encoder, the training data, the catalog's backbone features, and its pieces figures
    as ``evaluate_encoder`` reports them."""

    encoder: Any
    data: Any  # encoders.data.TrainingData
    product_features: Any  # torch.Tensor (N, F): the catalog's clean shots through the backbone
    pieces_figures: Callable[[], str]  # "hit@10 | R@10 | union R@10 | precision" as the version is now

    def scene_photo_rows(self) -> list:
        """Each TRAIN room photo with its products as a bool row over the catalog: what the scene stage tunes on."""
        import torch

        rows = []
        for photo, products in self.data.scene_photos:
            row = torch.zeros(len(self.data.catalog.images), dtype=torch.bool)
            row[products] = True
            rows.append((photo, row))
        return rows


def measured_version(args: argparse.Namespace) -> MeasuredVersion:
    """``args.version`` loaded for a bench that changes it in memory (``dev_version``)."""
    import torch

    from encoders.evaluation import piece_scores

    version = dev_version(args)
    catalog, embedder = version.catalog, version.embedder
    product_features = torch.from_numpy(embedder.features(("catalog", tuple(catalog.images)), catalog.images))

    def pieces_figures() -> str:
        scores = piece_scores(embedder, catalog, version.queries, version.similar)
        names = ("pieces hit@10", "pieces R@10", "pieces union R@10", "piece precision")
        return " | ".join(f"{scores[name].mean():.3f}" for name in names)

    return MeasuredVersion(version.encoder, version.data, product_features, pieces_figures)
