"""The leakage audit: each test promoter's nearest training promoter by an independent search
(counted at several coverages), shared genomic DNA and same-family genes across splits, exact
copies, the cross-species audit of a species hold-out, and how much of the test set a
pretraining corpus holds."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from cornlib import io
from cornlib.sequence import reverse_complement
from cornlib.split.assign import SPLITS, split_sequences
from cornlib.split.families import FAMILY_COVERAGE, FAMILY_IDENTITY, cross_family_hits
from cornlib.split.mmseqs import (
    SEARCH_KMER,
    Sequences,
    _check_threshold,
    as_sequences,
    mmseqs_version,
    promoter_sequences,
    search,
    similar_pairs,
)
from cornlib.split.windows import shared_dna

# --- audit -------------------------------------------------------------------------------------

#: Shorter-sequence coverages at which the audit counts test promoters with a training hit.
AUDIT_COVERAGES: tuple[float, ...] = (0.8, 0.5, 0.3)


@dataclass
class Audit:
    """A split's leakage audit.

    Attributes:
        nearest: one row per test promoter: its most similar training promoter (:func:`nearest`),
            ``species``, shared DNA with training windows (:func:`cornlib.split.windows.shared_dna`)
            and, with proteins, same-family training genes
            (:func:`cornlib.split.families.cross_family_hits`).
        duplicates: promoters with an exact or reverse-complement copy in another split
            (:func:`duplicates`).
        summary: the counts (JSON-ready); ``checks`` lists one entry per row of the audit table
            (:func:`cornlib.split.report.audit_table`).
    """

    nearest: pd.DataFrame
    duplicates: pd.DataFrame
    summary: dict[str, Any] = field(default_factory=dict)

    def overview(self) -> pd.Series:
        """The summary's counts and fractions (nested entries left out), for display."""
        return pd.Series({k: v for k, v in self.summary.items()
                          if not isinstance(v, (dict, list))}, dtype=object)

    def residual(self) -> int:
        """The largest count among the checks (0: nothing found at any threshold)."""
        return max((c["test_promoters"] for c in self.summary.get("checks", [])), default=0)


def _cov_column(coverage: float) -> str:
    """``similar_cov80`` for 0.8: the :func:`nearest` column of one coverage threshold."""
    return f"similar_cov{round(100 * coverage)}"


def nearest(query: Sequences, target: Sequences, identity: float = 0.8, coverage: float = 0.8, *,
            coverages: tuple[float, ...] = AUDIT_COVERAGES, threads: int | None = None,
            tmp_dir: str | os.PathLike | None = None) -> pd.DataFrame:
    """For each query sequence, its closest target by an MMseqs2 search (both strands).

    Args:
        query, target: sequences (see :func:`as_sequences`), e.g. test and training promoters.
        identity, coverage: similarity thresholds (see the module docstring).
        coverages: further shorter-sequence coverages to count hits at (``identity`` kept).
        threads, tmp_dir: as in :func:`search`.

    Returns:
        One row per query, input order: ``gene_id`` (query id), ``n_hits``; the hit with the
        largest ``identity × coverage`` (the fraction of the shorter sequence aligned
        identically): ``match_id``, ``identity``, ``coverage``, ``query_cov``, ``target_cov``,
        ``alignment_length``, ``strand`` (``""``/0 without hits); ``identity_at_coverage``: the
        highest identity among hits covering ≥ ``coverage`` of the shorter sequence (0 if none);
        ``similar``: ``identity_at_coverage ≥ identity``; ``similar_query_cov``: a hit of
        ≥ ``identity`` over ≥ ``coverage`` of the query's own length; ``similar_cov80``,
        ``similar_cov50``, …: a hit of ≥ ``identity`` over ≥ that coverage of the shorter one.
    """
    identity = _check_threshold(identity, "identity")
    coverage = _check_threshold(coverage, "coverage")
    query = as_sequences(query, "the query sequences")
    hits = search(query, target, threads=threads, tmp_dir=tmp_dir)
    out = pd.DataFrame({"gene_id": query.index.to_numpy()})
    best = (hits.assign(score=hits["identity"] * hits["coverage"])
            .sort_values(["query_id", "score", "identity"], ascending=[True, False, False])
            .drop_duplicates("query_id").set_index("query_id"))
    out["n_hits"] = out["gene_id"].map(hits.groupby("query_id").size()).fillna(0).astype(int)
    out["match_id"] = out["gene_id"].map(best["target_id"]).astype(object).fillna("")
    for col in ("identity", "coverage", "query_cov", "target_cov"):
        out[col] = out["gene_id"].map(best[col]).fillna(0.0).astype(float)
    out["alignment_length"] = out["gene_id"].map(best["alignment_length"]).fillna(0).astype(int)
    out["strand"] = out["gene_id"].map(best["strand"]).astype(object).fillna("")
    covered = hits[hits["coverage"] >= coverage].groupby("query_id")["identity"].max()
    out["identity_at_coverage"] = out["gene_id"].map(covered).fillna(0.0).astype(float)
    out["similar"] = out["identity_at_coverage"] >= identity
    own = hits[(hits["query_cov"] >= coverage) & (hits["identity"] >= identity)]["query_id"]
    out["similar_query_cov"] = out["gene_id"].isin(set(own))
    for cov in sorted({coverage, *map(float, coverages)}, reverse=True):
        ids = similar_pairs(hits, identity, _check_threshold(cov, "coverage"))["query_id"]
        out[_cov_column(cov)] = out["gene_id"].isin(set(ids))
    return out


