"""k-mer flip importance (FloraBERT's "k-mer visualization"), done with stated constants.

At a window of ``k`` bases starting at position ``p`` (``p + k <= L``: a window never runs past
the end of the sequence), the ``k`` bases are replaced by random bases ``draws`` times; the mean
predicted change per target is the window's effect, and each base gets the mean effect of the
windows that cover it. Where labels exist, the change in absolute error is returned too. Every
random draw comes from one seeded generator; every mutant is scored in batches through
:func:`cornlib.interpret.perturb.score`. The predictions are in the model's own units (its
recorded target transform), so no offset or divisor is typed in here.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import pandas as pd

from cornlib.interpret import perturb
from cornlib.sequence import BASES, normalize_all


@dataclass(frozen=True)
class KmerFlip:
    """Per-base effects of k-mer flips.

    Attributes:
        k: the window width.
        effect: ``(N, L_max, T)`` mean predicted change (mutant − reference); NaN past a
            sequence's end.
        error_change: the same for the absolute error against ``labels`` (``None`` without).
        reference: ``(N, T)`` predictions of the unmutated sequences.
        targets: target names.
    """

    k: int
    effect: np.ndarray
    error_change: np.ndarray | None
    reference: np.ndarray
    targets: list[str]


def windows(length: int, k: int, stride: int) -> np.ndarray:
    """Start positions of the k-mer windows of a sequence: ``0, stride, ...``, every window
    inside the sequence, the last one flush with its end."""
    if k < 1 or stride < 1:
        raise ValueError(f"k and stride must be positive, got k={k}, stride={stride}")
    if length < k:
        return np.zeros(0, dtype=np.int64)
    starts = np.arange(0, length - k + 1, stride)
    return np.unique(np.append(starts, length - k))


def flip(predictor, sequences: Sequence[str], k: int, *, draws: int = 4, stride: int | None = None,
         labels: np.ndarray | None = None, seed: int = 0, batch_size: int = 256,
         device: str = "auto", progress: bool | None = None) -> KmerFlip:
    """k-mer flip effects of ``sequences`` through ``predictor``.

    Args:
        k: bases replaced at a time.
        draws: random replacements per window (their mean is the window's effect).
        stride: positions between window starts (default ``k``: windows tile the sequence;
            1 is FloraBERT's every position, ``k`` times the cost).
        labels: ``(N, T)`` observed values (NaN allowed) for the error change.
        seed: seeds the one generator of every random base.
    """
    seqs = normalize_all(sequences)
    stride = k if stride is None else stride
    rng = np.random.default_rng(seed)
    muts, owner, spans = [], [], []
    for i, s in enumerate(seqs):
        for p in windows(len(s), k, stride):
            for kmer in rng.integers(0, 4, size=(draws, k)):
                muts.append(s[:p] + "".join(BASES[b] for b in kmer) + s[p + k:])
                owner.append(i)
                spans.append(p)
    eff = perturb.score(predictor, seqs, muts, owner, batch_size=batch_size, device=device,
                        progress=progress)
    owner, spans = np.asarray(owner, np.int64), np.asarray(spans, np.int64)
    effect = _spread(eff.delta, owner, spans, k, seqs)
    err = None
    if labels is not None:
        y = np.asarray(labels, dtype=np.float32)
        if y.shape != eff.reference.shape:
            raise ValueError(f"labels have shape {y.shape}, expected {eff.reference.shape}")
        change = np.abs(y[owner] - eff.mutant) - np.abs(y - eff.reference)[owner]
        err = _spread(change, owner, spans, k, seqs)
    return KmerFlip(k, effect, err, eff.reference, eff.targets)


def _spread(values: np.ndarray, owner: np.ndarray, starts: np.ndarray, k: int,
            seqs: list[str]) -> np.ndarray:
    """Mean of the window values covering each base, ``(N, L_max, T)``."""
    n, t = len(seqs), values.shape[1]
    total = np.zeros((n, max(map(len, seqs)) + 1, t))
    count = np.zeros((n, total.shape[1], 1))
    # difference arrays: +v at each window's start, -v just past its end
    np.add.at(total, (owner, starts), values)
    np.add.at(total, (owner, starts + k), -values)
    np.add.at(count, (owner, starts), 1)
    np.add.at(count, (owner, starts + k), -1)
    total, count = total.cumsum(1)[:, :-1], count.cumsum(1)[:, :-1]
    with np.errstate(invalid="ignore", divide="ignore"):
        out = (total / count).astype(np.float32)
    for i, s in enumerate(seqs):
        out[i, len(s):] = np.nan
    return out


def tss_profile(importance: np.ndarray, tss_index: Sequence[int], *, bin_width: int = 25,
                targets: Sequence[str] | None = None) -> pd.DataFrame:
    """Importance along the promoter relative to the TSS, summarised over sequences.

    Args:
        importance: ``(N, L, T)`` per-base values (e.g. ``abs(effect)``), NaN past the end.
        tss_index: each sequence's TSS as a 0-based index into it (its length for a promoter
            that ends at the TSS).
        bin_width: bases per bin.

    Returns:
        One row per bin and target: ``bin_start`` (bp relative to the TSS, negative upstream),
        ``mean``, ``q25``, ``q75`` over sequences (each sequence's mean over the bin), and
        ``n`` (sequences with bases in the bin).
    """
    imp = np.asarray(importance, dtype=float)
    n, length, t = imp.shape
    tss = np.asarray(tss_index, dtype=np.int64).reshape(-1)
    if len(tss) != n:
        raise ValueError(f"{n} sequences but {len(tss)} TSS indices")
    rel = np.arange(length)[None, :] - tss[:, None]  # N, L: bp relative to the TSS
    bins = np.floor_divide(rel, bin_width) * bin_width
    names = list(targets) if targets is not None else [f"target_{j}" for j in range(t)]
    rows = []
    for b in np.unique(bins[np.isfinite(imp[..., 0])]):
        per_seq = np.where((bins == b)[..., None], imp, np.nan)
        with warnings.catch_warnings():  # sequences without bases in this bin: NaN
            warnings.simplefilter("ignore", RuntimeWarning)
            means = np.nanmean(per_seq, axis=1)  # N, T
        ok = np.isfinite(means)
        for j, name in enumerate(names):
            v = means[ok[:, j], j]
            if len(v):
                rows.append({"bin_start": int(b), "target": name, "mean": float(v.mean()),
                             "q25": float(np.quantile(v, 0.25)),
                             "q75": float(np.quantile(v, 0.75)), "n": int(len(v))})
    return pd.DataFrame(rows)
