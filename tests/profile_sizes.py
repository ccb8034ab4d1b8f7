"""Tiny sizes for a profile that names its own data: the keys of ``profiles/tiny.yml`` that size
a run (not where its data come from), for ``-p`` overrides of another profile. Shared by the
full profile's rehearsal (test_rehearsal.py) and the own-species run (test_own_species.py)."""

from __future__ import annotations

from typing import Any, Mapping

import yaml

from cornlib.paths import REPO_ROOT

#: Keys that say where the data come from: these follow the profile being shrunk, every other
#: key of profiles/tiny.yml replaces its size.
DATA_KEYS = {"profile", "run_dir", "cache_dir", "device", "source", "species", "max_genes",
             "expression", "protein_fasta", "cross_species_holdout", "corpus_genome_windows",
             "corpus_genomes", "warm_start_species", "variants_species", "holdout",
             "n_tissues"}


def tiny_sizes(base: Mapping[str, Any]) -> dict[str, Any]:
    """The keys of profiles/tiny.yml that ``base`` (a loaded profile) has with another value,
    :data:`DATA_KEYS` left out."""
    tiny = yaml.safe_load((REPO_ROOT / "profiles" / "tiny.yml").read_text())
    return {k: v for k, v in tiny.items()
            if k in base and k not in DATA_KEYS and base[k] != v}
