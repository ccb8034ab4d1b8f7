"""Where a run's genomes come from: the embedded package or downloads, behind one call."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from cornlib.data import download, embedded
from cornlib.data.genome import GenomeFiles

__all__ = ["GenomeFiles", "resolve"]


def resolve(source: str, species: list[Any], cache_dir: str | Path | None = None) -> list[GenomeFiles]:
    """Genome files for a profile's ``source`` and ``species`` list.

    Args:
        source: ``embedded`` (keys of :data:`cornlib.data.embedded.GENOMES`) or ``download``
            (genome specs of :mod:`cornlib.data.download`).
        species: keys or specs, as the profile gives them.
        cache_dir: download / index cache; ``None`` is the user cache.
    """
    if source == "embedded":
        return [embedded.locate(s) for s in species]
    if source == "download":
        return [download.fetch_genome(s, cache_dir) for s in species]
    raise ValueError(f"source must be 'embedded' or 'download', not {source!r}")
