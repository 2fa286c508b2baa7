"""'Everything in this room': the pieces' lookalikes merged into one ranking, each raised by how well it goes with
the other pieces' best matches (numpy only: the worker's room answer and the evaluation share it).

A room's products were chosen to go together, and the "goes with" space is taught exactly that (the rooms, sets and
orders that held both, encoders.coview_vectors). Merged by their cosines alone, the pieces' lookalikes are ranked
by how much each looks like its piece, whichever piece that is; a lookalike that also goes with what the other
pieces look most like is likelier to be what the room holds. Each product keeps its best cosine over the pieces
(what the page shows as its match) and is ranked by that cosine plus ``weight`` times its context: its mean "goes
with" cosine with the pieces' first lookalikes, each weighing its piece's confidence. The mean, not the best: one
piece's wrong match then cannot pull its own kin forward (measured over three seeds: README, "Everything in this
room, with what goes with it", ``python bench/room_context.py --version V``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

CONTEXT_WEIGHT = 0.4  # how much going with the other pieces' best matches counts beside looking like a piece


def everything_in_room(
    answers: Sequence[Sequence[tuple[int, float]]],
    confidences: Sequence[float],
    goes_with: Mapping[int, np.ndarray],
    *,
    k: int,
    weight: float = CONTEXT_WEIGHT,
) -> list[tuple[int, float]]:
    """The ``k`` best of the pieces' lookalikes, each once: ``answers`` holds each piece's [(product, cosine)],
    best first, and ``confidences`` how sure the finder is of each piece; ``goes_with`` the "goes with" vector of
    every product that has one (a product without one gets no context, and vouches for none). Returns [(product, its
    best cosine over the pieces)] in the order of that cosine plus ``weight`` times its context (``_contexts``).
    Ties by product id."""
    looks: dict[int, float] = {}
    for answer in answers:
        for product, cosine in answer:
            looks[product] = max(cosine, looks.get(product, -np.inf))
    context = _contexts(answers, confidences, goes_with, list(looks))
    ranked = sorted(looks, key=lambda product: (-(looks[product] + weight * context[product]), product))
    return [(product, looks[product]) for product in ranked[:k]]


def _contexts(
    answers: Sequence[Sequence[tuple[int, float]]],
    confidences: Sequence[float],
    goes_with: Mapping[int, np.ndarray],
    products: list[int],
) -> dict[int, float]:
    """Each product's mean "goes with" cosine with the pieces' first lookalikes (the seeds), each seed weighing the
    confidence of the surest piece it is first for, the product itself left out (a match does not vouch for
    itself); 0 with no other seed."""
    seeds: dict[int, float] = {}
    for answer, confidence in zip(answers, confidences, strict=True):
        if answer and answer[0][0] in goes_with:
            seeds[answer[0][0]] = max(float(confidence), seeds.get(answer[0][0], 0.0))
    if not seeds:
        return dict.fromkeys(products, 0.0)
    seed_ids = list(seeds)
    seed_units = np.stack([_unit(goes_with[seed]) for seed in seed_ids])  # (S, D)
    seed_weights = np.array([seeds[seed] for seed in seed_ids])
    contexts = {}
    for product in products:
        vector = goes_with.get(product)
        others = np.array([seed != product for seed in seed_ids])
        weights = seed_weights * others
        if vector is None or weights.sum() <= 0:
            contexts[product] = 0.0
            continue
        contexts[product] = float(weights @ (seed_units @ _unit(vector)) / weights.sum())
    return contexts


def _unit(vector: np.ndarray) -> np.ndarray:
    vector = np.asarray(vector, dtype=np.float32)
    return vector / max(float(np.linalg.norm(vector)), 1e-12)
