"""Gene families: MMseqs2 protein searches and single-linkage families of promoter genes.

Two genes are in one *family* when an MMseqs2 protein alignment between their proteins (one per
gene, :func:`cornlib.split.proteins.gene_proteins`) has an identity of at least ``identity``
(``fident``) and covers at least ``coverage`` of **both** proteins (MMseqs2 ``--cov-mode 0``:
a shared domain alone does not make a family). Families are the connected components of those
pairs over an all-against-all search, so no such pair that the search finds straddles two groups;
the audit re-checks it with a separate search of test proteins against training ones.
"""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from cornlib import io
from cornlib.split.mmseqs import (
    HIT_COLUMNS,
    _check_threshold,
    _mmseqs,
    _read_hits,
    _threads,
    _write_fasta,
)

#: Library defaults (the profiles' ``family_identity`` / ``family_coverage``).
FAMILY_IDENTITY = 0.5
FAMILY_COVERAGE = 0.8
#: MMseqs2 ``-s`` and ``--max-seqs`` of the family searches. On the embedded proteins (12,054
#: genes) ``-s 4 --max-seqs 100`` gives the same families, within one, as MMseqs2's defaults
#: (``-s 5.7 --max-seqs 300``) in about half the time; ``-s 1`` loses 40 of them. Thresholds
#: are applied to the hits afterwards: passing them to MMseqs2 (``--min-seq-id``, ``-c``)
#: lost about 90 families' worth of pairs.
FAMILY_SENSITIVITY = 4.0
#: Target proteins kept per query by the MMseqs2 prefilter (``--max-seqs``).
FAMILY_MAX_SEQS = 100
#: Columns of :func:`gene_families`.
FAMILY_COLUMNS: tuple[str, ...] = ("gene_id", "species", "protein_id", "family_id",
                                   "family_size", "family_species")
_MMSEQS_FORMAT = "query,target,fident,alnlen,qstart,qend,tstart,tend,qcov,tcov,evalue,bits"
_NOT_AMINO = re.compile(r"[^A-Z]")


def as_proteins(seqs: pd.Series, name: str = "proteins") -> pd.Series:
    """Protein sequences as a Series indexed by unique string ids (upper case, letters only).

    Raises:
        ValueError: no sequences, a repeated id, an empty sequence or a character that is not a
            letter (a final ``*`` is removed first).
    """
    if not len(seqs):
        raise ValueError(f"{name}: no sequences given")
    seqs = pd.Series(seqs.to_numpy(), index=seqs.index.astype(str), dtype=object)
    dup = seqs.index[seqs.index.duplicated()]
    if len(dup):
        raise ValueError(f"{name}: id {dup[0]!r} occurs more than once; ids must be unique")
    out = seqs.map(lambda s: str(s).upper().removesuffix("*"))
    for pid, s in out.items():
        bad = _NOT_AMINO.search(s)
        if not s or bad:
            raise ValueError(f"{name}: protein {pid!r} is empty or has the character "
                             f"{bad.group(0) if bad else ''!r}; amino-acid letters only")
    return out


