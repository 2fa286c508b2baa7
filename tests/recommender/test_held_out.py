"""Honest figures for new products: retraining measures each candidate with a model trained without a fifth of
the products, the gate reads those figures in place of loo, and the pretrained features are measured the same
way."""

import json
import re
from io import StringIO

import numpy as np
import pytest
from django.core.management import call_command

from encoders import metrics
from encoders.data import training_data
from encoders.holdout import holdout_split
from encoders.inference import backbone_features
from encoders.intervals import figure_intervals
from encoders.lifecycle import encoder_held_out, encoder_load, encoder_train
from encoders.models import EncoderVersion
from encoders.queries import FIGURES, HELD_OUT_FIGURES
from encoders.versions import encoder_is_not_worse, query_scores_read, query_scores_write, version_dir
from recommender.models import RetrainRun
from recommender.services.retraining import retrain_run
from tests.encoders.helpers import tiny_config
from tests.recommender.conftest import draw, png

pytestmark = pytest.mark.django_db


@pytest.fixture
def dev_queries(settings, tmp_path, catalog_products):
    """One web photo per kind and two dev rooms of catalog products."""
    queries = tmp_path / "queries"
    for name, colour, shape in [("couch", (200, 30, 30), "square"), ("light", (30, 60, 200), "round")]:
        (queries / name).mkdir(parents=True)
        (queries / name / "1.png").write_bytes(png(draw(colour, shape, size=80)))
    (queries / "accept.json").write_text(json.dumps({"couch": ["sofa"], "light": ["lamp"]}))
    sofas, lamps, rugs = catalog_products["sofa"], catalog_products["lamp"], catalog_products["rug"]
    rooms = [
        {"room": "a", "items": [p.sku for p in (*sofas[:2], *lamps[:2], *rugs[:2])], "photo": None, "split": "dev"},
        {"room": "b", "items": [p.sku for p in (*sofas[2:], *lamps[2:], *rugs[2:])], "photo": None, "split": "dev"},
    ]
    (tmp_path / "rooms.json").write_text(json.dumps(rooms))
    settings.EVALUATION_QUERIES, settings.EVALUATION_ROOMS = str(queries), str(tmp_path / "rooms.json")
    settings.EVALUATION_SPLIT, settings.EVALUATION_HOLDOUT = "dev", 0.2


def tiny(**overrides):
    return tiny_config(epochs=3, **overrides)


def test_a_retrain_measures_the_candidate_on_products_it_never_saw(dev_queries):
    run = retrain_run(trigger="test", config=tiny())

    assert run.status == RetrainRun.Status.PROMOTED
    assert list(run.timings)[:2] == ["train", "held_out"]
    candidate = run.candidate
    for part in (candidate.metrics, candidate.intervals, candidate.baseline):
        assert set(HELD_OUT_FIGURES) <= set(part)  # the figure, its interval and the pretrained features' figure
    # a fifth of each kind of four, rounded: one sofa, one lamp and one rug; the model trained on the other nine
    assert candidate.data["held_out"]["products"] == 3 and candidate.data["held_out"]["trained_on"] == 9
    scores = query_scores_read(candidate)
    assert len(scores["held-out P@10"]) == 3 and len(scores["held-out room hit@10"]) == 3  # each in a dev room
    assert len(scores["loo P@10"]) == 12  # loo is still measured, on every product


def test_the_next_retrain_gates_on_the_held_out_figures_and_keeps_the_live_ones(dev_queries):
    first = retrain_run(trigger="test", config=tiny())
    live_held_out = {name: first.candidate.metrics[name] for name in HELD_OUT_FIGURES}

    second = retrain_run(trigger="test", config=tiny())

    assert set(second.comparison) == (set(FIGURES) - {"loo P@10"}) | set(HELD_OUT_FIGURES)
    assert second.comparison["held-out P@10"]["difference"] is not None  # same held-out products: paired
    first.candidate.refresh_from_db()  # measured again on today's catalog before the gate: held-out figures kept
    assert {name: first.candidate.metrics[name] for name in HELD_OUT_FIGURES} == live_held_out
    assert set(HELD_OUT_FIGURES) <= set(query_scores_read(first.candidate))


def version_with(name: str, scores: dict[str, list[float]], *, split: str | None = "same") -> EncoderVersion:
    version = EncoderVersion.objects.create(
        name=name,
        status=EncoderVersion.Status.READY,
        metrics={figure: float(np.mean(values)) for figure, values in scores.items()},
        intervals=figure_intervals({figure: np.array(values) for figure, values in scores.items()}),
        data={"held_out": {"split": split}} if split else {},
    )
    version_dir(version).mkdir(parents=True)
    query_scores_write(version, scores)
    return version


EVEN = [1.0, 0.0] * 25  # 50 queries, 0.5


def measured(*, loo: list[float], held_out: list[float] | None) -> dict[str, list[float]]:
    scores = {figure: EVEN for figure in FIGURES}
    scores["loo P@10"] = loo
    if held_out is not None:
        scores["held-out P@10"] = held_out
        scores["held-out room hit@10"] = EVEN
    return scores


def test_a_candidate_worse_on_held_out_products_is_kept_out_even_when_loo_is_better():
    live = version_with("live", measured(loo=[1.0] * 25 + [0.0] * 25, held_out=[1.0] * 35 + [0.0] * 15))
    candidate = version_with("candidate", measured(loo=[1.0] * 50, held_out=[1.0] * 20 + [0.0] * 30))

    promote, reason, comparison = encoder_is_not_worse(candidate=candidate, live=live, tolerance=0.0)

    assert not promote
    assert "held-out P@10 0.400 < 0.700" in reason
    assert "loo P@10" not in comparison and comparison["held-out P@10"]["worse"]


