"""Images drawn by the tests themselves."""

import io

from PIL import Image, ImageDraw


def image_bytes(*, color: str = "steelblue", size: tuple[int, int] = (64, 48), format: str = "JPEG", **save) -> bytes:
    image = Image.new("RGB", size, "white")
    draw = ImageDraw.Draw(image)
    draw.rectangle([size[0] // 4, size[1] // 4, size[0] * 3 // 4, size[1] * 3 // 4], fill=color)
    buffer = io.BytesIO()
    image.save(buffer, format=format, **save)
    return buffer.getvalue()
