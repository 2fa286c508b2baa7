"""The evaluation protocol (data README) as pure functions over numpy embeddings.

Neighbours are by cosine similarity over the whole catalog, k = 10. Embeddings need not be
normalised; they are normalised here. Ties are broken by catalog index (stable sort).

Readings of the protocol where the README is terse:
- web: precision@10 = the share of the 10 nearest catalog products whose category is in
  accept[class of the query photo], averaged over all query photos. With the encoder's category guess for
  each photo, its answer is ranked as the product ranks it (encoders.category_ranking) over the same candidates
  the serving path fetches. "web class P@10" is the mean over classes of each class's mean, so the 41 table
  photos count as much as the 309 chair photos.
- loo: every catalog product queries the catalog without itself; precision@10 = the share of
  the 10 neighbours with the query's category, averaged over all products.
- room: a room's products are its items that are in the catalog, counted once (items not in
  the catalog are ignored); rooms with fewer than two such products have no relevant item
  for any query and are skipped. Each product of each room queries the catalog without
  itself; relevant = the room's other products. hit@10 = 1 if any relevant product is in
  the top 10; recall@10 = |relevant in top 10| / min(|relevant|, 10), so a perfect top 10
  scores 1 even in a room of 20 (this capped reading is the one that reproduces the
  EfficientNet figures of the data's baselines.md). Both are
  averaged over all (room, product) queries, so a product in two rooms queries twice.
- scene: each room photo (of a room with at least one catalog product) queries the whole
  catalog; relevant = the room's products; hit@10 and (capped) recall@10 as above, averaged over
  photos. A photo may be queried with several vectors (crops): a product's score is its best
  cosine over the crops (multi_query_scores).
- pieces (an encoder with a category head; encoders.piece_finder): each room photo is answered as the product
  answers a room, by its pieces (a photo without pieces is answered whole); each piece's answer is its top 10
  ranked with its own category guess, or within its category when it is sure of it, as the product ranks it
  (piece_answers). "pieces hit@10" and "pieces R@10" read the merged ranking of those answers (each product's best
  score over the pieces raised by the likely answers it was used together with, merged_piece_scores): what the room
  answer shows under "Everything in this room";
  "pieces union R@10" is the share of the room's products in the union of the answers (not capped);
  "piece precision" is the share of a photo's pieces whose category is one of its room's products' categories (photos
  without pieces skipped); "pieces per photo" counts them.
- held-out (encoders.holdout): the vectors come from a model trained without the held-out products.
  P@10: each held-out product queries the whole catalog (held-out products included) without itself, as loo.
  room hit@10: the room queries above whose query product is held out (relevant: the room's other products,
  held out or not).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

import numpy as np

from encoders.category_ranking import (
    CANDIDATE_POOL,
    PRODUCT_CANDIDATE_POOL,
    PRODUCT_PRIOR_WEIGHT,
    category_ranked,
    short_category,
)
from encoders.room_context import TOGETHER_TEMPERATURE, TOGETHER_WEIGHT, everything_in_room

K = 10


def normalise(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float32)
    return x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), 1e-12)


def cosine_scores(queries: np.ndarray, catalog: np.ndarray) -> np.ndarray:
    """(Q, D), (N, D) -> cosine similarities (Q, N)."""
    return normalise(queries) @ normalise(catalog).T


def multi_query_scores(queries: Sequence[np.ndarray], catalog: np.ndarray) -> np.ndarray:
    """Queries of several vectors each [(M_i, D)] -> (Q, N): best cosine over each query's rows."""
    cat = normalise(catalog)
    return np.stack([(normalise(np.atleast_2d(q)) @ cat.T).max(axis=0) for q in queries])


def top_k(scores: np.ndarray, *, k: int = K, exclude: Sequence[int] | None = None) -> np.ndarray:
    """Indices (Q, k) of the k best scores per row; row i never returns exclude[i]."""
    s = np.array(scores, dtype=np.float64, copy=True)
    if exclude is not None:
        s[np.arange(len(s)), np.asarray(exclude)] = -np.inf
    return np.argsort(-s, axis=1, kind="stable")[:, :k]


