"""The pretraining corpus: promoters of every species plus optional windows of unannotated genomes.

A corpus is a table with one row per sequence:

========  =====  ===============================================================================
column    dtype  meaning
========  =====  ===============================================================================
seq_id    str    unique; the ``gene_id`` of a promoter, ``<genome>:<chrom>:<start>-<end>(<strand>)``
                 of a genome window (0-based half-open coordinates)
species   str    species key of a promoter; genome key of a window (``alyrata``)
source    str    ``promoter`` or ``genome_window``
sequence  str    5'→3', normalized by :func:`cornlib.sequence.normalize` (upper-case ``ACGTN``)
========  =====  ===============================================================================
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from cornlib import CornlibWarning, artifacts, io
from cornlib.sequence import normalize, reverse_complement

#: Columns of a corpus table (described above).
COLUMNS: tuple[str, ...] = ("seq_id", "species", "source", "sequence")
SOURCES: tuple[str, ...] = ("promoter", "genome_window")
#: Split labels whose promoters (and cluster mates) the corpus leaves out by default.
EVAL_SPLITS: tuple[str, ...] = ("valid", "test")


# --- sources -----------------------------------------------------------------------------------------

def from_promoters(promoters: pd.DataFrame) -> pd.DataFrame:
    """Corpus rows for a promoter table (``gene_id``, ``species``, ``sequence``).

    Raises:
        ValueError: a column is missing, a ``gene_id`` repeats, or a sequence is empty or not
            DNA (the message names the gene).
    """
    io.require_columns(promoters, ("gene_id", "species", "sequence"), "the promoter table")
    dup = promoters["gene_id"][promoters["gene_id"].duplicated()]
    if len(dup):
        raise ValueError(f"the promoter table repeats gene_id {dup.iloc[0]!r} "
                         f"({len(dup)} repeats); gene ids must be unique")
    seqs = [normalize(s, g) for s, g in zip(promoters["sequence"], promoters["gene_id"])]
    return pd.DataFrame({"seq_id": promoters["gene_id"].astype(str).to_numpy(),
                         "species": promoters["species"].astype(str).to_numpy(),
                         "source": "promoter", "sequence": seqs})


def open_genomes(keys: list[str], cache_dir: str | os.PathLike | None = None) -> dict[str, Any]:
    """Random-access FASTA of embedded genomes by key (``alyrata``, ``aarenosa_uio``, ...).

    Each FASTA is opened with :func:`cornlib.data.genome.open_fasta` (an indexed copy in
    ``cache_dir``).
    """
    from cornlib.data import embedded, genome

    return {key: genome.open_fasta(embedded.locate(key).fasta, cache_dir) for key in keys}


def genome_windows(genomes: Mapping[str, Any], n: int, length: int = 1000, *, seed: int = 0,
                   max_n_fraction: float = 0.1, max_tries: int = 20) -> pd.DataFrame:
    """Sample ``n`` windows uniformly from the pooled sequence of some genomes (seeded).

    Each window is drawn by picking a chromosome with probability proportional to the starts it
    allows, a uniform start, and a strand (``-`` windows are reverse-complemented); windows with
    more than ``max_n_fraction`` ``N`` are redrawn.

    Args:
        genomes: genome key → FASTA-like mapping of chromosome → sliceable sequence (a
            ``pyfaidx.Fasta``, or a ``dict`` of strings in tests).
        n: windows to draw in total.
        length: window length (bp).
        seed: seed of the draw.
        max_n_fraction: largest accepted fraction of ``N`` in a window.
        max_tries: give up after ``max_tries * n`` draws (with a :class:`CornlibWarning`).

    Returns:
        Corpus rows with ``source = "genome_window"``; ``seq_id`` holds 0-based half-open
        coordinates.
    """
    if n < 0 or length < 1:
        raise ValueError(f"n must be ≥ 0 and length ≥ 1 (got n={n}, length={length})")
    if n == 0:
        return _empty()
    chroms = [(g, c, len(fa[c])) for g, fa in genomes.items() for c in fa.keys()]
    chroms = [(g, c, size) for g, c, size in chroms if size >= length]
    if not chroms:
        raise ValueError(f"no chromosome of {sorted(genomes)} is at least {length} bp long")
    weights = np.array([size - length + 1 for *_, size in chroms], float)
    rng = np.random.default_rng(seed)
    rows, seen = [], set()
    for _ in range(max_tries * n):
        if len(rows) == n:
            break
        g, c, size = chroms[rng.choice(len(chroms), p=weights / weights.sum())]
        start = int(rng.integers(0, size - length + 1))
        strand = "-" if rng.random() < 0.5 else "+"
        key = f"{g}:{c}:{start}-{start + length}({strand})"
        if key in seen:
            continue
        seq = normalize(str(genomes[g][c][start:start + length]), key)
        if seq.count("N") > max_n_fraction * length:
            continue
        seen.add(key)
        rows.append((key, g, "genome_window", reverse_complement(seq) if strand == "-" else seq))
    if len(rows) < n:
        warnings.warn(f"drew only {len(rows)} of {n} genome windows with ≤ {max_n_fraction:.0%} N "
                      f"in {max_tries * n} tries; raise max_n_fraction or lower n", CornlibWarning,
                      stacklevel=2)
    return pd.DataFrame(rows, columns=list(COLUMNS))


# --- leaving the evaluation promoters out -----------------------------------------------------------

def eval_exclusion(split: pd.DataFrame, eval_splits: tuple[str, ...] = EVAL_SPLITS) -> pd.DataFrame:
    """Genes to leave out of the corpus: every ``eval_splits`` gene and all its cluster mates.

    Args:
        split: ``split.parquet`` (``gene_id``, ``cluster_id``, ``split``).
        eval_splits: split labels held out from pretraining.

    Returns:
        Columns ``gene_id``, ``split``, ``reason`` (``valid``/``test`` for the gene itself,
        ``cluster mate`` for a gene of another split that shares a cluster with one).
    """
    io.require_columns(split, ("gene_id", "cluster_id", "split"), "the split table")
    held = split["split"].isin(eval_splits)
    clusters = set(split.loc[held, "cluster_id"])
    out = split.loc[split["cluster_id"].isin(clusters), ["gene_id", "split"]].copy()
    out["reason"] = np.where(out["split"].isin(eval_splits), out["split"], "cluster mate")
    return out.reset_index(drop=True)


def screen_windows(windows: pd.DataFrame, promoters: pd.DataFrame, split: pd.DataFrame, *,
                   identity: float = 0.8, coverage: float = 0.8, threads: int | None = None,
                   eval_splits: tuple[str, ...] = EVAL_SPLITS) -> pd.DataFrame:
    """Mark genome windows similar to a held-out promoter (MMseqs2, both strands).

    A window of a related genome can hold a near-copy of a validation or test promoter (the
    unannotated *A. arenosa* assembly is the same species as an annotated one), which
    excluding promoters by gene would miss. Similarity is that of :mod:`cornlib.split`:
    ≥ ``identity`` over ≥ ``coverage`` of the shorter sequence.

    Args:
        windows: rows of :func:`genome_windows`.
        promoters: the promoter table (``gene_id``, ``sequence``).
        split: ``split.parquet``.
        identity, coverage: similarity thresholds (the split's ``split_identity``/``split_coverage``).
        threads: MMseqs2 threads (``None``: all cores).
        eval_splits: split labels held out from pretraining.

    Returns:
        A copy of ``windows`` with ``similar_to``: the most similar held-out gene (best bit
        score), or ``None``. :func:`build` drops the marked windows when ``exclude_eval``.
    """
    from cornlib import split as split_mod

    out = windows.copy()
    out["similar_to"] = None
    held = set(split.loc[split["split"].isin(eval_splits), "gene_id"].astype(str))
    query = promoters[promoters["gene_id"].astype(str).isin(held)]
    if not len(out) or not len(query):
        return out
    hits = split_mod.search(query.set_index("gene_id")["sequence"],
                            out.set_index("seq_id")["sequence"], threads=threads)
    pairs = split_mod.similar_pairs(hits, identity, coverage).sort_values("bits", ascending=False)
    best = pairs.drop_duplicates("target_id").set_index("target_id")["query_id"]
    out["similar_to"] = out["seq_id"].map(best).astype(object).where(out["seq_id"].isin(best.index), None)
    return out


def build(promoters: pd.DataFrame, split: pd.DataFrame | None = None, *, exclude_eval: bool = True,
          windows: pd.DataFrame | None = None) -> pd.DataFrame:
    """The pretraining corpus: promoters (minus the held-out clusters) and genome windows.

    Args:
        promoters: ``promoters.parquet`` (``gene_id``, ``species``, ``sequence``).
        split: ``split.parquet``; needed when ``exclude_eval``.
        exclude_eval: leave out valid/test promoters and their cluster mates.
        windows: rows from :func:`genome_windows`, best passed through :func:`screen_windows`:
            with ``exclude_eval``, windows marked ``similar_to`` a held-out promoter are left
            out (unscreened windows are kept with a :class:`CornlibWarning`).

    Returns:
        A new corpus table (:data:`COLUMNS`), validated.
    """
    corpus = from_promoters(promoters)
    if exclude_eval:
        if split is None:
            raise ValueError("exclude_eval=True needs the split table (split.parquet: "
                             f"{artifacts.how_to_make('split.parquet')}); pass split= or set "
                             "exclude_eval=False")
        unsplit = set(corpus["seq_id"]) - set(split["gene_id"].astype(str))
        if unsplit:
            warnings.warn(f"{len(unsplit)} promoters are not in the split table (e.g. "
                          f"{sorted(unsplit)[0]!r}); they stay in the corpus", CornlibWarning,
                          stacklevel=2)
        drop = set(eval_exclusion(split)["gene_id"].astype(str))
        corpus = corpus[~corpus["seq_id"].isin(drop)]
    if windows is not None and len(windows):
        if exclude_eval and "similar_to" in windows.columns:
            windows = windows[windows["similar_to"].isna()]
        elif exclude_eval:
            warnings.warn("the genome windows were not screened against the held-out promoters; "
                          "pass them through cornlib.corpus.screen_windows first", CornlibWarning,
                          stacklevel=2)
        corpus = pd.concat([corpus, windows[list(COLUMNS)]], ignore_index=True)
    return validate(corpus.reset_index(drop=True))


# --- checks and reports -----------------------------------------------------------------------------

def validate(corpus: pd.DataFrame, name: str = "the corpus") -> pd.DataFrame:
    """Check a corpus table; return it unchanged.

    Raises:
        ValueError: missing columns, an empty table, repeated ``seq_id``, an unknown ``source``,
            or a sequence that is empty or not normalized DNA (naming the ``seq_id``).
    """
    io.require_columns(corpus, COLUMNS, name)
    if not len(corpus):
        raise ValueError(f"{name} has no sequences; check the promoter table and the exclusions")
    dup = corpus["seq_id"][corpus["seq_id"].duplicated()]
    if len(dup):
        raise ValueError(f"{name} repeats seq_id {dup.iloc[0]!r}; seq_id must be unique")
    bad_source = set(corpus["source"]) - set(SOURCES)
    if bad_source:
        raise ValueError(f"{name} has unknown source {sorted(bad_source)}; expected {SOURCES}")
    for sid, seq in zip(corpus["seq_id"], corpus["sequence"]):
        if normalize(seq, sid) != seq:
            raise ValueError(f"sequence {sid!r} of {name} is not normalized (lowercase or IUPAC "
                             f"letters); build it with cornlib.corpus.build")
    return corpus


def read(path: str | os.PathLike) -> pd.DataFrame:
    """Read and validate ``corpus.parquet``.

    Raises:
        FileNotFoundError: ``path`` does not exist (it says how to make it).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no corpus at {path}; "
                                f"{artifacts.how_to_make('corpus.parquet')}")
    return validate(pd.read_parquet(path), name=str(path))


