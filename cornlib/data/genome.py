"""Genome access: FASTA through pyfaidx (indexed in a cache), GFF3 gene tables and TSS positions.

Coordinate conventions
----------------------
GFF3 files are 1-based and closed (``start..end`` includes both ends). Every table this module
returns is **0-based, half-open**: a GFF3 gene ``start=101, end=200`` becomes ``start=100,
end=200`` (the same as BED and Python slices). ``tss`` is the 0-based position of the first
transcribed base: ``start`` on the ``+`` strand, ``end - 1`` on the ``-`` strand.

FASTA records are keyed on the first word of the header (``>NC_003070.9 Arabidopsis ...`` is
``NC_003070.9``), as in samtools and in GFF3 seqids.

Gene IDs: the ``locus_tag`` attribute when present (NCBI annotations: ``AT1G01010``), else the
``gene_id`` attribute (Ensembl), else ``ID`` without its ``gene-``/``gene:`` prefix.
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import mmap
import os
import queue
import re
import threading
import urllib.parse
import zlib
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np
import pandas as pd

GFF_COLUMNS = ["seqid", "source", "type", "start", "end", "score", "strand", "phase", "attributes"]
#: Columns of :func:`read_genes` (0-based half-open ``start``/``end``; ``tss`` 0-based).
GENE_COLUMNS = ["gene_id", "name", "type", "biotype", "chrom", "start", "end", "strand", "tss"]

_FASTA_SUFFIXES = (".fa", ".fasta", ".fna", ".fas", ".faa")
#: Complement of DNA letters and IUPAC codes, both cases, for ``bytes.translate``.
COMPLEMENT = bytes.maketrans(b"ACGTRYSWKMBDHVNacgtryswkmbdhvn", b"TGCAYRSWMKVHDBNtgcayrswmkvhdbn")


# ---------------------------------------------------------------------------------------------
# FASTA
# ---------------------------------------------------------------------------------------------

def compression(path: str | os.PathLike) -> str:
    """``"plain"``, ``"gzip"`` or ``"bgzf"`` (block-gzip, as ``bgzip`` writes), from the magic bytes."""
    with open(path, "rb") as fh:
        head = fh.read(18)
    if head[:2] != b"\x1f\x8b":
        return "plain"
    if len(head) >= 14 and head[3] & 4 and head[12:14] == b"BC":
        return "bgzf"
    return "gzip"


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


def reverse_complement(seq: str) -> str:
    """Reverse complement of a DNA string (IUPAC codes and case kept)."""
    return seq.encode("ascii").translate(COMPLEMENT)[::-1].decode("ascii")


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


# ---------------------------------------------------------------------------------------------
# GFF3
# ---------------------------------------------------------------------------------------------

_CHUNK = 1 << 22


def _bgzf_blocks(path: Path) -> Iterator[bytes]:
    """Decompressed bytes of a BGZF file, ~4 MB at a time.

    One ``zlib.decompress`` per block (which checks its CRC), no per-member Python overhead of
    the ``gzip`` module. A missing end-of-file block means a truncated file.
    """
    pending: list[bytes] = []
    size = 0
    last = b"x"
    with open(path, "rb") as fh:
        buf, pos, eof = b"", 0, False
        while True:
            if not eof and len(buf) - pos < (1 << 17):
                more = fh.read(_CHUNK)
                eof = not more
                buf, pos = buf[pos:] + more, 0
            if pos >= len(buf):
                break
            head = buf[pos:pos + 18]
            if len(head) < 18 or head[:4] != b"\x1f\x8b\x08\x04" or head[12:14] != b"BC":
                raise ValueError(f"{path} is truncated or corrupt: no BGZF block header at "
                                 f"byte {fh.tell() - len(buf) + pos}; download it again")
            bsize = int.from_bytes(head[16:18], "little") + 1
            if pos + bsize > len(buf):
                raise ValueError(f"{path} is truncated: its last BGZF block is incomplete; "
                                 "download it again")
            try:
                last = zlib.decompress(memoryview(buf)[pos:pos + bsize], 31)
            except zlib.error as err:
                raise ValueError(f"{path} is corrupt ({err}); download it again") from None
            pos += bsize
            if last:
                pending.append(last)
                size += len(last)
                if size >= _CHUNK:
                    yield b"".join(pending)
                    pending, size = [], 0
    if pending:
        yield b"".join(pending)
    if last:
        raise ValueError(f"{path} is truncated: the BGZF end-of-file block is missing; "
                         "download it again")


def _decompressed(path: Path) -> Iterator[bytes]:
    """The bytes of a plain, gzip or BGZF file, a few MB at a time."""
    kind = compression(path)
    if kind == "bgzf":
        yield from _bgzf_blocks(path)
        return
    opener = open if kind == "plain" else gzip.open
    try:
        with opener(path, "rb") as fh:
            while block := fh.read(_CHUNK):
                yield block
    except (EOFError, gzip.BadGzipFile, zlib.error) as err:
        raise ValueError(f"{path} is truncated or corrupt ({err}); download it again") from None


def _prefetch(items: Iterator[bytes], depth: int = 2) -> Iterator[bytes]:
    """Run ``items`` in a background thread (zlib releases the GIL, so decompression overlaps
    the caller's scanning); errors are re-raised in the caller."""
    q: queue.Queue = queue.Queue(depth)
    stop = threading.Event()
    done = object()

    def produce() -> None:
        try:
            for item in items:
                while not stop.is_set():
                    try:
                        q.put(item, timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            q.put(done)
        except BaseException as err:  # handed to the consumer
            q.put(err)

    worker = threading.Thread(target=produce, name="cornlib-gff-reader", daemon=True)
    worker.start()
    try:
        while (item := q.get()) is not done:
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()


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
    """The GFF3 lines of one feature type as a validated table (see :func:`_read_features`)."""
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
        ValueError: for malformed lines (see :func:`_read_features`), a gene without any ID,
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
            genes = read_genes(g.gff)
            coding = int((genes["biotype"] == "protein_coding").sum())
            row.update(genes=len(genes), protein_coding=coding)
        rows.append(row)
    return pd.DataFrame(rows).set_index("species")
