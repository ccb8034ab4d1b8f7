"""Site recovery per sequence, and paired comparisons of methods and models over genes.

:func:`per_sequence` scores every model × method × gene × tissue against the true sites as
Koo & Ploenzke (2021) score attributions in their synthetic benchmarks: per sequence, the AUROC
and the AUPRC of the positions ranked by ``|importance|``, beside the chance level (the share of
true-site positions) and the normalised AUPRC ``(AUPRC − chance) / (1 − chance)`` (0 = chance,
1 = perfect), which can be compared across genes whose sites cover different shares.

:func:`summary` averages them with intervals from resampling genes, and :func:`paired` compares
two (model, method) pairs on the genes both scored, over the same resamples
(:func:`cornlib.evaluate.resample.bootstrap_indices`, percentile intervals and verdicts by
:func:`cornlib.evaluate.resample.paired`): the variation of the genes, which both sides share,
cancels. :func:`best_methods` picks each model's method on one set of genes (``valid``) so that
another (``test``) reports it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from cornlib.evaluate import resample
from cornlib.interpret import recovery
from cornlib.interpret.tables import MISSING

#: Per-sequence metrics of :func:`per_sequence`, in the order tables show them.
METRICS: tuple[str, ...] = ("auroc", "auprc", "auprc_norm")
#: Fewest genes a paired difference needs for an interval (one gene resamples to itself).
MIN_GENES = 3
#: Columns of :func:`summary`.
SUMMARY_COLUMNS = ["model", "method", "genes", "pairs", "metric", "value", "ci_low", "ci_high"]
#: Columns of :func:`paired`.
PAIRED_COLUMNS = ["model", "method", "reference_model", "reference_method", "target", "genes",
                  "metric", "value", "ci_low", "ci_high", "share_positive", "verdict"]


#: The verdict words (those of :data:`cornlib.evaluate.resample.VERDICTS`).
VERDICTS = resample.VERDICTS


#: The range of per-sequence AUROC in Koo & Ploenzke's (2021) synthetic benchmarks.
KOO_PLOENZKE_AUROC = (0.62, 0.91)


def draw_genes(genes: pd.DataFrame, truth: pd.DataFrame | None, n: int, n_perturb: int,
               seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    """``n`` genes for the gradient methods and the indices of ``n_perturb`` of them for ISM
    and the k-mer flips (their subset, so that every method is compared on those).

    Args:
        genes: a table with ``gene_id`` (e.g. the test or the valid genes).
        truth: the true sites: genes are drawn among those with a driver site
            (:func:`cornlib.interpret.recovery.sample_genes`); ``None`` (measured targets):
            among all.
        seed: seeds both draws.

    Returns:
        The genes (in their original order) and the sorted indices of the perturbed ones.
    """
    if n < 1 or n_perturb < 1:
        raise ValueError(f"n and n_perturb must be positive, got {n} and {n_perturb}")
    if truth is None:
        drawn = genes.sample(min(n, len(genes)), random_state=seed).sort_index()
    else:
        drawn = recovery.sample_genes(genes, truth, n, seed)
    rng = np.random.default_rng(seed)
    sub = rng.choice(len(drawn), size=min(n_perturb, len(drawn)), replace=False)
    return drawn, np.sort(sub)


def relation(values: Sequence[float], reference: tuple[float, float]) -> str:
    """Where the range of ``values`` lies against the ``reference`` range, in words:
    ``below``, ``above``, ``within`` or ``overlapping``."""
    lo, hi = float(np.nanmin(values)), float(np.nanmax(values))
    if hi < reference[0]:
        return "below"
    if lo > reference[1]:
        return "above"
    if lo >= reference[0] and hi <= reference[1]:
        return "within"
    return "overlapping"


def per_sequence(scores: Mapping[str, Mapping[str, np.ndarray]], masks: np.ndarray,
                 targets: Sequence[str], gene_ids: Sequence[str]) -> pd.DataFrame:
    """One row per model, method, gene and tissue scored
    (:func:`cornlib.interpret.recovery.per_gene`: a gene × tissue with positive and negative
    positions, NaN positions left out): ``auroc``, ``auprc``, ``chance`` and ``auprc_norm``.

    Args:
        scores: ``scores[model][method]``, ``(N, L, T)`` importances (NaN rows: not scored).
        masks: ``(N, L, T)`` true-site masks (:func:`cornlib.interpret.recovery.site_masks`).
    """
    parts = []
    for model, by_method in scores.items():
        for method, values in by_method.items():
            t = recovery.per_gene(values, masks, targets, gene_ids)
            parts.append(t.assign(model=model, method=method))
    cols = ["model", "method", "gene_id", "target", "auroc", "auprc", "chance", "auprc_norm"]
    if not parts:
        return pd.DataFrame(columns=cols)
    out = pd.concat(parts, ignore_index=True)
    out["auprc_norm"] = (out["auprc"] - out["chance"]) / (1 - out["chance"])
    return out[cols]


def _gene_sums(table: pd.DataFrame, metric: str, genes: Sequence[str]
               ) -> tuple[np.ndarray, np.ndarray]:
    """Sum and count of ``metric`` over each gene's tissues, in the order of ``genes``."""
    g = table.groupby("gene_id")[metric].agg(["sum", "count"]).reindex(genes, fill_value=0)
    return g["sum"].to_numpy(float), g["count"].to_numpy(float)


