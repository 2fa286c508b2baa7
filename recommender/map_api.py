"""The catalog map's JSON API: the active index version's map meta, and its tiles as immutable files; products
found by name with their places, and where an answered photo lands.

The meta and the tiles touch neither the database nor a vector: the map is written once per index version at build
time (``recommender.maptiles``), so a request costs the same at any catalog size. Finding is one LIMITed name
query plus the serving index's positions; a photo's place is its stored answer plus the same positions.
"""

from __future__ import annotations

import re
import uuid
from pathlib import Path

from django.http import FileResponse, HttpRequest, HttpResponse, HttpResponseNotModified, JsonResponse
from django.urls import reverse
from django.utils.http import parse_etags

from recommender.api import allow, error
from recommender.index import active_version
from recommender.maptiles import map_meta, map_tile_path
from recommender.models import InspirationUpload
from recommender.services.indexing import MAP_DIR, index_root
from recommender.services.maps import Place, map_find, upload_place

# An index version's name, exactly as recommender.index.build makes it: nothing else reaches the file system.
VERSION_NAME = re.compile(r"[0-9]{8}T[0-9]{6}\.[0-9]{6}Z-[0-9a-f]{8}")
META_CACHE = "max-age=30"  # the active version changes at most once per build
TILE_CACHE = "public, max-age=31536000, immutable"  # a version's files never change; a new version has new URLs
CONTENT_TYPES = {"json": "application/json", "jpg": "image/jpeg"}
FIND_MAX_LENGTH = 100  # as the product list's search


def map_directory(version: str | None) -> Path | None:
    if not version or not VERSION_NAME.fullmatch(version):
        return None
    return index_root() / version / MAP_DIR


def tile_url_templates(version: str) -> dict[str, str]:
    """``{"json": "/api/map/<version>/tiles/{level}/{x}/{y}.json", "jpg": ...}``, from the URL configuration."""
    templates = {}
    for kind in CONTENT_TYPES:
        url = reverse("api:map_tile", args=[version, 0, 0, 0, kind])
        templates[kind] = url.removesuffix(f"0/0/0.{kind}") + "{level}/{x}/{y}." + kind
    return templates


@allow("GET")
def catalog_map_meta(request: HttpRequest) -> HttpResponse:
    """The active version's map: counts, tile geometry, categories with colours, overview points, tile URLs."""
    version = active_version(index_root())
    etag = f'"map-{version or "none"}"'
    if etag in parse_etags(request.headers.get("If-None-Match", "")):
        response = HttpResponseNotModified()
    else:
        directory = map_directory(version)
        meta = map_meta(directory) if directory is not None else None
        if meta is None:
            body = {"version": version, "count": 0, "levels": 0, "categories": [], "legend": [], "tiles": None}
        else:
            body = {**meta, "version": version, "tiles": tile_url_templates(version)}
            body.pop("build", None)
        response = JsonResponse(body)
    response["ETag"] = etag
    response["Cache-Control"] = META_CACHE
    return response


@allow("GET")
def catalog_map_tile(request: HttpRequest, version: str, level: int, x: int, y: int, kind: str) -> HttpResponse:
    """One tile's points (``.json``) or sprite sheet (``.jpg``); 404 unless it is a tile of an existing version."""
    directory = map_directory(version)
    path = map_tile_path(directory, level, x, y, kind) if directory is not None else None
    if path is None:
        return error("No such map tile.", 404)
    try:
        handle = open(path, "rb")  # noqa: SIM115  (FileResponse closes it)
    except FileNotFoundError:  # the version was collected between the check and the open
        return error("No such map tile.", 404)
    response = FileResponse(handle, content_type=CONTENT_TYPES[kind])
    response["Cache-Control"] = TILE_CACHE
    return response


def _place(place: Place | None) -> dict | None:
    return None if place is None else {"x": place.x, "y": place.y}


@allow("GET")
def catalog_map_find(request: HttpRequest) -> HttpResponse:
    """``?q=<text>``: up to ten active products whose name (or type) holds the text, or whose sku it is, each with
    its place on the map; ``place`` is null for a product saved since the serving index was built."""
    text = request.GET.get("q", "").strip()
    if not text:
        return error("Type part of a product's name, or its article number.", 400)
    if len(text) > FIND_MAX_LENGTH:
        return error(f"Type at most {FIND_MAX_LENGTH} characters.", 400)
    answer = map_find(text=text)
    results = []
    for found in answer.found:
        product = found.product
        image = product.thumbnail or product.image
        results.append(
            {
                "sku": product.sku,
                "name": product.name,
                "url": product.get_absolute_url(),
                "category": product.category.label,
                "thumbnail": image.url if image else None,
                "place": _place(found.place),
            }
        )
    return JsonResponse({"query": text, "results": results, "more": answer.more})


@allow("GET")
def upload_map_place(request: HttpRequest, upload_id: str) -> HttpResponse:
    """Where an answered photo lands on the map, and its matches' places: ``{x, y, matches: [{sku, name, x, y}]}``.
    404 for an unknown upload (or a map without a place for it), 409 while it is being read or when it failed."""
    try:
        key = uuid.UUID(upload_id)
    except ValueError:
        return error("No upload with this id.", 404)
    # Never the stored vector or latent code: the answer's ids and scores are all a place needs.
    upload = InspirationUpload.objects.filter(pk=key).only("id", "status", "results").first()
    if upload is None:
        return error("No upload with this id.", 404)
    if upload.status == InspirationUpload.Status.FAILED:
        return error("This photo could not be read, so it has no place on the map.", 409)
    if upload.status != InspirationUpload.Status.DONE:
        return error("Your photo is still being read: its place on the map is known once its lookalikes are.", 409)
    place = upload_place(results=[(row["product_id"], row["score"]) for row in upload.results])
    if place is None:
        return error("The map has no place for this photo yet: it appears once a trained model is live.", 404)
    return JsonResponse(
        {
            "id": str(upload.id),
            "x": place.photo.x,
            "y": place.photo.y,
            "matches": [
                {"sku": match.sku, "name": match.name, "x": match.place.x, "y": match.place.y}
                for match in place.matches
            ],
        }
    )
