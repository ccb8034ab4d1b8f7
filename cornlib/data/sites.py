"""Where the stand-in's sites are: each promoter's TSS, the TATA-like core element, driver choice.

Used by :mod:`cornlib.data.simulate` (the generative model) and by whatever needs the same
geometry afterwards (variant placement, importance along the promoter).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd

from cornlib import artifacts
from cornlib import motifs as _motifs

CORE_ID = "sim:TATA"


def _validate_promoters(promoters: pd.DataFrame) -> None:
    if not isinstance(promoters, pd.DataFrame):
        raise ValueError(f"promoters must be a DataFrame, not {type(promoters).__name__}")
    missing = [c for c in ("gene_id", "sequence") if c not in promoters.columns]
    if missing:
        raise ValueError(f"promoters lack column(s) {missing}; pass the table "
                         f"{artifacts.producer('promoters.parquet')} writes")
    if promoters.empty:
        raise ValueError("promoters is empty: there is nothing to simulate on")
    ids = promoters["gene_id"]
    if ids.isna().any():
        raise ValueError(f"promoters row {int(np.flatnonzero(ids.isna())[0])} has no gene_id")
    dup = ids[ids.duplicated()]
    if len(dup):
        raise ValueError(f"gene_id {dup.iloc[0]!r} appears more than once in promoters; "
                         "gene IDs must be unique")
    seqs = promoters["sequence"]
    bad = [i for i, s in zip(ids, seqs) if not isinstance(s, str) or not s]
    if bad:
        raise ValueError(f"promoter of gene {bad[0]!r} has no sequence")


def tss_index(promoters: pd.DataFrame, downstream: int = 0) -> np.ndarray:
    """0-based index of each promoter's TSS in its sequence (may equal or exceed the length).

    Uses the genomic ``start, end, strand, tss`` columns of ``promoters.parquet`` when present
    (a ``detached`` promoter ends before its TSS); otherwise ``len(sequence) - downstream``.
    """
    if {"start", "end", "strand", "tss"} <= set(promoters.columns):
        start, end = promoters["start"].to_numpy(np.int64), promoters["end"].to_numpy(np.int64)
        tss = promoters["tss"].to_numpy(np.int64)
        return np.where(promoters["strand"].to_numpy() == "-", end - 1 - tss, tss - start)
    return promoters["sequence"].str.len().to_numpy(np.int64) - downstream


def core_element(consensus: str = "TATAWAWR") -> _motifs.Motif:
    """The TATA-like core element as a motif built from its IUPAC consensus."""
    return _motifs.from_consensus(consensus, CORE_ID, "TATA-like core")


def core_scan(promoters: pd.DataFrame, *, consensus: str = "TATAWAWR", pvalue: float = 1e-3,
              downstream: int = 0) -> pd.DataFrame:
    """Hits of the TATA-like core element on each promoter's own strand.

    Args:
        promoters: ``gene_id``, ``sequence`` (and coordinates, see :func:`tss_index`).
        consensus: IUPAC consensus of the element.
        pvalue: hit threshold against the promoters' base composition.
        downstream: as in :func:`tss_index`.

    Returns:
        :func:`cornlib.motifs.scan` rows with strand ``+`` plus ``centre`` (bp relative to the TSS).
    """
    _validate_promoters(promoters)
    seqs = promoters["sequence"].tolist()
    core = core_element(consensus)
    hits = _motifs.scan(seqs, [core], pvalue=pvalue, background=_motifs.base_composition(seqs),
                        ids=promoters["gene_id"].to_numpy(), tss_index=tss_index(promoters, downstream))
    hits = hits[hits["strand"] == "+"].reset_index(drop=True)
    return hits.assign(centre=hits["position"] + core.length / 2)


def choose_drivers(motifs: Sequence[_motifs.Motif], n_drivers: int, min_information: float,
                   rng: np.random.Generator) -> list[_motifs.Motif]:
    """Draw ``n_drivers`` motifs with information content >= ``min_information``, one per family."""
    ok = [m for m in motifs if m.information_content() >= min_information]
    chosen, families = [], set()
    for k in rng.permutation(len(ok)):
        m = ok[k]
        key = m.family or m.matrix_id
        if key not in families:
            chosen.append(m)
            families.add(key)
        if len(chosen) == n_drivers:
            return chosen
    raise ValueError(f"only {len(chosen)} TF families have a motif with >= {min_information} bits; "
                     f"lower min_information or n_drivers (asked for {n_drivers})")
