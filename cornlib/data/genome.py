"""Genome sequence: FASTA through pyfaidx (decompressed and indexed in a cache), intervals.

Intervals are **0-based, half-open** (BED and Python slices). FASTA records are keyed on the
first word of the header (``>NC_003070.9 Arabidopsis ...`` is ``NC_003070.9``), as in samtools
and in GFF3 seqids. Annotations are read by :mod:`cornlib.data.gff`.
"""

from __future__ import annotations

import hashlib
import mmap
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

from cornlib.data import gff
from cornlib.data.compressed import _decompressed, compression
from cornlib.sequence import reverse_complement

#: Columns of :func:`read_genes` (0-based half-open ``start``/``end``; ``tss`` 0-based).

@dataclass(frozen=True)
class GenomeFiles:
    """One genome on disk.

    Attributes:
        species: short key used in tables (``athaliana``).
        label: human-readable name (``Arabidopsis thaliana TAIR10 chr1``).
        fasta: FASTA path (plain, gzip or BGZF).
        gff: GFF3 path, or ``None`` for an unannotated genome.
    """

    species: str
    label: str
    fasta: Path
    gff: Path | None



_FASTA_SUFFIXES = (".fa", ".fasta", ".fna", ".fas", ".faa")
#: Complement of DNA letters and IUPAC codes, both cases, for ``bytes.translate``.


# ---------------------------------------------------------------------------------------------
# FASTA
# ---------------------------------------------------------------------------------------------

def _cache_name(path: Path) -> str:
    """A cache file name unique to this file's location, size and modification time."""
    st = path.stat()
    key = hashlib.sha1(f"{path.resolve()}|{st.st_size}|{st.st_mtime_ns}".encode()).hexdigest()[:12]
    stem = path.name
    for suffix in (".gz", ".bgz") + _FASTA_SUFFIXES:
        if stem.lower().endswith(suffix):
            stem = stem[: -len(suffix)]
    return f"{stem}-{key}.fa"


def _decompress(src: Path, dest: Path) -> None:
    """Decompress a gzip/BGZF file into ``dest`` atomically; a truncated file is an error."""
    from cornlib.io import atomic_path

    with atomic_path(dest) as tmp, open(tmp, "wb") as out:
        for block in _decompressed(src):
            out.write(block)


def _build_index(fasta: Path, source: Path) -> None:
    """Write ``<fasta>.fai`` with pyfaidx (atomically), turning indexing errors into clear ones."""
    import pyfaidx

    from cornlib.io import atomic_path

    fai = Path(f"{fasta}.fai")
    if fai.exists() and fai.stat().st_mtime >= fasta.stat().st_mtime:
        return
    if fasta.stat().st_size == 0:
        raise ValueError(f"FASTA {source} is empty: it holds no sequence")
    with atomic_path(fai) as tmp:
        tmp.unlink()
        try:
            pyfaidx.Faidx(str(fasta), indexname=str(tmp)).close()
        except (pyfaidx.FastaIndexingError, ValueError) as err:
            raise ValueError(f"FASTA {source} cannot be indexed: {err}") from None
        records = [line.split("\t") for line in tmp.read_text().splitlines()]
        if not records:
            raise ValueError(f"FASTA {source} holds no sequence (no '>' header line)")
        empty = [r[0] for r in records if int(r[1]) == 0]
        if empty:
            raise ValueError(f"FASTA {source}: record {empty[0]!r} has no sequence; "
                             "the file may be truncated")


def prepare_fasta(path: str | os.PathLike, cache_dir: str | os.PathLike | None = None) -> Path:
    """Return a plain, indexed copy of a FASTA in the cache, making it on first use.

    A plain FASTA is symlinked, a gzip or BGZF one is decompressed (once: the name encodes the
    source's path, size and mtime); the ``.fai`` index is written beside the cached file, never
    beside the source (which may sit in a read-only ``site-packages``). BGZF is decompressed too:
    pyfaidx can read it in place, but reading a 30 Mb chromosome through it took ~100x longer.

    Args:
        path: FASTA file (plain, gzip or BGZF).
        cache_dir: cache root; ``None`` is :func:`cornlib.paths.cache_dir`'s default. Files go to
            ``<cache_dir>/genomes/``.

    Raises:
        FileNotFoundError: if ``path`` does not exist.
        ValueError: for an empty, truncated or malformed FASTA.
    """
    from cornlib import paths

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"FASTA {path} does not exist")
    if path.stat().st_size == 0:
        raise ValueError(f"FASTA {path} is empty (0 bytes)")

    root = paths.cache_dir(cache_dir) / "genomes"
    root.mkdir(parents=True, exist_ok=True)
    target = root / _cache_name(path)
    if not target.exists():
        if compression(path) == "plain":
            tmp = root / f".{target.name}.{os.getpid()}.link"
            tmp.unlink(missing_ok=True)
            tmp.symlink_to(path.resolve())
            os.replace(tmp, target)
        else:
            _decompress(path, target)
    _build_index(target, path)
    return target