def write(path: str | os.PathLike, corpus: pd.DataFrame) -> Path:
    """Validate ``corpus`` and write it to ``path`` as Parquet, atomically."""
    return io.write_parquet(path, validate(corpus)[list(COLUMNS)])


def summary(corpus: pd.DataFrame) -> pd.DataFrame:
    """Sequences, bases and mean length per source and species."""
    lengths = corpus["sequence"].str.len()
    return (corpus.assign(bp=lengths).groupby(["source", "species"])
            .agg(sequences=("seq_id", "size"), bp=("bp", "sum"), mean_length=("bp", "mean"))
            .reset_index())


def overlap(corpus: pd.DataFrame, promoters: pd.DataFrame, split: pd.DataFrame) -> dict[str, Any]:
    """How much of the fine-tuning evaluation set the corpus holds, by id, cluster and sequence.

    Args:
        corpus: the corpus table.
        promoters: the promoter table (for the evaluation sequences).
        split: ``split.parquet``.

    Returns:
        For each of valid and test: ``genes``, ``genes_in_corpus`` (by ``seq_id``),
        ``cluster_in_corpus`` (genes whose cluster has a member in the corpus), and
        ``exact_sequence_in_corpus`` (evaluation promoters whose sequence or reverse complement
        equals a corpus sequence, windows included); plus ``corpus_by_split`` (corpus promoters
        per split label, ``none`` for genes the split lacks).
    """
    io.require_columns(split, ("gene_id", "cluster_id", "split"), "the split table")
    ids = set(corpus["seq_id"])
    seqs = set(corpus["sequence"])
    split = split.assign(gene_id=split["gene_id"].astype(str))
    label = split.set_index("gene_id")["split"]
    prom = promoters.assign(gene_id=promoters["gene_id"].astype(str)).set_index("gene_id")
    cluster_in = set(split.loc[split["gene_id"].isin(ids), "cluster_id"])
    report: dict[str, Any] = {}
    for name in EVAL_SPLITS:
        genes = split.loc[split["split"] == name]
        found = 0
        for g in genes["gene_id"]:
            if g in prom.index:
                s = normalize(prom.at[g, "sequence"], g)
                found += s in seqs or reverse_complement(s) in seqs
        report[name] = {"genes": len(genes),
                        "genes_in_corpus": int(genes["gene_id"].isin(ids).sum()),
                        "cluster_in_corpus": int(genes["cluster_id"].isin(cluster_in).sum()),
                        "exact_sequence_in_corpus": int(found)}
    prom_ids = corpus.loc[corpus["source"] == "promoter", "seq_id"]
    report["corpus_by_split"] = (prom_ids.map(label).fillna("none").value_counts()
                                 .to_dict())
    return report



def _empty() -> pd.DataFrame:
    """An empty corpus table."""
    return pd.DataFrame({c: pd.Series(dtype=str) for c in COLUMNS})