def _mean_reps(s: np.ndarray, c: np.ndarray, draws: np.ndarray) -> tuple[float, np.ndarray]:
    """The mean over gene × tissue pairs and its value on each resample of genes."""
    with np.errstate(invalid="ignore", divide="ignore"):
        reps = s[draws].sum(1) / c[draws].sum(1)
    return float(s.sum() / c.sum()), reps


def summary(table: pd.DataFrame, *, metrics: Sequence[str] = METRICS,
            n_bootstrap: int = 1000, ci: float = 0.95, seed: int = 0) -> pd.DataFrame:
    """Mean of each metric over the gene × tissue pairs of every model × method, with a
    percentile interval from resampling the genes it scored (a gene's tissues move together).

    Returns:
        Long table :data:`SUMMARY_COLUMNS`, models and methods in order of appearance.
    """
    rows = []
    for (model, method), sub in table.groupby(["model", "method"], sort=False):
        genes = list(pd.unique(sub["gene_id"]))
        draws = resample.bootstrap_indices(len(genes), n_bootstrap, seed)
        for m in metrics:
            point, reps = _mean_reps(*_gene_sums(sub, m, genes), draws)
            lo, hi = resample.interval(reps, point, ci, "percentile")
            rows.append((model, method, len(genes), len(sub), m, point, lo, hi))
    return pd.DataFrame(rows, columns=SUMMARY_COLUMNS)


def paired(table: pd.DataFrame, pairs: Sequence[tuple[tuple[str, str], tuple[str, str]]], *,
           metrics: Sequence[str] = ("auprc", "auroc"), n_bootstrap: int = 1000,
           ci: float = 0.95, seed: int = 0, target: str = "overall") -> pd.DataFrame:
    """``(model, method)`` minus ``(reference model, reference method)`` for each pair, on
    the genes and tissues both scored, with the percentile interval of the difference over the
    same resamples of those genes for both sides.

    Args:
        table: from :func:`per_sequence` (filter it to one tissue for a per-tissue comparison,
            and name that tissue in ``target``).
        pairs: ``((model, method), (reference_model, reference_method))``.

    Returns:
        Long table :data:`PAIRED_COLUMNS`: ``share_positive`` is the share of resamples with a
        difference above 0; ``verdict`` is ``better``, ``worse`` or ``indistinguishable``
        (the interval against 0), or ``undefined`` (no interval: fewer than
        :data:`MIN_GENES` genes).

    Raises:
        ValueError: a side of a pair is not in ``table``, or the two share no gene × tissue.
    """
    keyed = {k: sub for k, sub in table.groupby(["model", "method"], sort=False)}
    rows = []
    for side, ref in pairs:
        for k in (side, ref):
            if tuple(k) not in keyed:
                raise ValueError(f"{k[0]} / {k[1]} is not in the table")
        a, b = keyed[tuple(side)], keyed[tuple(ref)]
        common = a[["gene_id", "target"]].merge(b[["gene_id", "target"]])
        if common.empty:
            raise ValueError(f"{side} and {ref} share no scored gene and tissue")
        a, b = a.merge(common), b.merge(common)
        genes = list(pd.unique(common["gene_id"]))
        draws = resample.bootstrap_indices(len(genes), n_bootstrap, seed)
        for m in metrics:
            pa, ra = _mean_reps(*_gene_sums(a, m, genes), draws)
            pb, rb = _mean_reps(*_gene_sums(b, m, genes), draws)
            if len(genes) < MIN_GENES:  # no interval: every resample is the sample
                ra = rb = np.full(1, np.nan)
            d = resample.paired(pa, pb, ra, rb, ci=ci, ci_method="percentile")
            rows.append((*side, *ref, target, len(genes), m, d["value"], d["ci_low"],
                         d["ci_high"], d["share_positive"], d["verdict"]))
    return pd.DataFrame(rows, columns=PAIRED_COLUMNS)


