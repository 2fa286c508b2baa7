"""The JSON API. Bad input answers 400 with {"error": message}, a file over the limit 413, unknown ids 404."""

from __future__ import annotations

import json
import uuid
from functools import wraps

from django.http import HttpRequest, HttpResponseRedirect, JsonResponse
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.csrf import csrf_exempt

from catalog.models import Product
from config.ratelimit import TOO_MANY_ANSWERS, TOO_MANY_UPLOADS, allowed, upload_allowed
from config.upload_handlers import upload_too_large
from recommender.models import InspirationUpload
from recommender.presenters import (
    category_guesses_payload,
    colour_payload,
    furnishing_payload,
    piece_payload,
    product_card,
    strip_payload,
)
from recommender.services.category_guesses import category_guesses
from recommender.services.feedback import FeedbackRejected, feedback_record, parse_feedback
from recommender.services.furnishing import FurnishRequest, parse_furnish_request, room_furnish
from recommender.services.notify import upload_state, upload_state_final, wait_for_change
from recommender.services.refine import upload_results
from recommender.services.room_pieces import room_view
from recommender.services.search import Filters, goes_with_products, products_in_order, similar_products
from recommender.services.uploads import UploadRejected, parse_filters, upload_create_from_post
from recommender.services.variants import with_variants

MAX_K = 50
MAX_WAIT_SECONDS = 30


def error(message: str, status: int) -> JsonResponse:
    return JsonResponse({"error": message}, status=status)


def allow(method: str):
    """Django's ``require_GET``/``require_POST`` answer 405 with an empty HTML body; here it is JSON, like every
    other error of the API."""

    def decorator(view):
        @wraps(view)
        def checked(request: HttpRequest, *args, **kwargs):
            if request.method != method:
                response = error(f"Use {method} here.", 405)
                response["Allow"] = method
                return response
            return view(request, *args, **kwargs)

        return checked

    return decorator


def parse_k(request: HttpRequest) -> int:
    text = request.GET.get("k", "10")
    # isdigit() alone accepts digits such as "²" that int() cannot read
    if not (text.isascii() and text.isdigit()) or not 1 <= int(text) <= MAX_K:
        raise UploadRejected(f"k must be a whole number from 1 to {MAX_K}.")
    return int(text)


def upload_payload(
    request: HttpRequest,
    upload: InspirationUpload,
    filters: Filters | None = None,
    furnish: FurnishRequest | None = None,
) -> dict:
    """The upload with its answer, one card per group of variants; with ``filters`` (``category``, ``max_price``,
    ``colour=same``) the stored vector searched again, as on the results page. ``categories``: what the photo
    looks like, most likely first (empty when the encoder has no category head). ``kind``: "room" or "piece", as
    the page first answers it; ``pieces``: what was found in the photo, each with its own lookalikes (``results``
    stays the photo answered as one piece); ``groups``: the pieces of each category, shown as one strip (each
    piece's ``group`` indexes it); ``complements``: what goes well with those pieces; ``everything``: every
    piece's lookalikes merged, each product once with its best score (the page's "Everything in this room").
    ``furnishing``: with ``furnish`` (``budget``, ``pieces``, ``pick``), one product per piece within the budget
    (one piece of each kind unless ``pieces`` ticks others); None when no budget
    was asked or no pieces were found. Raises UploadRejected when ``furnish`` names a piece the photo lacks."""
    cards = []
    if upload.status == InspirationUpload.Status.DONE:
        if filters is None:
            stored = [(row["product_id"], row["score"]) for row in upload.results]
            cards = with_variants(products_in_order(stored))
        else:
            cards = upload_results(upload=upload, filters=filters).items
    room = room_view(upload=upload)
    furnishing = None
    if furnish is not None and room.pieces:
        furnishing = furnishing_payload(request, room_furnish(room=room, request=furnish))
    return {
        "id": str(upload.id),
        "status": upload.status,
        "state": upload_state(upload),
        "error": upload.error or None,
        "colour": colour_payload(upload.colours),
        "categories": category_guesses_payload(category_guesses(upload=upload)),
        "results": [product_card(request, product, score) for product, score in cards],
        "kind": upload.kind,
        "pieces": [piece_payload(request, piece) for piece in room.pieces],
        "groups": [strip_payload(request, strip) for strip in room.strips],
        "complements": [product_card(request, product, score) for product, score in room.complements],
        "everything": [product_card(request, product, score) for product, score in room.everything],
        "furnishing": furnishing,
        "reconstruction": None,  # "what the model sees" is staff-only now (admin); kept for older clients
    }


def parse_wait(request: HttpRequest) -> float:
    text = request.GET.get("wait", "0")
    try:
        seconds = float(text)
    except ValueError:
        raise UploadRejected(f"wait must be a number of seconds from 0 to {MAX_WAIT_SECONDS}.")
    if not 0 <= seconds <= MAX_WAIT_SECONDS:
        raise UploadRejected(f"wait must be a number of seconds from 0 to {MAX_WAIT_SECONDS}.")
    return seconds


