"""In-silico saturation mutagenesis: every single-base substitution of a promoter, scored.

Mutants are built as strings and scored through :func:`cornlib.interpret.perturb.score`, so the
method runs on any predictor; a BPE model re-tokenises each mutant. The result is
``(N, L, 4, T)``: the predicted change of each target when position ``l`` of sequence ``n``
becomes base ``b`` (A, C, G, T); zero at the reference base, NaN past a sequence's end.
"""

from __future__ import annotations

import warnings
from typing import Sequence

import numpy as np

from cornlib.interpret import perturb
from cornlib.sequence import BASES, encode_fixed, normalize_all


def mutants(seq: str, positions: Sequence[int] | None = None) -> tuple[list[str], np.ndarray]:
    """Every single-base substitution of ``seq`` at ``positions`` (default: all) and, per
    mutant, ``(position, base index)``; an N position gets all four bases."""
    positions = range(len(seq)) if positions is None else positions
    out, where = [], []
    for p in positions:
        if not 0 <= p < len(seq):
            raise ValueError(f"position {p} lies outside a sequence of {len(seq)} bases")
        for b, base in enumerate(BASES):
            if base != seq[p]:
                out.append(seq[:p] + base + seq[p + 1:])
                where.append((p, b))
    return out, np.asarray(where, dtype=np.int64).reshape(-1, 2)


def saturation(predictor, sequences: Sequence[str], *, positions: Sequence[int] | None = None,
               batch_size: int = 256, device: str = "auto",
               progress: bool | None = None) -> np.ndarray:
    """Predicted effect of every substitution, ``(N, L_max, 4, T)`` float32.

    Args:
        predictor: a :class:`cornlib.models.predictor.Predictor`.
        sequences: promoters (5'→3', ending at the TSS).
        positions: positions to mutate in every sequence (default: all of each).
    """
    seqs = normalize_all(sequences)
    sites = [range(len(s)) if positions is None else [p for p in positions if p < len(s)]
             for s in seqs]
    muts, owner, where = [], [], []
    for i, (s, ps) in enumerate(zip(seqs, sites)):
        m, w = mutants(s, ps)
        muts += m
        owner.append(np.full(len(m), i))
        where.append(w)
    eff = perturb.score(predictor, seqs, muts, np.concatenate(owner), batch_size=batch_size,
                        device=device, progress=progress)
    where = np.concatenate(where)
    out = np.full((len(seqs), max(map(len, seqs)), 4, len(eff.targets)), np.nan, np.float32)
    for i, ps in enumerate(sites):
        out[i, list(ps)] = 0.0  # the reference base of every mutated position
    out[eff.owner, where[:, 0], where[:, 1]] = eff.delta
    return out


def hypothetical(delta: np.ndarray) -> np.ndarray:
    """Mean-centred effects: each position's four values minus their mean, ``(N, L, 4, T)``.

    The centred value of the reference base is how much better (or worse) it is than the
    average base there: the per-base importance drawn in logos."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return delta - np.nanmean(delta, axis=2, keepdims=True)


def position_scores(delta: np.ndarray, how: str = "max_abs") -> np.ndarray:
    """One importance per position and target, ``(N, L, T)``: ``max_abs`` (the largest
    change any substitution makes) or ``mean_abs``."""
    with warnings.catch_warnings():  # all-NaN positions (past a sequence's end) stay NaN
        warnings.simplefilter("ignore", RuntimeWarning)
        if how == "max_abs":
            return np.nanmax(np.abs(delta), axis=2)
        if how == "mean_abs":
            return np.nanmean(np.abs(delta), axis=2)
    raise ValueError(f"how must be 'max_abs' or 'mean_abs', not {how!r}")


def zero_share(delta: np.ndarray, sequences: Sequence[str], masks: np.ndarray | None = None,
               *, atol: float = 1e-6) -> dict[str, float]:
    """How much of a model's mutagenesis is flat: effects within ``atol`` of 0 (float32
    predictions of order 1-10 differ by about 1e-7 from rounding alone, e.g. when a mutant and
    its reference fall in different batches).

    ``substitutions``: the share of substitutions (every non-reference base of every scored
    position, every target) with a flat effect; ``positions``: the share of scored positions ×
    targets where every substitution's is, so that :func:`position_scores` ties them near 0.
    With ``masks``, ``sites`` and ``elsewhere`` split that share between the true-site
    positions and the others. A model that max-pools ignores a change that does not alter a
    maximum, which leaves such ties; a true site inside them cannot be ranked above the rest.

    Args:
        delta: ``(N, L, 4, T)`` from :func:`saturation` (NaN rows, e.g. sequences not scored,
            are left out).
        sequences: the sequences of ``delta``'s rows.
        masks: ``(N, L, T)`` true-site masks
            (:func:`cornlib.interpret.recovery.site_masks`) of the same rows.
    """
    seqs = normalize_all(sequences)
    if len(seqs) != delta.shape[0]:
        raise ValueError(f"{len(seqs)} sequences for {delta.shape[0]} rows of effects")
    if masks is not None and masks.shape != delta[:, :, 0].shape:
        raise ValueError(f"masks {masks.shape} do not match effects {delta.shape}")
    codes = encode_fixed(seqs, length=delta.shape[1], align="start")
    ref = np.eye(5, 4, dtype=bool)[codes][..., None]  # (N, L, 4, 1): the reference base
    scored = np.isfinite(delta)
    small = np.abs(np.nan_to_num(delta)) <= atol
    subs = scored & ~ref
    pos = scored.any(axis=2)
    flat = np.where(scored, small, True).all(axis=2) & pos

    def share(part, whole):
        n = int(whole.sum())
        return float((part & whole).sum() / n) if n else np.nan

    out = {"substitutions": share(small, subs), "positions": share(flat, pos)}
    if masks is not None:
        out["sites"] = share(flat, pos & masks)
        out["elsewhere"] = share(flat, pos & ~masks)
    return out
