"""What a regressor's encoder makes of promoters: mean-pooled embeddings, their 2-D maps (PCA,
UMAP), and an export for the TensorBoard projector (FloraBERT's ``embedding_vis``)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd


def embed(model, sequences: Sequence[str], *, batch_size: int = 64, device: str = "auto",
          progress: bool | None = None) -> np.ndarray:
    """The vector the regression head reads for each sequence, shape (n, d).

    ``model`` is a :class:`cornlib.models.predictor.TorchPredictor` of a hybrid regressor (or
    its saved folder); it runs through the predictor's inference loop
    (:meth:`~cornlib.models.predictor.TorchPredictor.apply`), which leaves the model as it
    found it.
    """
    from cornlib.models import predictor

    model = predictor.as_predictor(model)
    kind = getattr(model, "kind", None)
    if kind is None or kind.name != "hybrid":
        net = getattr(model, "model", model)
        raise ValueError(f"{type(net).__name__} has no embed(); use a hybrid regressor")
    return model.apply(sequences, _embed, batch_size=batch_size, device=device,
                       progress=progress)


def _embed(model, batch: dict):
    return model.embed(**batch)


def project(vectors: np.ndarray, method: str = "pca", seed: int = 0) -> np.ndarray:
    """2-D coordinates of ``vectors`` by PCA or UMAP (standardised first), shape (n, 2)."""
    from sklearn.preprocessing import StandardScaler

    x = StandardScaler().fit_transform(vectors)
    if method == "pca":
        from sklearn.decomposition import PCA

        return PCA(n_components=2, random_state=seed).fit_transform(x)
    if method == "umap":
        import umap

        return umap.UMAP(n_components=2, random_state=seed, n_jobs=1).fit_transform(x)
    raise ValueError(f"method must be 'pca' or 'umap', not {method!r}")


def export_projector(folder: str | os.PathLike, vectors: np.ndarray,
                     metadata: pd.DataFrame, name: str = "promoters") -> Path:
    """Write ``vectors.tsv``, ``metadata.tsv`` and ``projector_config.pbtxt`` for the
    TensorBoard projector (``tensorboard --logdir FOLDER``, or load the two TSVs at
    projector.tensorflow.org). Returns the folder."""
    from cornlib import io

    if len(vectors) != len(metadata):
        raise ValueError(f"{len(vectors)} vectors but {len(metadata)} metadata rows")
    folder = Path(folder)
    io.write_text(folder / "vectors.tsv",
                  "\n".join("\t".join(f"{v:.5g}" for v in row) for row in vectors) + "\n")
    io.write_text(folder / "metadata.tsv", metadata.to_csv(sep="\t", index=False))
    io.write_text(folder / "projector_config.pbtxt",
                  f'embeddings {{\n  tensor_name: "{name}"\n  tensor_path: "vectors.tsv"\n'
                  f'  metadata_path: "metadata.tsv"\n}}\n')
    return folder
