"""Answering "what looks like this?" and "what goes with this?".

What serves queries is the index named by the ACTIVE pointer, together with the encoder recorded in its
metadata. Products encoded after that index was built form a small "fresh" set that every query also
searches exactly, so a new product is recommendable within seconds. Where no index can be loaded (none
built yet, or its file is missing or corrupt), queries fall back to exact search over the stored vectors of
the live encoder. Inactive and deleted products are filtered out at query time; category and price filters
work by over-fetching.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

import numpy as np
from django.conf import settings
from django.db.models import Count, Max
from django.utils.dateparse import parse_datetime

from catalog.models import CoView, Product
from encoders.models import EncoderVersion
from encoders.versions import active_encoder_version
from recommender import index as annoy_index
from recommender.models import ProductEmbedding
from recommender.services.embeddings import embeddings_matrix
from recommender.services.indexing import index_root

logger = logging.getLogger(__name__)

_cache_lock = threading.Lock()
_index_cache: annoy_index.IndexCache | None = None
_goes_with_cache: dict[tuple, tuple[list[int], np.ndarray]] = {}


def index_cache() -> annoy_index.IndexCache:
    global _index_cache
    with _cache_lock:
        if _index_cache is None:
            _index_cache = annoy_index.IndexCache(recheck_seconds=settings.INDEX_RELOAD_SECONDS)
        return _index_cache


@dataclass(frozen=True)
class Filters:
    category: str = ""  # a category slug
    max_price: Decimal | None = None

    def as_json(self) -> dict:
        return {"category": self.category, "max_price": None if self.max_price is None else str(self.max_price)}

    @classmethod
    def from_json(cls, data: dict | None) -> Filters:
        data = data or {}
        price = data.get("max_price")
        return cls(category=data.get("category") or "", max_price=None if price in (None, "") else Decimal(price))


@dataclass(frozen=True)
class ServingState:
    encoder_version: EncoderVersion | None
    index: annoy_index.LoadedIndex | None
    vectors_read_at: datetime | None  # vectors stored after this are not in the index: the fresh set


def serving_state() -> ServingState:
    index = index_cache().get(index_root())
    if index is not None:
        metadata = index.meta.get("metadata", {})
        version = EncoderVersion.objects.filter(name=metadata.get("encoder_version")).first()
        if version is not None:
            return ServingState(version, index, parse_datetime(metadata.get("vectors_read_at", "")))
        logger.error("index %s names an unknown encoder version %r", index.version, metadata.get("encoder_version"))
    return ServingState(active_encoder_version(), None, None)


def serving_problem() -> str:
    """A sentence for staff when queries are not served by the active index (empty when all is well)."""
    active = annoy_index.active_version(index_root())
    if active is None:
        return ""
    state = serving_state()
    if state.index is not None and state.index.version == active:
        return ""
    error = index_cache().last_error
    serving = f"the previous index {state.index.version}" if state.index is not None else "exact search"
    return (
        f"The active index {active} cannot be loaded ({error}); queries are answered by {serving}. Rebuild the index."
    )


def serving_encoder_version() -> EncoderVersion | None:
    return serving_state().encoder_version


def _fresh_set(state: ServingState) -> tuple[list[int], np.ndarray]:
    """Vectors not in the index: stored after it was built (or all of them, with no index)."""
    since = state.vectors_read_at if state.index is not None else None
    return embeddings_matrix(version=state.encoder_version, updated_since=since)


def _allowed(product_ids: list[int], filters: Filters) -> set[int]:
    products = Product.objects.filter(pk__in=product_ids, is_active=True)
    if filters.category:
        products = products.filter(category__slug=filters.category)
    if filters.max_price is not None:
        products = products.filter(price__lte=filters.max_price)
    return set(products.values_list("pk", flat=True))


def search_vector(
    vector: np.ndarray, *, k: int, filters: Filters = Filters(), exclude: set[int] = frozenset(), state=None
) -> list[tuple[int, float]]:
    """The ``k`` best (product id, cosine similarity) for a "similar"-space vector, best first."""
    state = state or serving_state()
    if state.encoder_version is None:
        return []
    fresh_ids, fresh_vectors = _fresh_set(state)
    fresh = annoy_index.exact_search(fresh_vectors, fresh_ids, vector, k=len(fresh_ids)) if fresh_ids else []
    fetch = max(50, k * 5)
    while True:
        indexed = state.index.query(vector, k=fetch) if state.index is not None else []
        merged = annoy_index.merge_results(
            indexed, fresh, k=len(indexed) + len(fresh), exclude=exclude, superseded=fresh_ids
        )
        allowed = _allowed([pid for pid, _ in merged], filters)
        results = [(pid, score) for pid, score in merged if pid in allowed][:k]
        if len(results) >= k or state.index is None or fetch >= len(state.index):
            return results
        fetch *= 4


def product_vector(product: Product, state: ServingState, field: str = "similar") -> np.ndarray | None:
    embedding = ProductEmbedding.objects.filter(product=product, encoder_version=state.encoder_version).first()
    if embedding is not None:
        return embedding.similar_vector if field == "similar" else embedding.goes_with_vector
    if field == "similar" and state.index is not None:
        return state.index.vector(product.pk)
    return None


def similar_products(*, product: Product, k: int, filters: Filters = Filters()) -> list[tuple[int, float]]:
    state = serving_state()
    if state.encoder_version is None:
        return []
    vector = product_vector(product, state)
    if vector is None:
        return []
    return search_vector(vector, k=k, filters=filters, exclude={product.pk}, state=state)


def _goes_with_matrix(version: EncoderVersion) -> tuple[list[int], np.ndarray]:
    """All "goes with" vectors of ``version``, cached per process until a vector is added or changed."""
    stamp = ProductEmbedding.objects.filter(encoder_version=version).aggregate(n=Count("pk"), last=Max("updated_at"))
    key = (version.pk, stamp["n"], stamp["last"])
    if key not in _goes_with_cache:
        _goes_with_cache.clear()
        _goes_with_cache[key] = embeddings_matrix(version=version, field="goes_with", active_only=False)
    return _goes_with_cache[key]


def goes_with_products(*, product: Product, k: int) -> list[tuple[int, float]]:
    """Products of other categories that go with ``product``: first those shoppers viewed together with it
    (strongest pairs first, scored by their share of the strongest count), then the nearest in the
    encoder's "goes with" space, which also covers products nobody has viewed yet."""
    pairs = (
        CoView.objects.filter(product_a=product)
        .values_list("product_b_id", "count")
        .union(CoView.objects.filter(product_b=product).values_list("product_a_id", "count"))
    )
    viewed = sorted(pairs, key=lambda pair: -pair[1])
    candidates: dict[int, float] = {}
    if viewed:
        strongest = viewed[0][1]
        for other_id, count in viewed:
            candidates[other_id] = 1.0 + count / strongest  # co-viewed products rank above learned neighbours
    state = serving_state()
    if state.encoder_version is not None:
        vector = product_vector(product, state, field="goes_with")
        if vector is not None:
            ids, matrix = _goes_with_matrix(state.encoder_version)
            if ids:
                for other_id, score in annoy_index.exact_search(matrix, ids, vector, k=min(len(ids), k * 10)):
                    candidates.setdefault(other_id, score)
    candidates.pop(product.pk, None)
    allowed = set(
        Product.objects.filter(pk__in=list(candidates), is_active=True)
        .exclude(category_id=product.category_id)
        .values_list("pk", flat=True)
    )
    ranked = sorted(((pid, score) for pid, score in candidates.items() if pid in allowed), key=lambda p: (-p[1], p[0]))
    return ranked[:k]


def products_in_order(results: list[tuple[int, float]]) -> list[tuple[Product, float]]:
    """(product, score) in the order of ``results``, with categories loaded in one query."""
    products = Product.objects.select_related("category").in_bulk([pid for pid, _ in results])
    return [(products[pid], score) for pid, score in results if pid in products]
