"""A trained model's predictions on a split, in the long form every evaluation reads.

Columns (:data:`COLUMNS`): ``model, seed, gene_id, species, target, y_true, y_pred``
(``seed`` names the training run of a model trained several times) — the same table the
baselines write, so a fine-tuned transformer and the baselines are scored by one call.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd

#: Columns of a long prediction table (the baselines' predictions too).
COLUMNS = ("model", "seed", "gene_id", "species", "target", "y_true", "y_pred")


def check_targets(model_targets: Sequence[str], data_targets: Sequence[str],
                  where: str = "the model") -> None:
    """Raise ``ValueError`` naming the targets that one side has and the other lacks."""
    only_model = [t for t in model_targets if t not in data_targets]
    only_data = [t for t in data_targets if t not in model_targets]
    if only_model or only_data:
        raise ValueError(f"the targets of {where} do not match the data: the model predicts "
                         f"{only_model or 'nothing'} that the data lack, and the data hold "
                         f"{only_data or 'nothing'} that the model does not predict")


def long_predictions(model, data, split: str = "test", *, name: str,
                     targets: Sequence[str] | None = None, batch_size: int = 64,
                     device: str = "auto", genes: Sequence[str] | None = None,
                     seed: int = 0) -> pd.DataFrame:
    """Predict one split of ``data`` (a :class:`cornlib.dataset.ModellingData`) with a
    :class:`cornlib.models.predictor.Predictor`; return the long table.

    A model's targets must be the data's tissues, or the data's proxy alone (a model
    fine-tuned on the proxy); genes without a value of a target get no row for it.

    Args:
        targets: the targets scored (default: the model's; each must be in the data).
        genes: restrict to these gene IDs (e.g. one species' test genes).
        seed: the training run the model comes from (the ``seed`` column).
    """
    own = list(model.targets)
    targets = own if targets is None else list(targets)
    proxy = getattr(data, "proxy", None)
    expected = [proxy] if proxy and own == [proxy] else data.tissues  # a proxy-only model
    check_targets(own, expected if targets == own else own, where=name)
    missing = [t for t in targets if t not in data.table.columns]
    if missing:
        raise ValueError(f"the data have no column for targets {missing}")
    rows = data.rows(split, [])
    if genes is not None:
        rows = rows[rows["gene_id"].isin(set(genes))].reset_index(drop=True)
    pred = model.predict(rows["sequence"].tolist(), rows["gene_id"].tolist(),
                         batch_size=batch_size, device=device)
    parts = [pd.DataFrame({"model": name, "seed": int(seed), "gene_id": rows["gene_id"].to_numpy(),
                           "species": rows["species"].to_numpy(), "target": t,
                           "y_true": rows[t].to_numpy(float),
                           "y_pred": pred[t].to_numpy(float)}) for t in targets]
    out = pd.concat(parts, ignore_index=True)
    return out[np.isfinite(out["y_true"])].reset_index(drop=True)


def pooled_r2(predictions: pd.DataFrame) -> pd.Series:
    """FloraBERT's reported "r²": the squared Pearson correlation over every (gene, tissue)
    pair pooled together, per model. Shared tissue means inflate it; it is shown beside the
    per-tissue scores only for comparison with the paper."""
    def one(g):
        return float(np.corrcoef(g["y_true"], g["y_pred"])[0, 1] ** 2)

    return predictions.groupby("model", sort=False).apply(one, include_groups=False).rename(
        "pooled_pearson_r2")
