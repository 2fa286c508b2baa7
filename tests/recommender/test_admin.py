import pytest
from django.urls import reverse

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_client(client, django_user_model):
    client.force_login(django_user_model.objects.create_user("staff", password="pw", is_staff=True, is_superuser=True))
    return client


def test_the_product_change_page_shows_its_nearest_neighbours(staff_client, served):
    lamp = served["products"]["lamp"][0]

    response = staff_client.get(reverse("admin:catalog_product_change", args=[lamp.pk]))

    html = response.content.decode()
    assert response.status_code == 200
    assert "Nearest neighbours now" in html
    section = html[html.index('class="neighbours"') :]
    section = section[: section.index("</ol>")]
    assert section.count("<li") == 8
    assert all(f"LAMP {n}" in section for n in (1, 2, 3))  # the other lamps
    assert "LAMP 0" not in section  # never the product itself
    assert reverse("admin:catalog_product_change", args=[served["products"]["lamp"][1].pk]) in section


def test_a_product_not_yet_encoded_says_so(staff_client, catalog_products):
    lamp = catalog_products["lamp"][0]

    response = staff_client.get(reverse("admin:catalog_product_change", args=[lamp.pk]))

    assert "not encoded yet" in response.content.decode()


def test_the_add_page_explains_when_neighbours_appear(staff_client, catalog_products):
    response = staff_client.get(reverse("admin:catalog_product_add"))

    assert response.status_code == 200
    assert "Shown once the product is saved" in response.content.decode()


@pytest.mark.parametrize(
    "url",
    [
        "admin:recommender_recommendationfeedback_changelist",
        "admin:recommender_retrainrun_changelist",
        "admin:recommender_indexversion_changelist",
        "admin:recommender_inspirationupload_changelist",
        "admin:encoders_encoderversion_changelist",
    ],
)
def test_the_staff_pages_of_the_recommender_open(staff_client, served, url):
    assert staff_client.get(reverse(url)).status_code == 200
