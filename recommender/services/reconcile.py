"""Keeping every active product findable, whatever was lost on the way: a periodic check that queues an encode
for each active product without an up-to-date vector under the serving encoder (a broker that was down when
it was saved, a worker that died), and folds a fresh set grown past FRESH_SET_MAX into a rebuilt index so that
exact search stays small."""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings

from recommender.services.search import serving_state
from recommender.services.vectors import fresh_set_size, products_without_vectors


@dataclass(frozen=True)
class Reconciliation:
    missing: list[int]  # active products to encode under the serving encoder
    fresh: int  # vectors the serving index leaves to exact search
    rebuild: bool  # fold them into a new index


def catalog_reconcile() -> Reconciliation:
    state = serving_state()
    if state.encoder_version is None:
        return Reconciliation([], 0, False)
    missing = products_without_vectors(version=state.encoder_version, limit=settings.RECONCILE_BATCH)
    fresh = fresh_set_size(version=state.encoder_version, watermark=state.watermark)
    return Reconciliation(missing, fresh, fresh > settings.FRESH_SET_MAX)
