"""Answering "what looks like this?" and "what goes with this?" at a cost that does not grow with the catalog.

What serves queries is the index version named by the ACTIVE pointer (an Annoy file per space, "similar" and
"goes_with", switched together), with the encoder recorded in its metadata. The vectors written after that
index read its vectors (a higher revision than its watermark, see ``recommender.services.vectors``) form a
small "fresh" set, held in memory per process and refreshed by reading one counter, that every query also
searches exactly: a new product is recommendable within seconds. Inactive and deleted products are filtered
out at query time; category and price filters work by over-fetching, up to a bounded number of candidates.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Collection
from dataclasses import dataclass, field
from decimal import Decimal
from functools import cached_property

import numpy as np
from django.conf import settings

from catalog.models import CoView, Product
from catalog.selectors import categories_never_with, complement_curation_of, strongest_pairs
from encoders.category_ranking import PRODUCT_CANDIDATE_POOL, PRODUCT_PRIOR_WEIGHT, agreeing_guess
from encoders.models import EncoderVersion
from encoders.versions import active_encoder_version
from recommender import index as annoy_index
from recommender.services.complement_ranking import complements_ranked
from recommender.services.indexing import index_root
from recommender.services.variants import distinct_variants
from recommender.services.vectors import SPACES, product_category_guess, vectors_revision, vectors_since

logger = logging.getLogger(__name__)

MAX_CANDIDATES = 4096  # filtered queries over-fetch up to this many neighbours, never the whole catalog
PINNED_SCORE = 3.0  # a staff pin's score under "goes with" (pins are listed first whatever the others score)
PAIR_CANDIDATES = 30  # the strongest used-together pairs a "goes with" answer considers

_cache_lock = threading.Lock()
_index_cache: annoy_index.IndexCache | None = None


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
    same_colour: bool = False  # rank products of the photo's main colour first (see services/colour_ranking.py)

    def as_json(self) -> dict:
        data = {"category": self.category, "max_price": None if self.max_price is None else str(self.max_price)}
        if self.same_colour:
            data["same_colour"] = True
        return data

    @classmethod
    def from_json(cls, data: dict | None) -> Filters:
        data = data or {}
        price = data.get("max_price")
        return cls(
            category=data.get("category") or "",
            max_price=None if price in (None, "") else Decimal(price),
            same_colour=bool(data.get("same_colour")),
        )

    def without_colour(self) -> Filters:
        return Filters(category=self.category, max_price=self.max_price)


@dataclass(frozen=True)
class ServingState:
    """What answers queries right now. Take one per request: its fresh set is read once, when first needed."""

    encoder_version: EncoderVersion | None
    index: annoy_index.LoadedIndex | None
    watermark: int  # vectors at or below this revision are in the index; above it, in the fresh set

    @property
    def index_name(self) -> str | None:
        return self.index.version if self.index is not None else None

    @cached_property
    def fresh(self) -> FreshVectors:
        return fresh_vectors(self)


_encoders_of_indexes: dict[str, EncoderVersion] = {}


def _encoder_of(index: annoy_index.LoadedIndex) -> EncoderVersion | None:
    """The encoder version an index version was built from, looked up once per index version."""
    version = _encoders_of_indexes.get(index.version)
    if version is None:
        version = EncoderVersion.objects.filter(name=index.meta.get("metadata", {}).get("encoder_version")).first()
        if version is not None:
            _encoders_of_indexes.clear()  # only the serving index's is needed
            _encoders_of_indexes[index.version] = version
    return version


def serving_state() -> ServingState:
    index = index_cache().get(index_root())
    if index is not None:
        version = _encoder_of(index)
        if version is not None:
            return ServingState(version, index, int(index.meta.get("metadata", {}).get("vectors_revision") or 0))
        logger.error("index %s names an unknown encoder version", index.version)
    return ServingState(active_encoder_version(), None, 0)


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


@dataclass(frozen=True)
class FreshVectors:
    """An immutable snapshot of the fresh set: readers keep using the one they took while a refresh swaps in
    the next."""

    ids: tuple[int, ...] = ()
    rows: dict[int, int] = field(default_factory=dict)  # product id -> row of each matrix
    matrices: dict[str, np.ndarray] = field(default_factory=dict)  # space -> (n, D) float32

    def updated(self, batch) -> FreshVectors:
        """This snapshot with ``batch``'s rows added or replacing the products' older rows (a later row of the
        same product wins). Copies the matrices once; no per-row Python work on the rows already held."""
        rows = dict(self.rows)
        ids = list(self.ids)
        appended: list[int] = []  # positions in the batch of products new to the set
        replaced: list[tuple[int, int]] = []  # (row, position in the batch), in batch order
        for position, product_id in enumerate(batch.product_ids.tolist()):
            row = rows.get(product_id)
            if row is None:
                rows[product_id] = len(ids)
                ids.append(product_id)
                appended.append(position)
            else:
                replaced.append((row, position))
        matrices = {}
        for space in SPACES:
            incoming = np.asarray(getattr(batch, space), dtype=np.float32)
            held = self.matrices.get(space, np.zeros((0, incoming.shape[1]), np.float32))
            matrix = np.concatenate([held, incoming[appended]])
            for row, position in replaced:
                matrix[row] = incoming[position]
            matrices[space] = matrix
        return FreshVectors(ids=tuple(ids), rows=rows, matrices=matrices)


class FreshSet:
    """The serving encoder's vectors written after the index's watermark, in memory. ``refresh`` reads the
    counter (one indexed row) and fetches only the rows written since the last refresh."""

    def __init__(self, *, revision: int) -> None:
        self.revision = revision  # every row up to here has been read
        self.snapshot = FreshVectors()
        self._lock = threading.Lock()

    def refresh(self, version: EncoderVersion) -> FreshVectors:
        current = vectors_revision()
        if current > self.revision:
            with self._lock:
                if current > self.revision:
                    batch = vectors_since(version=version, revision=self.revision)
                    if len(batch):
                        self.snapshot = self.snapshot.updated(batch)
                        current = max(current, int(batch.revisions.max()))
                    self.revision = current
        return self.snapshot


_fresh_lock = threading.Lock()
_fresh_sets: dict[tuple[int, str | None, int], FreshSet] = {}


def fresh_vectors(state: ServingState) -> FreshVectors:
    """This process's fresh set for ``state``, refreshed (one per serving index; dropped at a switch)."""
    key = (state.encoder_version.pk, state.index_name, state.watermark)
    with _fresh_lock:
        fresh = _fresh_sets.get(key)
        if fresh is None:
            _fresh_sets.clear()
            fresh = _fresh_sets[key] = FreshSet(revision=state.watermark)
    return fresh.refresh(state.encoder_version)


