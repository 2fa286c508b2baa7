"""The catalog map: the encoder's 2-D projection (services/maps.py, which the results page uses) and the map's API
(recommender/map_api.py), which serves the tile pyramid an index version holds under map/."""

import json
from pathlib import Path

import numpy as np
import pytest
from django.urls import reverse
from PIL import Image

from recommender.maptiles import MapProduct, map_tiles_write
from recommender.services.maps import places_of
from tests.recommender.conftest import KINDS, draw

pytestmark = pytest.mark.django_db

VERSION = "20261127T120000.000000Z-1a2b3c4d"


def build_map(index_root: Path, *, n: int = 120, version: str = VERSION, activate: bool = True, **options) -> dict:
    """A map of ``n`` products of the three test kinds (clustered by kind, solid pictures) written by the real writer
    into ``index_root/version/map``, the version named in ACTIVE. Returns the meta and the products by sku."""
    rng = np.random.default_rng(7)
    pictures = index_root.parent / "map-thumbnails"
    pictures.mkdir(parents=True, exist_ok=True)
    for kind, colour, shape in KINDS:
        draw(colour, shape).save(pictures / f"{kind}.png")
    centres = np.array([[0.25, 0.3], [0.7, 0.35], [0.45, 0.75]])
    kinds = np.arange(n) % 3
    positions = np.clip(centres[kinds] + rng.normal(scale=0.08, size=(n, 2)), 0, 1).astype(np.float32)
    ids = np.arange(1, n + 1, dtype=np.int64)
    products = {
        pid: MapProduct(
            sku=f"MAP-{pid:05d}",
            name=f"{KINDS[pid % 3][0].title()} {pid}",
            url=f"/products/map-{pid}/",
            category=KINDS[pid % 3][0],
            thumbnail=pictures / f"{KINDS[pid % 3][0]}.png",
        )
        for pid in ids.tolist()
    }
    (index_root / version).mkdir(parents=True, exist_ok=True)
    meta = map_tiles_write(
        directory=index_root / version / "map",
        product_ids=ids,
        positions=positions,
        describe=lambda batch: {pid: products[pid] for pid in batch.tolist()},
        **options,
    )
    if activate:
        (index_root / "ACTIVE").write_text(version + "\n")
    return {"meta": meta, "products": {p.sku: p for p in products.values()}, "version": version}


@pytest.fixture
def built_map(settings):
    return build_map(Path(settings.INDEX_ROOT), tile_cells=4)


def tile_url(version: str, level: int, x: int, y: int, kind: str) -> str:
    return reverse("api:map_tile", args=[version, level, x, y, kind])


# -- the encoder's projection, as the results page uses it ---------------------------------------------------------


def test_an_index_build_writes_the_map_of_its_catalog(client, served):
    meta = client.get("/api/map").json()

    assert meta["version"] == served["index"].name
    assert meta["count"] == 12
    sku = meta["overview"]["fields"].index("sku")
    skus = {p.sku for items in served["products"].values() for p in items}
    assert {point[sku] for point in meta["overview"]["points"]} == skus  # twelve products: all in the overview


def test_products_of_a_kind_sit_together_on_the_map(served):
    places = places_of([p.pk for items in served["products"].values() for p in items])
    kinds = {p.pk: kind for kind, items in served["products"].items() for p in items}

    for pid, place in places.items():
        nearest = min(
            (o for o in places if o != pid), key=lambda o: (places[o].x - place.x) ** 2 + (places[o].y - place.y) ** 2
        )
        assert kinds[nearest] == kinds[pid]


def test_the_map_meta_names_the_active_version_and_its_tile_urls(client, built_map):
    response = client.get(reverse("api:map"))

    body = response.json()
    assert response.status_code == 200
    assert body["version"] == VERSION and body["count"] == 120
    assert body["tiles"] == {
        "json": f"/api/map/{VERSION}/tiles/{{level}}/{{x}}/{{y}}.json",
        "jpg": f"/api/map/{VERSION}/tiles/{{level}}/{{x}}/{{y}}.jpg",
    }
    assert {c["name"] for c in body["categories"]} == {"sofa", "lamp", "rug"}
    assert all(c["colour"].startswith("#") for c in body["categories"])
    assert [entry["label"] for entry in body["legend"]] == ["lamp", "rug", "sofa"]
    assert body["levels"] >= 2 and body["tile"]["cap"] == 16 and body["thumb"] == 48
    assert 0 < len(body["overview"]["points"]) <= 300
    assert response["Cache-Control"] == "max-age=30"
    assert response["ETag"] == f'"map-{VERSION}"'


def test_the_map_meta_answers_not_modified_to_the_same_etag(client, built_map):
    etag = client.get(reverse("api:map"))["ETag"]

    response = client.get(reverse("api:map"), headers={"if-none-match": etag})

    assert response.status_code == 304 and response.content == b""
    assert response["ETag"] == etag


