"""The catalog map: the encoder's 2-D projection (services/maps.py, which the results page uses) and the map's API
(recommender/map_api.py), which serves the tile pyramid an index version holds under map/, finds products on it by
name, and places an answered photo among its matches."""

import json
from pathlib import Path

import numpy as np
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from PIL import Image

from catalog.models import Product
from recommender.maptiles import MapProduct, map_tiles_write
from recommender.models import InspirationUpload
from recommender.services.maps import place_among, places_of
from recommender.services.uploads import parse_upload_request, upload_create
from tests.catalog.factories import CategoryFactory, ProductFactory
from tests.recommender.conftest import KINDS, draw, png

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


# -- GET /api/map/find?q=<text> ---------------------------------------------------------------------------------------


def find(client, text: str):
    return client.get(reverse("api:map_find"), {"q": text})


def test_finding_a_product_lists_it_with_its_place_on_the_map(client, served):
    lamps = served["products"]["lamp"]

    response = find(client, "lamp")

    body = response.json()
    assert response.status_code == 200 and body["query"] == "lamp" and body["more"] is False
    assert [row["name"] for row in body["results"]] == ["LAMP 0", "LAMP 1", "LAMP 2", "LAMP 3"]
    places = places_of([p.pk for p in lamps])
    for row, lamp in zip(body["results"], lamps, strict=True):
        assert row["sku"] == lamp.sku and row["url"] == lamp.get_absolute_url() and row["category"] == "lamp"
        assert row["thumbnail"] == (lamp.thumbnail or lamp.image).url
        assert row["place"] == {"x": places[lamp.pk].x, "y": places[lamp.pk].y}


def test_an_exact_sku_is_found_first(client, served):
    rug = served["products"]["rug"][2]

    body = find(client, rug.sku.lower()).json()

    assert body["results"][0]["sku"] == rug.sku


def test_finding_lists_ten_products_at_most_and_says_there_are_more(client):
    kind = CategoryFactory(name="chair", slug="chair")
    for n in range(14):
        ProductFactory(name=f"Chair {n:02d}", category=kind)

    body = find(client, "chair").json()

    assert len(body["results"]) == 10 and body["more"] is True
    assert [row["name"] for row in body["results"]] == [f"Chair {n:02d}" for n in range(10)]


def test_names_are_found_before_products_whose_type_alone_matches(client):
    kind = CategoryFactory(name="sofa", slug="sofa")
    ProductFactory(name="EKTORP", type="3-seat sofa", category=kind)
    ProductFactory(name="Sofa bed", type="Bed", category=kind)

    body = find(client, "sofa").json()

    assert [row["name"] for row in body["results"]] == ["Sofa bed", "EKTORP"]


def test_a_product_saved_since_the_index_was_built_is_found_without_a_place(client, served):
    newcomer = ProductFactory(name="LAMP new", category=served["products"]["lamp"][0].category)

    rows = {row["sku"]: row for row in find(client, "lamp").json()["results"]}

    assert rows[newcomer.sku]["place"] is None
    assert sum(row["place"] is not None for row in rows.values()) == 4


def test_an_inactive_product_is_not_found(client, served):
    lamp = served["products"]["lamp"][0]
    Product.objects.filter(pk=lamp.pk).update(is_active=False)

    skus = [row["sku"] for row in find(client, "lamp").json()["results"]]

    assert lamp.sku not in skus and len(skus) == 3


def test_finding_costs_a_few_queries_and_reads_no_vector(client, served, django_assert_max_num_queries):
    find(client, "rug")  # the serving index is loaded once per process, not per request

    with django_assert_max_num_queries(2) as captured:
        response = find(client, "rug")

    assert response.status_code == 200 and len(response.json()["results"]) == 4
    assert not any("embedding" in query["sql"].lower() for query in captured.captured_queries)
    assert all("LIMIT 11" in query["sql"] for query in captured.captured_queries if "catalog_product" in query["sql"])


