"""Figures of the pretraining chapter: loss curves, held-out scores by species, one promoter."""

from __future__ import annotations

import numpy as np
import pandas as pd

METRICS = {"token_accuracy": "masked-token accuracy",
           "bits_per_base": "bits per base (lower is better)",
           "base_accuracy": "base accuracy"}


def loss_curves(curves: pd.DataFrame | dict[str, pd.DataFrame]):
    """Training and validation loss against the optimisation step, one panel per run.

    Args:
        curves: :func:`cornlib.train.loss_curves` rows (``step``, ``split``, ``loss``), with a
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


def heldout_scores(summary: pd.DataFrame, metrics: tuple[str, ...] = tuple(METRICS)):
    """Held-out scores per species for each predictor, one panel per metric.

    Args:
        summary: :func:`cornlib.pretrain.summarize` (``predictor``, ``species``, metric columns).
        metrics: columns to draw.

    Returns:
        ``fig, axes``.
    """
    import matplotlib.pyplot as plt
    import seaborn as sns

    data = summary[summary["species"] != "all"]
    fig, axes = plt.subplots(1, len(metrics), figsize=(4.2 * len(metrics), 3.6), squeeze=False)
    for i, (ax, metric) in enumerate(zip(axes[0], metrics)):
        part = data.dropna(subset=[metric])
        sns.barplot(part, x="species", y=metric, hue="predictor", ax=ax,
                    hue_order=[p for p in dict.fromkeys(data["predictor"])
                               if p in set(part["predictor"])])
        ax.set(title=METRICS.get(metric, metric), xlabel=None, ylabel=None)
        if metric == "bits_per_base":
            ax.axhline(2.0, color="0.4", ls="--", lw=1)
            ax.set_ylim(max(0.0, part[metric].min() - 0.3), 2.1)
        if i < len(metrics) - 1:
            ax.get_legend().remove()
        else:
            ax.legend(title=None, frameon=False, fontsize=8, loc="upper left",
                      bbox_to_anchor=(1.0, 1.0))
    sns.despine(fig)
    fig.tight_layout()
    return fig, axes[0]


def token_predictions(table: pd.DataFrame, n: int = 30):
    """Probability given to the true token at the first ``n`` masked positions of one promoter.

    Args:
        table: :func:`cornlib.pretrain.predictions_on` (``position``, ``true``, ``masked``,
            ``predicted``, ``p_true``, ``correct``).
        n: masked positions to draw.

    Returns:
        ``fig, ax``; each bar is labelled with the true token and, when the top guess is wrong,
        the guess under it.
    """
    import matplotlib.pyplot as plt
    import seaborn as sns

    part = table[table["masked"]].head(n).reset_index(drop=True)
    fig, ax = plt.subplots(figsize=(max(6.0, 0.33 * len(part) + 1.5), 4.2))
    right, wrong = sns.color_palette()[2], sns.color_palette()[0]
    colors = [right if ok else wrong for ok in part["correct"]]
    ax.bar(np.arange(len(part)), part["p_true"], color=colors)
    labels = [t if ok else f"{t}\n≠{p}" for t, p, ok in
              zip(part["true"], part["predicted"], part["correct"])]
    ax.set_xticks(np.arange(len(part)), labels, rotation=90, fontsize=7, family="monospace")
    ax.set(yscale="log", ylabel="P(true token)",
           xlabel="masked tokens along the promoter (5'→3')",
           title="Masked tokens of one held-out promoter (green: top guess right)")
    sns.despine(fig)
    fig.tight_layout()
    return fig, ax
