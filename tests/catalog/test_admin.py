import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from catalog.models import CoView, Product
from tests.catalog.factories import CategoryFactory, ProductFactory
from tests.images import image_bytes

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_client(client, django_user_model):
    user = django_user_model.objects.create_user("staff", password="pw", is_staff=True, is_superuser=True)
    client.force_login(user)
    return client


def add_form(category, **overrides):
    data = {
        "sku": "404.040.40",
        "name": "EKTORP",
        "slug": "",
        "category": category.pk,
        "type": "Three-seat sofa",
        "description": "",
        "color": "Beige",
        "size": "",
        "price": "499.00",
        "is_active": "on",
        "image": SimpleUploadedFile("ektorp.jpg", image_bytes(size=(300, 200)), content_type="image/jpeg"),
    }
    data.update(overrides)
    return data


def media_files(root):
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


def test_anonymous_users_are_sent_to_the_login_page(client):
    response = client.get(reverse("admin:catalog_product_changelist"))

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("admin:login"))


def test_a_signed_in_shopper_without_staff_status_is_not_let_in(client, django_user_model):
    client.force_login(django_user_model.objects.create_user("shopper", password="pw"))

    response = client.get(reverse("admin:catalog_product_changelist"))

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("admin:login"))


def test_staff_add_a_product_with_a_photo(staff_client):
    category = CategoryFactory(name="Sofa")

    response = staff_client.post(reverse("admin:catalog_product_add"), add_form(category))

    assert response.status_code == 302, response.context["adminform"].form.errors
    product = Product.objects.get(sku="404.040.40")
    assert product.slug == "ektorp-40404040"
    assert product.thumbnail and product.image_sha256


@pytest.mark.parametrize(
    ("image", "message"),
    [
        (SimpleUploadedFile("notes.jpg", b"this is text", content_type="image/jpeg"), "not an image"),
        (SimpleUploadedFile("cut.jpg", image_bytes(size=(300, 300))[:400], content_type="image/jpeg"), "damaged"),
    ],
    ids=["text", "truncated"],
)
def test_a_bad_photo_gets_a_form_error_and_nothing_is_saved(staff_client, isolated_media, image, message):
    response = staff_client.post(reverse("admin:catalog_product_add"), add_form(CategoryFactory(), image=image))

    assert response.status_code == 200
    assert message in str(response.context["adminform"].form.errors["image"])
    assert not Product.objects.exists()
    assert media_files(isolated_media) == []


def test_a_photo_over_the_pixel_limit_gets_a_form_error(staff_client, settings):
    settings.IMAGE_MAX_PIXELS = 10_000
    image = SimpleUploadedFile("big.png", image_bytes(size=(200, 200), format="PNG"), content_type="image/png")

    response = staff_client.post(reverse("admin:catalog_product_add"), add_form(CategoryFactory(), image=image))

    assert "megapixels" in str(response.context["adminform"].form.errors["image"])
    assert not Product.objects.exists()


def test_a_photo_over_the_size_limit_gets_a_form_error(staff_client, settings):
    settings.IMAGE_MAX_BYTES = 500
    image = SimpleUploadedFile("big.jpg", image_bytes(size=(300, 300)), content_type="image/jpeg")

    response = staff_client.post(reverse("admin:catalog_product_add"), add_form(CategoryFactory(), image=image))

    assert "larger than" in str(response.context["adminform"].form.errors["image"])


def test_product_list_shows_thumbnails_and_searches_by_sku(staff_client):
    ProductFactory(sku="111.222.33", name="POANG")
    ProductFactory(sku="999.888.77", name="MALM")

    response = staff_client.get(reverse("admin:catalog_product_changelist"), {"q": "111.222"})

    assert response.status_code == 200
    assert b"POANG" in response.content and b"MALM" not in response.content
    assert b"<img" in response.content


def test_bulk_deactivate(staff_client):
    products = [ProductFactory(), ProductFactory()]

    staff_client.post(
        reverse("admin:catalog_product_changelist"),
        {"action": "deactivate", "_selected_action": [p.pk for p in products]},
    )

    assert not Product.objects.filter(is_active=True).exists()


def test_change_page_shows_a_large_preview(staff_client):
    product = ProductFactory()

    response = staff_client.get(reverse("admin:catalog_product_change", args=[product.pk]))

    assert product.image.url in response.content.decode()
    assert "max-width:480px" in response.content.decode()


def test_coview_pairs_are_listed_strongest_first_and_read_only(staff_client):
    a, b, c = ProductFactory(name="Sofa A"), ProductFactory(name="Lamp B"), ProductFactory(name="Rug C")
    CoView.objects.create(product_a=a, product_b=b, count=2, last_seen="2026-01-01T00:00Z")
    CoView.objects.create(product_a=a, product_b=c, count=9, last_seen="2026-01-01T00:00Z")

    response = staff_client.get(reverse("admin:catalog_coview_changelist"))
    page = response.content.decode()

    assert page.index("Rug C") < page.index("Lamp B")
    assert staff_client.get(reverse("admin:catalog_coview_add")).status_code == 403
