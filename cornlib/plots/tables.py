"""Tables shown in place of a figure: the genes of the genomes, and one summary row per genome."""

from __future__ import annotations

import os
from collections.abc import Sequence

import pandas as pd


def gene_table(genomes: Sequence) -> pd.DataFrame:
    """Every GFF3 ``gene`` feature of ``genomes`` (:class:`cornlib.data.sources.GenomeFiles`).

    Returns:
        :func:`cornlib.data.gff.read_genes` columns plus ``species`` first; genomes without a
        GFF3 contribute no rows.
    """
    from cornlib.data import gff

    parts = [gff.read_genes(g.gff).assign(species=g.species) for g in genomes if g.gff is not None]
    if not parts:
        return pd.DataFrame(columns=["species", *gff.GENE_COLUMNS])
    genes = pd.concat(parts, ignore_index=True)
    genes["biotype"] = genes["biotype"].fillna("unknown")
    return genes[["species", *gff.GENE_COLUMNS]]


def summary(genomes: Sequence, genes: pd.DataFrame,
            cache_dir: str | os.PathLike | None = None) -> pd.DataFrame:
    """One row per genome: label, number of sequences, assembled length and gene counts.

    Args:
        genomes: :class:`cornlib.data.sources.GenomeFiles`.
        genes: :func:`gene_table` of the same genomes.
        cache_dir: FASTA index cache (see :func:`cornlib.data.genome.prepare_fasta`).

    Returns:
        Indexed by species: ``label, records, length_mb, genes, protein_coding``.
    """
    from cornlib.data import genome

    rows = []
    for g in genomes:
        sizes = genome.chrom_sizes(genome.open_fasta(g.fasta, cache_dir))
        mine = genes[genes["species"] == g.species]
        rows.append({"species": g.species, "label": g.label, "records": len(sizes),
                     "length_mb": round(sum(sizes.values()) / 1e6, 2),
                     "genes": len(mine) if g.gff is not None else None,
                     "protein_coding": int((mine["biotype"] == "protein_coding").sum())
                     if g.gff is not None else None})
    return pd.DataFrame(rows).set_index("species")
