"""GFF3 annotations: genes (or any feature type) as a table, their TSS, checks against a FASTA.

Coordinate conventions
----------------------
GFF3 files are 1-based and closed (``start..end`` includes both ends). Every table this module
returns is **0-based, half-open**: a GFF3 gene ``start=101, end=200`` becomes ``start=100,
end=200`` (the same as BED and Python slices). ``tss`` is the 0-based position of the first
transcribed base: ``start`` on the ``+`` strand, ``end - 1`` on the ``-`` strand.

Gene IDs: the ``locus_tag`` attribute when present (NCBI annotations: ``AT1G01010``), else the
``gene_id`` attribute (Ensembl), else ``ID`` without its ``gene-``/``gene:`` prefix.

Parsing is vectorised over decompressed chunks (plain, gzip or BGZF, decompressed on a
background thread); a malformed line is an error naming the file and the line number.
"""

from __future__ import annotations

import functools
import os
import re
import urllib.parse
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np
import pandas as pd

from cornlib.data.compressed import _decompressed, _prefetch

GFF_COLUMNS = ["seqid", "source", "type", "start", "end", "score", "strand", "phase", "attributes"]
#: Columns of :func:`read_genes` (0-based half-open ``start``/``end``; ``tss`` 0-based).
GENE_COLUMNS = ["gene_id", "name", "type", "biotype", "chrom", "start", "end", "strand", "tss"]

#: Complement of DNA letters and IUPAC codes, both cases, for ``bytes.translate``.



def _gff_chunks(path: Path) -> Iterator[tuple[bytes, int, int]]:
    """Yield ``(buf, lo, hi)`` in file order, ``buf[lo:hi]`` being whole ``\\n``-ended lines.

    gzip/BGZF is decompressed on the fly in a background thread (never the whole file in
    memory, few copies); CRLF becomes LF.
    """
    if not path.is_file():
        raise FileNotFoundError(f"GFF3 {path} does not exist")
    rest = b""
    for block in _prefetch(_decompressed(path)):
        if b"\r" in block:
            block, rest = (rest + block).replace(b"\r\n", b"\n"), b""
        first = block.find(b"\n") + 1
        if first == 0:
            rest += block
            continue
        if rest:
            head = (rest + block[:first]).replace(b"\r\n", b"\n")
            yield head, 0, len(head)
        else:
            first = 0
        last = block.rfind(b"\n") + 1
        if last > first:
            yield block, first, last
        rest = block[last:]
    if rest:
        rest = rest.removesuffix(b"\r") + b"\n"
        yield rest, 0, len(rest)


