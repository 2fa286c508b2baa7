"""The site's URLs plus the media files, which the live server does not serve with DEBUG off (as under pytest)."""

from django.conf import settings
from django.urls import path
from django.views.static import serve

from config.urls import urlpatterns as site_patterns


def media(request, path: str):
    return serve(request, path, document_root=settings.MEDIA_ROOT)  # read per request: each test has its own


urlpatterns = [path("media/<path:path>", media), *site_patterns]