def protein_search(query: pd.Series, target: pd.Series, *, threads: int | None = None,
                   sensitivity: float = FAMILY_SENSITIVITY, max_seqs: int = FAMILY_MAX_SEQS,
                   evalue: float = 1e-3, exclude_self: bool = False,
                   tmp_dir: str | os.PathLike | None = None) -> pd.DataFrame:
    """Every MMseqs2 protein hit of ``query`` against ``target`` (``easy-search``, ``-s``).

    Args:
        query, target: protein sequences indexed by id (:func:`as_proteins`).
        threads: MMseqs2 threads (``None``: all cores).
        sensitivity: MMseqs2 ``-s`` (:data:`FAMILY_SENSITIVITY`; 5.7 is MMseqs2's default).
        max_seqs, evalue: MMseqs2 ``--max-seqs`` (:data:`FAMILY_MAX_SEQS`) and ``-e``.
        exclude_self: drop hits of an id against itself.
        tmp_dir: parent of the temporary working directory.

    Returns:
        :data:`~cornlib.split.mmseqs.HIT_COLUMNS`, as for nucleotide searches; ``coverage`` is
        here the coverage of *both* proteins (the smaller of ``query_cov`` and ``target_cov``)
        and ``strand`` is always ``+``.
    """
    query = as_proteins(query, "the query proteins")
    target = as_proteins(target, "the target proteins")
    with tempfile.TemporaryDirectory(prefix="cornlib-protein-", dir=tmp_dir) as tmp:
        tmp = Path(tmp)
        _write_fasta(tmp / "query.fa", query)
        _write_fasta(tmp / "target.fa", target)
        _mmseqs(["easy-search", str(tmp / "query.fa"), str(tmp / "target.fa"), str(tmp / "hits.m8"),
                 str(tmp / "work"), "-s", str(float(sensitivity)), "--max-seqs", str(int(max_seqs)),
                 "-e", str(evalue), "--format-output", _MMSEQS_FORMAT,
                 "--threads", _threads(threads), "-v", "1"])
        raw = _read_hits(tmp / "hits.m8")
    hits = pd.DataFrame({
        "query_id": query.index[raw["query"].to_numpy()].to_numpy(),
        "target_id": target.index[raw["target"].to_numpy()].to_numpy(),
        "identity": raw["fident"].astype(float).to_numpy(),
        "alignment_length": raw["alnlen"].astype(int).to_numpy(),
        "query_cov": raw["qcov"].astype(float).to_numpy(),
        "target_cov": raw["tcov"].astype(float).to_numpy(),
        "coverage": np.minimum(raw["qcov"], raw["tcov"]).astype(float).to_numpy(),
        "strand": "+",
        "evalue": raw["evalue"].astype(float).to_numpy(),
        "bits": raw["bits"].astype(float).to_numpy(),
    }, columns=list(HIT_COLUMNS))
    if exclude_self:
        hits = hits[hits["query_id"] != hits["target_id"]].reset_index(drop=True)
    return hits


def family_pairs(hits: pd.DataFrame, identity: float = FAMILY_IDENTITY,
                 coverage: float = FAMILY_COVERAGE) -> pd.DataFrame:
    """The protein hits that put two genes in one family (``identity``, coverage of both)."""
    return hits[(hits["identity"] >= identity) & (hits["coverage"] >= coverage)]


def _protein_keys(table: pd.DataFrame) -> pd.Series:
    """Protein sequences keyed ``species|gene_id`` (gene ids may repeat across species)."""
    keys = table["species"].astype(str) + "|" + table["gene_id"].astype(str)
    return pd.Series(table["sequence"].to_numpy(), index=keys.to_numpy())


def gene_families(gene_proteins: pd.DataFrame, identity: float = FAMILY_IDENTITY,
             coverage: float = FAMILY_COVERAGE, *, sensitivity: float = FAMILY_SENSITIVITY,
             threads: int | None = None,
             tmp_dir: str | os.PathLike | None = None) -> pd.DataFrame:
    """Protein families of the promoter genes (single linkage over an all-against-all search).

    Args:
        gene_proteins: one protein per gene (``gene_id``, ``species``, ``protein_id``,
            ``sequence``; :func:`cornlib.split.proteins.gene_proteins`).
        identity, coverage: family thresholds (see the module docstring).
        sensitivity, threads, tmp_dir: as in :func:`protein_search`.

    Returns:
        :data:`FAMILY_COLUMNS`, one row per gene with a protein, input order: ``family_id``
        (0.. in order of first appearance), ``family_size`` (genes) and ``family_species``
        (species it spans).
    """
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    io.require_columns(gene_proteins, ("gene_id", "species", "protein_id", "sequence"),
                       "the gene-protein table")
    identity = _check_threshold(identity, "family_identity")
    coverage = _check_threshold(coverage, "family_coverage")
    seqs = _protein_keys(gene_proteins)
    n = len(seqs)
    pos = pd.Series(np.arange(n), index=seqs.index)
    hits = protein_search(seqs, seqs, threads=threads, sensitivity=sensitivity,
                          exclude_self=True, tmp_dir=tmp_dir)
    pairs = family_pairs(hits, identity, coverage)
    rows = pos[pairs["query_id"]].to_numpy()
    cols = pos[pairs["target_id"]].to_numpy()
    graph = coo_matrix((np.ones(len(rows)), (rows, cols)), shape=(n, n))
    _, comp = connected_components(graph, directed=False)
    out = pd.DataFrame({"gene_id": gene_proteins["gene_id"].astype(str).to_numpy(),
                        "species": gene_proteins["species"].astype(str).to_numpy(),
                        "protein_id": gene_proteins["protein_id"].astype(str).to_numpy(),
                        "family_id": pd.factorize(comp)[0]})
    out["family_size"] = out.groupby("family_id")["gene_id"].transform("size")
    out["family_species"] = out.groupby("family_id")["species"].transform("nunique")
    return out[list(FAMILY_COLUMNS)]


