"""Every score the book reports (MSE, MAE, Pearson r and r², Spearman ρ, R²) with bootstrap CIs over genes."""

from __future__ import annotations

from typing import Iterable, Mapping, Sequence

import numpy as np
import pandas as pd

#: The metrics, in the order tables show them.
METRICS: tuple[str, ...] = ("mse", "mae", "pearson_r", "pearson_r2", "spearman_rho", "r2")

#: Metrics expressed as a fraction of the noise ceiling (simulated targets only).
CEILING_METRICS: dict[str, str] = {"r2": "r2_of_ceiling", "pearson_r2": "pearson_r2_of_ceiling"}

#: Columns of the tidy result tables.
RESULT_COLUMNS: tuple[str, ...] = ("target", "metric", "value", "ci_low", "ci_high")

# Bootstrap replicates are scored in chunks so that a chunk holds about this many values.
_CHUNK_VALUES = 2_000_000


def _as_2d(y: np.ndarray | pd.DataFrame | pd.Series | Sequence[float], name: str) -> np.ndarray:
    """Return ``y`` as a float array of shape (n_genes, n_targets)."""
    arr = np.asarray(y, dtype=float)
    if arr.ndim == 1:
        arr = arr[:, None]
    if arr.ndim != 2:
        raise ValueError(f"{name} must have shape (n_genes,) or (n_genes, n_targets), not {arr.shape}")
    return arr


def _validate(y_true: np.ndarray, y_pred: np.ndarray, targets: Sequence[str]) -> None:
    """Shapes agree, at least two genes, every value finite."""
    if y_true.shape != y_pred.shape:
        raise ValueError(f"y_true has shape {y_true.shape} but y_pred has shape {y_pred.shape}; "
                         "pass one prediction per gene and target")
    if y_true.shape[0] < 2:
        raise ValueError(f"need at least 2 genes to score, got {y_true.shape[0]}")
    if len(targets) != y_true.shape[1]:
        raise ValueError(f"{len(targets)} target names for {y_true.shape[1]} target columns")
    for arr, name in ((y_true, "y_true"), (y_pred, "y_pred")):
        bad = ~np.isfinite(arr)
        if bad.any():
            row, col = np.argwhere(bad)[0]
            raise ValueError(f"{name} holds {int(bad.sum())} NaN/inf values (first: gene row {row}, "
                             f"target {targets[col]!r}); drop those genes or fix the predictions")


def _ranks(x: np.ndarray) -> np.ndarray:
    """Average ranks along the last axis (ties share their mean rank)."""
    from scipy.stats import rankdata

    return rankdata(x, axis=-1)


