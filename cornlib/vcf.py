"""Reading and writing variants: VCF (plain, gzip or bgzip, through pysam) and tab-separated
tables, each record checked and given a ``status`` (:data:`STATUSES`); the minimal VCF the book
writes. :mod:`cornlib.variants` maps and scores them (and re-exports these names).
"""

from __future__ import annotations

import gzip
import os
import shutil
from pathlib import Path

import numpy as np
import pandas as pd

#: The outcome of each variant (``scored`` first, then the reasons a variant is not scored).
STATUSES = ["scored", "outside_promoters", "ref_mismatch", "n_allele", "unknown_contig",
            "outside_contig", "multiallelic", "indel", "symbolic", "no_alt"]
#: Columns of a variant table (``status`` empty until :func:`cornlib.variants.locate`).
COLUMNS = ["id", "chrom", "pos", "ref", "alt", "status", "note"]
_DNA = set("ACGTN")


def _classify(ref: str, alts: list[str], split: bool) -> list[tuple[str, str, str]]:
    """``(alt, status, note)`` per allele kept; raises ValueError for non-ACGTN letters."""
    alts = [a for a in alts if a not in ("", ".")]
    if not alts:
        return [("", "no_alt", "no ALT allele")]
    if any(a.startswith("<") or a == "*" or "[" in a or "]" in a for a in alts):
        return [(",".join(alts), "symbolic", "symbolic ALT allele")]
    for allele in [ref, *alts]:
        if not allele or set(allele) - _DNA:
            raise ValueError(f"allele {allele!r} is not made of the letters ACGTN")
    if len(alts) > 1 and not split:
        return [(",".join(alts), "multiallelic", f"{len(alts)} ALT alleles (not split)")]
    out = []
    for alt in alts:
        if len(ref) != 1 or len(alt) != 1:
            out.append((alt, "indel", "not a single-base substitution"))
        elif alt == ref:
            out.append((alt, "no_alt", "ALT equals REF"))
        elif "N" in (ref, alt):
            out.append((alt, "n_allele", "an N allele"))
        else:
            note = f"split from a {len(alts)}-allele record" if len(alts) > 1 else ""
            out.append((alt, "", note))
    return out


def _rows(vid, chrom, pos, ref, alts, split) -> list[dict]:
    ref = ref.upper()
    return [dict(id=vid or f"{chrom}:{pos}:{ref}>{alt}", chrom=chrom, pos=int(pos), ref=ref,
                 alt=alt, status=status, note=note)
            for alt, status, note in _classify(ref, [a.upper() for a in alts], split)]


def _frame(rows: list[dict]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=COLUMNS).astype({"pos": np.int64})


def _vcf_line(path, k: int) -> str:
    """``line L: TEXT`` of the ``k``-th record (0-based) of a plain or gzipped VCF."""
    with open(path, "rb") as fh:
        opener = gzip.open if fh.read(2) == b"\x1f\x8b" else open
    with opener(path, "rt", errors="replace") as fh:
        seen = -1
        for n, line in enumerate(fh, 1):
            seen += bool(line.strip()) and not line.startswith("#")
            if seen == k:
                return f"line {n}: {line.rstrip()[:80]!r}"
    return "the end of the file"


def _first_line(path) -> str:
    """The first line of a plain or gzip/BGZF file (decoded leniently)."""
    with open(path, "rb") as fh:
        opener = gzip.open if fh.read(2) == b"\x1f\x8b" else open
    try:
        with opener(path, "rt", errors="replace") as fh:
            return fh.readline().rstrip("\n")
    except (OSError, EOFError) as err:
        raise ValueError(f"VCF {path}: cannot be read ({err})") from None


def check_vcf(path: str | os.PathLike) -> None:
    """Raise ValueError unless the file starts with ``##fileformat=VCF`` (naming the file).

    Raises:
        FileNotFoundError: no such file.
    """
    if not Path(path).is_file():
        raise FileNotFoundError(f"VCF {path} does not exist")
    first = _first_line(path)
    if not first.startswith("##fileformat=VCF"):
        raise ValueError(f"VCF {path}: the first line is {first[:60]!r}, not "
                         "'##fileformat=VCFv4.x': not a VCF (a tab-separated table with chrom, "
                         "pos, ref, alt is read with --table)")


def read_vcf(path: str | os.PathLike, *, split_multiallelic: bool = False) -> pd.DataFrame:
    """Variants of a VCF (plain, gzip or bgzip, read by pysam) as :data:`COLUMNS`, one row per
    record (per ALT with ``split_multiallelic``). A plain-gzip file (``gzip -c x.vcf > x.vcf.gz``)
    is decompressed to a temporary file first (pysam reads only BGZF in place).

    Raises:
        FileNotFoundError: no such file.
        ValueError: a file without the ``##fileformat=VCF`` first line, a file or record pysam
            cannot parse, or non-ACGTN letters (naming the file, record and line).
    """
    from cornlib.data.compressed import compression

    if not Path(path).is_file():
        raise FileNotFoundError(f"VCF {path} does not exist")
    check_vcf(path)
    if compression(path) == "gzip":
        import tempfile

        with tempfile.TemporaryDirectory(prefix="cornlib-vcf-") as tmp:
            plain = Path(tmp) / "variants.vcf"
            with gzip.open(path, "rb") as fin, open(plain, "wb") as fout:
                shutil.copyfileobj(fin, fout)
            table = _read_vcf(plain, split_multiallelic, shown=path)
        return table
    return _read_vcf(path, split_multiallelic, shown=path)


