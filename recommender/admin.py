from django.contrib import admin, messages
from django.shortcuts import redirect
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from django.views.decorators.http import require_POST

from catalog.admin import ProductAdmin, thumbnail_tag
from catalog.models import Product
from recommender.models import IndexVersion, InspirationUpload, RecommendationFeedback, RetrainRun
from recommender.services.search import products_in_order, similar_products

NEIGHBOURS = 8


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

    def changelist_view(self, request, extra_context=None):
        from recommender.services.search import serving_problem

        problem = serving_problem()
        if problem:
            messages.warning(request, problem)
        return super().changelist_view(request, extra_context)

    list_select_related = ["encoder_version"]


@admin.register(InspirationUpload)
class InspirationUploadAdmin(ReadOnlyAdmin):
    list_display = ["id", "status", "attempts", "worker", "created_at", "finished_at", "error"]
    list_filter = ["status"]
    readonly_fields = [
        "id",
        "image",
        "reconstruction",
        "crop",
        "filters",
        "status",
        "error",
        "attempts",
        "worker",
        "results",
        "encoder_version",
        "index_version",
        "created_at",
        "queued_at",
        "started_at",
        "finished_at",
    ]


@admin.register(RecommendationFeedback)
class RecommendationFeedbackAdmin(ReadOnlyAdmin):
    """Shoppers' answers to recommendations; "good match" answers between products join retraining's pairs."""

    list_display = ["updated_at", "context", "verdict", "source", "upload", "recommended"]
    list_filter = ["context", "verdict"]
    list_select_related = ["source", "recommended"]
    search_fields = ["source__sku", "source__name", "recommended__sku", "recommended__name"]


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


admin.site.unregister(Product)
admin.site.register(Product, ProductWithNeighboursAdmin)
