"""What a regressor's encoder makes of promoters: mean-pooled embeddings, their 2-D maps (PCA,
UMAP), and an export for the TensorBoard projector (FloraBERT's ``embedding_vis``)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd


def embed(model, sequences: Sequence[str], *, batch_size: int = 64,
          device: str = "auto") -> np.ndarray:
    """The vector the regression head reads for each sequence, shape (n, d).

    ``model`` is a :class:`cornlib.models.predictor.TorchPredictor` of a hybrid regressor.
    """
    import torch

    from cornlib.models.predictor import _batches
    from cornlib.runtime import resolve_device
    from cornlib.sequence import normalize_all

    net = model.model
    if not hasattr(net, "embed"):
        raise ValueError(f"{type(net).__name__} has no embed(); use a hybrid regressor")
    seqs = normalize_all(sequences)
    dev = torch.device(resolve_device(device))
    net = net.to(dev).eval()
    rows = []
    out = None
    for idx in _batches(np.fromiter(map(len, seqs), np.int64, len(seqs)), batch_size):
        batch = model.encode([seqs[i] for i in idx])
        with torch.inference_mode():
            vec = net.embed(batch["input_ids"].to(dev)).float().cpu().numpy()
        if out is None:
            out = np.zeros((len(seqs), vec.shape[1]), dtype=np.float32)
        out[idx] = vec
        rows.append(idx)
    return out


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
