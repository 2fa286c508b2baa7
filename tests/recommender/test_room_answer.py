"""Shop the room: a photo of several confident pieces is answered as a room, each piece with its own lookalikes
within what it looks like, plus what goes well with them; the API and the results page show the pieces (hotspots
and strips) with a switch back to the one-piece answer."""

import re

import numpy as np
import pytest
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from catalog.models import Category, CoView, Product
from catalog.selectors import used_together_among
from encoders.pieces import ROOM_KIND_PIECES, Piece
from encoders.room_context import everything_in_room
from recommender.models import InspirationUpload
from recommender.services.room_answer import (
    ROOM_MIN_CONFIDENCE,
    piece_guess,
    room_answer,
    room_complements,
    room_everything,
    room_kind,
    upload_pieces_store,
)
from recommender.services.search import Filters, product_vector, serving_state
from recommender.services.upload_processing import upload_answer, upload_pieces_find
from recommender.services.uploads import parse_upload_request, upload_create
from tests.recommender.conftest import KINDS, draw, png

pytestmark = pytest.mark.django_db

DISPLAY_NAMES = {"sofa": "Sofas", "lamp": "Lamps", "rug": "Rugs & carpets"}
BOXES = {"sofa": (0.05, 0.5, 0.6, 0.4), "lamp": (0.7, 0.1, 0.2, 0.5), "rug": (0.2, 0.85, 0.6, 0.15)}


def piece_of(product: Product, confidence: float, *, box=None, categories=None) -> Piece:
    """A piece that looks exactly like ``product`` (its served vector), of the product's category."""
    category = product.category.name
    return Piece(
        box=box or BOXES[category],
        category=category,
        confidence=confidence,
        vector=product_vector(product.pk, serving_state()),
        categories=categories,
    )


def category_slugs(results: list[dict]) -> set[str]:
    ids = [row["product_id"] for row in results]
    return set(Product.objects.filter(pk__in=ids).values_list("category__slug", flat=True))


# The kind of answer


def test_confident_pieces_of_three_categories_are_a_room(served):
    sofa, lamp, rug = (served["products"][kind][0] for kind in ("sofa", "lamp", "rug"))

    kind, pieces = room_answer(
        [piece_of(lamp, 0.7), piece_of(sofa, 0.9), piece_of(rug, 0.8)], state=serving_state(), filters=Filters(), k=4
    )

    assert kind == "room"
    assert [(piece["category"], piece["confidence"]) for piece in pieces] == [
        ("sofa", 0.9),
        ("rug", 0.8),
        ("lamp", 0.7),
    ]
    assert pieces[0]["box"] == list(BOXES["sofa"])


def test_room_or_piece_is_judged_on_the_finders_best_six_pieces(served):
    sofa, lamp, rug = (served["products"][kind][0] for kind in ("sofa", "lamp", "rug"))
    unsure_sofas = [piece_of(sofa, 0.5) for _ in range(ROOM_KIND_PIECES - 1)]
    best_first = [piece_of(sofa, 0.9), *unsure_sofas, piece_of(lamp, 0.95), piece_of(rug, 0.95)]

    kind, pieces = room_answer(best_first, state=serving_state(), filters=Filters(), k=2)

    # the lamp and the rug come after the finder's best six: shown (most confident first), but they do not make
    # the photo of a sofa a room
    assert kind == "piece" and len(pieces) == ROOM_KIND_PIECES + 2
    assert [piece["category"] for piece in pieces[:3]] == ["lamp", "rug", "sofa"]
    kind, _ = room_answer(best_first[-2:] + best_first[:-2], state=serving_state(), filters=Filters(), k=2)
    assert kind == "room"


def test_one_confident_piece_is_a_piece_and_every_piece_is_kept(served):
    sofa, lamp = served["products"]["sofa"][0], served["products"]["lamp"][0]

    kind, pieces = room_answer(
        [piece_of(sofa, 0.9), piece_of(lamp, ROOM_MIN_CONFIDENCE - 0.2)], state=serving_state(), filters=Filters()
    )

    assert kind == "piece"
    # the finder's pieces are all shown (the room answer is the shopper's choice): only the kind needs sure ones
    assert [piece["category"] for piece in pieces] == ["sofa", "lamp"]


