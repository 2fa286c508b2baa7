"""Hostile and unusual files, through every door a file comes in: the upload form, the API, admin and
import_catalog. Each is refused with a clear 4xx message and leaves nothing behind, or — the photos a
shopper can really have (EXIF-rotated, CMYK, 16-bit) — is accepted and handled correctly."""

import io
import json
import struct
import zlib
from io import StringIO

import numpy as np
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from PIL import Image

from catalog.images import open_upright_rgb
from catalog.models import Product
from recommender.models import InspirationUpload
from tests.catalog.factories import CategoryFactory
from tests.images import image_bytes

pytestmark = pytest.mark.django_db


def encoded(image: Image.Image, format: str, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=format, **options)
    return buffer.getvalue()


def png_bomb(width: int = 30000, height: int = 30000) -> bytes:
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    chunk = b"IHDR" + header
    data = zlib.compress(b"\x00" * 64)
    return b"".join(
        [
            b"\x89PNG\r\n\x1a\n",
            struct.pack(">I", len(header)) + chunk + struct.pack(">I", zlib.crc32(chunk)),
            struct.pack(">I", len(data)) + b"IDAT" + data + struct.pack(">I", zlib.crc32(b"IDAT" + data)),
            struct.pack(">I", 0) + b"IEND" + struct.pack(">I", zlib.crc32(b"IEND")),
        ]
    )


def animated_gif() -> bytes:
    frames = [Image.new("RGB", (20, 20), colour) for colour in ("red", "blue")]
    return encoded(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)


def exif_rotated() -> bytes:
    landscape = Image.new("RGB", (80, 40), "red")
    exif = landscape.getexif()
    exif[0x0112] = 6
    return encoded(landscape, "JPEG", exif=exif)


def cmyk_jpeg() -> bytes:
    return encoded(Image.new("CMYK", (40, 40), (0, 255, 255, 0)), "JPEG")


def sixteen_bit_png() -> bytes:
    levels = np.full((40, 40), 32768, dtype=np.uint16)  # mid grey in 16 bits
    return encoded(Image.fromarray(levels), "PNG")


REJECTED = {
    "empty file": (b"", "photo.jpg", 400, "empty"),
    "text named .jpg": (b"hello, I am text", "photo.jpg", 400, "not an image"),
    "truncated JPEG": (image_bytes(size=(200, 200))[:500], "photo.jpg", 400, "damaged or incomplete"),
    "decompression bomb": (png_bomb(), "bomb.png", 400, "megapixels"),
    "animated GIF": (animated_gif(), "moving.gif", 400, "GIF images are not supported"),
    "HTML disguised": (b"<html><script>alert(1)</script></html>", "photo.jpg", 400, "not an image"),
    "SVG disguised": (b'<svg xmlns="http://www.w3.org/2000/svg"><script/></svg>', "a.png", 400, "not an image"),
}  # fmt: skip


def media_files(root) -> list:
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


@pytest.mark.parametrize("case", list(REJECTED), ids=list(REJECTED))
def test_the_api_refuses_hostile_files_with_a_clear_message_and_keeps_nothing(client, isolated_media, case):
    data, name, status, message = REJECTED[case]

    response = client.post("/api/uploads", {"image": SimpleUploadedFile(name, data)})

    assert response.status_code == status
    assert message in response.json()["error"]
    assert not InspirationUpload.objects.exists()
    assert media_files(isolated_media) == []


@pytest.mark.parametrize("case", list(REJECTED), ids=list(REJECTED))
def test_the_upload_form_refuses_hostile_files_with_a_clear_message(client, isolated_media, case):
    data, name, status, message = REJECTED[case]

    response = client.post("/", {"image": SimpleUploadedFile(name, data)})

    assert response.status_code == status
    assert message in response.content.decode()
    assert media_files(isolated_media) == []


def test_a_request_with_no_file_is_a_400(client):
    response = client.post("/api/uploads", {"category": ""})

    assert response.status_code == 400 and "Choose a photo" in response.json()["error"]


def test_a_file_over_the_size_limit_is_a_413(client, settings, isolated_media):
    settings.IMAGE_MAX_BYTES = 1000

    response = client.post("/api/uploads", {"image": SimpleUploadedFile("big.jpg", image_bytes(size=(400, 400)))})

    assert response.status_code == 413 and "larger than" in response.json()["error"]
    assert media_files(isolated_media) == []


