"""Training curves: loss against the optimisation step."""

from __future__ import annotations

import pandas as pd


def loss_curves(curves: pd.DataFrame | dict[str, pd.DataFrame]):
    """Training and validation loss against the optimisation step, one panel per run.

    Args:
        curves: :func:`cornlib.training.loss_curves` rows (``step``, ``split``, ``loss``), with a
            ``run`` column when several runs are drawn; or a mapping run name → such rows.

    Returns:
        ``fig, axes`` (one axis per run).
    """
    import matplotlib.pyplot as plt
    import seaborn as sns

    if isinstance(curves, dict):
        curves = pd.concat([c.assign(run=name) for name, c in curves.items()], ignore_index=True)
    if "run" not in curves:
        curves = curves.assign(run="pretraining")
    runs = list(dict.fromkeys(curves["run"]))
    fig, axes = plt.subplots(1, len(runs), figsize=(4.5 * len(runs), 3.5), squeeze=False,
                             sharey=True)
    for ax, run in zip(axes[0], runs):
        part = curves[curves["run"] == run]
        sns.lineplot(part, x="step", y="loss", hue="split", hue_order=["train", "valid"],
                     marker="o", markersize=4, ax=ax, estimator=None)
        ax.set(title=run, xlabel="optimisation step", ylabel="masked-token loss (nats)")
        ax.legend(title=None, frameon=False)
    sns.despine(fig)
    fig.tight_layout()
    return fig, axes[0]
