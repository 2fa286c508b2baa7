"""The product part of the "goes with" vectors: what the rooms, sets and orders that held two products say of them.

The "goes with" head reads a product's picture alone, so it knows what a new product looks like and nothing of the
company it keeps. The used-together pairs that train it say more: two products held by rooms that hold the same
others go together even when no room held both. ``fit_coview_vectors`` takes that from the pairs at training
time: a truncated SVD of the products' symmetric co-occurrence matrix of ln(1 + count), one row per product,
scaled by the square roots of the singular values and made unit length (a product in no pair keeps a zero row).
The served "goes with" vector of a product joins its picture's vector with its row
(``LookalikeEncoder.joined_goes_with``). A product the model was trained without, a new one, has no row: it takes
the row its picture suggests, by a ridge regression from the head's output to the rows of the products in some
pair, fitted at training time (``LookalikeEncoder.fit_coview_from_picture``), so that new products live among the
others rather than among the products no room held; the next training gives it its own. The README ("The
encoder's configuration") has the measurements.

The rows are kept in the checkpoint by product key (the product's id), in ``CoviewTable``: the worker that
encodes a product and the evaluation look its row up there. At 1,000,000 products and 32 dimensions they take
64 MB (float16) and their keys 8 MB (a sorted int64 tensor, searched by bisection: no dictionary of a million
entries); the SVD reads the pairs as a sparse matrix, never an N × N one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

SVD_ITERATIONS = 6  # power iterations of the randomised SVD (torch.svd_lowrank): plenty for a sparse matrix
PICTURE_RIDGE = 1.0  # the ridge of the regression that guesses a new product's part from its picture


def fit_coview_vectors(pairs: torch.Tensor, *, products: int, dim: int, seed: int) -> torch.Tensor:
    """(P, 3) pairs (index a, index b, count) over ``products`` products -> (products, dim) float32 rows: unit
    length for a product in some pair, zero for the others. The same pairs and seed give the same rows; the
    global random state is left as it was."""
    rows = torch.zeros(products, dim)
    pairs = pairs[(pairs[:, 0] != pairs[:, 1]) & (pairs[:, 2] > 0)] if len(pairs) else pairs
    if dim == 0 or len(pairs) == 0:
        return rows
    a, b, count = pairs.long().unbind(1)
    weights = torch.log1p(count.float())
    matrix = torch.sparse_coo_tensor(
        torch.stack([torch.cat([a, b]), torch.cat([b, a])]),
        torch.cat([weights, weights]),
        (products, products),
        check_invariants=True,
    ).coalesce()
    rank = min(dim, products)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        u, s, _ = torch.svd_lowrank(matrix, q=rank, niter=SVD_ITERATIONS)
    rows[:, :rank] = u * s.clamp(min=0).sqrt()
    norms = rows.norm(dim=1, keepdim=True)
    return torch.where(norms > 1e-6, rows / norms.clamp(min=1e-12), torch.zeros_like(rows))


@dataclass(frozen=True)
class CoviewTable:
    """Each trained product's row, by product key (int64, ascending). ``rows`` of keys it does not hold (new
    products) are zero."""

    keys: torch.Tensor  # (N,) int64, ascending, unique
    vectors: torch.Tensor  # (N, d)

    @classmethod
    def of(cls, keys: Sequence[int] | torch.Tensor, vectors: torch.Tensor) -> CoviewTable:
        """The table of ``vectors[i]`` keyed by ``keys[i]`` (any order; each key once)."""
        keys = torch.as_tensor(keys if isinstance(keys, torch.Tensor) else list(keys), dtype=torch.long)
        if len(keys) != len(vectors):
            raise ValueError(f"{len(keys)} product keys for {len(vectors)} co-view vectors")
        if len(torch.unique(keys)) != len(keys):
            raise ValueError("a product key is given twice")
        order = torch.argsort(keys)
        return cls(keys=keys[order], vectors=vectors[order])

    @property
    def dim(self) -> int:
        return self.vectors.shape[1]

    def rows(self, keys: Sequence[int]) -> torch.Tensor:
        """(B, d) float32: the row of each key, zero for a key not held."""
        return self.lookup(keys)[0]

    def lookup(self, keys: Sequence[int]) -> tuple[torch.Tensor, torch.Tensor]:
        """(rows (B, d) float32, held (B,) bool): the row of each key the table holds, zero for the others."""
        wanted = torch.as_tensor(list(keys), dtype=torch.long)
        out = torch.zeros(len(wanted), self.dim)
        if not len(self.keys) or not len(wanted):
            return out, torch.zeros(len(wanted), dtype=torch.bool)
        at = torch.searchsorted(self.keys, wanted).clamp(max=len(self.keys) - 1)
        held = self.keys[at] == wanted
        out[held] = self.vectors[at[held]].float()
        return out, held

    def to_checkpoint(self) -> dict:
        return {"keys": self.keys.clone(), "vectors": self.vectors.to(torch.float16)}

    @classmethod
    def from_checkpoint(cls, stored: dict) -> CoviewTable:
        return cls.of(stored["keys"], stored["vectors"])
