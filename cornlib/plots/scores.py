"""Models compared: test scores with their CIs, the share of the noise ceiling, held-out scores
per species, and the probability given to each masked token."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from cornlib.plots.style import panels, styled

# axis labels of the regression metrics (cornlib.evaluate.metrics)
_LABELS = {"pearson_r2": "Pearson r²", "r2": "R²", "pearson_r": "Pearson r",
           "spearman_rho": "Spearman ρ", "mse": "MSE", "mae": "MAE",
           "r2_of_ceiling": "R² / noise ceiling", "pearson_r2_of_ceiling": "Pearson r² / noise ceiling"}

# panel titles of the masked-language-model metrics, and the default panels of heldout_scores
METRICS = {"token_accuracy": "masked-token accuracy",
           "bits_per_base": "bits per base (lower is better)",
           "base_accuracy": "base accuracy"}


def _panel(ax, results: pd.DataFrame, metric: str, target: str, models: list[str],
           detail: Sequence[str], oracle: str | None = None) -> None:
    """One model-per-row panel: the target's value with its CI, and faint dots for ``detail``.

    The ``oracle`` row (a model of the true sites, not of sequence) is drawn as an open diamond.
    """
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
            ax.text(0, i, "  undefined" if m in sub.index else "  not scored", va="center",
                    fontsize=8, color="0.4")
            continue
        v, lo, hi = sub.loc[m, ["value", "ci_low", "ci_high"]].to_numpy(float)
        # a percentile interval need not contain the point estimate: clip the bar at it
        err = [[max(v - lo, 0.0)], [max(hi - v, 0.0)]] if np.isfinite(lo) else None
        style = dict(fmt="D", mfc="white", color="0.2") if m == oracle else dict(fmt="o", color=colors[i])
        ax.errorbar(v, i, xerr=err, capsize=3, zorder=2, **style)
    ax.axvline(0, color="0.3", lw=0.8)
    ax.set_yticks(y, models)
    ax.set_ylim(len(models) - 0.5, -0.5)
    ax.set_title(target)
    ax.set_xlabel(_LABELS.get(metric, metric))


def _ceiling_band(ax, results: pd.DataFrame, target: str) -> bool:
    """Shade the noise ceiling of ``target`` on the evaluated genes (value and CI); False if none."""
    rows = results[(results["metric"] == "noise_ceiling") & (results["target"] == target)]
    if rows.empty:
        return False
    v, lo, hi = rows.iloc[0][["value", "ci_low", "ci_high"]].to_numpy(float)
    if np.isfinite(lo):
        ax.axvspan(lo, hi, color="firebrick", alpha=0.12, lw=0)
    ax.axvline(v, color="firebrick", ls="--", lw=1, label="noise ceiling (test genes)")
    return True


def _difference_panel(ax, differences: pd.DataFrame, models: list[str], reference: str,
                      target: str, metric: str, oracle: str | None) -> None:
    """Model − reference with the interval of the paired difference, one row per model."""
    sub = differences[(differences["reference"] == reference) & (differences["target"] == target)
                      & (differences["metric"] == metric)].set_index("model")
    for i, m in enumerate(models):
        if m == reference:
            ax.text(0, i, "  reference", va="center", fontsize=8, color="0.3")
            continue
        if m not in sub.index or not np.isfinite(sub.loc[m, "value"]):
            ax.text(0, i, "  —", va="center", fontsize=8, color="0.4")
            continue
        v, lo, hi = sub.loc[m, ["value", "ci_low", "ci_high"]].to_numpy(float)
        color = "0.2" if m == oracle else ("tab:green" if lo > 0 else "tab:red" if hi < 0 else "0.5")
        err = [[max(v - lo, 0.0)], [max(hi - v, 0.0)]] if np.isfinite(lo) else None
        ax.errorbar(v, i, xerr=err, fmt="D" if m == oracle else "o", capsize=3, color=color,
                    mfc="white" if m == oracle else color)
    ax.axvline(0, color="0.3", lw=0.8)
    ax.set_ylim(len(models) - 0.5, -0.5)
    ax.set_title(f"{target}: paired difference vs {reference}")
    ax.set_xlabel(f"Δ {_LABELS.get(metric, metric)} (model − {reference})")


@styled
def metric_by_model(results: pd.DataFrame, metric: str = "pearson_r2",
                    targets: Sequence[str] = ("overall", "proxy"), detail: bool = True, *,
                    differences: pd.DataFrame | None = None, reference: str | None = None,
                    oracle: str | None = "oracle", ceiling: bool = True):
    """One panel per target: each model's test score with its bootstrap CI.

    Args:
        results: tidy table ``model, target, metric, value, ci_low, ci_high``.
        metric: the metric to show.
        targets: the panels (targets absent from ``results`` are skipped).
        detail: in the ``overall`` panel, also dot every single target that went into it.
        differences: :func:`cornlib.evaluate.metrics.paired_differences`; adds a last panel with
            each model minus ``reference`` on ``targets[0]`` (green: interval above 0, red: below).
        reference: the reference of that panel (default: the first in ``differences``).
        oracle: the model drawn as an open diamond (the true-site oracle), if present.
        ceiling: shade the noise ceiling on the evaluated genes (``noise_ceiling`` rows) in the
            panels of targets that have one.

    Returns:
        ``fig, axes``.
    """

    present = [t for t in targets if (results["target"] == t).any()]
    if not present:
        raise ValueError(f"none of the targets {list(targets)} is in the results")
    models = list(dict.fromkeys(results["model"]))
    single = [t for t in dict.fromkeys(results["target"]) if t not in targets]
    n_panels = len(present) + (differences is not None)
    fig, axes = panels(n_panels, (4.0, 0.32 * len(models) + 1.6), max_cols=2, sharey=True)
    for ax, target in zip(axes, present):
        _panel(ax, results, metric, target, models, single if detail and target == "overall" else [],
               oracle)
        marked = ceiling and metric in ("pearson_r2", "r2") and _ceiling_band(ax, results, target)
        if (detail and target == "overall" and single) or marked:
            ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=2, fontsize=8,
                      frameon=False)
    if differences is not None:
        refs = list(dict.fromkeys(differences["reference"]))
        if not refs:
            raise ValueError("differences is empty")
        reference = refs[0] if reference is None else reference
        if reference not in refs:
            raise ValueError(f"reference {reference!r} is not in differences (has {refs})")
        _difference_panel(axes[-1], differences, models, reference, present[0], metric, oracle)
    fig.tight_layout()
    return fig, axes


@styled
def noise_ceiling(results: pd.DataFrame, metric: str = "r2_of_ceiling", target: str = "overall",
                  oracle: str | None = "oracle"):
    """Each model's score as a fraction of the noise ceiling (simulated targets), with its CI.

    A value of 1 means the model explains all the variance that the simulation's noise leaves
    explainable (on the evaluated genes, when the ceiling was resampled with the scores); dots
    are single tissues; the ``oracle`` row is an open diamond.

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
    _panel(ax, sub, metric, target, models, single, oracle)
    ax.axvline(1, color="firebrick", ls="--", lw=1, label="noise ceiling")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=2, fontsize=8, frameon=False)
    ax.set_title(f"{target}: share of the explainable variance")
    fig.tight_layout()
    return fig, ax