def best_methods(table: pd.DataFrame, metric: str = "auprc") -> dict[str, str]:
    """Each model's method with the highest mean ``metric`` over the gene × tissue pairs that
    every method of that model scored (so that a method scored on fewer genes competes on the
    same ones). Give it the genes of ``valid``; report the choice on ``test``."""
    out = {}
    for model, sub in table.groupby("model", sort=False):
        n = sub["method"].nunique()
        both = sub.groupby(["gene_id", "target"])["method"].transform("nunique") == n
        means = sub[both].groupby("method", sort=False)[metric].mean()
        if means.empty:
            raise ValueError(f"no gene and tissue of {model} was scored by every method")
        out[model] = str(means.idxmax())
    return out


def method_differences(table: pd.DataFrame, chosen: Mapping[str, str], **kw) -> pd.DataFrame:
    """:func:`paired` of each model's ``chosen`` method minus each of its other methods
    (``kw``: the options of :func:`paired`)."""
    methods = table.groupby("model", sort=False)["method"].unique()
    pairs = [((model, best), (model, other)) for model, best in chosen.items()
             for other in methods[model] if other != best]
    return paired(table, pairs, **kw)


def model_differences(table: pd.DataFrame, model: str, reference: str,
                      methods: Sequence[str] | None = None, *, by_target: bool = False,
                      **kw) -> pd.DataFrame:
    """:func:`paired` of ``model`` minus ``reference`` for each method both ran (or
    ``methods``), over every tissue (``overall``) and, with ``by_target``, per tissue too."""
    if table.empty:
        return paired(table, [], **kw)
    if methods is None:
        have = table.groupby("model")["method"].unique()
        methods = [m for m in have[model] if m in set(have[reference])]
    pairs = [((model, m), (reference, m)) for m in methods]
    out = [paired(table, pairs, **kw)]
    if by_target:
        out += [paired(sub, pairs, target=t, **kw)
                for t, sub in table.groupby("target", sort=False)]
    return pd.concat(out, ignore_index=True)


def choice_table(chosen: Mapping[str, str], valid: pd.DataFrame, test: pd.DataFrame,
                 metric: str = "auprc") -> pd.DataFrame:
    """Each model's ``chosen`` method, its mean ``metric`` on ``valid`` (a
    :func:`per_sequence` table) and its estimate on test (a :func:`summary` table: ``value``,
    ``ci_low``, ``ci_high``), one row per model."""
    rows = []
    for model, method in chosen.items():
        v = valid[(valid["model"] == model) & (valid["method"] == method)][metric].mean()
        t = test[(test["model"] == model) & (test["method"] == method)
                 & (test["metric"] == metric)]
        if t.empty:
            raise ValueError(f"the test summary has no {metric} of {model} / {method}")
        rows.append({"model": model, "method": method, "valid": float(v),
                     **t.iloc[0][["value", "ci_low", "ci_high"]].to_dict()})
    return pd.DataFrame(rows, columns=["model", "method", "valid", "value", "ci_low",
                                       "ci_high"])