def family_summary(fam: pd.DataFrame) -> dict[str, Any]:
    """Counts that describe :func:`gene_families`: families, genes in multi-gene families, largest."""
    sizes = fam.groupby("family_id").size()
    spread = fam.groupby("family_id")["species"].nunique()
    return {"genes_with_protein": len(fam), "families": int(len(sizes)),
            "multi_gene_families": int((sizes > 1).sum()),
            "genes_in_multi_gene_families": int(sizes[sizes > 1].sum()),
            "families_spanning_species": int((spread > 1).sum()),
            "largest_family": int(sizes.max()) if len(sizes) else 0}


def cross_family_hits(gene_proteins: pd.DataFrame, split: pd.DataFrame,
                      identity: float = FAMILY_IDENTITY, coverage: float = FAMILY_COVERAGE, *,
                      query: str = "test", target: str = "train",
                      sensitivity: float = FAMILY_SENSITIVITY, threads: int | None = None,
                      tmp_dir: str | os.PathLike | None = None) -> pd.DataFrame:
    """Same-family pairs across two splits, by a fresh protein search of one against the other.

    Returns:
        One row per ``query``-split gene with a protein: ``gene_id``, ``species``,
        ``family_hits`` (``target``-split genes of its family by this search), ``family_match``
        (the best of them by bits, ``""`` if none), ``family_identity`` and ``family_coverage``
        of that hit (0 if none).
    """
    io.require_columns(split, ("gene_id", "species", "split"), "the split table")
    where = split[["gene_id", "species", "split"]].astype(str)
    table = gene_proteins.merge(where, on=["gene_id", "species"], how="inner")
    q, t = table[table["split"] == query], table[table["split"] == target]
    out = pd.DataFrame({"gene_id": q["gene_id"].to_numpy(), "species": q["species"].to_numpy()})
    out["family_hits"], out["family_match"] = 0, ""
    out["family_identity"], out["family_coverage"] = 0.0, 0.0
    if not len(q) or not len(t):
        return out
    hits = protein_search(_protein_keys(q), _protein_keys(t), threads=threads,
                          sensitivity=sensitivity, tmp_dir=tmp_dir)
    pairs = family_pairs(hits, identity, coverage)
    key = (out["species"] + "|" + out["gene_id"]).to_numpy()
    best = pairs.sort_values("bits", ascending=False).drop_duplicates("query_id") \
        .set_index("query_id")
    keys = pd.Series(key)
    out["family_hits"] = keys.map(pairs.groupby("query_id")["target_id"].nunique()) \
        .fillna(0).astype(int).to_numpy()
    out["family_match"] = keys.map(best["target_id"].str.split("|", n=1).str[1]) \
        .astype(object).fillna("").to_numpy()
    out["family_identity"] = keys.map(best["identity"]).fillna(0.0).to_numpy()
    out["family_coverage"] = keys.map(best["coverage"]).fillna(0.0).to_numpy()
    return out
