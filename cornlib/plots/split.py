"""Figures of the split chapter: cluster sizes, each test promoter's nearest training promoter."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd


def cluster_sizes(clusters: pd.DataFrame):
    """Clusters by size (log count), stacked by the species they hold.

    Args:
        clusters: from :func:`cornlib.split.cluster` (``cluster_id``, ``species``).

    Returns:
        ``fig, ax``.
    """
    import matplotlib.pyplot as plt
    import seaborn as sns

    per = clusters.groupby("cluster_id").agg(size=("species", "size"),
                                             n_species=("species", "nunique"),
                                             species=("species", "first"))
    per["holds"] = np.where(per["n_species"] > 1, "several species", per["species"])
    order = sorted(set(per["holds"]) - {"several species"}) + (
        ["several species"] if (per["n_species"] > 1).any() else [])
    fig, ax = plt.subplots(figsize=(7, 3.5))
    sns.histplot(data=per, x="size", hue="holds", hue_order=order, multiple="stack",
                 discrete=True, palette="Set2", ax=ax)
    ax.set_yscale("log")
    ax.set(xlabel="promoters in the cluster", ylabel="clusters (log scale)",
           title=f"{len(per):,} clusters of {len(clusters):,} promoters")
    fig.tight_layout()
    return fig, ax


def nearest_identity(nearest: Mapping[str, pd.DataFrame], identity: float = 0.8,
                     coverage: float = 0.8):
    """Each test promoter's most similar training promoter, for one or more splits.

    Left: the highest identity among hits covering ≥ ``coverage`` of the shorter sequence (test
    promoters without such a hit are counted in the legend). Right: identity against coverage of
    the nearest hit (largest identity × coverage); the shaded corner is leakage.

    Args:
        nearest: split label → the ``nearest`` table of :func:`cornlib.split.audit`.
        identity, coverage: the leakage thresholds.

    Returns:
        ``fig, axes`` (two axes).
    """
    import matplotlib.pyplot as plt
    import seaborn as sns

    rows = []
    for label, table in nearest.items():
        none = int((table["identity_at_coverage"] == 0).sum())
        leaks = int(table["similar"].sum())
        name = (f"{label}: {leaks:,} of {len(table):,} leak "
                f"({none:,} without a hit over ≥ {coverage:.0%})")
        rows.append(table.assign(split_name=name))
    long = pd.concat(rows, ignore_index=True)
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    colors = dict(zip(long["split_name"].unique(), sns.color_palette()))
    bins = np.linspace(0.5, 1.0, 51)
    for name, color in colors.items():
        x = long.loc[(long["split_name"] == name) & (long["identity_at_coverage"] > 0),
                     "identity_at_coverage"]
        axes[0].hist(x, bins=bins, histtype="step", lw=1.5, color=color, label=name)
    axes[0].axvspan(identity, 1.0, color="#d62728", alpha=0.08, lw=0)
    axes[0].axvline(identity, color="#d62728", ls="--", lw=1)
    axes[0].set(xlabel=f"highest identity to train at ≥ {coverage:.0%} coverage",
                ylabel="test promoters", xlim=(0.5, 1.0))
    axes[0].legend(loc="upper left", fontsize=8, frameon=False)
    for name in reversed(list(colors)):  # the first split drawn last, on top
        hit = long[(long["split_name"] == name) & (long["n_hits"] > 0)]
        axes[1].scatter(hit["coverage"], hit["identity"], s=8, alpha=0.5, lw=0,
                        color=colors[name])
    axes[1].fill_between([coverage, 1.0], identity, 1.0, color="#d62728", alpha=0.08, lw=0)
    axes[1].text(coverage + 0.01, 0.995, "leak", color="#d62728", va="top")
    axes[1].set(xlabel="coverage of the shorter promoter (nearest hit)",
                ylabel="identity (nearest hit)", xlim=(0, 1.01), ylim=(0.5, 1.01))
    fig.tight_layout()
    return fig, axes
