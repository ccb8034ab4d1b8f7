"""The bootstrap engine of :mod:`cornlib.evaluate.metrics`: resamples as weights, weighted scores.

A resample is a vector of gene multiplicities (how often each gene was drawn), so resampling
genes and resampling clusters of genes (all the genes of each drawn cluster) share one code
path, and every metric of a resample is a weighted sum: one matrix product per moment for all
resamples at once. Spearman's ρ ranks within each resample from the multiplicities (ties share
their mean rank), without sorting a resample.
"""

from __future__ import annotations

import numpy as np

#: The metrics, in the order tables show them.
METRICS: tuple[str, ...] = ("mse", "mae", "pearson_r", "pearson_r2", "spearman_rho", "r2")

# Resamples are scored in chunks so that one (chunk, genes) array holds about this many values.
CHUNK_VALUES = 2_000_000


def group_codes(groups, n_genes: int) -> np.ndarray:
    """``groups`` (one label per gene) as codes 0..K-1 in order of first appearance."""
    labels = np.asarray(groups)
    if labels.ndim != 1 or len(labels) != n_genes:
        raise ValueError(f"groups must hold one label per gene ({n_genes}), got shape {labels.shape}")
    try:
        bad = np.flatnonzero([g is None or (isinstance(g, float) and np.isnan(g)) for g in labels])
    except TypeError:
        bad = np.empty(0, dtype=int)
    if len(bad):
        raise ValueError(f"groups has no label for gene row {int(bad[0])}; give every gene a cluster")
    _, first, codes = np.unique(labels, return_index=True, return_inverse=True)
    rank = np.empty(len(first), dtype=np.int64)
    rank[np.argsort(first, kind="stable")] = np.arange(len(first))
    return rank[codes.reshape(-1)]


def bootstrap_indices(n_genes: int, n_bootstrap: int, seed: int, groups=None):
    """Resamples with replacement, from ``seed``.

    Without ``groups``: genes, shape (n_bootstrap, n_genes). With ``groups`` (one cluster label
    per gene): as many clusters as there are, drawn with replacement, each bringing all its genes;
    resamples then differ in size, so a list of ``n_bootstrap`` sorted index arrays is returned
    (the same resamples as :func:`bootstrap_weights` with that seed).
    """
    if groups is None:
        rng = np.random.default_rng(seed)
        return rng.integers(0, n_genes, size=(n_bootstrap, n_genes))
    weights = bootstrap_weights(n_genes, n_bootstrap, seed, groups).astype(np.int64)
    genes = np.arange(n_genes)
    return [np.repeat(genes, w) for w in weights]


def bootstrap_weights(n_genes: int, n_bootstrap: int, seed: int, groups=None) -> np.ndarray:
    """Multiplicity of each gene in each resample, shape (n_bootstrap, n_genes), float.

    Without ``groups`` the resamples are exactly those of :func:`bootstrap_indices`. With
    ``groups``, the clusters (in order of first appearance) are drawn with replacement as many
    times as there are clusters, and a gene counts as often as its cluster was drawn.
    """
    if n_bootstrap < 0:
        raise ValueError(f"n_bootstrap must be >= 0, got {n_bootstrap}")
    if groups is None:
        draws, n_units, codes = bootstrap_indices(n_genes, n_bootstrap, seed), n_genes, None
    else:
        codes = group_codes(groups, n_genes)
        n_units = int(codes.max()) + 1 if n_genes else 0
        draws = np.random.default_rng(seed).integers(0, n_units, size=(n_bootstrap, n_units))
    offsets = n_units * np.arange(n_bootstrap)[:, None]
    counts = np.bincount((draws + offsets).ravel(), minlength=n_bootstrap * n_units)
    counts = counts.reshape(n_bootstrap, n_units).astype(float)
    return counts if codes is None else counts[:, codes]


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


def interval(reps: np.ndarray, point: float, ci: float, method: str) -> tuple[float, float]:
    """Bootstrap interval from replicates; NaN when the estimate or any replicate is undefined.

    ``percentile``: the central ``ci`` quantile range of the replicates. ``bc`` (bias-corrected
    percentile, Efron 1981): the quantiles are shifted by the share of replicates below the
    point estimate, which matters for biased statistics such as r² on a few hundred genes.
    """
    if reps.size == 0 or np.isnan(reps).any() or not np.isfinite(point):
        return float("nan"), float("nan")
    q = np.array([(1 - ci) / 2, (1 + ci) / 2])
    if method == "bc":
        from scipy.stats import norm

        below = (np.sum(reps < point) + 0.5 * np.sum(reps == point)) / reps.size
        z0 = norm.ppf(np.clip(below, 1 / (reps.size + 1), reps.size / (reps.size + 1)))
        q = norm.cdf(2 * z0 + norm.ppf(q))
    lo, hi = np.quantile(reps, q)
    return float(lo), float(hi)
