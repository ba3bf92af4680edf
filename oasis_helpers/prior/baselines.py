"""Baselines the prior must beat, with its interface (``fit``, ``nll_map_bits``, ``sample``).

:class:`UniformBaseline` (every code equally likely: ``log2 K`` bits per code),
:class:`UnigramBaseline` (the training codes' frequencies) and :class:`NeighbourBaseline`
(a smoothed count table of each code given its left and upper neighbours). Notebook 04
compares their bits per code and samples with the prior's.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from oasis_helpers.prior.inputs import check_codes, check_positive_int

__all__ = ["SMOOTHING_CANDIDATES", "NeighbourBaseline", "UniformBaseline", "UnigramBaseline"]

#: Smoothing values tried by :meth:`NeighbourBaseline.fit` when given validation grids.
SMOOTHING_CANDIDATES = (0.5, 2.0, 8.0, 32.0, 128.0)


class UniformBaseline:
    """Every code equally likely: ``log2 K`` bits per code."""

    def __init__(self, num_embeddings: int):
        self.num_embeddings = check_positive_int("num_embeddings", num_embeddings, 2)

    def fit(self, codes: npt.ArrayLike) -> UniformBaseline:
        return self

    def nll_map_bits(self, codes: npt.ArrayLike) -> npt.NDArray[np.float32]:
        codes = check_codes(codes, self.num_embeddings)
        return np.full(codes.shape, math.log2(self.num_embeddings), dtype=np.float32)

    def sample(self, count: int, height: int, width: int, seed: int = 0) -> npt.NDArray[np.int32]:
        rng = np.random.default_rng(seed)
        return rng.integers(0, self.num_embeddings, (count, height, width)).astype(np.int32)


class UnigramBaseline:
    """Codes drawn independently from the (additively smoothed) training frequencies.

    ``p(k) = (n_k + smoothing) / (N + K * smoothing)``; :meth:`entropy_bits` is
    ``-sum_k p(k) log2 p(k)``, the bits per code of this model on its own training codes.
    """

    def __init__(self, num_embeddings: int, smoothing: float = 0.5):
        self.num_embeddings = check_positive_int("num_embeddings", num_embeddings, 2)
        if not smoothing > 0:
            raise ValueError(f"smoothing must be positive, got {smoothing}")
        self.smoothing = float(smoothing)
        self.probabilities = np.full(self.num_embeddings, 1.0 / self.num_embeddings)

    def fit(self, codes: npt.ArrayLike) -> UnigramBaseline:
        codes = check_codes(codes, self.num_embeddings)
        counts = np.bincount(codes.ravel(), minlength=self.num_embeddings).astype(np.float64)
        self.probabilities = (counts + self.smoothing) / (
            counts.sum() + self.smoothing * len(counts)
        )
        return self

    def entropy_bits(self) -> float:
        probabilities = self.probabilities
        return float(-(probabilities * np.log2(probabilities)).sum())

    def nll_map_bits(self, codes: npt.ArrayLike) -> npt.NDArray[np.float32]:
        codes = check_codes(codes, self.num_embeddings)
        return (-np.log2(self.probabilities)[codes]).astype(np.float32)

    def sample(self, count: int, height: int, width: int, seed: int = 0) -> npt.NDArray[np.int32]:
        rng = np.random.default_rng(seed)
        draws = rng.choice(self.num_embeddings, size=(count, height, width), p=self.probabilities)
        return draws.astype(np.int32)


class NeighbourBaseline:
    """A smoothed count table of each code given its left and upper neighbours.

    With ``l = c[i, j-1]`` and ``u = c[i-1, j]`` (the symbol ``K`` outside the grid)::

        p(k | l, u) = (n(l, u, k) + smoothing * p_unigram(k)) / (n(l, u) + smoothing)

    a Dirichlet-smoothed table that falls back on the unigram frequencies for
    rare contexts. Counts are stored sparsely (only the observed triples).
    :meth:`sample` draws grids in raster order from this table.
    """

    def __init__(self, num_embeddings: int, smoothing: float = 4.0):
        self.num_embeddings = check_positive_int("num_embeddings", num_embeddings, 2)
        if not smoothing > 0:
            raise ValueError(f"smoothing must be positive, got {smoothing}")
        self.smoothing = float(smoothing)
        self.unigram = UnigramBaseline(self.num_embeddings)
        size = (self.num_embeddings + 1) ** 2
        self.context_totals = np.zeros(size, dtype=np.int64)
        self.keys = np.zeros(0, dtype=np.int64)  # sorted context * K + code
        self.key_counts = np.zeros(0, dtype=np.int64)
        self.cumulative = np.zeros(0, dtype=np.int64)

    def _contexts(self, codes: np.ndarray) -> np.ndarray:
        outside = self.num_embeddings
        left = np.full_like(codes, outside)
        left[:, :, 1:] = codes[:, :, :-1]
        upper = np.full_like(codes, outside)
        upper[:, 1:, :] = codes[:, :-1, :]
        return left.astype(np.int64) * (outside + 1) + upper.astype(np.int64)

    def fit(
        self,
        codes: npt.ArrayLike,
        validation_codes: npt.ArrayLike | None = None,
        candidates=SMOOTHING_CANDIDATES,
    ):
        """Count the triples of ``codes`` ``[N, h, w]``; returns ``self``.

        With ``validation_codes``, ``smoothing`` becomes the candidate with the lowest
        bits per code on them (chosen on held-out grids, never on the test grids).
        """
        codes = check_codes(codes, self.num_embeddings)
        self._count(codes)
        if validation_codes is not None:
            validation_codes = check_codes(validation_codes, self.num_embeddings)
            scores = {}
            for candidate in candidates:
                self.smoothing = float(candidate)
                scores[self.smoothing] = float(self.nll_map_bits(validation_codes).mean())
            self.smoothing = min(scores, key=scores.get)
            self.validation_scores = scores
        return self

    def _count(self, codes: np.ndarray) -> None:
        self.unigram.fit(codes)
        contexts = self._contexts(codes).ravel()
        keys = contexts * self.num_embeddings + codes.ravel()
        self.keys, self.key_counts = np.unique(keys, return_counts=True)
        self.cumulative = np.cumsum(self.key_counts)
        self.context_totals = np.bincount(contexts, minlength=(self.num_embeddings + 1) ** 2)

    def _counts_of(self, keys: np.ndarray) -> np.ndarray:
        if len(self.keys) == 0:
            return np.zeros(keys.shape, dtype=np.int64)
        index = np.clip(np.searchsorted(self.keys, keys), 0, len(self.keys) - 1)
        return np.where(self.keys[index] == keys, self.key_counts[index], 0)

    def probability(
        self, codes_at: npt.ArrayLike, contexts: npt.ArrayLike
    ) -> npt.NDArray[np.float64]:
        """``p(code | context)`` for arrays of codes and context ids of the same shape."""
        counts = self._counts_of(contexts * self.num_embeddings + codes_at)
        totals = self.context_totals[contexts]
        base = self.unigram.probabilities[codes_at]
        return (counts + self.smoothing * base) / (totals + self.smoothing)

    def nll_map_bits(self, codes: npt.ArrayLike) -> npt.NDArray[np.float32]:
        codes = check_codes(codes, self.num_embeddings)
        contexts = self._contexts(codes)
        return (-np.log2(self.probability(codes.astype(np.int64), contexts))).astype(np.float32)

    def sample(self, count: int, height: int, width: int, seed: int = 0) -> npt.NDArray[np.int32]:
        """Grids ``[count, height, width]`` drawn in raster order from the smoothed table.

        Each draw is the mixture of its two parts: with probability
        ``n(l, u) / (n(l, u) + smoothing)`` one of the context's observed codes
        (in proportion to its count), else a unigram draw. An unfitted table has no
        observed codes: its grids are unigram draws (uniform, before any fit).
        """
        rng = np.random.default_rng(seed)
        outside = self.num_embeddings
        codes = np.zeros((count, height, width), dtype=np.int64)
        unigram_cumulative = np.cumsum(self.unigram.probabilities)
        unigram_cumulative /= unigram_cumulative[-1]
        for row in range(height):
            for column in range(width):
                left = codes[:, row, column - 1] if column else np.full(count, outside)
                upper = codes[:, row - 1, column] if row else np.full(count, outside)
                contexts = left * (outside + 1) + upper
                totals = self.context_totals[contexts]
                from_table = rng.random(count) * (totals + self.smoothing) < totals
                unigram_draw = np.minimum(
                    np.searchsorted(unigram_cumulative, rng.random(count), side="right"),
                    outside - 1,
                )
                table_draw = unigram_draw  # no observed codes (unfitted): totals are 0
                if len(self.keys):
                    # within the context's block of sorted keys, pick by cumulative count
                    start = np.searchsorted(self.keys, contexts * outside)
                    before = np.where(start > 0, self.cumulative[np.maximum(start - 1, 0)], 0)
                    target = before + np.floor(rng.random(count) * totals).astype(np.int64)
                    index = np.searchsorted(self.cumulative, target, side="right")
                    table_draw = self.keys[np.minimum(index, len(self.keys) - 1)] % outside
                codes[:, row, column] = np.where(from_table, table_draw, unigram_draw)
        return codes.astype(np.int32)
