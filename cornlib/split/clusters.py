"""Groups of promoters: similar sequences (duplicates, linclust, all-vs-all search), shared
genomic DNA and protein families, joined by single linkage."""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import pandas as pd

from cornlib import io
from cornlib.sequence import reverse_complement
from cornlib.split.mmseqs import canonical, linclust, promoter_sequences, search, similar_pairs
from cornlib.split.windows import overlap_edges

# --- clustering --------------------------------------------------------------------------------

#: Grouping columns of :func:`cluster`, evidence added step by step (see :func:`evidence`).
STEPS: dict[str, str] = {"promoter similarity": "promoter_cluster",
                         "+ shared genomic DNA": "dna_group", "+ protein families": "cluster_id"}


def cluster(promoters: pd.DataFrame, identity: float = 0.8, coverage: float = 0.8, *,
            refine: bool = True, windows: bool = True, families: pd.DataFrame | None = None,
            threads: int | None = None,
            tmp_dir: str | os.PathLike | None = None) -> pd.DataFrame:
    """Group promoters of all species together: similar promoters, shared DNA, gene families.

    The groups are the connected components (single linkage) of a graph whose edges are:

    - *similarity*: exact duplicates (either strand), ``linclust`` members to their
      representative (:func:`linclust`) and, with ``refine``, every similar pair of an
      all-against-all :func:`search`;
    - *shared DNA* (``windows``): promoters whose genome windows intersect
      (:func:`cornlib.split.windows.overlap_edges`), whatever the alignment says;
    - *family* (``families``): genes of one protein family (:func:`cornlib.split.gene_families`).

    Args:
        promoters: ``gene_id``, ``species``, ``sequence``; ``chrom``, ``start``, ``end`` for
            ``windows`` (``chrom`` is kept for chromosome hold-outs).
        identity, coverage: similarity thresholds (see the module docstring).
        refine: also search all against all (slower: ~1 min for 12,000 promoters on 2 cores)
            to join clusters that linclust, which aligns members only to k-mer group
            representatives, leaves apart.
        windows: join promoters whose windows share DNA.
        families: ``gene_id``, ``species``, ``family_id`` per gene with a protein, or ``None``;
            genes missing from it (non-coding) join no family.
        threads: MMseqs2 threads (``None``: all cores).
        tmp_dir: parent of the temporary working directories.

    Returns:
        One row per promoter, input order: ``gene_id``, ``species``, ``chrom`` (if given),
        ``length``, ``cluster_id`` (the group: 0.. in order of first appearance),
        ``cluster_size``, ``representative`` (the group's longest promoter, first if tied),
        ``promoter_cluster`` (similarity edges alone), ``dna_group`` (similarity and shared
        DNA), ``family_id`` (-1 without a family), ``linclust_id`` (linclust alone).
    """
    io.require_columns(promoters, ("gene_id", "species", "sequence"), "the promoter table")
    seqs = promoter_sequences(promoters)
    n = len(seqs)
    pos = pd.Series(np.arange(n), index=seqs.index)
    similar = [_duplicate_edges(seqs)]
    lc = linclust(seqs, identity, coverage, threads=threads, tmp_dir=tmp_dir)
    similar.append(np.stack([np.arange(n), pos[lc["representative"]].to_numpy()], axis=1))
    if refine:
        hits = search(seqs, seqs, threads=threads, exclude_self=True, tmp_dir=tmp_dir)
        pairs = similar_pairs(hits, identity, coverage)
        similar.append(np.stack([pos[pairs["query_id"]].to_numpy(),
                                 pos[pairs["target_id"]].to_numpy()], axis=1))
    shared = [overlap_edges(promoters)] if windows else []
    family_id = np.full(n, -1, dtype=int)
    if families is not None:
        io.require_columns(families, ("gene_id", "species", "family_id"), "the family table")
        key = pd.MultiIndex.from_arrays([families["species"].astype(str),
                                         families["gene_id"].astype(str)])
        fam = pd.Series(families["family_id"].to_numpy(), index=key)
        mine = pd.MultiIndex.from_arrays([promoters["species"].astype(str), seqs.index])
        family_id = fam.reindex(mine).fillna(-1).astype(int).to_numpy()
    out = pd.DataFrame({"gene_id": seqs.index.to_numpy(),
                        "species": promoters["species"].astype(str).to_numpy()})
    if "chrom" in promoters.columns:
        out["chrom"] = promoters["chrom"].astype(str).to_numpy()
    out["length"] = seqs.str.len().to_numpy()
    out["cluster_id"] = _components(n, similar + shared + [_family_edges(family_id)])
    out["cluster_size"] = out.groupby("cluster_id")["gene_id"].transform("size")
    longest = out.sort_values(["cluster_id", "length"], ascending=[True, False], kind="stable")
    out["representative"] = out["cluster_id"].map(longest.groupby("cluster_id")["gene_id"].first())
    out["promoter_cluster"] = _components(n, similar)
    out["dna_group"] = _components(n, similar + shared)
    out["family_id"] = family_id
    out["linclust_id"] = pd.factorize(lc["representative"])[0]
    return out