def duplicates(promoters: pd.DataFrame, split: pd.DataFrame) -> pd.DataFrame:
    """Promoters with an exact or reverse-complement copy in another split.

    Returns:
        One row per such promoter: ``gene_id``, ``species``, ``split``, ``exact_elsewhere`` and
        ``rc_elsewhere`` (how many promoters of other splits equal it, or its reverse
        complement; a palindrome counts as exact only).
    """
    seqs = promoter_sequences(promoters)
    table = split[["gene_id", "species", "split"]].assign(gene_id=split["gene_id"].astype(str))
    missing = sorted(set(table["gene_id"]) - set(seqs.index))
    if missing:
        raise ValueError(f"gene {missing[0]!r} of the split table has no promoter sequence "
                         f"({len(missing)} missing); split and promoters must come from one run")
    table["seq"] = table["gene_id"].map(seqs).to_numpy()
    table["rc"] = table["seq"].map(reverse_complement)
    total = table.groupby("seq").size()
    per_split = table.groupby(["seq", "split"]).size()
    key = pd.MultiIndex.from_arrays([table["seq"], table["split"]])
    rc_key = pd.MultiIndex.from_arrays([table["rc"], table["split"]])
    exact = table["seq"].map(total).to_numpy() - per_split.reindex(key).to_numpy()
    rc = (table["rc"].map(total).fillna(0).to_numpy()
          - per_split.reindex(rc_key).fillna(0).to_numpy())
    rc[(table["rc"] == table["seq"]).to_numpy()] = 0
    table["exact_elsewhere"] = exact.astype(int)
    table["rc_elsewhere"] = rc.astype(int)
    keep = (table["exact_elsewhere"] > 0) | (table["rc_elsewhere"] > 0)
    return table.loc[keep, ["gene_id", "species", "split", "exact_elsewhere", "rc_elsewhere"]] \
        .reset_index(drop=True)


