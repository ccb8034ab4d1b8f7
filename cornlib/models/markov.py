"""A k-th order Markov chain over bases: the composition baseline of masked-LM scoring."""

from __future__ import annotations

import math
from typing import Iterable

import numpy as np

from cornlib.sequence import BASES


class MarkovModel:
    """A k-th order Markov chain over ACGT with add-``alpha`` smoothing and shorter-context backoff.

    Contexts of every length ``0..order`` are counted, so a base whose visible context is shorter
    than ``order`` (near the start, a masked neighbour or an ``N``) uses the longest it has.
    """

    def __init__(self, order: int = 5, alpha: float = 1.0):
        if not 0 <= order <= 10:
            raise ValueError(f"Markov order must be between 0 and 10, got {order}")
        self.order = order
        self.alpha = alpha
        self.counts: list[np.ndarray] = []
        self._probs: list[np.ndarray] | None = None

    def fit(self, sequences: Iterable[str]) -> "MarkovModel":
        """Count (j+1)-mers for j = 0..order over ``sequences`` (non-ACGT letters break windows)."""
        lut = np.full(256, 255, np.uint8)
        for k, ch in enumerate(BASES):
            lut[ord(ch)] = k
        joined = "N".join(sequences).upper().encode()
        codes = lut[np.frombuffer(joined, np.uint8)].astype(np.int64)
        ok = codes != 255
        codes = np.where(ok, codes, 0)
        index = np.zeros_like(codes)
        valid = np.ones_like(ok)
        self.counts, self._probs = [], None
        for j in range(self.order + 1):
            # index of the window codes[t-j .. t] ending at t, valid if every letter is ACGT
            if j == 0:
                index, valid = codes.copy(), ok.copy()
            else:
                index = np.concatenate([[0], index[:-1]]) * 4 + codes
                valid = np.concatenate([[False], valid[:-1]]) & ok
            self.counts.append(np.bincount(index[valid], minlength=4 ** (j + 1))
                               .reshape(4 ** j, 4).astype(float))
        return self

    def probs(self, context: str) -> np.ndarray:
        """P(next base) given up to ``order`` preceding ACGT letters, shape (4,)."""
        context = context[-self.order:] if self.order else ""
        return self._tables()[len(context)][_kmer_index(context)]

    def _tables(self) -> list[np.ndarray]:
        """Smoothed P(next base | context) for each context length m: arrays ``(4**m, 4)``."""
        if not self.counts:
            raise ValueError("fit the Markov model before scoring")
        if self._probs is None:
            self._probs = [(c + self.alpha) / (c.sum(1, keepdims=True) + 4 * self.alpha)
                           for c in self.counts]
        return self._probs

    def base_marginals(self, context: str, n: int) -> np.ndarray:
        """P(letter) at each of the next ``n`` positions given only ``context``, shape (n, 4).

        Exact: the chain is run forward over every path through the unseen positions (a state is
        the last ``order`` letters, fewer while the context is short).
        """
        tables = self._tables()
        context = context[-self.order:] if self.order else ""
        m = len(context)
        state = np.zeros(4 ** m)
        state[_kmer_index(context)] = 1.0
        out = np.zeros((n, 4))
        for j in range(n):
            joint = state[:, None] * tables[m]  # 4**m, 4
            out[j] = joint.sum(0)
            state = joint.reshape(-1)  # index s * 4 + b: the context grown by one letter
            if m < self.order:
                m += 1
            else:
                state = state.reshape(4, -1).sum(0)  # drop the oldest letter
        return out

    def score_span(self, seq: str, start: int, end: int, visible_start: int
                   ) -> tuple[float, int]:
        """Log-probability (nats) of ``seq[start:end]`` and how many of its letters are guessed.

        Only ``seq[visible_start:start]`` is seen before the span. The log-probability is the
        chain rule over the true letters; the guess at each position is the most probable letter
        given the visible context alone (:meth:`base_marginals`), as for the token predictors.
        """
        left = seq[max(visible_start, start - self.order):start]
        logp = 0.0
        for i in range(start, end):
            ctx = (left + seq[start:i])[-self.order:] if self.order else ""
            logp += math.log(self.probs(ctx)[BASES.index(seq[i])])
        guess = self.base_marginals(left, end - start).argmax(1)
        truth = np.fromiter((BASES.index(c) for c in seq[start:end]), np.int64, end - start)
        return logp, int((guess == truth).sum())


def _kmer_index(kmer: str) -> int:
    """Base-4 index of an ACGT string (A=0, C=1, G=2, T=3; first letter most significant)."""
    idx = 0
    for ch in kmer:
        idx = idx * 4 + BASES.index(ch)
    return idx


def unigram_logprobs(train_ids: list[list[int]], tokenizer, pseudocount: float = 1.0
                     ) -> np.ndarray:
    """Log-frequency ``(V,)`` of every token in the training examples, with a pseudocount.

    Special tokens are never masked, so they get the pseudocount only.
    """
    counts = np.bincount(np.concatenate([np.asarray(x) for x in train_ids]),
                         minlength=len(tokenizer)).astype(float)
    counts[tokenizer.all_special_ids] = 0.0
    counts += pseudocount
    return np.log(counts / counts.sum())
