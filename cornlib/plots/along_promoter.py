"""Profiles by position relative to the TSS: GC content, true driving sites, core-element hits."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from cornlib.plots._common import placeholder


def gc_along(profile: pd.DataFrame):
    """GC fraction by position relative to the TSS, one line per species.

    Args:
        profile: :func:`cornlib.data.promoter_stats.gc_profile` (``species``, ``position``,
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


def site_positions(truth_sites: pd.DataFrame, bin_size: int = 25):
    """Where the true sites lie relative to the TSS: summed |contribution| per bin, by role.

    Returns:
        ``fig, ax``; a note when there are no sites (measured data).
    """
    import matplotlib.pyplot as plt
    import seaborn as sns

    if truth_sites.empty:
        return placeholder("No known driving sites: these targets are measured.")
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
