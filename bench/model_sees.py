"""Is "what the model sees" recognisable? The decoder's redrawing of a photo, measured against the photo.

    DATABASE_URL=... VAR_DIR=... python bench/model_sees.py --per-class 30 --catalog 50
    python bench/model_sees.py --version enc-20261130-021736-cc42 --json var/model-sees.json

It uses the live encoder of the database in the environment (DATABASE_URL, VAR_DIR; ``--version`` for another)
and touches nothing: on PostgreSQL its session is read-only, and it writes no file unless ``--json`` is given.
Each photo goes through the product's own path: ``encode_query`` (the backbone and the "similar" head, as a
worker answers an upload), the latent code kept as float16 (as the upload row keeps it), then
``reconstruct_codes`` (the decoder). The redrawing is compared with the reference: the photo letterboxed on
white at the decoder's size, exactly as the decoder's training targets are made (``recon_target``).

The photos: the web photos of the dev data (default ../shared/data/webphotos, ``--per-class`` a class, drawn
with ``--seed``: photos like a shopper's) and a seeded sample of the catalog's own active product pictures
(``--catalog``: the clean shots the decoder was trained to redraw). Per photo:

- ΔE mean colour: CIE76 distance in CIELAB between the mean colour of the reference and of the redrawing, both
  over the object region: the pixels of the reference that are not its light, neutral background joined to the
  border (the studio white of a product shot, the letterbox, a white wall at the edge of a room photo);
- ΔE per pixel: the mean CIE76 distance pixel by pixel over the same region;
- SSIM: structural similarity of the luminance (Y of ITU-R BT.601) over the whole picture, with the standard
  11×11 Gaussian window (σ = 1.5) and constants K1 = 0.01, K2 = 0.03 (Wang et al. 2004).

Beside the decoder, the same figures for a flat mid-grey picture (a "grey blob") say what no picture at all
scores. It prints a markdown table of the means and the share of photos that pass the threshold
(``--min-ssim``, ``--max-delta-e``).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.colour import sample_per_class, web_photos  # noqa: E402
from catalog.colours import BACKGROUND_CHROMA, BACKGROUND_LIGHTNESS, srgb_to_lab  # noqa: E402

SSIM_WINDOW = 11
SSIM_SIGMA = 1.5
SSIM_K1, SSIM_K2, SSIM_RANGE = 0.01, 0.03, 255.0
MIN_SSIM = 0.5  # what "recognisable" asks of the silhouette and structure
MAX_DELTA_E = 10.0  # ... and of the mean colour: beyond this, a red sofa is no longer the same red
GREY = (128, 128, 128)


def luminance(rgb: np.ndarray) -> np.ndarray:
    """sRGB (H, W, 3) in 0–255 → luma Y (H, W) in 0–255 (ITU-R BT.601 weights, as SSIM is usually reported)."""
    return np.asarray(rgb, dtype=np.float64) @ np.array([0.299, 0.587, 0.114])


def _gaussian_window(size: int = SSIM_WINDOW, sigma: float = SSIM_SIGMA) -> np.ndarray:
    offsets = np.arange(size, dtype=np.float64) - (size - 1) / 2
    weights = np.exp(-(offsets**2) / (2 * sigma**2))
    return weights / weights.sum()


def _filter_valid(image: np.ndarray, window: np.ndarray) -> np.ndarray:
    """The separable filter of ``image`` (H, W) by ``window`` (n,) in both directions, where it fits ('valid')."""
    rows = np.apply_along_axis(lambda line: np.convolve(line, window, mode="valid"), 1, image)
    return np.apply_along_axis(lambda line: np.convolve(line, window, mode="valid"), 0, rows)


def ssim(first: np.ndarray, second: np.ndarray) -> float:
    """The mean SSIM of two grey images of the same shape (H, W), values in 0–255; H and W at least the window.
    1.0 for identical images; near 0 or below when the structure differs or is inverted."""
    x, y = np.asarray(first, dtype=np.float64), np.asarray(second, dtype=np.float64)
    if x.shape != y.shape or x.ndim != 2 or min(x.shape) < SSIM_WINDOW:
        raise ValueError(f"two grey images alike in shape, {SSIM_WINDOW} px a side at least: {x.shape}, {y.shape}")
    window = _gaussian_window()
    c1, c2 = (SSIM_K1 * SSIM_RANGE) ** 2, (SSIM_K2 * SSIM_RANGE) ** 2
    mu_x, mu_y = _filter_valid(x, window), _filter_valid(y, window)
    var_x = _filter_valid(x * x, window) - mu_x**2
    var_y = _filter_valid(y * y, window) - mu_y**2
    covariance = _filter_valid(x * y, window) - mu_x * mu_y
    index = ((2 * mu_x * mu_y + c1) * (2 * covariance + c2)) / ((mu_x**2 + mu_y**2 + c1) * (var_x + var_y + c2))
    return float(index.mean())


def object_region(reference_lab: np.ndarray) -> np.ndarray:
    """The pixels (H, W) that are not the light, neutral background joined to the border (the same criterion as
    a product's main colours, ``catalog.colours``); the whole picture when that leaves almost nothing."""
    from catalog.colours import _border_connected

    chroma = np.hypot(reference_lab[..., 1], reference_lab[..., 2])
    background = _border_connected((reference_lab[..., 0] > BACKGROUND_LIGHTNESS) & (chroma < BACKGROUND_CHROMA))
    region = ~background
    return region if region.mean() >= 0.03 else np.ones_like(region)


@dataclass(frozen=True)
class Measure:
    """One photo's redrawing (or the grey blob's) against the photo."""

    photo: str
    source: str  # "web: <class>" or "catalog"
    drawer: str  # "decoder" or "grey blob"
    delta_e_mean_colour: float
    delta_e_per_pixel: float
    ssim: float
    region_share: float


def compare(photo: str, source: str, drawer: str, reference: Image.Image, drawing: Image.Image) -> Measure:
    """The figures of ``drawing`` against ``reference`` (both RGB, the same size)."""
    ref = np.asarray(reference.convert("RGB"), dtype=np.float64)
    out = np.asarray(drawing.convert("RGB"), dtype=np.float64)
    if ref.shape != out.shape:
        raise ValueError(f"the drawing is {out.shape}, the reference {ref.shape}")
    ref_lab, out_lab = srgb_to_lab(ref), srgb_to_lab(out)
    region = object_region(ref_lab)
    mean_ref, mean_out = ref_lab[region].mean(axis=0), out_lab[region].mean(axis=0)
    return Measure(
        photo=photo,
        source=source,
        drawer=drawer,
        delta_e_mean_colour=float(np.linalg.norm(mean_ref - mean_out)),
        delta_e_per_pixel=float(np.linalg.norm(ref_lab[region] - out_lab[region], axis=1).mean()),
        ssim=ssim(luminance(ref), luminance(out)),
        region_share=float(region.mean()),
    )


def passes(measure: Measure, *, min_ssim: float, max_delta_e: float) -> bool:
    return measure.ssim >= min_ssim and measure.delta_e_mean_colour <= max_delta_e


def summarise(measures: list[Measure], *, min_ssim: float, max_delta_e: float) -> list[dict]:
    """One row per (photos, drawer): web photos together, then each web class, then the catalog sample."""
    groups: dict[tuple[str, str], list[Measure]] = {}
    for m in measures:
        kind = "web photos" if m.source.startswith("web") else m.source
        groups.setdefault((kind, m.drawer), []).append(m)
        if m.source.startswith("web"):
            groups.setdefault((m.source, m.drawer), []).append(m)
    order = sorted(groups, key=lambda key: (key[0] != "web photos", key[0] == "catalog", key[0], key[1] != "decoder"))
    return [
        {
            "photos": kind,
            "drawer": drawer,
            "count": len(group),
            "delta_e_mean_colour": statistics.fmean(m.delta_e_mean_colour for m in group),
            "delta_e_per_pixel": statistics.fmean(m.delta_e_per_pixel for m in group),
            "ssim": statistics.fmean(m.ssim for m in group),
            "ssim_median": statistics.median(m.ssim for m in group),
            "recognisable": statistics.fmean(
                passes(m, min_ssim=min_ssim, max_delta_e=max_delta_e) for m in group
            ),  # fmt: skip
        }
        for kind, drawer in order
        for group in [groups[(kind, drawer)]]
    ]


def markdown(rows: list[dict], *, min_ssim: float, max_delta_e: float) -> str:
    head = [
        "photos", "drawer", "n", "ΔE mean colour", "ΔE per pixel", "SSIM (mean)", "SSIM (median)",
        f"share with SSIM ≥ {min_ssim:g} and ΔE ≤ {max_delta_e:g}",
    ]  # fmt: skip
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for row in rows:
        cells = [
            row["photos"], row["drawer"], str(row["count"]), f"{row['delta_e_mean_colour']:.1f}",
            f"{row['delta_e_per_pixel']:.1f}", f"{row['ssim']:.3f}", f"{row['ssim_median']:.3f}",
            f"{row['recognisable']:.0%}",
        ]  # fmt: skip
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


@contextmanager
def read_only_session() -> Iterator[None]:
    """On PostgreSQL, every transaction of the session is read-only while inside: the bench cannot write by
    mistake to the database it measures."""
    from django.db import connection

    if connection.vendor != "postgresql":
        yield
        return
    with connection.cursor() as cursor:
        cursor.execute("SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY")
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SET SESSION CHARACTERISTICS AS TRANSACTION READ WRITE")


def catalog_sample(count: int, seed: int) -> list:
    """``count`` active products with a picture, drawn with ``seed`` from their ids (one query for the ids, one
    for the sample)."""
    from catalog.models import Product

    if count <= 0:
        return []
    ids = list(Product.objects.filter(is_active=True).exclude(image="").order_by("pk").values_list("pk", flat=True))
    chosen = sorted(random.Random(seed).sample(ids, min(count, len(ids))))
    return list(Product.objects.filter(pk__in=chosen).order_by("pk"))


def measure_photo(encoder, name: str, source: str, picture: Image.Image) -> list[Measure]:
    """The decoder's redrawing of ``picture`` through the product's own path, and the grey blob, measured."""
    from encoders.inference import encode_query, reconstruct_codes
    from encoders.preprocess import letterbox
    from recommender.services.vectors import vector_bytes, vector_from_bytes

    code = encode_query(encoder, picture).code
    code = vector_from_bytes(vector_bytes(code))  # kept on the upload as float16, drawn from there
    drawing = reconstruct_codes(encoder, np.asarray([code]))[0]
    side = drawing.size[0]
    reference = letterbox(picture, size=side, fill=encoder.preprocess["letterbox_fill"])
    blob = Image.new("RGB", (side, side), GREY)
    return [compare(name, source, "decoder", reference, drawing), compare(name, source, "grey blob", reference, blob)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--photos", type=Path, default=ROOT.parent / "shared" / "data" / "webphotos")
    parser.add_argument("--per-class", type=int, default=30, help="web photos a class (0: all)")
    parser.add_argument("--catalog", type=int, default=50, help="catalog product pictures (0: none)")
    parser.add_argument("--version", help="an encoder version's name (default: the live one)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--min-ssim", type=float, default=MIN_SSIM)
    parser.add_argument("--max-delta-e", type=float, default=MAX_DELTA_E)
    parser.add_argument("--json", type=Path, help="also write every photo's figures here")
    args = parser.parse_args()

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    from catalog.images import open_upright_rgb_image
    from encoders.lifecycle import encoder_load
    from encoders.models import EncoderVersion
    from encoders.versions import active_encoder_version

    with read_only_session():
        version = EncoderVersion.objects.filter(name=args.version).first() if args.version else active_encoder_version()
        if version is None:
            raise SystemExit(f"no encoder version {args.version!r}" if args.version else "no encoder is live")
        encoder = encoder_load(version)
        photos, _ = web_photos(args.photos) if args.photos.is_dir() else ([], {})
        photos = sample_per_class(photos, args.per_class, args.seed)
        products = catalog_sample(args.catalog, args.seed)
        measures: list[Measure] = []
        started = time.monotonic()
        for path, photo_class in photos:
            with Image.open(path) as opened:
                picture = open_upright_rgb_image(opened)
            measures += measure_photo(encoder, path.name, f"web: {photo_class}", picture)
        for product in products:
            with product.image.open("rb") as handle, Image.open(handle) as opened:
                picture = open_upright_rgb_image(opened)
            measures += measure_photo(encoder, product.sku, "catalog", picture)
    if not measures:
        raise SystemExit(f"no photos under {args.photos} and no catalog products")
    print(
        f"encoder {version.name} (decoder {encoder.preprocess['recon_size']} px): {len(photos)} web photos and "
        f"{len(products)} catalog pictures in {time.monotonic() - started:.0f} s\n"
    )
    thresholds = {"min_ssim": args.min_ssim, "max_delta_e": args.max_delta_e}
    rows = summarise(measures, **thresholds)
    print(markdown(rows, **thresholds))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"summary": rows, "photos": [asdict(m) for m in measures]}, indent=1))


if __name__ == "__main__":
    main()