def test_unsure_pieces_are_a_piece_answer_that_still_offers_the_room(served):
    sofa, lamp = served["products"]["sofa"][0], served["products"]["lamp"][0]

    kind, pieces = room_answer([piece_of(sofa, 0.3), piece_of(lamp, 0.45)], state=serving_state(), filters=Filters())

    assert kind == "piece" and [piece["category"] for piece in pieces] == ["lamp", "sofa"]


def test_a_room_needs_confident_pieces_of_three_categories():
    assert room_kind([("armchair", 0.9), ("armchair", 0.8), ("lamp", 0.8)]) == "piece"
    assert room_kind([("armchair", 0.9), ("lamp", 0.8)]) == "piece"  # a photo of a chair by its lamp
    assert room_kind([("armchair", 0.9), ("lamp", 0.8), ("rug", ROOM_MIN_CONFIDENCE)]) == "room"
    assert room_kind([("armchair", 0.9), ("lamp", 0.8), ("rug", ROOM_MIN_CONFIDENCE - 0.01)]) == "piece"
    assert room_kind([("armchair", 0.9), ("lamp", 0.8), ("lamp", 0.9), ("rug", 0.75), ("table", 0.2)]) == "room"


def test_a_piece_of_a_category_the_catalog_does_not_have_is_left_out(served):
    sofa, lamp = served["products"]["sofa"][0], served["products"]["lamp"][0]
    unknown = Piece(box=(0, 0, 1, 1), category="spaceship", confidence=0.99, vector=piece_of(sofa, 1).vector)

    kind, pieces = room_answer(
        [unknown, piece_of(sofa, 0.9), piece_of(lamp, 0.8)], state=serving_state(), filters=Filters()
    )

    # nor is it counted as a kind of the room
    assert kind == "piece" and [piece["category"] for piece in pieces] == ["sofa", "lamp"]


# Each piece answered on its own


def test_each_piece_is_answered_with_lookalikes_of_its_own_category(served):
    sofa, lamp, rug = (served["products"][kind][1] for kind in ("sofa", "lamp", "rug"))

    _, pieces = room_answer(
        [piece_of(sofa, 0.9), piece_of(lamp, 0.8), piece_of(rug, 0.7)], state=serving_state(), filters=Filters(), k=4
    )

    for piece, product in zip(pieces, (sofa, lamp, rug), strict=True):
        assert len(piece["results"]) == 4
        assert category_slugs(piece["results"]) == {piece["category"]}
        assert piece["results"][0]["product_id"] == product.pk  # the piece looks exactly like it


def test_the_upload_s_category_filter_does_not_turn_every_piece_into_that_category(served):
    sofa, lamp = served["products"]["sofa"][0], served["products"]["lamp"][0]

    _, pieces = room_answer(
        [piece_of(sofa, 0.9), piece_of(lamp, 0.8)], state=serving_state(), filters=Filters(category="sofa"), k=4
    )

    assert category_slugs(pieces[1]["results"]) == {"lamp"}


def test_a_piece_is_ranked_with_its_whole_distribution_when_the_finder_kept_it():
    piece = Piece(
        box=(0, 0, 1, 1), category="Sofa", confidence=0.8, vector=np.zeros(4), categories={"Sofa": 0.8, "Lamp": 0.2}
    )
    top_only = Piece(box=(0, 0, 1, 1), category="Sofa", confidence=0.8, vector=np.zeros(4))
    slugs = {"Sofa": "sofa", "Lamp": "lamp"}

    assert piece_guess(piece, slugs) == {"sofa": 0.8, "lamp": 0.2}
    assert piece_guess(top_only, slugs) == {"sofa": 0.8}


# Goes well with what you have


