from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render

from catalog.selectors import categories_with_active_products
from config.ratelimit import TOO_MANY_UPLOADS, upload_allowed
from config.upload_handlers import upload_too_large
from recommender.models import InspirationUpload
from recommender.services.category_guesses import category_line
from recommender.services.feedback import feedback_of_session
from recommender.services.furnishing import parse_furnish_request, room_furnish
from recommender.services.maps import results_map
from recommender.services.notify import upload_state
from recommender.services.refine import upload_results
from recommender.services.room_answer import ROOM_MIN_PIECES
from recommender.services.room_pieces import RoomView, photo_size, room_hotspots_place, room_view
from recommender.services.search import Filters, products_in_order
from recommender.services.uploads import UploadRejected, parse_filters, upload_create_from_post


def home(request: HttpRequest) -> HttpResponse:
    """The upload form; a POST stores the photo and sends the shopper to its results page."""
    if request.method == "POST":
        if not upload_allowed(request):
            context = {"categories": categories_with_active_products(), "error": TOO_MANY_UPLOADS, "form": request.POST}
            return render(request, "recommender/home.html", context, status=429)
        try:
            upload = upload_create_from_post(
                data=request.POST, files=request.FILES, too_large=upload_too_large(request)
            )
        except UploadRejected as rejected:
            context = {"categories": categories_with_active_products(), "error": rejected.message, "form": request.POST}
            return render(request, "recommender/home.html", context, status=rejected.status)
        return redirect(upload)
    return render(request, "recommender/home.html", {"categories": categories_with_active_products(), "form": {}})


def upload_detail(request: HttpRequest, upload_id) -> HttpResponse:
    """The upload's status while a worker encodes it; then, for a room, the photo with a hotspot on each piece found,
    one strip of lookalikes per piece, what goes well with them and a set of them within the shopper's budget; for
    one piece (or when the shopper switches to it), what the photo looks like (with a switch to the next likely
    categories), the products and where the photo lands on the catalog's map. While the pieces of an answered photo
    are still being looked for, the page says so and follows the upload (``state``) until they are in."""
    upload = get_object_or_404(InspirationUpload, pk=upload_id)
    context = {
        "upload": upload,
        "state": upload_state(upload),
        "items": [],
        "answers": {},
        "shown_as": InspirationUpload.Kind.PIECE,
    }
    if upload.status == InspirationUpload.Status.DONE:
        room = room_view(upload=upload)
        context.update(room=room, can_switch=_can_switch(upload, room), shown_as=_shown_as(request, upload, room))
        # asked for the room answer of a photo in which no piece was found: the whole photo's answer, and why
        context["no_pieces"] = request.GET.get("as") == InspirationUpload.Kind.ROOM and not room.pieces
    if upload.status == InspirationUpload.Status.DONE and context["shown_as"] == InspirationUpload.Kind.ROOM:
        context["room"] = room_hotspots_place(context["room"], photo=photo_size(upload))
        context.update(_furnish_context(request, context["room"]))
    if upload.status == InspirationUpload.Status.DONE and context["shown_as"] == InspirationUpload.Kind.PIECE:
        try:
            filters = _page_filters(request)
        except UploadRejected as rejected:
            filters, context["filters_error"] = None, rejected.message
        answer = upload_results(upload=upload, filters=filters)
        context.update(answer=answer, items=answer.items, categories=categories_with_active_products())
        context["category_line"] = category_line(upload=upload, filters=answer.filters, can_refine=answer.can_refine)
        results = [(row["product_id"], row["score"]) for row in upload.results]  # the map shows the first answer
        first = products_in_order(results) if answer.refined else answer.items
        context["map"] = results_map(results, {product.pk: product for product, _ in first})
        context["upload_feedback"] = {"context": "upload", "upload": upload.id}
        context["answers"] = feedback_of_session(
            session_key=request.session.session_key, context="upload", upload=upload
        )
    return render(request, "recommender/upload_detail.html", context)


def _can_switch(upload: InspirationUpload, room: RoomView) -> bool:
    """The shopper may switch between the room and the one-piece answer when it is a room, or when several pieces
    were found although the photo was answered as one piece (the shopper knows better)."""
    return upload.kind == InspirationUpload.Kind.ROOM or len(room.pieces) >= ROOM_MIN_PIECES


def _shown_as(request: HttpRequest, upload: InspirationUpload, room: RoomView) -> str:
    """How the page answers: as the shopper switched it (``?as=room`` or ``?as=piece``), else as one piece when
    they chose filters (filters refine the one-piece answer), else as the worker decided."""
    if not room.pieces:
        return InspirationUpload.Kind.PIECE
    chosen = request.GET.get("as")
    if chosen in InspirationUpload.Kind.values:
        return chosen
    if {"category", "max_price", "colour"} & set(request.GET):
        return InspirationUpload.Kind.PIECE
    return upload.kind


def _furnish_context(request: HttpRequest, room: RoomView) -> dict:
    """The budget form as the shopper filled it in (one piece of each kind ticked at first) and, when they gave a
    budget, the set that fits it, or why their input cannot be used."""
    form = {"budget": request.GET.get("budget", ""), "pieces": _ticked(request, room)}
    try:
        asked = parse_furnish_request(request.GET)
        if asked is None:
            return {"furnish_form": form}
        return {"furnish_form": form, "furnish": room_furnish(room=room, request=asked)}
    except UploadRejected as rejected:
        return {"furnish_form": form, "furnish_error": rejected.message}


def _ticked(request: HttpRequest, room: RoomView) -> set[int]:
    """The pieces ticked in the budget form, read leniently to fill the form in again (at first one piece of each
    kind, as a budget without ticks furnishes)."""
    if "pieces" not in request.GET:
        return set(room.one_of_each_kind)
    parts = (part.strip() for value in request.GET.getlist("pieces") for part in value.split(","))
    return {int(part) for part in parts if part.isascii() and part.isdigit()}


def _page_filters(request: HttpRequest) -> Filters | None:
    """The filters chosen on the results page (``?category=&max_price=&colour=same``); None when none were chosen."""
    if not {"category", "max_price", "colour"} & set(request.GET):
        return None
    return parse_filters(
        category=request.GET.get("category"), max_price=request.GET.get("max_price"), colour=request.GET.get("colour")
    )


def latent_map(request: HttpRequest) -> HttpResponse:
    """The whole catalog on the 2-D latent map; the page loads its points from ``/api/map``."""
    return render(request, "recommender/map.html")
