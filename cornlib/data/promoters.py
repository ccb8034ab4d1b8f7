"""Promoter extraction around annotated TSSs, with FloraBERT's neighbour trimming, and writers.

Coordinate conventions
----------------------
All coordinates are 0-based, half-open (``[start, end)``, as in BED), on the forward strand of
the FASTA record ``chrom``. ``tss`` is the 0-based position of the gene's first transcribed
base (GFF3 ``start`` on ``+``, ``end`` on ``-``). ``sequence`` is written 5'→3' on the gene's
strand (reverse-complemented on ``-``), so its first base is the most upstream one.

The window of a gene is ``upstream`` bases before the TSS plus ``downstream`` bases from the
TSS on (the TSS base included): ``[tss - upstream, tss + downstream)`` on ``+`` and
``[tss - downstream + 1, tss + upstream + 1)`` on ``-``, clipped to the record.

Neighbour trimming (``trim_neighbours=True``) reproduces FloraBERT's bedtools pipeline::

    bedtools flank -i genes -g genome.fai -l UPSTREAM -r 0 -s   # the upstream flank
      | bedtools subtract -a - -b genes                         # minus every gene body
      | keep the fragment nearest the TSS                        # highest on +, lowest on -
      | bedtools getfasta -s

where ``genes`` are all GFF3 features of type ``gene`` whatever their biotype (the gene's own
body is adjacent to its flank, never overlapping it). The kept fragment may not touch the TSS
when another gene covers the bases just upstream of it: such promoters are flagged
``detached``, as FloraBERT kept them. The ``downstream`` part lies inside the gene's own
transcript and is not trimmed; it is appended only to a fragment that touches the TSS.

Letters: ``ACGTN`` (either case) are kept; the IUPAC ambiguity codes ``RYSWKMBDHV`` become
``N`` (``iupac="to_n"``, case kept, counted in ``n_iupac`` and flagged ``iupac``) or stay as
they are (``iupac="keep"``); any other letter is an error naming the gene and the position.
Soft-masked (lowercase) bases are upper-cased (``soft_mask="upper"``) or kept (``"keep"``);
``masked_fraction`` records how much of each promoter was lowercase either way.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np
import pandas as pd

from cornlib.data import genome
from cornlib.data import gff as annotation
from cornlib.sequence import COMPLEMENT, IUPAC_AMBIGUITY

#: Columns of the promoter table, in order (see the module docstring for conventions).
COLUMNS = ["gene_id", "species", "chrom", "start", "end", "strand", "tss", "length", "sequence",
           "flags", "biotype", "gc_fraction", "n_fraction", "masked_fraction", "n_iupac"]
_DTYPES = {"gene_id": "str", "species": "str", "chrom": "str", "start": np.int64, "end": np.int64,
           "strand": "str", "tss": np.int64, "length": np.int64, "sequence": "str", "flags": "str",
           "biotype": "str", "gc_fraction": np.float64, "n_fraction": np.float64,
           "masked_fraction": np.float64, "n_iupac": np.int64}
#: Why a candidate gene gets no promoter, in the order the checks run.
DROP_REASONS = ["unstranded", "covered_by_neighbours", "chrom_edge", "too_short", "too_many_n",
                "max_genes"]
#: Flags a kept promoter may carry (``;``-separated in the ``flags`` column).
FLAGS = ["trimmed", "detached", "clipped", "iupac"]
#: Library defaults (the small profile's values).
DEFAULTS: dict[str, Any] = dict(upstream=1000, downstream=0, trim_neighbours=True, min_length=100,
                                max_n_fraction=0.1, edge_policy="drop", soft_mask="upper",
                                max_genes=None, biotypes=("protein_coding",), iupac="to_n")

# per-byte code = 2 * class + lowercase, class 0 AT, 1 GC, 2 N, 3 IUPAC ambiguity; 8 = invalid
_INVALID = 8
_CODE = np.full(256, _INVALID, dtype=np.int64)
for _cls, _letters in enumerate((b"AT", b"GC", b"N", IUPAC_AMBIGUITY.encode())):
    _CODE[np.frombuffer(_letters, np.uint8)] = 2 * _cls
    _CODE[np.frombuffer(_letters.lower(), np.uint8)] = 2 * _cls + 1
_TO_N = bytes.maketrans((IUPAC_AMBIGUITY + IUPAC_AMBIGUITY.lower()).encode(),
                        b"N" * len(IUPAC_AMBIGUITY) + b"n" * len(IUPAC_AMBIGUITY))

#: The settings that shape a promoter (chapter 02's parameters), recorded by every model.
PROMOTER_KEYS = ("upstream", "downstream", "trim_neighbours", "min_length", "max_n_fraction",
                 "edge_policy", "soft_mask", "biotypes", "iupac")


def check_parameters(*, upstream: int, downstream: int, trim_neighbours: bool, min_length: int,
                     max_n_fraction: float, edge_policy: str, soft_mask: str,
                     max_genes: int | None, biotypes: Sequence[str] | None, iupac: str) -> None:
    """Validate extraction parameters (raises ``ValueError`` saying what is allowed)."""
    for name, value in (("upstream", upstream), ("downstream", downstream), ("min_length", min_length)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
            raise ValueError(f"{name} must be a non-negative integer, not {value!r}")
    if upstream + downstream == 0:
        raise ValueError("upstream + downstream must be positive: the window would be empty")
    if not isinstance(trim_neighbours, (bool, np.bool_)):
        raise ValueError(f"trim_neighbours must be true or false, not {trim_neighbours!r}")
    if isinstance(max_n_fraction, (bool, str)) or not 0 <= float(max_n_fraction) <= 1:
        raise ValueError(f"max_n_fraction must lie in [0, 1], not {max_n_fraction!r}")
    choices = {"edge_policy": (edge_policy, ("drop", "flag")),
               "soft_mask": (soft_mask, ("upper", "keep")), "iupac": (iupac, ("to_n", "keep"))}
    for name, (value, allowed) in choices.items():
        if value not in allowed:
            raise ValueError(f"{name} must be one of {', '.join(allowed)}, not {value!r}")
    if max_genes is not None and (not isinstance(max_genes, (int, np.integer))
                                  or isinstance(max_genes, bool) or max_genes < 1):
        raise ValueError(f"max_genes must be a positive integer or None, not {max_genes!r}")
    if biotypes is not None and (isinstance(biotypes, str)
                                 or not all(isinstance(b, str) for b in biotypes)):
        raise ValueError(f"biotypes must be a list of biotype names or None, not {biotypes!r}")


def _merge(starts: np.ndarray, ends: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Union of intervals as sorted, disjoint, non-touching blocks ``[bs, be)``."""
    order = np.argsort(starts, kind="stable")
    s, e = starts[order], ends[order]
    reach = np.maximum.accumulate(e)
    new = np.ones(len(s), dtype=bool)
    new[1:] = s[1:] > reach[:-1]  # touching intervals merge too
    first = np.flatnonzero(new)
    last = np.append(first[1:] - 1, len(s) - 1)
    return s[first], reach[last]