def test_a_new_active_version_changes_the_etag(client, built_map, settings):
    etag = client.get(reverse("api:map"))["ETag"]
    build_map(Path(settings.INDEX_ROOT), n=30, version="20261128T080000.000000Z-00000002")

    response = client.get(reverse("api:map"), headers={"if-none-match": etag})

    assert response.status_code == 200 and response.json()["count"] == 30


def test_without_an_active_version_the_map_is_empty(client):
    response = client.get(reverse("api:map"))

    assert response.status_code == 200
    assert response.json()["version"] is None and response.json()["count"] == 0


def test_a_version_built_before_maps_has_an_empty_map(client, settings):
    root = Path(settings.INDEX_ROOT)
    (root / VERSION).mkdir(parents=True)
    (root / "ACTIVE").write_text(VERSION)

    body = client.get(reverse("api:map")).json()

    assert body["version"] == VERSION and body["count"] == 0 and body["tiles"] is None


# -- GET /api/map/<version>/tiles/<level>/<x>/<y>.<json|jpg> -------------------------------------------------------


def test_a_tile_is_served_with_immutable_caching(client, built_map):
    response = client.get(tile_url(VERSION, 0, 0, 0, "json"))

    tile = json.loads(b"".join(response.streaming_content))
    assert response.status_code == 200 and response["Content-Type"] == "application/json"
    assert response["Cache-Control"] == "public, max-age=31536000, immutable"
    assert 0 < len(tile["points"]) <= 16
    assert {dict(zip(tile["fields"], p, strict=True))["sku"] for p in tile["points"]} <= set(built_map["products"])


def test_a_tiles_sprite_sheet_is_a_jpeg_of_its_cells(client, built_map, tmp_path):
    response = client.get(tile_url(VERSION, 0, 0, 0, "jpg"))

    (tmp_path / "sheet.jpg").write_bytes(b"".join(response.streaming_content))
    sheet = Image.open(tmp_path / "sheet.jpg")
    assert response.status_code == 200 and response["Content-Type"] == "image/jpeg"
    assert response["Cache-Control"] == "public, max-age=31536000, immutable"
    assert sheet.format == "JPEG" and sheet.width % 48 == 0 and sheet.height % 48 == 0


def test_serving_a_tile_or_the_meta_makes_no_database_query(client, built_map, django_assert_num_queries):
    with django_assert_num_queries(0):
        client.get(reverse("api:map"))
        response = client.get(tile_url(VERSION, 0, 0, 0, "jpg"))
        b"".join(response.streaming_content)

    assert response.status_code == 200


@pytest.mark.parametrize(
    "path",
    [
        f"/api/map/{VERSION}/tiles/0/1/0.json",  # x out of range at level 0
        f"/api/map/{VERSION}/tiles/1/0/7.json",  # y out of range at level 1
        f"/api/map/{VERSION}/tiles/30/0/0.json",  # deeper than any map
        f"/api/map/{VERSION}/tiles/0/0/0.png",  # not a kind of tile
        f"/api/map/{VERSION}/tiles/0/0/0.json.bak",
        "/api/map/20991231T000000.000000Z-ffffffff/tiles/0/0/0.json",  # a well-formed name, no such version
        "/api/map/latest/tiles/0/0/0.json",
        "/api/map/../tiles/0/0/0.json",
        f"/api/map/{VERSION}%2F..%2F{VERSION}/tiles/0/0/0.json",
        "/api/map/..%2F..%2F..%2Fetc/tiles/0/0/0.json",
    ],
)
def test_anything_but_an_existing_tile_is_not_found(client, built_map, path):
    response = client.get(path)

    assert response.status_code == 404


def test_a_tile_of_a_level_the_map_has_no_points_in_is_not_found(client, built_map):
    meta = built_map["meta"]

    response = client.get(tile_url(VERSION, meta["levels"], 0, 0, "json"))

    assert response.status_code == 404 and response.json() == {"error": "No such map tile."}


@pytest.mark.parametrize("name", ["api:map", "api:map_tile"])
def test_the_map_api_answers_other_methods_with_405_json(client, built_map, name):
    url = reverse(name) if name == "api:map" else tile_url(VERSION, 0, 0, 0, "json")

    response = client.post(url)

    assert response.status_code == 405 and response["Allow"] == "GET"
    assert response.json() == {"error": "Use GET here."}


def test_the_map_page_loads_its_points_from_the_endpoint(client):
    response = client.get(reverse("recommender:map"))

    html = response.content.decode()
    assert response.status_code == 200
    assert f'data-url="{reverse("api:map")}"' in html
    assert "js/map.js" in html
    assert 'aria-label="Zoom in"' in html