@pytest.mark.parametrize("name", ["../../etc/passwd.jpg", "фото дивана ☺.jpg", "..\\..\\boot.ini.jpg"])
def test_file_names_never_reach_the_disk(client, isolated_media, name):
    response = client.post("/api/uploads", {"image": SimpleUploadedFile(name, image_bytes())})

    upload = InspirationUpload.objects.get(pk=response.json()["id"])
    assert response.status_code == 202
    assert upload.image.name.endswith(f"{upload.pk}.jpg")
    assert all(".." not in str(p.relative_to(isolated_media)) for p in media_files(isolated_media))


@pytest.mark.parametrize(
    ("data", "check"),
    [
        (exif_rotated(), lambda image: image.size == (40, 80)),
        (cmyk_jpeg(), lambda image: image.mode == "RGB" and image.getpixel((20, 20))[0] > 200),
        (sixteen_bit_png(), lambda image: image.mode == "RGB" and 120 <= image.getpixel((20, 20))[0] <= 135),
    ],
    ids=["EXIF rotation comes out upright", "CMYK becomes RGB red", "16-bit grey stays mid grey"],
)
def test_real_photos_of_unusual_kinds_are_accepted_and_handled_correctly(client, data, check):
    response = client.post("/api/uploads", {"image": SimpleUploadedFile("photo", data)})

    assert response.status_code == 202
    upload = InspirationUpload.objects.get(pk=response.json()["id"])
    with upload.image.open("rb") as stored:
        assert check(open_upright_rgb(stored.read()))


@pytest.mark.parametrize("case", list(REJECTED), ids=list(REJECTED))
def test_admin_refuses_hostile_product_photos(admin_client, isolated_media, case):
    data, name, _, message = REJECTED[case]
    category = CategoryFactory()

    response = admin_client.post(
        "/admin/catalog/product/add/",
        {
            "sku": "H1",
            "name": "Hostile",
            "category": category.pk,
            "is_active": "on",
            "image": SimpleUploadedFile(name, data),
        },
    )

    assert response.status_code == 200
    assert message.lower() in str(response.context["adminform"].form.errors["image"]).lower()
    assert not Product.objects.exists()
    assert media_files(isolated_media) == []


def test_import_catalog_reports_hostile_images_and_imports_the_good_ones(tmp_path, isolated_media):
    items = []
    for n, case in enumerate(REJECTED):
        data, name, _, _ = REJECTED[case]
        (tmp_path / f"{n}.img").write_bytes(data)
        items.append({"sku": f"bad-{n}", "name": case, "category": "sofa", "image": f"{n}.img"})
    for n, data in enumerate([exif_rotated(), cmyk_jpeg(), sixteen_bit_png()]):
        (tmp_path / f"good-{n}.img").write_bytes(data)
        items.append({"sku": f"good-{n}", "name": f"Good {n}", "category": "sofa", "image": f"good-{n}.img"})
    (tmp_path / "catalog.json").write_text(json.dumps(items))
    out = StringIO()

    call_command("import_catalog", str(tmp_path), verbosity=0, stdout=out)

    assert f"Created 3, updated 0, unchanged 0, skipped {len(REJECTED)}" in out.getvalue()
    assert sorted(Product.objects.values_list("sku", flat=True)) == ["good-0", "good-1", "good-2"]
    rotated = Product.objects.get(sku="good-0")
    assert rotated.thumbnail.width < rotated.thumbnail.height  # the thumbnail is upright
    assert len(media_files(isolated_media)) == 6  # three images and three thumbnails, nothing of the rejected rows


def test_an_oversized_body_is_refused_while_it_streams_and_never_spooled_to_disk(client, settings, monkeypatch):
    """A 12 MB photo against a 10 MB limit: the handler stops reading at the limit; no temporary file is made."""
    from django.core.files import uploadedfile

    settings.IMAGE_MAX_BYTES = 10 * 1024 * 1024
    spooled = []
    monkeypatch.setattr(
        uploadedfile.tempfile, "NamedTemporaryFile", lambda *args, **kwargs: spooled.append(args) or None
    )
    huge = SimpleUploadedFile("huge.jpg", b"\xff\xd8" + b"\0" * (12 * 1024 * 1024), content_type="image/jpeg")
    received = []
    from config import upload_handlers

    original = upload_handlers.ImageSizeLimitHandler.receive_data_chunk
    monkeypatch.setattr(
        upload_handlers.ImageSizeLimitHandler,
        "receive_data_chunk",
        lambda self, data, start: received.append(len(data)) or original(self, data, start),
    )

    response = client.post("/api/uploads", {"image": huge})

    assert response.status_code == 413 and "larger than 10 MB" in response.json()["error"]
    assert spooled == []
    assert sum(received) <= settings.IMAGE_MAX_BYTES + 64 * 1024  # read up to the limit and one chunk more
    assert not InspirationUpload.objects.exists()
