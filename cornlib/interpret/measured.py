"""Chapters 9 and 10 on measured targets, which have no true sites.

What the targets allow is :mod:`cornlib.data.answer_key` (re-exported here: :func:`has_truth`,
:func:`absent`). Chapter 9 maps the window of the largest ISM effect when there is no true site
to centre it on (:func:`strongest_effect`); chapter 10 scores the VCF a profile names
(``variants_vcf``), simulates one only when the targets are simulated, and otherwise says how
to give one (:func:`variant_source`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence

import pandas as pd

from cornlib.data.answer_key import ABSENT, absent, ceiling_phrase, has_truth, targets_phrase
from cornlib.interpret.tables import MISSING

__all__ = ["ABSENT", "MISSING", "VariantSource", "absent", "anchor_variant", "ceiling_phrase",
           "glue_all", "has_truth", "ism_window", "ranked_effects", "separation_text",
           "strongest_effect", "targets_phrase", "variant_genome", "variant_source"]


# --- chapter 10: which variants, which genome -------------------------------------------------


@dataclass(frozen=True)
class VariantSource:
    """Where chapter 10's variants come from.

    Attributes:
        kind: ``simulated`` (drawn from the true sites), ``given`` (the profile's VCF) or
            ``none`` (measured targets and no VCF: nothing to score).
        vcf: the VCF to score (``None`` for ``simulated`` until it is written, and ``none``).
        note: one sentence that says which, for the chapter's output.
    """

    kind: str
    vcf: Path | None
    note: str


def variant_source(card: Mapping[str, Any], variants_vcf: str | os.PathLike | None
                   ) -> VariantSource:
    """The variants chapter 10 scores: the profile's ``variants_vcf`` when given, else simulated
    site-breaking and random variants when the targets are simulated, else none (with how to
    give a VCF).

    Raises:
        FileNotFoundError: ``variants_vcf`` names a file that does not exist.
    """
    if variants_vcf:
        path = Path(variants_vcf).expanduser()
        if not path.is_file():
            raise FileNotFoundError(f"variants_vcf: {path} does not exist (the profile key "
                                    "variants_vcf names a VCF of SNVs on variants_species' genome)")
        return VariantSource("given", path, f"Scoring the profile's VCF {path}.")
    if has_truth(card):
        return VariantSource("simulated", None, "Scoring simulated variants: half break a true "
                             "site, half sit at random positions of the same promoters.")
    return VariantSource("none", None, (
        f"No variants to score: {ABSENT['site_variants']}, and the profile names no VCF. Give "
        "one with `variants_vcf: PATH` in the profile or `-p variants_vcf=PATH` (SNVs on the "
        "genome of variants_species), or score it after the run with `cornlib variants`."))


def variant_genome(source: str, species: Sequence[Any], name: str,
                   cache_dir: str | os.PathLike | None = None):
    """The genome files of ``name`` among a profile's ``species`` (embedded keys or download
    specs), resolved as chapter 01 resolves them (:func:`cornlib.data.sources.resolve`).

    Raises:
        ValueError: ``name`` is not one of the profile's species (naming them).
    """
    from cornlib.data import sources

    names = [s.get("name") if isinstance(s, Mapping) else str(s) for s in species]
    if name not in names:
        raise ValueError(f"variants_species {name!r} is not one of the profile's species "
                         f"{names}")
    return sources.resolve(source, [species[names.index(name)]], cache_dir)[0]


def ranked_effects(tables: Mapping[str, pd.DataFrame], group: str = "given") -> pd.DataFrame:
    """Scored rows of every model's variant table with ``model``, ``class`` (``group``) and
    ``effect`` (largest ``|delta_<target>|``), largest effect first within each model."""
    out = []
    for name, t in tables.items():
        scored = t[t["status"] == "scored"]
        effect = scored.filter(like="delta_").abs().max(axis=1)
        out.append(scored.assign(model=name, **{"class": group}, effect=effect)
                   .sort_values("effect", ascending=False, kind="stable"))
    if not out:
        return pd.DataFrame(columns=["id", "gene_id", "model", "class", "effect"])
    return pd.concat(out, ignore_index=True)


def anchor_variant(promoters: pd.DataFrame, genome) -> dict[str, Any]:
    """A good SNV in the middle of the first promoter (``chrom``, 1-based ``pos``, ``ref``),
    around which the chapter builds its bad-input examples when no variant is at hand."""
    if promoters.empty:
        raise ValueError("no promoters to place a variant in")
    row = promoters.iloc[0]
    pos0 = int(row["start"] + row["end"]) // 2
    ref = str(genome[row["chrom"]][pos0:pos0 + 1]).upper()
    return {"chrom": row["chrom"], "pos": pos0 + 1, "ref": ref}


def _wide_separation(separation: pd.DataFrame) -> pd.DataFrame:
    """One row per model with ``auroc``, ``auroc_low``, ``auroc_high``, ``median_positive``,
    ``median_negative``, from either form of
    :func:`cornlib.interpret.variant_effects.separation`: wide (indexed by model) or long
    (``model, metric, value, ci_low, ci_high``)."""
    if "metric" not in separation.columns:
        return separation
    long = separation.set_index(["model", "metric"])
    wide = long["value"].unstack("metric")
    wide["auroc_low"] = long["ci_low"].xs("auroc", level="metric")
    wide["auroc_high"] = long["ci_high"].xs("auroc", level="metric")
    return wide


def separation_text(separation: pd.DataFrame, source: VariantSource) -> str:
    """The sentence under chapter 10's scores: how well site-breaking variants separate from
    random ones (simulated), or what the scores of a given VCF are (and are not)."""
    if source.kind == "none":
        return source.note
    if source.kind == "given" or separation.empty:
        return ("The profile's variants have no answer key, so there is no separation to "
                "measure: the table ranks them by predicted effect, the largest absolute change "
                "over the tissues; read them as the model's hypotheses.")
    parts = [f"{m}: {r.auroc:.2f} ({r.auroc_low:.2f}–{r.auroc_high:.2f})"
             for m, r in _wide_separation(separation).iterrows()]
    return ("A site-breaking variant has a larger predicted effect than a random one with "
            "probability (AUROC, 0.5: no separation) " + "; ".join(parts) + ".")


def strongest_effect(ism, gene_ids: Sequence[str], targets: Sequence[str], *,
                     flank: int = 40):
    """Without true sites, the window of chapter 9's mutagenesis map: the gene, position and
    target of the largest absolute ISM effect, ``flank`` bases either side (clipped).

    Args:
        ism: per-base substitution effects ``(genes, L_max, 4, targets)``, NaN past a
            sequence's end (:func:`cornlib.interpret.ism`'s layout).
        gene_ids, targets: the genes and target names of ``ism``'s first and last axes.

    Returns:
        A :class:`cornlib.interpret.geometry.SiteWindow` with no ``sites``.
    """
    import numpy as np

    from cornlib.interpret.geometry import SiteWindow

    if flank < 1:
        raise ValueError(f"flank must be a positive number of bases, got {flank}")
    values = np.abs(np.asarray(ism, dtype=float))
    if values.ndim != 4 or not np.isfinite(values).any():
        raise ValueError(f"expected finite ISM effects of shape (genes, L, 4, targets), got "
                         f"shape {values.shape}")
    g, pos, _, t = np.unravel_index(np.nanargmax(values), values.shape)
    length = int(np.isfinite(values[g]).any(axis=(1, 2)).sum())
    return SiteWindow(gene=int(g), gene_id=str(gene_ids[g]), target=int(t),
                      target_name=str(targets[t]), start=max(int(pos) - flank, 0),
                      end=min(int(pos) + flank, length), sites=[])


def ism_window(ism, truth: pd.DataFrame, card: Mapping[str, Any], gene_ids: Sequence[str],
               tss: Sequence[int], lengths: Sequence[int], targets: Sequence[str], *,
               flank: int = 40):
    """Chapter 9's mutagenesis window: the strongest true site
    (:func:`cornlib.interpret.geometry.strongest_site`) when the targets have true sites, else
    the largest ISM effect (:func:`strongest_effect`). ``ism`` and the other sequences cover the
    same genes (the ISM sample), in the same order."""
    if has_truth(card):
        from cornlib.interpret.geometry import strongest_site

        return strongest_site(truth, card, gene_ids, tss, lengths, targets, flank=flank)
    return strongest_effect(ism, gene_ids, targets, flank=flank)


def glue_all(glue, values: Mapping[str, Any]) -> None:
    """``glue(key, value, display=False)`` for every item of ``values`` (myst-nb's ``glue``):
    the helpers that build ``values`` give every key the prose uses,
    :data:`cornlib.interpret.tables.MISSING` or NaN where the targets cannot support it, so
    the page builds on either kind of targets."""
    for key, value in values.items():
        glue(key, value, display=False)
