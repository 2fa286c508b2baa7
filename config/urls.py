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

if settings.DEBUG:
    urlpatterns += [path("media/<path:path>", serve, {"document_root": settings.MEDIA_ROOT})]
