from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import JsonResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from django_celery_beat.admin import PeriodicTaskAdmin
from django_celery_beat.models import PeriodicTask

from catalog.admin import ProductAdmin, thumbnail_tag
from catalog.models import Product
from encoders.admin import INTERVALS_NOTE, EncoderVersionAdmin, percent_with_interval
from encoders.models import EncoderVersion
from encoders.queries import FIGURE_LABELS
from recommender.models import IndexVersion, InspirationUpload, RecommendationFeedback, RetrainRun
from recommender.presenters import retrain_progress
from recommender.services.locks import RETRAIN_LOCK, lock_held
from recommender.services.search import products_in_order, similar_products
from recommender.services.upload_drawing import (
    MAX_DRAWINGS_PER_REQUEST,
    DrawingRequest,
    drawable,
    upload_drawings_request,
)

NEIGHBOURS = 8


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


def difference_words(interval) -> str:
    """The paired interval of a difference in points: ``−6 to −2 points``; "—" where it was not measured."""
    if not interval:
        return "—"
    low, high = (f"{v * 100:+.0f}".replace("-", "−") for v in interval)
    return f"{low} to {high} points"


@admin.register(RetrainRun)
class RetrainRunAdmin(ReadOnlyAdmin):
    list_display = ["started_at", "trigger", "status", "candidate", "live_before", "total_minutes", "reason"]
    list_filter = ["status", "trigger"]
    readonly_fields = [
        "status",
        "trigger",
        "candidate",
        "live_before",
        "index_version",
        "reason",
        "comparison_table",
        "timings",
        "error",
        "started_at",
        "finished_at",
    ]
    change_list_template = "admin/recommender/retrainrun/change_list.html"

    @admin.display(description="minutes")
    def total_minutes(self, run: RetrainRun) -> str:
        return f"{sum(run.timings.values()) / 60:.1f}" if run.timings else "—"

    @admin.display(description="the gate's comparison")
    def comparison_table(self, run: RetrainRun):
        if not run.comparison:
            return "—"
        rows = format_html_join(
            "",
            "<tr><th scope=row>{}</th><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            (
                (
                    FIGURE_LABELS.get(name, (name,))[0],
                    percent_with_interval(row["candidate"], row.get("candidate_interval")),
                    percent_with_interval(row["live"], row.get("live_interval")),
                    difference_words(row.get("difference")),
                    "worse beyond the noise" if row["worse"] else "not worse beyond the noise",
                )
                for name, row in run.comparison.items()
            ),
        )
        return format_html(
            '<table class="figures"><thead><tr><th scope=col>figure</th><th scope=col>candidate</th>'
            "<th scope=col>live version</th><th scope=col>candidate − live, 95 % interval</th>"
            "<th scope=col>verdict</th></tr></thead><tbody>{}</tbody></table><p class=help>{}</p>",
            rows,
            INTERVALS_NOTE,
        )

    def get_urls(self):
        return [
            path("retrain-now/", self.admin_site.admin_view(self.retrain_now), name="retrain_now"),
            path("status/", self.admin_site.admin_view(self.status_view), name="retrain_status"),
            *super().get_urls(),
        ]

    def has_start_permission(self, request) -> bool:
        return request.user.has_perm("recommender.start_retrainrun")

    def changelist_view(self, request, extra_context=None):
        extra_context = {**(extra_context or {}), "can_start_retrain": self.has_start_permission(request)}
        return super().changelist_view(request, extra_context)

    def retrain_now(self, request):
        """GET: what a retrain costs and that shoppers keep being served, with the button that starts it.
        POST: queue it."""
        from recommender.tasks import retrain

        if not self.has_start_permission(request):
            raise PermissionDenied("Starting a retrain needs the “Can start a retrain” permission.")
        running = running_retrain()
        if request.method != "POST":
            last = RetrainRun.objects.filter(status__in=[RetrainRun.Status.PROMOTED, RetrainRun.Status.KEPT])
            last = last.exclude(timings={}).filter(timings__has_key="train").first()
            context = {
                **self.admin_site.each_context(request),
                "title": "Retrain the encoder now?",
                "running": running,
                "last": last,
                "last_minutes": round(sum(last.timings.values()) / 60) if last else None,
                "opts": self.model._meta,
            }
            return TemplateResponse(request, "admin/recommender/retrainrun/retrain_now.html", context)
        if running is not None:
            messages.warning(request, "A retrain is already running; it is shown below.")
        else:
            try:
                retrain.delay("staff")
            except Exception as error:
                messages.error(request, f"Could not queue the retrain: {error}")
            else:
                messages.success(
                    request, "Retraining queued. Its progress shows here; shoppers keep being served meanwhile."
                )
        return redirect("admin:recommender_retrainrun_changelist")

    def status_view(self, request):
        """The running pipeline's stage and progress, for the live box on the list (JSON; null when none runs)."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        run = running_retrain()
        return JsonResponse({"running": retrain_progress(run) if run else None})


def running_retrain() -> RetrainRun | None:
    """The pipeline run in progress: one marked running while the pipeline's lock is held. A run marked running
    with the lock free (or run out) was left by a process that died mid-run: it does not stop staff from starting
    a retrain, and the next run marks it failed."""
    if not lock_held(name=RETRAIN_LOCK):
        return None
    return RetrainRun.objects.filter(status=RetrainRun.Status.RUNNING).first()


@admin.register(IndexVersion)
class IndexVersionAdmin(ReadOnlyAdmin):
    list_display = [
        "name",
        "is_active",
        "encoder_version",
        "item_count",
        "n_trees",
        "search_k",
        "recall_at_10",
        "build_seconds",
        "created_at",
    ]
    list_filter = ["is_active"]

    def changelist_view(self, request, extra_context=None):
        from recommender.services.search import serving_problem

        problem = serving_problem()
        if problem:
            messages.warning(request, problem)
        return super().changelist_view(request, extra_context)

    list_select_related = ["encoder_version"]


@admin.register(InspirationUpload)
class InspirationUploadAdmin(ReadOnlyAdmin):
    """Shoppers' uploads. "What the model sees" (the decoder's redrawing) is drawn only here, when staff with the
    permission ask: on the upload's page, or for the selected uploads; a worker on the ``pictures`` queue draws it."""

    list_display = ["id", "status", "kind", "attempts", "worker", "created_at", "finished_at", "error"]
    list_filter = ["status", "kind"]
    actions = ["draw"]
    readonly_fields = [
        "id",
        "image",
        "what_the_model_sees",
        "crop",
        "filters",
        "colours",
        "status",
        "error",
        "attempts",
        "worker",
        "results",
        "kind",
        "pieces",
        "complements",
        "everything",
        "encoder_version",
        "index_version",
        "created_at",
        "queued_at",
        "started_at",
        "finished_at",
    ]
    fields = readonly_fields  # the file field itself shows only as "what the model sees"
    change_form_template = "admin/recommender/inspirationupload/change_form.html"

    def get_urls(self):
        return [
            path(
                "<uuid:upload_id>/draw/",
                self.admin_site.admin_view(self.draw_view),
                name="recommender_inspirationupload_draw",
            ),
            *super().get_urls(),
        ]

    def has_draw_permission(self, request) -> bool:
        return request.user.has_perm("recommender.draw_inspirationupload")

    def change_view(self, request, object_id, form_url="", extra_context=None):
        upload = self.get_object(request, object_id) if self.has_draw_permission(request) else None
        offer = upload is not None and not upload.reconstruction and drawable(upload)
        extra_context = {**(extra_context or {}), "offer_drawing": offer}
        return super().change_view(request, object_id, form_url, extra_context)

    @admin.display(description="what the model sees")
    def what_the_model_sees(self, upload: InspirationUpload):
        if upload.reconstruction:
            return format_html(
                '<img src="{}" alt="What the model sees: the decoder\'s redrawing of this upload" width="192" '
                'height="192" style="image-rendering:pixelated" id="model-sees">',
                upload.reconstruction.url,
            )
        if drawable(upload):
            return "Not drawn yet."
        return "Nothing to draw: the upload has no answer (or was answered before codes were kept)."

    def _report(self, request, outcome: DrawingRequest) -> None:
        if outcome.error:
            self.message_user(request, f"Could not queue the drawing: {outcome.error}", messages.ERROR)
            return
        if outcome.queued:
            self.message_user(
                request,
                f"Drawing what the model sees of {outcome.queued} upload(s); reload the page in a few seconds.",
                messages.SUCCESS,
            )
        skipped = {
            "drawn already": outcome.drawn_already,
            "without an answer to draw from": outcome.cannot_draw,
            f"beyond {MAX_DRAWINGS_PER_REQUEST} at a time": outcome.over_limit,
        }
        said = ", ".join(f"{count} {why}" for why, count in skipped.items() if count)
        if said:
            level = messages.INFO if outcome.queued else messages.WARNING
            self.message_user(request, f"Not queued: {said}.", level)

    @admin.action(description="Draw what the model sees of the selected uploads", permissions=["draw"])
    def draw(self, request, queryset):
        self._report(request, upload_drawings_request(uploads=queryset))

    def draw_view(self, request, upload_id):
        """POST from the upload's page: queue its drawing, then back to the page."""
        if not self.has_draw_permission(request):
            raise PermissionDenied("Drawing needs the “Can draw what the model sees of an upload” permission.")
        if request.method != "POST":
            return redirect("admin:recommender_inspirationupload_change", upload_id)
        self._report(request, upload_drawings_request(uploads=InspirationUpload.objects.filter(pk=upload_id)))
        return redirect("admin:recommender_inspirationupload_change", upload_id)


