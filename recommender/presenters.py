"""What a recommendation looks like to a page or an API client."""

from __future__ import annotations

from django.http import HttpRequest
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from catalog.colours import lab_hex, main_colour
from catalog.models import Product
from catalog.prices import currency
from catalog.variants import variant_label
from recommender.models import RetrainRun
from recommender.services.category_guesses import CategoryGuess
from recommender.services.furnishing import FurnishAnswer
from recommender.services.room_pieces import RoomPiece, RoomStrip


def colour_payload(colours: list | None) -> dict | None:
    """A main colour for API clients: CIELAB (D65) and its nearest sRGB as ``#rrggbb``; None when unknown."""
    main = main_colour(colours)
    return None if main is None else {"lab": main, "hex": lab_hex(main)}


def category_guesses_payload(guesses: list[CategoryGuess]) -> list[dict]:
    """What the photo looks like, for API clients: the slug the ``category`` filter takes, the name pages show."""
    return [{"slug": guess.slug, "name": guess.label, "probability": round(guess.probability, 3)} for guess in guesses]


def variant_payload(request: HttpRequest, product: Product) -> dict:
    image = product.thumbnail or product.image
    return {
        "sku": product.sku,
        "name": product.name,
        "label": variant_label(color=product.color, size=product.size, name=product.name, sku=product.sku),
        "color": product.color,
        "size": product.size,
        "url": request.build_absolute_uri(product.get_absolute_url()),
        "image": request.build_absolute_uri(image.url) if image else None,
    }


def product_card(request: HttpRequest, product: Product, score: float | None = None) -> dict:
    """A product as the API shows it; ``variants`` are its other colours and sizes when the caller grouped them
    (``recommender.services.variants.with_variants``), at most MAX_OPTIONS of ``variants_total``."""
    image = product.thumbnail or product.image
    variants = getattr(product, "variants", None)
    return {
        "sku": product.sku,
        "name": product.name,
        "url": request.build_absolute_uri(product.get_absolute_url()),
        "image": request.build_absolute_uri(image.url) if image else None,
        "category": product.category.slug,
        "category_name": product.category.label,
        "price": None if product.price is None else str(product.price),
        "currency": currency(),
        "price_is_demo": product.price_is_demo,
        "score": None if score is None else round(float(score), 4),
        "colour": colour_payload(product.colours),
        "variants": [variant_payload(request, option) for option in variants.options] if variants else [],
        "variants_total": variants.total if variants else 0,
    }


def piece_payload(request: HttpRequest, piece: RoomPiece) -> dict:
    """A piece found in the photo: its box (x, y, w, h as fractions of the photo), what it looks like, how sure the
    category head is, its own lookalikes, and ``group``: the index in ``groups`` of the strip it is shown in."""
    return {
        "box": list(piece.box),
        "category": piece.slug,
        "category_name": piece.label,
        "confidence": round(piece.confidence, 3),
        "results": [product_card(request, product, score) for product, score in piece.items],
        "group": piece.group,
    }


def strip_payload(request: HttpRequest, strip: RoomStrip) -> dict:
    """The pieces of one category, shown as one strip: their indexes in ``pieces`` and their merged lookalikes."""
    return {
        "category": strip.lead.slug,
        "category_name": strip.label,
        "pieces": [piece.number - 1 for piece in strip.pieces],
        "results": [product_card(request, product, score) for product, score in strip.items],
    }


def furnishing_payload(request: HttpRequest, answer: FurnishAnswer) -> dict:
    """A set within the shopper's budget: for each piece furnished (its index in ``pieces``), the product chosen and
    the swaps that keep the set within the budget, best first; ``fits`` false (and no items) when nothing fits, with
    the cheapest total any set reaches (None when no set can be made: a piece has no priced lookalike)."""
    result = answer.furnishing
    return {
        "budget": f"{result.budget:f}",
        "total": None if result.total is None else str(result.total),
        "currency": currency(),
        "fits": result.fits,
        "cheapest_total": None if result.cheapest_total is None else str(result.cheapest_total),
        "left_out_without_price": result.left_out_without_price,
        "pieces": [index for index, _ in answer.pieces],
        "items": [
            {
                "piece": item.index,
                "pinned": item.pinned,
                "product": product_card(request, item.product, item.score),
                "swaps": [product_card(request, product, score) for product, score, _ in item.swaps],
            }
            for item in answer.items
        ],
    }


def retrain_progress(run: RetrainRun) -> dict:
    """What staff see of a running pipeline: its stage, the step within it and how far, and the time left in the
    stage, extrapolated from its pace so far (None until there is a pace)."""
    progress = run.progress or {}
    done, total = progress.get("done"), progress.get("total")
    started, at = parse_datetime(progress.get("started") or ""), parse_datetime(progress.get("at") or "")
    left = None
    if done and total and started and at and done < total:
        left = round((at - started).total_seconds() / done * (total - done))
    return {
        "id": run.pk,
        "stage": run.stage,
        "step": progress.get("step"),
        "done": done,
        "total": total,
        "seconds_left": left,
        "running_seconds": round((timezone.now() - run.started_at).total_seconds()),
    }
