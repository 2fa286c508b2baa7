"""The catalog map's JSON API: the active index version's map meta, and its tiles as immutable files.

Neither view touches the database or a vector: the map is written once per index version at build time
(``recommender.maptiles``), so a request costs the same at any catalog size.
"""

from __future__ import annotations

import re
from pathlib import Path

from django.http import FileResponse, HttpRequest, HttpResponse, HttpResponseNotModified, JsonResponse
from django.urls import reverse
from django.utils.http import parse_etags

from recommender.api import allow, error
from recommender.index import active_version
from recommender.maptiles import map_meta, map_tile_path
from recommender.services.indexing import MAP_DIR, index_root

# An index version's name, exactly as recommender.index.build makes it: nothing else reaches the file system.
VERSION_NAME = re.compile(r"[0-9]{8}T[0-9]{6}\.[0-9]{6}Z-[0-9a-f]{8}")
META_CACHE = "max-age=30"  # the active version changes at most once per build
TILE_CACHE = "public, max-age=31536000, immutable"  # a version's files never change; a new version has new URLs
CONTENT_TYPES = {"json": "application/json", "jpg": "image/jpeg"}


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
