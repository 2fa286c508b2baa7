"""Keeping every active product findable, whatever was lost on the way: a periodic check that queues an encode
for each active product without an up-to-date vector under the serving encoder (a broker that was down when
it was saved, a worker that died), or, where that encoder guesses categories, with vectors stored before guesses
were kept (an upgrade: its product page ranks by likeness alone until then), and folds a fresh set grown past
FRESH_SET_MAX into a rebuilt index so that exact search stays small."""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings

from recommender.services.search import serving_state
from recommender.services.vectors import fresh_set_size, products_without_guess_under, products_without_vectors


@dataclass(frozen=True)
class Reconciliation:
    missing: list[int]  # active products to encode under the serving encoder
    unguessed: list[int]  # active products whose vectors lack the guess the serving encoder would give them
    fresh: int  # vectors the serving index leaves to exact search
    rebuild: bool  # fold them into a new index


def catalog_reconcile(*, guesses: bool = False) -> Reconciliation:
    """What the reconcile job has to do under the serving encoder; ``guesses``: it has a category head (only a
    worker that loads it knows), so vectors stored without a guess are to be encoded again. At most
    RECONCILE_BATCH encodes in all, those without vectors first."""
    state = serving_state()
    if state.encoder_version is None:
        return Reconciliation([], [], 0, False)
    missing = products_without_vectors(version=state.encoder_version, limit=settings.RECONCILE_BATCH)
    room = settings.RECONCILE_BATCH - len(missing)
    unguessed = products_without_guess_under(version=state.encoder_version, limit=room) if guesses and room else []
    fresh = fresh_set_size(version=state.encoder_version, watermark=state.watermark)
    return Reconciliation(missing, unguessed, fresh, fresh > settings.FRESH_SET_MAX)
