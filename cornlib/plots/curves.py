"""Training curves: loss against the optimisation step."""

from __future__ import annotations

import pandas as pd

from cornlib.plots.style import panels, styled


@styled
def loss_curves(curves: pd.DataFrame | dict[str, pd.DataFrame]):
    """Training and validation loss against the optimisation step, one panel per run.

    Args:
        curves: :func:`cornlib.training.loss_curves` rows (``step``, ``split``, ``loss``), with a
            ``run`` column when several runs are drawn; or a mapping run name → such rows.

    Returns:
        ``fig, axes`` (one axis per run).
    """
    import seaborn as sns

    if isinstance(curves, dict):
        curves = pd.concat([c.assign(run=name) for name, c in curves.items()], ignore_index=True)
    if "run" not in curves:
        curves = curves.assign(run="pretraining")
    runs = list(dict.fromkeys(curves["run"]))
    fig, axes = panels(len(runs), (4.0, 3.5), sharey=True)
    for ax, run in zip(axes, runs):
        part = curves[curves["run"] == run]
        sns.lineplot(part, x="step", y="loss", hue="split", hue_order=["train", "valid"],
                     marker="o", markersize=4, ax=ax, estimator=None)
        ax.set(title=run, xlabel="optimisation step", ylabel="masked-token loss (nats)")
        ax.legend(title=None, frameon=False)
    sns.despine(fig)
    fig.tight_layout()
    return fig, axes


@styled
def finetune_curves(history: pd.DataFrame, schedule: pd.DataFrame, per_target: pd.DataFrame):
    """Fine-tuning: train and valid loss by epoch with the unfreezing schedule drawn on them,
    and each target's valid R² by epoch.

    Args:
        history: ``TrainResult.history`` (:class:`cornlib.training.driver.TrainResult`) (``epoch``,
            ``split``, ``loss``), with a ``run`` column when several runs are drawn.
        schedule: the result's ``schedule`` (``group``, ``epoch``) of the first run.
        per_target: the result's ``per_target`` (``epoch``, ``r2``, one column per target).

    Returns:
        ``fig, axes`` (loss, R²).
    """
    import matplotlib.pyplot as plt
    import seaborn as sns

    if "run" not in history:
        history = history.assign(run="fine-tuning")
    fig, (ax, bx) = plt.subplots(1, 2, figsize=(8, 3.8), width_ratios=(1, 1))
    sns.lineplot(history, x="epoch", y="loss", hue="run", style="split",
                 style_order=["train", "valid"], estimator=None, ax=ax)
    marks = _unfreezing_marks(schedule, float(history["epoch"].max() or 0))
    for epoch, names in marks.items():  # one line per epoch, naming every group unfrozen then
        ax.axvline(epoch, color="0.6", lw=0.8, ls=":")
        ax.text(epoch, 1.0, " " + ", ".join(names), transform=ax.get_xaxis_transform(),
                rotation=90, va="top", ha="left", color="0.4")
    ax.set(xlabel="epoch", ylabel="loss (z-score MSE)",
           title="loss; dotted: layer groups unfrozen" if marks
           else "loss (every layer trained from the start)")
    ax.legend(frameon=False)
    targets = [c for c in per_target.columns if c not in ("epoch", "r2", "run")]
    long = per_target.melt(id_vars=["epoch"], value_vars=targets, var_name="target",
                           value_name="valid R²")
    sns.lineplot(long, x="epoch", y="valid R²", hue="target", ax=bx, lw=0.9, palette="tab10")
    bx.plot(per_target["epoch"], per_target["r2"], color="black", lw=2, label="mean")
    bx.set(xlabel="epoch", title="valid R² per target")
    bx.axhline(0, color="0.7", lw=0.6)
    bx.legend(frameon=False, loc="upper left", bbox_to_anchor=(1.0, 1.02),
              ncol=1 if len(targets) <= 12 else 2, handlelength=1.2)
    sns.despine(fig)
    fig.tight_layout()
    return fig, (ax, bx)


def _unfreezing_marks(schedule: pd.DataFrame, last_epoch: float) -> dict[float, list[str]]:
    """Epoch → the layer groups unfrozen at its start, for epochs after the first that the
    history reaches (groups trained from the start get no mark)."""
    return {float(epoch): list(names)
            for epoch, names in schedule.groupby("epoch", sort=True)["group"]
            if 0 < epoch <= last_epoch}


@styled
def finetune_runs(runs: dict):
    """Mean valid R² by epoch of several fine-tuning runs (``{name: TrainResult}``)."""
    import matplotlib.pyplot as plt
    import seaborn as sns

    long = pd.concat([r.per_target[["epoch", "r2"]].assign(run=name)
                      for name, r in runs.items()], ignore_index=True)
    fig, ax = plt.subplots(figsize=(6, 3.6))
    sns.lineplot(long, x="epoch", y="r2", hue="run", marker="o", markersize=4, ax=ax,
                 estimator=None)
    ax.set(xlabel="epoch", ylabel="valid R² (mean over targets)")
    ax.axhline(0, color="0.7", lw=0.6)
    ax.legend(frameon=False, fontsize=8)
    sns.despine(fig)
    fig.tight_layout()
    return fig, ax
