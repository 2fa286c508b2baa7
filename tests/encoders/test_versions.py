"""The Django side of encoders: training a version from the catalog in the database, activating it,
evaluating it through the management commands, and the promotion rule."""

import json
from io import StringIO

import pytest
from django.core.files.base import ContentFile
from django.core.management import CommandError, call_command
from PIL import Image, ImageDraw

from catalog.models import CoView
from encoders.models import EncoderVersion
from encoders.versions import (
    active_encoder_version,
    checkpoint_path,
    encoder_is_not_worse,
    query_scores_write,
    version_dir,
)
from tests.catalog.factories import CategoryFactory, ProductFactory

pytestmark = pytest.mark.django_db

TINY = [
    "backbone=tiny_cnn",
    "freeze_backbone=false",
    "backbone_dim=32",
    "tiny_width=8",
    "image_size=32",
    "hidden_dim=32",
    "latent_dim=16",
    "goes_with_dim=8",
    "recon_size=16",
    "epochs=2",
    "batch_size=8",
    "pair_batch_size=8",
    "wild_views=1",
]


def solid(colour, size=(40, 40), format="PNG") -> bytes:
    from io import BytesIO

    image = Image.new("RGB", size, colour)
    buffer = BytesIO()
    image.save(buffer, format=format)
    return buffer.getvalue()


@pytest.fixture
def models_root(settings, tmp_path):
    settings.MODELS_ROOT = tmp_path / "models"
    settings.ENCODER_CACHE_DIR = tmp_path / "cache"
    settings.ENCODER_BACKGROUNDS = ""
    return settings.MODELS_ROOT


@pytest.fixture
def small_catalog():
    sofas, lamps = CategoryFactory(name="sofa"), CategoryFactory(name="lamp")
    products = []
    for i in range(8):
        image = Image.new("RGB", (48, 48), "white")
        shape = ImageDraw.Draw(image)
        box = (8, 8, 40, 40)
        (shape.rectangle if i % 2 == 0 else shape.ellipse)(box, fill=(40 * i, 100, 200 - 20 * i))
        from io import BytesIO

        buffer = BytesIO()
        image.save(buffer, format="PNG")
        products.append(
            ProductFactory(
                category=sofas if i % 2 == 0 else lamps, image=ContentFile(buffer.getvalue(), name=f"p{i}.png")
            )
        )
    CoView.objects.create(
        kind=CoView.Kind.USED, product_a=products[0], product_b=products[1], count=3, last_seen="2026-01-01T00:00Z"
    )
    return products


def train(*extra) -> str:
    out = StringIO()
    call_command("train_encoder", "--no-evaluate", *[f"--set={item}" for item in TINY], *extra, verbosity=0, stdout=out)
    return out.getvalue()


def test_train_encoder_writes_a_ready_version_with_checkpoint_and_pictures(models_root, small_catalog):
    output = train()

    version = EncoderVersion.objects.get()
    assert version.status == EncoderVersion.Status.READY
    assert not version.is_active and active_encoder_version() is None  # serving changes only by making it live
    assert version.data["products"] == 8 and version.data["pairs"] == 1
    assert [row["epoch"] for row in version.history] == [1, 2]  # the training curves, kept on the version
    assert {"loss", "recon", "supcon", "instance", "coview"} <= set(version.history[0])
    assert len(version.data["inputs_sha256"]) == 64
    assert checkpoint_path(version).is_file()
    for name in ["reconstructions.png", "latent_map.png", "latent_map.json"]:
        assert (version_dir(version) / name).is_file()
    latent = json.loads((version_dir(version) / "latent_map.json").read_text())
    assert len(latent["coords"]) == 8 and len(latent["components"]) == 2
    assert f"manage.py activate_encoder {version.name}" in output


def test_the_same_seed_trains_the_same_weights(models_root, small_catalog):
    import torch

    train("--seed=3")
    train("--seed=3")

    first, second = (torch.load(checkpoint_path(v), weights_only=True) for v in EncoderVersion.objects.all())
    assert all(torch.equal(first["state_dict"][k], second["state_dict"][k]) for k in first["state_dict"])


def test_activate_encoder_serves_the_version_through_its_own_index(models_root, small_catalog):
    from recommender import index as annoy_index
    from recommender.models import IndexVersion
    from recommender.services.indexing import index_root

    train()
    train()
    older, newer = EncoderVersion.objects.order_by("created_at")
    call_command("activate_encoder", older.name, stdout=StringIO())

    call_command("activate_encoder", newer.name, stdout=StringIO())

    assert active_encoder_version() == newer
    assert EncoderVersion.objects.filter(is_active=True).count() == 1
    serving = IndexVersion.objects.get(is_active=True)
    assert serving.encoder_version == newer
    assert annoy_index.active_version(index_root()) == serving.name  # what queries follow, not only a flag


