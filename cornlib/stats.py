"""Plain score formulas shared below the evaluation layer (simulation, training)."""

from __future__ import annotations

import numpy as np

#: The regression metrics of the book, in the order tables show them.
METRICS: tuple[str, ...] = ("mse", "mae", "pearson_r", "pearson_r2", "spearman_rho", "r2")


def r2_columns(y_true: np.ndarray, y_pred: np.ndarray) -> np.ndarray:
    """R² of each column of ``y_pred`` for the same column of ``y_true``, shape (n_targets,).

    Truth first (``sklearn.metrics.r2_score`` order); NaN for a constant truth column.
    """
    t = np.asarray(y_true, dtype=float)
    t = t.reshape(len(t), -1)
    p = np.asarray(y_pred, dtype=float).reshape(t.shape)
    t, p = t.T, p.T  # genes along the last axis, as evaluate.metrics computes every score
    err = p - t
    tc = t - t.mean(axis=-1, keepdims=True)
    ss_tot = (tc * tc).sum(axis=-1)
    ss_res = (err * err).sum(axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(ss_tot > 0, 1.0 - ss_res / ss_tot, np.nan)


def mean_r2(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Mean R² over target columns (the model-selection score on ``valid``)."""
    return float(np.nanmean(r2_columns(y_true, y_pred)))