def test_complements_leave_out_the_categories_already_in_the_room(served):
    sofa, lamp = served["products"]["sofa"][0], served["products"]["lamp"][0]
    _, pieces = room_answer([piece_of(sofa, 0.9), piece_of(lamp, 0.8)], state=serving_state(), filters=Filters())

    complements = room_complements(pieces, k=6)

    assert complements
    assert category_slugs([{"product_id": pid} for pid, _ in complements]) == {"rug"}
    assert len({pid for pid, _ in complements}) == len(complements)
    assert [score for _, score in complements] == sorted((score for _, score in complements), reverse=True)


def test_complements_take_turns_between_the_pieces_and_favour_what_goes_with_several(served, monkeypatch):
    """Each piece's complements are ranked by their own scores, which do not compare across pieces (one whose
    product many rooms held scores far above one the encoder alone pairs): the strip fuses the pieces' rankings,
    so one piece cannot fill it, and a product that goes with several pieces comes first."""
    from recommender.services import room_answer as module

    products = served["products"]
    _, pieces = room_answer(
        [piece_of(products["sofa"][0], 0.9), piece_of(products["sofa"][1], 0.8)],
        state=serving_state(),
        filters=Filters(),
    )
    first, second = (row["results"][0]["product_id"] for row in pieces)
    rugs, lamps = [p.pk for p in products["rug"]], [p.pk for p in products["lamp"]]
    answers = {  # the first piece's product was held with rugs by many rooms; the second's complements are learned
        first: [(pid, 3.0 - n / 10) for n, pid in enumerate([rugs[0], rugs[1], rugs[3], rugs[2]])],
        second: [(pid, 0.5 - n / 10) for n, pid in enumerate([lamps[0], lamps[1], rugs[3]])],
    }
    monkeypatch.setattr(module, "goes_with_products", lambda *, product, k: answers[product.pk][:k])

    complements = [pid for pid, _ in room_complements(pieces, k=3)]

    assert complements[0] == rugs[3]  # with both pieces
    assert set(complements[1:]) == {rugs[0], lamps[0]}  # then each piece's first one: the pieces take turns


def test_complements_cost_at_most_one_goes_with_query_per_piece(served, monkeypatch):
    from recommender.services import room_answer as module

    sofa, lamp = served["products"]["sofa"][0], served["products"]["lamp"][0]
    _, pieces = room_answer([piece_of(sofa, 0.9), piece_of(lamp, 0.8)], state=serving_state(), filters=Filters())
    asked = []
    real = module.goes_with_products
    monkeypatch.setattr(
        module, "goes_with_products", lambda *, product, k: asked.append(product.pk) or real(product=product, k=k)
    )

    room_complements(pieces + pieces, k=6)  # the same best products twice

    assert sorted(asked) == sorted({pieces[0]["results"][0]["product_id"], pieces[1]["results"][0]["product_id"]})


# The worker


def test_the_worker_looks_for_the_pieces_of_every_photo(served, django_capture_on_commit_callbacks):
    """The default path: ``encoders.piece_finder`` with the live encoder, each piece answered and kept."""
    photo = SimpleUploadedFile("room.png", png(draw(KINDS[0][1], KINDS[0][2])), content_type="image/png")
    with django_capture_on_commit_callbacks(execute=True):
        upload = upload_create(image=photo, request=parse_upload_request(crop=None, category=None, max_price=None))
    upload.refresh_from_db()

    assert upload.status == InspirationUpload.Status.DONE and upload.results
    assert upload.kind == "piece"  # a plain product shot is answered as one piece
    assert upload.pieces and all(piece["results"] and len(piece["box"]) == 4 for piece in upload.pieces)
    confidences = [piece["confidence"] for piece in upload.pieces]
    assert confidences == sorted(confidences, reverse=True)


@pytest.fixture
def answered_photo(served, django_capture_on_commit_callbacks, settings):
    """A room-like photo answered through the worker's service as one piece, no pieces looked for."""
    settings.ROOM_PIECES = 0
    photo = SimpleUploadedFile("room.png", png(draw(KINDS[0][1], KINDS[0][2])), content_type="image/png")
    with django_capture_on_commit_callbacks(execute=True):
        upload = upload_create(image=photo, request=parse_upload_request(crop=None, category=None, max_price=None))
    upload.refresh_from_db()
    assert upload.status == InspirationUpload.Status.DONE and upload.kind == "piece" and upload.pieces == []
    return upload


