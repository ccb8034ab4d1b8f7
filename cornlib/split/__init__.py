"""Homology- and family-aware train/valid/test splits: groups, assignment, audits.

Similarity, everywhere in this module
-------------------------------------
Two promoters are *similar* when an MMseqs2 nucleotide alignment between them, on either
strand, has an identity of at least ``identity`` (``fident``: identical columns / alignment
columns) and covers at least ``coverage`` of the *shorter* sequence
(``max(query_cov, target_cov)``). Shorter-sequence coverage catches a short (trimmed) promoter
lying inside a longer one, which a both-ways threshold (MMseqs2 ``--cov-mode 0``) misses; both
strands catch divergent gene pairs, whose promoters share one intergenic region read in
opposite directions.

Groups
------
Groups are the connected components (single linkage) of a graph with three kinds of edges:
*similarity* (exact duplicates on either strand, MMseqs2 ``linclust`` memberships with
``--cov-mode 1`` and, with ``refine=True``, every similar pair of an all-against-all MMseqs2
``search``); *shared DNA* (windows of one species and record that intersect,
:mod:`~cornlib.split.windows`); and *families* (genes whose proteins are ≥ ``family_identity``
identical over ≥ ``family_coverage`` of both, :mod:`~cornlib.split.families`, proteins mapped
to genes by :mod:`~cornlib.split.proteins`). Whole groups go to one split. The audit re-checks
each kind independently (test against train) and counts what remains below the thresholds.

Tables
------
``split.parquet`` (:data:`COLUMNS`): ``gene_id``, ``species``, ``cluster_id`` (int, the group),
``split`` (``train``/``valid``/``test``) and ``fold`` (``0..n_folds-1`` on train rows, ``-1``
elsewhere; folds are made of whole groups). ``split/clusters.parquet`` adds the parts of each
group (:func:`cluster`).

Modules: :mod:`~cornlib.split.mmseqs` (nucleotide MMseqs2 calls), :mod:`~cornlib.split.proteins`,
:mod:`~cornlib.split.families`, :mod:`~cornlib.split.windows`, :mod:`~cornlib.split.clusters`,
:mod:`~cornlib.split.assign` (groups to splits and folds), :mod:`~cornlib.split.audit` and
:mod:`~cornlib.split.report` (tables and names for the page); their public names are
importable from ``cornlib.split`` itself.
"""

from cornlib.split.assign import (  # noqa: F401
    COLUMNS,
    DEFAULT_FRACTIONS,
    SPLITS,
    assign,
    check_fractions,
    fold_sizes,
    parse_holdout,
    random_split,
    read,
    split_sequences,
    summary,
    validate,
)
from cornlib.split.audit import (  # noqa: F401
    AUDIT_COVERAGES,
    Audit,
    audit,
    corpus_overlap,
    cross_species,
    duplicates,
    nearest,
    write_audit,
)
from cornlib.split.clusters import (  # noqa: F401
    STEPS,
    cluster,
    cluster_summary,
    evidence,
    traps,
)
from cornlib.split.families import (  # noqa: F401
    FAMILY_COVERAGE,
    FAMILY_IDENTITY,
    cross_family_hits,
    family_summary,
    gene_families,
    protein_search,
)
from cornlib.split.mmseqs import (  # noqa: F401
    HIT_COLUMNS,
    SEARCH_KMER,
    MMseqsError,
    Sequences,
    as_sequences,
    canonical,
    linclust,
    mmseqs_binary,
    mmseqs_version,
    promoter_sequences,
    search,
    similar_pairs,
)
from cornlib.split.proteins import (  # noqa: F401
    embedded_sources,
    gene_proteins,
    read_proteins,
    resolve_sources,
    translate,
)
from cornlib.split.report import (  # noqa: F401
    audit_table,
    compare,
    glue_values,
    leakage_statement,
    neighbour_correlation,
    split_name,
)
from cornlib.split.windows import (  # noqa: F401
    blocks,
    overlap_edges,
    shared_dna,
)

__all__ = [
    "as_sequences", "assign", "Audit", "audit", "AUDIT_COVERAGES", "audit_table", "blocks",
    "canonical", "check_fractions", "cluster", "cluster_summary", "COLUMNS", "compare",
    "corpus_overlap", "cross_family_hits", "cross_species", "DEFAULT_FRACTIONS",
    "duplicates", "embedded_sources", "evidence", "FAMILY_COVERAGE", "FAMILY_IDENTITY",
    "family_summary", "fold_sizes", "gene_families", "gene_proteins", "glue_values",
    "HIT_COLUMNS", "leakage_statement", "linclust", "mmseqs_binary", "mmseqs_version",
    "MMseqsError", "nearest", "neighbour_correlation", "overlap_edges", "parse_holdout", "promoter_sequences",
    "protein_search", "random_split", "read", "read_proteins", "resolve_sources", "search",
    "SEARCH_KMER", "Sequences", "shared_dna", "similar_pairs", "split_name",
    "split_sequences", "SPLITS", "STEPS", "summary", "translate", "traps", "validate",
    "write_audit",
]
