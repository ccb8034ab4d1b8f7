"""Do a model's variant effects separate variants that break true sites from random ones?

:func:`effects` joins each model's variant table (:func:`cornlib.variants.run`) with the
simulated classes (:func:`cornlib.variants.simulated_variants`) and gives every scored variant
one effect, the largest absolute change over the targets; :func:`separation` scores the two
classes of each model with :func:`cornlib.interpret.recovery.separation`.
"""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd

from cornlib.interpret import recovery


def effects(tables: Mapping[str, pd.DataFrame], simulated: pd.DataFrame) -> pd.DataFrame:
    """The scored rows of every model's variant table, each read in the gene it was drawn
    for, with ``model``, ``class`` and ``effect`` (``max |delta_<target>|``).

    Args:
        tables: model name → its variant table (``id``, ``gene_id``, ``status``,
            ``delta_<target>``).
        simulated: the simulated variants (``id``, ``gene_id``, ``class``).
    """
    out = []
    for name, t in tables.items():
        scored = t[t["status"] == "scored"].merge(
            simulated[["id", "gene_id", "class"]], on=["id", "gene_id"])
        delta = scored.filter(like="delta_")
        out.append(scored.assign(model=name, effect=delta.abs().max(axis=1)))
    return pd.concat(out, ignore_index=True)


def separation(effects: pd.DataFrame, *, positive: str = "site", negative: str = "random",
               n_bootstrap: int = 1000, ci: float = 0.95, seed: int = 0) -> pd.DataFrame:
    """How well ``effect`` separates the ``positive`` class from the ``negative`` one, per
    model (in the order of ``effects``): the long rows of
    :func:`cornlib.interpret.recovery.separation` with a ``model`` column first."""
    rows = {}
    for m, g in effects.groupby("model", sort=False):
        rows[m] = recovery.separation(
            g.loc[g["class"] == positive, "effect"], g.loc[g["class"] == negative, "effect"],
            n_bootstrap=n_bootstrap, ci=ci, seed=seed)
    return pd.concat(rows, names=["model", None]).reset_index(0).reset_index(drop=True)


def problem_variants(variant, genome) -> pd.DataFrame:
    """Variants with a VCF's usual problems, built around one good SNV, for showing that each
    gets its status: a contig the genome lacks (``no_contig``), a reference base that
    disagrees with the genome (``wrong_ref``), a multi-allelic record (``multi``), an indel
    (``indel``) and the first base of the chromosome, outside every promoter (``far``).

    Args:
        variant: a good SNV with ``chrom``, ``pos`` (1-based) and ``ref``.
        genome: the genome, ``genome[chrom][start:end]`` its bases (e.g.
            :func:`cornlib.data.genome.open_fasta`).

    Returns:
        ``id, chrom, pos, ref, alt``, one row per problem.
    """
    chrom, pos, ref = variant["chrom"], int(variant["pos"]), str(variant["ref"])
    others = [b for b in "ACGT" if b != ref]
    first = str(genome[chrom][0:1]).upper()
    rows = [("no_contig", "chrUn", 100, "A", "G"),
            ("wrong_ref", chrom, pos, others[0], others[1]),
            ("multi", chrom, pos, ref, ",".join(others[:2])),
            ("indel", chrom, pos, ref, ref + "T"),
            ("far", chrom, 1, first, "T" if first != "T" else "C")]
    return pd.DataFrame(rows, columns=["id", "chrom", "pos", "ref", "alt"])