@styled
def heldout_scores(summary: pd.DataFrame, metrics: tuple[str, ...] = tuple(METRICS)):
    """Held-out scores per species for each predictor, one panel per metric.

    Args:
        summary: :func:`cornlib.evaluate.mlm.summarize` (``predictor``, ``species``, metric columns).
        metrics: columns to draw.

    Returns:
        ``fig, axes``.
    """
    import seaborn as sns

    data = summary[summary["species"] != "all"]
    fig, axes = panels(len(metrics), (3.6, 3.2), max_cols=2)
    for ax, metric in zip(axes, metrics):
        part = data.dropna(subset=[metric])
        sns.barplot(part, x="species", y=metric, hue="predictor", ax=ax,
                    hue_order=[p for p in dict.fromkeys(data["predictor"])
                               if p in set(part["predictor"])])
        ax.set(title=METRICS.get(metric, metric), xlabel=None, ylabel=None)
        if metric == "bits_per_base":
            ax.axhline(2.0, color="0.4", ls="--", lw=1)
            ax.set_ylim(max(0.0, part[metric].min() - 0.3), 2.1)
        ax.get_legend().remove()
    sns.despine(fig)
    fig.tight_layout()
    # After the layout, so that the legend takes the empty panel (or goes below the last one)
    # instead of pushing the panels apart.
    handles, labels = max((ax.get_legend_handles_labels() for ax in axes),
                          key=lambda hl: len(hl[1]))
    grid = axes[0].get_subplotspec().get_gridspec()
    empty_slot = len(axes) < grid.ncols * grid.nrows
    axes[-1].legend(handles, labels, title=None, frameon=False,
                    **({"loc": "upper left", "bbox_to_anchor": (1.1, 1.0)} if empty_slot else
                       {"loc": "upper center", "bbox_to_anchor": (0.5, -0.15), "ncol": 2}))
    return fig, axes