def _read_vcf(path, split_multiallelic: bool, shown) -> pd.DataFrame:
    """:func:`read_vcf` of a plain or BGZF file through pysam (messages name ``shown``)."""
    import pysam

    rows: list[dict] = []
    verbosity = pysam.set_verbosity(0)  # htslib would print its own messages on stderr
    try:
        try:
            vcf = pysam.VariantFile(str(path))
        except (ValueError, OSError) as err:
            raise ValueError(f"VCF {shown}: cannot read its header: {err}") from None
        with vcf:
            n = 0
            try:
                for rec in vcf:
                    rows += _rows(rec.id, rec.chrom, rec.pos, rec.ref or "", list(rec.alts or []),
                                  split_multiallelic)
                    n += 1
            except (ValueError, OSError, NotImplementedError) as err:
                raise ValueError(f"VCF {shown}: record {n + 1} ({_vcf_line(path, n)}) cannot be "
                                 f"read: {err}") from None
    finally:
        pysam.set_verbosity(verbosity)
    return _frame(rows)


def read_table(path: str | os.PathLike, *, split_multiallelic: bool = False) -> pd.DataFrame:
    """Variants of a tab-separated table with columns ``chrom, pos`` (1-based), ``ref, alt``
    and an optional ``id`` (``alt`` may list alleles separated by commas).

    Raises:
        ValueError: a missing column, a non-integer position or non-ACGTN letters (naming the
            file and line).
    """
    with open(path, encoding="utf-8", errors="replace") as fh:
        lines = fh.read().splitlines()
    header = [c.strip() for c in lines[0].split("\t")] if lines else []
    missing = [c for c in ("chrom", "pos", "ref", "alt") if c not in header]
    if missing:
        raise ValueError(f"variant table {path}: columns {missing} are missing (found {header}; "
                         "needs chrom, pos, ref, alt and optionally id, tab-separated)")
    rows: list[dict] = []
    for n, line in enumerate(lines[1:], 2):
        if not line.strip():
            continue
        fields = [f.strip() for f in line.split("\t")]
        rec = dict(zip(header, fields))
        try:
            if len(fields) != len(header):
                raise ValueError(f"{len(fields)} fields, the header has {len(header)}")
            if not rec["pos"].isdigit() or int(rec["pos"]) < 1:
                raise ValueError(f"position {rec['pos']!r} is not a positive integer")
            rows += _rows(rec.get("id", ""), rec["chrom"], int(rec["pos"]), rec["ref"],
                          rec["alt"].split(","), split_multiallelic)
        except ValueError as err:
            raise ValueError(f"variant table {path}, line {n}: {err}") from None
    return _frame(rows)


def check_contigs(variants: pd.DataFrame, contigs) -> None:
    """Raise ValueError if no variant lies on a contig of the genome (naming a few of each)."""
    contigs = list(contigs)
    found = pd.unique(variants["chrom"])
    if variants.empty or np.isin(found, contigs).any():
        return
    bare = {c.removeprefix("chr").removeprefix("Chr") for c in contigs}
    hint = ("they differ by a 'chr' prefix: rename the VCF contigs (bcftools annotate "
            "--rename-chrs)" if any(c.removeprefix("chr").removeprefix("Chr") in bare for c in found)
            else "a 'chr' prefix or another naming scheme (1 vs NC_003070.9) is the usual cause: "
                 "rename the VCF contigs to the FASTA's record names")
    raise ValueError(f"no variant lies on a contig of the genome: the variants name "
                     f"{', '.join(map(str, found[:5]))}, the genome holds "
                     f"{', '.join(contigs[:5])}; {hint}")


def write_vcf(table: pd.DataFrame, path: str | os.PathLike, sizes: dict[str, int] | None = None) -> Path:
    """A minimal VCF 4.2 (``##contig`` lines, lengths from ``sizes``; ``CLASS``/``GENE`` INFO
    from the ``class``/``gene_id`` columns), sorted by contig and position, written atomically
    (bgzipped if ``path`` ends in ``.gz``)."""
    from cornlib.io import atomic_path

    contigs = list(sizes) if sizes else list(pd.unique(table["chrom"]))
    t = table.assign(_c=pd.Categorical(table["chrom"], contigs)).sort_values(["_c", "pos"], kind="stable")
    head = ["##fileformat=VCFv4.2", "##source=cornlib.variants"]
    head += [f"##contig=<ID={c}" + (f",length={sizes[c]}>" if sizes else ">") for c in contigs]
    info = [("CLASS", "class", "Simulated variant class"), ("GENE", "gene_id", "Gene of the site")]
    info = [i for i in info if i[1] in t.columns]
    head += [f'##INFO=<ID={k},Number=1,Type=String,Description="{d}">' for k, _, d in info]
    head.append("#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO")
    ids = t["id"] if "id" in t.columns else pd.Series(".", index=t.index)
    lines = [f"{c}\t{p}\t{i}\t{r}\t{a}\t.\t.\t" + (";".join(f"{k}={row[col]}" for k, col, _ in info) or ".")
             for (c, p, r, a, i), (_, row) in zip(zip(t["chrom"], t["pos"], t["ref"], t["alt"], ids),
                                                  t.iterrows())]
    text = "\n".join(head + lines) + "\n"
    with atomic_path(path) as tmp:
        if str(path).endswith(".gz"):
            import pysam

            plain = tmp.with_suffix(".vcf")
            plain.write_text(text)
            pysam.tabix_compress(str(plain), str(tmp), force=True)
            plain.unlink()
        else:
            tmp.write_text(text)
    return Path(path)