def test_activating_an_unknown_or_failed_version_is_a_clear_error(models_root):
    failed = EncoderVersion.objects.create(name="broken", status=EncoderVersion.Status.FAILED)

    with pytest.raises(CommandError, match="no encoder version named 'nope'"):
        call_command("activate_encoder", "nope")
    with pytest.raises(CommandError, match="only a ready version can be made live"):
        call_command("activate_encoder", failed.name)


def test_training_needs_a_catalog(models_root):
    with pytest.raises(CommandError, match="at least two active products"):
        train()
    assert not EncoderVersion.objects.exists()


def test_an_unknown_config_field_is_a_clear_error(models_root, small_catalog):
    with pytest.raises(CommandError, match="unknown config field 'colour'"):
        train("--set=colour=red")


def test_evaluate_encoder_gives_the_figures_computed_by_hand(tmp_path, models_root):
    """Raw pixels of solid colours: every red is identical to every other red, so the figures follow by hand.
    Catalog (in this order): 11 red sofas (indices 0-10), 11 blue lamps (11-21)."""
    sofas, lamps = CategoryFactory(name="sofa"), CategoryFactory(name="lamp")
    reds = [
        ProductFactory(sku=f"r{i:02d}", category=sofas, image=ContentFile(solid("red"), "r.png")) for i in range(11)
    ]
    blues = [
        ProductFactory(sku=f"b{i:02d}", category=lamps, image=ContentFile(solid("blue"), "b.png")) for i in range(11)
    ]
    queries = tmp_path / "queries"
    (queries / "couch").mkdir(parents=True)
    (queries / "couch" / "1.png").write_bytes(solid("red", (30, 20)))  # all 10 neighbours are sofas: 1.0
    (queries / "couch" / "2.png").write_bytes(solid("blue", (30, 20)))  # all 10 neighbours are lamps: 0.0
    (queries / "accept.json").write_text(json.dumps({"couch": ["sofa", "armchair"]}))
    (tmp_path / "room.png").write_bytes(solid("red"))
    rooms = tmp_path / "rooms.json"
    rooms.write_text(
        json.dumps(
            [
                # room task: r00 -> its top 10 are r01..r10 (ties broken by catalog order): b00 missed;
                # b00 -> b01..b10: r00 missed. Both queries miss: hit 0, recall 0.
                {
                    "room": "x",
                    "items": [reds[0].sku, blues[0].sku, "not-in-catalog"],
                    "photo": "room.png",
                    "split": "dev",
                },
                # r00 and r05 query each other: both found. hit 1, recall 1 (2 queries).
                {"room": "y", "items": [reds[0].sku, reds[5].sku], "photo": None, "split": "dev"},
                {"room": "z", "items": [blues[1].sku, blues[2].sku], "photo": None, "split": "train"},
            ]
        )
    )
    out = tmp_path / "figures.json"

    printed = StringIO()
    call_command(
        "evaluate_encoder",
        f"--queries={queries}",
        f"--rooms={rooms}",
        "--split=dev",
        "--baselines",
        f"--json={out}",
        stdout=printed,
    )

    figures = json.loads(out.read_text())["raw pixels, 16×16 RGB"]
    # each figure with its bootstrap interval: the two web photos score 1 and 0, the one room photo 1
    # (one class of photos: its mean is the mean over classes)
    assert "| raw pixels, 16×16 RGB | 0.500 (0.00–1.00) | 0.500 (0.00–1.00) | 1.000 (1.00–1.00) |" in printed.getvalue()
    assert figures["intervals"]["web P@10"] == [0.0, 1.0] and figures["intervals"]["scene hit@10"] == [1.0, 1.0]
    assert figures["web P@10"] == pytest.approx(0.5) and figures["web class P@10"] == pytest.approx(0.5)
    assert figures["loo P@10"] == pytest.approx(1.0)
    assert figures["room hit@10"] == pytest.approx(2 / 4)
    assert figures["room R@10"] == pytest.approx(2 / 4)
    # the red room photo's top 10 are r00..r09: r00 found, b00 not -> hit 1, recall 1/2
    assert figures["scene hit@10"] == pytest.approx(1.0)
    assert figures["scene R@10"] == pytest.approx(0.5)


def test_the_gate_reads_the_versions_figures_intervals_and_per_query_scores(models_root):
    live = EncoderVersion.objects.create(
        name="live", metrics={"web P@10": 0.70}, intervals={"web P@10": [0.61, 0.79]}, status="ready"
    )
    within = EncoderVersion.objects.create(name="within", metrics={"web P@10": 0.65}, intervals={})
    beyond = EncoderVersion.objects.create(name="beyond", metrics={"web P@10": 0.60}, intervals={})
    for version, hits in [(live, 70), (within, 65), (beyond, 60)]:
        version_dir(version).mkdir(parents=True)
        query_scores_write(version, {"web P@10": [1.0] * hits + [0.0] * (100 - hits)})

    assert encoder_is_not_worse(candidate=within, live=live, tolerance=0.0)[0]  # inside the live interval
    promote, reason, comparison = encoder_is_not_worse(candidate=beyond, live=live, tolerance=0.0)
    assert not promote and "web P@10 0.600 < 0.700 (below the live interval 0.610–0.790" in reason
    low, high = comparison["web P@10"]["difference"]  # paired over the same 100 queries: ten of them lost
    assert low < -0.1 < high < 0
    assert encoder_is_not_worse(candidate=beyond, live=None, tolerance=0.0)[0]


