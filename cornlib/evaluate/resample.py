"""The one bootstrap engine of the book: resamples, intervals, paired differences and verdicts.

Every interval the book reports comes from here: the regression metrics
(:mod:`cornlib.evaluate.metrics`), masked-token scores (:mod:`cornlib.evaluate.mlm`), true-site
recovery and variant separation (:mod:`cornlib.interpret.recovery`). The caller computes its
statistic on each resample; this module draws the resamples and turns replicates into tables.

Resamples: units (genes, held-out examples) are drawn with replacement as many times as there
are units; with ``groups`` (one cluster label per unit) whole clusters are drawn instead, each
bringing all its units, so near-copies do not count as independent evidence. A resample is
either a vector of multiplicities (:func:`bootstrap_weights`) or the drawn indices
(:func:`bootstrap_indices`, :func:`stratified_indices`); with one ``seed`` both give the same
resamples.

Training runs: a model trained with several seeds is scored run by run on the same resamples,
and :func:`pool_runs` draws its runs with replacement inside each resample, so the interval of a
seeded model (and of a paired difference) holds training variance as well as the sampling of
genes.

Tables (one convention): long form, one row per ``metric`` with ``value`` (the estimate on the
sample itself), ``ci_low`` and ``ci_high``; a comparison also has a ``verdict``, one of
:data:`VERDICTS`, from where its interval lies against the null (0 for a difference).
"""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np
import pandas as pd

#: The interval methods, bias-corrected percentile (Efron 1981) and plain percentile.
CI_METHODS: tuple[str, ...] = ("bc", "percentile")

#: The columns of an interval, the estimate and its bounds.
INTERVAL_COLUMNS: tuple[str, ...] = ("value", "ci_low", "ci_high")

#: The verdict words, in order for an interval that lies on the better side of the null, on
#: the worse side, holds it, or is undefined (NaN).
VERDICTS: tuple[str, ...] = ("better", "worse", "indistinguishable", "undefined")

#: The verb of each verdict, for a sentence "A <verb> B".
VERBS: dict[str, str] = {"better": "beats", "worse": "does worse than",
                         "indistinguishable": "is indistinguishable from",
                         "undefined": "cannot be compared with"}


def check_options(ci: float, ci_method: str, n_bootstrap: int) -> None:
    """``ValueError`` for a coverage outside (0, 1), an unknown method or a negative count."""
    if not 0 < ci < 1:
        raise ValueError(f"ci must lie in (0, 1), got {ci}")
    if ci_method not in CI_METHODS:
        raise ValueError(f"ci_method must be one of {CI_METHODS}, not {ci_method!r}")
    if n_bootstrap < 0:
        raise ValueError(f"n_bootstrap must be >= 0, got {n_bootstrap}")


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


def stratified_indices(sizes: Sequence[int], n_bootstrap: int, seed: int
                       ) -> list[list[np.ndarray]]:
    """Resamples of several independent samples (strata), each drawn within itself.

    Returns ``n_bootstrap`` lists with one index array per stratum (its size drawn with
    replacement from its own ``0..size-1``), from one generator, stratum after stratum within a
    resample. Used where the two sides of a comparison are different units (variants at sites
    and random variants), so there is nothing to pair.
    """
    if n_bootstrap < 0:
        raise ValueError(f"n_bootstrap must be >= 0, got {n_bootstrap}")
    rng = np.random.default_rng(seed)
    return [[rng.integers(0, n, size=n) for n in sizes] for _ in range(n_bootstrap)]


def seed_draws(n_runs: int, n_bootstrap: int, seed: int, label: str = "") -> np.ndarray:
    """Training runs drawn with replacement for each resample, shape (n_bootstrap, n_runs).

    The draws of one model come from ``seed`` and its ``label`` (so two models draw
    independently: their runs are unrelated). One run gives all zeros.
    """
    import zlib

    rng = np.random.default_rng([seed, zlib.crc32(label.encode())])
    return rng.integers(0, n_runs, size=(n_bootstrap, n_runs))


def pool_runs(points: Sequence[float], reps: np.ndarray, draws: np.ndarray
              ) -> tuple[float, np.ndarray]:
    """One model's score over its training runs (seeds), with training variance in its reps.

    ``points`` holds the estimate of each run, ``reps`` (n_runs, n_bootstrap) each run's
    replicates on the same resamples of genes or clusters. The estimate is the mean over runs;
    replicate ``b`` is the mean over the runs ``draws[b]`` (drawn with replacement, see
    :func:`seed_draws`) of their replicate ``b``: a hierarchical bootstrap over clusters and
    runs together, so an interval includes how much another seed would move the score.
    """
    reps = np.asarray(reps, dtype=float)
    point = float(np.mean(points))
    if reps.shape[1] == 0:
        return point, reps[0]
    return point, reps[draws, np.arange(reps.shape[1])[:, None]].mean(axis=1)