def _fresh_search(fresh: FreshVectors, vector: np.ndarray, space: str, *, k: int) -> list[tuple[int, float]]:
    """The ``k`` nearest of the fresh set: a request reads no more candidates from it than from the index."""
    matrix = fresh.matrices.get(space)
    if matrix is None or matrix.shape[1] != vector.size:
        return []
    return annoy_index.exact_search(matrix, list(fresh.ids), vector, k=k)


def _allowed(
    product_ids: list[int], filters: Filters, exclude_category_ids: Collection[int] = ()
) -> tuple[dict[int, tuple[str, str]], dict[int, str]]:
    """The products of ``product_ids`` that may be shown, each with its variant keys (picture hash, name and type),
    and each one's category slug, read in the same query."""
    products = Product.objects.filter(pk__in=product_ids, is_active=True).order_by()
    if filters.category:
        products = products.filter(category__slug=filters.category)
    if filters.max_price is not None:
        products = products.filter(price__lte=filters.max_price)
    if exclude_category_ids:
        products = products.exclude(category_id__in=list(exclude_category_ids))
    keys, categories = {}, {}
    for pk, sha, key, category in products.values_list("pk", "image_sha256", "variant_key", "category__slug"):
        keys[pk] = (sha, key)
        categories[pk] = category
    return keys, categories