def test_the_worker_stores_the_pieces_and_keeps_the_one_piece_answer(served, answered_photo):
    sofa, lamp = served["products"]["sofa"][0], served["products"]["lamp"][0]
    found = [piece_of(sofa, 0.9), piece_of(lamp, 0.8)]
    seen = []

    upload_pieces_find(
        upload_id=answered_photo.pk, pieces_of=lambda encoder, picture: seen.append(picture.size) or found
    )

    stored = InspirationUpload.objects.get(pk=answered_photo.pk)
    assert seen and stored.kind == "piece"  # two kinds: a photo of a sofa by its lamp, the room answer offered
    assert [piece["category"] for piece in stored.pieces] == ["sofa", "lamp"]
    assert all(piece["results"] for piece in stored.pieces)
    assert stored.complements and category_slugs(stored.complements) == {"rug"}
    assert stored.results == answered_photo.results and len(stored.results) == 12


def test_the_worker_answers_a_photo_with_confident_pieces_of_three_kinds_as_a_room(served, answered_photo):
    sofa, lamp, rug = (served["products"][kind][0] for kind in ("sofa", "lamp", "rug"))
    found = [piece_of(sofa, 0.9), piece_of(lamp, 0.8), piece_of(rug, 0.75)]

    upload_pieces_find(upload_id=answered_photo.pk, pieces_of=lambda encoder, picture: found)

    stored = InspirationUpload.objects.get(pk=answered_photo.pk)
    assert stored.kind == "room" and [piece["category"] for piece in stored.pieces] == ["sofa", "lamp", "rug"]


def test_no_pieces_are_looked_for_inside_a_box_the_shopper_marked(served, answered_photo):
    answered_photo.crop = [0.1, 0.1, 0.5, 0.5]
    answered_photo.save(update_fields=["crop"])

    upload_pieces_find(upload_id=answered_photo.pk, pieces_of=lambda encoder, picture: pytest.fail("looked for pieces"))

    assert InspirationUpload.objects.get(pk=answered_photo.pk).kind == "piece"


def test_the_shopper_has_the_answer_before_the_pieces_are_looked_for(
    served, answered_photo, settings, django_capture_on_commit_callbacks
):
    """The room answer is a second task sent after the first answer is committed: the shopper never waits for it."""
    settings.ROOM_PIECES = 6

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        upload_answer(upload=answered_photo)
    answered = InspirationUpload.objects.get(pk=answered_photo.pk)
    assert answered.status == InspirationUpload.Status.DONE and answered.results and answered.pieces == []

    for callback in callbacks:
        callback()  # the long-poll's notification, then the room answer (Celery runs eagerly)

    assert InspirationUpload.objects.get(pk=answered_photo.pk).pieces


def test_pieces_are_not_looked_for_with_an_encoder_that_no_longer_serves_or_inside_a_box(served, answered_photo):
    answered_photo.crop = [0.1, 0.1, 0.5, 0.5]
    answered_photo.save(update_fields=["crop"])
    assert upload_pieces_find(upload_id=answered_photo.pk) is False

    answered_photo.crop = None
    answered_photo.encoder_version = None  # answered by a version that is gone
    answered_photo.save(update_fields=["crop", "encoder_version"])
    assert upload_pieces_find(upload_id=answered_photo.pk) is False
    assert InspirationUpload.objects.get(pk=answered_photo.pk).pieces == []


