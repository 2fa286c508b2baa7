"""A small catalog served end to end: a tiny encoder (trained once per test session), every product encoded,
an Annoy index built and serving."""

import shutil
from io import BytesIO

import numpy as np
import pytest
from django.core.files.base import ContentFile
from PIL import Image, ImageDraw

from catalog.models import Product
from encoders.latent_map import latent_map_save
from encoders.models import EncoderVersion
from encoders.training import train_encoder
from encoders.versions import CHECKPOINT_NAME, version_dir
from recommender.services import search
from recommender.services.encoding import catalog_encode
from recommender.services.indexing import index_build, serving_activate
from recommender.services.vectors import vectors_batches, vectors_revision
from tests.catalog.factories import CategoryFactory, ProductFactory
from tests.encoders.helpers import tiny_config
from tests.recommender.worker import Worker, broker_url, use_broker

# (category, colour, shape): three visibly different kinds of product
KINDS = [("sofa", (200, 30, 30), "square"), ("lamp", (30, 60, 200), "round"), ("rug", (30, 160, 40), "stripes")]


def draw(colour, shape, *, size=64, shade=0) -> Image.Image:
    image = Image.new("RGB", (size, size), "white")
    pen = ImageDraw.Draw(image)
    colour = tuple(max(0, min(255, c + shade)) for c in colour)
    if shape == "square":
        pen.rectangle((12, 12, size - 12, size - 12), fill=colour)
    elif shape == "round":
        pen.ellipse((12, 12, size - 12, size - 12), fill=colour)
    else:
        for y in range(8, size - 8, 10):
            pen.rectangle((8, y, size - 8, y + 5), fill=colour)
    return image


def png(image: Image.Image, format="PNG") -> bytes:
    buffer = BytesIO()
    image.save(buffer, format=format)
    return buffer.getvalue()


@pytest.fixture(autouse=True)
def fresh_index_cache(settings):
    """Each test sees its own index root at once: no cached index, no reload delay."""
    settings.INDEX_RELOAD_SECONDS = 0
    search._index_cache = None
    search._fresh_sets.clear()
    search._encoders_of_indexes.clear()
    yield
    search._index_cache = None
    search._fresh_sets.clear()
    search._encoders_of_indexes.clear()


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory):
    """A tiny encoder trained once for the whole session on the three kinds of product."""
    import torch

    folder = tmp_path_factory.mktemp("tiny-encoder")
    images, categories = [], []
    for n in range(4):
        for category, colour, shape in KINDS:
            path = folder / f"{category}-{n}.png"
            draw(colour, shape, shade=n * 12).save(path)
            images.append(path)
            categories.append(category)
    checkpoint = train_encoder(
        config=tiny_config(epochs=30, w_coview=0.0),
        product_images=images,
        categories=categories,
        coview_pairs=[],
        backgrounds=[],
        seed=0,
        progress=lambda *args: None,
    )
    path = folder / CHECKPOINT_NAME
    torch.save(checkpoint, path)
    return path


def make_encoder_version(settings, tiny_checkpoint, name="enc-test") -> EncoderVersion:
    directory = settings.MODELS_ROOT / name
    directory.mkdir(parents=True)
    shutil.copy(tiny_checkpoint, directory / CHECKPOINT_NAME)
    return EncoderVersion.objects.create(name=name, status=EncoderVersion.Status.READY, config={})


@pytest.fixture
def catalog_products():
    """Four products of each kind, priced 100, 200, 300, 400."""
    products = {}
    for category, colour, shape in KINDS:
        kind = CategoryFactory(name=category, slug=category)
        products[category] = [
            ProductFactory(
                name=f"{category.upper()} {n}",
                category=kind,
                price=100 * (n + 1),
                image=ContentFile(png(draw(colour, shape, shade=n * 12)), name=f"{category}-{n}.png"),
                image_sha256=f"{category}-{n}",
            )
            for n in range(4)
        ]
    return products


def fit_latent_map(version: EncoderVersion) -> None:
    """The version's 2-D map (latent_map.json), fitted on its stored vectors as training fits it on the catalog's."""
    batches = list(vectors_batches(version=version, up_to_revision=vectors_revision()))
    ids = [pid for batch in batches for pid in batch.product_ids.tolist()]
    vectors = np.concatenate([batch.similar for batch in batches])
    names = dict(Product.objects.filter(pk__in=ids).values_list("pk", "category__name"))
    latent_map_save(version_dir(version), vectors=vectors, product_ids=ids, categories=[names[pk] for pk in ids])


@pytest.fixture
def served(settings, tiny_checkpoint, catalog_products):
    """The catalog encoded with the tiny encoder and served from an index (both spaces, map places)."""
    version = make_encoder_version(settings, tiny_checkpoint)
    catalog_encode(version=version)
    fit_latent_map(version)
    index_version = serving_activate(index_version=index_build(encoder_version=version))
    return {"encoder": version, "index": index_version, "products": catalog_products}


@pytest.fixture
def broker(redis_url, eager_celery):
    url = broker_url(redis_url, database=13)
    restore = use_broker(eager_celery, url)
    yield url
    restore()


@pytest.fixture
def workers():
    """Workers a test starts; every one is stopped at the end, whatever happened."""
    started: list[Worker] = []
    yield started
    for worker in started:
        worker.stop()


def started_worker(broker, log, workers, *, flush: bool = True) -> Worker:
    """A one-process upload worker on the test's broker, stopped at the end of the test."""
    worker = Worker(broker=broker, log=log, encoder_config=tiny_config().to_dict(), concurrency=1)
    workers.append(worker)
    worker.start(flush=flush)
    return worker
