"""Figures of the baselines chapter: scores per model with their CIs, and the share of the noise ceiling."""

from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd

_LABELS = {"pearson_r2": "Pearson r²", "r2": "R²", "pearson_r": "Pearson r",
           "spearman_rho": "Spearman ρ", "mse": "MSE", "mae": "MAE",
           "r2_of_ceiling": "R² / noise ceiling", "pearson_r2_of_ceiling": "Pearson r² / noise ceiling"}


def _panel(ax, results: pd.DataFrame, metric: str, target: str, models: list[str],
           detail: Sequence[str]) -> None:
    """One model-per-row panel: the target's value with its CI, and faint dots for ``detail``."""
    import seaborn as sns

    sub = results[(results["metric"] == metric) & (results["target"] == target)].set_index("model")
    y = np.arange(len(models))
    colors = sns.color_palette("colorblind", len(models))
    if detail:
        dots = results[(results["metric"] == metric) & results["target"].isin(detail)]
        for i, m in enumerate(models):
            vals = dots.loc[dots["model"] == m, "value"].to_numpy()
            ax.scatter(vals, np.full(len(vals), i) + 0.18, s=9, color="0.6", zorder=1,
                       label="single tissue" if i == 0 else None)
    for i, m in enumerate(models):
        if m not in sub.index or not np.isfinite(sub.loc[m, "value"]):
            ax.text(0, i, "  undefined", va="center", fontsize=8, color="0.4")
            continue
        v, lo, hi = sub.loc[m, ["value", "ci_low", "ci_high"]].to_numpy(float)
        # a percentile interval need not contain the point estimate: clip the bar at it
        err = [[max(v - lo, 0.0)], [max(hi - v, 0.0)]] if np.isfinite(lo) else None
        ax.errorbar(v, i, xerr=err, fmt="o", color=colors[i], capsize=3, zorder=2)
    ax.axvline(0, color="0.3", lw=0.8)
    ax.set_yticks(y, models)
    ax.set_ylim(len(models) - 0.5, -0.5)
    ax.set_title(target)
    ax.set_xlabel(_LABELS.get(metric, metric))


def metric_by_model(results: pd.DataFrame, metric: str = "pearson_r2",
                    targets: Sequence[str] = ("overall", "proxy"), detail: bool = True):
    """One panel per target: each model's test score with its bootstrap CI.

    Args:
        results: tidy table ``model, target, metric, value, ci_low, ci_high``.
        metric: the metric to show.
        targets: the panels (targets absent from ``results`` are skipped).
        detail: in the ``overall`` panel, also dot every single target that went into it.

    Returns:
        ``fig, axes``.
    """
    import matplotlib.pyplot as plt

    present = [t for t in targets if (results["target"] == t).any()]
    if not present:
        raise ValueError(f"none of the targets {list(targets)} is in the results")
    models = list(dict.fromkeys(results["model"]))
    single = [t for t in dict.fromkeys(results["target"]) if t not in targets]
    fig, axes = plt.subplots(1, len(present), figsize=(4.2 * len(present), 0.45 * len(models) + 1.6),
                             sharey=True, squeeze=False)
    for ax, target in zip(axes[0], present):
        _panel(ax, results, metric, target, models, single if detail and target == "overall" else [])
    if detail and "overall" in present and single:
        axes[0][present.index("overall")].legend(loc="lower right", fontsize=8, frameon=False)
    fig.tight_layout()
    return fig, axes[0]


def noise_ceiling(results: pd.DataFrame, metric: str = "r2_of_ceiling", target: str = "overall"):
    """Each model's score as a fraction of the noise ceiling (simulated targets), with its CI.

    A value of 1 means the model explains all the variance that the simulation's noise leaves
    explainable; dots are single tissues.

    Returns:
        ``fig, ax``.
    """
    import matplotlib.pyplot as plt

    sub = results[results["metric"] == metric]
    if sub.empty:
        raise ValueError(f"no {metric!r} rows: the targets card has no noise ceiling "
                         "(measured targets have none)")
    models = list(dict.fromkeys(sub["model"]))
    single = [t for t in dict.fromkeys(sub["target"]) if t != target]
    fig, ax = plt.subplots(figsize=(5.5, 0.45 * len(models) + 1.6))
    _panel(ax, sub, metric, target, models, single)
    ax.axvline(1, color="firebrick", ls="--", lw=1, label="noise ceiling")
    ax.legend(loc="lower right", fontsize=8, frameon=False)
    ax.set_title(f"{target}: share of the explainable variance")
    fig.tight_layout()
    return fig, ax