def audit(promoters: pd.DataFrame, split: pd.DataFrame, identity: float = 0.8,
          coverage: float = 0.8, *, coverages: tuple[float, ...] = AUDIT_COVERAGES,
          windows: bool = True, proteins: pd.DataFrame | None = None,
          family_identity: float = FAMILY_IDENTITY, family_coverage: float = FAMILY_COVERAGE,
          threads: int | None = None, tmp_dir: str | os.PathLike | None = None) -> Audit:
    """Audit a split for leakage: test against train by sequence, by genome window, by family.

    Every check is independent of the grouping: a fresh MMseqs2 search of the test promoters
    against the training promoters only (both strands, :func:`nearest`), the test windows
    intersected with the training windows, and a fresh protein search of test genes against
    training genes.

    Args:
        promoters: the promoter table (``chrom``, ``start``, ``end`` for ``windows``).
        split: ``gene_id``, ``species``, ``cluster_id``, ``split``.
        identity, coverage: the similarity thresholds of the split.
        coverages: further shorter-sequence coverages counted at ``identity``.
        windows: count test promoters whose window shares DNA with a training window.
        proteins: one protein per gene (:func:`cornlib.split.proteins.gene_proteins`) to count
            same-family pairs across test and train, or ``None`` to skip that check.
        family_identity, family_coverage: the family thresholds.
        threads, tmp_dir: as in :func:`search`.

    Returns:
        An :class:`Audit`; ``summary`` holds ``test_promoters``, ``leaks`` (test promoters
        similar to a training one at ``identity``/``coverage``), ``leaks_test_coverage``
        (coverage of the test promoter itself), ``leak_fraction``, ``checks`` (one entry per
        threshold: ``check``, ``key``, thresholds, ``test_promoters`` with a training hit,
        ``percent``), ``shared_dna_bp`` (test bases inside training windows),
        ``test_genes_with_protein`` and ``family_pairs_across_splits`` (test–train gene pairs of
        one family),
        ``clusters_across_splits``, ``exact_duplicates_across_splits`` and
        ``rc_duplicates_across_splits``, ``identical_partial_overlaps`` (nearest hit ≥ 99 %
        identical over less than ``coverage``), per-species counts and the search settings.
    """
    io.require_columns(split, ("gene_id", "species", "cluster_id", "split"), "the split table")
    dups = duplicates(promoters, split)
    ids = split["gene_id"].astype(str)
    train, test = (split_sequences(promoters, split, s) for s in ("train", "test"))
    if not len(train) or not len(test):
        raise ValueError("the split table needs train and test genes to audit")
    near = nearest(test, train, identity, coverage, coverages=coverages, threads=threads,
                   tmp_dir=tmp_dir)
    near.insert(1, "species", near["gene_id"].map(split.set_index(ids)["species"]).to_numpy())
    checks = [_check(f"≥ {identity:.0%} identity over ≥ {cov:.0%} of the shorter promoter",
                     _cov_column(cov).removeprefix("similar_"), near[_cov_column(cov)],
                     identity=identity, coverage=cov)
              for cov in sorted({coverage, *map(float, coverages)}, reverse=True)]
    if windows:
        shared = shared_dna(promoters, test.index, train.index)
        for col in ("overlapping_windows", "shared_bp", "largest_overlap_bp"):
            near[col] = shared[col].to_numpy()
        checks.append(_check("window shares genomic DNA with a training window", "shared_dna",
                             near["shared_bp"] > 0))
    if proteins is not None:
        fam = cross_family_hits(proteins, split, family_identity, family_coverage,
                                threads=threads, tmp_dir=tmp_dir)
        fam = fam.set_index(fam["species"] + "|" + fam["gene_id"])
        key = near["species"].astype(str) + "|" + near["gene_id"]
        near["has_protein"] = key.isin(fam.index).to_numpy()
        for col in ("family_hits", "family_match", "family_identity", "family_coverage"):
            mapped = key.map(fam[col])
            near[col] = (mapped.astype(object).fillna("") if col == "family_match"
                         else mapped.fillna(0)).to_numpy()
        near["family_hits"] = near["family_hits"].astype(int)
        checks.append(_check(f"same protein family (≥ {family_identity:.0%} identity over "
                             f"≥ {family_coverage:.0%} of both proteins)", "family",
                             near["family_hits"] > 0, identity=family_identity,
                             coverage=family_coverage))
    per_species = {}
    for sp, rows in near.groupby("species").indices.items():
        per_species[sp] = {"test_promoters": len(rows),
                           "leaks": int(near["similar"].to_numpy()[rows].sum()),
                           "checks": {c["check"]: int(c["mask"][rows].sum()) for c in checks}}
    spread = split.groupby("cluster_id")["split"].nunique()
    summary = {
        "identity": identity, "coverage": coverage,
        "promoters": {s: int((split["split"] == s).sum()) for s in SPLITS},
        "test_promoters": len(near),
        "leaks": int(near["similar"].sum()),
        "leaks_test_coverage": int(near["similar_query_cov"].sum()),
        "leak_fraction": float(near["similar"].mean()),
        "max_identity_at_coverage": float(near["identity_at_coverage"].max()),
        "checks": [{k: v for k, v in c.items() if k != "mask"} for c in checks],
        "shared_dna_bp": int(near["shared_bp"].sum()) if windows else None,
        "test_genes_with_protein": int(near["has_protein"].sum()) if proteins is not None
        else None,
        "family_pairs_across_splits": int(near["family_hits"].sum()) if proteins is not None
        else None,
        "clusters_across_splits": int((spread > 1).sum()),
        "exact_duplicates_across_splits": int((dups["exact_elsewhere"] > 0).sum()),
        "rc_duplicates_across_splits": int((dups["rc_elsewhere"] > 0).sum()),
        "identical_partial_overlaps": int(((near["identity"] >= 0.99)
                                           & (near["coverage"] < coverage)).sum()),
        "per_species": per_species,
        "search": {"tool": "mmseqs easy-search", "version": mmseqs_version(),
                   "search_type": 3, "strand": "both", "kmer": SEARCH_KMER},
    }
    return Audit(nearest=near, duplicates=dups, summary=summary)


