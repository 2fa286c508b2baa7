from django.contrib import admin
from django.http import FileResponse, Http404
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join

from encoders.latent_map import LATENT_MAP, RECONSTRUCTIONS
from encoders.models import EncoderVersion
from encoders.queries import FIGURES
from encoders.versions import version_dir

PICTURES = {"reconstructions": RECONSTRUCTIONS, "latent-map": LATENT_MAP}


@admin.register(EncoderVersion)
class EncoderVersionAdmin(admin.ModelAdmin):
    list_display = ["name", "status", "is_active", "web", "loo", "room", "scene", "train_minutes", "created_at"]
    list_filter = ["status", "is_active"]
    readonly_fields = [
        "name",
        "status",
        "is_active",
        "activated_at",
        "metrics_table",
        "reconstructions",
        "latent_map",
        "data",
        "config",
        "train_seconds",
        "error",
        "created_at",
    ]
    fields = readonly_fields

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return request.method in ("GET", "HEAD") and super().has_view_permission(request, obj)

    def _figure(self, version: EncoderVersion, name: str) -> str:
        value = (version.metrics or {}).get(name)
        return "—" if value is None else f"{value:.3f}"

    @admin.display(description="web P@10")
    def web(self, version):
        return self._figure(version, "web P@10")

    @admin.display(description="loo P@10")
    def loo(self, version):
        return self._figure(version, "loo P@10")

    @admin.display(description="room hit@10")
    def room(self, version):
        return self._figure(version, "room hit@10")

    @admin.display(description="scene hit@10")
    def scene(self, version):
        return self._figure(version, "scene hit@10")

    @admin.display(description="training (min)")
    def train_minutes(self, version):
        return "—" if version.train_seconds is None else f"{version.train_seconds / 60:.1f}"

    @admin.display(description="figures on the dev data")
    def metrics_table(self, version):
        if not version.metrics:
            return "Not measured."
        rows = format_html_join("", "<tr><th>{}</th><td>{}</td></tr>", ((f, self._figure(version, f)) for f in FIGURES))
        return format_html("<table>{}</table>", rows)

    def _picture(self, version, key: str, width: int):
        if not (version_dir(version) / PICTURES[key]).is_file():
            return "—"
        url = reverse("admin:encoders_encoderversion_picture", args=[version.pk, key])
        return format_html('<a href="{}"><img src="{}" alt="{}" style="max-width:{}px"></a>', url, url, key, width)

    @admin.display(description="what the model sees (top: product, below: reconstruction)")
    def reconstructions(self, version):
        return self._picture(version, "reconstructions", 1100)

    @admin.display(description="map of the catalog's codes")
    def latent_map(self, version):
        return self._picture(version, "latent-map", 900)

    def get_urls(self):
        return [
            path(
                "<int:pk>/picture/<slug:key>/",
                self.admin_site.admin_view(self.picture_view),
                name="encoders_encoderversion_picture",
            ),
            *super().get_urls(),
        ]

    def picture_view(self, request, pk: int, key: str):
        version = EncoderVersion.objects.filter(pk=pk).first()
        if version is None or key not in PICTURES or not self.has_view_permission(request, version):
            raise Http404
        picture = version_dir(version) / PICTURES[key]
        if not picture.is_file():
            raise Http404
        return FileResponse(picture.open("rb"), content_type="image/png")
