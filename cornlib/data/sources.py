"""Where a run's genomes come from: the embedded package or downloads, behind one call."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any


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


def resolve(source: str, species: list[Any], cache_dir: str | Path | None = None) -> list[GenomeFiles]:
    """Genome files for a profile's ``source`` and ``species`` list.

    Args:
        source: ``embedded`` (keys of :data:`cornlib.data.embedded.GENOMES`) or ``download``
            (genome specs of :mod:`cornlib.data.download`).
        species: keys or specs, as the profile gives them.
        cache_dir: download / index cache; ``None`` is the user cache.
    """
    if source == "embedded":
        from cornlib.data import embedded

        return [embedded.locate(s) for s in species]
    if source == "download":
        from cornlib.data import download

        return [download.fetch_genome(s, cache_dir) for s in species]
    raise ValueError(f"source must be 'embedded' or 'download', not {source!r}")
