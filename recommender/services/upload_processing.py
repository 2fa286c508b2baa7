"""Answering an upload in a worker (torch): the shopper's answer, and "what the model sees" when staff ask.

``upload_answer`` decodes the stored photo once, runs the backbone and heads, searches, writes the ranked
results and marks the upload done: that is all the shopper waits for. The pieces of the photo (the room answer)
are found after that by ``upload_pieces_find`` (a task on the ``pictures`` queue); until then the upload's
``pieces_status`` is "looking", and the page showing the answer waits for them. The
decoder's redrawing is not recognisable enough to show shoppers (README, "What the model sees"), so nothing is
drawn for them; ``upload_draw`` draws it from the latent code kept on the upload when staff ask in admin (a task
on the ``pictures`` queue).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from io import BytesIO
from typing import Any

import numpy as np
from django.conf import settings
from django.core.files.base import ContentFile
from django.db import transaction
from django.db.models import F
from django.db.models.functions import Now
from PIL import Image

from catalog.colours import dominant_colours
from catalog.images import open_upright_rgb_image
from encoders.inference import encode_queries, reconstruct_codes
from encoders.lifecycle import encoder_load, served_finder
from encoders.piece_finder import find_pieces
from encoders.pieces import Piece
from recommender.models import IndexVersion, InspirationUpload
from recommender.services.category_guesses import category_guess_batch, guess_of
from recommender.services.colour_ranking import search_ranked
from recommender.services.notify import upload_changed
from recommender.services.room_answer import upload_pieces_store
from recommender.services.search import Filters, serving_state
from recommender.services.uploads import RecommenderNotReady
from recommender.services.vectors import vector_bytes, vector_from_bytes

logger = logging.getLogger(__name__)
QUERY_SIDE = 448  # the backbone sees 256 px (224 in older versions); decode at no less than 1.75 times that


def upload_claim(*, upload_id, worker: str = "") -> InspirationUpload | None:
    """Take a queued upload for this delivery (one more attempt). None if it is not queued: finished, gone, or
    being processed by another delivery of the same task, which is then left alone."""
    taken = InspirationUpload.objects.filter(pk=upload_id, status=InspirationUpload.Status.QUEUED).update(
        status=InspirationUpload.Status.PROCESSING, attempts=F("attempts") + 1, started_at=Now(), worker=worker[:200]
    )
    return InspirationUpload.objects.filter(pk=upload_id).first() if taken else None


def upload_release(*, upload_id) -> None:
    """Give a claimed upload back to the queue (a retry of the same task will claim it again)."""
    InspirationUpload.objects.filter(pk=upload_id, status=InspirationUpload.Status.PROCESSING).update(
        status=InspirationUpload.Status.QUEUED, queued_at=Now()
    )


def uploads_claim_companions(*, first: InspirationUpload, worker: str = "", limit: int) -> list[InspirationUpload]:
    """Up to ``limit`` other queued uploads, the longest queued first, taken for this delivery of ``first`` so that
    their photos share its backbone batch (``uploads_answer``). They are taken in one transaction: locked (rows that
    another delivery is taking are skipped, not waited for), then marked as ``upload_claim`` marks one; their own
    deliveries later find them taken and do nothing. Only uploads never tried join a batch, and only a first attempt
    gathers them: a photo that kills the worker is then answered alone on its next attempt, and the uploads batched
    with it lose one attempt only."""
    if limit <= 0 or first.attempts > 1:
        return []
    queued = InspirationUpload.objects.filter(status=InspirationUpload.Status.QUEUED)
    with transaction.atomic():
        waiting = list(
            queued.filter(attempts=0)
            .exclude(pk=first.pk)
            .order_by("queued_at")
            .select_for_update(skip_locked=True)
            .values_list("pk", flat=True)[:limit]
        )
        if not waiting:
            return []
        queued.filter(pk__in=waiting).update(
            status=InspirationUpload.Status.PROCESSING,
            attempts=F("attempts") + 1,
            started_at=Now(),
            worker=worker[:200],
        )
        return list(
            InspirationUpload.objects.filter(pk__in=waiting, status=InspirationUpload.Status.PROCESSING).order_by(
                "queued_at"
            )
        )


def query_image(upload: InspirationUpload) -> Image.Image:
    """The stored photo (or the box marked on it), decoded once, at the smallest scale that still gives the
    backbone full detail of the box."""
    width_share = upload.crop[2] if upload.crop else 1.0
    height_share = upload.crop[3] if upload.crop else 1.0
    with upload.image.open("rb") as handle, Image.open(BytesIO(handle.read())) as image:
        needed = int(QUERY_SIDE / max(min(width_share, height_share), 1e-3))
        if image.format == "JPEG":
            image.draft("RGB", (needed, needed))
        picture = open_upright_rgb_image(image)
    if upload.crop:
        x, y, w, h = upload.crop
        width, height = picture.size
        picture = picture.crop((round(x * width), round(y * height), round((x + w) * width), round((y + h) * height)))
    return picture


PiecesOf = Callable[[Any, Image.Image], list[Piece]]  # (encoder, photo) -> the pieces found in it, best first


def pieces_in(encoder, picture: Image.Image) -> list[Piece]:
    """The pieces of furniture in a photo, at most ROOM_PIECES (0: none are looked for), their search vectors from
    ROOM_PIECE_VECTORS."""
    return find_pieces(encoder, picture, settings=served_finder())


def upload_answer(*, upload: InspirationUpload) -> InspirationUpload:
    """Encode the claimed upload with the serving encoder, query the index, store the ranked results, mark it
    done, and then (after commit) send ``find_upload_pieces`` for the room answer (``upload_pieces_find``), which
    the shopper does not wait for. Idempotent: a retried upload is computed again from the stored photo."""
    return uploads_answer([(upload, query_image(upload))])[0]


def uploads_answer(decoded: list[tuple[InspirationUpload, Image.Image]]) -> list[InspirationUpload]:
    """``upload_answer`` for claimed uploads whose photos are decoded (``query_image``), with one backbone batch
    for all of them; each is then searched, stored and committed on its own, so a waiting page learns of its
    answer as soon as it is stored."""
    state = serving_state()
    if state.encoder_version is None:
        raise RecommenderNotReady("no encoder is live yet")
    encoder = encoder_load(state.encoder_version)
    encodings = encode_queries(encoder, [picture for _, picture in decoded])
    index_version = IndexVersion.objects.filter(name=state.index_name).first() if state.index_name else None
    guesses = category_guess_batch([encoded.categories for encoded in encodings])
    return [
        _answer_store(upload, picture, encoded, guess, state=state, index_version=index_version)
        for (upload, picture), encoded, guess in zip(decoded, encodings, guesses, strict=True)
    ]


def _answer_store(upload, picture, encoded, guess: list[dict], *, state, index_version) -> InspirationUpload:
    """Rank the answer of one encoded upload (``guess``: its ``category_guess``) and store it: the upload is done."""
    vector, code = encoded.vector, encoded.code
    upload.colours = dominant_colours(picture)  # of the box, when one is marked: what is searched
    upload.categories = guess
    results = search_ranked(
        vector,
        k=settings.RECOMMENDATIONS_PER_PAGE,
        filters=Filters.from_json(upload.filters),
        query_colours=upload.colours,
        query_categories=guess_of(upload.categories),
        state=state,
    )
    upload.results = [{"product_id": pid, "score": round(score, 5)} for pid, score in results]
    upload.encoder_version = state.encoder_version
    upload.index_version = index_version
    upload.code = vector_bytes(code)
    upload.vector = vector_bytes(vector)
    upload.status = InspirationUpload.Status.DONE
    upload.error = ""
    # The pieces of a room. Not inside a box the shopper marked: they chose the one piece they want.
    find_pieces_next = settings.ROOM_PIECES > 0 and not upload.crop
    upload.pieces_status = (
        InspirationUpload.PiecesStatus.LOOKING if find_pieces_next else InspirationUpload.PiecesStatus.NOT_LOOKED
    )
    with transaction.atomic():
        upload.save(
            update_fields=[
                "results",
                "encoder_version",
                "index_version",
                "code",
                "vector",
                "colours",
                "categories",
                "status",
                "error",
                "pieces_status",
            ]  # fmt: skip
        )
        InspirationUpload.objects.filter(pk=upload.pk).update(finished_at=Now())
        transaction.on_commit(lambda: upload_changed(str(upload.pk)))
        if find_pieces_next:
            transaction.on_commit(lambda: _send_find_pieces(str(upload.pk)))
    logger.info("upload %s answered on attempt %d", upload.pk, upload.attempts)
    return upload


def _send_find_pieces(upload_id: str) -> None:
    from recommender.tasks import find_upload_pieces

    try:
        find_upload_pieces.delay(upload_id)
    except Exception as error:  # the broker is down: the shopper has the answer; only the room answer is missing
        logger.warning("could not send find_upload_pieces(%s): %s", upload_id, error)
        upload_pieces_give_up(upload_id=upload_id)


def upload_pieces_give_up(*, upload_id) -> None:
    """The pieces of the upload will not be found (the task could not be sent, or failed for good): it is no longer
    "looking", so a page waiting for them stops. Pieces already stored stay."""
    stopped = InspirationUpload.objects.filter(
        pk=upload_id, pieces_status=InspirationUpload.PiecesStatus.LOOKING
    ).update(pieces_status=InspirationUpload.PiecesStatus.NOT_LOOKED)
    if stopped:
        upload_changed(str(upload_id))


def upload_pieces_find(*, upload_id, pieces_of: PiecesOf = pieces_in) -> bool:
    """Find the pieces of a done upload's photo (``pieces_of``) and answer each (the room answer), after the
    shopper already has the answer to the photo as one piece; ``results`` stays that answer. False when there is
    nothing to do (not done, a box marked, or answered by an encoder that no longer serves: its pieces' vectors
    would not match the index); a page waiting for the pieces is then told that none will come. Either way the
    upload is no longer "looking" and a waiting page is woken. Idempotent: a retry computes them again."""
    upload = InspirationUpload.objects.filter(pk=upload_id, status=InspirationUpload.Status.DONE).first()
    state = serving_state()
    if upload is None or upload.crop or state.encoder_version is None:
        upload_pieces_give_up(upload_id=upload_id)
        return False
    if upload.encoder_version_id != state.encoder_version.pk:
        upload_pieces_give_up(upload_id=upload_id)
        return False
    pieces = pieces_of(encoder_load(state.encoder_version), query_image(upload))
    upload_pieces_store(upload, pieces, state=state, filters=Filters.from_json(upload.filters))
    upload.pieces_status = InspirationUpload.PiecesStatus.LOOKED
    upload.save(update_fields=["kind", "pieces", "complements", "everything", "pieces_status"])
    upload_changed(str(upload.pk))
    return True


def upload_draw(*, upload_id) -> bool:
    """Draw "what the model sees" of a done upload from its stored code (for staff); False if there is nothing
    to draw or it is drawn already. A retry replaces the file of an earlier attempt. Nobody waits on it: the
    upload's state (what a long-poll follows) does not change."""
    upload = InspirationUpload.objects.filter(pk=upload_id, status=InspirationUpload.Status.DONE).first()
    if upload is None or not upload.code or upload.encoder_version is None or upload.reconstruction:
        return False
    code = vector_from_bytes(upload.code)
    picture = reconstruct_codes(encoder_load(upload.encoder_version), np.asarray([code]))[0]
    name = f"{upload.id}.png"
    storage = upload.reconstruction.storage
    path = upload.reconstruction.field.generate_filename(upload, name)
    if storage.exists(path):
        storage.delete(path)
    buffer = BytesIO()
    picture.save(buffer, format="PNG")
    upload.reconstruction.save(name, ContentFile(buffer.getvalue()), save=False)
    upload.save(update_fields=["reconstruction"])
    return True
