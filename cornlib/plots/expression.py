"""Figures of the expression targets: distributions, tissue structure, driver motifs, proxy label."""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import pandas as pd


def _tissues(expression: pd.DataFrame) -> list[str]:
    tissues = [c for c in expression.columns if c != "gene_id"]
    if not tissues:
        raise ValueError("the expression table has no tissue columns besides gene_id")
    return tissues


def _placeholder(text: str, figsize=(6, 2)):
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=figsize)
    ax.text(0.5, 0.5, text, ha="center", va="center", wrap=True)
    ax.set_axis_off()
    return fig, ax


def distributions(expression: pd.DataFrame):
    """Per tissue: violins of log-expression (left) and the fraction of zeros (right).

    Args:
        expression: ``gene_id`` + one column per tissue.

    Returns:
        ``fig, axes`` (two axes).
    """
    import matplotlib.pyplot as plt
    import seaborn as sns

    tissues = _tissues(expression)
    long = expression.melt(id_vars="gene_id", value_vars=tissues, var_name="tissue", value_name="y")
    fig, axes = plt.subplots(1, 2, figsize=(10, 0.35 * len(tissues) + 1.5), sharey=True,
                             gridspec_kw={"width_ratios": [3, 1]})
    sns.violinplot(data=long, x="y", y="tissue", cut=0, density_norm="width", inner="quart",
                   color="#8fb3d9", linewidth=0.8, ax=axes[0])
    axes[0].set(xlabel="log-expression", ylabel="")
    zeros = (expression[tissues] == 0).mean().rename_axis("tissue").reset_index(name="zero")
    sns.barplot(data=zeros, x="zero", y="tissue", color="#d98f8f", ax=axes[1])
    axes[1].set(xlabel="fraction of zeros", ylabel="")
    fig.tight_layout()
    return fig, axes


def tissue_clustermap(expression: pd.DataFrame, method: str = "spearman"):
    """Clustered tissue × tissue correlation of log-expression across genes.

    Returns:
        ``fig, ax`` (the heatmap axes of the seaborn ClusterGrid).
    """
    import seaborn as sns

    tissues = _tissues(expression)
    corr = expression[tissues].corr(method=method)
    grid = sns.clustermap(corr, cmap="rocket_r", vmin=min(0.0, float(corr.min().min())), vmax=1,
                          annot=len(tissues) <= 12, fmt=".2f", annot_kws={"size": 7},
                          figsize=(7, 7), cbar_kws={"label": f"{method} correlation"})
    return grid.figure, grid.ax_heatmap


def gene_heatmap(expression: pd.DataFrame, n_genes: int = 300, seed: int = 0):
    """Heatmap of a random sample of genes × tissues, genes and tissues clustered.

    Args:
        expression: ``gene_id`` + one column per tissue.
        n_genes: genes drawn (all if fewer).
        seed: seed of the draw.

    Returns:
        ``fig, ax`` (the heatmap axes).
    """
    import seaborn as sns

    tissues = _tissues(expression)
    sample = expression.sample(n=min(n_genes, len(expression)), random_state=seed)
    grid = sns.clustermap(sample.set_index("gene_id")[tissues], cmap="viridis", yticklabels=False,
                          figsize=(7, 8), cbar_kws={"label": "log-expression"},
                          dendrogram_ratio=(0.12, 0.08))
    grid.ax_heatmap.set_ylabel(f"{len(sample)} random genes")
    return grid.figure, grid.ax_heatmap


def noise_ceiling(card: dict[str, Any]):
    """Bar per tissue of the best R² any promoter model can expect (``card["noise_ceiling_r2"]``).

    Returns:
        ``fig, ax``; a note instead of bars when the card has no ceiling (measured data).
    """
    import matplotlib.pyplot as plt
    import seaborn as sns

    ceiling = card.get("noise_ceiling_r2")
    if not ceiling:
        return _placeholder("No noise ceiling: these targets are measured, their noise is unknown.")
    data = pd.DataFrame({"tissue": list(ceiling), "r2": list(ceiling.values())})
    fig, ax = plt.subplots(figsize=(6, 0.35 * len(data) + 1.2))
    sns.barplot(data=data, x="r2", y="tissue", color="#6a9f6a", ax=ax)
    ax.axvline(float(np.mean(data["r2"])), color="k", lw=1, ls="--", label="mean")
    ax.set(xlim=(0, 1), xlabel="noise ceiling (R²)", ylabel="")
    ax.legend(loc="lower right")
    fig.tight_layout()
    return fig, ax


def driver_effects(card: dict[str, Any]):
    """Heatmap of each driver motif's effect on log-expression in each tissue.

    Returns:
        ``fig, ax``; a note when the card has no drivers (measured data).
    """
    import matplotlib.pyplot as plt
    import seaborn as sns

    drivers = card.get("drivers") or []
    if not drivers:
        return _placeholder("No driver motifs: these targets are measured.")
    effects = pd.DataFrame({f"{d['name']} ({d['matrix_id']})": d["effects"] for d in drivers}).T
    fig, ax = plt.subplots(figsize=(0.55 * effects.shape[1] + 3, 0.35 * len(effects) + 1.5))
    lim = float(np.abs(effects.to_numpy()).max()) or 1.0
    sns.heatmap(effects, cmap="vlag", center=0, vmin=-lim, vmax=lim, annot=True, fmt=".1f",
                annot_kws={"size": 7}, cbar_kws={"label": "effect (log-expression)"}, ax=ax)
    ax.set(xlabel="", ylabel="")
    fig.tight_layout()
    return fig, ax