def web_precision_scores(
    query_vectors: np.ndarray,
    query_classes: Sequence[str],
    accept: dict[str, Sequence[str]],
    catalog_vectors: np.ndarray,
    catalog_categories: Sequence[str],
    *,
    k: int = K,
    guesses: Sequence[dict[str, float]] | None = None,
    **ranking,
) -> np.ndarray:
    """Precision@k of each web photo (Q,): the share of its answer whose category is accepted for its class. The
    answer is its nearest neighbours, or with ``guesses`` (each photo's category distribution) the product's
    category-aware ranking of them (``category_ranked_top_k``)."""
    if len(query_vectors) == 0:
        return np.zeros(0)
    scores = cosine_scores(query_vectors, catalog_vectors)
    if guesses is None:
        nn = top_k(scores, k=k)
    else:
        nn = category_ranked_top_k(scores, catalog_categories, guesses, k=k, **ranking)
    cats = np.asarray(catalog_categories)
    return np.array([np.isin(cats[row], list(accept[c])).mean() for row, c in zip(nn, query_classes, strict=True)])


def category_ranked_top_k(
    scores: np.ndarray,
    catalog_categories: Sequence[str],
    guesses: Sequence[dict[str, float]],
    *,
    k: int = K,
    pool: int = CANDIDATE_POOL,
    exclude: Sequence[int] | None = None,
    **ranking,
) -> np.ndarray:
    """Indices (Q, k) of each query's answer as the product ranks it with the photo's category guess
    (encoders.category_ranking): the ``pool`` nearest products, and the k nearest of the guess's likeliest category
    when they hold fewer (``short_category``), re-ranked, as the serving path fetches and
    ranks them (recommender.services.category_search); row i never returns exclude[i]; ``ranking`` passes a mode
    and its parameter."""
    category_of = dict(enumerate(catalog_categories))
    categories = np.asarray(catalog_categories)
    rows = []
    for i, (row, guess) in enumerate(zip(scores, guesses, strict=True)):
        order = np.argsort(-row, kind="stable")
        if exclude is not None:
            order = order[order != exclude[i]]
        candidates = [(int(j), float(row[j])) for j in order[: max(k, pool)]]
        short = short_category(candidates, category_of, guess, k=k)
        if short is not None:
            candidates += [(int(j), float(row[j])) for j in order[categories[order] == short][:k]]
        rows.append([j for j, _ in category_ranked(candidates, category_of, guess, k=k, **ranking)])
    return np.asarray(rows, dtype=int).reshape(len(rows), -1)


def class_mean_scores(scores: np.ndarray, query_classes: Sequence[str]) -> np.ndarray:
    """Per-query scores reweighted so that their plain mean is the mean over classes of each class's mean: every
    class counts the same however many photos it has (a bootstrap over these gives the class mean's interval)."""
    classes = np.asarray(query_classes)
    if len(scores) == 0:
        return np.zeros(0)
    names, counts = np.unique(classes, return_counts=True)
    per_class = dict(zip(names.tolist(), counts.tolist(), strict=True))
    weights = np.array([len(scores) / (len(names) * per_class[c]) for c in classes.tolist()])
    return np.asarray(scores, dtype=np.float64) * weights


def per_class_means(scores: np.ndarray, query_classes: Sequence[str]) -> dict[str, float]:
    """The mean score of each class, by class name."""
    classes = np.asarray(query_classes)
    return {c: float(np.mean(np.asarray(scores)[classes == c])) for c in sorted(set(query_classes))}


def web_precision(
    query_vectors: np.ndarray,
    query_classes: Sequence[str],
    accept: dict[str, Sequence[str]],
    catalog_vectors: np.ndarray,
    catalog_categories: Sequence[str],
    *,
    k: int = K,
) -> float:
    """Mean precision@k of web photos: neighbours whose category is accepted for the class."""
    return _mean(web_precision_scores(query_vectors, query_classes, accept, catalog_vectors, catalog_categories, k=k))


def loo_precision_scores(
    catalog_vectors: np.ndarray,
    catalog_categories: Sequence[str],
    *,
    k: int = K,
    guesses: Sequence[dict[str, float]] | None = None,
) -> np.ndarray:
    """Precision@k of each catalog product against the rest (itself excluded), same category: (N,). With
    ``guesses`` (each product's kept category guess), ranked as the product page ranks its similar items."""
    return held_out_precision_scores(
        catalog_vectors, catalog_categories, range(len(catalog_vectors)), k=k, guesses=guesses
    )


def loo_precision(catalog_vectors: np.ndarray, catalog_categories: Sequence[str], *, k: int = K) -> float:
    """Mean precision@k of each catalog product against the rest (itself excluded), same category."""
    return _mean(loo_precision_scores(catalog_vectors, catalog_categories, k=k))


