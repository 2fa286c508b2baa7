from django.contrib import admin
from django.http import FileResponse, Http404
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe

from encoders.charts import ChartedVersion, figures_chart_html, training_curves_html
from encoders.latent_map import LATENT_MAP, RECONSTRUCTIONS
from encoders.models import EncoderVersion
from encoders.queries import FIGURE_LABELS, FIGURES, HELD_OUT_FIGURES, PIECE_FIGURES, UNGATED_FIGURES, figures_measured
from encoders.versions import version_dir

PICTURES = {"reconstructions": RECONSTRUCTIONS, "latent-map": LATENT_MAP}
EARLIER_VERSIONS = 4  # versions charted beside this one


def percent(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.0f} %"


def percent_span(interval) -> str:
    """A 95 % interval as people read it: ``41–55 %``."""
    return f"{interval[0] * 100:.0f}–{interval[1] * 100:.0f} %"


def percent_with_interval(value: float | None, interval) -> str:
    """A figure and, when known, its 95 % interval: ``48 % (41–55 %)``."""
    if value is None or not interval:
        return percent(value)
    return f"{percent(value)} ({percent_span(interval)})"


def figure_reading(name: str, value: float | None) -> str:
    """A figure as people read it: a share in per cent, a count (pieces per photo) as a number."""
    if name in UNGATED_FIGURES and value is not None:
        return f"{value:.1f}"
    return percent(value)


def figure_span(name: str, interval) -> str:
    """A figure's 95 % interval, in the figure's own unit."""
    if name in UNGATED_FIGURES:
        return f"{interval[0]:.1f}–{interval[1]:.1f}"
    return percent_span(interval)


def figure_with_interval(name: str, value: float | None, interval) -> str:
    if value is None or not interval:
        return figure_reading(name, value)
    return f"{figure_reading(name, value)} ({figure_span(name, interval)})"


INTERVALS_NOTE = (
    "In brackets: the range the figure would likely take on another draw of dev queries of the same kind (its "
    "bootstrap 95 % interval over its queries). Two versions whose figures fall within each other's range are "
    "not really different."
)


def rounded(value):
    """A number as people read it: three significant digits; other values as they are."""
    if isinstance(value, float):
        return f"{value:.3g}"
    if isinstance(value, list | tuple):
        return ", ".join(str(rounded(item)) for item in value)
    return value


def settings_table(values: dict) -> str:
    """A table of settings; a setting that is a group (the config's model, data and optimisation parts) gets a
    heading row over its own settings."""
    if not values:
        return "—"
    flat = sorted((k, v) for k, v in values.items() if not isinstance(v, dict))
    groups = [(k, v) for k, v in values.items() if isinstance(v, dict)]
    rows = format_html_join("", "<tr><th scope=row>{}</th><td>{}</td></tr>", ((k, rounded(v)) for k, v in flat))
    for name, inner in groups:
        rows += format_html('<tr><th colspan=2 scope=colgroup class="group">{}</th></tr>', name)
        rows += format_html_join(
            "", "<tr><th scope=row>{}</th><td>{}</td></tr>", sorted((k, rounded(v)) for k, v in inner.items())
        )
    return format_html('<table class="settings">{}</table>', rows)


