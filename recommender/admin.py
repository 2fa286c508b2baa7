from django.contrib import admin, messages
from django.shortcuts import redirect
from django.urls import path
from django.views.decorators.http import require_POST

from recommender.models import IndexVersion, InspirationUpload, RetrainRun


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


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
        "timings",
        "error",
        "started_at",
        "finished_at",
    ]
    change_list_template = "admin/recommender/retrainrun/change_list.html"

    @admin.display(description="minutes")
    def total_minutes(self, run: RetrainRun) -> str:
        return f"{sum(run.timings.values()) / 60:.1f}" if run.timings else "—"

    def get_urls(self):
        return [
            path("retrain-now/", self.admin_site.admin_view(require_POST(self.retrain_now)), name="retrain_now"),
            *super().get_urls(),
        ]

    def retrain_now(self, request):
        from recommender.tasks import retrain

        if not request.user.has_perm("recommender.view_retrainrun"):
            messages.error(request, "You may not start a retrain.")
        else:
            try:
                retrain.delay("staff")
            except Exception as error:
                messages.error(request, f"Could not queue the retrain: {error}")
            else:
                messages.success(request, "Retraining queued. This page shows the run when it starts.")
        return redirect("admin:recommender_retrainrun_changelist")


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
    list_select_related = ["encoder_version"]


@admin.register(InspirationUpload)
class InspirationUploadAdmin(ReadOnlyAdmin):
    list_display = ["id", "status", "attempts", "created_at", "finished_at", "error"]
    list_filter = ["status"]
    readonly_fields = [
        "id",
        "image",
        "crop",
        "filters",
        "status",
        "error",
        "attempts",
        "results",
        "encoder_version",
        "index_version",
        "created_at",
        "started_at",
        "finished_at",
    ]