def _check(label: str, key: str, mask: pd.Series, **thresholds: float) -> dict[str, Any]:
    """One audit-table entry: ``check`` (label), ``key`` (``cov80``, ``shared_dna``,
    ``family``), thresholds, ``test_promoters``, ``percent`` (``mask``, the boolean per test
    promoter, is dropped from the summary)."""
    mask = pd.Series(mask).astype(bool).to_numpy()
    n = int(mask.sum())
    return {"check": label, "key": key, **thresholds, "test_promoters": n,
            "percent": round(100 * n / max(len(mask), 1), 2), "mask": mask}


def cross_species(promoters: pd.DataFrame, clusters: pd.DataFrame, species: str,
                  identity: float = 0.8, coverage: float = 0.8, *,
                  coverages: tuple[float, ...] = AUDIT_COVERAGES,
                  proteins: pd.DataFrame | None = None,
                  family_identity: float = FAMILY_IDENTITY,
                  family_coverage: float = FAMILY_COVERAGE, threads: int | None = None,
                  tmp_dir: str | os.PathLike | None = None) -> Audit:
    """The audit of a species hold-out: ``species`` as test, every other species as train.

    This is the cross-species number: how much of one species the others already hold (its
    orthologs and shared families), inherent to a species hold-out. No grouping is applied
    (group mates of other species stay in train); ``summary["group_mates_elsewhere"]`` counts
    the other-species promoters sharing a group with ``species``, which
    :func:`cornlib.split.assign` with ``holdout="species:<name>"`` moves to test.

    Args:
        promoters, clusters: the promoter table and its grouping
            (:func:`~cornlib.split.clusters.cluster`).
        species: the held-out species.
        identity, coverage, coverages, proteins, family_identity, family_coverage, threads, tmp_dir:
            as in :func:`audit` (genome windows are not compared: species share none).

    Returns:
        An :class:`Audit` (``summary["holdout"]`` names the hold-out).
    """
    io.require_columns(clusters, ("gene_id", "species", "cluster_id"), "the cluster table")
    known = sorted(clusters["species"].astype(str).unique())
    if species not in known or len(known) < 2:
        raise ValueError(f"cross_species needs {species!r} and another species; the table "
                         f"holds {known}")
    held = (clusters["species"].astype(str) == species).to_numpy()
    pseudo = clusters[["gene_id", "species", "cluster_id"]].assign(
        split=np.where(held, "test", "train"), fold=np.where(held, -1, 0))
    result = audit(promoters, pseudo, identity, coverage, coverages=coverages, windows=False,
                   proteins=proteins, family_identity=family_identity,
                   family_coverage=family_coverage, threads=threads, tmp_dir=tmp_dir)
    mates = np.isin(clusters["cluster_id"].to_numpy(), clusters["cluster_id"].to_numpy()[held])
    result.summary["holdout"] = f"species:{species}"
    result.summary["group_mates_elsewhere"] = int((mates & ~held).sum())
    return result


