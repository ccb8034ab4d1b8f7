"""Sentences from paired differences (:func:`cornlib.evaluate.metrics.paired_differences`): the
verb from where the interval lies (:data:`cornlib.evaluate.resample.VERBS`), the numbers beside
it, and a claim that holds on Pearson r² and R² or says on which one it holds."""

from __future__ import annotations

import numpy as np
import pandas as pd

from cornlib.evaluate import resample

#: How each metric is written in a sentence.
METRIC_WORDS = {"pearson_r2": "Pearson r²", "r2": "R²", "pearson_r": "Pearson r",
                "spearman_rho": "Spearman ρ", "mse": "MSE", "mae": "MAE"}


def _row(differences: pd.DataFrame, model: str, reference: str, target: str,
         metric: str) -> pd.Series:
    sub = differences[(differences["model"] == model) & (differences["reference"] == reference)
                      & (differences["target"] == target) & (differences["metric"] == metric)]
    if sub.empty:
        raise ValueError(f"no paired difference of {model!r} against {reference!r} for "
                         f"{target!r} / {metric!r}")
    return sub.iloc[0]


def _parts(row: pd.Series, metric: str, digits: int) -> tuple[str, str]:
    """(verb, ``Δ <metric> = value [low, high]`` or ``<metric> undefined``) of one row."""
    verb = resample.VERBS[resample.verdict(row["ci_low"], row["ci_high"],
                                           higher_is_better=metric not in ("mse", "mae"))]
    label = METRIC_WORDS.get(metric, metric)
    if not np.isfinite(row["value"]):
        return verb, f"{label} undefined"
    f = f"{{:+.{digits}f}}"
    return verb, (f"Δ {label} = {f.format(row['value'])} "
                  f"[{f.format(row['ci_low'])}, {f.format(row['ci_high'])}]")


def describe(differences: pd.DataFrame, model: str, reference: str, *, target: str = "overall",
             metric: str = "pearson_r2", digits: int = 3) -> str:
    """A sentence from a paired difference: ``kmer_ridge beats nucleotide_ridge (Δ Pearson r² =
    +0.120 [+0.100, +0.140])``, the verb from the interval
    (:func:`cornlib.evaluate.resample.verdict`)."""
    verb, numbers = _parts(_row(differences, model, reference, target, metric), metric, digits)
    return f"{model} {verb} {reference} ({numbers})"


def describe_both(differences: pd.DataFrame, model: str, reference: str, *,
                  target: str = "overall", digits: int = 3) -> str:
    """A claim that holds on Pearson r² and R², or says on which it holds.

    ``a beats b on Pearson r² (Δ …) and on R² (Δ …)`` when both verdicts agree; otherwise both
    intervals are given and the sentence names the metric the verdict holds on, e.g. ``a beats
    b on Pearson r² (…) but is indistinguishable from b on R² (…): the claim holds on Pearson
    r² only``.
    """
    parts = {m: _parts(_row(differences, model, reference, target, m), m, digits)
             for m in ("pearson_r2", "r2")}
    (v1, t1), (v2, t2) = parts["pearson_r2"], parts["r2"]
    if v1 == v2:
        return f"{model} {v1} {reference} on Pearson r² ({t1}) and on R² ({t2})"
    held = [METRIC_WORDS[m] for m, (v, _) in parts.items()
            if v in (resample.VERBS["better"], resample.VERBS["worse"])]
    tail = (f": the claim holds on {held[0]} only" if len(held) == 1
            else ": the two metrics disagree")
    return (f"{model} {v1} {reference} on Pearson r² ({t1}) but {v2} {reference} on R² "
            f"({t2}){tail}")
