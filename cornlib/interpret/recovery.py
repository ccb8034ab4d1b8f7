"""Do importance scores point at the sites that drive expression? Scored against the truth.

The simulated targets (:mod:`cornlib.data.simulate`) record every true site: driver motif hits
(which act in the tissues where the driver's effect is non-zero) and the TATA-like core element
(which gates every driver of its gene). :func:`site_masks` turns them into a per-position mask
for each gene and tissue; :func:`per_gene` ranks each gene's positions by the absolute
importance and reports the area under the precision–recall curve (AUPRC) and the ROC curve
(AUROC), next to the chance level (the share of positive positions), averaged over genes with
bootstrap intervals over genes (:mod:`cornlib.evaluate.resample`: long tables, ``value``,
``ci_low``, ``ci_high`` and a ``verdict`` against chance). Koo & Ploenzke (2021): an accurate
model need not have interpretable attributions; this is where that is checked.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import pandas as pd

from cornlib.evaluate import resample


def site_masks(truth: pd.DataFrame, card: dict[str, Any], gene_ids: Sequence[str],
               lengths: Sequence[int], tss_index: Sequence[int]) -> np.ndarray:
    """``(N, L_max, T)`` bool: position ``l`` of gene ``n`` lies in a site that acts in tissue
    ``t`` (a driver site whose motif's effect there is non-zero; the core element wherever the
    gene has such a driver site). Positions past a sequence's end are ``False``.

    Args:
        truth: ``targets/truth_sites.parquet`` (``gene_id``, ``motif``, ``role``, ``position``
            relative to the TSS).
        card: ``targets/card.json`` (its ``tissues`` and ``drivers``' lengths and effects).
        gene_ids, lengths, tss_index: the genes, their sequence lengths and TSS indices.

    Raises:
        ValueError: the card has no drivers (measured targets have no true sites).
    """
    drivers = {d["matrix_id"]: d for d in card.get("drivers", [])}
    if not drivers:
        raise ValueError("the targets card lists no driver motifs: true sites exist only for "
                         "simulated targets")
    tissues = list(card["tissues"])
    index = {g: i for i, g in enumerate(gene_ids)}
    mask = np.zeros((len(index), int(max(lengths)), len(tissues)), bool)
    rows = truth[truth["gene_id"].isin(index)]
    core_len = len(card.get("core_element", {}).get("consensus", "")) or 8
    active = np.zeros((len(index), len(tissues)), bool)
    for role in ("driver", "core"):  # drivers first: the core acts where they do
        for r in rows[rows["role"] == role].itertuples(index=False):
            i = index[r.gene_id]
            if role == "driver":
                d = drivers[r.motif]
                on = np.array([d["effects"][t] != 0 for t in tissues])
                width = int(d["length"])
                active[i] |= on
            else:
                on, width = active[i], core_len
            start = int(tss_index[i]) + int(r.position)
            lo, hi = max(start, 0), min(start + width, int(lengths[i]))
            if hi > lo:
                mask[i, lo:hi] |= on
    return mask


def _scores(positive: np.ndarray, score: np.ndarray) -> tuple[float, float]:
    """Average precision and AUROC of ``score`` for ``positive`` (both classes present), as
    scikit-learn's ``average_precision_score`` and ``roc_auc_score`` compute them (ties share
    a threshold, AUROC from mean ranks), ~20 times faster on one promoter."""
    from scipy.stats import rankdata

    y = np.asarray(positive, bool)
    x = np.asarray(score, float)
    n_pos = int(y.sum())
    auroc = (rankdata(x)[y].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * (len(y) - n_pos))
    order = np.argsort(-x, kind="mergesort")
    last = np.r_[np.flatnonzero(np.diff(x[order])), len(x) - 1]  # end of each threshold
    tp = np.cumsum(y[order])[last]
    recall = tp / n_pos
    ap = np.sum(np.diff(np.r_[0.0, recall]) * tp / (last + 1))
    return float(ap), float(auroc)


def per_gene(importance: np.ndarray, masks: np.ndarray, targets: Sequence[str],
             gene_ids: Sequence[str]) -> pd.DataFrame:
    """AUPRC, AUROC and chance level for every gene × tissue with at least one positive and
    one negative position (``|importance|`` ranks the positions; NaN positions are left out)."""
    if importance.shape != masks.shape:
        raise ValueError(f"importance {importance.shape} and masks {masks.shape} differ")
    rows = []
    for i, g in enumerate(gene_ids):
        for j, t in enumerate(targets):
            ok = np.isfinite(importance[i, :, j])
            pos = masks[i, ok, j]
            if 0 < pos.sum() < len(pos):
                ap, roc = _scores(pos, np.abs(importance[i, ok, j]))
                rows.append({"gene_id": g, "target": t, "auprc": ap, "auroc": roc,
                             "chance": float(pos.mean()), "positives": int(pos.sum())})
    return pd.DataFrame(rows, columns=["gene_id", "target", "auprc", "auroc", "chance",
                                       "positives"])


#: Recovery metrics, and the value of each that a random ranking of positions gets.
RECOVERY_METRICS: tuple[str, ...] = ("auprc", "auroc", "chance", "auprc_over_chance")
CHANCE: dict[str, float] = {"auroc": 0.5, "auprc_over_chance": 1.0}

#: Columns of :func:`table` (:func:`summarise` lacks ``model`` and ``method``).
COLUMNS: tuple[str, ...] = ("model", "method", "target", "genes", "pairs", "metric", "value",
                            "ci_low", "ci_high", "verdict")


def summarise(table: pd.DataFrame, *, n_bootstrap: int = 1000, ci: float = 0.95,
              seed: int = 0) -> pd.DataFrame:
    """Mean AUPRC, AUROC and chance per target and ``overall`` (every gene × tissue), with
    percentile intervals from resampling genes (a gene's tissues move together;
    :func:`cornlib.evaluate.resample.bootstrap_indices`).

    Returns:
        Long table ``target, genes, pairs, metric, value, ci_low, ci_high, verdict``, metrics
        :data:`RECOVERY_METRICS`: ``auprc_over_chance`` is the mean AUPRC over the mean chance
        (per resample too); ``verdict`` (``better``, ``worse``, ``indistinguishable``) places
        the AUROC's interval against 0.5 and that ratio's against 1, and is missing for the
        AUPRC and chance themselves.
    """
    resample.check_options(ci, "percentile", n_bootstrap)
    genes = table["gene_id"].unique()
    draws = resample.bootstrap_indices(len(genes), n_bootstrap, seed)
    out = []
    for name, sub in [*table.groupby("target", sort=False), ("overall", table)]:
        by_gene = sub.groupby("gene_id")[["auprc", "auroc", "chance"]].agg(["sum", "count"])
        by_gene = by_gene.reindex(genes, fill_value=0)
        point, reps = {}, {}
        for m in ("auprc", "auroc", "chance"):
            s, c = by_gene[(m, "sum")].to_numpy(), by_gene[(m, "count")].to_numpy()
            reps[m] = s[draws].sum(1) / np.maximum(c[draws].sum(1), 1)
            point[m] = float(s.sum() / c.sum())
        point["auprc_over_chance"] = point["auprc"] / point["chance"]
        with np.errstate(invalid="ignore", divide="ignore"):
            reps["auprc_over_chance"] = reps["auprc"] / reps["chance"]
        rows = resample.summarise(point, reps, ci=ci, ci_method="percentile", null=CHANCE)
        out.append(rows.assign(target=name, genes=int(sub["gene_id"].nunique()),
                               pairs=len(sub)))
    return pd.concat(out, ignore_index=True)[list(COLUMNS[2:])]


def table(scores: dict[str, dict[str, np.ndarray]], masks: np.ndarray | None,
          targets: Sequence[str],
          gene_ids: Sequence[str], *, n_bootstrap: int = 1000, ci: float = 0.95,
          seed: int = 0) -> pd.DataFrame:
    """:func:`summarise` for every model × method: ``scores[model][method]`` is
    ``(N, L, T)``. Columns :data:`COLUMNS`: one row per model, method, target (and
    ``overall``) and metric; no rows (but the columns) when ``scores`` is empty."""
    out = []
    for model, by_method in scores.items():
        for method, values in by_method.items():
            s = summarise(per_gene(values, masks, targets, gene_ids), n_bootstrap=n_bootstrap,
                          ci=ci, seed=seed)
            out.append(s.assign(model=model, method=method))
    cols = list(COLUMNS)
    return pd.concat(out, ignore_index=True)[cols] if out else pd.DataFrame(columns=cols)


def sample_genes(genes: pd.DataFrame, truth: pd.DataFrame, n: int, seed: int = 0) -> pd.DataFrame:
    """``n`` rows of ``genes`` (a table with ``gene_id``) drawn at random among those with at
    least one true driver site, in their original order."""
    has = genes["gene_id"].isin(truth.loc[truth["role"] == "driver", "gene_id"])
    pool = genes[has.to_numpy()]
    if pool.empty:
        raise ValueError("none of these genes has a true driver site")
    return pool.sample(min(n, len(pool)), random_state=seed).sort_index()


def separation(positive: Sequence[float], negative: Sequence[float], *,
               n_bootstrap: int = 1000, ci: float = 0.95, seed: int = 0) -> pd.DataFrame:
    """How well a score separates two groups (e.g. variants that break true sites from random
    ones): the AUROC (the chance that a positive scores above a negative; 0.5 = no separation)
    and the two medians, with percentile intervals from resampling each group within itself
    (:func:`cornlib.evaluate.resample.stratified_indices`).

    Returns:
        Long table ``metric`` (``auroc``, ``median_positive``, ``median_negative``), ``value``,
        ``ci_low``, ``ci_high``, ``verdict`` (the AUROC's interval against 0.5: ``better``,
        ``worse`` or ``indistinguishable``; missing for the medians), ``n_positive``,
        ``n_negative``.
    """
    from sklearn.metrics import roc_auc_score

    resample.check_options(ci, "percentile", n_bootstrap)
    pos, neg = np.asarray(positive, float), np.asarray(negative, float)
    if not len(pos) or not len(neg):
        raise ValueError(f"both groups need values ({len(pos)} positive, {len(neg)} negative)")
    y = np.r_[np.ones(len(pos)), np.zeros(len(neg))]
    reps: dict[str, list[float]] = {"auroc": [], "median_positive": [], "median_negative": []}
    for i, j in resample.stratified_indices([len(pos), len(neg)], n_bootstrap, seed):
        reps["auroc"].append(roc_auc_score(y, np.r_[pos[i], neg[j]]))
        reps["median_positive"].append(np.median(pos[i]))
        reps["median_negative"].append(np.median(neg[j]))
    point = {"auroc": float(roc_auc_score(y, np.r_[pos, neg])),
             "median_positive": float(np.median(pos)), "median_negative": float(np.median(neg))}
    rows = resample.summarise(point, {m: np.asarray(v) for m, v in reps.items()}, ci=ci,
                              ci_method="percentile", null={"auroc": 0.5})
    return rows.assign(n_positive=len(pos), n_negative=len(neg))
