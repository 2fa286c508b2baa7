"""Checking and transforming image files: one place that decides what counts as a usable image."""

import io
from dataclasses import dataclass
from typing import BinaryIO

import numpy as np
from django.conf import settings
from django.core.exceptions import ValidationError
from PIL import Image, ImageOps, UnidentifiedImageError

ALLOWED_FORMATS = {"JPEG": "jpg", "PNG": "png", "WEBP": "webp"}


@dataclass(frozen=True)
class ImageInfo:
    format: str
    width: int
    height: int

    @property
    def extension(self) -> str:
        return ALLOWED_FORMATS[self.format]


def _read_limited(file: BinaryIO, max_bytes: int) -> bytes:
    if hasattr(file, "seek"):
        file.seek(0)
    data = file.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise ValidationError(
            "The image is larger than %(limit)s MB. Please choose a smaller file.",
            code="too_large",
            params={"limit": max_bytes // (1024 * 1024)},
        )
    return data


def validate_image_bytes(data: bytes, *, decode: bool = True) -> ImageInfo:
    """Raise ``ValidationError`` with a readable message unless ``data`` is a whole JPEG, PNG or WebP image
    within the size and pixel limits. The pixel count is checked from the header, before decoding; with
    ``decode=False`` the caller decodes it itself (``upright_jpeg`` does, and reports damage the same way)."""
    max_bytes = settings.IMAGE_MAX_BYTES
    max_pixels = settings.IMAGE_MAX_PIXELS
    if not data:
        raise ValidationError("The file is empty.", code="empty")
    if len(data) > max_bytes:
        raise ValidationError(
            "The image is larger than %(limit)s MB. Please choose a smaller file.",
            code="too_large",
            params={"limit": max_bytes // (1024 * 1024)},
        )
    try:
        with Image.open(io.BytesIO(data)) as image:
            if image.format not in ALLOWED_FORMATS:
                raise ValidationError(
                    "%(format)s images are not supported. Please use a JPEG, PNG or WebP photo.",
                    code="format",
                    params={"format": image.format or "This kind of"},
                )
            width, height = image.size
            if width * height > max_pixels:
                raise ValidationError(
                    "The image is %(width)s×%(height)s pixels; the limit is %(limit)s megapixels.",
                    code="too_many_pixels",
                    params={"width": width, "height": height, "limit": max_pixels // 1_000_000},
                )
            if getattr(image, "n_frames", 1) > 1:
                raise ValidationError("Animated images are not supported. Please use a still photo.", code="animated")
            if decode:
                image.load()  # decode everything: a truncated file fails here, not later in a worker
            return ImageInfo(format=image.format, width=width, height=height)
    except UnidentifiedImageError:
        raise ValidationError("The file is not an image Lookalike can read (JPEG, PNG or WebP).", code="not_image")
    except Image.DecompressionBombError:
        raise ValidationError(
            "The image declares more than %(limit)s megapixels.",
            code="too_many_pixels",
            params={"limit": max_pixels // 1_000_000},
        )
    except (OSError, SyntaxError, ValueError) as error:
        raise ValidationError(
            "The image is damaged or incomplete (%(detail)s).", code="corrupt", params={"detail": error}
        )


def validate_image_file(file: BinaryIO, *, decode: bool = True) -> tuple[bytes, ImageInfo]:
    """Read at most the size limit from ``file`` and validate it; returns the bytes and what they are."""
    data = _read_limited(file, settings.IMAGE_MAX_BYTES)
    return data, validate_image_bytes(data, decode=decode)


def open_upright_rgb(data: bytes) -> Image.Image:
    """Decode an already validated image, turn it upright by its EXIF orientation, flatten alpha onto white."""
    with Image.open(io.BytesIO(data)) as image:
        return open_upright_rgb_image(image)


def open_upright_rgb_image(image: Image.Image) -> Image.Image:
    """``open_upright_rgb`` of an opened image."""
    image = ImageOps.exif_transpose(image)
    if image.mode.startswith("I"):  # 16-bit (or 32-bit) grayscale: scale to 8 bits, not clip at 255
        levels = np.asarray(image, dtype=np.float64)
        scale = 255.0 / 65535.0 if levels.max() > 255 else 1.0
        image = Image.fromarray(np.clip(levels * scale, 0, 255).astype(np.uint8))
    if image.mode in ("RGBA", "LA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        flattened = Image.new("RGB", rgba.size, (255, 255, 255))
        flattened.paste(rgba, mask=rgba.getchannel("A"))
        return flattened
    return image.convert("RGB")


def thumbnail_jpeg(data: bytes, *, size: int) -> bytes:
    """A JPEG that fits in ``size``×``size`` pixels, upright, on white."""
    image = open_upright_rgb(data)
    image.thumbnail((size, size), Image.Resampling.LANCZOS)
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=85, optimize=True)
    return buffer.getvalue()


def upright_jpeg(data: bytes, *, max_side: int, quality: int = 90) -> bytes:
    """Re-encode a header-checked image (``validate_image_bytes(decode=False)``) as an upright JPEG of at most
    ``max_side`` pixels a side, on white, with no metadata: EXIF (GPS included) never reaches the disk. A JPEG
    is decoded straight at a reduced scale (``draft``), so a 12-megapixel photo costs a fraction of a full
    decode. A damaged file raises the same ``ValidationError`` as ``validate_image_bytes``."""
    try:
        with Image.open(io.BytesIO(data)) as image:
            if image.format == "JPEG":
                image.draft("RGB", (max_side, max_side))  # the smallest scale still at least max_side
            rgb = open_upright_rgb_image(image)
    except (OSError, SyntaxError, ValueError) as error:
        raise ValidationError(
            "The image is damaged or incomplete (%(detail)s).", code="corrupt", params={"detail": error}
        )
    rgb.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
    buffer = io.BytesIO()
    rgb.save(buffer, format="JPEG", quality=quality)
    return buffer.getvalue()
