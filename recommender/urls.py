from django.urls import path

from recommender import api, map_api, views

app_name = "recommender"

urlpatterns = [
    path("", views.home, name="home"),
    path("uploads/<uuid:upload_id>/", views.upload_detail, name="upload_detail"),
    path("map/", views.latent_map, name="map"),
]

api_patterns = (
    [
        path("uploads", api.uploads_create, name="uploads_create"),
        path("uploads/<str:upload_id>", api.upload_status, name="upload_status"),
        path("uploads/<str:upload_id>/place", map_api.upload_map_place, name="upload_place"),
        path("products/<path:sku>/similar", api.product_similar, name="product_similar"),
        path("products/<path:sku>/goes-with", api.product_goes_with, name="product_goes_with"),
        path("feedback", api.feedback, name="feedback"),
        path("map", map_api.catalog_map_meta, name="map"),
        path("map/find", map_api.catalog_map_find, name="map_find"),
        path(
            "map/<str:version>/tiles/<int:level>/<int:x>/<int:y>.<str:kind>", map_api.catalog_map_tile, name="map_tile"
        ),
    ],
    "api",
)
