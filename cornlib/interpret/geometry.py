"""Where the true sites of a gene lie in its sequence, and the window a figure shows.

The simulation records each site by its start relative to the TSS (``position``, negative
upstream) and each driver motif's length in the targets card; the sequence index of a site is
``tss_index + position`` (:func:`cornlib.data.simulate.tss_index`). :func:`strongest_site`
picks the site a chapter zooms in on and the window around it, so a notebook types no
coordinates.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import pandas as pd


@dataclass(frozen=True)
class SiteWindow:
    """A window of one gene around one true site, in one target.

    Attributes:
        gene: index of the gene in the given gene list.
        gene_id: its ID.
        target: index of the target (tissue) where the site acts most.
        target_name: that target's name.
        start, end: the window, 0-based half-open indices into the gene's sequence.
        sites: ``(start, end, name)`` of every true driver site of the gene that overlaps the
            window (sequence indices, half-open; ``name``: the motif's name).
    """

    gene: int
    gene_id: str
    target: int
    target_name: str
    start: int
    end: int
    sites: list[tuple[int, int, str]]


def site_spans(sites: pd.DataFrame, card: dict[str, Any], tss_index: int
               ) -> list[tuple[int, int, str]]:
    """``(start, end, motif_name)`` in sequence indices of driver ``sites`` of one gene.

    Args:
        sites: rows of ``targets/truth_sites.parquet`` (``motif``, ``motif_name``,
            ``position`` relative to the TSS).
        card: ``targets/card.json`` (each driver's ``matrix_id`` and ``length``).
        tss_index: the gene's TSS as an index into its sequence.

    Raises:
        ValueError: a site's motif is not one of the card's drivers.
    """
    width = {d["matrix_id"]: int(d["length"]) for d in card.get("drivers", [])}
    out = []
    for r in sites.itertuples(index=False):
        if r.motif not in width:
            raise ValueError(f"site of {r.gene_id} at {r.position}: motif {r.motif} is not a "
                             "driver of the targets card")
        start = int(tss_index) + int(r.position)
        out.append((start, start + width[r.motif], r.motif_name))
    return out


def strongest_site(truth: pd.DataFrame, card: dict[str, Any], gene_ids: Sequence[str],
                   tss_index: Sequence[int], lengths: Sequence[int],
                   targets: Sequence[str], *, flank: int = 40) -> SiteWindow:
    """The driver site of ``gene_ids`` with the largest absolute contribution, in the target
    where it acts most (its ``peak_tissue``), and the window of ``flank`` bases either side of
    the site's start (clipped to the sequence), with every driver site of that gene in it.

    Args:
        truth: ``targets/truth_sites.parquet`` (``role``, ``contribution``, ``peak_tissue``).
        card: ``targets/card.json``.
        gene_ids, tss_index, lengths: the genes, their TSS indices and sequence lengths.
        targets: the model's target names (``peak_tissue`` must be one of them).
        flank: bases shown either side of the site's start.

    Raises:
        ValueError: none of the genes has a driver site, or the site's tissue is not a target.
    """
    if flank < 1:
        raise ValueError(f"flank must be a positive number of bases, got {flank}")
    genes = list(gene_ids)
    drivers = truth[(truth["role"] == "driver") & truth["gene_id"].isin(genes)]
    if drivers.empty:
        raise ValueError(f"none of the {len(genes)} genes has a true driver site")
    top = drivers.loc[drivers["contribution"].abs().idxmax()]
    if top["peak_tissue"] not in list(targets):
        raise ValueError(f"the site's tissue {top['peak_tissue']} is not one of the model's "
                         f"targets ({', '.join(targets)})")
    g = genes.index(top["gene_id"])
    centre = int(tss_index[g]) + int(top["position"])
    lo, hi = max(centre - flank, 0), min(centre + flank, int(lengths[g]))
    spans = site_spans(drivers[drivers["gene_id"] == top["gene_id"]], card, int(tss_index[g]))
    return SiteWindow(g, str(top["gene_id"]), list(targets).index(top["peak_tissue"]),
                      str(top["peak_tissue"]), lo, hi,
                      [s for s in spans if s[1] > lo and s[0] < hi])
