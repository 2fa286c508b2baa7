from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render

from catalog.selectors import categories_with_active_products
from config.ratelimit import TOO_MANY_UPLOADS, upload_allowed
from config.upload_handlers import upload_too_large
from recommender.models import InspirationUpload
from recommender.services.category_guesses import category_line
from recommender.services.feedback import feedback_of_session
from recommender.services.maps import results_map
from recommender.services.refine import upload_results
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
    """The upload's status while a worker encodes it; then what the photo looks like (with a switch to the next
    likely categories), the products and where the photo lands on the catalog's map (the answer is final: nothing
    is drawn for the shopper after it)."""
    upload = get_object_or_404(InspirationUpload, pk=upload_id)
    context = {"upload": upload, "items": [], "answers": {}}
    if upload.status == InspirationUpload.Status.DONE:
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