@admin.register(RecommendationFeedback)
class RecommendationFeedbackAdmin(ReadOnlyAdmin):
    """Shoppers' answers to recommendations; "good match" answers between products join retraining's pairs."""

    list_display = ["updated_at", "context", "verdict", "source", "upload", "recommended"]
    list_filter = ["context", "verdict"]
    list_select_related = ["source", "recommended"]
    search_fields = ["source__sku", "source__name", "recommended__sku", "recommended__name"]


class ServableEncoderVersionAdmin(EncoderVersionAdmin):
    """Encoder versions, plus "Make live": served exactly as a promotion is (the catalog encoded under it, its
    index built, both switched) by a task on the training queue. Added here because ``encoders`` never imports
    the recommender."""

    actions = ["make_live"]

    def has_make_live_permission(self, request) -> bool:
        return request.user.has_perm("encoders.make_live_encoderversion")

    @admin.action(description="Make the selected version live (encode, index, switch)", permissions=["make_live"])
    def make_live(self, request, queryset):
        from recommender.tasks import make_live

        if queryset.count() != 1:
            self.message_user(request, "Choose exactly one version.", messages.ERROR)
            return
        version = queryset.get()
        if version.status != EncoderVersion.Status.READY:
            self.message_user(
                request, f"{version.name} is {version.status}; only a ready version can be made live.", messages.ERROR
            )
            return
        try:
            make_live.delay(version.pk)
        except Exception as error:
            self.message_user(request, f"Could not queue it: {error}", messages.ERROR)
            return
        self.message_user(
            request,
            f"{version.name} is being made live: the catalog is encoded under it and indexed first; shoppers keep "
            "being served by the current version until the switch. Follow it under Retrain runs.",
            messages.SUCCESS,
        )