def _parse_uint(a: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Parse the decimal fields ``a[lo:hi]`` (one per row) at once: ``(valid, value)``."""
    length = hi - lo
    width = int(min(length.max(initial=0), 18))
    valid = (length >= 1) & (length <= 18)
    value = np.zeros(len(lo), dtype=np.int64)
    for j in range(width):
        inside = j < length
        digit = a[np.minimum(lo + j, len(a) - 1)].astype(np.int64) - 48
        valid &= ~inside | ((digit >= 0) & (digit <= 9))
        value = np.where(inside, value * 10 + digit, value)
    return valid, value


def _check_fields(path: Path, a: np.ndarray, starts: np.ndarray, ends: np.ndarray,
                  numbers: np.ndarray, tab: list[np.ndarray]) -> None:
    """Coordinates and strand of every feature line (vectorised); the first bad one is named."""
    start_ok, start = _parse_uint(a, tab[2] + 1, tab[3])
    end_ok, end = _parse_uint(a, tab[3] + 1, tab[4])
    strand = a[np.minimum(tab[5] + 1, len(a) - 1)]
    strand_ok = (tab[6] - tab[5] == 2) & np.isin(strand, np.frombuffer(b"+-.?", np.uint8))
    integer = start_ok & end_ok
    problems = [~integer, integer & (start < 1), integer & (start > end), ~strand_ok]
    bad = np.logical_or.reduce(problems)
    if not bad.any():
        return
    i = int(np.argmax(bad))
    cols = bytes(a[starts[i]:ends[i]]).decode("utf-8", "replace").split("\t")
    what = next(m for p, m in zip(problems, [
        f"start and end must be integers, got {cols[3]!r} and {cols[4]!r}",
        f"start {cols[3]} is below 1 (GFF3 coordinates are 1-based)",
        f"inverted coordinates: start {cols[3]} is after end {cols[4]}",
        f"strand must be one of + - . ?, got {cols[6]!r}"]) if p[i])
    raise ValueError(f"GFF3 {path} line {int(numbers[i])}: {what}")


def _scan_gff(path: Path, feature_type: str) -> tuple[list[str], list[int]]:
    """One pass over a GFF3: check every line's columns, keep the lines of ``feature_type``.

    Comment lines are those whose first character is ``#`` (attributes may contain ``#``, so
    ``pandas.read_csv(comment="#")`` would cut them); blank lines are skipped; ``##FASTA``
    ends the features. Tabs and newlines are located with numpy, a few MB at a time, and
    every feature line's columns, coordinates and strand are checked without a Python loop.

    Returns:
        ``(lines, numbers)``: the matching lines and their 1-based line numbers.

    Raises:
        ValueError: naming the first line without 9 tab-separated columns, with non-integer,
            zero or inverted coordinates, or with a strand other than ``+ - . ?``.
    """
    want = np.frombuffer(feature_type.encode(), np.uint8)
    lines: list[str] = []
    numbers: list[int] = []
    line_base = 0
    for buf, lo, hi in _gff_chunks(path):
        a = np.frombuffer(buf, np.uint8, count=hi - lo, offset=lo)
        nl = np.flatnonzero(a == 10)  # chunks end with "\n": one entry per line
        starts = np.concatenate([[0], nl[:-1] + 1])
        comment = a[starts] == 35  # "#"
        stop = False
        double = np.flatnonzero(comment & (a[np.minimum(starts + 1, len(a) - 1)] == 35))
        for i in double:
            if buf.startswith(b"##FASTA", lo + int(starts[i])):
                cut = int(starts[i])
                a, nl, starts, comment, stop = a[:cut], nl[:i], starts[:i], comment[:i], True
                break
        tabs = np.flatnonzero(a == 9)
        per_line = np.diff(np.searchsorted(tabs, nl), prepend=0)  # tabs on each line
        feature = ~comment & (nl > starts)  # not a comment, not blank
        bad = feature & (per_line != 8)
        if bad.any():
            i = int(np.argmax(bad))
            text = bytes(a[starts[i]:nl[i]][:80]).decode("utf-8", "replace")
            raise ValueError(
                f"GFF3 {path} line {line_base + i + 1}: expected 9 tab-separated columns (seqid, "
                f"source, type, start, end, score, strand, phase, attributes), found "
                f"{int(per_line[i]) + 1}: {text!r}")
        rows = np.flatnonzero(feature)
        first_tab = (np.cumsum(per_line) - per_line)[rows]
        tab = [tabs[first_tab + k] for k in range(7)]  # tab k ends column k
        _check_fields(path, a, starts[rows], nl[rows], line_base + rows + 1, tab)
        t2, t3 = tab[1], tab[2]  # around the type column
        hit = t3 - t2 == len(want) + 1
        for j, byte in enumerate(want):
            hit &= a[np.minimum(t2 + 1 + j, len(a) - 1)] == byte
        for i in rows[hit].tolist():
            lines.append(buf[lo + int(starts[i]):lo + int(nl[i])].decode("utf-8", "replace"))
            numbers.append(line_base + i + 1)
        line_base += len(nl)
        if stop:
            break
    return lines, numbers


def _attributes(attrs: list[str], keys: Sequence[str]) -> dict[str, list[str | None]]:
    """Values of some GFF3 attributes per line (percent-escapes decoded), ``None`` where absent.

    One regex pass per line finds every ``key=value`` pair at the start of an attribute.
    """
    pattern = re.compile(rf";\s*({'|'.join(map(re.escape, keys))})=([^;]*)")
    out: dict[str, list[str | None]] = {key: [None] * len(attrs) for key in keys}
    for i, text in enumerate(attrs):
        for key, value in pattern.findall(";" + text):
            value = value.strip()
            if "%" in value:
                value = urllib.parse.unquote(value)
            if value and out[key][i] is None:
                out[key][i] = value
    return out


def read_features(path: str | os.PathLike, feature_type: str = "gene") -> pd.DataFrame:
    """The GFF3 lines of one feature type as a validated table (see ``_read_features``)."""
    return _read_features(Path(path), feature_type)


def _read_features(path: Path, feature_type: str = "gene") -> pd.DataFrame:
    """The GFF3 lines of one feature type as a table of strings, validated.

    Every feature line is checked (see :func:`_scan_gff`): 9 columns, integer coordinates
    with ``1 <= start <= end``, a strand of ``+ - . ?``.

    Args:
        path: GFF3 file, plain or gzip/BGZF.
        feature_type: value of the 3rd column to keep.

    Returns:
        Columns of :data:`GFF_COLUMNS` (``start``/``end`` as int64, still 1-based closed) plus
        ``line`` (1-based line number in the file).

    Raises:
        FileNotFoundError: if the file does not exist.
        ValueError: naming the file and line for a wrong column count, non-integer, zero or
            inverted coordinates, or a strand other than ``+ - . ?``.
    """
    lines, numbers = _scan_gff(path, feature_type)
    df = pd.DataFrame([line.split("\t") for line in lines], columns=GFF_COLUMNS, dtype=object)
    df["line"] = np.asarray(numbers, dtype=np.int64)
    df["start"] = df["start"].astype(np.int64)
    df["end"] = df["end"].astype(np.int64)
    return df


def read_genes(path: str | os.PathLike) -> pd.DataFrame:
    """All features of type ``gene`` of a GFF3 file, one row per gene (0-based coordinates).

    The parsed table is kept in memory for the process (keyed on the file's path, size and
    modification time), so notebooks that read an annotation twice parse it once; each call
    returns a new copy. :func:`clear_cache` forgets it (the benchmark times cold parses).

    ``gene_id`` is the ``locus_tag`` attribute when present (NCBI: ``AT1G01010``), else the
    ``gene_id`` attribute (Ensembl), else ``ID`` without a ``gene-``/``gene:`` prefix.
    ``biotype`` is ``gene_biotype`` (NCBI) or ``biotype`` (Ensembl), missing if neither.
    Only lines whose type is exactly ``gene`` are read (not ``pseudogene``, ``ncRNA_gene``).

    Args:
        path: GFF3 file, plain or gzip/BGZF.

    Returns:
        Columns :data:`GENE_COLUMNS`: ``chrom`` is the GFF3 seqid; ``start``/``end`` 0-based
        half-open; ``tss`` 0-based first transcribed base (``start`` on +, ``end - 1`` on -,
        missing for unstranded genes); rows in file order.

    Raises:
        ValueError: for malformed lines (see ``_read_features``), a gene without any ID,
            or duplicate gene IDs (naming the ID and its lines).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"GFF3 {path} does not exist")
    st = path.stat()
    return _read_genes_cached(str(path.resolve()), st.st_size, st.st_mtime_ns).copy()


