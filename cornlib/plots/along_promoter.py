"""Profiles by position relative to the TSS: GC content, true driving sites, core-element hits."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from cornlib.plots._common import placeholder
from cornlib.plots.style import panels, styled


@styled
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


@styled
def site_positions(density: pd.DataFrame):
    """Where the true driver sites lie: their raw density (top) and their summed weight (bottom).

    Args:
        density: :func:`cornlib.data.stand_in.site_density` (``position``, ``sites_per_kb``,
            ``contribution``).

    Returns:
        ``fig, axes``; a note when there are no sites (measured data).
    """
    import matplotlib.pyplot as plt
    import seaborn as sns

    if density.empty or not density["sites"].sum():
        return placeholder("No known driving sites: these targets are measured.")
    width = float(np.diff(density["position"]).min()) if len(density) > 1 else 1.0
    fig, axes = plt.subplots(2, 1, figsize=(8, 4.5), sharex=True)
    axes[0].bar(density["position"], density["sites_per_kb"], width=width, align="edge",
                color="#6a8fbf")
    axes[0].set(ylabel="sites per kb\nof promoter", title="Raw density of driver sites")
    axes[1].bar(density["position"], density["contribution"], width=width, align="edge",
                color="#d9a441")
    axes[1].set(xlabel="site position relative to the TSS (bp)", ylabel="summed\n|contribution|",
                title="Weighted by their effect in the peak tissue")
    sns.despine(fig)
    fig.tight_layout()
    return fig, axes


@styled
def core_positions(profile: pd.DataFrame, window: Sequence[int] = (-60, -15)):
    """Core-element hits per 1,000 promoters by position of their centre, one line per group,
    the simulation's gating window shaded.

    Args:
        profile: :func:`cornlib.data.promoter_stats.core_profile` (``group``, ``position``,
            ``per_1000``).
        window: the core window of the simulation (bp relative to the TSS).

    Returns:
        ``fig, ax``.
    """
    import matplotlib.pyplot as plt
    import seaborn as sns

    fig, ax = plt.subplots(figsize=(8, 3.5))
    width = float(np.diff(np.unique(profile["position"])).min()) if profile["position"].nunique() > 1 else 1
    data = profile.assign(centre=profile["position"] + width / 2)
    sns.lineplot(data, x="centre", y="per_1000", hue="group", drawstyle="steps-mid", ax=ax)
    ax.axvspan(*window, color="grey", alpha=0.2, label="core window")
    ax.set(xlabel="hit centre relative to the TSS (bp)", ylabel="hits per 1,000 promoters")
    ax.legend(title=None, frameon=False, loc="upper left", fontsize=8)
    sns.despine(fig)
    fig.tight_layout()
    return fig, ax


@styled
def importance_profile(profile: pd.DataFrame):
    """Importance by position relative to the TSS, one panel per model, one line per method
    (mean over genes, the band their quartiles; a dotted line at zero).

    Args:
        profile: ``model``, ``method``, ``bin_start``, ``mean``, ``q25``, ``q75``
            (:func:`cornlib.interpret.kmer_flip.tss_profile` rows, labelled).

    Returns:
        ``fig, axes``.
    """
    import seaborn as sns

    if profile.empty:
        return placeholder("No importance to draw.")
    models = list(dict.fromkeys(profile["model"]))
    fig, axes = panels(len(models), (4.0, 3.4), sharey=True)
    colours = dict(zip(dict.fromkeys(profile["method"]), sns.color_palette("colorblind")))
    for ax, model in zip(axes, models):
        for method, g in profile[profile["model"] == model].groupby("method", sort=False):
            g = g.sort_values("bin_start")
            ax.plot(g["bin_start"], g["mean"], color=colours[method], label=method, lw=1.3)
            ax.fill_between(g["bin_start"], g["q25"], g["q75"], color=colours[method], alpha=0.15,
                            lw=0)
        ax.axvline(0, color="0.3", ls="--", lw=1)
        ax.axhline(0, color="0.6", ls=":", lw=0.8)
        ax.set(title=model, xlabel="bp relative to the TSS")
    axes[0].set_ylabel("mean change over tissues")
    axes[-1].legend(frameon=False, fontsize=8)
    sns.despine(fig)
    fig.tight_layout()
    return fig, axes