def test_the_worker_stores_everything_in_this_room_ranked_with_what_the_likely_matches_were_used_with(served):
    sofa, lamp, rug = (served["products"][kind][0] for kind in ("sofa", "lamp", "rug"))
    pieces = [piece_of(sofa, 0.9), piece_of(lamp, 0.8), piece_of(rug, 0.75)]
    before = InspirationUpload(image="uploads/room.png")
    upload_pieces_store(before, pieces, state=serving_state(), filters=Filters())
    answers = [[(row["product_id"], row["score"]) for row in piece["results"]] for piece in before.pieces]
    answered = {pid for answer in answers for pid, _ in answer}
    best = {pid: max(score for answer in answers for p, score in answer if p == pid) for pid in answered}
    plain = sorted(best, key=lambda pid: (-best[pid], pid))
    assert [row["product_id"] for row in before.everything] == plain[:10]  # no pairs: by the best cosine alone
    # the room held the sofa, the lamp and a rug that looks less like its piece than ten others do
    last = plain[-1]
    for a, b in [(sofa.pk, last), (lamp.pk, last), (sofa.pk, lamp.pk)]:
        CoView.objects.create(
            product_a_id=min(a, b), product_b_id=max(a, b), kind=CoView.Kind.USED, count=1, last_seen=timezone.now()
        )
    upload = InspirationUpload(image="uploads/room.png")

    with CaptureQueriesContext(connection) as queries:
        everything = room_everything(before.pieces)
    upload_pieces_store(upload, pieces, state=serving_state(), filters=Filters())

    assert len(queries.captured_queries) == 1  # the pairs among the answered products
    assert upload.everything == everything and len(everything) == 10
    ids = [row["product_id"] for row in everything]
    assert ids[:3] == [sofa.pk, lamp.pk, last]  # each used with two likely others, before anything without company
    assert ids == [pid for pid, _ in everything_in_room(answers, used_together_among(answered), k=10)]
    assert all(row["score"] == pytest.approx(best[row["product_id"]], abs=1e-5) for row in everything)


def test_a_category_the_shopper_chose_answers_the_photo_as_one_piece(served):
    sofa, lamp = served["products"]["sofa"][0], served["products"]["lamp"][0]
    upload = InspirationUpload(image="uploads/room.png")

    upload_pieces_store(
        upload, [piece_of(sofa, 0.9), piece_of(lamp, 0.8)], state=serving_state(), filters=Filters(category="lamp")
    )

    assert upload.kind == "piece" and len(upload.pieces) == 2  # kept, so the page can offer the room answer


# The API and the page (pieces stored as the worker leaves them)


@pytest.fixture
def named(catalog_products):
    for slug, name in DISPLAY_NAMES.items():
        Category.objects.filter(slug=slug).update(display_name=name)
    return catalog_products


def stored_piece(products: list[Product], confidence: float, box) -> dict:
    return {
        "box": list(box),
        "category": products[0].category.slug,
        "confidence": confidence,
        "results": [{"product_id": product.pk, "score": 0.9 - n / 10} for n, product in enumerate(products)],
    }


def room_upload(products: dict, *, pieces: int = 2, kind: str = "room", **fields) -> InspirationUpload:
    """A done upload whose photo was found to hold ``pieces`` pieces (sofa, lamp, rug, then sofa again)."""
    order = ["sofa", "lamp", "rug", "sofa"]
    stored = [stored_piece(products[order[n]], round(0.9 - n / 10, 2), BOXES[order[n]]) for n in range(pieces)]
    return InspirationUpload.objects.create(
        image=ContentFile(png(draw((200, 200, 200), "square", size=120)), name="room.png"),
        status=InspirationUpload.Status.DONE,
        results=[{"product_id": product.pk, "score": 0.8} for product in products["sofa"]],
        kind=kind,
        pieces=stored,
        complements=[{"product_id": products["rug"][0].pk, "score": 0.7}] if pieces < 3 else [],
        **fields,
    )


def status_json(client, upload: InspirationUpload) -> dict:
    response = client.get(f"/api/uploads/{upload.id}")
    assert response.status_code == 200
    return response.json()