def clear_cache() -> None:
    """Forget the gene tables :func:`read_genes` keeps in memory."""
    _read_genes_cached.cache_clear()


@functools.lru_cache(maxsize=8)
def _read_genes_cached(path: str, size: int, mtime_ns: int) -> pd.DataFrame:
    """:func:`read_genes` proper; ``size`` and ``mtime_ns`` only key the cache."""
    path = Path(path)
    feats = _read_features(path, "gene")
    attrs = _attributes(feats["attributes"].tolist(),
                        ["ID", "locus_tag", "gene_id", "gene_biotype", "biotype", "Name"])
    ids = [v[5:] if v and v.startswith(("gene-", "gene:")) else v for v in attrs["ID"]]
    gene_id = [a or b or c for a, b, c in zip(attrs["locus_tag"], attrs["gene_id"], ids)]
    missing = [k for k, v in enumerate(gene_id) if not v]
    if missing:
        raise ValueError(f"GFF3 {path} line {feats['line'].iat[missing[0]]}: "
                         "gene has no locus_tag, gene_id or ID attribute to name it")
    gene_id = pd.Series(gene_id, dtype=str)
    dup = gene_id.duplicated(keep=False).to_numpy()
    if dup.any():
        first = gene_id[dup].iat[0]
        lines = feats["line"][(gene_id == first).to_numpy()].tolist()
        raise ValueError(f"GFF3 {path}: gene ID {first!r} appears {len(lines)} times (lines "
                         f"{', '.join(map(str, lines[:5]))}); each gene needs a unique ID "
                         f"({int(dup.sum())} rows share an ID)")
    biotype = [a or b for a, b in zip(attrs["gene_biotype"], attrs["biotype"])]
    name = [a or b for a, b in zip(attrs["Name"], gene_id)]
    genes = pd.DataFrame({
        "gene_id": gene_id,
        "name": pd.Series(name, dtype=str),
        "type": feats["type"].astype(str),
        "biotype": pd.Series(biotype, dtype=str),
        "chrom": feats["seqid"].astype(str),
        "start": feats["start"].to_numpy() - 1,
        "end": feats["end"].to_numpy(),
        "strand": feats["strand"].astype(str),
    })
    genes["tss"] = tss(genes)
    return genes


def tss(genes: pd.DataFrame) -> pd.Series:
    """0-based TSS per gene: ``start`` on ``+``, ``end - 1`` on ``-``, missing otherwise.

    Args:
        genes: table with 0-based half-open ``start``, ``end`` and ``strand``.
    """
    pos = np.where(genes["strand"] == "+", genes["start"], genes["end"] - 1)
    out = pd.Series(pos, index=genes.index, dtype="Int64")
    return out.where(genes["strand"].isin(["+", "-"]).to_numpy())


def check_against_fasta(genes: pd.DataFrame, sizes: dict[str, int], gff: str | os.PathLike,
                        fasta: str | os.PathLike) -> None:
    """Every gene lies on a FASTA record and within its length.

    Raises:
        ValueError: naming the missing seqid (or the gene that runs past its record's end).
    """
    known = genes["chrom"].isin(list(sizes)).to_numpy()
    if not known.all():
        missing = pd.unique(genes["chrom"][~known])
        example = genes["gene_id"][~known].iat[0]
        names = ", ".join(list(sizes)[:5]) + (", ..." if len(sizes) > 5 else "")
        raise ValueError(
            f"GFF3 {gff} uses seqid {missing[0]!r} (gene {example}; {int((~known).sum())} genes on "
            f"{len(missing)} seqids) that is not a record of FASTA {fasta} (records: {names}); "
            "use the FASTA of the same assembly")
    length = genes["chrom"].map(sizes).to_numpy()
    over = genes["end"].to_numpy() > length
    if over.any():
        row = genes[over].iloc[0]
        raise ValueError(f"GFF3 {gff}: gene {row.gene_id} ends at {row.end} (1-based) beyond the "
                         f"end of {row.chrom} ({sizes[row.chrom]} bp in FASTA {fasta}); are the "
                         "FASTA and GFF3 of the same assembly?")
