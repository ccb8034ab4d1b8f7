"""Scatter plots: observed against predicted values per target, and 2-D maps of embeddings."""

from __future__ import annotations

import numpy as np
import pandas as pd

from cornlib.plots.style import styled


@styled
def observed_vs_predicted(predictions: pd.DataFrame, model: str, ncols: int = 5):
    """One panel per target: each test gene's observed value against the model's prediction.

    Args:
        predictions: long predictions (``model``, ``target``, ``y_true``, ``y_pred``).
        model: the model drawn.

    Returns:
        ``fig, axes``.
    """
    import matplotlib.pyplot as plt

    sub = predictions[predictions["model"] == model]
    if sub.empty:
        raise ValueError(f"no predictions of model {model!r}")
    targets = list(dict.fromkeys(sub["target"]))
    nrows = -(-len(targets) // ncols)
    fig, axes = plt.subplots(nrows, min(ncols, len(targets)), squeeze=False,
                             figsize=(1.6 * min(ncols, len(targets)), 1.9 * nrows))
    for ax, t in zip(axes.ravel(), targets):
        part = sub[sub["target"] == t]
        ax.scatter(part["y_pred"], part["y_true"], s=3, alpha=0.35, lw=0, color="C0")
        lo = float(np.nanmin([part["y_pred"].min(), part["y_true"].min()]))
        hi = float(np.nanmax([part["y_pred"].max(), part["y_true"].max()]))
        ax.plot([lo, hi], [lo, hi], color="0.5", lw=0.7, ls="--")
        r = np.corrcoef(part["y_pred"], part["y_true"])[0, 1]
        ax.set_title(f"{t}\nPearson r² {r * r:.2f}", fontsize=8)
        ax.tick_params(labelsize=7)
    for ax in axes.ravel()[len(targets):]:
        ax.set_axis_off()
    fig.supxlabel("predicted", fontsize=9)
    fig.supylabel("observed", fontsize=9)
    fig.tight_layout()
    return fig, axes


@styled
def embedding_map(coords: dict[str, np.ndarray], labels: pd.DataFrame):
    """2-D maps of the same embeddings (e.g. PCA and UMAP), coloured by each column of
    ``labels`` (a categorical column gets a legend, a numeric one a colour bar).

    Returns:
        ``fig, axes`` (rows: methods; columns: label columns).
    """
    import matplotlib.pyplot as plt

    methods, cols = list(coords), list(labels.columns)
    fig, axes = plt.subplots(len(methods), len(cols), squeeze=False,
                             figsize=(3.8 * len(cols), 3.4 * len(methods)))
    for i, method in enumerate(methods):
        xy = coords[method]
        for j, col in enumerate(cols):
            ax, values = axes[i, j], labels[col]
            if pd.api.types.is_numeric_dtype(values):
                art = ax.scatter(xy[:, 0], xy[:, 1], c=values, s=3, cmap="viridis", lw=0)
                bar = fig.colorbar(art, ax=ax, shrink=0.8)
                bar.set_label(col, fontsize=8, labelpad=6)
                bar.ax.tick_params(labelsize=7)
            else:
                for k, (name, idx) in enumerate(values.groupby(values).groups.items()):
                    ax.scatter(xy[idx, 0], xy[idx, 1], s=3, lw=0, color=f"C{k}", label=name)
                ax.legend(frameon=False, fontsize=7, markerscale=3)
            ax.set(xticks=[], yticks=[], title=f"{method}: {col}")
    fig.tight_layout()
    return fig, axes
