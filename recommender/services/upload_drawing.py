"""Staff's "what the model sees" of shoppers' uploads, asked for in admin (the web process: no torch here).

The decoder's redrawing is not recognisable enough to show shoppers (README, "What the model sees"), so it is no
longer drawn for every upload; staff ask for it upload by upload, and a worker on the ``pictures`` queue draws
it (``upload_processing.upload_draw``) from the latent code kept on the upload.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from django.db.models import QuerySet

from recommender.models import InspirationUpload

logger = logging.getLogger(__name__)
MAX_DRAWINGS_PER_REQUEST = 50  # one admin click never floods the pictures queue
SELECTION_READ = 500  # of a selection ("select all" over many pages), the newest this many are looked at


@dataclass(frozen=True)
class DrawingRequest:
    queued: int
    drawn_already: int
    cannot_draw: int  # not answered yet, failed, or without a kept code
    over_limit: int
    error: str = ""


def drawable(upload: InspirationUpload) -> bool:
    """Answered, with the latent code and the encoder version that made it: all a worker needs to draw it."""
    answered = upload.status == InspirationUpload.Status.DONE
    return answered and bool(upload.code) and upload.encoder_version_id is not None


def upload_drawings_request(*, uploads: QuerySet[InspirationUpload]) -> DrawingRequest:
    """Queue a drawing for each selected upload that can be drawn and is not drawn yet (at most
    ``MAX_DRAWINGS_PER_REQUEST``). The task is idempotent: asking twice draws once."""
    from recommender.tasks import draw_upload

    chosen = list(uploads.defer("results", "vector").order_by("-created_at")[:SELECTION_READ])
    drawn = [u for u in chosen if u.reconstruction]
    cannot = [u for u in chosen if not u.reconstruction and not drawable(u)]
    wanted = [u for u in chosen if not u.reconstruction and drawable(u)]
    to_queue, over = wanted[:MAX_DRAWINGS_PER_REQUEST], len(wanted) - MAX_DRAWINGS_PER_REQUEST
    queued = 0
    try:
        for upload in to_queue:
            draw_upload.delay(str(upload.pk))
            queued += 1
    except Exception as error:  # the broker is down: say so, nothing was half-written
        logger.warning("could not queue the drawing of an upload", exc_info=True)
        return DrawingRequest(queued, len(drawn), len(cannot), max(over, 0), error=str(error))
    return DrawingRequest(queued, len(drawn), len(cannot), max(over, 0))