def _virtual(genes: pd.DataFrame, sizes: dict[str, int]) -> tuple[np.ndarray, np.ndarray]:
    """Per gene, the offset of its record and the record's length in "virtual" coordinates.

    Records are laid end to end with a 1-base gap, so one sorted array of gene blocks serves
    every record and blocks never touch across records.
    """
    names = list(sizes)
    lengths = np.array([sizes[n] for n in names], dtype=np.int64)
    offsets = np.concatenate([[0], np.cumsum(lengths + 1)[:-1]]).astype(np.int64)
    index = pd.Index(names).get_indexer(genes["chrom"])
    if (index < 0).any():
        raise ValueError(f"gene {genes['gene_id'].iat[int(np.argmax(index < 0))]} lies on a record "
                         "missing from the FASTA (see cornlib.data.gff.check_against_fasta)")
    return offsets[index], lengths[index]


def _fragment_plus(bs, be, p, ws, lo) -> tuple[np.ndarray, np.ndarray]:
    """Fragment ``[a, b)`` of the flank ``[ws, p)`` nearest ``p`` outside the blocks ``[bs, be)``."""
    k = np.searchsorted(bs, p - 1, side="right") - 1
    covered = (k >= 0) & (be[np.maximum(k, 0)] > p - 1)  # the base just upstream of the TSS
    b = np.where(covered, bs[np.maximum(k, 0)], p)
    j = np.searchsorted(bs, b - 1, side="right") - 1  # the last block before b
    return np.maximum(ws, np.where(j >= 0, be[np.maximum(j, 0)], lo)), b


