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
from recommender.models import InspirationUpload
from recommender.presenters import product_card
from recommender.services.feedback import FeedbackRejected, feedback_record, parse_feedback
from recommender.services.ratelimit import TOO_MANY_UPLOADS, upload_allowed
from recommender.services.search import goes_with_products, products_in_order, similar_products
from recommender.services.uploads import UploadRejected, parse_filters, upload_create_from_post

MAX_K = 50


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


def upload_payload(request: HttpRequest, upload: InspirationUpload) -> dict:
    results = upload.results if upload.status == InspirationUpload.Status.DONE else []
    cards = products_in_order([(row["product_id"], row["score"]) for row in results])
    return {
        "id": str(upload.id),
        "status": upload.status,
        "error": upload.error or None,
        "results": [product_card(request, product, score) for product, score in cards],
    }


@csrf_exempt  # no cookie or session authenticates this endpoint, so there is nothing to forge
@allow("POST")
def uploads_create(request: HttpRequest) -> JsonResponse:
    if not upload_allowed(request):
        return error(TOO_MANY_UPLOADS, 429)
    try:
        upload = upload_create_from_post(data=request.POST, files=request.FILES)
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
    try:
        upload = InspirationUpload.objects.filter(pk=uuid.UUID(upload_id)).first()
    except ValueError:
        upload = None
    if upload is None:
        return error("No upload with this id.", 404)
    return JsonResponse(upload_payload(request, upload))


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
    results = products_in_order(similar_products(product=product, k=k, filters=filters))
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
    ``next`` address is sent back there; everything else answers JSON."""
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