def open_fasta(path: str | os.PathLike, cache_dir: str | os.PathLike | None = None):
    """Open a FASTA for random access (a ``pyfaidx.Fasta`` over its cached copy, raw strings).

    Records are keyed on the first word of their header; soft-masked (lowercase) bases are
    returned as they are. See :func:`prepare_fasta` for the cache.
    """
    import pyfaidx

    target = prepare_fasta(path, cache_dir)
    try:
        return pyfaidx.Fasta(str(target), as_raw=True, sequence_always_upper=False, rebuild=False)
    except ValueError as err:  # duplicate record names
        raise ValueError(f"FASTA {path}: {err}; record names (first header words) must be "
                         "unique") from None


def chrom_sizes(fasta) -> dict[str, int]:
    """Sequence lengths by record name, in file order."""
    return {name: int(rec.rlen) for name, rec in fasta.faidx.index.items()}


def fetch(fasta, chrom: str, start: int, end: int, strand: str = "+") -> str:
    """One interval ``[start, end)`` (0-based, half-open) of ``chrom``, 5'→3' on ``strand``.

    Raises:
        ValueError: for an unknown record or coordinates outside it.
    """
    sizes = chrom_sizes(fasta)
    if chrom not in sizes:
        raise ValueError(f"{chrom!r} is not a record of FASTA {fasta.filename}")
    if not 0 <= start <= end <= sizes[chrom]:
        raise ValueError(f"interval {chrom}:{start}-{end} lies outside [0, {sizes[chrom]})")
    seq = str(fasta[chrom][start:end])
    return reverse_complement(seq) if strand == "-" else seq


def fetch_many(fasta, chroms: Sequence[str], starts: Sequence[int], ends: Sequence[int]) -> list[bytes]:
    """Many ``[start, end)`` intervals (0-based, half-open, + strand) as ASCII bytes.

    Uses pyfaidx's index to compute byte offsets for all intervals at once and reads them from
    a memory map of the cached FASTA (much faster than one pyfaidx call per interval).

    Args:
        fasta: a ``pyfaidx.Fasta`` from :func:`open_fasta`.
        chroms, starts, ends: one entry per interval (length N).

    Returns:
        N byte strings, case as in the file.
    """
    chroms = np.asarray(chroms, dtype=object)
    starts = np.asarray(starts, dtype=np.int64)
    ends = np.asarray(ends, dtype=np.int64)
    out: list[bytes] = [b""] * len(chroms)
    index = fasta.faidx.index
    with open(fasta.filename, "rb") as fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as mm:
        for chrom in pd.unique(chroms):
            if chrom not in index:
                raise ValueError(f"{chrom!r} is not a record of FASTA {fasta.filename}")
            rec = index[chrom]
            sel = np.flatnonzero(chroms == chrom)
            s, e = starts[sel], ends[sel]
            if (s < 0).any() or (e > rec.rlen).any() or (s > e).any():
                raise ValueError(f"an interval on {chrom} lies outside [0, {rec.rlen})")
            last = np.maximum(e - 1, s)
            lo = rec.offset + (s // rec.lenc) * rec.lenb + s % rec.lenc
            hi = rec.offset + (last // rec.lenc) * rec.lenb + last % rec.lenc + 1
            hi = np.where(e > s, hi, lo)
            wrapped = rec.lenb != rec.lenc
            for i, a, b in zip(sel.tolist(), lo.tolist(), hi.tolist()):
                chunk = mm[a:b]
                out[i] = chunk.replace(b"\n", b"").replace(b"\r", b"") if wrapped else chunk
    return out


def describe(genomes: Sequence, cache_dir: str | os.PathLike | None = None) -> pd.DataFrame:
    """One row per genome: records, total length, genes and protein-coding genes.

    Args:
        genomes: :class:`cornlib.data.sources.GenomeFiles`; unannotated ones get missing gene counts.
        cache_dir: FASTA cache (see :func:`prepare_fasta`).
    """
    rows = []
    for g in genomes:
        sizes = chrom_sizes(open_fasta(g.fasta, cache_dir))
        row = {"species": g.species, "label": g.label, "records": len(sizes),
               "length_mb": round(sum(sizes.values()) / 1e6, 2), "genes": pd.NA,
               "protein_coding": pd.NA}
        if g.gff is not None:
            genes = gff.read_genes(g.gff)
            coding = int((genes["biotype"] == "protein_coding").sum())
            row.update(genes=len(genes), protein_coding=coding)
        rows.append(row)
    return pd.DataFrame(rows).set_index("species")
