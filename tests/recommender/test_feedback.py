import json

import pytest
from django.urls import reverse

from recommender.models import InspirationUpload, RecommendationFeedback
from recommender.services.feedback import feedback_of_session, feedback_record, feedback_training_pairs
from recommender.services.retraining import retrain_run
from tests.encoders.helpers import tiny_config

pytestmark = pytest.mark.django_db

URL = "/api/feedback"


@pytest.fixture
def csrf_client(client):
    """A browser-like client: Django's test client skips CSRF checks unless asked."""
    client.handler.enforce_csrf_checks = True
    client.get("/")  # the upload form sets the csrftoken cookie
    return client


def post(client, data, **extra):
    token = client.cookies["csrftoken"].value if "csrftoken" in client.cookies else ""
    return client.post(URL, data, HTTP_X_CSRFTOKEN=token, **extra)


def answer(source, recommended, verdict="good", context="similar"):
    return {"source": source.sku, "recommended": recommended.sku, "context": context, "verdict": verdict}


# the service


def test_answering_again_replaces_the_answer(catalog_products):
    sofa, other = catalog_products["sofa"][:2]
    feedback_record(session_key="s1", source=sofa, recommended=other, context="similar", verdict="good")

    feedback_record(session_key="s1", source=sofa, recommended=other, context="similar", verdict="bad")

    stored = RecommendationFeedback.objects.get()
    assert stored.verdict == "bad"
    assert stored.session_hash != "s1"  # never the session key itself


def test_an_answer_given_under_the_keyed_hash_of_earlier_releases_is_changed_not_given_twice(catalog_products):
    from django.utils.crypto import salted_hmac

    sofa, other = catalog_products["sofa"][:2]
    RecommendationFeedback.objects.create(  # how earlier releases stored it: an HMAC of the key under SECRET_KEY
        session_hash=salted_hmac("lookalike.coview.session", "s1").hexdigest(),
        source=sofa,
        recommended=other,
        context="similar",
        verdict="good",
    )
    assert feedback_of_session(session_key="s1", context="similar", source=sofa) == {other.pk: "good"}

    feedback_record(session_key="s1", source=sofa, recommended=other, context="similar", verdict="bad")

    stored = RecommendationFeedback.objects.get()
    assert stored.verdict == "bad"
    assert feedback_of_session(session_key="s1", context="similar", source=sofa) == {other.pk: "bad"}


def test_each_session_and_context_has_its_own_answer(catalog_products):
    sofa, other = catalog_products["sofa"][:2]
    for session, context in [("s1", "similar"), ("s2", "similar"), ("s1", "goes_with")]:
        feedback_record(session_key=session, source=sofa, recommended=other, context=context, verdict="good")

    assert RecommendationFeedback.objects.count() == 3


def test_good_goes_with_matches_become_training_pairs_and_similar_ones_never(catalog_products):
    sofa, other = catalog_products["sofa"][:2]
    lamp, rug = catalog_products["lamp"][0], catalog_products["rug"][0]
    upload = InspirationUpload.objects.create(image="uploads/x.png")
    feedback_record(session_key="s1", source=sofa, recommended=lamp, context="goes_with", verdict="good")
    feedback_record(session_key="s2", source=lamp, recommended=sofa, context="goes_with", verdict="good")
    feedback_record(session_key="s1", source=sofa, recommended=other, context="similar", verdict="good")
    feedback_record(session_key="s1", source=sofa, recommended=rug, context="goes_with", verdict="bad")
    feedback_record(session_key="s1", upload=upload, recommended=lamp, context="upload", verdict="good")

    pairs = feedback_training_pairs()

    assert pairs == [(min(sofa.pk, lamp.pk), max(sofa.pk, lamp.pk), 2)]


def test_retraining_trains_on_good_matches_as_extra_coview_pairs(served):
    sofa, lamp = served["products"]["sofa"][0], served["products"]["lamp"][0]
    feedback_record(session_key="s1", source=sofa, recommended=lamp, context="goes_with", verdict="good")

    run = retrain_run(trigger="test", config=tiny_config(epochs=1))

    assert run.candidate.data["pairs"] == 1  # no co-views yet: the one pair is the answer


# the endpoint