def verdict_counts(differences: pd.DataFrame, by: str = "model",
                   metric: str = "auprc") -> pd.DataFrame:
    """How many of the :func:`paired` rows of ``metric`` are ``better``, ``worse``,
    ``indistinguishable`` or ``undefined`` (columns, 0 where none) per ``by`` (rows)."""
    rows = differences[differences["metric"] == metric]
    words = list(VERDICTS)
    if rows.empty:
        return pd.DataFrame(columns=words, dtype=int).rename_axis(index=by)
    counts = pd.crosstab(rows[by], rows["verdict"]).reindex(columns=words, fill_value=0)
    return counts.rename_axis(index=by, columns=None)


def auroc_range(summary_table: pd.DataFrame,
                reference: tuple[float, float] = KOO_PLOENZKE_AUROC) -> dict[str, object]:
    """The glue of the AUROC range against Koo & Ploenzke's: ``auroc_min``, ``auroc_max``
    (NaN without rows), ``kp_low``, ``kp_high`` and ``kp_relation`` (:func:`relation`;
    :data:`cornlib.interpret.tables.MISSING` without rows)."""
    auroc = summary_table.loc[summary_table["metric"] == "auroc", "value"]
    return {"auroc_min": float(auroc.min()), "auroc_max": float(auroc.max()),
            "kp_low": reference[0], "kp_high": reference[1],
            "kp_relation": relation(auroc, reference) if len(auroc) else MISSING}


def choice_words(chosen: Mapping[str, str], differences: pd.DataFrame,
                 models: Sequence[str]) -> dict[str, object]:
    """The glue of each model's choice: ``best_<model>`` (the method, spaced) and
    ``best_<model>_<verdict>`` and ``best_<model>_others`` (how many of its other methods the
    chosen one beats, etc., from :func:`method_differences`' AUPRC rows);
    :data:`cornlib.interpret.tables.MISSING` for a model with no choice (measured targets)."""
    beats = verdict_counts(differences)
    out: dict[str, object] = {}
    for m in models:
        have = m in chosen and m in beats.index
        out[f"best_{m}"] = chosen[m].replace("_", " ") if m in chosen else MISSING
        for word in VERDICTS:
            out[f"best_{m}_{word}"] = int(beats.loc[m, word]) if have else MISSING
        out[f"best_{m}_others"] = int(beats.loc[m].sum()) if have else MISSING
    return out


def verdict_words(differences: pd.DataFrame, prefix: str) -> dict[str, object]:
    """The glue of all AUPRC verdicts of ``differences`` together: ``<prefix>_<verdict>``
    (counts) and ``<prefix>_methods`` (their total); :data:`cornlib.interpret.tables.MISSING` without rows."""
    if differences[differences["metric"] == "auprc"].empty:
        return {f"{prefix}_{w}": MISSING for w in (*VERDICTS, "methods")}
    words = verdict_counts(differences).sum()
    return {**{f"{prefix}_{w}": int(n) for w, n in words.items()},
            f"{prefix}_methods": int(words.sum())}


def paired_values(differences: pd.DataFrame, prefix: str,
                  models: Sequence[str]) -> dict[str, object]:
    """The glue of one :func:`paired` row per model: ``<prefix>_<model>_value``, ``_ci_low``,
    ``_ci_high`` (NaN where the model has no row) and ``_verdict``
    (:data:`cornlib.interpret.tables.MISSING`)."""
    rows = {r.model: r for r in differences.itertuples()}
    out: dict[str, object] = {}
    for m in models:
        r = rows.get(m)
        for key in ("value", "ci_low", "ci_high"):
            out[f"{prefix}_{m}_{key}"] = float(getattr(r, key)) if r is not None else float("nan")
        out[f"{prefix}_{m}_verdict"] = r.verdict if r is not None else MISSING
    return out
