"""Every admin action declares the permission it needs: a staff member who may only look is refused each one,
and one given the permission may use it."""

import pytest
from django.contrib import admin
from django.contrib.auth.models import Permission
from django.urls import reverse

from catalog.models import Product
from encoders.models import EncoderVersion
from recommender.models import InspirationUpload, RetrainRun
from tests.catalog.factories import ProductFactory

pytestmark = pytest.mark.django_db

VIEW_ONLY = ["view_product", "view_encoderversion", "view_retrainrun", "view_indexversion", "view_category"]


def staff(django_user_model, *codenames: str):
    user = django_user_model.objects.create_user(f"staff-{len(codenames)}", password="pw", is_staff=True)
    user.user_permissions.set(Permission.objects.filter(codename__in=codenames))
    return user


@pytest.fixture
def viewer(client, django_user_model):
    client.force_login(staff(django_user_model, *VIEW_ONLY))
    return client


@pytest.fixture
def queued(monkeypatch):
    """The tasks the admin would send, recorded instead of sent."""
    from recommender import tasks

    sent = []
    monkeypatch.setattr(tasks.retrain, "delay", lambda *args: sent.append(("retrain", args)))
    monkeypatch.setattr(tasks.make_live, "delay", lambda *args: sent.append(("make_live", args)))
    monkeypatch.setattr(tasks.draw_upload, "delay", lambda *args: sent.append(("draw_upload", args)))
    return sent


def answered_upload() -> InspirationUpload:
    """A done upload with the latent code a drawing is made from."""
    version = EncoderVersion.objects.create(name="enc-drawn", status=EncoderVersion.Status.READY)
    return InspirationUpload.objects.create(
        image="uploads/x.jpg", status=InspirationUpload.Status.DONE, code=b"\0\0" * 8, encoder_version=version
    )


def test_every_admin_action_declares_a_permission():
    undeclared = [
        f"{model.__name__}.{name}"
        for model, model_admin in admin.site._registry.items()
        for function, name, _ in model_admin._get_base_actions()
        if not getattr(function, "allowed_permissions", ())
    ]

    assert undeclared == []


def test_a_viewer_cannot_deactivate_products(viewer):
    product = ProductFactory()

    viewer.post(reverse("admin:catalog_product_changelist"), {"action": "deactivate", "_selected_action": [product.pk]})

    assert Product.objects.get(pk=product.pk).is_active


def test_a_viewer_cannot_make_an_encoder_live(viewer, queued):
    version = EncoderVersion.objects.create(name="enc-a", status=EncoderVersion.Status.READY)

    viewer.post(
        reverse("admin:encoders_encoderversion_changelist"), {"action": "make_live", "_selected_action": [version.pk]}
    )

    assert queued == []


def test_a_viewer_cannot_start_a_retrain_and_sees_no_button(viewer, queued):
    page = viewer.get(reverse("admin:recommender_retrainrun_changelist")).content.decode()
    response = viewer.post(reverse("admin:retrain_now"))

    assert "Retrain now" not in page
    assert response.status_code == 403
    assert queued == []


def test_staff_with_the_permissions_may_do_each(client, django_user_model, queued):
    client.force_login(
        staff(django_user_model, *VIEW_ONLY, "change_product", "make_live_encoderversion", "start_retrainrun")
    )
    product = ProductFactory()
    version = EncoderVersion.objects.create(name="enc-a", status=EncoderVersion.Status.READY)

    client.post(reverse("admin:catalog_product_changelist"), {"action": "deactivate", "_selected_action": [product.pk]})
    client.post(
        reverse("admin:encoders_encoderversion_changelist"), {"action": "make_live", "_selected_action": [version.pk]}
    )
    page = client.get(reverse("admin:recommender_retrainrun_changelist")).content.decode()
    client.post(reverse("admin:retrain_now"))

    assert not Product.objects.get(pk=product.pk).is_active
    assert "Retrain now" in page
    assert queued == [("make_live", (version.pk,)), ("retrain", ("staff",))]
    assert not RetrainRun.objects.exists()  # queued, not run in the web process


def test_a_viewer_cannot_draw_what_the_model_sees_and_sees_no_button(viewer, django_user_model, queued):
    viewer.force_login(staff(django_user_model, *VIEW_ONLY, "view_inspirationupload"))
    upload = answered_upload()

    page = viewer.get(reverse("admin:recommender_inspirationupload_change", args=[upload.pk])).content.decode()
    viewer.post(
        reverse("admin:recommender_inspirationupload_changelist"), {"action": "draw", "_selected_action": [upload.pk]}
    )
    response = viewer.post(reverse("admin:recommender_inspirationupload_draw", args=[upload.pk]))

    assert "Not drawn yet." in page and 'id="draw-model-sees"' not in page
    assert response.status_code == 403
    assert queued == []