def held_out_precision_scores(
    catalog_vectors: np.ndarray,
    catalog_categories: Sequence[str],
    held_out: Sequence[int],
    *,
    k: int = K,
    guesses: Sequence[dict[str, float]] | None = None,
    weight: float = PRODUCT_PRIOR_WEIGHT,
    batch: int = 512,
) -> np.ndarray:
    """Precision@k of each held-out product (catalog index, in the order given) against the whole catalog without
    itself, same category: (H,). With ``guesses`` (each held-out product's kept category guess, in the same
    order), its answer is ranked as the product page ranks a product's similar items: its PRODUCT_CANDIDATE_POOL
    nearest and, where they hold fewer than k of the guess's likeliest category, that category's k nearest,
    re-ranked with the prior ``weight`` (``category_ranked_top_k``).
    Memory is (batch, N), not (N, N)."""
    queries = np.asarray(list(held_out), dtype=np.int64)
    if not len(queries):
        return np.zeros(0)
    cats = np.asarray(catalog_categories)
    out = []
    for start in range(0, len(queries), batch):
        part = queries[start : start + batch]
        scores = cosine_scores(catalog_vectors[part], catalog_vectors)
        if guesses is None:
            nn = top_k(scores, k=k, exclude=part)
        else:
            nn = category_ranked_top_k(
                scores,
                catalog_categories,
                guesses[start : start + batch],
                k=k,
                pool=PRODUCT_CANDIDATE_POOL,
                exclude=part.tolist(),
                weight=weight,
            )
        out.append((cats[nn] == cats[part][:, None]).mean(axis=1))
    return np.concatenate(out)


def room_products(rooms: Sequence[Sequence[str]], sku_index: dict[str, int]) -> list[list[int]]:
    """Rooms of skus -> rooms of catalog indices, unique, in first-seen order, unknown skus dropped."""
    out = []
    for items in rooms:
        seen: dict[int, None] = {}
        for sku in items:
            if sku in sku_index:
                seen.setdefault(sku_index[sku], None)
        out.append(list(seen))
    return out


