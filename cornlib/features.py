"""Sequence features: base composition, k-mer spectra, core-promoter elements, motif scores.

Base codes come from :mod:`cornlib.sequence` (the one table of the package).

Length policy (declared once, applied everywhere): promoters may differ in length (trimmed at
neighbouring genes). Composition and k-mer spectra are **frequencies normalised by length** (by
the number of valid windows), so unequal lengths are fine; raw k-mer counts
(``normalise=False``) and fixed-size codes without a ``length`` need equal lengths and raise
``ValueError`` otherwise. Position-dependent features are anchored at the **3' end** of each
sequence, which is the TSS for cornlib promoters (``upstream`` bases 5'→3', ``downstream=0``).
Bases other than A, C, G, T (N, IUPAC codes) are code 4: they count as ``N`` in the composition,
and k-mer windows touching them are skipped.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any, Sequence

import numpy as np
import pandas as pd

from cornlib.sequence import BASES, N_CODE, check_sequences, encode, lengths

# Sequences processed at once when counting k-mers (bounds the dense block to ~chunk * 4**k).
_KMER_CHUNK_VALUES = 4_000_000


def composition(seqs: Sequence[str]) -> np.ndarray:
    """Fractions of A, C, G, T and N per sequence (the bag of nucleotides), shape (n, 5).

    Rows sum to 1 (length-normalised, so unequal lengths are fine).
    """
    codes, offsets = encode(seqs)
    seq_id = np.repeat(np.arange(len(offsets) - 1), np.diff(offsets))
    counts = np.zeros((len(offsets) - 1, 5), dtype=np.float64)
    np.add.at(counts, (seq_id, codes), 1.0)
    return counts / np.diff(offsets)[:, None]


COMPOSITION_NAMES: tuple[str, ...] = ("A", "C", "G", "T", "N")


def kmer_names(k: int, canonical: bool = False) -> list[str]:
    """Column names of :func:`kmer_counts` for one ``k`` (lexicographic; canonical = min(kmer, revcomp))."""
    names = ["".join(t) for t in _product(k)]
    if canonical:
        cols, _ = _canonical_map(k)
        return [names[i] for i in cols]
    return names


def _product(k: int) -> list[tuple[str, ...]]:
    import itertools

    return list(itertools.product(BASES, repeat=k))


@lru_cache(maxsize=None)
def _canonical_map(k: int) -> tuple[np.ndarray, np.ndarray]:
    """For one ``k``: the k-mer ids kept as canonical columns, and each k-mer id's column."""
    ids = np.arange(4 ** k)
    digits = (ids[:, None] // 4 ** np.arange(k - 1, -1, -1)) % 4  # id → base codes, 5'→3'
    rc = ((3 - digits[:, ::-1]) * 4 ** np.arange(k - 1, -1, -1)).sum(axis=1)
    canon = np.minimum(ids, rc)
    keep, column = np.unique(canon, return_inverse=True)
    return keep, column


def _positions(codes: np.ndarray, offsets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sequence index of every position (int32) and the running count of non-ACGT codes."""
    seq_id = np.repeat(np.arange(len(offsets) - 1, dtype=np.int32), np.diff(offsets))
    bad = np.zeros(len(codes) + 1, dtype=np.int32)
    np.cumsum(codes == N_CODE, out=bad[1:])
    return seq_id, bad


def _count_block(codes: np.ndarray, offsets: np.ndarray, seq_id: np.ndarray, bad: np.ndarray,
                 k: int, canonical: bool, sparse: bool):
    """Counts of every k-mer per sequence: dense float32 (n, width) or CSR."""
    import scipy.sparse as sp

    n = len(offsets) - 1
    m = max(len(codes) - k + 1, 0)  # window starts
    kid = np.zeros(m, dtype=np.int32)
    clipped = np.minimum(codes, 3).astype(np.int32)
    for j in range(k):
        kid *= 4
        kid += clipped[j: j + m]
    sid = seq_id[:m]
    # A window is valid if it has no non-ACGT code and ends inside its own sequence.
    valid = (bad[k: k + m] == bad[:m]) & (np.arange(k, k + m) <= offsets[1:][sid])
    width = 4 ** k
    if canonical:
        keep, column = _canonical_map(k)
        kid, width = column.astype(np.int32)[kid], len(keep)
    rows, cols = sid[valid], kid[valid]
    out = np.zeros((n, width), dtype=np.float32) if not sparse else None
    blocks = []
    chunk = max(1, _KMER_CHUNK_VALUES // width)
    bounds = np.searchsorted(rows, np.arange(0, n + chunk, chunk))
    for c, lo in enumerate(range(0, n, chunk)):
        hi = min(lo + chunk, n)
        key = (rows[bounds[c]: bounds[c + 1]] - lo).astype(np.int64) * width + cols[bounds[c]: bounds[c + 1]]
        dense = np.bincount(key, minlength=(hi - lo) * width).reshape(hi - lo, width)
        if sparse:
            blocks.append(sp.csr_matrix(dense.astype(np.float32)))
        else:
            out[lo:hi] = dense
    return sp.vstack(blocks, format="csr") if sparse else out


def kmer_counts(seqs: Sequence[str], k: int, *, canonical: bool = False, sparse: bool = True):
    """Counts of every k-mer in every sequence, shape (n, 4**k) (fewer columns if ``canonical``).

    Windows that touch a non-ACGT base are skipped. With ``canonical`` a k-mer and its reverse
    complement share one column (strand-agnostic; ``kmer_names(k, True)`` names the columns).
    Returns a CSR matrix (``sparse=True``) or a dense array, float32.
    """
    if not 1 <= k <= 12:
        raise ValueError(f"k must lie in 1..12, got {k}")
    codes, offsets = encode(seqs)
    seq_id, bad = _positions(codes, offsets)
    return _count_block(codes, offsets, seq_id, bad, k, canonical, sparse)


def kmer_spectrum(seqs: Sequence[str], k_max: int, *, k_min: int = 1, canonical: bool = False,
                  normalise: bool = True, sparse: bool = False):
    """The k-mer spectrum for every k in ``k_min..k_max``, side by side.

    Args:
        seqs: DNA strings.
        k_max, k_min: the range of k (inclusive).
        canonical: merge each k-mer with its reverse complement.
        normalise: frequencies (each k block of a row sums to 1 over its valid windows) — the
            declared policy for unequal lengths. ``False`` gives raw counts and requires equal
            lengths.
        sparse: return a CSR matrix instead of a dense float32 array.

    Returns:
        Matrix of shape (n, sum of block widths); columns named by :func:`kmer_spectrum_names`.

    Raises:
        ValueError: bad k range, or unequal lengths with ``normalise=False``.
    """
    import scipy.sparse as sp

    seqs = check_sequences(seqs)
    if not 1 <= k_min <= k_max <= 12:
        raise ValueError(f"need 1 <= k_min <= k_max <= 12, got k_min={k_min}, k_max={k_max}")
    if not normalise:
        lens = lengths(seqs)
        if lens.min() != lens.max():
            raise ValueError(f"sequences have unequal lengths ({lens.min()}..{lens.max()} bp) and raw "
                             "k-mer counts need equal ones; use normalise=True (length-normalised "
                             "frequencies)")
    codes, offsets = encode(seqs)
    seq_id, bad = _positions(codes, offsets)
    blocks = []
    for k in range(k_min, k_max + 1):
        X = _count_block(codes, offsets, seq_id, bad, k, canonical, sparse)
        if normalise:
            total = np.asarray(X.sum(axis=1), dtype=np.float32).reshape(-1, 1)
            scale = 1.0 / np.maximum(total, 1.0)
            X = sp.csr_matrix(X.multiply(scale)) if sparse else X * scale
        blocks.append(X)
    return sp.hstack(blocks, format="csr").astype(np.float32) if sparse else np.hstack(blocks)


def kmer_spectrum_names(k_max: int, *, k_min: int = 1, canonical: bool = False) -> list[str]:
    """Column names of :func:`kmer_spectrum`."""
    return [name for k in range(k_min, k_max + 1) for name in kmer_names(k, canonical)]


#: Core-promoter elements searched near the TSS (regular expressions, read 5'→3').
CORE_ELEMENTS: dict[str, str] = {
    "tata": "TATA[AT]A[AT][AG]",   # TATA box (TATAWAWR)
    "inr": "[CT][CT]A[ACGT][AT][CT][CT]",  # initiator (YYANWYY)
    "ypatch": "[CT]{8}",           # Y patch: a pyrimidine run of >= 8 (plant core promoters)
    "caat": "CCAAT|ATTGG",         # CAAT box, either strand
    "gbox": "CACGTG",              # G-box (palindromic)
}


def core_promoter_elements(seqs: Sequence[str], proximal: int = 100) -> pd.DataFrame:
    """Counts of core-promoter elements and GC measures, one row per sequence.

    Columns: for each element of :data:`CORE_ELEMENTS`, ``<name>_proximal`` (overlapping matches
    inside the last ``proximal`` bases, i.e. next to the TSS; the whole sequence if shorter) and
    ``<name>_per_kb`` (matches per kb over the whole sequence); then ``gc``, ``gc_proximal`` and
    ``cpg_oe`` (observed/expected CpG). All length-normalised or anchored at the 3' end.
    """
    seqs = [s.upper() for s in check_sequences(seqs)]
    if proximal < 1:
        raise ValueError(f"proximal must be positive, got {proximal}")
    cols: dict[str, np.ndarray] = {}
    lens = lengths(seqs).astype(float)
    for name, pattern in CORE_ELEMENTS.items():
        rx = re.compile(f"(?=({pattern}))")
        cols[f"{name}_proximal"] = np.array([len(rx.findall(s[-proximal:])) for s in seqs], float)
        cols[f"{name}_per_kb"] = np.array([len(rx.findall(s)) for s in seqs], float) / lens * 1000
    comp = composition(seqs)
    cols["gc"] = comp[:, 1] + comp[:, 2]
    cols["gc_proximal"] = composition([s[-proximal:] for s in seqs])[:, 1:3].sum(axis=1)
    cpg = np.array([s.count("CG") for s in seqs], float)
    expected = comp[:, 1] * comp[:, 2] * lens
    cols["cpg_oe"] = np.where(expected > 0, cpg / np.maximum(expected, 1e-12), 0.0)
    return pd.DataFrame(cols)


def motif_scores(seqs: Sequence[str], motifs=None) -> np.ndarray:
    """Best log-odds score of each JASPAR plant motif in each sequence, shape (n, n_motifs).

    Delegates to ``cornlib.motifs.max_scores`` (both strands, length-independent maximum);
    ``motifs=None`` loads ``cornlib.motifs.load_plant_motifs()``.
    """
    from cornlib import motifs as motif_lib

    seqs = check_sequences(seqs)
    if motifs is None:
        motifs = motif_lib.load_plant_motifs()
    return np.asarray(motif_lib.max_scores(seqs, motifs), dtype=np.float32)


def oracle_features(truth: pd.DataFrame, gene_ids: Sequence[str]) -> pd.DataFrame:
    """Per-gene features from the simulation's true sites: what generated the tissues.

    One column ``site:<matrix_id>`` per driver motif, the summed ``weight`` of its true sites in
    the gene (its gated occupancy, see :func:`cornlib.data.simulate.simulate`), and
    ``core_gate``, 1 where the gene has the core element in its window. Genes without a site get
    0. Rows follow ``gene_ids``.

    Args:
        truth: ``targets/truth_sites.parquet`` (``gene_id, motif, role, weight``...).
        gene_ids: the genes, e.g. ``data.table["gene_id"]``.
    """
    need = {"gene_id", "motif", "role", "weight"}
    if not need <= set(truth.columns):
        raise ValueError(f"truth lacks columns {sorted(need - set(truth.columns))}; pass the "
                         "true-site table of the simulation (targets/truth_sites.parquet)")
    genes = pd.Index(list(gene_ids), name="gene_id")
    drivers = truth[truth["role"] == "driver"]
    occupancy = drivers.pivot_table(index="gene_id", columns="motif", values="weight", aggfunc="sum")
    occupancy = occupancy.reindex(genes).fillna(0.0).add_prefix("site:")
    gated = genes.isin(set(truth.loc[truth["role"] == "core", "gene_id"]))
    return occupancy.assign(core_gate=gated.astype(float)).reset_index(drop=True)


def pick_motifs(motifs: Sequence, max_motifs: int | None) -> list:
    """The most informative motif of each TF family, then the top ``max_motifs`` by information.

    Motifs without a family count as their own family (by name). ``None`` keeps every motif.
    """
    if max_motifs is None:
        return list(motifs)
    if max_motifs < 1:
        raise ValueError(f"max_motifs must be positive or None, got {max_motifs}")
    best: dict[str, Any] = {}
    for m in motifs:
        key = m.family or f"name:{m.name}"
        if key not in best or m.information_content() > best[key].information_content():
            best[key] = m
    ranked = sorted(best.values(), key=lambda m: -m.information_content())
    return sorted(ranked[:max_motifs], key=lambda m: m.matrix_id)


def motif_features(sequences: Sequence[str], motifs: Sequence, proximal: int = 100,
                   threads: int | None = None) -> pd.DataFrame:
    """Motif best scores (one column ``motif:<matrix_id>`` each) beside core-promoter elements.

    A promoter shorter than a motif has no score for it (NaN); gradient boosting treats NaN as
    missing, so no value is made up.

    Args:
        sequences: promoters, 5'→3' ending at the TSS.
        motifs: ``cornlib.motifs.Motif`` list (see :func:`pick_motifs`).
        proximal: TSS-proximal window of :func:`core_promoter_elements`.
        threads: BLAS thread limit during the scan (see :func:`cornlib.runtime.limit_threads`).
    """
    from cornlib.runtime import limit_threads

    with limit_threads(threads):
        scores = motif_scores(sequences, motifs)
    table = pd.DataFrame(scores, columns=[f"motif:{m.matrix_id}" for m in motifs])
    return pd.concat([table, core_promoter_elements(sequences, proximal=proximal)], axis=1)
