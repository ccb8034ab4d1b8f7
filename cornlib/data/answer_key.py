"""What a run's targets allow: the answer key of simulated targets, and its absence.

Simulated targets (the embedded profiles) come with an answer key: true sites, the oracle that
reads them, a noise ceiling, driver motifs and variants that break a site. Measured targets (a
downloaded or local TPM table) have none of these. A chapter asks :func:`has_truth` before such a
section and shows :func:`absent` instead of failing; :func:`targets_phrase` and
:func:`ceiling_phrase` keep its prose right for either kind.
"""

from __future__ import annotations

from typing import Any, Mapping

#: Why each section that needs the simulation's truth is left out on measured targets.
ABSENT: dict[str, str] = {
    "oracle": "the oracle reads the simulation's true sites, which measured targets do not have",
    "ceiling": "the noise ceiling is the simulation's noiseless signal against its noisy "
               "targets, which measured targets do not have",
    "shortfall": "what a model misses is read against the simulation's drivers and true sites, "
                 "which measured targets do not have",
    "recovery": "true-site recovery scores importance against the simulation's true sites, "
                "which measured targets do not have",
    "site_variants": "site-breaking variants break the simulation's true sites, which measured "
                     "targets do not have",
    "motif_verdicts": "a pattern is found or missed against the simulation's driver motifs, "
                      "which measured targets do not have: every pattern is listed as matching "
                      "no driver (invented), with its best JASPAR match",
}


def has_truth(card: Mapping[str, Any]) -> bool:
    """True when the targets (``targets/card.json``) are simulated and carry true sites."""
    return card.get("kind") == "simulated"


def absent(section: str, card: Mapping[str, Any]) -> str:
    """The sentence a chapter shows for a section the targets cannot support (``""`` when they
    can): e.g. ``absent("oracle", card)``.

    Raises:
        KeyError: an unknown section (naming the known ones).
    """
    if section not in ABSENT:
        raise KeyError(f"unknown section {section!r}; known: {sorted(ABSENT)}")
    if has_truth(card):
        return ""
    kind = card.get("kind") or "measured"
    return f"Left out on these {kind} targets: {ABSENT[section]}."


def targets_phrase(card: Mapping[str, Any]) -> str:
    """``"simulated tissues"`` or ``"measured tissues"``, for captions and prose."""
    return "simulated tissues" if has_truth(card) else f"{card.get('kind') or 'measured'} tissues"


def ceiling_phrase(share: float | None, card: Mapping[str, Any]) -> str:
    """``"45% of the noise ceiling in R²"``, or why there is none (measured targets)."""
    if share is None or not has_truth(card) or share != share:
        return "no noise ceiling: the targets are measured"
    return f"{share:.0%} of the noise ceiling in R²"


def stand_in_note(card: Mapping[str, Any]) -> str:
    """Chapter 1's note over its sections on the simulated stand-in (``""`` when simulated)."""
    if has_truth(card):
        return ""
    kind = card.get("kind") or "measured"
    return (f"These targets are {kind}: the sections below describe the simulated stand-in of "
            "the embedded profiles (its drivers, gate and true sites), which this run does not "
            "use, so their tables and figures are empty.")


def cross_species_note(species) -> str:
    """Why cross-species runs are left out (``""`` with two or more species with targets)."""
    species = sorted(map(str, species))
    if len(species) > 1:
        return ""
    which = f"only {species[0]} has" if species else "no species has"
    return (f"Left out: cross-species training needs two or more species with expression "
            f"targets, and {which} them.")
