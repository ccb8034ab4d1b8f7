"""Long prediction tables for :mod:`cornlib.evaluate.metrics`: blocks of jointly scored targets
per model, and the cluster of each gene."""

from __future__ import annotations

from typing import Iterable

import numpy as np
import pandas as pd


def group_labels(groups, predictions: pd.DataFrame, genes: np.ndarray) -> np.ndarray | None:
    """One group label per gene of ``genes`` from a column name or a gene → group mapping."""
    if groups is None:
        return None
    if isinstance(groups, str):
        if groups not in predictions.columns:
            raise ValueError(f"groups={groups!r} is not a column of predictions "
                             f"({list(predictions.columns)}); pass a column or a gene → group map")
        per_gene = predictions.groupby("gene_id")[groups]
        if (per_gene.nunique(dropna=False) > 1).any():
            raise ValueError(f"column {groups!r} gives some gene more than one group")
        mapping = per_gene.first()
    else:
        mapping = groups if isinstance(groups, pd.Series) else pd.Series(dict(groups))
        if mapping.index.duplicated().any():
            raise ValueError("groups names some gene twice; give one group per gene_id")
    labels = mapping.reindex(genes)
    if labels.isna().any():
        gene = genes[np.flatnonzero(labels.isna().to_numpy())[0]]
        raise ValueError(f"gene {gene!r} has no group in groups ({int(labels.isna().sum())} "
                         "genes lack one); pass the cluster of every evaluated gene")
    return labels.to_numpy()


def blocks(predictions: pd.DataFrame, by: list[str], joint: list[str]) -> Iterable[tuple]:
    """``(label, targets, genes, y_true, y_pred)`` per model and block of jointly scored targets.

    Genes are sorted by ``gene_id`` so that equal gene sets get equal resamples.
    """
    need = [*by, "gene_id", "target", "y_true", "y_pred"]
    missing = [c for c in need if c not in predictions.columns]
    if missing:
        raise ValueError(f"predictions lack columns {missing}; expected {need}")
    dup = predictions.duplicated(subset=[*by, "gene_id", "target"])
    if dup.any():
        row = predictions.loc[dup].iloc[0]
        raise ValueError(f"predictions repeat gene {row['gene_id']!r} for target {row['target']!r} "
                         f"in group {tuple(row[c] for c in by)}; keep one row per gene and target")
    if predictions.empty:
        raise ValueError("predictions is empty; nothing to score")
    for key, group in predictions.groupby(by, sort=False):
        key = key if isinstance(key, tuple) else (key,)
        present = list(dict.fromkeys(group["target"]))
        together = [t for t in joint if t in present]
        if together:
            sub = group[group["target"].isin(together)]
            yt = sub.pivot(index="gene_id", columns="target", values="y_true").sort_index()[together]
            yp = sub.pivot(index="gene_id", columns="target", values="y_pred").sort_index()[together]
            if yt.isna().any().any():
                gene = yt.index[yt.isna().any(axis=1)][0]
                raise ValueError(f"gene {gene!r} of {dict(zip(by, key))} lacks some of the jointly "
                                 f"scored targets {together}; score those targets separately")
            yield key, together, yt.index.to_numpy(), yt.to_numpy(float), yp.to_numpy(float)
        for name in (t for t in present if t not in together):
            sub = group[group["target"] == name].sort_values("gene_id")
            yield (key, [name], sub["gene_id"].to_numpy(), sub[["y_true"]].to_numpy(float),
                   sub[["y_pred"]].to_numpy(float))