def interval(reps: np.ndarray, point: float, ci: float = 0.95, method: str = "bc"
             ) -> tuple[float, float]:
    """Bootstrap interval from replicates; NaN when the estimate or any replicate is undefined.

    ``percentile``: the central ``ci`` quantile range of the replicates. ``bc`` (bias-corrected
    percentile, Efron 1981): the quantiles are shifted by the share of replicates below the
    point estimate, which matters for biased statistics such as r² on a few hundred genes.
    """
    reps = np.asarray(reps, dtype=float)
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


def verdict(ci_low: float, ci_high: float, *, null: float = 0.0,
            higher_is_better: bool = True) -> str:
    """The verdict (one of :data:`VERDICTS`) of an interval against ``null``.

    ``better`` when the whole interval lies on the good side of ``null`` (above it when
    ``higher_is_better``), ``worse`` when it lies on the bad side, ``indistinguishable`` when it
    holds ``null``, ``undefined`` when it is NaN. :data:`VERBS` gives the words for a sentence.
    """
    if not (np.isfinite(ci_low) and np.isfinite(ci_high)):
        return "undefined"
    lo, hi = ci_low - null, ci_high - null
    lo, hi = (lo, hi) if higher_is_better else (-hi, -lo)
    if lo > 0:
        return "better"
    if hi < 0:
        return "worse"
    return "indistinguishable"


def summarise(point: Mapping[str, float], reps: Mapping[str, np.ndarray], *, ci: float = 0.95,
              ci_method: str = "bc", null: Mapping[str, float] | None = None,
              higher_is_better: Mapping[str, bool] | None = None) -> pd.DataFrame:
    """One row per metric: ``metric``, ``value``, ``ci_low``, ``ci_high``.

    Args:
        point: metric → estimate on the sample itself.
        reps: metric → its replicates, one per resample.
        ci, ci_method: coverage and method of :func:`interval`.
        null: metric → the value of "no effect" (e.g. 0.5 for an AUROC); given, a ``verdict``
            column is added, missing for the metrics it does not name.
        higher_is_better: metric → direction for the verdict (default: higher is better).
    """
    rows = []
    for m, value in point.items():
        lo, hi = interval(reps[m], value, ci, ci_method)
        row = {"metric": m, "value": float(value), "ci_low": lo, "ci_high": hi}
        if null is not None:
            row["verdict"] = (verdict(lo, hi, null=null[m],
                                      higher_is_better=(higher_is_better or {}).get(m, True))
                              if m in null else None)
        rows.append(row)
    columns = ["metric", *INTERVAL_COLUMNS] + (["verdict"] if null is not None else [])
    return pd.DataFrame(rows, columns=columns)


def paired(value: float, reference: float, reps: np.ndarray, reference_reps: np.ndarray, *,
           ci: float = 0.95, ci_method: str = "bc", higher_is_better: bool = True) -> dict:
    """A model minus a reference scored on the same resamples.

    Returns:
        ``value`` (the difference of the estimates), ``ci_low``, ``ci_high`` (the interval of the
        per-resample differences: paired, so the variation both share cancels),
        ``share_positive`` (share of resamples where the difference is > 0; NaN if some is
        undefined) and ``verdict``.
    """
    diff = np.asarray(reps, float) - np.asarray(reference_reps, float)
    d = value - reference
    lo, hi = interval(diff, d, ci, ci_method)
    share = float(np.mean(diff > 0)) if diff.size and not np.isnan(diff).any() else float("nan")
    return {"value": d, "ci_low": lo, "ci_high": hi, "share_positive": share,
            "verdict": verdict(lo, hi, higher_is_better=higher_is_better)}


def formatted(table: pd.DataFrame, digits: int = 3, *, sign: bool = False) -> pd.Series:
    """``value [ci_low, ci_high]`` per row as text; the value alone where its interval is
    undefined (e.g. too few genes), ``—`` where the value is."""
    f = f"{{:{'+' if sign else ''}.{digits}f}}"
    if table.empty:
        return pd.Series(index=table.index, dtype=object)

    def text(r) -> str:
        if not np.isfinite(r["value"]):
            return "—"
        if not (np.isfinite(r["ci_low"]) and np.isfinite(r["ci_high"])):
            return f.format(r["value"])
        return f"{f.format(r['value'])} [{f.format(r['ci_low'])}, {f.format(r['ci_high'])}]"

    return table.apply(text, axis=1)


def wide(table: pd.DataFrame, index: str | Sequence[str], digits: int = 3, *,
         columns: str = "metric") -> pd.DataFrame:
    """A long interval table for reading: one row per ``index``, one column per value of
    ``columns`` (a metric, by default), each cell ``value [ci_low, ci_high]``
    (:func:`formatted`; ``—`` where undefined or not scored), rows and columns in their order
    of appearance."""
    index = [index] if isinstance(index, str) else list(index)
    text = table.assign(text=formatted(table, digits))
    out = text.pivot(index=index, columns=columns, values="text")
    order = list(dict.fromkeys(table[columns]))
    rows = list(dict.fromkeys(map(tuple, table[index].to_numpy())))
    out = out.loc[[r[0] if len(index) == 1 else r for r in rows], order]
    out.columns.name = None
    return out.fillna("—")
