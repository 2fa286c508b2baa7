import io
import struct
import zlib

import pytest
from django.core.exceptions import ValidationError
from PIL import Image

from catalog.images import open_upright_rgb, thumbnail_jpeg, validate_image_bytes
from tests.images import image_bytes


def png_declaring(width: int, height: int) -> bytes:
    """A PNG whose header declares width×height but whose data is tiny (a decompression bomb's header)."""
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    chunk = b"IHDR" + header
    ihdr = struct.pack(">I", len(header)) + chunk + struct.pack(">I", zlib.crc32(chunk))
    data = zlib.compress(b"\x00" * 16)
    idat = struct.pack(">I", len(data)) + b"IDAT" + data + struct.pack(">I", zlib.crc32(b"IDAT" + data))
    iend = struct.pack(">I", 0) + b"IEND" + struct.pack(">I", zlib.crc32(b"IEND"))
    return b"\x89PNG\r\n\x1a\n" + ihdr + idat + iend


@pytest.mark.parametrize("format", ["JPEG", "PNG", "WEBP"])
def test_accepts_jpeg_png_and_webp(format):
    info = validate_image_bytes(image_bytes(format=format, size=(40, 30)))

    assert (info.format, info.width, info.height) == (format, 40, 30)


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (b"", "empty"),
        (b"just some text, not a picture", "not_image"),
        (image_bytes()[:300], "corrupt"),
        (image_bytes(format="GIF"), "format"),
        (png_declaring(30000, 30000), "too_many_pixels"),
    ],
    ids=["empty", "text", "truncated", "gif", "bomb"],
)
def test_rejects_unusable_files_with_a_readable_reason(data, code):
    with pytest.raises(ValidationError) as caught:
        validate_image_bytes(data)

    assert caught.value.code == code
    assert caught.value.messages[0][0].isupper()


def test_rejects_more_pixels_than_the_limit(settings):
    settings.IMAGE_MAX_PIXELS = 1000

    with pytest.raises(ValidationError, match="limit is 0 megapixels") as caught:
        validate_image_bytes(image_bytes(size=(50, 50)))

    assert caught.value.code == "too_many_pixels"


def test_rejects_files_over_the_size_limit(settings):
    settings.IMAGE_MAX_BYTES = 100

    with pytest.raises(ValidationError) as caught:
        validate_image_bytes(image_bytes())

    assert caught.value.code == "too_large"


def test_exif_rotated_photo_comes_out_upright():
    landscape = Image.new("RGB", (60, 20), "red")
    exif = landscape.getexif()
    exif[0x0112] = 6  # "rotate 90° clockwise to display"
    buffer = io.BytesIO()
    landscape.save(buffer, format="JPEG", exif=exif)

    upright = open_upright_rgb(buffer.getvalue())

    assert upright.size == (20, 60)


def test_thumbnail_fits_the_box_and_flattens_transparency_on_white():
    transparent = Image.new("RGBA", (400, 200), (0, 0, 0, 0))
    buffer = io.BytesIO()
    transparent.save(buffer, format="PNG")

    thumbnail = Image.open(io.BytesIO(thumbnail_jpeg(buffer.getvalue(), size=100)))

    assert thumbnail.size == (100, 50)
    assert min(thumbnail.getpixel((50, 25))) > 245