def _pearson(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pearson r along the last axis; NaN where either side is constant."""
    a = a - a.mean(axis=-1, keepdims=True)
    b = b - b.mean(axis=-1, keepdims=True)
    den = np.sqrt((a * a).sum(axis=-1) * (b * b).sum(axis=-1))
    num = (a * b).sum(axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        r = np.where(den > 1e-12 * np.maximum(1.0, np.abs(num)), num / den, np.nan)
    return np.clip(r, -1.0, 1.0)


def _resample_ranks(x: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """Average ranks of ``x[idx]`` within each resample (row of ``idx``), without sorting.

    ``x`` (n,) is sorted once; each resample's ranks follow from its counts of every distinct
    value: rank = (values below) + (copies + 1) / 2. Returns shape ``idx.shape``.
    """
    _, code = np.unique(x, return_inverse=True)  # n → 0..U-1 in value order
    n_unique = int(code.max()) + 1
    c = code.reshape(-1)[idx]  # B, n
    offsets = n_unique * np.arange(len(idx))[:, None]
    counts = np.bincount((c + offsets).ravel(), minlength=len(idx) * n_unique)
    counts = counts.reshape(len(idx), n_unique).astype(float)  # B, U
    avg = np.cumsum(counts, axis=1) - counts + (counts + 1) / 2
    return np.take_along_axis(avg, c, axis=1)


def _metric_rows(t: np.ndarray, p: np.ndarray, ranks: tuple[np.ndarray, np.ndarray] | None = None
                 ) -> dict[str, np.ndarray]:
    """All metrics along the last axis of ``t`` (truth) and ``p`` (prediction), shape (..., n).

    ``ranks`` gives precomputed within-row ranks of ``t`` and ``p`` for Spearman's ρ.
    """
    err = p - t
    mse = (err * err).mean(axis=-1)
    tc = t - t.mean(axis=-1, keepdims=True)
    ss_tot = (tc * tc).sum(axis=-1)
    ss_res = (err * err).sum(axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        r2 = np.where(ss_tot > 0, 1.0 - ss_res / ss_tot, np.nan)
    r = _pearson(t, p)
    return {"mse": mse, "mae": np.abs(err).mean(axis=-1), "pearson_r": r, "pearson_r2": r * r,
            "spearman_rho": _pearson(*(ranks or (_ranks(t), _ranks(p)))), "r2": r2}


def score(y_true: Sequence[float] | np.ndarray, y_pred: Sequence[float] | np.ndarray) -> dict[str, float]:
    """Every metric for one target, without confidence intervals.

    ``r2`` is the coefficient of determination of ``y_pred`` for ``y_true`` (the order of
    ``sklearn.metrics.r2_score(y_true, y_pred)``); it is not symmetric, and swapping the
    arguments (as FloraBERT's evaluation did) gives a different number. Pearson r and Spearman ρ
    are NaN when either side is constant (e.g. a mean predictor).

    Args:
        y_true: measured or simulated values, shape (n_genes,).
        y_pred: predictions, shape (n_genes,).

    Returns:
        ``{metric: value}`` for every name in :data:`METRICS`.
    """
    t, p = _as_2d(y_true, "y_true"), _as_2d(y_pred, "y_pred")
    if t.shape[1] != 1:
        raise ValueError(f"score() takes one target (shape (n_genes,)), got {t.shape}; use evaluate()")
    _validate(t, p, ["target"])
    rows = _metric_rows(t[:, 0], p[:, 0])
    return {m: float(rows[m]) for m in METRICS}


def r2_columns(y_true: np.ndarray, y_pred: np.ndarray) -> np.ndarray:
    """R² of each column of ``y_pred`` for the same column of ``y_true``, shape (n_targets,).

    Truth first (``sklearn.metrics.r2_score`` order); NaN for a constant truth column.
    """
    t = np.asarray(y_true, dtype=float)
    t = t.reshape(len(t), -1)
    p = np.asarray(y_pred, dtype=float).reshape(t.shape)
    return _metric_rows(t.T, p.T)["r2"]


def mean_r2(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Mean R² over target columns (the model-selection score on ``valid``)."""
    return float(np.nanmean(r2_columns(y_true, y_pred)))


def bootstrap_indices(n_genes: int, n_bootstrap: int, seed: int) -> np.ndarray:
    """Gene resamples with replacement, shape (n_bootstrap, n_genes), from ``seed``."""
    rng = np.random.default_rng(seed)
    return rng.integers(0, n_genes, size=(n_bootstrap, n_genes))


def _replicates(t: np.ndarray, p: np.ndarray, idx: np.ndarray) -> dict[str, np.ndarray]:
    """Metrics of one target on every resample in ``idx`` (n_boot, n); returns arrays (n_boot,)."""
    n_boot, n = idx.shape
    step = max(1, _CHUNK_VALUES // max(n, 1))
    parts: dict[str, list[np.ndarray]] = {m: [] for m in METRICS}
    for lo in range(0, n_boot, step):
        sel = idx[lo:lo + step]
        ranks = (_resample_ranks(t, sel), _resample_ranks(p, sel))
        rows = _metric_rows(t[sel], p[sel], ranks)  # chunk, n → chunk
        for m in METRICS:
            parts[m].append(rows[m])
    return {m: np.concatenate(parts[m]) if parts[m] else np.empty(0) for m in METRICS}


CI_METHODS = ("bc", "percentile")


def _interval(reps: np.ndarray, point: float, ci: float, method: str) -> tuple[float, float]:
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


def evaluate(y_true: np.ndarray | pd.DataFrame, y_pred: np.ndarray | pd.DataFrame, *,
             targets: Sequence[str] | None = None, n_bootstrap: int = 1000, seed: int = 0,
             ci: float = 0.95, ci_method: str = "bc", overall: str | None = "overall",
             ceiling: Mapping[str, float] | None = None) -> pd.DataFrame:
    """Score every target and their average, with bootstrap CIs over genes.

    Genes are resampled with replacement ``n_bootstrap`` times (the same resamples for every
    target, from ``seed``); each metric is computed on each resample, and the interval is taken
    from those replicates (``ci_method``: bias-corrected percentile by default, or plain
    percentile). ``overall`` is the unweighted mean of each metric over the targets (computed
    per resample too, so its CI is paired across targets).

    Args:
        y_true: truth, shape (n_genes, n_targets) or (n_genes,); a DataFrame gives target names.
        y_pred: predictions in the same layout as ``y_true``.
        targets: names of the target columns (default: DataFrame columns, else ``target_0``...).
        n_bootstrap: number of resamples; 0 gives NaN intervals.
        seed: seed of the resampling.
        ci: coverage of the interval, in (0, 1).
        ci_method: ``bc`` (bias-corrected percentile) or ``percentile``.
        overall: name of the average-over-targets rows; ``None`` omits them.
        ceiling: ``{target: noise-ceiling r²}``; adds ``r2_of_ceiling`` and
            ``pearson_r2_of_ceiling`` rows (value / ceiling) for the targets it names.

    Returns:
        Tidy DataFrame with columns ``target, metric, value, ci_low, ci_high``.

    Raises:
        ValueError: shapes differ, fewer than 2 genes, a NaN/inf value, a bad ``ci``/ceiling.
    """
    if targets is None:
        targets = [str(c) for c in y_true.columns] if isinstance(y_true, pd.DataFrame) else None
    t, p = _as_2d(y_true, "y_true"), _as_2d(y_pred, "y_pred")
    targets = list(targets) if targets is not None else [f"target_{i}" for i in range(t.shape[1])]
    _validate(t, p, targets)
    if not 0 < ci < 1:
        raise ValueError(f"ci must lie in (0, 1), got {ci}")
    if ci_method not in CI_METHODS:
        raise ValueError(f"ci_method must be one of {CI_METHODS}, not {ci_method!r}")
    if n_bootstrap < 0:
        raise ValueError(f"n_bootstrap must be >= 0, got {n_bootstrap}")
    ceiling = dict(ceiling or {})
    for name, c in ceiling.items():
        if not (np.isfinite(c) and c > 0):
            raise ValueError(f"noise ceiling of {name!r} must be a positive r², got {c}")
    idx = bootstrap_indices(t.shape[0], n_bootstrap, seed)
    point: dict[str, dict[str, float]] = {}
    reps: dict[str, dict[str, np.ndarray]] = {}
    for j, name in enumerate(targets):
        rows = _metric_rows(t[:, j], p[:, j])
        point[name] = {m: float(rows[m]) for m in METRICS}
        reps[name] = _replicates(t[:, j], p[:, j], idx)
        if name in ceiling:
            for m, frac in CEILING_METRICS.items():
                point[name][frac] = point[name][m] / ceiling[name]
                reps[name][frac] = reps[name][m] / ceiling[name]
    names = list(targets)
    if overall is not None and len(targets) > 1:
        if overall in targets:
            raise ValueError(f"overall={overall!r} is also a target name; pick another name")
        metrics = list(METRICS)
        if ceiling and all(n in ceiling for n in targets):
            metrics += list(CEILING_METRICS.values())
        point[overall] = {m: float(np.mean([point[n][m] for n in targets])) for m in metrics}
        reps[overall] = {m: np.mean([reps[n][m] for n in targets], axis=0) for m in metrics}
        names.append(overall)
    records = []
    for name in names:
        for m, value in point[name].items():
            lo, hi = _interval(reps[name][m], value, ci, ci_method)
            records.append((name, m, value, lo, hi))
    return pd.DataFrame.from_records(records, columns=list(RESULT_COLUMNS))


def evaluate_predictions(predictions: pd.DataFrame, *, by: Sequence[str] = ("model",),
                         overall_targets: Iterable[str] | None = None, n_bootstrap: int = 1000,
                         seed: int = 0, ci: float = 0.95, ci_method: str = "bc",
                         overall: str = "overall",
                         ceiling: Mapping[str, float] | None = None) -> pd.DataFrame:
    """Score a long table of predictions, one :func:`evaluate` per group of ``by``.

    Targets in ``overall_targets`` (e.g. the simulated tissues) are scored together on the genes
    they share, with an ``overall`` average; every other target (e.g. the real proxy, defined for
    a subset of genes) is scored alone. Genes are sorted by ``gene_id`` first, so with one
    ``seed`` every model sees the same bootstrap resamples (paired comparisons).

    Args:
        predictions: columns ``*by, gene_id, target, y_true, y_pred``; one row per gene, target
            and group.
        by: columns that name a model (or model and variant).
        overall_targets: targets averaged into ``overall``; ``None``: none.
        n_bootstrap, seed, ci, ci_method, overall, ceiling: as in :func:`evaluate`.

    Returns:
        Tidy DataFrame ``*by, target, metric, value, ci_low, ci_high``.

    Raises:
        ValueError: missing columns, duplicate rows, or a gene missing some of ``overall_targets``.
    """
    by = list(by)
    need = [*by, "gene_id", "target", "y_true", "y_pred"]
    missing = [c for c in need if c not in predictions.columns]
    if missing:
        raise ValueError(f"predictions lack columns {missing}; expected {need}")
    dup = predictions.duplicated(subset=[*by, "gene_id", "target"])
    if dup.any():
        row = predictions.loc[dup].iloc[0]
        raise ValueError(f"predictions repeat gene {row['gene_id']!r} for target {row['target']!r} "
                         f"in group {tuple(row[c] for c in by)}; keep one row per gene and target")
    joint = [str(t) for t in (overall_targets or [])]
    out = []
    for key, group in predictions.groupby(by, sort=False):
        key = key if isinstance(key, tuple) else (key,)
        label = dict(zip(by, key))
        present = list(dict.fromkeys(group["target"]))
        together = [t for t in joint if t in present]
        alone = [t for t in present if t not in together]
        parts = []
        if together:
            sub = group[group["target"].isin(together)]
            yt = sub.pivot(index="gene_id", columns="target", values="y_true").sort_index()
            yp = sub.pivot(index="gene_id", columns="target", values="y_pred").sort_index()
            yt, yp = yt[together], yp[together]
            if yt.isna().any().any():
                gene = yt.index[yt.isna().any(axis=1)][0]
                raise ValueError(f"gene {gene!r} of {label} lacks some of the jointly scored targets "
                                 f"{together}; score those targets separately")
            parts.append(evaluate(yt, yp, targets=together, n_bootstrap=n_bootstrap, seed=seed,
                                  ci=ci, ci_method=ci_method, overall=overall, ceiling=ceiling))
        for name in alone:
            sub = group[group["target"] == name].sort_values("gene_id")
            parts.append(evaluate(sub["y_true"].to_numpy(), sub["y_pred"].to_numpy(), targets=[name],
                                  n_bootstrap=n_bootstrap, seed=seed, ci=ci,
                                  ci_method=ci_method, overall=None, ceiling=ceiling))
        res = pd.concat(parts, ignore_index=True)
        for i, c in enumerate(by):
            res.insert(i, c, label[c])
        out.append(res)
    if not out:
        raise ValueError("predictions is empty; nothing to score")
    return pd.concat(out, ignore_index=True)
