"""A photo answered with what it looks like: the category head's guess kept on the upload and used by the ranking
(recommender.services.category_search), through the worker's service and the serving index."""

import numpy as np
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from catalog.models import Product
from recommender.models import InspirationUpload
from recommender.services.category_search import category_search
from recommender.services.search import Filters, product_vector, serving_state
from recommender.services.uploads import parse_upload_request, upload_create
from tests.recommender.conftest import KINDS, draw, png

pytestmark = pytest.mark.django_db

SOFA, LAMP = KINDS[0], KINDS[1]


def upload_of(kind, django_capture_on_commit_callbacks) -> InspirationUpload:
    photo = SimpleUploadedFile("photo.png", png(draw(kind[1], kind[2])), content_type="image/png")
    with django_capture_on_commit_callbacks(execute=True):
        upload = upload_create(image=photo, request=parse_upload_request(crop=None, category=None, max_price=None))
    upload.refresh_from_db()
    assert upload.status == InspirationUpload.Status.DONE
    return upload


def categories_of(results) -> list[str]:
    slugs = dict(Product.objects.values_list("pk", "category__slug"))
    return [slugs[pid] for pid, _ in results]


def test_the_worker_keeps_what_the_photo_looks_like_most_likely_first(served, django_capture_on_commit_callbacks):
    upload = upload_of(LAMP, django_capture_on_commit_callbacks)

    assert [row["slug"] for row in upload.categories][0] == "lamp"
    probabilities = [row["probability"] for row in upload.categories]
    assert probabilities == sorted(probabilities, reverse=True) and sum(probabilities) == pytest.approx(1, abs=0.01)
    assert categories_of((row["product_id"], row["score"]) for row in upload.results)[:4] == ["lamp"] * 4


def between(served, first: str, second: str, state) -> np.ndarray:
    """The vector of a photo that looks like both: a sofa on a rug."""
    vector = product_vector(served["products"][first][0].pk, state) + product_vector(
        served["products"][second][0].pk, state
    )
    return vector / np.linalg.norm(vector)


def test_a_photo_whose_category_the_head_is_sure_of_is_answered_within_that_category(served):
    """A photo that looks like a sofa and a rug alike: the head's sure guess decides which come first."""
    state = serving_state()
    vector = between(served, "sofa", "rug", state)
    rug = category_search(vector, k=6, filters=Filters(), guess={"rug": 0.97, "sofa": 0.02, "lamp": 0.01}, state=state)
    sofa = category_search(vector, k=6, filters=Filters(), guess={"sofa": 0.97, "rug": 0.02, "lamp": 0.01}, state=state)

    assert categories_of(rug)[:4] == ["rug"] * 4
    assert categories_of(sofa)[:4] == ["sofa"] * 4
    assert len({pid for pid, _ in rug}) == len(rug)


def test_an_unsure_guess_leaves_likeness_to_decide(served):
    """Half sure it is a rug: the sofa's vector is still answered with sofas first, then more than one kind."""
    state = serving_state()
    vector = product_vector(served["products"]["sofa"][0].pk, state)

    mixed = category_search(vector, k=8, filters=Filters(), guess={"rug": 0.5, "sofa": 0.5}, state=state)

    assert categories_of(mixed)[:4] == ["sofa"] * 4 and len(set(categories_of(mixed))) > 1


def test_a_category_the_shopper_chose_wins_over_the_guess(served):
    state = serving_state()
    vector = product_vector(served["products"]["sofa"][0].pk, state)

    chosen = category_search(vector, k=6, filters=Filters(category="lamp"), guess={"rug": 0.99}, state=state)

    assert categories_of(chosen) == ["lamp"] * 4


def test_category_ranking_none_answers_by_likeness_alone(served, settings):
    settings.CATEGORY_RANKING = "none"
    state = serving_state()
    vector = product_vector(served["products"]["sofa"][0].pk, state)

    alike = category_search(vector, k=4, filters=Filters(), guess={"rug": 0.99, "sofa": 0.01}, state=state)

    assert categories_of(alike) == ["sofa"] * 4


def test_the_ranking_reads_the_candidates_categories_in_the_query_that_checks_them(served, django_assert_num_queries):
    state = serving_state()
    vector = between(served, "sofa", "rug", state)
    guess = {"rug": 0.97, "sofa": 0.02, "lamp": 0.01}

    with django_assert_num_queries(1):  # the candidates, filtered and with their categories: nothing per product
        ranked = category_search(vector, k=6, filters=Filters(), guess=guess, state=state)

    assert categories_of(ranked)[:4] == ["rug"] * 4


def test_the_guesses_of_a_batch_are_read_in_one_query_and_each_is_the_guess_alone(django_assert_num_queries):
    from recommender.services.category_guesses import category_guess, category_guess_batch
    from tests.catalog.factories import CategoryFactory

    for name, slug in [("Sofas", "sofa"), ("Lamps", "lamp"), ("Rugs", "rug")]:
        CategoryFactory(name=name, slug=slug)
    sofa_photo = {"Sofas": 0.7, "Lamps": 0.2, "Rugs": 0.1}
    lamp_photo = {"Lamps": 0.9, "Sofas": 0.06, "Retired": 0.04}  # a category the catalog no longer has

    with django_assert_num_queries(1):
        batch = category_guess_batch([sofa_photo, lamp_photo])

    assert batch == [category_guess(sofa_photo), category_guess(lamp_photo)]
    assert [row["slug"] for row in batch[1]] == ["lamp", "sofa"]


def test_a_photo_whose_nearest_hold_none_of_its_likeliest_category_is_answered_with_its_nearest_of_it(served):
    """A dining set whose nearest products look like beds: the guess names tables, so tables are searched too."""
    state = serving_state()
    sofa, lamp = (product_vector(served["products"][kind][0].pk, state) for kind in ("sofa", "lamp"))
    across = lamp - (lamp @ sofa) * sofa
    vector = 0.8 * sofa + 0.6 * across / np.linalg.norm(across)  # nearer the sofas, not far from the lamps
    guess = {"lamp": 0.97, "sofa": 0.02, "rug": 0.01}
    assert categories_of(category_search(vector, k=2, filters=Filters(), guess=None, state=state)) == ["sofa"] * 2

    answered = category_search(vector, k=2, filters=Filters(), guess=guess, state=state, pool=2)

    assert categories_of(answered) == ["lamp"] * 2


def test_short_category_names_the_likeliest_category_only_when_the_candidates_hold_fewer_than_k():
    from encoders.category_ranking import short_category

    candidates = [(1, 0.9), (2, 0.8), (3, 0.7)]
    category_of = {1: "bed", 2: "bed", 3: "table"}

    assert short_category(candidates, category_of, {"table": 0.7, "bed": 0.3}, k=2) == "table"
    assert short_category(candidates, category_of, {"bed": 0.7, "table": 0.3}, k=2) is None
    assert short_category(candidates, category_of, {}, k=2) is None
