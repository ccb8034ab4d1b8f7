"""Transcription-factor motifs: JASPAR plant matrices, log-odds scoring and fast promoter scans.

Conventions used throughout:

* Matrices are ``(L, 4)`` arrays with columns in the order ``A, C, G, T``.
* Scores are log-odds in bits against a ``background`` base composition (``A, C, G, T``).
* Sequences are read 5'→3'; a hit on strand ``+`` reads 5'→3' along the given sequence
  (for promoters: along the gene's strand), a hit on ``-`` reads along its reverse complement.
* ``start`` is the 0-based offset of the hit's leftmost base in the given sequence (the hit
  covers ``[start, start + L)`` on both strands); ``position`` is ``start - tss_index``
  (negative upstream of the TSS).
* ``N`` (and any non-ACGT letter) scores the column mean; windows must lie inside a sequence.
* Column log-odds are rounded to :data:`RESOLUTION` (0.01 bits) before scoring, which makes
  p-value thresholds exact (:func:`score_threshold`).

Scanning is vectorised: a few motifs are scored by k-mer table lookups, many at once by an
im2col matrix product (one BLAS call per block of sequences and group of motifs of similar
length). See ``benchmarks/motif_scan.py`` for timings.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Iterable, Sequence

import numpy as np
import pandas as pd

from cornlib.sequence import BASES, IUPAC, N_CODE, encode_padded

ALPHABET = BASES
UNIFORM = (0.25, 0.25, 0.25, 0.25)
#: Scores are sums of column log-odds rounded to this many bits (see :func:`score_threshold`).
RESOLUTION = 0.01
_PAD = N_CODE + 1  # code of the padding beyond a sequence's end (N is 4)
_IUPAC = IUPAC
_BATCH_FLOATS = 8_000_000  # ~32 MB of float32 per scoring block


@dataclass(frozen=True, eq=False)
class Motif:
    """One position frequency matrix.

    Attributes:
        matrix_id: JASPAR matrix ID with version (``MA0021.1``) or a made-up ID.
        name: transcription factor name (``Dof3``).
        family: TF family (``DOF``), families joined by ``/``; empty when unknown.
        counts: ``(L, 4)`` site counts (or frequencies) in the order A, C, G, T.
    """

    matrix_id: str
    name: str
    family: str
    counts: np.ndarray = field(repr=False)

    @property
    def length(self) -> int:
        """Number of positions ``L``."""
        return int(self.counts.shape[0])

    def probabilities(self, background: Sequence[float] = UNIFORM) -> np.ndarray:
        """``(L, 4)`` base probabilities with a ``sqrt(n_sites)`` pseudocount spread by ``background``."""
        bg = _background(background)
        n = self.counts.sum(axis=1, keepdims=True)
        pseudo = np.sqrt(np.maximum(n, 1.0))
        return (self.counts + pseudo * bg) / (n + pseudo)

    def log_odds(self, background: Sequence[float] = UNIFORM) -> np.ndarray:
        """``(L, 4)`` position weight matrix: ``log2(p / background)`` in bits."""
        bg = _background(background)
        return np.log2(self.probabilities(bg) / bg)

    def information_content(self) -> float:
        """Total information content in bits (uniform background), the sum over positions."""
        p = self.probabilities(UNIFORM)
        return float((2.0 + (p * np.log2(p)).sum(axis=1)).sum())


def _background(background: Sequence[float]) -> np.ndarray:
    bg = np.asarray(background, dtype=float)
    if bg.shape != (4,) or np.any(bg <= 0) or not np.isfinite(bg).all():
        raise ValueError(f"background must be 4 positive frequencies (A, C, G, T), not {background!r}")
    return bg / bg.sum()


@functools.lru_cache(maxsize=4)
def _load(release: str, collection: str, tax_group: str) -> tuple[Motif, ...]:
    from pyjaspar import jaspar_releases, jaspardb

    if release not in jaspar_releases:
        raise ValueError(f"JASPAR release {release!r} is not shipped by pyjaspar "
                         f"(shipped: {', '.join(sorted(jaspar_releases))})")
    db = jaspardb(release=release)
    found = db.fetch_motifs(collection=collection, tax_group=[tax_group], all_versions=False)
    out = []
    for m in found:
        counts = np.array([m.counts[b] for b in ALPHABET], dtype=float).T  # L, 4
        family = "/".join(m.tf_family or [])
        out.append(Motif(m.matrix_id, m.name, family, counts))
    if not out:
        raise ValueError(f"{release} has no {collection} motifs for tax group {tax_group!r}")
    return tuple(sorted(out, key=lambda m: m.matrix_id))


def load_plant_motifs(release: str = "JASPAR2024", collection: str = "CORE",
                      tax_group: str = "plants") -> list[Motif]:
    """The JASPAR motifs of one release, collection and taxonomic group, latest versions only.

    The SQLite databases ship inside the ``pyjaspar`` package (offline); JASPAR2024 CORE
    plants holds 805 matrices. Results are cached per process.

    Args:
        release: a release pyjaspar ships (``JASPAR2024``).
        collection: JASPAR collection (``CORE``).
        tax_group: taxonomic group (``plants``).

    Returns:
        Motifs sorted by matrix ID.
    """
    return list(_load(release, collection, tax_group))


def from_consensus(consensus: str, matrix_id: str, name: str, n_sites: int = 20) -> Motif:
    """A motif built from an IUPAC consensus, each position's sites spread evenly over its bases.

    Args:
        consensus: IUPAC string (``TATAWAWR``).
        matrix_id: ID to give the motif.
        name: name to give the motif.
        n_sites: number of sites the counts represent (sets the pseudocount's weight).
    """
    bad = sorted({c for c in consensus.upper() if c not in _IUPAC})
    if not consensus or bad:
        raise ValueError(f"consensus {consensus!r} must be a non-empty IUPAC string (bad: {bad})")
    counts = np.zeros((len(consensus), 4))
    for i, c in enumerate(consensus.upper()):
        bases = _IUPAC[c]
        for b in bases:
            counts[i, ALPHABET.index(b)] = n_sites / len(bases)
    return Motif(matrix_id, name, "", counts)


def motif_table(motifs: Iterable[Motif]) -> pd.DataFrame:
    """One row per motif: ``matrix_id, name, family, length, information_content``."""
    return pd.DataFrame([{"matrix_id": m.matrix_id, "name": m.name, "family": m.family,
                          "length": m.length, "information_content": m.information_content()}
                         for m in motifs])


def base_composition(sequences: Sequence[str]) -> np.ndarray:
    """Frequencies of A, C, G, T over ``sequences`` (other letters ignored): shape ``(4,)``."""
    codes, _ = encode(sequences)
    n = np.bincount(codes.ravel(), minlength=6)[:4].astype(float)
    if n.sum() == 0:
        raise ValueError("the sequences contain no A, C, G or T")
    return n / n.sum()


def encode(sequences: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """Integer-encode sequences (A=0, C=1, G=2, T=3, other=4), right-padded with 5.

    Returns:
        codes: ``(n_seq, max_len)`` uint8; lengths: ``(n_seq,)`` int64.
    """
    return encode_padded(sequences, pad_code=_PAD)


def score_threshold(log_odds: np.ndarray, pvalue: float, background: Sequence[float] = UNIFORM,
                    resolution: float = RESOLUTION) -> float:
    """The lowest score whose chance under the background is at most ``pvalue`` (one strand).

    The score distribution of a random background sequence is computed exactly by dynamic
    programming over the column scores rounded to ``resolution`` bits. :func:`scan` and
    :func:`max_scores` score with the same rounded columns (:data:`RESOLUTION`), so for them the
    threshold is exact: the chance of a background hit is ``<= pvalue``, and lowering the
    threshold to the next reachable score would exceed it.

    Args:
        log_odds: ``(L, 4)`` matrix in bits.
        pvalue: per-position, per-strand false-positive rate, in (0, 1).
        background: base frequencies the random sequence is drawn from.
        resolution: rounding step of the scores, bits.
    """
    if not 0 < pvalue < 1:
        raise ValueError(f"pvalue must be in (0, 1), not {pvalue}")
    bg = _background(background)
    steps = np.round(np.asarray(log_odds) / resolution).astype(np.int64)  # L, 4
    pmf, low = np.ones(1), 0
    for col in steps:
        lo = int(col.min())
        new = np.zeros(pmf.size + int(col.max()) - lo)
        for b in range(4):
            new[col[b] - lo: col[b] - lo + pmf.size] += bg[b] * pmf
        pmf, low = new, low + lo
    tail = np.cumsum(pmf[::-1])[::-1]  # P(S >= low + j)
    ok = np.nonzero(tail <= pvalue * (1 + 1e-9))[0]
    j = int(ok[0]) if ok.size else pmf.size  # nothing reachable: above the maximum
    return (low + j - 0.5) * resolution


# --- scoring engine -------------------------------------------------------------------------
# Two kernels give the same scores: small groups of motifs look 4-mers up in per-motif tables
# (cheap per motif), large groups multiply an im2col window matrix by all motifs at once (BLAS).
# Windows that run past a sequence's end score below _INVALID.

_K = 6  # k-mer size of the lookup kernel (tables of 6**6 floats stay in cache)
_GROUP = 4  # motifs are grouped by width rounded up to a multiple of this
_GATHER_MAX = 16  # motifs in a width group at or below which the lookup kernel is used
_OFF_END = -1.0e4  # score of one base past a sequence's end
_INVALID = -1.0e3  # scores below this mark windows that leave the sequence


def _columns(log_odds: np.ndarray) -> np.ndarray:
    """``(L, 4)`` log-odds → ``(L, 6)`` scores of codes A, C, G, T, N (column mean), padding."""
    ext = np.empty((log_odds.shape[0], 6), dtype=np.float32)
    ext[:, :4] = log_odds
    ext[:, 4] = log_odds.mean(axis=1)
    ext[:, 5] = _OFF_END
    return ext


def _kmer_tables(log_odds: np.ndarray) -> np.ndarray:
    """``(n_chunks, 6**_K)`` tables: the score of each k-mer of codes at each chunk of the motif."""
    ext = np.zeros((-(-log_odds.shape[0] // _K) * _K, 6), dtype=np.float32)
    ext[:log_odds.shape[0]] = _columns(log_odds)
    code = np.arange(6 ** _K)
    digits = [(code // 6 ** (_K - 1 - j)) % 6 for j in range(_K)]
    chunks = ext.reshape(-1, _K, 6)
    return np.stack([sum(ch[j][digits[j]] for j in range(_K)) for ch in chunks]).astype(np.float32)


def _kmers(block: np.ndarray) -> np.ndarray:
    """``(b, n)`` codes → ``(b, n - _K + 1)`` intp k-mer codes (base 6, first base most significant)."""
    n = block.shape[1] - _K + 1
    out = np.zeros((block.shape[0], n), dtype=np.intp)
    for j in range(_K):
        out *= 6
        out += block[:, j:j + n]
    return out


def _matrices(motifs: Sequence[Motif], background: Sequence[float]) -> list[tuple[np.ndarray, np.ndarray]]:
    """Per motif: (forward, reverse-complement) log-odds, each ``(L, 4)`` float32."""
    out = []
    for m in motifs:
        lo = (np.round(m.log_odds(background) / RESOLUTION) * RESOLUTION).astype(np.float32)
        out.append((lo, lo[::-1, ::-1].copy()))  # reverse complement: A<->T, C<->G
    return out


def _blocks(motifs: Sequence[Motif], codes: np.ndarray, lengths: np.ndarray,
            background: Sequence[float]):
    """Yield ``(rows, motif_idx, scores)`` over blocks of sequences and groups of motifs.

    ``scores`` is ``(b, 2, m, lb)`` float32 in bits (strand 0 forward, 1 reverse; window start
    0..lb-1); windows leaving the sequence score below ``_INVALID``. ``rows`` index the input
    sequences, ``motif_idx`` the motifs.
    """
    mats = _matrices(motifs, background)
    widths = np.array([m.length for m in motifs])
    padded = -(-widths // _GROUP) * _GROUP
    order = np.argsort(lengths, kind="stable")  # similar lengths share a block
    longest = int(lengths.max(initial=0))
    for w in np.unique(padded):
        idx = np.nonzero(padded == w)[0]
        m = len(idx)
        lookup = m <= _GATHER_MAX
        per_seq = (max(longest, 1) + w + _K) * (2 * m + (2 if lookup else 5 * w))
        batch = max(1, _BATCH_FLOATS // per_seq)
        if lookup:
            tables = [[_kmer_tables(mats[i][s]) for s in (0, 1)] for i in idx]
        else:
            weights = np.zeros((2, m, w, 5), dtype=np.float32)
            for j, i in enumerate(idx):
                for s in (0, 1):
                    weights[s, j, :widths[i], :4] = mats[i][s]
                    weights[s, j, :widths[i], 4] = _OFF_END
            weights = weights.reshape(2 * m, w * 5).T.copy()  # w*5, 2m
        for b0 in range(0, len(order), batch):
            rows = order[b0:b0 + batch]
            lb = int(lengths[rows].max())
            if lb == 0:
                continue
            tail = -(-w // _K) * _K if lookup else w  # padding after the longest row
            block = np.full((len(rows), lb + tail), _PAD, dtype=np.uint8)
            block[:, :lb] = codes[rows, :lb]
            if lookup:
                yield rows, idx, _lookup_scores(block, tables, lb)
            else:
                yield rows, idx, _blas_scores(block, weights, w, lb)


def _lookup_scores(block: np.ndarray, tables: list, lb: int) -> np.ndarray:
    """Scores from k-mer tables: ``(b, 2, m, lb)`` (a transposed view).

    Rows are scored as one flat array: each row ends in at least a motif's width of padding,
    so a window starting before ``lb`` never reaches the next row.
    """
    b, width = block.shape
    n = b * width
    most = max(t.shape[0] for pair in tables for t in pair)
    flat = np.full(n + most * _K, _PAD, dtype=np.uint8)
    flat[:n] = block.ravel()
    kmers = _kmers(flat[None, :])[0]
    out = np.empty((2, len(tables), b, width), dtype=np.float32)
    for j, pair in enumerate(tables):
        for s, table in enumerate(pair):
            acc = out[s, j].reshape(-1)
            np.take(table[0], kmers[:n], out=acc)
            for c in range(1, table.shape[0]):
                acc += table[c][kmers[c * _K:c * _K + n]]
    return out.transpose(2, 0, 1, 3)[..., :lb]


def _blas_scores(block: np.ndarray, weights: np.ndarray, w: int, lb: int) -> np.ndarray:
    """Scores from an im2col matrix product: ``(b, 2, m, lb)`` (a transposed view)."""
    from numpy.lib.stride_tricks import sliding_window_view

    table = np.zeros((6, 5), dtype=np.float32)
    table[:4, :4] = np.eye(4)
    table[4, :4] = 0.25  # N: the column mean
    table[5, 4] = 1.0  # past the end
    x = table[block[:, :lb + w - 1]]  # b, lb + w - 1, 5
    win = sliding_window_view(x, w, axis=1)  # b, lb, 5, w
    cols = np.ascontiguousarray(win.transpose(0, 1, 3, 2)).reshape(-1, 5 * w)
    m = weights.shape[1] // 2
    return (cols @ weights).reshape(block.shape[0], lb, 2, m).transpose(0, 2, 3, 1)


def _check(sequences: Sequence[str], motifs: Sequence[Motif]) -> None:
    if len(motifs) == 0:
        raise ValueError("no motifs given: pass a non-empty list of cornlib.motifs.Motif")
    bad = [i for i, m in enumerate(motifs) if not isinstance(m, Motif)]
    if bad:
        raise ValueError(f"motif {bad[0]} is a {type(motifs[bad[0]]).__name__}, not cornlib.motifs.Motif")


def max_scores(sequences: Sequence[str], motifs: Sequence[Motif], *,
               background: Sequence[float] = UNIFORM, strands: str = "both") -> np.ndarray:
    """Best log-odds score of each motif in each sequence: an ``(n_seq, n_motif)`` feature matrix.

    Args:
        sequences: DNA strings (any length, upper or lower case; N allowed).
        motifs: motifs to score (e.g. :func:`load_plant_motifs`).
        background: base frequencies of the log-odds (A, C, G, T).
        strands: ``both`` (max over strands), ``+`` or ``-``.

    Returns:
        float32 array; NaN where a sequence is shorter than the motif.
    """
    _check(sequences, motifs)
    if strands not in ("both", "+", "-"):
        raise ValueError(f"strands must be 'both', '+' or '-', not {strands!r}")
    codes, lengths = encode(sequences)
    out = np.full((len(lengths), len(motifs)), np.nan, dtype=np.float32)
    for rows, idx, scores in _blocks(motifs, codes, lengths, background):
        best = scores.max(axis=3)  # b, 2, m
        best = best.max(axis=1) if strands == "both" else best[:, 0 if strands == "+" else 1]
        out[np.ix_(rows, idx)] = np.where(best > _INVALID, best, np.nan)
    return out


def scan(sequences: Sequence[str], motifs: Sequence[Motif], *, pvalue: float = 1e-4,
         background: Sequence[float] = UNIFORM, ids: Sequence | None = None,
         tss_index: int | Sequence[int] | None = None) -> pd.DataFrame:
    """Every motif hit above a p-value threshold, on both strands.

    Args:
        sequences: DNA strings, 5'→3' (promoters on the gene's strand).
        motifs: motifs to scan for.
        pvalue: per-position false-positive rate under ``background`` (see :func:`score_threshold`).
        background: base frequencies of the log-odds and the threshold.
        ids: one ID per sequence for the ``gene_id`` column; default ``0..n-1``.
        tss_index: 0-based index of the TSS in each sequence (an int or one per sequence);
            default each sequence's length (a promoter that ends just before the TSS).

    Returns:
        DataFrame with ``gene_id, motif`` (matrix ID), ``start`` (0-based offset of the leftmost
        base), ``position`` (``start - tss_index``), ``strand`` (``+``/``-``) and ``score`` (bits),
        sorted by sequence order, start and motif.
    """
    _check(sequences, motifs)
    codes, lengths = encode(sequences)
    n = len(lengths)
    ids = np.arange(n) if ids is None else np.asarray(ids)
    if len(ids) != n:
        raise ValueError(f"ids has {len(ids)} entries for {n} sequences")
    tss = lengths if tss_index is None else np.broadcast_to(np.asarray(tss_index, dtype=np.int64), (n,))
    thresholds = np.array([score_threshold(m.log_odds(background), pvalue, background) for m in motifs])
    parts = []
    for rows, idx, scores in _blocks(motifs, codes, lengths, background):
        mask = scores >= thresholds[idx][None, None, :, None]
        r, strand, j, start = np.unravel_index(np.flatnonzero(mask), mask.shape)
        parts.append(pd.DataFrame({"row": rows[r], "motif_index": idx[j], "start": start,
                                   "strand": strand, "score": scores[r, strand, j, start]}))
    hits = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(
        columns=["row", "motif_index", "start", "strand", "score"])
    hits = hits.sort_values(["row", "start", "motif_index", "strand"], ignore_index=True)
    row = hits["row"].to_numpy(dtype=np.int64)
    start = hits["start"].to_numpy(dtype=np.int64)
    names = np.array([m.matrix_id for m in motifs], dtype=object)
    return pd.DataFrame({
        "gene_id": ids[row],
        "motif": names[hits["motif_index"].to_numpy(dtype=np.int64)],
        "start": start,
        "position": start - tss[row],
        "strand": np.where(hits["strand"].to_numpy(dtype=np.int64) == 0, "+", "-"),
        "score": hits["score"].to_numpy(dtype=np.float32),
    })


def hit_rate(sequences: Sequence[str], motifs: Sequence[Motif], *, pvalue: float = 1e-4,
             background: Sequence[float] = UNIFORM) -> pd.Series:
    """Fraction of sequences with at least one hit of each motif (either strand), by matrix ID."""
    _check(sequences, motifs)
    best = max_scores(sequences, motifs, background=background)
    thr = np.array([score_threshold(m.log_odds(background), pvalue, background) for m in motifs])
    return pd.Series((best >= thr).mean(axis=0), index=[m.matrix_id for m in motifs], name="hit_rate")


__all__ = ["ALPHABET", "UNIFORM", "RESOLUTION", "Motif", "load_plant_motifs", "from_consensus", "motif_table",
           "base_composition", "encode", "score_threshold", "max_scores", "scan", "hit_rate"]
