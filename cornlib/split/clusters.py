"""Clusters of similar promoters: exact duplicates, MMseqs2 linclust, optional all-vs-all refine."""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import pandas as pd

from cornlib import io
from cornlib.sequence import reverse_complement
from cornlib.split.mmseqs import canonical, linclust, promoter_sequences, search, similar_pairs

# --- clustering --------------------------------------------------------------------------------

def cluster(promoters: pd.DataFrame, identity: float = 0.8, coverage: float = 0.8, *,
            refine: bool = True, threads: int | None = None,
            tmp_dir: str | os.PathLike | None = None) -> pd.DataFrame:
    """Cluster promoters of all species together, on both strands (single linkage).

    Edges join exact duplicates (either strand), ``linclust`` members to their representative
    (:func:`linclust`) and, with ``refine``, every similar pair of an all-against-all
    :func:`search`; clusters are the connected components.

    Args:
        promoters: ``gene_id``, ``species``, ``sequence`` (``chrom`` kept if present, for
            chromosome hold-outs).
        identity, coverage: similarity thresholds (see the module docstring).
        refine: also search all against all (slower: ~1 min for 12,000 promoters on 2 cores)
            to join clusters that linclust, which aligns members only to k-mer group
            representatives, leaves apart.
        threads: MMseqs2 threads (``None``: all cores).
        tmp_dir: parent of the temporary working directories.

    Returns:
        One row per promoter, input order: ``gene_id``, ``species``, ``chrom`` (if given),
        ``length``, ``cluster_id`` (0.. in order of first appearance), ``cluster_size``,
        ``representative`` (the cluster's longest promoter, first if tied) and ``linclust_id``
        (the linclust cluster alone, for comparison).
    """
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    io.require_columns(promoters, ("gene_id", "species", "sequence"), "the promoter table")
    seqs = promoter_sequences(promoters)
    n = len(seqs)
    pos = pd.Series(np.arange(n), index=seqs.index)
    edges = [_duplicate_edges(seqs)]
    lc = linclust(seqs, identity, coverage, threads=threads, tmp_dir=tmp_dir)
    edges.append(np.stack([np.arange(n), pos[lc["representative"]].to_numpy()], axis=1))
    if refine:
        hits = search(seqs, seqs, threads=threads, exclude_self=True, tmp_dir=tmp_dir)
        pairs = similar_pairs(hits, identity, coverage)
        edges.append(np.stack([pos[pairs["query_id"]].to_numpy(),
                               pos[pairs["target_id"]].to_numpy()], axis=1))
    e = np.concatenate([x.reshape(-1, 2) for x in edges])
    graph = coo_matrix((np.ones(len(e)), (e[:, 0], e[:, 1])), shape=(n, n))
    _, comp = connected_components(graph, directed=False)
    lc_ids = pd.factorize(lc["representative"])[0]
    out = pd.DataFrame({"gene_id": seqs.index.to_numpy(),
                        "species": promoters["species"].astype(str).to_numpy()})
    if "chrom" in promoters.columns:
        out["chrom"] = promoters["chrom"].astype(str).to_numpy()
    out["length"] = seqs.str.len().to_numpy()
    out["cluster_id"] = pd.factorize(comp)[0]
    out["cluster_size"] = out.groupby("cluster_id")["gene_id"].transform("size")
    longest = out.sort_values(["cluster_id", "length"], ascending=[True, False], kind="stable")
    out["representative"] = out["cluster_id"].map(longest.groupby("cluster_id")["gene_id"].first())
    out["linclust_id"] = lc_ids
    return out


def _duplicate_edges(seqs: pd.Series) -> np.ndarray:
    """Edges (k × 2 positions) joining each sequence to the first with the same canonical form."""
    first = pd.factorize(seqs.map(canonical))[0]
    rep = pd.Series(np.arange(len(seqs))).groupby(first).transform("first").to_numpy()
    return np.stack([np.arange(len(seqs)), rep], axis=1)


def cluster_summary(clusters: pd.DataFrame) -> dict[str, Any]:
    """Counts that describe a clustering from :func:`cluster`."""
    sizes = clusters.groupby("cluster_id").size()
    n_species = clusters.groupby("cluster_id")["species"].nunique()
    return {"promoters": len(clusters), "clusters": int(len(sizes)),
            "singletons": int((sizes == 1).sum()),
            "promoters_in_shared_clusters": int(sizes[sizes > 1].sum()),
            "largest_cluster": int(sizes.max()),
            "clusters_spanning_species": int((n_species > 1).sum()),
            "linclust_clusters": int(clusters["linclust_id"].nunique())
            if "linclust_id" in clusters else None}


def traps(promoters: pd.DataFrame, clusters: pd.DataFrame, coverage: float = 0.8) -> dict[str, int]:
    """Counts of the two traps a naive clustering falls into.

    Returns:
        ``exact_twins`` (promoters equal to another), ``reverse_complement_twins`` (promoters
        whose reverse complement is another promoter: divergent gene pairs sharing a short
        intergenic region) and ``contained_members`` (cluster members shorter than ``coverage``
        × their representative's length, which a both-ways coverage threshold cannot join).
    """
    seqs = promoter_sequences(promoters)
    counts = seqs.value_counts()
    rc = seqs.map(reverse_complement)
    rc_twin = rc.map(counts).fillna(0).to_numpy() - (rc == seqs).to_numpy()
    length = clusters.set_index("gene_id")["length"]
    rep_len = clusters["representative"].map(length).to_numpy()
    return {"promoters": len(seqs),
            "exact_twins": int((seqs.map(counts) > 1).sum()),
            "reverse_complement_twins": int((rc_twin > 0).sum()),
            "contained_members": int((clusters["length"].to_numpy() < coverage * rep_len).sum())}