@pytest.mark.parametrize(("text", "message"), [("", "Type part"), ("   ", "Type part"), ("x" * 101, "at most 100")])
def test_an_empty_or_over_long_search_is_refused(client, text, message):
    response = find(client, text)

    assert response.status_code == 400 and message in response.json()["error"]


def test_finding_answers_other_methods_with_405_json(client):
    response = client.post(reverse("api:map_find"), {"q": "lamp"})

    assert response.status_code == 405 and response.json() == {"error": "Use GET here."}


# -- GET /api/uploads/<id>/place --------------------------------------------------------------------------------------


@pytest.fixture
def answered(served, django_capture_on_commit_callbacks):
    """A photo of a sofa, answered through the worker's own service."""
    image = SimpleUploadedFile("sofa.png", png(draw(KINDS[0][1], KINDS[0][2])), content_type="image/png")
    with django_capture_on_commit_callbacks(execute=True):
        upload = upload_create(image=image, request=parse_upload_request(crop=None, category=None, max_price=None))
    upload.refresh_from_db()
    assert upload.status == InspirationUpload.Status.DONE
    return upload


def place_url(upload_id) -> str:
    return reverse("api:upload_place", args=[upload_id])


def test_an_answered_photo_has_its_place_and_its_matches_places(client, answered):
    results = [(row["product_id"], row["score"]) for row in answered.results]

    response = client.get(place_url(answered.id))

    body = response.json()
    photo = place_among(results)
    places = places_of([pid for pid, _ in results])
    skus = dict(Product.objects.values_list("pk", "sku"))
    assert response.status_code == 200 and body["id"] == str(answered.id)
    assert (body["x"], body["y"]) == (photo.x, photo.y)
    assert [match["sku"] for match in body["matches"]] == [skus[pid] for pid, _ in results]  # best first
    assert [(m["x"], m["y"]) for m in body["matches"]] == [(places[pid].x, places[pid].y) for pid, _ in results]


def test_a_photos_place_reads_neither_its_vector_nor_any_product_vector(
    client, answered, django_assert_max_num_queries
):
    client.get(place_url(answered.id))

    with django_assert_max_num_queries(3) as captured:
        response = client.get(place_url(answered.id))

    assert response.status_code == 200
    sql = " ".join(query["sql"] for query in captured.captured_queries).lower()
    assert "embedding" not in sql and '"vector"' not in sql and '"code"' not in sql


@pytest.mark.parametrize("upload_id", ["3f0b5c1e-0000-4000-8000-000000000000", "not-an-id"])
def test_an_unknown_uploads_place_is_not_found(client, upload_id):
    response = client.get(place_url(upload_id))

    assert response.status_code == 404 and response.json() == {"error": "No upload with this id."}


@pytest.mark.parametrize(
    ("status", "message"),
    [("queued", "still being read"), ("processing", "still being read"), ("failed", "could not be read")],
)
def test_a_photo_not_answered_has_no_place_yet(client, status, message):
    upload = InspirationUpload.objects.create(image="uploads/x.png", status=status)

    response = client.get(place_url(upload.id))

    assert response.status_code == 409 and message in response.json()["error"]


def test_without_a_map_an_answered_photo_has_no_place(client):
    product = ProductFactory()
    upload = InspirationUpload.objects.create(
        image="uploads/x.png", status="done", results=[{"product_id": product.pk, "score": 0.9}]
    )

    response = client.get(place_url(upload.id))

    assert response.status_code == 404 and "no place" in response.json()["error"]


def test_the_map_page_offers_the_search_and_the_photo_button(client):
    html = client.get(reverse("recommender:map")).content.decode()

    assert 'role="search"' in html and f'data-url="{reverse("api:map_find")}"' in html
    assert 'role="listbox"' in html and 'id="map-photo"' in html


def test_the_results_page_links_to_the_photo_on_the_whole_map(client, answered):
    html = client.get(answered.get_absolute_url()).content.decode()

    assert f'href="/map/?upload={answered.id}"' in html and "See it on the whole map" in html