def _fragment_minus(bs, be, p, we, hi) -> tuple[np.ndarray, np.ndarray]:
    """Fragment ``[a, b)`` of the flank ``[p, we)`` nearest ``p`` outside the blocks ``[bs, be)``."""
    k = np.searchsorted(bs, p, side="right") - 1
    covered = (k >= 0) & (be[np.maximum(k, 0)] > p)  # the base just upstream of the TSS
    a = np.where(covered, be[np.maximum(k, 0)], p)
    j = np.searchsorted(bs, a, side="left")  # the first block after a
    return a, np.minimum(we, np.where(j < len(bs), bs[np.minimum(j, len(bs) - 1)], hi))


def windows(genes: pd.DataFrame, sizes: dict[str, int], *, upstream: int = 1000,
            downstream: int = 0, trim_neighbours: bool = True,
            biotypes: Sequence[str] | None = ("protein_coding",)) -> pd.DataFrame:
    """Promoter intervals for the candidate genes (interval arithmetic only, no sequence).

    Args:
        genes: every ``gene`` feature (from :func:`cornlib.data.gff.read_genes`); all are
            neighbours for trimming, those with a biotype in ``biotypes`` are candidates.
        sizes: record lengths (:func:`cornlib.data.genome.chrom_sizes`).
        upstream, downstream: window around the TSS (see the module docstring).
        trim_neighbours: subtract the bodies of all genes from the upstream flank and keep the
            fragment nearest the TSS.
        biotypes: candidate biotypes, ``None`` for every gene.

    Returns:
        One row per candidate, sorted by record (FASTA order) and TSS: ``gene_id, biotype,
        chrom, strand, tss, start, end, trimmed, detached, clipped, reason``; ``reason`` is
        empty for a usable window, else ``unstranded``, ``covered_by_neighbours`` (nothing
        left after trimming) or ``chrom_edge`` (the window lies off the record); then
        ``start == end``.
    """
    off_all, len_all = _virtual(genes, sizes)
    bs, be = _merge(genes["start"].to_numpy(np.int64) + off_all,
                    genes["end"].to_numpy(np.int64) + off_all)  # all gene bodies, merged
    is_cand = (np.ones(len(genes), bool) if biotypes is None
               else genes["biotype"].isin(list(biotypes)).to_numpy())
    cand, lo = genes[is_cand], off_all[is_cand]
    hi = lo + len_all[is_cand]
    plus, minus = (cand["strand"] == "+").to_numpy(), (cand["strand"] == "-").to_numpy()
    # p: the TSS boundary; the upstream flank is [ws, p) on + and [p, we) on -
    p = np.where(plus, cand["start"].to_numpy(np.int64), cand["end"].to_numpy(np.int64)) + lo
    ws, we = np.maximum(lo, p - upstream), np.minimum(hi, p + upstream)
    if trim_neighbours and len(bs):
        a_plus, b_plus = _fragment_plus(bs, be, p, ws, lo)
        a_minus, b_minus = _fragment_minus(bs, be, p, we, hi)
    else:
        (a_plus, b_plus), (a_minus, b_minus) = (ws, p), (p, we)

    start, end = np.where(plus, a_plus, a_minus), np.where(plus, b_plus, b_minus)
    touches = np.where(plus, b_plus == p, a_minus == p)
    if downstream:  # only a fragment touching the TSS gets the downstream part
        end = np.where(plus & touches, np.minimum(hi, p + downstream), end)
        start = np.where(minus & touches, np.maximum(lo, p - downstream), start)
    ok = (start < end) & (plus | minus)
    reach_lo = np.where(plus, p - upstream, p - downstream) < lo
    reach_hi = np.where(plus, p + downstream, p + upstream) > hi
    reason = np.where(ok, "", np.where(~(plus | minus), "unstranded", np.where(
        np.where(plus, ws == p, we == p), "chrom_edge", "covered_by_neighbours")))
    tss = np.where(plus, p, p - 1)
    out = pd.DataFrame({
        "gene_id": cand["gene_id"].to_numpy(), "biotype": cand["biotype"].to_numpy(),
        "chrom": cand["chrom"].to_numpy(), "strand": cand["strand"].to_numpy(), "tss": tss - lo,
        "start": np.where(ok, start, tss) - lo, "end": np.where(ok, end, tss) - lo,
        "trimmed": ok & np.where(plus, (a_plus > ws) | (b_plus < p), (a_minus > p) | (b_minus < we)),
        "detached": ok & ~touches,
        "clipped": ok & ((reach_lo & (start == lo)) | (reach_hi & (end == hi))),
        "reason": reason, "_order": tss,
    })
    out = out.sort_values(["_order", "gene_id"], kind="stable")
    return out.drop(columns="_order").reset_index(drop=True)


