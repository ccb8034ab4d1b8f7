"""Figures of the promoter chapter: what was dropped, lengths and N, GC around the TSS."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd


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
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.5))
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


def gc_along(profile: pd.DataFrame):
    """GC fraction by position relative to the TSS, one line per species.

    Args:
        profile: :func:`cornlib.data.promoters.gc_profile` (``species``, ``position``,
            ``gc_fraction``).

    Returns:
        ``fig, ax``.
    """
    import matplotlib.pyplot as plt
    import seaborn as sns

    fig, ax = plt.subplots(figsize=(8, 3.5))
    sns.lineplot(profile, x="position", y="gc_fraction", hue="species", ax=ax)
    ax.axvline(0, color="0.3", ls="--", lw=1)
    ax.text(0, ax.get_ylim()[1], " TSS", va="top", fontsize=9, color="0.3")
    ax.set(xlabel="position relative to the TSS (bp; 0 = first transcribed base)",
           ylabel="GC fraction", title="GC content around the TSS")
    ax.legend(title=None, frameon=False)
    sns.despine(fig)
    return fig, ax