def test_staff_with_the_draw_permission_may_draw_from_the_page_and_the_list(client, django_user_model, queued):
    client.force_login(staff(django_user_model, *VIEW_ONLY, "view_inspirationupload", "draw_inspirationupload"))
    upload = answered_upload()

    page = client.get(reverse("admin:recommender_inspirationupload_change", args=[upload.pk])).content.decode()
    client.post(reverse("admin:recommender_inspirationupload_draw", args=[upload.pk]))
    client.post(
        reverse("admin:recommender_inspirationupload_changelist"), {"action": "draw", "_selected_action": [upload.pk]}
    )

    assert 'id="draw-model-sees"' in page
    assert queued == [("draw_upload", (str(upload.pk),))] * 2  # queued, not drawn in the web process


def test_a_viewer_cannot_run_a_periodic_task_now(viewer, django_user_model, monkeypatch):
    from django_celery_beat.models import PeriodicTask

    viewer.force_login(staff(django_user_model, *VIEW_ONLY, "view_periodictask"))
    sent = []
    monkeypatch.setattr("celery.app.base.Celery.send_task", lambda *args, **kwargs: sent.append(args))
    task = PeriodicTask.objects.get(name="Nightly retrain")

    viewer.post(
        reverse("admin:django_celery_beat_periodictask_changelist"),
        {"action": "run_tasks", "_selected_action": [task.pk]},
    )

    assert sent == []


def test_a_viewer_cannot_curate_goes_with_and_sees_no_way_to(client, django_user_model):
    from catalog.models import CategoryComplementExclusion, ComplementCuration, CoView
    from tests.catalog.factories import CategoryFactory

    client.force_login(
        staff(
            django_user_model,
            *VIEW_ONLY,
            "view_coview",
            "view_complementcuration",
            "view_categorycomplementexclusion",
        )
    )
    sofa, lamp = ProductFactory(), ProductFactory()
    pair = CoView.objects.create(product_a=sofa, product_b=lamp, kind="used", count=3, last_seen="2026-01-01T00:00Z")
    chairs, ovens = CategoryFactory(name="chair"), CategoryFactory(name="oven")
    product_page = reverse("admin:catalog_product_change", args=[sofa.pk])
    inline = {
        "complement_curations-TOTAL_FORMS": "1",
        "complement_curations-INITIAL_FORMS": "0",
        "complement_curations-0-other": lamp.pk,
        "complement_curations-0-action": "pin",
    }

    page = client.get(product_page).content.decode()
    pairs_page = client.get(reverse("admin:catalog_coview_changelist")).content.decode()
    responses = [
        client.post(product_page, {"sku": sofa.sku, "name": sofa.name, "category": sofa.category.pk, **inline}),
        client.post(reverse("admin:catalog_complementcuration_add"), {"product": sofa.pk, "other": lamp.pk}),
        client.post(
            reverse("admin:catalog_categorycomplementexclusion_add"), {"category": chairs.pk, "excluded": ovens.pk}
        ),
    ]
    client.post(reverse("admin:catalog_coview_changelist"), {"action": "pin_pairs", "_selected_action": [pair.pk]})

    assert "complement_curations-0-other" not in page  # no empty row to fill in
    assert 'value="pin_pairs"' not in pairs_page
    assert [response.status_code for response in responses] == [403, 403, 403]
    assert not ComplementCuration.objects.exists() and not CategoryComplementExclusion.objects.exists()


def test_staff_given_the_curation_permissions_may_curate(client, django_user_model):
    from catalog.models import ComplementCuration, CoView

    client.force_login(
        staff(django_user_model, *VIEW_ONLY, "view_coview", "add_complementcuration", "change_complementcuration")
    )
    sofa, lamp = ProductFactory(), ProductFactory()
    pair = CoView.objects.create(product_a=sofa, product_b=lamp, kind="used", count=3, last_seen="2026-01-01T00:00Z")

    client.post(reverse("admin:catalog_coview_changelist"), {"action": "pin_pairs", "_selected_action": [pair.pk]})

    assert list(ComplementCuration.objects.values_list("product", "other", "action")) == [(sofa.pk, lamp.pk, "pin")]