def _flags(table: pd.DataFrame) -> np.ndarray:
    """``;``-joined flag names per row (empty string when none), via the 16 combinations."""
    names = np.array([";".join(f for i, f in enumerate(FLAGS) if code >> i & 1)
                      for code in range(1 << len(FLAGS))], dtype=object)
    code = sum(table[f].to_numpy(bool).astype(np.int64) << i for i, f in enumerate(FLAGS))
    return names[np.asarray(code, dtype=np.int64)]


def _sequences(fasta, win: pd.DataFrame, *, soft_mask: str, iupac: str, species: str,
               source: str) -> pd.DataFrame:
    """Fetch, orient and check the sequences of ``win`` (columns added, all vectorised).

    Every base gets a code (letter class x case); one ``bincount`` gives the per-sequence
    counts of GC, N, IUPAC and lowercase bases.

    Raises:
        ValueError: for a letter outside ACGTN and the IUPAC codes, naming gene and position.
    """
    raw = genome.fetch_many(fasta, win["chrom"].to_numpy(), win["start"].to_numpy(),
                            win["end"].to_numpy())
    minus = (win["strand"] == "-").to_numpy()
    raw = [s.translate(COMPLEMENT)[::-1] if m else s for s, m in zip(raw, minus)]
    lengths = np.fromiter((len(s) for s in raw), dtype=np.int64, count=len(raw))
    bounds = np.concatenate([[0], np.cumsum(lengths)])
    joined = b"".join(raw)
    code = _CODE[np.frombuffer(joined, dtype=np.uint8)]
    if len(code) and code.max() >= _INVALID:
        i = int(np.argmax(code >= _INVALID))
        row = int(np.searchsorted(bounds, i, side="right") - 1)
        r = win.iloc[row]
        raise ValueError(
            f"{species}: the promoter of gene {r.gene_id} ({r.chrom}:{r.start}-{r.end} {r.strand}) "
            f"has the letter {chr(joined[i])!r} at position {i - bounds[row] + 1} (1-based, 5'→3'); "
            f"FASTA {source} holds a letter that is neither ACGTN nor an IUPAC ambiguity code "
            "(RYSWKMBDHV): fix or replace the FASTA")
    seq_base = np.repeat(np.arange(0, len(raw) * _INVALID, _INVALID, dtype=np.int64), lengths)
    counts = np.bincount(seq_base + code, minlength=len(raw) * _INVALID).reshape(len(raw), _INVALID)
    # code = 2 * class + lowercase; classes: 0 AT, 1 GC, 2 N, 3 IUPAC ambiguity
    gc = counts[:, 2] + counts[:, 3]
    n_iupac = counts[:, 6] + counts[:, 7]
    n_count = counts[:, 4] + counts[:, 5] + (n_iupac if iupac == "to_n" else 0)
    masked = counts[:, 1::2].sum(axis=1)
    if iupac == "to_n" and n_iupac.any():
        joined = joined.translate(_TO_N)
    if soft_mask == "upper":
        joined = joined.upper()
    text = joined.decode("ascii")
    out = win.copy()
    out["sequence"] = [text[a:b] for a, b in zip(bounds[:-1].tolist(), bounds[1:].tolist())]
    out["length"] = lengths
    out["n_iupac"] = n_iupac.astype(np.int64)
    out["iupac"] = n_iupac > 0
    with np.errstate(invalid="ignore", divide="ignore"):
        out["n_fraction"] = n_count / lengths
        out["gc_fraction"] = np.where(lengths > n_count, gc / np.maximum(lengths - n_count, 1), np.nan)
        out["masked_fraction"] = masked / lengths
    return out


