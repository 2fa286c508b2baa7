from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render

from catalog.selectors import categories_with_active_products
from recommender.models import InspirationUpload
from recommender.services.ratelimit import TOO_MANY_UPLOADS, upload_allowed
from recommender.services.search import products_in_order
from recommender.services.uploads import UploadRejected, parse_upload_request, upload_create


def home(request: HttpRequest) -> HttpResponse:
    """The upload form; a POST stores the photo and sends the shopper to its results page."""
    if request.method == "POST":
        if not upload_allowed(request):
            context = {"categories": categories_with_active_products(), "error": TOO_MANY_UPLOADS, "form": request.POST}
            return render(request, "recommender/home.html", context, status=429)
        try:
            upload = upload_create(
                image=request.FILES.get("image"),
                request=parse_upload_request(
                    crop=request.POST.get("crop"),
                    category=request.POST.get("category"),
                    max_price=request.POST.get("max_price"),
                ),
            )
        except UploadRejected as rejected:
            context = {"categories": categories_with_active_products(), "error": rejected.message, "form": request.POST}
            return render(request, "recommender/home.html", context, status=rejected.status)
        return redirect(upload)
    return render(request, "recommender/home.html", {"categories": categories_with_active_products(), "form": {}})


def upload_detail(request: HttpRequest, upload_id) -> HttpResponse:
    upload = get_object_or_404(InspirationUpload, pk=upload_id)
    items = []
    if upload.status == InspirationUpload.Status.DONE:
        items = products_in_order([(row["product_id"], row["score"]) for row in upload.results])
    return render(request, "recommender/upload_detail.html", {"upload": upload, "items": items})
