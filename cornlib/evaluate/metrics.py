"""Every score the book reports (MSE, MAE, Pearson r and r², Spearman ρ, R²) with bootstrap CIs.

The resamples, intervals and verdicts come from :mod:`cornlib.evaluate.resample`; tables are
long, ``value, ci_low, ci_high`` per target and metric.

Intervals come from resamples of the evaluated genes, or of their homology clusters
(``groups=``: every drawn cluster brings all its genes, so near-copies of one promoter do not
count as independent evidence). With one ``seed`` and one set of genes every model sees the same
resamples, so :func:`paired_differences` gives the interval of model A minus model B, and the
noise ceiling of simulated targets (R² of the noiseless signal) is resampled together with the
scores (``signal=``).
"""

from __future__ import annotations

from typing import Any, Iterable, Mapping, Sequence

import numpy as np
import pandas as pd

from cornlib.evaluate import resample
from cornlib.evaluate._scores import metric_rows
from cornlib.evaluate._scores import resample_ranks as _resample_ranks  # noqa: F401
from cornlib.evaluate._scores import weighted_metrics as _weighted_metrics
from cornlib.evaluate._tables import blocks as _blocks
from cornlib.evaluate._tables import group_labels as _group_labels
from cornlib.evaluate.resample import (
    CI_METHODS,
    VERBS,
    VERDICTS,
    bootstrap_indices,
    bootstrap_weights,
    verdict,
)
from cornlib.stats import METRICS, mean_r2, r2_columns

__all__ = ["METRICS", "CEILING_METRICS", "NOISE_CEILING", "RESULT_COLUMNS", "DIFFERENCE_COLUMNS",
           "CI_METHODS", "score", "r2_columns", "mean_r2", "bootstrap_indices", "bootstrap_weights",
           "evaluate", "evaluate_predictions", "noise_ceiling", "paired_differences", "verdict",
           "VERDICTS", "VERBS", "higher_is_better"]

#: Metrics expressed as a fraction of the noise ceiling (simulated targets only).
CEILING_METRICS: dict[str, str] = {"r2": "r2_of_ceiling", "pearson_r2": "pearson_r2_of_ceiling"}

#: Name of the noise ceiling's own rows (the R² of the noiseless signal for the observed values).
NOISE_CEILING = "noise_ceiling"

#: Columns of the tidy result tables.
RESULT_COLUMNS: tuple[str, ...] = ("target", "metric", "value", "ci_low", "ci_high")

#: Columns of :func:`paired_differences` after the ``by`` columns.
DIFFERENCE_COLUMNS: tuple[str, ...] = ("reference", "target", "metric", "value", "ci_low", "ci_high",
                                       "share_positive", "model_value", "reference_value",
                                       "verdict")

#: Metrics where a lower value is the better one.
LOWER_IS_BETTER: frozenset[str] = frozenset({"mse", "mae"})


