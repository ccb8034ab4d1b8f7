"""One number per category as bars or points: genes per biotype or per drop reason, the noise
ceiling per tissue, the share of motif sites on token boundaries per measure, and paired
differences between predictors with their intervals."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from cornlib.plots._common import placeholder
from cornlib.plots.style import panels, styled


@styled
def biotypes(genes: pd.DataFrame):
    """Horizontal bars: genes per biotype and species (log scale).

    Args:
        genes: :func:`~cornlib.plots.tables.gene_table`.

    Returns:
        ``fig, ax``.
    """
    import matplotlib.pyplot as plt
    import seaborn as sns

    counts = genes.groupby(["species", "biotype"]).size().rename("genes").reset_index()
    order = counts.groupby("biotype")["genes"].sum().sort_values(ascending=False).index
    fig, ax = plt.subplots(figsize=(7, 0.3 * len(order) * max(1, counts["species"].nunique()) + 1.2))
    sns.barplot(data=counts, x="genes", y="biotype", hue="species", order=order, ax=ax)
    ax.set(xscale="log", xlabel="genes (log scale)", ylabel="")
    fig.tight_layout()
    return fig, ax


@styled
def dropped(report: dict[str, Any]):
    """Candidate genes per species split into kept and each drop reason (horizontal bars).

    Args:
        report: the report of :func:`cornlib.data.promoters.extract_genomes`.

    Returns:
        ``fig, ax``.
    """
    import matplotlib.pyplot as plt
    import seaborn as sns

    rows = []
    for species, rep in report["species"].items():
        rows.append({"species": species, "outcome": "kept", "genes": rep["kept"]})
        rows += [{"species": species, "outcome": reason.replace("_", " "), "genes": n}
                 for reason, n in rep["dropped"].items()]
    long = pd.DataFrame(rows)
    fig, ax = plt.subplots(figsize=(7, 3.5))
    sns.barplot(long, y="outcome", x="genes", hue="species", ax=ax, orient="h", errorbar=None)
    ax.set_xscale("symlog", linthresh=10)
    for container in ax.containers:
        ax.bar_label(container, fontsize=8, padding=2)
    ax.set(xlabel="candidate genes (symmetric log scale)", ylabel=None,
           title="What became of each candidate gene")
    ax.legend(title=None, frameon=False, loc="lower right")
    sns.despine(fig)
    return fig, ax


@styled
def noise_ceiling(card: dict[str, Any]):
    """Bar per tissue of the best R² any promoter model can expect (``card["noise_ceiling_r2"]``).

    Returns:
        ``fig, ax``; a note instead of bars when the card has no ceiling (measured data).
    """
    import matplotlib.pyplot as plt
    import seaborn as sns

    ceiling = card.get("noise_ceiling_r2")
    if not ceiling:
        return placeholder("No noise ceiling: these targets are measured, their noise is unknown.")
    data = pd.DataFrame({"tissue": list(ceiling), "r2": list(ceiling.values())})
    fig, ax = plt.subplots(figsize=(6, 0.35 * len(data) + 1.2))
    sns.barplot(data=data, x="r2", y="tissue", color="#6a9f6a", ax=ax)
    ax.axvline(float(np.mean(data["r2"])), color="k", lw=1, ls="--", label="mean")
    ax.set(xlim=(0, 1), xlabel="noise ceiling (R²)", ylabel="")
    ax.legend(loc="lower right")
    fig.tight_layout()
    return fig, ax


@styled
def motif_alignment(table: pd.DataFrame):
    """Motif-site edges on BPE token boundaries: observed against shuffled segmentations.

    Args:
        table: :func:`cornlib.tokenize.motif_alignment` (``measure``, ``observed``,
            ``shuffled``, ``shuffled_sd``).

    Returns:
        ``fig, ax``.
    """
    import matplotlib.pyplot as plt
    import seaborn as sns

    long = pd.concat([
        pd.DataFrame({"measure": table["measure"], "segmentation": "BPE",
                      "fraction": table["observed"]}),
        pd.DataFrame({"measure": table["measure"], "segmentation": "BPE, tokens shuffled",
                      "fraction": table["shuffled"]}),
    ])
    fig, ax = plt.subplots(figsize=(7, 3.5))
    sns.barplot(long, x="measure", y="fraction", hue="segmentation", ax=ax)
    # error bars: ± 2 sd of the shuffled null, on the null's bars (the second hue level)
    null_bars = ax.containers[1]
    for bar, sd in zip(null_bars, table["shuffled_sd"]):
        x = bar.get_x() + bar.get_width() / 2
        ax.errorbar(x, bar.get_height(), yerr=2 * sd, color="0.2", capsize=3, lw=1)
    ax.set(xlabel="", ylabel="fraction of motif sites",
           title=f"JASPAR sites and BPE token boundaries (n = {int(table['n_sites'].iloc[0]):,})")
    ax.legend(title=None, frameon=False, loc="upper center", bbox_to_anchor=(0.5, -0.1), ncol=2)
    sns.despine(fig)
    return fig, ax


@styled
def paired_differences(differences: pd.DataFrame, labels: dict[str, str] | None = None):
    """Model − baseline differences with their paired intervals, one panel per metric.

    Args:
        differences: :func:`cornlib.evaluate.mlm.bootstrap` (``model, reference, metric,
            value, ci_low, ci_high, verdict``).
        labels: metric → panel title (default: the metric's name).

    Returns:
        ``fig, axes``. Green: the model is better, red: worse, grey: indistinguishable.
    """
    import seaborn as sns
    from matplotlib.ticker import MaxNLocator

    if differences.empty:
        return placeholder("No comparisons to draw.")
    metrics = list(dict.fromkeys(differences["metric"]))
    rows = list(dict.fromkeys(differences["model"] + " − " + differences["reference"]))
    colour = {"better": "#3a8a3a", "worse": "#b03a2e", "indistinguishable": "0.45"}
    fig, axes = panels(len(metrics), (4.0, 0.3 * len(rows) + 1.2), max_cols=2, sharey=True)
    for ax, metric in zip(axes, metrics):
        part = differences[differences["metric"] == metric]
        y = [rows.index(f"{r.model} − {r.reference}") for r in part.itertuples()]
        for yi, r in zip(y, part.itertuples()):
            ax.errorbar(r.value, yi, xerr=[[r.value - r.ci_low], [r.ci_high - r.value]],
                        fmt="o", color=colour.get(r.verdict, "k"), capsize=3, lw=1.2)
        ax.axvline(0, color="0.3", lw=0.8, ls="--")
        ax.set_title((labels or {}).get(metric, metric), fontsize=9)
        ax.tick_params(labelsize=8)
        ax.xaxis.set_major_locator(MaxNLocator(nbins=4))
    axes[0].set_yticks(range(len(rows)), rows, fontsize=8)
    axes[0].invert_yaxis()
    sns.despine(fig)
    fig.tight_layout()
    return fig, axes