@styled
def token_predictions(table: pd.DataFrame, n: int = 30):
    """Probability given to the true token at the first ``n`` masked positions of one promoter.

    Args:
        table: :func:`cornlib.evaluate.mlm.predictions_on` (``position``, ``true``, ``masked``,
            ``predicted``, ``p_true``, ``correct``).
        n: masked positions to draw.

    Returns:
        ``fig, ax``; each bar is labelled with the true token and, when the top guess is wrong,
        the guess after it (``ATGC ≠TTG``).
    """
    import matplotlib.pyplot as plt
    import seaborn as sns

    part = table[table["masked"]].head(n).reset_index(drop=True)
    fig, ax = plt.subplots(figsize=(min(max(6.0, 0.33 * len(part) + 1.5), 8.0), 4.2))
    right, wrong = sns.color_palette()[2], sns.color_palette()[0]
    colors = [right if ok else wrong for ok in part["correct"]]
    ax.bar(np.arange(len(part)), part["p_true"], color=colors)
    labels = [t if ok else f"{t} ≠{p}" for t, p, ok in
              zip(part["true"], part["predicted"], part["correct"])]
    ax.set_xticks(np.arange(len(part)), labels, rotation=90, fontsize=7, family="monospace")
    ax.set(yscale="log", ylabel="P(true token)",
           xlabel="masked tokens along the promoter (5'→3')",
           title="Masked tokens of one held-out promoter (green: top guess right)")
    sns.despine(fig)
    fig.tight_layout()
    return fig, ax


@styled
def recovery(table: pd.DataFrame, metric: str = "auprc"):
    """How well each method's importance finds the true sites, per model: the mean over genes
    with its interval, and the chance level (the share of true-site positions) as a line.

    Args:
        table: :func:`cornlib.interpret.recovery.table` rows for ``target == "overall"``
            (long: ``model``, ``method``, ``metric``, ``value``, ``ci_low``, ``ci_high``).

    Returns:
        ``fig, ax``.
    """
    import matplotlib.pyplot as plt
    import seaborn as sns

    from cornlib.plots._common import placeholder

    if table.empty:
        return placeholder("No true sites to recover (measured targets).")
    chance = float(table.loc[table["metric"] == "chance", "value"].mean())
    table = table[table["metric"] == metric]
    models = list(dict.fromkeys(table["model"]))
    methods = list(dict.fromkeys(table["method"]))
    fig, ax = plt.subplots(figsize=(8, 0.45 * len(methods) * len(models) + 1.2))
    colours = dict(zip(models, sns.color_palette("colorblind")))
    step = 0.8 / len(models)
    for k, model in enumerate(models):
        sub = table[table["model"] == model].set_index("method").reindex(methods)
        y = np.arange(len(methods)) + (k - (len(models) - 1) / 2) * step
        ax.errorbar(sub["value"], y, xerr=[sub["value"] - sub["ci_low"],
                                           sub["ci_high"] - sub["value"]],
                    fmt="o", color=colours[model], label=model, capsize=2)
    if metric == "auprc":
        ax.axvline(chance, color="0.4", ls=":", lw=1)
        ax.text(chance, -0.7, " chance", fontsize=8, color="0.4")
    else:
        ax.axvline(0.5, color="0.4", ls=":", lw=1)
    ax.set_yticks(range(len(methods)), methods)
    ax.invert_yaxis()
    ax.set_xlabel(f"{metric.upper()} of the true sites (mean over genes, 95 % interval)")
    ax.legend(frameon=False, fontsize=8, loc="lower right")
    sns.despine(fig)
    fig.tight_layout()
    return fig, ax


