"""One number per category as bars: genes per biotype or per drop reason, the noise ceiling per
tissue, the share of motif sites on token boundaries per measure."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from cornlib.plots._common import placeholder


def biotypes(genes: pd.DataFrame):
    """Horizontal bars: genes per biotype and species (log scale).

    Args:
        genes: :func:`gene_table`.

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