class ProductWithNeighboursAdmin(ProductAdmin):
    """The catalog's product admin plus the product's current nearest neighbours, so that staff can judge a new
    product's recommendations at once. Added here because ``catalog`` never imports the recommender."""

    readonly_fields = [*ProductAdmin.readonly_fields, "nearest_neighbours"]
    fieldsets = [
        *ProductAdmin.fieldsets[:3],
        ("Recommendations", {"fields": ["nearest_neighbours"]}),
        *ProductAdmin.fieldsets[3:],
    ]

    @admin.display(description="nearest neighbours now")
    def nearest_neighbours(self, product: Product) -> str:
        if product.pk is None:
            return "Shown once the product is saved and encoded (a few seconds)."
        neighbours = products_in_order(similar_products(product=product, k=NEIGHBOURS))
        if not neighbours:
            return "None yet: the product is not encoded yet (reload in a few seconds), or no model is live."
        cells = format_html_join(
            "",
            '<li style="width:104px;list-style:none"><a href="{}">{}</a><br>{}<br>'
            "<small>{} · similarity {}</small></li>",
            (
                (
                    reverse("admin:catalog_product_change", args=[neighbour.pk]),
                    thumbnail_tag(neighbour, 96),
                    neighbour.name,
                    neighbour.category.name,
                    f"{score:.2f}",
                )
                for neighbour, score in neighbours
            ),
        )
        return format_html(
            '<ol class="neighbours" style="display:flex;flex-wrap:wrap;gap:12px;padding:0;margin:0">{}</ol>'
            '<p><a href="{}">See them on the product page</a></p>',
            cells,
            product.get_absolute_url(),
        )


class PeriodicTaskWithPermissionsAdmin(PeriodicTaskAdmin):
    """django-celery-beat's schedules, whose actions (enable, disable, toggle, run now) change what runs: they
    need the permission to change periodic tasks, which a view-only staff member lacks."""

    def _changing(action):
        def checked(self, request, queryset):
            return action(self, request, queryset)

        return admin.action(description=action.short_description, permissions=["change"])(checked)

    enable_tasks = _changing(PeriodicTaskAdmin.enable_tasks)
    disable_tasks = _changing(PeriodicTaskAdmin.disable_tasks)
    toggle_tasks = _changing(PeriodicTaskAdmin.toggle_tasks)
    run_tasks = _changing(PeriodicTaskAdmin.run_tasks)


admin.site.unregister(PeriodicTask)
admin.site.register(PeriodicTask, PeriodicTaskWithPermissionsAdmin)
admin.site.unregister(Product)
admin.site.register(Product, ProductWithNeighboursAdmin)
admin.site.unregister(EncoderVersion)
admin.site.register(EncoderVersion, ServableEncoderVersionAdmin)