def motif_logos(motifs: Sequence, ncols: int = 4, background: Sequence[float] | None = None):
    """Information-content logos of ``motifs`` (:class:`cornlib.motifs.Motif`), one panel each.

    Returns:
        ``fig, axes`` (a flat array); a note when ``motifs`` is empty.
    """
    import logomaker
    import matplotlib.pyplot as plt

    from cornlib import motifs as _motifs

    motifs = list(motifs)
    if not motifs:
        return _placeholder("No motifs to draw.")
    bg = _motifs.UNIFORM if background is None else background
    nrows = -(-len(motifs) // ncols)
    fig, axes = plt.subplots(nrows, min(ncols, len(motifs)), figsize=(3.2 * min(ncols, len(motifs)),
                                                                       1.6 * nrows), squeeze=False)
    for ax, m in zip(axes.flat, motifs):
        probs = pd.DataFrame(m.probabilities(bg), columns=list(_motifs.ALPHABET))
        info = logomaker.transform_matrix(probs, from_type="probability", to_type="information",
                                          background=np.asarray(bg))
        logomaker.Logo(info, ax=ax, color_scheme="classic")
        ax.set_title(f"{m.name} ({m.matrix_id})", fontsize=8)
        ax.set_ylim(0, 2)
        ax.set_xticks([])
        ax.tick_params(labelsize=7)
    for ax in list(axes.flat)[len(motifs):]:
        ax.set_axis_off()
    fig.tight_layout()
    return fig, axes.ravel()


def site_positions(truth_sites: pd.DataFrame, bin_size: int = 25):
    """Where the true sites lie relative to the TSS: summed |contribution| per bin, by role.

    Returns:
        ``fig, ax``; a note when there are no sites (measured data).
    """
    import matplotlib.pyplot as plt
    import seaborn as sns

    if truth_sites.empty:
        return _placeholder("No known driving sites: these targets are measured.")
    data = truth_sites.assign(size=truth_sites["contribution"].abs())
    lo = int(np.floor(data["position"].min() / bin_size) * bin_size)
    hi = int(np.ceil((data["position"].max() + 1) / bin_size) * bin_size)
    fig, ax = plt.subplots(figsize=(8, 3))
    sns.histplot(data=data, x="position", weights="size", hue="role", binwidth=bin_size,
                 binrange=(lo, hi), element="step", ax=ax)
    ax.set(xlabel="site position relative to the TSS (bp)", ylabel="summed |contribution|")
    fig.tight_layout()
    return fig, ax


def core_positions(hits: pd.DataFrame, window: Sequence[int] = (-60, -15), span: int = 300,
                   bin_size: int = 10):
    """Histogram of core-element hit centres relative to the TSS, the gating window shaded.

    Args:
        hits: :func:`cornlib.data.simulate.core_scan` (a ``centre`` column, bp).
        window: the core window of the simulation (bp relative to the TSS).
        span: bp upstream of the TSS to show.
        bin_size: histogram bin, bp.

    Returns:
        ``fig, ax``.
    """
    import matplotlib.pyplot as plt
    import seaborn as sns

    fig, ax = plt.subplots(figsize=(8, 3))
    shown = hits[(hits["centre"] >= -span) & (hits["centre"] <= 0)]
    sns.histplot(shown["centre"], binwidth=bin_size, binrange=(-span, 0), color="#d9a441", ax=ax)
    ax.axvspan(*window, color="grey", alpha=0.2, label="core window")
    ax.set(xlabel="hit centre relative to the TSS (bp)", ylabel="hits")
    ax.legend(loc="upper left")
    fig.tight_layout()
    return fig, ax


def proxy_distribution(proxy: pd.DataFrame):
    """The TAIR10 evidence-depth proxy: its distribution (left) and isoform counts (right).

    Returns:
        ``fig, axes`` (two axes).
    """
    import matplotlib.pyplot as plt
    import seaborn as sns

    fig, axes = plt.subplots(1, 2, figsize=(10, 3))
    sns.histplot(proxy["proxy"], bins=40, color="#8f7fbf", ax=axes[0])
    axes[0].set(xlabel="proxy = log1p(distinct INSD accessions)", ylabel="genes")
    counts = proxy["isoform_count"].clip(upper=10).value_counts().sort_index()
    sns.barplot(x=[str(k) if k < 10 else "10+" for k in counts.index], y=counts.to_numpy(),
                color="#bfa07f", ax=axes[1])
    axes[1].set(xlabel="mRNA isoforms per gene", ylabel="genes", yscale="log")
    fig.tight_layout()
    return fig, axes