@csrf_exempt  # no cookie or session authenticates this endpoint, so there is nothing to forge
@allow("POST")
def uploads_create(request: HttpRequest) -> JsonResponse:
    if not upload_allowed(request):
        return error(TOO_MANY_UPLOADS, 429)
    try:
        upload = upload_create_from_post(data=request.POST, files=request.FILES, too_large=upload_too_large(request))
    except UploadRejected as rejected:
        return error(rejected.message, rejected.status)
    return JsonResponse(
        {
            "id": str(upload.id),
            "status": upload.status,
            "url": request.build_absolute_uri(upload.get_absolute_url()),
            "status_url": request.build_absolute_uri(reverse("api:upload_status", args=[upload.id])),
        },
        status=202,
    )


@allow("GET")
def upload_status(request: HttpRequest, upload_id: str) -> JsonResponse:
    """The upload now; with ``wait=N`` (a long-poll) the answer comes as soon as its state differs from ``after``
    (default: its state when the request arrived), or after N seconds at the latest. A done or failed upload is
    answered at once, unless its pieces are still being looked for (``done:pieces``): then the wait ends when they
    are in or known absent. ``category``, ``max_price``
    and ``colour=same`` search its stored vector again, as the results page does; ``budget`` (with ``pieces`` and
    ``pick``) furnishes its pieces within a budget, as the room answer's form does."""
    try:
        key = uuid.UUID(upload_id)
    except ValueError:
        return error("No upload with this id.", 404)
    upload = InspirationUpload.objects.filter(pk=key).first()
    if upload is None:
        return error("No upload with this id.", 404)
    try:
        wait = parse_wait(request)
        filters = None
        if {"category", "max_price", "colour"} & set(request.GET):
            filters = parse_filters(
                category=request.GET.get("category"),
                max_price=request.GET.get("max_price"),
                colour=request.GET.get("colour"),
            )
        furnish = parse_furnish_request(request.GET)
    except UploadRejected as rejected:
        return error(rejected.message, rejected.status)
    known = request.GET.get("after") or upload_state(upload)
    if wait and upload_state(upload) == known and not upload_state_final(upload):

        def changed() -> bool:
            nonlocal upload
            upload = InspirationUpload.objects.filter(pk=key).first() or upload
            return upload_state(upload) != known

        wait_for_change(str(key), timeout=wait, changed=changed)
    try:
        return JsonResponse(upload_payload(request, upload, filters, furnish))
    except UploadRejected as rejected:  # a piece the photo lacks, found once its pieces are read
        return error(rejected.message, rejected.status)


def _product_or_none(sku: str) -> Product | None:
    return Product.objects.filter(sku=sku, is_active=True).select_related("category").first()


@allow("GET")
def product_similar(request: HttpRequest, sku: str) -> JsonResponse:
    product = _product_or_none(sku)
    if product is None:
        return error(f"No product with sku {sku!r}.", 404)
    try:
        k = parse_k(request)
        filters = parse_filters(category=request.GET.get("category"), max_price=request.GET.get("max_price"))
    except UploadRejected as rejected:
        return error(rejected.message, rejected.status)
    results = with_variants(products_in_order(similar_products(product=product, k=k, filters=filters)))
    return JsonResponse({"sku": product.sku, "results": [product_card(request, p, s) for p, s in results]})


@allow("GET")
def product_goes_with(request: HttpRequest, sku: str) -> JsonResponse:
    product = _product_or_none(sku)
    if product is None:
        return error(f"No product with sku {sku!r}.", 404)
    try:
        k = parse_k(request)
    except UploadRejected as rejected:
        return error(rejected.message, rejected.status)
    results = products_in_order(goes_with_products(product=product, k=k))
    return JsonResponse({"sku": product.sku, "results": [product_card(request, p, s) for p, s in results]})


def _fields(request: HttpRequest) -> dict:
    if request.content_type == "application/json":
        try:
            data = json.loads(request.body or b"{}")
        except ValueError:
            raise FeedbackRejected("The body is not valid JSON.")
        if not isinstance(data, dict):
            raise FeedbackRejected("The body must be a JSON object.")
        return data
    return request.POST.dict()


@allow("POST")  # CSRF-protected (unlike uploads): the answer is stored against the shopper's session
def feedback(request: HttpRequest):
    """A shopper's "good match" / "not this" on one recommendation. A plain form post (no JavaScript) with a
    ``next`` address is sent back there; everything else answers JSON. A client over its per-minute limit gets
    429 and nothing is recorded."""
    if not allowed(request, "feedback"):
        return error(TOO_MANY_ANSWERS, 429)
    try:
        fields = _fields(request)
        answer = parse_feedback(
            **{name: fields.get(name) for name in ("source", "recommended", "context", "upload")},
            verdict=fields.get("verdict"),
        )
    except FeedbackRejected as rejected:
        return error(rejected.message, 400)
    if not request.session.session_key:
        request.session.save()
    stored = feedback_record(session_key=request.session.session_key, **answer)
    next_url = fields.get("next")
    if next_url and url_has_allowed_host_and_scheme(next_url, {request.get_host()}, request.is_secure()):
        return HttpResponseRedirect(next_url)
    return JsonResponse(
        {"recommended": stored.recommended.sku, "context": stored.context, "verdict": stored.verdict}, status=200
    )
