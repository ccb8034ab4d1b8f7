"""Importance along the promoter: k-mer flips (and ISM) binned by distance from the TSS.

:func:`tss_profiles` draws the genes, flips their k-mers through each model, and summarises
the absolute effect (and, with labels, the change in absolute error) per bin relative to the
TSS with :func:`cornlib.interpret.kmer_flip.tss_profile`, beside ISM scores computed elsewhere.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Sequence

import numpy as np
import pandas as pd

from cornlib.interpret import kmer_flip

#: Method labels of the :func:`tss_profiles` table (the k-mer flip's takes its ``k``).
ERROR_CHANGE = "k-mer flip, change in |error|"
ISM = "ism"


def flip_label(k: int) -> str:
    """The method label of the k-mer flip effect of width ``k``."""
    return f"k-mer flip, k={k}"


def draw_genes(genes: pd.DataFrame, n: int, seed: int) -> pd.DataFrame:
    """``n`` rows of ``genes`` (all if fewer) drawn with the seed ``seed + 1``, so that they
    are not the draw a chapter made with ``seed`` for its other methods."""
    return genes.sample(min(n, len(genes)), random_state=seed + 1)


def tss_profiles(models: Mapping[str, object], genes: pd.DataFrame, k: int, *,
                 labels: pd.DataFrame | None = None,
                 ism: Mapping[str, np.ndarray] | None = None,
                 ism_tss: Sequence[int] | None = None, draws: int = 2, seed: int = 0,
                 bin_width: int = 50, device: str = "auto",
                 progress: bool | None = None) -> pd.DataFrame:
    """Binned importance along the promoter for every model, one table.

    For each model, in order: the mean over targets of ``|effect|`` of k-mer flips of width
    ``k`` on ``genes``; with ``labels``, the mean change in absolute error the flips make
    (above zero: flipping those bases makes the prediction worse); with ``ism``, the mean over
    targets of ``|ism[model]|`` on the genes of ``ism_tss``. Each is binned by
    :func:`cornlib.interpret.kmer_flip.tss_profile` with ``bin_width``.

    Args:
        models: name → predictor (its ``targets`` name the label columns).
        genes: the genes (``sequence`` and the columns of
            :func:`cornlib.data.simulate.tss_index`), e.g. from :func:`draw_genes`.
        labels: observed values indexed by ``gene_id``, one column per target (NaN allowed).
        ism: name → ``(N, L, T)`` ISM position scores of other genes; ``ism_tss`` their TSS
            indices.
        draws, seed: random k-mers per window and the seed of their one generator.

    Returns:
        The rows of :func:`~cornlib.interpret.kmer_flip.tss_profile` (target ``target_0``,
        the mean over targets) with ``model`` and ``method`` columns.
    """
    from cornlib.data.simulate import tss_index

    if ism is not None and ism_tss is None:
        raise ValueError("ism scores need ism_tss, the TSS indices of their genes")
    seqs = genes["sequence"].tolist()
    tss = tss_index(genes)
    rows = []
    for name, model in models.items():
        y = None
        if labels is not None:
            # a gene without targets (a species with no expression) has NaN labels
            y = labels.reindex(genes["gene_id"])[list(model.targets)].to_numpy()
        flip = kmer_flip.flip(model, seqs, k, draws=draws, seed=seed, labels=y,
                              device=device, progress=progress)
        curves = [(flip_label(k), np.abs(flip.effect), tss)]
        if flip.error_change is not None:
            curves.append((ERROR_CHANGE, flip.error_change, tss))
        if ism is not None:
            curves.append((ISM, np.abs(ism[name]), ism_tss))
        for method, values, at in curves:
            mean = values.mean(axis=2, keepdims=True)
            prof = kmer_flip.tss_profile(mean, at, bin_width=bin_width)
            rows.append(prof.assign(model=name, method=method))
    return pd.concat(rows, ignore_index=True)