def _components(n: int, edges: list[np.ndarray]) -> np.ndarray:
    """Connected-component id (0.. in order of first appearance) of ``n`` nodes and edges."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    e = np.concatenate([x.reshape(-1, 2) for x in edges] or [np.empty((0, 2), dtype=int)])
    graph = coo_matrix((np.ones(len(e)), (e[:, 0], e[:, 1])), shape=(n, n))
    return pd.factorize(connected_components(graph, directed=False)[1])[0]


def _family_edges(family_id: np.ndarray) -> np.ndarray:
    """Edges joining each gene with a family (``family_id ≥ 0``) to its family's first gene."""
    has = np.flatnonzero(family_id >= 0)
    first = pd.Series(has).groupby(family_id[has]).transform("first").to_numpy()
    return np.stack([has, first], axis=1)


def _duplicate_edges(seqs: pd.Series) -> np.ndarray:
    """Edges (k × 2 positions) joining each sequence to the first with the same canonical form."""
    first = pd.factorize(seqs.map(canonical))[0]
    rep = pd.Series(np.arange(len(seqs))).groupby(first).transform("first").to_numpy()
    return np.stack([np.arange(len(seqs)), rep], axis=1)


def _group_counts(clusters: pd.DataFrame, column: str) -> dict[str, int]:
    """Groups, singletons, promoters in shared groups, largest group, groups across species."""
    sizes = clusters.groupby(column).size()
    n_species = clusters.groupby(column)["species"].nunique()
    return {"groups": int(len(sizes)), "singletons": int((sizes == 1).sum()),
            "promoters_in_shared_groups": int(sizes[sizes > 1].sum()),
            "largest_group": int(sizes.max()),
            "groups_spanning_species": int((n_species > 1).sum())}


def cluster_summary(clusters: pd.DataFrame) -> dict[str, Any]:
    """Counts that describe a grouping from :func:`cluster` (final groups, plus each step)."""
    counts = _group_counts(clusters, "cluster_id")
    out: dict[str, Any] = {"promoters": len(clusters), "clusters": counts["groups"],
                           "singletons": counts["singletons"],
                           "promoters_in_shared_clusters": counts["promoters_in_shared_groups"],
                           "largest_cluster": counts["largest_group"],
                           "clusters_spanning_species": counts["groups_spanning_species"],
                           "linclust_clusters": int(clusters["linclust_id"].nunique())
                           if "linclust_id" in clusters else None}
    if "family_id" in clusters:
        fam = clusters.loc[clusters["family_id"] >= 0, "family_id"]
        out["genes_with_family"] = int(len(fam))
        out["families"] = int(fam.nunique())
    steps = {name: col for name, col in STEPS.items() if col in clusters}
    out["steps"] = {name: _group_counts(clusters, col) for name, col in steps.items()}
    return out


def evidence(clusters: pd.DataFrame) -> pd.DataFrame:
    """Groups after each kind of evidence is added (rows: :data:`STEPS` present in the table)."""
    rows = [{"joined by": name, **_group_counts(clusters, col)}
            for name, col in STEPS.items() if col in clusters]
    return pd.DataFrame(rows).set_index("joined by")


def traps(promoters: pd.DataFrame, clusters: pd.DataFrame, coverage: float = 0.8) -> dict[str, int]:
    """Counts of the traps a naive clustering falls into.

    Returns:
        ``exact_twins`` (promoters equal to another), ``reverse_complement_twins`` (promoters
        whose reverse complement is another promoter: divergent gene pairs sharing a short
        intergenic region) and ``contained_members`` (cluster members shorter than ``coverage``
        × their representative's length, which a both-ways coverage threshold cannot join);
        with window coordinates (``chrom``, ``start``, ``end``), ``shared_dna`` (promoters whose
        window intersects another promoter's window).
    """
    seqs = promoter_sequences(promoters)
    counts = seqs.value_counts()
    rc = seqs.map(reverse_complement)
    rc_twin = rc.map(counts).fillna(0).to_numpy() - (rc == seqs).to_numpy()
    length = clusters.set_index("gene_id")["length"]
    rep_len = clusters["representative"].map(length).to_numpy()
    out = {"promoters": len(seqs),
           "exact_twins": int((seqs.map(counts) > 1).sum()),
           "reverse_complement_twins": int((rc_twin > 0).sum()),
           "contained_members": int((clusters["length"].to_numpy() < coverage * rep_len).sum())}
    if {"chrom", "start", "end"} <= set(promoters.columns):
        edges = overlap_edges(promoters)
        out["shared_dna"] = int(len(np.unique(edges)))
    return out
