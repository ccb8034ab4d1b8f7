"""How the values of one variable are spread: violins, histograms, ECDFs and rank-frequency
curves, per tissue, species or split."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from cornlib.plots._common import tissue_columns
from cornlib.plots.style import panels, styled


@styled
def distributions(expression: pd.DataFrame):
    """Per tissue: violins of log-expression (left) and the fraction of zeros (right).

    Args:
        expression: ``gene_id`` + one column per tissue.

    Returns:
        ``fig, axes`` (two axes).
    """
    import matplotlib.pyplot as plt
    import seaborn as sns

    tissues = tissue_columns(expression)
    long = expression.melt(id_vars="gene_id", value_vars=tissues, var_name="tissue", value_name="y")
    fig, axes = plt.subplots(1, 2, figsize=(8, 0.35 * len(tissues) + 1.5), sharey=True,
                             gridspec_kw={"width_ratios": [3, 1]})
    sns.violinplot(data=long, x="y", y="tissue", cut=0, density_norm="width", inner="quart",
                   color="#8fb3d9", linewidth=0.8, ax=axes[0])
    axes[0].set(xlabel="log-expression", ylabel="")
    zeros = (expression[tissues] == 0).mean().rename_axis("tissue").reset_index(name="zero")
    sns.barplot(data=zeros, x="zero", y="tissue", color="#d98f8f", ax=axes[1])
    axes[1].set(xlabel="fraction of zeros", ylabel="")
    fig.tight_layout()
    return fig, axes


@styled
def proxy_distribution(proxy: pd.DataFrame):
    """The TAIR10 evidence-depth proxy: its distribution (left) and isoform counts (right).

    Returns:
        ``fig, axes`` (two axes).
    """
    import matplotlib.pyplot as plt
    import seaborn as sns

    fig, axes = plt.subplots(1, 2, figsize=(8, 3))
    sns.histplot(proxy["proxy"], bins=40, color="#8f7fbf", ax=axes[0])
    axes[0].set(xlabel="proxy = log1p(distinct INSD accessions)", ylabel="genes")
    counts = proxy["isoform_count"].clip(upper=10).value_counts().sort_index()
    sns.barplot(x=[str(k) if k < 10 else "10+" for k in counts.index], y=counts.to_numpy(),
                color="#bfa07f", ax=axes[1])
    axes[1].set(xlabel="mRNA isoforms per gene", ylabel="genes", yscale="log")
    fig.tight_layout()
    return fig, axes


@styled
def lengths_and_n(promoters: pd.DataFrame):
    """Promoter lengths, and the share of N and of soft-masked bases per promoter, per species.

    Args:
        promoters: the promoter table (``species``, ``length``, ``n_fraction``,
            ``masked_fraction``).

    Returns:
        ``fig, axes`` (two axes).
    """
    import matplotlib.pyplot as plt
    import seaborn as sns

    order = list(pd.unique(promoters["species"]))
    fig, axes = plt.subplots(1, 2, figsize=(8, 3.5))
    sns.histplot(promoters, x="length", hue="species", hue_order=order, element="step", bins=50,
                 ax=axes[0])
    axes[0].set(yscale="log", xlabel="promoter length (bp)", ylabel="promoters (log scale)",
                title="Lengths after trimming")
    colors = sns.color_palette(n_colors=len(order))
    for column, style, what in (("n_fraction", "-", "N"), ("masked_fraction", "--", "soft-masked")):
        for species, color in zip(order, colors):
            values = np.sort(promoters.loc[promoters["species"] == species, column].to_numpy())
            axes[1].step(np.concatenate([[0], values]), np.linspace(0, 1, len(values) + 1),
                         where="post", color=color, ls=style, label=f"{species}, {what}")
    axes[1].set(xlim=(0, 1), ylim=(0, 1.02), xlabel="share of the promoter's bases",
                ylabel="share of promoters (cumulative)", title="N and soft-masked bases")
    axes[1].legend(fontsize=8, frameon=False, loc="lower right")
    sns.despine(fig)
    fig.tight_layout()
    return fig, axes


@styled
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


@styled
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
    fig, axes = plt.subplots(1, 2, figsize=(8, 3.6))
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


@styled
def token_lengths(table: pd.DataFrame, k: int = 6, longest: int = 16):
    """Share of BPE tokens of each length, over the vocabulary and weighted by use.

    Args:
        table: :func:`cornlib.tokenize.token_length_table` (``length``, ``vocabulary``, ``use``).
        k: k-mer length, marked next to the one-letter character tokens.
        longest: lengths from this one up share the last bar (``16+``).

    Returns:
        ``fig, ax``.
    """
    import matplotlib.pyplot as plt
    import seaborn as sns

    binned = table.assign(length=table["length"].clip(upper=longest)).groupby("length").sum()
    labels = [str(n) if n < longest else f"{longest}+" for n in binned.index]
    long = pd.concat([
        pd.DataFrame({"length": labels, "counted over": "vocabulary entries",
                      "share": (binned["vocabulary"] / binned["vocabulary"].sum()).to_numpy()}),
        pd.DataFrame({"length": labels, "counted over": "tokens in use",
                      "share": (binned["use"] / binned["use"].sum()).to_numpy()}),
    ])
    fig, ax = plt.subplots(figsize=(7, 3.5))
    sns.barplot(long, x="length", y="share", hue="counted over", ax=ax, order=labels)
    top = long["share"].max()
    for length, name in ((1, "char"), (k, f"{k}-mer")):
        if str(length) in labels:
            x = labels.index(str(length))
            ax.axvline(x, color="0.3", ls="--", lw=1)
            ax.text(x, top * 1.05, f" {name}", fontsize=9, color="0.3")
    ax.set_ylim(0, top * 1.15)
    ax.set(xlabel="token length (bp)", ylabel="share of tokens", title="BPE token lengths")
    ax.legend(title=None, frameon=False)
    sns.despine(fig)
    return fig, ax


@styled
def vocabulary_use(ranks: pd.DataFrame):
    """Rank-frequency (Zipf) curves of the tokenization schemes, log-log.

    Args:
        ranks: :func:`cornlib.tokenize.rank_frequency` (``scheme``, ``rank``, ``share``).

    Returns:
        ``fig, ax``.
    """
    import matplotlib.pyplot as plt
    import seaborn as sns

    fig, ax = plt.subplots(figsize=(6, 4))
    sns.lineplot(ranks, x="rank", y="share", hue="scheme", ax=ax, estimator=None)
    ax.set(xscale="log", yscale="log", xlabel="token rank (1 = most used)",
           ylabel="share of all tokens", title="Vocabulary use")
    sns.despine(fig)
    return fig, ax


@styled
def variant_effects(table: pd.DataFrame, value: str = "effect", group: str = "class",
                    panel: str = "model"):
    """The spread of predicted variant effects per group (e.g. site-breaking vs random), one
    panel per model: ECDFs on a log axis (effects near zero are most variants).

    Returns:
        ``fig, axes``.
    """
    import seaborn as sns

    names = list(dict.fromkeys(table[panel]))
    fig, axes = panels(len(names), (4.0, 3.4), sharey=True)
    positive = table.loc[table[value] > 0, value]
    floor = float(positive.min()) if len(positive) else 1e-6  # zeros drawn at the floor
    for ax, name in zip(axes, names):
        sub = table[table[panel] == name].assign(**{value: lambda d: d[value].clip(lower=floor)})
        sns.ecdfplot(sub, x=value, hue=group, ax=ax, log_scale=True, palette="colorblind")
        ax.set(title=name, xlabel="largest |predicted change| over tissues")
    axes[0].set_ylabel("share of variants")
    sns.despine(fig)
    fig.tight_layout()
    return fig, axes
