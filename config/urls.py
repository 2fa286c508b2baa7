from django.conf import settings
from django.contrib import admin
from django.urls import include, path
from django.views.static import serve

from recommender.urls import api_patterns

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/", include(api_patterns)),
    path("", include("catalog.urls")),
    path("", include("recommender.urls")),
]


def serve_media(request, path: str):
    """A file under MEDIA_ROOT, never sniffed as anything but its own type."""
    response = serve(request, path, document_root=settings.MEDIA_ROOT)
    response["X-Content-Type-Options"] = "nosniff"
    return response


if settings.DEBUG or settings.SERVE_MEDIA:
    urlpatterns += [path(f"{settings.MEDIA_URL.strip('/')}/<path:path>", serve_media)]