def test_a_candidate_better_on_held_out_products_passes_although_loo_is_worse():
    live = version_with("live", measured(loo=[1.0] * 50, held_out=[1.0] * 25 + [0.0] * 25))
    candidate = version_with("candidate", measured(loo=[1.0] * 20 + [0.0] * 30, held_out=[1.0] * 30 + [0.0] * 20))

    promote, reason, _ = encoder_is_not_worse(candidate=candidate, live=live, tolerance=0.0)

    assert promote, reason


def test_without_held_out_figures_on_the_live_version_the_gate_falls_back_to_loo():
    live = version_with("live", measured(loo=[1.0] * 50, held_out=None), split=None)
    candidate = version_with("candidate", measured(loo=[1.0] * 20 + [0.0] * 30, held_out=[1.0] * 50))

    promote, reason, comparison = encoder_is_not_worse(candidate=candidate, live=live, tolerance=0.0)

    assert not promote and "loo P@10 0.400 < 1.000" in reason
    assert not set(HELD_OUT_FIGURES) & set(comparison)


def test_held_out_figures_of_other_products_are_compared_by_their_intervals_not_paired():
    live = version_with("live", measured(loo=EVEN, held_out=[1.0] * 35 + [0.0] * 15), split="last week")
    candidate = version_with("candidate", measured(loo=EVEN, held_out=[1.0] * 20 + [0.0] * 30), split="today")

    promote, _, comparison = encoder_is_not_worse(candidate=candidate, live=live, tolerance=0.0)

    assert comparison["held-out P@10"]["difference"] is None  # the queries differ: no pairing
    assert not promote and comparison["held-out P@10"]["worse"]  # still below the live figure's interval


def test_the_pretrained_baseline_is_measured_on_the_same_held_out_products(dev_queries, monkeypatch):
    from encoders import evaluation
    from encoders.data import evaluation_query_set

    queries = evaluation_query_set()
    version = encoder_train(config=tiny(freeze_backbone=True), queries=queries)
    passes = []
    monkeypatch.setattr(evaluation, "backbone_features", lambda *a, **k: passes.append(a) or backbone_features(*a, **k))

    encoder_held_out(version=version, queries=queries)

    assert passes == []  # the catalog's features are training's cached clean views: no second pass over it

    # a frozen backbone is the same network in the version and in its held-out model: its features, untrained,
    # scored on the same held-out products against the whole catalog
    catalog = training_data().catalog
    held_out = holdout_split(categories=catalog.categories, skus=catalog.skus, fraction=0.2)
    features = backbone_features(encoder_load(version), catalog.images)
    expected = metrics.held_out_precision_scores(features, catalog.categories, held_out)
    assert version.baseline["held-out P@10"] == pytest.approx(float(expected.mean()))
    assert version.baseline["loo P@10"] == pytest.approx(float(metrics.loo_precision(features, catalog.categories)))


def test_evaluate_encoder_prints_the_held_out_figures_beside_loo(dev_queries, settings, tmp_path):
    from encoders.data import evaluation_query_set

    version = encoder_train(config=tiny(), queries=evaluation_query_set())
    out = StringIO()

    call_command(
        "evaluate_encoder",
        "--queries",
        settings.EVALUATION_QUERIES,
        "--rooms",
        settings.EVALUATION_ROOMS,
        "--split",
        "dev",
        "--version",
        version.name,
        "--held-out",
        "--json",
        str(tmp_path / "figures.json"),
        stdout=out,
    )

    text = out.getvalue()
    assert "| loo P@10 | room hit@10 |" in text.replace("web P@10 | ", "")
    assert "held-out P@10 | held-out room hit@10 |" in text
    assert "Held out 3 products (20% of each category); the held-out model trained on 9" in text
    assert "its backbone's pretrained features, no training" in text
    version.refresh_from_db()
    assert set(HELD_OUT_FIGURES) <= set(version.metrics)
    written = json.loads((tmp_path / "figures.json").read_text())
    assert written[version.name]["held-out P@10"] == version.metrics["held-out P@10"]
    assert set(written[version.name]["intervals"]) >= set(HELD_OUT_FIGURES)


def test_staff_read_the_held_out_figures_in_plain_words_beside_the_pretrained_features(admin_client):
    version = version_with("measured", measured(loo=[1.0] * 50, held_out=[1.0] * 30 + [0.0] * 20))
    version.baseline = {"held-out P@10": 0.42}
    version.save(update_fields=["baseline"])

    page = admin_client.get(f"/admin/encoders/encoderversion/{version.pk}/change/").content.decode()
    listing = admin_client.get("/admin/encoders/encoderversion/").content.decode()

    assert "New products&#x27; lookalikes" in page and "products the model never saw in training" in page
    low, high = (round(v * 100) for v in version.intervals["held-out P@10"])
    assert f"<strong>60 %</strong> ({low}–{high} %)" in page and "<td>42 %</td>" in page
    assert "New products&#x27; lookalikes" in listing and f"60 % ({low}–{high} %)" in listing
    assert re.search(r"<text[^>]*>New products&#x27; lookalikes</text>", page)  # charted beside the other figures
