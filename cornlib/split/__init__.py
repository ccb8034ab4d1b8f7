"""Homology-aware train/valid/test splits: MMseqs2 clustering on both strands, assignment, audits.

Similarity, everywhere in this module
-------------------------------------
Two promoters are *similar* when an MMseqs2 nucleotide alignment between them, on either
strand, has an identity of at least ``identity`` (``fident``: identical columns / alignment
columns) and covers at least ``coverage`` of the *shorter* sequence
(``max(query_cov, target_cov)``). Shorter-sequence coverage catches a short (trimmed) promoter
lying inside a longer one, which a both-ways threshold (MMseqs2 ``--cov-mode 0``) misses; both
strands catch divergent gene pairs, whose promoters share one intergenic region read in
opposite directions.

Clusters are the connected components (single linkage) of the graph whose edges are exact
duplicates (either strand), MMseqs2 ``linclust`` cluster memberships (``--cov-mode 1``: the
member, never longer than its representative, is covered) and, with ``refine=True``, every
similar pair found by an all-against-all MMseqs2 ``search`` (``--strand 2``). Whole clusters go
to one split, so no similar pair that the search can find straddles two splits. The audit
re-checks that with a separate MMseqs2 search of the test promoters against the training ones.

Tables
------
``split.parquet`` (:data:`COLUMNS`): ``gene_id``, ``species``, ``cluster_id`` (int),
``split`` (``train``/``valid``/``test``) and ``fold`` (``0..n_folds-1`` on train rows, ``-1``
elsewhere; folds are made of whole clusters).

Modules: :mod:`~cornlib.split.mmseqs` (MMseqs2 calls), :mod:`~cornlib.split.clusters`,
:mod:`~cornlib.split.assign` (clusters to splits and folds) and :mod:`~cornlib.split.audit`;
their public names are importable from ``cornlib.split`` itself.
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
    Audit,
    audit,
    compare,
    corpus_overlap,
    duplicates,
    leakage_statement,
    nearest,
    write_audit,
)
from cornlib.split.clusters import (  # noqa: F401
    cluster,
    cluster_summary,
    traps,
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

__all__ = [
    "Audit", "COLUMNS", "DEFAULT_FRACTIONS", "HIT_COLUMNS", "MMseqsError", "SEARCH_KMER",
    "SPLITS", "Sequences", "as_sequences", "assign", "audit", "canonical", "check_fractions",
    "cluster", "cluster_summary", "compare", "corpus_overlap", "duplicates", "fold_sizes",
    "leakage_statement", "linclust", "mmseqs_binary", "mmseqs_version", "nearest",
    "parse_holdout", "promoter_sequences", "random_split", "read", "search", "similar_pairs",
    "split_sequences", "summary", "traps", "validate", "write_audit",
]