def test_the_api_gives_the_kind_the_pieces_with_their_products_and_the_complements(client, named):
    upload = room_upload(named)

    data = status_json(client, upload)

    assert data["kind"] == "room"
    sofa, lamp = data["pieces"]
    assert sofa["box"] == list(BOXES["sofa"]) and sofa["category"] == "sofa" and sofa["category_name"] == "Sofas"
    assert sofa["confidence"] == 0.9 and lamp["category_name"] == "Lamps"
    assert [card["sku"] for card in lamp["results"]] == [product.sku for product in named["lamp"]]
    assert set(lamp["results"][0]) >= {"sku", "name", "url", "image", "category", "price", "score", "variants"}
    assert [card["sku"] for card in data["complements"]] == [named["rug"][0].sku]
    assert [card["sku"] for card in data["results"]] == [product.sku for product in named["sofa"]]


def test_everything_in_this_room_is_shown_as_the_worker_ranked_it(client, named):
    sofas, lamps, rugs = named["sofa"], named["lamp"], named["rug"]
    upload = room_upload(named)
    upload.everything = [  # a rug first: it went with the other pieces' matches (encoders.room_context)
        {"product_id": rugs[0].pk, "score": 0.4},
        {"product_id": sofas[0].pk, "score": 0.9},
        {"product_id": lamps[0].pk, "score": 0.8},
    ]
    upload.save(update_fields=["everything"])

    data = status_json(client, upload)

    assert [(card["sku"], card["score"]) for card in data["everything"]] == [
        (rugs[0].sku, 0.4),  # its match to a piece is what the card shows
        (sofas[0].sku, 0.9),
        (lamps[0].sku, 0.8),
    ]
    page = client.get(f"/uploads/{upload.id}/?as=room").content.decode()
    everything = page[page.index('id="everything"') :]
    assert everything.index(rugs[0].name) < everything.index(sofas[0].name) < everything.index(lamps[0].name)
    assert "those often used with the other likely matches come first" in everything


def test_everything_in_this_room_of_an_upload_answered_before_it_was_stored_is_merged_by_best_score(client, named):
    sofas, lamps = named["sofa"], named["lamp"]
    upload = room_upload(named)
    sofa_piece, lamp_piece = upload.pieces
    sofa_piece["results"] = [{"product_id": sofas[0].pk, "score": 0.5}, {"product_id": lamps[0].pk, "score": 0.3}]
    lamp_piece["results"] = [{"product_id": lamps[0].pk, "score": 0.7}, {"product_id": lamps[1].pk, "score": 0.4}]
    upload.save(update_fields=["pieces"])

    data = status_json(client, upload)

    assert [(card["sku"], card["score"]) for card in data["everything"]] == [
        (lamps[0].sku, 0.7),  # answered to both pieces: once, with its better score
        (sofas[0].sku, 0.5),
        (lamps[1].sku, 0.4),
    ]
    page = client.get(f"/uploads/{upload.id}/?as=room").content.decode()
    everything = page[page.index('id="everything"') :]
    assert "Everything in this room" in everything and everything.index(lamps[0].name) < everything.index(sofas[0].name)
    assert "most alike first" in everything


def test_a_room_of_one_kind_of_piece_does_not_repeat_its_strip_as_everything_in_this_room(client, named):
    upload = room_upload(named, pieces=4)
    upload.pieces = [upload.pieces[0], upload.pieces[3]]  # two sofas: one strip
    upload.save(update_fields=["pieces"])

    page = client.get(f"/uploads/{upload.id}/?as=room").content.decode()

    assert "Sofas · 2 in your photo" in page and 'id="everything"' not in page
    assert status_json(client, upload)["everything"]  # the API still gives the merged ranking


def test_a_piece_upload_in_the_api_has_no_pieces(client, named):
    upload = room_upload(named, pieces=0, kind="piece")

    data = status_json(client, upload)

    assert (data["kind"], data["pieces"], data["complements"], data["everything"]) == ("piece", [], [], [])


def test_the_api_reads_the_pieces_with_the_same_number_of_queries_for_one_or_four(client, named):
    one, four = room_upload(named, pieces=1), room_upload(named, pieces=4)

    counts = []
    for upload in (one, four):
        with CaptureQueriesContext(connection) as queries:
            data = status_json(client, upload)
        counts.append(len(queries))
        assert sum(len(piece["results"]) for piece in data["pieces"]) == 4 * len(upload.pieces)

    assert counts[0] == counts[1], counts