def corpus_overlap(corpus_sequences: Sequences, test_sequences: Sequences, identity: float = 0.8,
                   coverage: float = 0.8, *, similarity: bool = True, threads: int | None = None,
                   tmp_dir: str | os.PathLike | None = None) -> dict[str, Any]:
    """How much of a fine-tuning test set a pretraining corpus already holds.

    Exact overlap compares whole sequences on both strands; with ``search``, an MMseqs2 search
    of the test sequences against the corpus (both strands) also finds similar ones — a corpus
    row contained in a test promoter, or the reverse, counts through shorter-sequence coverage.
    Corpus and test ids are independent (the same id in both is no match by itself).

    Args:
        corpus_sequences, test_sequences: sequences (see :func:`as_sequences`), e.g.
            ``corpus.set_index("seq_id")["sequence"]``.
        identity, coverage: similarity thresholds (see the module docstring).
        similarity: run the similarity search (else exact overlap only; the similar counts are
            None).

    Returns:
        ``corpus_rows``, ``test_sequences``; ``test_exact_in_corpus`` and
        ``corpus_exact_in_test`` (either strand); ``test_similar_in_corpus`` and
        ``corpus_similar_to_test`` (hits of ≥ ``identity`` over ≥ ``coverage``); the matching
        fractions; and the thresholds.
    """
    corpus = as_sequences(corpus_sequences, "the corpus sequences")
    test = as_sequences(test_sequences, "the test sequences")
    corpus_set = set(corpus)
    test_both = set(test) | {reverse_complement(s) for s in test}
    test_exact = sum(s in corpus_set or reverse_complement(s) in corpus_set for s in test)
    corpus_exact = sum(s in test_both for s in corpus)
    report: dict[str, Any] = {"corpus_rows": len(corpus), "test_sequences": len(test),
                              "test_exact_in_corpus": int(test_exact),
                              "corpus_exact_in_test": int(corpus_exact),
                              "test_similar_in_corpus": None, "corpus_similar_to_test": None,
                              "identity": identity, "coverage": coverage}
    if similarity:
        hits = search(test, corpus, threads=threads, tmp_dir=tmp_dir)
        pairs = similar_pairs(hits, identity, coverage)
        report["test_similar_in_corpus"] = int(pairs["query_id"].nunique())
        report["corpus_similar_to_test"] = int(pairs["target_id"].nunique())
    report["test_exact_fraction"] = test_exact / len(test)
    report["corpus_exact_fraction"] = corpus_exact / len(corpus)
    if similarity:
        report["test_similar_fraction"] = report["test_similar_in_corpus"] / len(test)
        report["corpus_similar_fraction"] = report["corpus_similar_to_test"] / len(corpus)
    return report


def write_audit(run_dir: str | os.PathLike, audits: Mapping[str, Audit],
                **extra: Any) -> list[Path]:
    """Save audits: ``split/nearest_train.parquet`` and ``split/duplicates.parquet`` (a column
    ``audit`` names each one) and ``split_audit.json`` (their summaries plus ``extra``).

    Returns:
        The paths written.
    """
    from cornlib import io

    run_dir = Path(run_dir)
    near = pd.concat([a.nearest.assign(audit=k) for k, a in audits.items()], ignore_index=True)
    dups = pd.concat([a.duplicates.assign(audit=k) for k, a in audits.items()], ignore_index=True)
    summary = {"audits": {k: a.summary for k, a in audits.items()}, **extra}
    return [io.write_parquet(run_dir / "split" / "nearest_train.parquet", near),
            io.write_parquet(run_dir / "split" / "duplicates.parquet", dups),
            io.write_json(run_dir / "split_audit.json", summary)]