def _examples(ids: Iterable[str], n: int = 5) -> list[str]:
    return [str(x) for x in list(ids)[:n]]


def extract(fasta: str | os.PathLike, gff: str | os.PathLike, species: str, *,
            upstream: int = 1000, downstream: int = 0, trim_neighbours: bool = True,
            min_length: int = 100, max_n_fraction: float = 0.1, edge_policy: str = "drop",
            soft_mask: str = "upper", max_genes: int | None = None,
            biotypes: Sequence[str] | None = ("protein_coding",), iupac: str = "to_n",
            cache_dir: str | os.PathLike | None = None) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Promoters of one annotated genome, and a report of what was kept and dropped and why.

    Args:
        fasta: genome FASTA (plain, gzip or BGZF; indexed in the cache, see
            :func:`cornlib.data.genome.prepare_fasta`).
        gff: GFF3 annotation (plain or gzip).
        species: value of the ``species`` column (gene IDs stay as in the GFF3).
        upstream, downstream: window around the TSS, in bases.
        trim_neighbours: FloraBERT's trimming at neighbouring gene bodies.
        min_length: drop promoters shorter than this (after trimming and clipping).
        max_n_fraction: drop promoters with a larger fraction of ``N`` (IUPAC codes count as N
            when converted).
        edge_policy: ``drop`` windows clipped at a record end, or keep them flagged ``clipped``.
        soft_mask: ``upper`` (upper-case soft-masked bases) or ``keep``.
        max_genes: keep at most this many promoters, evenly spaced along the genome (the
            ``i * n // max_genes``-th ones: deterministic, no seed), ``None`` for all.
        biotypes: biotypes that get promoters (all genes are neighbours), ``None`` for all.
        iupac: ``to_n`` (ambiguity codes become N) or ``keep``.
        cache_dir: FASTA cache (``None``: the user cache).

    Returns:
        ``(table, report)``: the table has :data:`COLUMNS`, one row per kept promoter, in
        genome order; the report counts genes, candidates, kept, ``dropped`` by
        :data:`DROP_REASONS` (``candidates == kept + sum(dropped)``), ``flagged`` by
        :data:`FLAGS`, with a few example gene IDs per reason.

    Raises:
        ValueError: bad parameters, malformed or mismatched inputs (naming file, line or ID).
        FileNotFoundError: a missing input file.
    """
    params = dict(upstream=upstream, downstream=downstream, trim_neighbours=trim_neighbours,
                  min_length=min_length, max_n_fraction=max_n_fraction, edge_policy=edge_policy,
                  soft_mask=soft_mask, max_genes=max_genes, biotypes=biotypes, iupac=iupac)
    check_parameters(**params)
    t0 = time.perf_counter()
    genes = annotation.read_genes(gff)
    if genes.empty:
        raise ValueError(f"GFF3 {gff} has no feature of type 'gene'")
    if biotypes is not None and genes["biotype"].isna().all():
        raise ValueError(f"GFF3 {gff}: no gene has a gene_biotype/biotype attribute, so none "
                         f"matches biotypes={list(biotypes)}; pass biotypes=None to use every gene")
    fa = genome.open_fasta(fasta, cache_dir)
    sizes = genome.chrom_sizes(fa)
    annotation.check_against_fasta(genes, sizes, gff, fasta)

    win = windows(genes, sizes, upstream=upstream, downstream=downstream,
                  trim_neighbours=trim_neighbours, biotypes=biotypes)
    reason = win["reason"].to_numpy().astype(object)
    usable = reason == ""
    if edge_policy == "drop":
        reason[usable & win["clipped"].to_numpy()] = "chrom_edge"
    usable = reason == ""
    length = (win["end"] - win["start"]).to_numpy()
    reason[usable & (length < min_length)] = "too_short"
    usable = reason == ""

    seqs = _sequences(fa, win[usable], soft_mask=soft_mask, iupac=iupac, species=species,
                      source=str(fasta))
    too_many_n = seqs["n_fraction"].to_numpy() > max_n_fraction
    reason[np.flatnonzero(usable)[too_many_n]] = "too_many_n"
    kept = seqs[~too_many_n]
    if max_genes is not None and len(kept) > max_genes:
        pick = np.zeros(len(kept), dtype=bool)
        pick[(np.arange(max_genes) * len(kept)) // max_genes] = True
        reason[np.flatnonzero(reason == "")[~pick]] = "max_genes"
        kept = kept[pick]

    table = kept.assign(species=species, flags=_flags(kept))[COLUMNS].reset_index(drop=True)
    table = table.astype(_DTYPES)
    report = {
        "species": species, "fasta": str(fasta), "gff": str(gff), "parameters": _jsonable(params),
        "genes": int(len(genes)), "candidates": int(len(win)), "kept": int(len(table)),
        "dropped": {r: int((reason == r).sum()) for r in DROP_REASONS},
        "flagged": {f: int(kept[f].sum()) for f in FLAGS},
        "iupac_bases": int(kept["n_iupac"].sum()),
        "examples": {r: _examples(win["gene_id"][reason == r]) for r in DROP_REASONS
                     if (reason == r).any()},
        "seconds": round(time.perf_counter() - t0, 3),
    }
    return table, report


def _jsonable(params: dict[str, Any]) -> dict[str, Any]:
    out = dict(params)
    if out.get("biotypes") is not None:
        out["biotypes"] = list(out["biotypes"])
    return out


def extract_genomes(genomes: Sequence, *, upstream: int = 1000, downstream: int = 0,
                    trim_neighbours: bool = True, min_length: int = 100,
                    max_n_fraction: float = 0.1, edge_policy: str = "drop",
                    soft_mask: str = "upper", max_genes: int | None = None,
                    biotypes: Sequence[str] | None = ("protein_coding",), iupac: str = "to_n",
                    cache_dir: str | os.PathLike | None = None,
                    progress: bool = False) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Promoters of several annotated genomes in one table (the notebooks' entry point).

    Args:
        genomes: :class:`cornlib.data.sources.GenomeFiles` (e.g. from
            :func:`cornlib.data.sources.resolve`); each needs a GFF3.
        progress: show a progress bar over genomes.
        Others: as in :func:`extract` (``max_genes`` is per species).

    Returns:
        ``(table, report)``: the rows of every genome in the given order (``species`` is
        ``GenomeFiles.species``); ``report = {"parameters": ..., "species": {species: report of
        extract}, "total": {genes, candidates, kept, dropped, flagged}}``.

    Raises:
        ValueError: a genome without GFF3, a repeated species, or a gene ID found in two species.
    """
    params = dict(upstream=upstream, downstream=downstream, trim_neighbours=trim_neighbours,
                  min_length=min_length, max_n_fraction=max_n_fraction, edge_policy=edge_policy,
                  soft_mask=soft_mask, max_genes=max_genes, biotypes=biotypes, iupac=iupac)
    check_parameters(**params)
    genomes = list(genomes)
    if not genomes:
        raise ValueError("no genome given: pass at least one annotated genome")
    seen = [g.species for g in genomes]
    if len(set(seen)) != len(seen):
        raise ValueError(f"species listed twice: {seen}; each genome needs its own species key")
    for g in genomes:
        if g.gff is None:
            raise ValueError(f"genome {g.species} ({g.label}) has no GFF3 annotation, so no TSS: "
                             "promoters need an annotated genome (cornlib.data.embedded.annotated())")
    if progress:
        from tqdm.auto import tqdm

        genomes = tqdm(genomes, desc="promoters", unit="genome")
    tables, reports = [], {}
    for g in genomes:
        table, rep = extract(g.fasta, g.gff, g.species, cache_dir=cache_dir, **params)
        rep["label"] = g.label
        tables.append(table)
        reports[g.species] = rep
    table = pd.concat(tables, ignore_index=True)
    dup = table["gene_id"].duplicated(keep=False)
    if dup.any():
        clash = table[dup].sort_values("gene_id").head(2)
        raise ValueError(f"gene ID {clash.gene_id.iat[0]!r} occurs in species "
                         f"{', '.join(clash.species)}; gene IDs must be unique across species")
    total = {key: sum(r[key] for r in reports.values()) for key in ("genes", "candidates", "kept")}
    total["dropped"] = {r: sum(rep["dropped"][r] for rep in reports.values()) for r in DROP_REASONS}
    total["flagged"] = {f: sum(rep["flagged"][f] for rep in reports.values()) for f in FLAGS}
    return table, {"parameters": _jsonable(params), "species": reports, "total": total}


def to_fasta_text(promoters: pd.DataFrame) -> Iterable[str]:
    """FASTA records, one line of sequence each; the header's first word is the gene ID.

    Header: ``>GENE_ID species=S loc=CHROM:START-END(STRAND) flags=F`` (0-based half-open).
    """
    cols = ["gene_id", "species", "chrom", "start", "end", "strand", "flags", "sequence"]
    for gid, sp, chrom, s, e, strand, flags, seq in promoters[cols].itertuples(index=False):
        yield f">{gid} species={sp} loc={chrom}:{s}-{e}({strand}) flags={flags or '-'}\n{seq}\n"


def write_fasta(promoters: pd.DataFrame, path: str | os.PathLike) -> Path:
    """Write the promoters as FASTA atomically (see :func:`to_fasta_text`)."""
    from cornlib.io import atomic_path

    with atomic_path(path) as tmp, open(tmp, "w") as fh:
        fh.writelines(to_fasta_text(promoters))
    return Path(path)


def write_parquet(promoters: pd.DataFrame, path: str | os.PathLike) -> Path:
    """Write the promoter table as Parquet atomically."""
    from cornlib.io import write_parquet as _write

    missing = [c for c in COLUMNS if c not in promoters.columns]
    if missing:
        raise ValueError(f"not a promoter table: columns {missing} are missing")
    return _write(path, promoters)


def write(promoters: pd.DataFrame, path: str | os.PathLike) -> Path:
    """Write as FASTA (``.fa``, ``.fasta``, ``.fna``) or Parquet (``.parquet``), by suffix."""
    suffix = Path(path).suffix.lower()
    if suffix in (".fa", ".fasta", ".fna"):
        return write_fasta(promoters, path)
    if suffix == ".parquet":
        return write_parquet(promoters, path)
    raise ValueError(f"cannot tell the format of {path}: use a .fa/.fasta/.fna or .parquet suffix")


def read(path: str | os.PathLike) -> pd.DataFrame:
    """Read a promoter table written by :func:`write_parquet` (checks the columns)."""
    table = pd.read_parquet(path)
    missing = [c for c in COLUMNS if c not in table.columns]
    if missing:
        raise ValueError(f"{path} is not a promoter table: columns {missing} are missing")
    return table