def higher_is_better(metric: str) -> bool:
    """Whether a higher ``metric`` is better (every metric but MSE and MAE)."""
    return metric not in LOWER_IS_BETTER


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
        ``{metric: value}`` for every name in ``METRICS``.
    """
    t, p = _as_2d(y_true, "y_true"), _as_2d(y_pred, "y_pred")
    if t.shape[1] != 1:
        raise ValueError(f"score() takes one target (shape (n_genes,)), got {t.shape}; use evaluate()")
    _validate(t, p, ["target"])
    rows = metric_rows(t[:, 0], p[:, 0])
    return {m: float(rows[m]) for m in METRICS}


def _score(t: np.ndarray, p: np.ndarray, targets: list[str], weights: np.ndarray, *,
           ceiling: Mapping[str, float], signal: np.ndarray | None, overall: str | None
           ) -> tuple[dict[str, dict[str, float]], dict[str, dict[str, np.ndarray]]]:
    """Point estimates and replicates ``{target: {metric: ...}}`` of one block of targets."""
    reps_all = _weighted_metrics(t, p, weights, signal=signal)
    point: dict[str, dict[str, float]] = {}
    reps: dict[str, dict[str, np.ndarray]] = {}
    for j, name in enumerate(targets):
        rows = metric_rows(t[:, j], p[:, j])
        point[name] = {m: float(rows[m]) for m in METRICS}
        reps[name] = {m: reps_all[m][:, j] for m in METRICS}
        if signal is not None:
            c = float(r2_columns(t[:, [j]], signal[:, [j]])[0])
            if not (np.isfinite(c) and c > 0):
                raise ValueError(f"the noise ceiling of {name!r} on these genes is {c:.3g}, not a "
                                 "positive R²; check that signal holds the noiseless signal")
            point[name][NOISE_CEILING] = c
            reps[name][NOISE_CEILING] = reps_all[NOISE_CEILING][:, j]
            for m, frac in CEILING_METRICS.items():
                point[name][frac] = point[name][m] / c
                reps[name][frac] = _share(reps[name][m], reps[name][NOISE_CEILING])
        elif name in ceiling:
            for m, frac in CEILING_METRICS.items():
                point[name][frac] = point[name][m] / ceiling[name]
                reps[name][frac] = reps[name][m] / ceiling[name]
    if overall is not None and len(targets) > 1:
        if overall in targets:
            raise ValueError(f"overall={overall!r} is also a target name; pick another name")
        metrics = [m for m in point[targets[0]] if all(m in point[n] for n in targets)]
        point[overall] = {m: float(np.mean([point[n][m] for n in targets])) for m in metrics}
        reps[overall] = {m: np.mean([reps[n][m] for n in targets], axis=0) for m in metrics}
        if NOISE_CEILING in metrics:  # a ratio of means: stabler than a mean of ratios
            for m, frac in CEILING_METRICS.items():
                point[overall][frac] = point[overall][m] / point[overall][NOISE_CEILING]
                reps[overall][frac] = _share(reps[overall][m], reps[overall][NOISE_CEILING])
    return point, reps


def _share(values: np.ndarray, ceiling: np.ndarray) -> np.ndarray:
    """``values / ceiling`` per resample; NaN where a resample's ceiling is not positive."""
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(ceiling > 0, values / ceiling, np.nan)


def _records(point: dict[str, dict[str, float]], reps: dict[str, dict[str, np.ndarray]],
             ci: float, ci_method: str) -> list[tuple]:
    """``(target, metric, value, ci_low, ci_high)`` rows."""
    out = []
    for name, values in point.items():
        for m, value in values.items():
            lo, hi = resample.interval(reps[name][m], value, ci, ci_method)
            out.append((name, m, value, lo, hi))
    return out