def test_the_gate_never_compares_pieces_per_photo_where_more_is_not_better(models_root):
    live = EncoderVersion.objects.create(
        name="live", metrics={"pieces hit@10": 0.50, "pieces per photo": 6.0}, intervals={}, status="ready"
    )
    fewer = EncoderVersion.objects.create(name="fewer", metrics={"pieces hit@10": 0.50, "pieces per photo": 2.0})
    worse = EncoderVersion.objects.create(name="worse", metrics={"pieces hit@10": 0.30, "pieces per photo": 6.0})

    promote, _, comparison = encoder_is_not_worse(candidate=fewer, live=live, tolerance=0.01)
    assert promote and set(comparison) == {"pieces hit@10"}  # four pieces fewer is no loss in itself
    promote, reason, _ = encoder_is_not_worse(candidate=worse, live=live, tolerance=0.01)
    assert not promote and "pieces hit@10 0.300 < 0.500" in reason  # the piece figures that are shares are gated


def test_staff_read_pieces_per_photo_as_a_count(admin_client, models_root, small_catalog):
    train()
    version = EncoderVersion.objects.get()
    version.metrics = {"web P@10": 0.5, "pieces hit@10": 0.5, "pieces per photo": 5.5}
    version.intervals = {"pieces per photo": [4.25, 6.0], "pieces hit@10": [0.3, 0.7]}
    version.save()

    page = admin_client.get(f"/admin/encoders/encoderversion/{version.pk}/change/").content.decode()

    assert "Pieces per room photo" in page and "<strong>5.5</strong> (4.2–6.0)" in page
    assert "Room photos by their pieces (any)" in page and "<strong>50 %</strong> (30–70 %)" in page


def test_staff_see_a_version_with_its_figures_and_pictures(admin_client, models_root, small_catalog):
    train()
    version = EncoderVersion.objects.get()
    version.metrics = {name: 0.48498085599999285 for name in ["web P@10", "loo P@10", "room hit@10", "room R@10"]}
    version.baseline = {"web P@10": 0.638}
    version.intervals = {"web P@10": [0.4123, 0.5534]}
    version.save()

    page = admin_client.get(f"/admin/encoders/encoderversion/{version.pk}/change/").content.decode()
    listing = admin_client.get("/admin/encoders/encoderversion/").content.decode()
    picture = admin_client.get(f"/admin/encoders/encoderversion/{version.pk}/picture/reconstructions/")

    assert "Shoppers&#x27; photos" in page and "the share of the photographed kind" in page
    assert "<strong>48 %</strong> (41–55 %)" in page and "64 %" in page  # rounded, beside the pretrained features'
    assert "bootstrap 95 % interval" in page
    assert "48 % (41–55 %)" in listing  # the interval in plain words, where it was measured
    assert "0.48498" not in page and "0.48498" not in listing
    assert "Shoppers&#x27; photos" in listing and "48 %" in listing
    assert 'style="max-width:100%;height:auto;display:block"' in page  # pictures fit the page
    assert f"/admin/encoders/encoderversion/{version.pk}/picture/latent-map/" in page
    assert '<th colspan=2 scope=colgroup class="group">optimisation</th>' in page  # the config, part by part
    assert "<tr><th scope=row>epochs</th><td>2</td></tr>" in page
    assert picture.status_code == 200 and picture["Content-Type"] == "image/png"


def test_a_version_without_figures_says_why_and_how_to_measure(admin_client, models_root, small_catalog):
    train()
    version = EncoderVersion.objects.get()

    page = admin_client.get(f"/admin/encoders/encoderversion/{version.pk}/change/").content.decode()

    assert "no evaluation data is configured" in page and "EVALUATION_QUERIES" in page


def test_train_rooms_give_backgrounds_and_scene_supervision(settings, tmp_path, small_catalog):
    from encoders.data import training_data

    (tmp_path / "room.jpg").write_bytes(solid("grey", format="JPEG"))
    rooms = tmp_path / "rooms.json"
    rooms.write_text(
        json.dumps(
            [
                {"room": "a", "items": [small_catalog[1].sku, "unknown"], "photo": "room.jpg", "split": "train"},
                {"room": "b", "items": [small_catalog[2].sku], "photo": "room.jpg", "split": "dev"},
                {"room": "c", "items": [small_catalog[3].sku], "photo": None, "split": "train"},
            ]
        )
    )
    settings.ENCODER_BACKGROUNDS, settings.ENCODER_BACKGROUNDS_SPLIT = str(rooms), "train"

    data = training_data()

    assert data.backgrounds == [tmp_path / "room.jpg"]
    assert data.scene_photos == [(tmp_path / "room.jpg", [1])]