@dataclass(frozen=True)
class Candidates:
    """What a search found: ``results``, (product id, cosine similarity) best first, and the category slug of each
    (read in the query that checked they may be shown, so ranking by category costs no other query)."""

    results: list[tuple[int, float]]
    category_of: dict[int, str]


def search_vector(vector: np.ndarray, **options) -> list[tuple[int, float]]:
    """The ``k`` best (product id, cosine similarity) for a vector: ``search_candidates``'s results."""
    return search_candidates(vector, **options).results


def search_candidates(
    vector: np.ndarray,
    *,
    k: int,
    space: str = "similar",
    filters: Filters = Filters(),
    exclude: set[int] = frozenset(),
    exclude_category_ids: Collection[int] = (),
    state: ServingState | None = None,
    distinct: bool = False,
    shown: tuple[str, str] = ("", ""),
) -> Candidates:
    """The ``k`` best (product id, cosine similarity) for a vector of ``space``, best first, with their categories.
    With ``distinct``, one product per group of variants (the best of the group; see ``catalog.variants``): the
    candidates are over-fetched until ``k`` groups are found, up to MAX_CANDIDATES; variants of ``shown`` (a
    product's picture hash and variant key, the product a page is about) are left out."""
    state = state or serving_state()
    if state.encoder_version is None:
        return Candidates(results=[], category_of={})
    vector = np.asarray(vector, dtype=np.float32).reshape(-1)
    fresh = state.fresh
    index = state.index if state.index is not None and state.index.has_space(space) else None
    if index is not None and index.dimension_of(space) != vector.size:
        logger.error("a %d-d %s vector cannot query index %s", vector.size, space, index.version)
        index = None
    fetch = k + max(40, k // 2)
    while True:
        indexed = index.query(vector, k=fetch, space=space) if index is not None else []
        fresh_hits = _fresh_search(fresh, vector, space, k=fetch)
        merged = annoy_index.merge_results(
            indexed, fresh_hits, k=len(indexed) + len(fresh_hits), exclude=exclude, superseded=fresh.ids
        )
        allowed, categories = _allowed([pid for pid, _ in merged], filters, exclude_category_ids)
        results = [(pid, score) for pid, score in merged if pid in allowed]
        if distinct:
            results = distinct_variants(results, allowed, shown=shown)
        results = results[:k]
        searched_all = fetch >= max(len(index) if index is not None else 0, len(fresh.ids))
        if len(results) >= k or searched_all or fetch >= MAX_CANDIDATES:
            return Candidates(results=results, category_of={pid: categories[pid] for pid, _ in results})
        fetch = min(fetch * 4, MAX_CANDIDATES)


def product_vector(product_id: int, state: ServingState, *, space: str = "similar") -> np.ndarray | None:
    """A product's vector under the serving encoder: from the fresh set, else the index, else the database."""
    fresh = state.fresh
    row = fresh.rows.get(product_id)
    vector = fresh.matrices[space][row] if row is not None else None
    if vector is None and state.index is not None and state.index.has_space(space):
        vector = state.index.vector(product_id, space=space)
    if vector is None:
        from recommender.services.vectors import product_vectors

        stored = product_vectors(product_id=product_id, version=state.encoder_version)
        vector = None if stored is None else getattr(stored, space)
    return vector


def similar_products(*, product: Product, k: int, filters: Filters = Filters()) -> list[tuple[int, float]]:
    """The ``k`` products most like ``product``, distinct (one card per group of variants; its own variants are not
    "similar items"), ranked as an upload is: its similarity combined with what the product's picture looks like by
    the category head (stored with its vectors, weighing PRODUCT_PRIOR_WEIGHT), over its PRODUCT_CANDIDATE_POOL
    nearest and, where they hold fewer than ``k`` of its category, that category's nearest (``category_search``), so
    a sofa's page leads with sofas. Without a stored guess, with a guess whose likeliest category is not the
    product's own (``agreeing_guess``), or with a category chosen in ``filters``, by similarity alone."""
    from recommender.services.category_search import category_search  # it imports this module

    state = serving_state()
    if state.encoder_version is None:
        return []
    vector = product_vector(product.pk, state)
    if vector is None:
        return []
    return category_search(
        vector,
        k=k,
        filters=filters,
        guess=agreeing_guess(
            product_category_guess(product_id=product.pk, version=state.encoder_version), product.category.slug
        ),
        state=state,
        exclude={product.pk},
        shown=(product.image_sha256, product.variant_key),
        pool=PRODUCT_CANDIDATE_POOL,
        weight=PRODUCT_PRIOR_WEIGHT,
    )


def goes_with_products(*, product: Product, k: int) -> list[tuple[int, float]]:
    """Products that go with ``product``, best first. First the products staff pinned to it, in the order they
    were pinned (whatever their category); then products of other categories ranked by their learned "goes with"
    cosine raised by the rooms, sets and orders that held both (``complement_ranking``; pairs held by fewer than
    COVIEW_MIN_SESSIONS of them do not count). Pairs only viewed together are alternatives, mostly, and never
    count here. Products staff excluded, and products of categories staff said never go with this one, are never
    shown.

    Bounded per request: one indexed query for the product's curations, the cached set of excluded categories,
    at most PAIR_CANDIDATES pairs (the strongest) and their vectors, and the over-fetch of ``search_vector``."""
    curation = complement_curation_of(product_id=product.pk)
    never_categories = {product.category_id, *categories_never_with(category_id=product.category_id)}
    hidden = {product.pk, *curation.excluded}
    pinned = [pid for pid in curation.pinned if pid not in hidden][:k]
    pairs = strongest_pairs(
        product_id=product.pk, kind=CoView.Kind.USED, min_count=settings.COVIEW_MIN_SESSIONS, limit=PAIR_CANDIDATES
    )
    category_of = dict(
        Product.objects.filter(pk__in=[*pinned, *(pid for pid, _ in pairs)], is_active=True).values_list(
            "pk", "category_id"
        )
    )
    chosen = [(pid, PINNED_SCORE) for pid in pinned if pid in category_of]
    taken = hidden | {pid for pid, _ in chosen}
    counts = {
        pid: count
        for pid, count in pairs
        if pid in category_of and pid not in taken and category_of[pid] not in never_categories
    }
    wanted = k - len(chosen)
    state = serving_state()
    vector = None
    if state.encoder_version is not None and wanted > 0:
        vector = product_vector(product.pk, state, space="goes_with")
    cosines: dict[int, float] = {}
    if vector is not None:
        # the best ``wanted`` by cosine: a product neither among them nor paired cannot outrank them
        learned = search_vector(
            vector, k=wanted, space="goes_with", exclude=taken, exclude_category_ids=never_categories, state=state
        )
        cosines = dict(learned)
        cosines.update(_cosines(vector, [pid for pid in counts if pid not in cosines], state))
    cosines.update({pid: 0.0 for pid in counts if pid not in cosines})  # paired, with no vector yet
    ranked = complements_ranked(cosines, counts, k=wanted, weight=settings.COMPLEMENT_PAIR_WEIGHT)
    return (chosen + ranked)[:k]


def _cosines(vector: np.ndarray, product_ids: list[int], state: ServingState) -> dict[int, float]:
    """The "goes with" cosine of ``vector`` with each of ``product_ids`` that has a vector under the serving
    encoder (from the fresh set or the index: no query, but for a product in neither)."""
    unit = vector / max(float(np.linalg.norm(vector)), 1e-12)
    cosines = {}
    for pid in product_ids:
        other = product_vector(pid, state, space="goes_with")
        if other is not None and other.size == unit.size:
            cosines[pid] = float(unit @ other) / max(float(np.linalg.norm(other)), 1e-12)
    return cosines


def products_in_order(results: list[tuple[int, float]]) -> list[tuple[Product, float]]:
    """(product, score) in the order of ``results``, with categories loaded in one query."""
    products = Product.objects.select_related("category").in_bulk([pid for pid, _ in results])
    return [(products[pid], score) for pid, score in results if pid in products]