def evaluate(y_true: np.ndarray | pd.DataFrame, y_pred: np.ndarray | pd.DataFrame, *,
             targets: Sequence[str] | None = None, n_bootstrap: int = 1000, seed: int = 0,
             ci: float = 0.95, ci_method: str = "bc", overall: str | None = "overall",
             ceiling: Mapping[str, float] | None = None, groups: Sequence[Any] | None = None,
             signal: np.ndarray | pd.DataFrame | None = None) -> pd.DataFrame:
    """Score every target and their average, with bootstrap CIs over genes or clusters.

    Genes (or, with ``groups``, clusters of genes) are resampled with replacement
    ``n_bootstrap`` times (the same resamples for every target, from ``seed``); each metric is
    computed on each resample, and the interval is taken from those replicates (``ci_method``:
    bias-corrected percentile by default, or plain percentile). ``overall`` is the unweighted
    mean of each metric over the targets (computed per resample too, so its CI is paired across
    targets).

    Args:
        y_true: truth, shape (n_genes, n_targets) or (n_genes,); a DataFrame gives target names.
        y_pred: predictions in the same layout as ``y_true``.
        targets: names of the target columns (default: DataFrame columns, else ``target_0``...).
        n_bootstrap: number of resamples; 0 gives NaN intervals.
        seed: seed of the resampling.
        ci: coverage of the interval, in (0, 1).
        ci_method: ``bc`` (bias-corrected percentile) or ``percentile``.
        overall: name of the average-over-targets rows; ``None`` omits them.
        ceiling: ``{target: noise-ceiling r²}`` (fixed numbers); adds ``r2_of_ceiling`` and
            ``pearson_r2_of_ceiling`` rows (value / ceiling) for the targets it names.
        groups: one cluster label per gene: resample clusters, not genes (see
            ``bootstrap_weights``); ``None`` resamples genes.
        signal: the noiseless signal in the layout of ``y_true`` (simulated targets): adds a
            ``noise_ceiling`` row per target, R²(``y_true``, ``signal``) on these genes, and the
            ``*_of_ceiling`` rows, each resample divided by its own ceiling (the interval is NaN
            if some resample's ceiling is not positive, as on a few dozen genes); ``overall``
            divides the mean score by the mean ceiling. Excludes ``ceiling``.

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
    resample.check_options(ci, ci_method, n_bootstrap)
    ceiling = dict(ceiling or {})
    for name, c in ceiling.items():
        if not (np.isfinite(c) and c > 0):
            raise ValueError(f"noise ceiling of {name!r} must be a positive r², got {c}")
    s = None
    if signal is not None:
        if ceiling:
            raise ValueError("pass the noise ceiling either as fixed numbers (ceiling=) or as the "
                             "signal it is computed from (signal=), not both")
        s = _as_2d(signal[targets] if isinstance(signal, pd.DataFrame) else signal, "signal")
        _validate(t, s, targets)
    weights = bootstrap_weights(t.shape[0], n_bootstrap, seed, groups)
    point, reps = _score(t, p, targets, weights, ceiling=ceiling, signal=s, overall=overall)
    return pd.DataFrame.from_records(_records(point, reps, ci, ci_method),
                                     columns=list(RESULT_COLUMNS))


def noise_ceiling(y_true: np.ndarray | pd.DataFrame, signal: np.ndarray | pd.DataFrame, *,
                  targets: Sequence[str] | None = None, groups: Sequence[Any] | None = None,
                  n_bootstrap: int = 1000, seed: int = 0, ci: float = 0.95,
                  ci_method: str = "bc", overall: str | None = "overall") -> pd.DataFrame:
    """The noise ceiling of each target on these genes, R²(``y_true``, ``signal``), with its CI.

    The best any model of the promoter can do is to predict the noiseless signal, so its R² on
    the evaluated genes caps every model's R² there. With the genes, ``groups`` and ``seed`` of
    :func:`evaluate` the resamples are the same as the models' (the ``noise_ceiling`` rows of
    ``evaluate(..., signal=...)`` equal these).

    Returns:
        Tidy DataFrame ``target, metric`` (``noise_ceiling``)``, value, ci_low, ci_high``.
    """
    res = evaluate(y_true, signal, targets=targets, n_bootstrap=n_bootstrap, seed=seed, ci=ci,
                   ci_method=ci_method, overall=overall, groups=groups)
    return res[res["metric"] == "r2"].assign(metric=NOISE_CEILING).reset_index(drop=True)


def _score_predictions(predictions: pd.DataFrame, by: Sequence[str], overall_targets, *,
                       n_bootstrap: int, seed: int, overall: str | None,
                       ceiling: Mapping[str, float] | None, groups, signal: pd.DataFrame | None,
                       runs: str | None = "seed") -> list[tuple[tuple, tuple, dict, dict]]:
    """``(label, genes, point, reps)`` per model and block; one weight matrix per gene set."""
    by = list(by)
    joint = [str(t) for t in (overall_targets or [])]
    ceiling = dict(ceiling or {})
    if signal is not None:
        if ceiling:
            raise ValueError("pass the noise ceiling either as ceiling= or as signal=, not both")
        signal = signal if "gene_id" not in signal.columns else signal.set_index("gene_id")
    run_col = runs if runs is not None and runs in predictions.columns else None
    if run_col is not None:
        predictions = predictions.assign(**{run_col: predictions[run_col].fillna(0)})
    cache: dict[tuple, np.ndarray] = {}
    out = []
    for key, targets, genes, t, p in _blocks(predictions, by + ([run_col] if run_col else []),
                                             joint):
        _validate(t, p, targets)
        s = None
        if signal is not None and all(n in signal.columns for n in targets):
            s = signal.reindex(genes)[targets].to_numpy(float)
            if np.isnan(s).any():
                gene = genes[np.flatnonzero(np.isnan(s).any(axis=1))[0]]
                raise ValueError(f"signal has no value for gene {gene!r} of targets {targets}")
        gene_key = tuple(genes)
        if gene_key not in cache:
            cache[gene_key] = bootstrap_weights(len(genes), n_bootstrap, seed,
                                                _group_labels(groups, predictions, genes))
        point, reps = _score(t, p, targets, cache[gene_key], ceiling=ceiling, signal=s,
                             overall=overall if len(targets) > 1 else None)
        out.append((key, gene_key, point, reps))
    return out if run_col is None else _pool_runs(out, n_bootstrap, seed)


def _pool_runs(scored: list[tuple], n_bootstrap: int, seed: int) -> list[tuple]:
    """Entries keyed ``(*model, run)`` → one entry per model and block, pooled over its runs
    (:func:`cornlib.evaluate.resample.pool_runs`)."""
    groups: dict[tuple, list[tuple]] = {}
    for key, genes, point, reps in scored:
        groups.setdefault((key[:-1], tuple(point)), []).append((key, genes, point, reps))
    out = []
    for (model, names), entries in groups.items():
        genes = entries[0][1]
        for key, other, _, _ in entries[1:]:
            if other != genes:
                raise ValueError(f"runs of {model} were scored on different genes (run "
                                 f"{key[-1]!r}); every seed must predict the same genes")
        draws = resample.seed_draws(len(entries), n_bootstrap, seed, repr(model))
        point: dict[str, dict[str, float]] = {}
        reps: dict[str, dict[str, np.ndarray]] = {}
        for name in names:
            point[name], reps[name] = {}, {}
            for m in entries[0][2][name]:
                point[name][m], reps[name][m] = resample.pool_runs(
                    [e[2][name][m] for e in entries], np.stack([e[3][name][m] for e in entries]),
                    draws)
        out.append((model, genes, point, reps))
    return out


def evaluate_predictions(predictions: pd.DataFrame, *, by: Sequence[str] = ("model",),
                         overall_targets: Iterable[str] | None = None, n_bootstrap: int = 1000,
                         seed: int = 0, ci: float = 0.95, ci_method: str = "bc",
                         overall: str = "overall", ceiling: Mapping[str, float] | None = None,
                         groups: str | Mapping[str, Any] | pd.Series | None = None,
                         signal: pd.DataFrame | None = None, runs: str | None = "seed"
                         ) -> pd.DataFrame:
    """Score a long table of predictions, one :func:`evaluate` per group of ``by``.

    Targets in ``overall_targets`` (e.g. the simulated tissues) are scored together on the genes
    they share, with an ``overall`` average; every other target (e.g. the real proxy, defined for
    a subset of genes) is scored alone. Genes are sorted by ``gene_id`` first, so with one
    ``seed`` (and ``groups``) every model scored on the same genes sees the same resamples, as
    :func:`paired_differences` needs.

    Args:
        predictions: columns ``*by, gene_id, target, y_true, y_pred``; one row per gene, target
            and group.
        by: columns that name a model (or model and variant).
        overall_targets: targets averaged into ``overall``; ``None``: none.
        groups: resample clusters instead of genes: a column of ``predictions`` or a mapping
            (e.g. a Series) ``gene_id`` → cluster; ``None`` resamples genes.
        signal: the noiseless signal, ``gene_id`` (column or index) + one column per target it
            covers (e.g. ``targets/signal.parquet``); adds ``noise_ceiling`` and ``*_of_ceiling``
            rows for those targets, resampled with the scores.
        runs: the column naming a model's training run (its seed), when present: each run is
            scored on the same resamples and the model's score is the mean over its runs, its
            interval drawn over clusters and runs together
            (:func:`cornlib.evaluate.resample.pool_runs`); a missing run label counts as run 0.
            ``None``, or no such column: one run per model.
        n_bootstrap, seed, ci, ci_method, overall, ceiling: as in :func:`evaluate`.

    Returns:
        Tidy DataFrame ``*by, target, metric, value, ci_low, ci_high``.

    Raises:
        ValueError: missing columns, duplicate rows, or a gene missing some of ``overall_targets``,
            a group or a signal value.
    """
    resample.check_options(ci, ci_method, n_bootstrap)
    by = list(by)
    scored = _score_predictions(predictions, by, overall_targets, n_bootstrap=n_bootstrap, seed=seed,
                                overall=overall, ceiling=ceiling, groups=groups, signal=signal,
                                runs=runs)
    out = []
    for key, _, point, reps in scored:
        res = pd.DataFrame.from_records(_records(point, reps, ci, ci_method),
                                        columns=list(RESULT_COLUMNS))
        for i, c in enumerate(by):
            res.insert(i, c, key[i])
        out.append(res)
    return pd.concat(out, ignore_index=True)


def paired_differences(predictions: pd.DataFrame, metric: str | Sequence[str] = "pearson_r2", *,
                       reference: str | Sequence[str] | None = None, by: Sequence[str] = ("model",),
                       overall_targets: Iterable[str] | None = None, n_bootstrap: int = 1000,
                       seed: int = 0, ci: float = 0.95, ci_method: str = "bc",
                       overall: str = "overall",
                       groups: str | Mapping[str, Any] | pd.Series | None = None,
                       signal: pd.DataFrame | None = None,
                       ceiling: Mapping[str, float] | None = None,
                       runs: str | None = "seed") -> pd.DataFrame:
    """Model minus reference on the same resamples, with the interval of the difference.

    Every model is scored as in :func:`evaluate_predictions` (same arguments, same resamples);
    for each reference, each other model and each target both were scored on (on the same
    genes), the difference ``model - reference`` is taken per resample. "A is better than B"
    needs the interval of A − B on the good side of 0, not two separate intervals.

    Args:
        predictions: as in :func:`evaluate_predictions`.
        metric: one metric or several (any row name of :func:`evaluate_predictions`).
        reference: the model(s) subtracted (a ``by`` value, or a tuple of them when ``by`` has
            several columns); ``None``: every model, i.e. all pairs.
        n_bootstrap, seed, ci, ci_method, overall, groups, signal, ceiling, by: as in
            :func:`evaluate_predictions`.
        overall_targets, runs: as in :func:`evaluate_predictions` (with seeded runs the
            difference is of the means over runs, its interval over clusters and each model's
            runs).

    Returns:
        DataFrame ``*by`` (the model), then :data:`DIFFERENCE_COLUMNS`: ``reference``,
        ``target``, ``metric``, ``value`` (model − reference), ``ci_low``, ``ci_high``,
        ``share_positive`` (share of resamples where the difference is > 0; for MSE and MAE a
        positive difference means the model is worse), ``model_value``, ``reference_value`` and
        ``verdict`` (:func:`cornlib.evaluate.resample.verdict`: ``better``, ``worse``,
        ``indistinguishable`` or ``undefined``, lower MSE and MAE counting as better). Undefined
        scores (a constant prediction's correlation) give NaN.

    Raises:
        ValueError: an unknown reference or metric, or a model and a reference scored on
            different genes for one target.
    """
    resample.check_options(ci, ci_method, n_bootstrap)
    by = list(by)
    metrics = [metric] if isinstance(metric, str) else list(metric)
    scored = _score_predictions(predictions, by, overall_targets, n_bootstrap=n_bootstrap, seed=seed,
                                overall=overall, ceiling=ceiling, groups=groups, signal=signal,
                                runs=runs)
    table: dict[tuple, dict[str, tuple]] = {}
    for key, genes, point, reps in scored:
        for name in point:
            table.setdefault(key, {})[name] = (genes, point[name], reps[name])
    labels = list(table)
    if reference is None:
        refs = labels
    else:
        single = isinstance(reference, (str, tuple))
        refs = [r if isinstance(r, tuple) else (r,) for r in ([reference] if single else reference)]
        unknown = [r for r in refs if r not in table]
        if unknown:
            raise ValueError(f"reference {unknown[0]} is not among the models "
                             f"{[k[0] if len(k) == 1 else k for k in labels]}")
    known = {m for entry in table.values() for _, pt, _ in entry.values() for m in pt}
    bad = [m for m in metrics if m not in known]
    if bad:
        raise ValueError(f"unknown metric(s) {bad}; scored: {sorted(known)}")
    records = []
    for ref in refs:
        for key in labels:
            if key == ref:
                continue
            for name, (genes, pt, rp) in table[key].items():
                if name not in table[ref]:
                    continue
                ref_genes, ref_pt, ref_rp = table[ref][name]
                if genes != ref_genes:
                    raise ValueError(f"{key} and {ref} were scored on different genes for "
                                     f"{name!r}; paired differences need the same genes")
                for m in metrics:
                    if m not in pt or m not in ref_pt:
                        continue
                    d = resample.paired(pt[m], ref_pt[m], rp[m], ref_rp[m], ci=ci,
                                        ci_method=ci_method, higher_is_better=higher_is_better(m))
                    records.append((*key, ref[0] if len(ref) == 1 else "/".join(map(str, ref)),
                                    name, m, d["value"], d["ci_low"], d["ci_high"],
                                    d["share_positive"], pt[m], ref_pt[m], d["verdict"]))
    return pd.DataFrame.from_records(records, columns=[*by, *DIFFERENCE_COLUMNS])