def test_a_form_post_records_the_answer_for_the_session(csrf_client, catalog_products):
    sofa, other = catalog_products["sofa"][:2]

    response = post(csrf_client, answer(sofa, other))

    assert response.status_code == 200
    assert response.json() == {"recommended": other.sku, "context": "similar", "verdict": "good"}
    assert RecommendationFeedback.objects.get().recommended == other


def test_a_json_post_is_read_too(csrf_client, catalog_products):
    sofa, other = catalog_products["sofa"][:2]

    response = post(csrf_client, json.dumps(answer(sofa, other, "bad")), content_type="application/json")

    assert response.status_code == 200
    assert RecommendationFeedback.objects.get().verdict == "bad"


def test_a_post_without_the_csrf_token_is_refused(client, catalog_products):
    client.handler.enforce_csrf_checks = True
    sofa, other = catalog_products["sofa"][:2]

    response = client.post(URL, answer(sofa, other))

    assert response.status_code == 403
    assert not RecommendationFeedback.objects.exists()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"verdict": "meh"}, "verdict must be one of"),
        ({"context": "elsewhere"}, "context must be one of"),
        ({"recommended": "NO-SUCH-SKU"}, "recommended must be the sku of a product"),
        ({"source": "NO-SUCH-SKU"}, "source must be the sku of a product"),
        ({"context": "upload", "upload": "not-a-uuid"}, "upload must be the id of an upload"),
    ],
)
def test_bad_input_is_a_bad_request_with_a_message(csrf_client, catalog_products, change, message):
    sofa, other = catalog_products["sofa"][:2]

    response = post(csrf_client, {**answer(sofa, other), **change})

    assert response.status_code == 400
    assert message in response.json()["error"]
    assert not RecommendationFeedback.objects.exists()


def test_an_answer_about_an_uploads_result_is_recorded(csrf_client, catalog_products):
    upload = InspirationUpload.objects.create(image="uploads/x.png")
    lamp = catalog_products["lamp"][0]

    response = post(
        csrf_client, {"context": "upload", "upload": str(upload.id), "recommended": lamp.sku, "verdict": "good"}
    )

    assert response.status_code == 200
    stored = RecommendationFeedback.objects.get()
    assert (stored.upload, stored.source, stored.recommended) == (upload, None, lamp)


def test_get_is_not_allowed(client):
    assert client.get(URL).status_code == 405


def test_a_plain_form_without_javascript_is_sent_back_to_its_page(csrf_client, catalog_products):
    sofa, other = catalog_products["sofa"][:2]

    response = post(csrf_client, {**answer(sofa, other), "next": sofa.get_absolute_url()})

    assert response.status_code == 302
    assert response["Location"] == sofa.get_absolute_url()


def test_a_next_address_on_another_site_is_ignored(csrf_client, catalog_products):
    sofa, other = catalog_products["sofa"][:2]

    response = post(csrf_client, {**answer(sofa, other), "next": "https://evil.example/"})

    assert response.status_code == 200


def test_the_product_page_shows_the_sessions_answer_as_a_pressed_button(client, served):
    sofa = served["products"]["sofa"][0]
    client.get(sofa.get_absolute_url())  # starts the session
    first = served["products"]["sofa"][1]
    client.post(URL, answer(sofa, first))

    html = client.get(sofa.get_absolute_url()).content.decode()

    assert f'aria-pressed="true" aria-label="Good match: {first.name}"' in html
    assert html.count('aria-pressed="true"') == 1
    assert f'action="{reverse("api:feedback")}"' in html


# one client cannot flood the learning signals


def test_a_thousand_answers_from_one_client_record_at_most_the_limit(client, catalog_products, settings, one_minute):
    settings.FEEDBACK_RATE_LIMIT_PER_MINUTE = 30
    sofa = catalog_products["sofa"][0]
    others = [p for items in catalog_products.values() for p in items if p != sofa]
    statuses = []

    for n in range(1000):
        client.cookies.clear()  # a new session every time, as a script without cookies would have
        response = client.post(
            "/api/feedback",
            {"context": "goes_with", "source": sofa.sku, "recommended": others[n % len(others)].sku, "verdict": "good"},
            REMOTE_ADDR=one_minute,
        )
        statuses.append(response.status_code)

    assert RecommendationFeedback.objects.count() <= 30
    assert statuses.count(429) >= 970