@styled
def driver_capture(table: pd.DataFrame, gate: pd.DataFrame | None = None,
                   learned_share: float | None = None, labels: dict[str, str] | None = None):
    """The share of each driver's effect that each model's predictions carry, with intervals,
    drivers ordered by their share of the drivers' variance (in the labels); a second panel
    gives each model's gate ratio beside the signal's.

    Args:
        table: :func:`cornlib.evaluate.shortfall.capture` (one split).
        gate: :func:`cornlib.evaluate.shortfall.gate_use` on the same genes, or ``None``.
        learned_share: drawn as a dotted line (the threshold of "learned").
        labels: display names of the models.

    Returns:
        ``fig, axes``.
    """
    import matplotlib.pyplot as plt
    import seaborn as sns

    from cornlib.plots._common import placeholder

    if table.empty:
        return placeholder("No drivers to capture (measured targets).")
    labels = dict(labels or {})
    table = table[table["motif"] != "*"]  # the summary row of capture(summary=True)
    models = list(dict.fromkeys(table["model"]))
    order = (table.drop_duplicates("term").sort_values("variance_share", ascending=False))
    ticks = [f"{t} ({s:.0%})" for t, s in zip(order["term"], order["variance_share"])]
    widths = [3, 1] if gate is not None and not gate.empty else [1]
    fig, axes = plt.subplots(1, len(widths), figsize=(7.4, 0.32 * len(order) + 1.6),
                             gridspec_kw={"width_ratios": widths}, squeeze=False)
    axes = axes[0]
    colours = dict(zip(models, sns.color_palette("colorblind")))
    step = 0.7 / len(models)
    for k, model in enumerate(models):
        sub = table[table["model"] == model].set_index("term").reindex(order["term"])
        y = np.arange(len(order)) + (k - (len(models) - 1) / 2) * step
        err = [np.maximum(sub["value"] - sub["ci_low"], 0),
               np.maximum(sub["ci_high"] - sub["value"], 0)]
        axes[0].errorbar(sub["value"], y, xerr=err, fmt="o", ms=4, capsize=2,
                         color=colours[model], label=labels.get(model, model))
    for x in (0, 1):
        axes[0].axvline(x, color="0.3", lw=0.8)
    if learned_share is not None:
        axes[0].axvline(learned_share, color="0.4", ls=":", lw=1)
    axes[0].set_yticks(range(len(order)), ticks)
    axes[0].invert_yaxis()
    axes[0].set_xlabel("share of the driver's effect carried")
    axes[0].legend(frameon=False, fontsize=8, loc="lower right")
    if len(axes) > 1:
        rows = gate.set_index("model").reindex(models)
        for i, model in enumerate(models):
            v, lo, hi = rows.loc[model, ["value", "ci_low", "ci_high"]].to_numpy(float)
            axes[1].errorbar(v, i, xerr=[[max(v - lo, 0)], [max(hi - v, 0)]], fmt="o", ms=4,
                             capsize=2, color=colours[model])
        signal = float(gate["signal"].iloc[0])
        axes[1].axvline(signal, color="0.2", ls="--", lw=1)
        axes[1].text(signal, len(models) - 0.5, " signal", fontsize=8, color="0.2",
                     va="bottom")
        low = np.nanmin(np.r_[rows["ci_low"].to_numpy(float), 1.0])
        axes[1].set_xlim(min(low, 1.0) - 0.15, max(signal, np.nanmax(rows["ci_high"])) + 0.25)
        axes[1].axvline(1, color="0.3", lw=0.8)
        axes[1].set_yticks(range(len(models)), [labels.get(m, m) for m in models])
        axes[1].set_ylim(len(models) - 0.5, -0.5)
        axes[1].set_xlabel("slope, gated ÷ other genes")
        axes[1].set_title("core gate", fontsize=9)
    sns.despine(fig)
    fig.tight_layout()
    return fig, axes


@styled
def learning_curve(results: pd.DataFrame, carried: pd.DataFrame | None = None,
                   metric: str = "pearson_r2", labels: dict[str, str] | None = None):
    """Test scores against the number of training genes, one line per model with intervals;
    with ``carried``, a second panel: the share of the drivers' effect each model carries.

    Args:
        results: the learning curve's results (``fraction, n_train_genes, model, metric,
            value, ci_low, ci_high``; :func:`cornlib.evaluate.recorded.curve`).
        carried: :func:`cornlib.evaluate.recorded.curve_carried` (its summary rows are drawn:
            ``model, n_train_genes, value, ci_low, ci_high``), or ``None``.
        labels: display names of the models.

    Returns:
        ``fig, axes``.
    """
    import matplotlib.pyplot as plt
    import seaborn as sns

    from cornlib.plots._common import placeholder

    labels = dict(labels or {})
    results = results[results["metric"] == metric]
    if results.empty:
        return placeholder("No learning curve is recorded for these data.")
    models = list(dict.fromkeys(results["model"]))
    colours = dict(zip(models, sns.color_palette("colorblind")))
    if carried is not None and "motif" in carried:
        carried = carried[carried["motif"] == "*"]  # the summaries of capture(summary=True)
    n = 2 if carried is not None and not carried.empty else 1
    fig, axes = plt.subplots(1, n, figsize=(4 * n, 3.2), squeeze=False)
    axes = axes[0]
    for ax, table, ylabel in [(axes[0], results, _LABELS.get(metric, metric)),
                              *([(axes[1], carried, "share of the drivers' effect")]
                                if n == 2 else [])]:
        for model in models:
            sub = table[table["model"] == model].sort_values("n_train_genes")
            if sub.empty:
                continue
            err = [np.maximum(sub["value"] - sub["ci_low"], 0),
                   np.maximum(sub["ci_high"] - sub["value"], 0)]
            ax.errorbar(sub["n_train_genes"], sub["value"], yerr=err, marker="o", ms=4,
                        capsize=2, color=colours[model], label=labels.get(model, model),
                        ls="--" if model == "oracle" else "-")
        ax.set_xscale("log", base=2)
        ticks = sorted(results["n_train_genes"].unique())
        ax.set_xticks(ticks, [f"{int(t):,}" for t in ticks])
        ax.minorticks_off()
        ax.set_xlabel("training genes")
        ax.set_ylabel(ylabel)
    axes[0].legend(frameon=False, fontsize=8)
    sns.despine(fig)
    fig.tight_layout()
    return fig, axes
