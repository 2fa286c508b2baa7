import numpy as np
import pytest
from django.urls import reverse
from recommender.services.embeddings import embeddings_matrix

from catalog.services.products import product_create
from encoders.latent_map import latent_map_data, project
from encoders.versions import version_dir
from recommender.services.maps import catalog_map, map_position
from tests.recommender.conftest import draw, png

pytestmark = pytest.mark.django_db


def test_project_places_the_catalog_where_the_saved_coordinates_say(served):
    data = latent_map_data(version_dir(served["encoder"]))
    ids, vectors = embeddings_matrix(version=served["encoder"])

    assert data["product_ids"] == ids
    np.testing.assert_allclose(project(vectors, data), data["coords"], atol=1e-3)
    assert project(vectors[0], data).shape == (2,)


def test_a_version_without_a_map_has_none(served):
    assert latent_map_data(version_dir(served["encoder"])) is None
    assert catalog_map(version=served["encoder"]) is None
    assert map_position(version=served["encoder"], vector=np.zeros(16, np.float32)) is None


def test_the_map_endpoint_lists_every_active_product_with_its_place(client, served):
    response = client.get(reverse("api:map"))

    body = response.json()
    assert response.status_code == 200
    assert body["version"] == served["encoder"].name
    assert len(body["products"]) == 12
    assert {c["name"] for c in body["categories"]} == {"sofa", "lamp", "rug"}
    lamp = served["products"]["lamp"][0]
    item = next(p for p in body["products"] if p["sku"] == lamp.sku)
    assert item["url"] == lamp.get_absolute_url() and item["category"] == "lamp" and item["name"] == lamp.name
    assert item["thumbnail"].startswith("/media/")
    assert all(0 <= p["x"] <= 1 and 0 <= p["y"] <= 1 for p in body["products"])


def test_products_of_a_kind_sit_together_on_the_map(client, served):
    points = client.get(reverse("api:map")).json()["products"]
    by_kind = {kind: np.array([[p["x"], p["y"]] for p in points if p["category"] == kind]) for kind in ["sofa", "lamp"]}

    within = np.linalg.norm(by_kind["sofa"] - by_kind["sofa"].mean(axis=0), axis=1).mean()
    between = np.linalg.norm(by_kind["sofa"].mean(axis=0) - by_kind["lamp"].mean(axis=0))
    assert within < between


def test_a_product_added_after_training_is_on_the_map_and_an_inactive_one_is_not(
    client, served, django_capture_on_commit_callbacks
):
    rug = served["products"]["rug"][0]
    with django_capture_on_commit_callbacks(execute=True):  # the worker encodes it
        added = product_create(
            sku="NEW-RUG", name="New rug", category=rug.category, image_data=png(draw((30, 160, 40), "stripes"))
        )
    rug.is_active = False
    rug.save(update_fields=["is_active"])

    skus = {p["sku"] for p in client.get(reverse("api:map")).json()["products"]}

    assert added.sku in skus and rug.sku not in skus


def test_without_a_live_model_the_map_is_empty(client, db):
    response = client.get(reverse("api:map"))

    assert response.status_code == 200
    assert response.json()["products"] == []


def test_the_map_page_loads_its_points_from_the_endpoint(client):
    response = client.get(reverse("recommender:map"))

    html = response.content.decode()
    assert response.status_code == 200
    assert f'data-url="{reverse("api:map")}"' in html
    assert "js/map.js" in html
    assert 'aria-label="Zoom in"' in html
