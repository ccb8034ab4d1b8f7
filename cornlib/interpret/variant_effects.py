"""Do a model's variant effects separate variants that break true sites from random ones?

:func:`effects` joins each model's variant table (:func:`cornlib.variants.run`) with the
simulated classes (:func:`cornlib.variants.simulated_variants`) and gives every scored variant
one effect, the largest absolute change over the targets; :func:`separation` scores the two
classes of each model with :func:`cornlib.interpret.recovery.separation`;
:func:`auroc_difference` compares two models' separation on the same variants (paired), and
:func:`ceiling` how well each model's effects rank the site-breaking variants as their true
effects do. Every interval comes from :mod:`cornlib.evaluate.resample`.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from cornlib.evaluate import resample
from cornlib.interpret import recovery


def effects(tables: Mapping[str, pd.DataFrame], simulated: pd.DataFrame) -> pd.DataFrame:
    """The scored rows of every model's variant table, each read in the gene it was drawn
    for, with ``model``, ``class`` and ``effect`` (``max |delta_<target>|``).

    Args:
        tables: model name → its variant table (``id``, ``gene_id``, ``status``,
            ``delta_<target>``).
        simulated: the simulated variants (``id``, ``gene_id``, ``class``; their
            ``contribution``, the broken site's true effect, is carried along where given).
    """
    keep = [c for c in ("id", "gene_id", "class", "contribution") if c in simulated.columns]
    out = []
    for name, t in tables.items():
        scored = t[t["status"] == "scored"].merge(
            simulated[keep], on=["id", "gene_id"])
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


def _aligned(effects: pd.DataFrame, models, column: str = "class") -> pd.DataFrame:
    """``effects`` as one row per variant scored by every one of ``models`` (``id``,
    ``gene_id``, ``column``), one effect column per model, in the first model's order."""
    models = list(models)
    missing = [m for m in models if m not in set(effects["model"])]
    if len(models) != 2 or missing:
        raise ValueError(f"need two models of the effects table, got {models} "
                         f"(not in it: {missing})")
    keys = ["id", "gene_id", column]
    out = effects[effects["model"] == models[0]][keys]
    for m in models:
        g = effects.loc[effects["model"] == m, ["id", "gene_id", "effect"]]
        out = out.merge(g.rename(columns={"effect": m}), on=["id", "gene_id"])
    return out.reset_index(drop=True)


def auroc_difference(effects: pd.DataFrame, models, *, positive: str = "site",
                     negative: str = "random", n_bootstrap: int = 1000, ci: float = 0.95,
                     seed: int = 0) -> pd.DataFrame:
    """The first model's AUROC (``positive`` against ``negative`` variants) minus the second's,
    paired: both score the same variants (those both scored), so each resample draws variants
    within each class (:func:`cornlib.evaluate.resample.stratified_indices`, the draws of
    :func:`separation` when both scored every variant) and both AUROCs are taken on it.

    Returns:
        One row: ``model`` (``"a − b"``), ``metric`` (``auroc``), ``value``, ``ci_low``,
        ``ci_high`` (percentile), ``share_positive``, ``verdict`` (``better``, ``worse``,
        ``indistinguishable``), ``n_positive``, ``n_negative``.
    """
    from sklearn.metrics import roc_auc_score

    resample.check_options(ci, "percentile", n_bootstrap)
    a, b = models = list(models)
    both = _aligned(effects, models)
    pos, neg = (both[both["class"] == c] for c in (positive, negative))
    if not len(pos) or not len(neg):
        raise ValueError(f"both classes need variants scored by both models ({len(pos)} "
                         f"{positive}, {len(neg)} {negative})")
    y = np.r_[np.ones(len(pos)), np.zeros(len(neg))]

    def auroc(m, i=slice(None), j=slice(None)):
        return roc_auc_score(y, np.r_[pos[m].to_numpy()[i], neg[m].to_numpy()[j]])

    draws = resample.stratified_indices([len(pos), len(neg)], n_bootstrap, seed)
    reps = {m: np.array([auroc(m, i, j) for i, j in draws]) for m in models}
    row = resample.paired(auroc(a), auroc(b), reps[a], reps[b], ci=ci,
                          ci_method="percentile")
    return pd.DataFrame([{"model": f"{a} − {b}", "metric": "auroc", **row,
                          "n_positive": len(pos), "n_negative": len(neg)}])


def ceiling(effects: pd.DataFrame, models, *, positive: str = "site",
            n_bootstrap: int = 1000, ci: float = 0.95, seed: int = 0) -> pd.DataFrame:
    """How well each model's effects rank the ``positive`` variants as the simulation's true
    effects do: Spearman ρ of the predicted effect with ``|contribution|`` (the broken site's
    true effect), per model and as the paired difference of the two, on the variants both
    scored, resampled over variants (the same draws for both models).

    A model that knew the simulation would reach ρ near 1 here (a single base may not remove
    a whole site) and, with random variants outside every true site, an AUROC near 1: this is
    the ceiling the AUROC approaches.

    Returns:
        Long table ``model`` (each model, then ``"a − b"``), ``metric`` (``spearman``),
        ``value``, ``ci_low``, ``ci_high`` (percentile), ``verdict`` (against 0), ``n``.
    """
    from scipy.stats import spearmanr

    resample.check_options(ci, "percentile", n_bootstrap)
    a, b = models = list(models)
    if "contribution" not in effects.columns:
        raise ValueError("the effects carry no true effect: give effects() simulated variants "
                         "with a contribution column (cornlib.variants.simulated_variants)")
    both = _aligned(effects[effects["class"] == positive], models, "contribution")
    both = both[np.isfinite(both["contribution"])]
    if len(both) < 3:
        raise ValueError(f"need at least 3 {positive} variants with a true effect scored by "
                         f"both models, got {len(both)}")
    truth = both["contribution"].abs().to_numpy()

    def rho(m, i=slice(None)):
        x, t = both[m].to_numpy()[i], truth[i]
        if np.ptp(x) == 0 or np.ptp(t) == 0:
            return float("nan")
        return float(spearmanr(x, t).statistic)

    draws = [i for (i,) in resample.stratified_indices([len(both)], n_bootstrap, seed)]
    reps = {m: np.array([rho(m, i) for i in draws]) for m in models}
    point = {m: rho(m) for m in models}
    rows = [resample.summarise({"spearman": point[m]}, {"spearman": reps[m]}, ci=ci,
                               ci_method="percentile", null={"spearman": 0.0}
                               ).assign(model=m) for m in models]
    diff = resample.paired(point[a], point[b], reps[a], reps[b], ci=ci,
                           ci_method="percentile")
    rows.append(pd.DataFrame([{"model": f"{a} − {b}", "metric": "spearman", **diff}]))
    out = pd.concat(rows, ignore_index=True).assign(n=len(both))
    return out[["model", "metric", "value", "ci_low", "ci_high", "verdict", "n"]]


#: How a model's agreement with the true effects reads, by the verdict of its interval
#: against 0 (chance).
AGREEMENT: dict[str, str] = {"better": "agrees with the truth better than chance",
                             "worse": "runs against the truth",
                             "indistinguishable": "is indistinguishable from chance",
                             "undefined": "cannot be measured"}


def comparison_text(difference: pd.DataFrame, agreement: pd.DataFrame | None = None) -> str:
    """The sentences under chapter 10's model comparison, from the verdicts of
    :func:`auroc_difference` and :func:`ceiling` (``agreement`` None or empty: no answer key,
    so no ceiling); no verdict beyond what the intervals give."""
    if difference.empty:
        return "Without classes there is no separation to compare between the models."
    d = difference.iloc[0]
    first, second = d["model"].split(" − ")
    text = (f"The {first}'s separation {resample.VERBS[d['verdict']]} the {second}'s "
            f"(AUROC difference {resample.formatted(difference, sign=True).iat[0]}).")
    if agreement is None or agreement.empty:
        return text
    g = agreement.set_index("model")
    diff = g.loc[d["model"]]
    return (f"{text} Against the true effects of the broken sites, the {first}'s ranking "
            f"of the site-breaking variants {AGREEMENT[g.at[first, 'verdict']]}, the {second}'s "
            f"{AGREEMENT[g.at[second, 'verdict']]}; in this agreement the {first} "
            f"{resample.VERBS[diff['verdict']]} the {second}.")


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