@admin.register(EncoderVersion)
class EncoderVersionAdmin(admin.ModelAdmin):
    list_display = [
        "name",
        "status",
        "is_active",
        "web",
        "loo",
        "held_out",
        "room",
        "scene",
        "train_minutes",
        "created_at",
    ]
    list_filter = ["status", "is_active"]
    readonly_fields = [
        "name",
        "status",
        "is_active",
        "activated_at",
        "metrics_table",
        "figures_chart",
        "training_curves",
        "reconstructions",
        "latent_map",
        "data_table",
        "config_table",
        "train_seconds",
        "error",
        "created_at",
        "heartbeat_at",
    ]
    fields = readonly_fields

    class Media:
        css = {"all": ["css/admin-charts.css"]}

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return request.method in ("GET", "HEAD") and super().has_view_permission(request, obj)

    def _figure(self, version: EncoderVersion, name: str) -> str:
        return figure_with_interval(name, (version.metrics or {}).get(name), (version.intervals or {}).get(name))

    @admin.display(description=FIGURE_LABELS["web P@10"][0])
    def web(self, version):
        return self._figure(version, "web P@10")

    @admin.display(description=FIGURE_LABELS["loo P@10"][0])
    def loo(self, version):
        return self._figure(version, "loo P@10")

    @admin.display(description=FIGURE_LABELS["held-out P@10"][0])
    def held_out(self, version):
        return self._figure(version, "held-out P@10")

    @admin.display(description=FIGURE_LABELS["room hit@10"][0])
    def room(self, version):
        return self._figure(version, "room hit@10")

    @admin.display(description=FIGURE_LABELS["scene hit@10"][0])
    def scene(self, version):
        return self._figure(version, "scene hit@10")

    @admin.display(description="training (min)")
    def train_minutes(self, version):
        return "—" if version.train_seconds is None else f"{version.train_seconds / 60:.1f}"

    @admin.display(description="figures on the dev data")
    def metrics_table(self, version):
        if not version.metrics:
            return mark_safe(  # noqa: S308  (a constant)
                "<p>Not measured: no evaluation data is configured on this machine. Set "
                "<code>EVALUATION_QUERIES</code> (a folder of photos per kind with <code>accept.json</code>) and "
                "<code>EVALUATION_ROOMS</code> (a "
                "rooms.json) to measure every new version, and to let retraining promote a version only when it is "
                "not worse than the live one (README, Configuration).</p>"
            )
        live = EncoderVersion.objects.filter(is_active=True).exclude(pk=version.pk).first()
        rows = format_html_join(
            "",
            "<tr><th scope=row>{}</th><td>{}</td><td><strong>{}</strong>{}</td><td>{}</td>{}</tr>",
            (
                (
                    FIGURE_LABELS[name][0],
                    FIGURE_LABELS[name][1],
                    figure_reading(name, (version.metrics or {}).get(name)),
                    format_html(" ({})", figure_span(name, version.intervals[name]))
                    if (version.intervals or {}).get(name)
                    else "",
                    figure_reading(name, (version.baseline or {}).get(name)),
                    format_html("<td>{}</td>", self._figure(live, name)) if live else "",
                )
                for name in figures_measured(version.metrics)
            ),
        )
        live_head = format_html("<th scope=col>live version ({})</th>", live.name) if live else ""
        return format_html(
            '<table class="figures"><thead><tr><th scope=col>figure</th><th scope=col>what it measures</th>'
            "<th scope=col>this version</th><th scope=col>pretrained features, no training</th>{}</tr></thead>"
            "<tbody>{}</tbody></table><p class=help>{}</p>",
            live_head,
            rows,
            INTERVALS_NOTE if version.intervals else "",
        )

    @admin.display(description="figures beside earlier versions")
    def figures_chart(self, version):
        if not version.metrics:
            return "—"
        earlier = (
            EncoderVersion.objects.filter(status=EncoderVersion.Status.READY, created_at__lt=version.created_at)
            .exclude(metrics={})
            .order_by("-created_at")
            .only("name", "metrics", "intervals", "is_active")[:EARLIER_VERSIONS]
        )
        charted = [
            ChartedVersion(name=v.name, figures=v.metrics, intervals=v.intervals or {}, live=v.is_active)
            for v in [*reversed(earlier), version]
        ]
        charted[-1] = ChartedVersion(
            name=version.name,
            figures=version.metrics,
            intervals=version.intervals or {},
            live=version.is_active,
            current=True,
        )
        shares = [name for name in PIECE_FIGURES if name not in UNGATED_FIGURES]  # the chart's scale is 0 to 100 %
        charted_figures = [*FIGURES, *HELD_OUT_FIGURES, *shares]  # a figure no version has is left out of the chart
        labels = {name: FIGURE_LABELS[name][0] for name in charted_figures}
        return mark_safe(figures_chart_html(charted, charted_figures, labels))  # noqa: S308  (escaped by encoders.charts)

    @admin.display(description="training curves")
    def training_curves(self, version):
        if not version.history:
            return "Not recorded: versions trained before the curves were kept have none."
        return mark_safe(training_curves_html(version.history))  # noqa: S308  (escaped by encoders.charts)

    @admin.display(description="configuration")
    def config_table(self, version):
        return settings_table(version.config)

    @admin.display(description="trained on")
    def data_table(self, version):
        return settings_table(version.data)

    def _picture(self, version, key: str):
        if not (version_dir(version) / PICTURES[key]).is_file():
            return "—"
        url = reverse("admin:encoders_encoderversion_picture", args=[version.pk, key])
        return format_html(
            '<a href="{}"><img src="{}" alt="{}" style="max-width:100%;height:auto;display:block"></a>', url, url, key
        )

    @admin.display(description="what the model sees (top: product, below: reconstruction)")
    def reconstructions(self, version):
        return self._picture(version, "reconstructions")

    @admin.display(description="map of the catalog's codes")
    def latent_map(self, version):
        return self._picture(version, "latent-map")

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
