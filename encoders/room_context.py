"""'Everything in this room': the pieces' lookalikes merged into one ranking, each raised by how likely the other
lookalikes make it (numpy only: the worker's room answer and the evaluation share it).

A room's products were chosen to be used together, and the catalog knows which products were: the rooms, sets and
orders imported as "used together" (catalog.CoView). Merged by their cosines alone, the pieces' lookalikes are
ranked by how much each looks like its piece, whichever piece that is; a lookalike used together with other
likely lookalikes is likelier to be what the room holds. Each product keeps its best cosine over the pieces (what
the page shows as its match). The lookalikes' cosines, through a softmax at ``temperature``, say how likely each is
in the photo; a product's support is the likelihood of the lookalikes it was used together with (itself left out),
and it is ranked by its cosine plus ``weight`` x ``temperature`` x log(support + SUPPORT_FLOOR): in effect the log
of how likely it looks times how likely its company makes it. A product used with none of the others keeps its
cosine less a fixed amount, so among lookalikes the catalog knows nothing about the order is their cosines'.
Measured over three seeds (README, "Everything in this room, with what was used together",
``python bench/room_context.py --version V``): it finds more of a room's products than ranking with what the
pieces' first matches "go with" (the encoder's goes-with space), which it replaced.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

import numpy as np

TOGETHER_TEMPERATURE = 0.05  # how sharply the lookalikes' cosines say which of them the photo holds
TOGETHER_WEIGHT = 2.0  # how much the company a lookalike keeps counts beside its cosine; 0: cosines alone
SUPPORT_FLOOR = 1e-3  # the support of a lookalike used together with none of the others


def everything_in_room(
    answers: Sequence[Sequence[tuple[int, float]]],
    together: Collection[tuple[int, int]],
    *,
    k: int,
    weight: float = TOGETHER_WEIGHT,
    temperature: float = TOGETHER_TEMPERATURE,
) -> list[tuple[int, float]]:
    """The ``k`` best of the pieces' lookalikes, each once: ``answers`` holds each piece's [(product, cosine)],
    best first; ``together`` the pairs of those products that were used together (either order; pairs with other
    products are ignored). Returns [(product, its best cosine over the pieces)] in the order of that cosine raised
    by its support (module docstring). Ties by product id."""
    looks: dict[int, float] = {}
    for answer in answers:
        for product, cosine in answer:
            looks[product] = max(float(cosine), looks.get(product, -np.inf))
    if not looks or k <= 0:
        return []
    products = sorted(looks)
    score = np.array([looks[product] for product in products])
    if weight:
        score = score + weight * temperature * np.log(_supports(products, score, together, temperature) + SUPPORT_FLOOR)
    order = sorted(range(len(products)), key=lambda i: (-score[i], products[i]))
    return [(products[i], looks[products[i]]) for i in order[:k]]


def _supports(
    products: list[int], cosines: np.ndarray, together: Collection[tuple[int, int]], temperature: float
) -> np.ndarray:
    """Each product's support: the summed likelihood (softmax of the cosines at ``temperature``) of the other
    products it was used together with."""
    likelihood = np.exp((cosines - cosines.max()) / temperature)
    likelihood /= likelihood.sum()
    position = {product: i for i, product in enumerate(products)}
    support = np.zeros(len(products))
    for a, b in {(min(pair), max(pair)) for pair in together}:
        i, j = position.get(a), position.get(b)
        if i is None or j is None or i == j:
            continue
        support[i] += likelihood[j]
        support[j] += likelihood[i]
    return support
