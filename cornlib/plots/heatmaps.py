"""Heat maps with a colour bar: clustered tissue correlations, genes × tissues, driver effects.

Every colour bar has its label on the side away from its tick labels (or beyond them), broken
into lines that fit along the bar, so that the label never runs into the ticks or off the figure.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import pandas as pd

from cornlib.plots._common import placeholder, tissue_columns
from cornlib.plots.style import styled

_LABEL_SIZE, _TICK_SIZE = 9, 8  # points, colour-bar label and tick labels
_TICK_ROOM = 0.45  # inches right of a corner colour bar for its tick marks and labels


def _text_width(text: str, size: float) -> float:
    """Width in inches of one line of ``text`` at ``size`` points in the default font."""
    from matplotlib.font_manager import FontProperties
    from matplotlib.textpath import TextToPath

    width, _, _ = TextToPath().get_text_width_height_descent(text, FontProperties(size=size),
                                                             ismath=False)
    return width / 72


def _wrap(text: str, length: float, size: float = _LABEL_SIZE) -> str:
    """``text`` broken at spaces into lines of at most ``length`` inches (a longer word keeps a
    line of its own)."""
    lines = []
    for word in text.split(" "):
        if lines and _text_width(f"{lines[-1]} {word}", size) <= length:
            lines[-1] = f"{lines[-1]} {word}"
        else:
            lines.append(word)
    return "\n".join(lines)


def _label_colorbar(cax, label: str) -> None:
    """Small tick labels on the vertical colour bar ``cax``, and ``label`` wrapped to its height."""
    fig = cax.figure
    length = cax.get_position().height * fig.get_size_inches()[1]
    cax.tick_params(labelsize=_TICK_SIZE)
    cax.set_ylabel(_wrap(label, length), fontsize=_LABEL_SIZE, labelpad=6)


def _colorbar_in_corner(grid, label: str) -> None:
    """Fit the colour bar of the seaborn ClusterGrid ``grid`` into its empty top-left corner.

    The corner lies left of the column dendrogram and above the heat map; the bar stands at its
    right with the tick labels to the right of the bar and the label to its left, so the two
    never meet and neither reaches the dendrograms.
    """
    fig = grid.figure
    width, height = fig.get_size_inches()
    col, heat = grid.ax_col_dendrogram.get_position(), grid.ax_heatmap.get_position()
    right = col.x0 - _TICK_ROOM / width
    left = right - 0.12 / width
    bottom, top = heat.y1 + 0.12 / height, col.y1 - 0.06 / height
    grid.ax_cbar.set_position([left, bottom, right - left, top - bottom])
    grid.ax_cbar.yaxis.set_label_position("left")
    _label_colorbar(grid.ax_cbar, label)


@styled
def tissue_clustermap(expression: pd.DataFrame, method: str = "spearman"):
    """Clustered tissue × tissue correlation of log-expression across genes.

    Returns:
        ``fig, ax`` (the heatmap axes of the seaborn ClusterGrid).
    """
    import seaborn as sns

    tissues = tissue_columns(expression)
    corr = expression[tissues].corr(method=method)
    grid = sns.clustermap(corr, cmap="rocket_r", vmin=min(0.0, float(corr.min().min())), vmax=1,
                          annot=len(tissues) <= 12, fmt=".2f", annot_kws={"size": 7},
                          figsize=(7, 7))
    _colorbar_in_corner(grid, f"{method} correlation")
    return grid.figure, grid.ax_heatmap


@styled
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

    tissues = tissue_columns(expression)
    sample = expression.sample(n=min(n_genes, len(expression)), random_state=seed)
    grid = sns.clustermap(sample.set_index("gene_id")[tissues], cmap="viridis", yticklabels=False,
                          figsize=(7, 8), dendrogram_ratio=(0.15, 0.15))
    _colorbar_in_corner(grid, "log-expression")
    grid.ax_heatmap.set_ylabel(f"{len(sample)} random genes")
    return grid.figure, grid.ax_heatmap


@styled
def driver_effects(card: dict[str, Any]):
    """Heatmap of each driver motif's effect on log-expression in each tissue.

    Returns:
        ``fig, ax``; a note when the card has no drivers (measured data).
    """
    import matplotlib.pyplot as plt
    import seaborn as sns

    drivers = card.get("drivers") or []
    if not drivers:
        return placeholder("No driver motifs: these targets are measured.")
    effects = pd.DataFrame({f"{d['name']} ({d['matrix_id']})": d["effects"] for d in drivers}).T
    # at least 2.6 in tall, so that a colour bar of one or two drivers still holds its label
    fig, ax = plt.subplots(figsize=(0.55 * effects.shape[1] + 3,
                                    max(0.35 * len(effects) + 1.5, 2.6)))
    lim = float(np.abs(effects.to_numpy()).max()) or 1.0
    sns.heatmap(effects, cmap="vlag", center=0, vmin=-lim, vmax=lim, annot=True, fmt=".1f",
                annot_kws={"size": 7}, ax=ax)
    ax.set(xlabel="", ylabel="")
    fig.tight_layout()  # first for the bar's final height, then again for the label's width
    _label_colorbar(ax.collections[0].colorbar.ax, "effect (log-expression)")
    fig.tight_layout()
    return fig, ax


@styled
def mutagenesis_map(delta: np.ndarray, sequence: str, start: int, stop: int, *,
                    sites: Sequence[tuple[int, int, str]] = (), title: str = ""):
    """One gene's saturation mutagenesis over ``[start, stop)``: a logo of each reference base's
    importance (its effect against the mean base) above a heat map of every substitution.

    Args:
        delta: ``(L, 4)`` predicted change of each substitution (0 at the reference).
        sequence: the promoter.
        sites: ``(start, end, label)`` true sites to shade (sequence coordinates).

    Returns:
        ``fig, axes``.
    """
    import logomaker
    import matplotlib.pyplot as plt

    d = np.asarray(delta, dtype=float)[start:stop]
    centred = d - d.mean(axis=1, keepdims=True)
    ref = np.zeros_like(centred)
    for i, b in enumerate(sequence[start:stop]):
        if b in "ACGT":
            ref[i, "ACGT".index(b)] = centred[i, "ACGT".index(b)]
    fig, axes = plt.subplots(2, 1, figsize=(8, 3.6), sharex=True,
                             gridspec_kw={"height_ratios": [1.2, 1]})
    logomaker.Logo(pd.DataFrame(ref, columns=list("ACGT"), index=np.arange(start, stop)),
                   ax=axes[0], color_scheme="classic")
    axes[0].axhline(0, color="0.5", lw=0.5)
    axes[0].set_ylabel("importance")
    lim = np.nanmax(np.abs(d)) or 1.0
    im = axes[1].imshow(d.T, aspect="auto", cmap="RdBu_r", vmin=-lim, vmax=lim,
                        extent=(start - 0.5, stop - 0.5, 3.5, -0.5), interpolation="nearest")
    axes[1].set_yticks(range(4), list("ACGT"))
    axes[1].set_xlabel("position in the promoter (bp from its 5' end)")
    for lo, hi, label in sites:
        for ax in axes:
            ax.axvspan(lo - 0.5, hi - 0.5, color="gold", alpha=0.25, lw=0)
        axes[0].text((lo + hi) / 2, axes[0].get_ylim()[1], label, ha="center", va="bottom",
                     fontsize=7)
    axes[1].set_xlim(start - 0.5, stop - 0.5)  # shared with the logo
    cbar = fig.colorbar(im, ax=axes, fraction=0.02, pad=0.01)
    _label_colorbar(cbar.ax, "predicted change")
    axes[0].set_title(title, fontsize=10, pad=14)
    return fig, axes
