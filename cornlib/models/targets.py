"""What a saved expression model promises its users: the targets it predicts, in which units.

Every regressor of the book (the CNN, the fine-tuned transformer) records in its config the
target names (tissues), each target's training mean and standard deviation, and the transform
the values went through (``"log1p"``: log(TPM + 1)). The network learns z-scores; outputs are
``z * std + mean``, in the original units; the loss is an MSE on z-scores over the labels that
are present (NaN = not measured).
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import torch


def fit_scaling(y: np.ndarray, names: Sequence[str]) -> dict[str, list]:
    """Config fields ``target_names``, ``target_mean`` and ``target_std`` from training labels.

    NaN labels are ignored. Raises ``ValueError`` naming a target that is constant or empty.
    """
    y = np.asarray(y, dtype=float).reshape(len(y), -1)
    if y.shape[1] != len(names):
        raise ValueError(f"{y.shape[1]} label columns for {len(names)} target names")
    with np.errstate(all="ignore"):
        mean, std = np.nanmean(y, axis=0), np.nanstd(y, axis=0)
    bad = [n for n, m, s in zip(names, mean, std) if not np.isfinite(m) or not s > 0]
    if bad:
        raise ValueError(f"targets {bad} are constant or have no value on the training genes")
    return {"target_names": list(names), "target_mean": mean.tolist(),
            "target_std": std.tolist()}


def target_scaling(config: Any, like: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The config's per-target mean and standard deviation as tensors (0 and 1 when unset)."""
    n = like.shape[-1]
    mean = like.new_tensor(getattr(config, "target_mean", None) or [0.0] * n)
    std = like.new_tensor(getattr(config, "target_std", None) or [1.0] * n)
    return mean, std


def masked_mse(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean squared error over the entries of ``target`` that are not NaN."""
    keep = ~torch.isnan(target)
    diff = pred.float()[keep] - target.float()[keep]
    return (diff * diff).sum() / keep.sum().clamp(min=1)


def target_names(config: Any) -> list[str]:
    """The names of a model's outputs (``target_0``… when the config records none)."""
    names = getattr(config, "target_names", None)
    if names:
        return list(names)
    n = getattr(config, "n_targets", None) or getattr(config, "num_labels", 1)
    return [f"target_{i}" for i in range(int(n))]


def expressed_threshold(tpm: float, transform: str | None) -> float:
    """A TPM threshold in the units of the targets: ``log(tpm + 1)`` for ``"log1p"`` targets.

    (FloraBERT compared log-scale targets with a TPM-scale threshold, which called every gene
    expressed; the threshold is converted here instead.)
    """
    import math

    if tpm < 0:
        raise ValueError(f"an expression threshold is a TPM ≥ 0, got {tpm}")
    return math.log1p(tpm) if transform in (None, "log1p") else float(tpm)


def mixed_loss(z: torch.Tensor, logit: torch.Tensor, labels: torch.Tensor, mean: torch.Tensor,
               std: torch.Tensor, threshold: float) -> torch.Tensor:
    """FloraBERT's "expressed / not expressed + level" loss, on target units.

    Binary cross-entropy of ``logit`` for ``labels > threshold`` on every present label, plus
    the z-score MSE of ``z`` on the expressed ones only; NaN labels are skipped.
    """
    present = ~torch.isnan(labels)
    on = (labels > threshold) & present
    bce = torch.nn.functional.binary_cross_entropy_with_logits(
        logit.float()[present], on.float()[present]) if present.any() else z.sum() * 0
    level = torch.where(on, (labels - mean) / std, torch.full_like(labels, float("nan")))
    return bce + masked_mse(z, level)


def mixed_prediction(z: torch.Tensor, logit: torch.Tensor, mean: torch.Tensor,
                     std: torch.Tensor, floor: float = 0.0) -> torch.Tensor:
    """Expected value: P(expressed) × level + (1 − P) × ``floor`` (the unexpressed value)."""
    p = torch.sigmoid(logit)
    return p * (z * std + mean) + (1 - p) * floor
