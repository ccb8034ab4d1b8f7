"""The leakage audit: each test promoter's nearest training promoter by an independent search,
exact copies across splits, and how much of the test set a pretraining corpus holds."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from cornlib import io
from cornlib.sequence import reverse_complement
from cornlib.split.assign import SPLITS, split_sequences
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

# --- audit -------------------------------------------------------------------------------------

@dataclass
class Audit:
    """A split's leakage audit.

    Attributes:
        nearest: one row per test promoter: its most similar training promoter (:func:`nearest`)
            plus ``species``.
        duplicates: promoters with an exact or reverse-complement copy in another split
            (:func:`duplicates`).
        summary: the counts (JSON-ready).
    """

    nearest: pd.DataFrame
    duplicates: pd.DataFrame
    summary: dict[str, Any] = field(default_factory=dict)

    def overview(self) -> pd.Series:
        """The summary's counts and fractions (nested entries left out), for display."""
        return pd.Series({k: v for k, v in self.summary.items()
                          if not isinstance(v, (dict, list))}, dtype=object)


def nearest(query: Sequences, target: Sequences, identity: float = 0.8, coverage: float = 0.8, *,
            threads: int | None = None, tmp_dir: str | os.PathLike | None = None) -> pd.DataFrame:
    """For each query sequence, its closest target by an MMseqs2 search (both strands).

    Args:
        query, target: sequences (see :func:`as_sequences`), e.g. test and training promoters.
        identity, coverage: similarity thresholds (see the module docstring).
        threads, tmp_dir: as in :func:`search`.

    Returns:
        One row per query, input order: ``gene_id`` (query id), ``n_hits``; the hit with the
        largest ``identity × coverage`` (the fraction of the shorter sequence aligned
        identically): ``match_id``, ``identity``, ``coverage``, ``query_cov``, ``target_cov``,
        ``alignment_length``, ``strand`` (``""``/0 without hits); ``identity_at_coverage``: the
        highest identity among hits covering ≥ ``coverage`` of the shorter sequence (0 if none);
        ``similar``:
        ``identity_at_coverage ≥ identity``; ``similar_query_cov``: a hit of ≥ ``identity`` over
        ≥ ``coverage`` of the query's own length.
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
    out["match_id"] = out["gene_id"].map(best["target_id"]).fillna("")
    for col in ("identity", "coverage", "query_cov", "target_cov"):
        out[col] = out["gene_id"].map(best[col]).fillna(0.0).astype(float)
    out["alignment_length"] = out["gene_id"].map(best["alignment_length"]).fillna(0).astype(int)
    out["strand"] = out["gene_id"].map(best["strand"]).fillna("")
    covered = hits[hits["coverage"] >= coverage].groupby("query_id")["identity"].max()
    out["identity_at_coverage"] = out["gene_id"].map(covered).fillna(0.0).astype(float)
    out["similar"] = out["identity_at_coverage"] >= identity
    own = hits[(hits["query_cov"] >= coverage) & (hits["identity"] >= identity)]["query_id"]
    out["similar_query_cov"] = out["gene_id"].isin(set(own))
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
          coverage: float = 0.8, *, threads: int | None = None,
          tmp_dir: str | os.PathLike | None = None) -> Audit:
    """Audit a split for leakage: duplicates across splits and test-to-train similarity.

    The similarity check is independent of the clustering: a fresh MMseqs2 search of the test
    promoters against the training promoters only (both strands, :func:`nearest`).

    Returns:
        An :class:`Audit`; ``summary`` holds ``test_promoters``, ``leaks`` (test promoters
        similar to a training one, coverage of the shorter sequence), ``leaks_test_coverage``
        (coverage of the test promoter itself), ``leak_fraction``, ``clusters_across_splits``,
        ``exact_duplicates_across_splits`` and ``rc_duplicates_across_splits`` (promoters with a
        copy in another split), ``identical_partial_overlaps`` (test promoters whose nearest
        training hit is ≥ 99 % identical but covers less than ``coverage``: shared stretches of
        DNA below the threshold, e.g. overlapping windows of divergent neighbours), per-species
        leak counts and the search settings.
    """
    io.require_columns(split, ("gene_id", "species", "cluster_id", "split"), "the split table")
    dups = duplicates(promoters, split)
    ids = split["gene_id"].astype(str)
    train, test = (split_sequences(promoters, split, s) for s in ("train", "test"))
    if not len(train) or not len(test):
        raise ValueError("the split table needs train and test genes to audit")
    near = nearest(test, train, identity, coverage, threads=threads, tmp_dir=tmp_dir)
    near.insert(1, "species", near["gene_id"].map(split.set_index(ids)["species"]).to_numpy())
    spread = split.groupby("cluster_id")["split"].nunique()
    per_species = {sp: {"test_promoters": len(g), "leaks": int(g["similar"].sum())}
                   for sp, g in near.groupby("species")}
    summary = {
        "identity": identity, "coverage": coverage,
        "promoters": {s: int((split["split"] == s).sum()) for s in SPLITS},
        "test_promoters": len(near),
        "leaks": int(near["similar"].sum()),
        "leaks_test_coverage": int(near["similar_query_cov"].sum()),
        "leak_fraction": float(near["similar"].mean()),
        "max_identity_at_coverage": float(near["identity_at_coverage"].max()),
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


def compare(audits: Mapping[str, Audit]) -> pd.DataFrame:
    """One row per audit and species (plus ``all``): test promoters, leaks and duplicates."""
    rows = []
    for label, a in audits.items():
        for species, part in [("all", a.nearest), *a.nearest.groupby("species")]:
            d = a.duplicates
            d = d if species == "all" else d[d["species"] == species]
            rows.append({"split": label, "species": species, "test_promoters": len(part),
                         "leaks": int(part["similar"].sum()),
                         "leak_percent": round(100 * float(part["similar"].mean()), 1),
                         "exact_duplicates": int((d["exact_elsewhere"] > 0).sum()),
                         "rc_duplicates": int((d["rc_elsewhere"] > 0).sum())})
    return pd.DataFrame(rows)


def leakage_statement(audit: Audit, baseline: Audit | None = None) -> str:
    """The leakage figure as a Markdown sentence (for the page), optionally against a baseline.

    Args:
        audit: the audit of the split in use.
        baseline: the audit of a split to compare with (e.g. :func:`random_split`).
    """
    def says(a: Audit) -> str:
        s = a.summary
        return (f"**{s['leaks']:,} of {s['test_promoters']:,}** test promoters "
                f"({100 * s['leak_fraction']:.1f} %) are at least {100 * s['identity']:.0f} % "
                f"identical over at least {100 * s['coverage']:.0f} % of the shorter sequence to a "
                f"training "
                f"promoter, on either strand; {s['exact_duplicates_across_splits']:,} promoters "
                f"have an exact copy and {s['rc_duplicates_across_splits']:,} a "
                f"reverse-complement copy in another split")

    text = f"With this split, {says(audit)}."
    if baseline is not None:
        text += f" With a random split, {says(baseline)}."
    return text


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
