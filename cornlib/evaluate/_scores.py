"""The regression scores of :mod:`cornlib.evaluate.metrics`: point estimates, and every
metric of many weighted resamples at once.

A resample is a vector of gene multiplicities (:func:`cornlib.evaluate.resample.bootstrap_weights`),
so every metric of a resample is a weighted sum: one matrix product per moment for all resamples
at once. Spearman's ρ ranks within each resample from the multiplicities (ties share their mean
rank), without sorting a resample.
"""

from __future__ import annotations

import numpy as np

from cornlib.stats import METRICS

# Resamples are scored in chunks so that one (chunk, genes) array holds about this many values.
CHUNK_VALUES = 2_000_000


def ranks(x: np.ndarray) -> np.ndarray:
    """Average ranks along the last axis (ties share their mean rank)."""
    from scipy.stats import rankdata

    return rankdata(x, axis=-1)


def pearson(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pearson r along the last axis; NaN where either side is constant."""
    a = a - a.mean(axis=-1, keepdims=True)
    b = b - b.mean(axis=-1, keepdims=True)
    den = np.sqrt((a * a).sum(axis=-1) * (b * b).sum(axis=-1))
    num = (a * b).sum(axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        r = np.where(den > 1e-12 * np.maximum(1.0, np.abs(num)), num / den, np.nan)
    return np.clip(r, -1.0, 1.0)


def metric_rows(t: np.ndarray, p: np.ndarray) -> dict[str, np.ndarray]:
    """All metrics along the last axis of ``t`` (truth) and ``p`` (prediction), shape (..., n)."""
    err = p - t
    mse = (err * err).mean(axis=-1)
    tc = t - t.mean(axis=-1, keepdims=True)
    ss_tot = (tc * tc).sum(axis=-1)
    ss_res = (err * err).sum(axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        r2 = np.where(ss_tot > 0, 1.0 - ss_res / ss_tot, np.nan)
    r = pearson(t, p)
    return {"mse": mse, "mae": np.abs(err).mean(axis=-1), "pearson_r": r, "pearson_r2": r * r,
            "spearman_rho": pearson(ranks(t), ranks(p)), "r2": r2}


def resample_ranks(x: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """Average ranks of ``x[idx]`` within each resample (row of ``idx``), shape ``idx.shape``."""
    _, code = np.unique(x, return_inverse=True)
    n_unique = int(code.max()) + 1
    c = code.reshape(-1)[idx]
    offsets = n_unique * np.arange(len(idx))[:, None]
    counts = np.bincount((c + offsets).ravel(), minlength=len(idx) * n_unique)
    counts = counts.reshape(len(idx), n_unique).astype(float)
    avg = np.cumsum(counts, axis=1) - counts + (counts + 1) / 2
    return np.take_along_axis(avg, c, axis=1)


def weighted_ranks(x: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Average rank of each gene's value within each weighted resample, shape ``weights.shape``.

    A gene drawn ``w`` times counts ``w`` times; rank = (weight below its value) +
    (weight at its value + 1) / 2, as ``scipy.stats.rankdata`` gives on the expanded resample.
    Genes of weight 0 get the rank their value would have (they do not enter any sum).
    """
    order = np.argsort(x, kind="stable")
    xs = x[order]
    starts = np.flatnonzero(np.r_[True, xs[1:] != xs[:-1]])
    code = np.empty(len(x), dtype=np.int64)
    code[order] = np.cumsum(np.r_[True, xs[1:] != xs[:-1]]) - 1
    counts = np.add.reduceat(weights[:, order], starts, axis=1)  # B, U
    avg = np.cumsum(counts, axis=1) - counts + (counts + 1) / 2
    return avg[:, code]


def _corr(cov: np.ndarray, va: np.ndarray, vb: np.ndarray) -> np.ndarray:
    """r = cov / sqrt(va vb); NaN where either side is (numerically) constant."""
    den = np.sqrt(np.clip(va, 0, None) * np.clip(vb, 0, None))
    with np.errstate(invalid="ignore", divide="ignore"):
        r = np.where(den > 1e-12 * np.maximum(1.0, np.abs(cov)), cov / den, np.nan)
    return np.clip(r, -1.0, 1.0)


def _spread(s: np.ndarray, ss: np.ndarray, sw: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """Weighted sum of squared deviations from the weighted mean; 0 below rounding level."""
    v = ss - s * s / sw
    return np.where(v > 1e-12 * sw * scale * scale, v, 0.0)


def weighted_metrics(t: np.ndarray, p: np.ndarray, weights: np.ndarray, *,
                     signal: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """Every metric of each target on each weighted resample.

    Args:
        t: truth, shape (n, T).
        p: predictions, shape (n, T).
        weights: gene multiplicities, shape (B, n); a row of ones is the sample itself.
        signal: noiseless signal, shape (n, T); adds ``noise_ceiling`` = R²(t, signal).

    Returns:
        ``{metric: array (B, T)}`` for :data:`METRICS` (and ``noise_ceiling``).
    """
    n_boot, n = weights.shape
    step = max(1, CHUNK_VALUES // max(n, 1))
    t0 = t - t.mean(axis=0)
    p0 = p - p.mean(axis=0)
    err = p - t
    cols = [t0, p0, t0 * t0, p0 * p0, t0 * p0, err * err, np.abs(err)]
    if signal is not None:
        cols.append((signal - t) ** 2)
    moments = np.concatenate(cols, axis=1)  # n, k*T
    scale_t = np.abs(t0).max(axis=0)
    scale_p = np.abs(p0).max(axis=0)
    parts: dict[str, list[np.ndarray]] = {}
    for lo in range(0, n_boot, step):
        w = weights[lo:lo + step]
        sw = w.sum(axis=1, keepdims=True)
        sums = np.split(w @ moments, len(cols), axis=1)
        st, sp, stt, spp, stp, see, sae = sums[:7]
        vt, vp = _spread(st, stt, sw, scale_t), _spread(sp, spp, sw, scale_p)
        cov = stp - st * sp / sw
        r = _corr(cov, vt, vp)
        with np.errstate(invalid="ignore", divide="ignore"):
            r2 = np.where(vt > 0, 1.0 - see / vt, np.nan)
        rows = {"mse": see / sw, "mae": sae / sw, "pearson_r": r, "pearson_r2": r * r,
                "spearman_rho": _weighted_spearman(t, p, w, sw), "r2": r2}
        if signal is not None:
            with np.errstate(invalid="ignore", divide="ignore"):
                rows["noise_ceiling"] = np.where(vt > 0, 1.0 - sums[7] / vt, np.nan)
        for m, v in rows.items():
            parts.setdefault(m, []).append(v)
    names = list(METRICS) + (["noise_ceiling"] if signal is not None else [])
    return {m: (np.concatenate(parts[m]) if m in parts else np.empty((0, t.shape[1])))
            for m in names}


def _weighted_spearman(t: np.ndarray, p: np.ndarray, w: np.ndarray, sw: np.ndarray) -> np.ndarray:
    """Spearman's ρ of each target column on each weighted resample, shape (B, T)."""
    out = np.empty((w.shape[0], t.shape[1]))
    for j in range(t.shape[1]):
        rt, rp = weighted_ranks(t[:, j], w), weighted_ranks(p[:, j], w)
        mid = (sw + 1) / 2  # mean rank of every resample: centre before the sums
        rt -= mid
        rp -= mid
        st, sp = (w * rt).sum(axis=1), (w * rp).sum(axis=1)
        s = sw[:, 0]
        vt = (w * rt * rt).sum(axis=1) - st * st / s
        vp = (w * rp * rp).sum(axis=1) - sp * sp / s
        cov = (w * rt * rp).sum(axis=1) - st * sp / s
        scale = np.maximum(s, 1.0)
        vt = np.where(vt > 1e-9 * scale, vt, 0.0)
        vp = np.where(vp > 1e-9 * scale, vp, 0.0)
        out[:, j] = _corr(cov, vt, vp)
    return out