def hotspot_labels(html: str) -> list[str]:
    return re.findall(r'<a class="hotspot"[^>]*aria-label="([^"]+)"', html)


def test_the_page_of_a_room_shows_a_labelled_hotspot_and_a_strip_per_piece(client, named):
    upload = room_upload(named)

    html = client.get(upload.get_absolute_url()).content.decode()

    assert hotspot_labels(html) == ["Sofas: 4 lookalikes", "Lamps: 4 lookalikes"]
    assert 'href="#piece-1"' in html and 'href="#piece-2"' in html
    for number, kind in ((1, "sofa"), (2, "lamp")):
        strip = re.search(rf'<section class="piece-strip" id="piece-{number}".*?</section>', html, re.S).group(0)
        assert re.findall(r'class="name">([^<]+)<', strip) == [product.name for product in named[kind]]
    assert "Goes well with what you have" in html and named["rug"][0].name in html
    assert 'aria-current="page">Answer as a room' in html
    assert 'id="results"' not in html  # the one-piece grid is one click away


def test_the_page_keeps_a_constant_number_of_queries_for_one_or_four_pieces(client, named):
    counts = []
    for pieces in (1, 4):
        upload = room_upload(named, pieces=pieces)
        with CaptureQueriesContext(connection) as queries:
            html = client.get(f"{upload.get_absolute_url()}?as=room").content.decode()
        counts.append(len(queries))
        assert len(hotspot_labels(html)) == pieces

    assert counts[0] == counts[1], counts


def test_the_switch_answers_a_room_as_one_piece_and_back(client, named):
    upload = room_upload(named)

    as_piece = client.get(f"{upload.get_absolute_url()}?as=piece").content.decode()
    as_room = client.get(f"{upload.get_absolute_url()}?as=room").content.decode()

    assert hotspot_labels(as_piece) == [] and 'id="results"' in as_piece
    assert 'aria-current="page">Answer as one piece' in as_piece
    assert re.findall(r'class="name">(SOFA \d)<', as_piece) == [product.name for product in named["sofa"]]
    assert len(hotspot_labels(as_room)) == 2


def test_filters_chosen_on_a_room_page_refine_the_one_piece_answer(client, named):
    upload = room_upload(named)

    html = client.get(f"{upload.get_absolute_url()}?category=&max_price=").content.decode()

    assert hotspot_labels(html) == [] and 'id="results"' in html


def test_a_photo_of_several_pieces_answered_as_one_piece_offers_the_room(client, named):
    upload = room_upload(named, kind="piece")

    html = client.get(upload.get_absolute_url()).content.decode()

    assert hotspot_labels(html) == [] and 'id="results"' in html
    assert 'aria-current="page">Answer as one piece' in html and 'href="?as=room"' in html


def test_the_page_of_a_piece_upload_is_unchanged(client, named):
    upload = room_upload(named, pieces=0, kind="piece", crop=[0.1, 0.2, 0.5, 0.5])

    html = client.get(upload.get_absolute_url()).content.decode()

    assert 'id="results"' in html and 'id="crop-outline"' in html and "we searched inside the box you marked" in html
    assert "answer-switch" not in html and "hotspot" not in html and "piece-strip" not in html
    assert "Goes well with what you have" not in html and "js/room.js" not in html
    assert re.findall(r'class="name">([^<]+)<', html) == [product.name for product in named["sofa"]]


def test_a_room_answer_asked_of_a_photo_without_pieces_is_the_whole_photo_with_a_message(client, answered_photo):
    assert answered_photo.pieces == []

    response = client.get(answered_photo.get_absolute_url(), {"as": "room"})

    page = response.content.decode()
    assert response.status_code == 200 and 'id="no-pieces"' in page and "no separate pieces" in page
    assert 'id="results"' in page and 'class="room-answer' not in page
    assert 'id="no-pieces"' not in client.get(answered_photo.get_absolute_url()).content.decode()