def room_hit_recall_scores(
    catalog_vectors: np.ndarray,
    rooms: Sequence[Sequence[int]],
    *,
    k: int = K,
    query_products: Sequence[int] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """(hit@k, recall@k) of every (room, product) query, in room order: two arrays (Q,).

    `rooms` hold catalog indices (see room_products). Rooms with < 2 products are skipped. With
    `query_products`, only those products query (the held-out room task); relevant stays every other product
    of the room.
    """
    rooms = [list(dict.fromkeys(r)) for r in rooms if len(set(r)) >= 2]
    asking = None if query_products is None else set(int(p) for p in query_products)
    queries = [p for r in rooms for p in r if asking is None or p in asking]
    if not queries:
        return np.zeros(0), np.zeros(0)
    nn = top_k(cosine_scores(catalog_vectors[queries], catalog_vectors), k=k, exclude=queries)
    hits, recalls, row = [], [], 0
    for r in rooms:
        for p in r:
            if asking is not None and p not in asking:
                continue
            relevant = set(r) - {p}
            found = len(relevant.intersection(nn[row].tolist()))
            hits.append(float(found > 0))
            recalls.append(found / min(len(relevant), k))
            row += 1
    return np.array(hits), np.array(recalls)


def room_hit_recall(catalog_vectors: np.ndarray, rooms: Sequence[Sequence[int]], *, k: int = K) -> tuple[float, float]:
    """(hit@k, recall@k) over every product of every room querying for the room's other products."""
    hits, recalls = room_hit_recall_scores(catalog_vectors, rooms, k=k)
    return _mean(hits), _mean(recalls)


def scene_hit_recall_scores(
    query_scores: np.ndarray, rooms: Sequence[Sequence[int]], *, k: int = K
) -> tuple[np.ndarray, np.ndarray]:
    """(hit@k, recall@k) of each room-photo query given its scores over the catalog (Q, N): two arrays.

    Row i of `query_scores` is the photo of rooms[i] (catalog indices). Rooms with no
    catalog product are skipped. Get scores with cosine_scores or multi_query_scores.
    """
    keep = [i for i, r in enumerate(rooms) if len(r) > 0]
    if not keep:
        return np.zeros(0), np.zeros(0)
    nn = top_k(query_scores[keep], k=k)
    hits, recalls = [], []
    for row, i in zip(nn, keep, strict=True):
        relevant = set(rooms[i])
        found = len(relevant.intersection(row.tolist()))
        hits.append(float(found > 0))
        recalls.append(found / min(len(relevant), k))
    return np.array(hits), np.array(recalls)


def scene_hit_recall(query_scores: np.ndarray, rooms: Sequence[Sequence[int]], *, k: int = K) -> tuple[float, float]:
    """(hit@k, recall@k) of room-photo queries, averaged over photos."""
    hits, recalls = scene_hit_recall_scores(query_scores, rooms, k=k)
    return _mean(hits), _mean(recalls)


def piece_answers(
    scores: np.ndarray,
    catalog_categories: Sequence[str],
    guesses: Sequence[dict[str, float]] | None = None,
    *,
    k: int = K,
    inside: Sequence[str | None] | None = None,
) -> np.ndarray:
    """Each piece's answer (M, k) catalog indices, as the product answers a piece: its nearest neighbours ranked
    with its own category guess (category_ranked_top_k), or by similarity alone without guesses; a piece with a
    category in ``inside`` (one sure of what it is: ``encoders.pieces.within_category``) by its nearest of that
    category, the others filling up where the catalog holds fewer than k of it."""
    if guesses is None or not any(guesses):
        answers = top_k(scores, k=k)
    else:
        answers = category_ranked_top_k(scores, catalog_categories, guesses, k=k)
    categories = np.asarray(catalog_categories)
    for i, category in enumerate(inside or []):
        if category is None:
            continue
        order = np.argsort(-scores[i], kind="stable")
        of_it = order[categories[order] == category][:k]
        answers[i] = np.concatenate([of_it, answers[i][~np.isin(answers[i], of_it)]])[:k]
    return answers


def merged_piece_scores(
    scores: np.ndarray,
    answers: np.ndarray,
    *,
    together: Collection[tuple[int, int]] = (),
    weight: float = TOGETHER_WEIGHT,
    temperature: float = TOGETHER_TEMPERATURE,
) -> np.ndarray:
    """ "Everything in this room": the products answered to any piece, as the worker ranks them
    (encoders.room_context.everything_in_room: each by its best cosine over the pieces that answered it, raised by
    the likely answers it was used together with, given the catalog's ``together`` pairs of indices, by ``weight``
    at ``temperature``; by its best cosine alone without pairs). ``scores`` (M, N), ``answers`` (M, k) -> (N,): the
    first k in that order score k down to 1, the rest -inf."""
    pieces = [[(int(j), float(row[j])) for j in answer] for row, answer in zip(scores, answers, strict=True)]
    k = answers.shape[1]
    ranked = everything_in_room(pieces, together, k=k, weight=weight, temperature=temperature)
    merged = np.full(scores.shape[1], -np.inf)
    for place, (product, _) in enumerate(ranked):
        merged[product] = k - place
    return merged


def union_recall_scores(answers: Sequence[np.ndarray], rooms: Sequence[Sequence[int]]) -> np.ndarray:
    """The share of each room's products found in the union of its pieces' answers (Q,): answers[i] holds the
    catalog indices (M_i, k) answered to the M_i pieces of the photo of rooms[i]. Not capped at k: a room of 20
    products needs them all among its pieces' answers to score 1. Rooms with no catalog product are skipped, as
    in scene_hit_recall_scores."""
    out = []
    for answer, room in zip(answers, rooms, strict=True):
        if not len(room):
            continue
        out.append(len(set(np.asarray(answer).ravel().tolist()).intersection(room)) / len(set(room)))
    return np.array(out)


def piece_precision_scores(
    piece_categories: Sequence[Sequence[str]],
    rooms: Sequence[Sequence[int]],
    catalog_categories: Sequence[str],
) -> np.ndarray:
    """The share of each photo's pieces whose category is among its room's products' categories (Q,). Photos
    without pieces, and rooms with no catalog product, are skipped: there is nothing to be right about."""
    out = []
    for found, room in zip(piece_categories, rooms, strict=True):
        if not len(found) or not len(room):
            continue
        present = {catalog_categories[i] for i in room}
        out.append(sum(category in present for category in found) / len(found))
    return np.array(out)


def pieces_per_photo_scores(piece_counts: Sequence[int], rooms: Sequence[Sequence[int]]) -> np.ndarray:
    """How many pieces each photo yielded (Q,), over the photos whose room has a catalog product."""
    return np.array([float(n) for n, room in zip(piece_counts, rooms, strict=True) if len(room)])


def _mean(scores: np.ndarray) -> float:
    """The figure: the mean over queries (0 when there are none)."""
    return float(np.mean(scores)) if len(scores) else 0.0
