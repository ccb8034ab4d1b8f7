"""What the simulated stand-in is made of, described from its own outputs: the TATA gate by
species, the true sites' counts and positions, the noise ceilings and what drives them, the
tissues' correlations, and how little base composition explains (chapter 01's sentences)."""

from __future__ import annotations

import warnings
from typing import Sequence

import numpy as np
import pandas as pd

from cornlib.data.simulate import Targets, tss_index  # noqa: F401

# --- what the stand-in is made of: numbers the book states -------------------------------------

def _species_rows(species: Sequence[str] | None, n: int) -> list[tuple[str, np.ndarray]]:
    """``(name, row mask)`` per species, then ``all``."""
    labels = np.asarray(species if species is not None else ["all"] * n, dtype=object)
    rows = [(str(k), labels == k) for k in sorted(set(labels))]
    return rows + ([("all", np.ones(n, bool))] if len(rows) > 1 else [])


def gate_effect(targets: Targets, species: Sequence[str] | None = None) -> pd.DataFrame:
    """How much the core-element gate puts into the targets, per species and overall.

    An open gate (a core element in the window) lets a gene's driver effects act in full instead
    of ``core_leak`` of them; what it adds to the mean is ``(1 - core_leak)`` times the ungated
    driver effect. Its ``variance_share`` is the variance of that addition as a share of the
    observed targets' variance (mean over tissues); if the gate opens more often in one species
    for reasons of annotation, this is the size of that artefact in the targets.

    Args:
        targets: from :func:`cornlib.data.simulate.simulate`.
        species: the species of each row of ``targets.expression``.

    Returns:
        One row per species (and ``all``): ``genes``, ``gate_open`` (share of genes),
        ``variance_share``.
    """
    c = targets.components
    if not c:  # measured targets: no gate
        return pd.DataFrame(columns=["genes", "gate_open", "variance_share"]).rename_axis("species")
    leak = float(targets.card["parameters"]["core_leak"])
    is_open = c["gate"] == 1.0
    added = np.where(is_open[:, None], c["motif_effect"] * (1.0 - leak), 0.0)
    y = targets.expression.drop(columns="gene_id").to_numpy(float)
    rows = []
    for name, sel in _species_rows(species, len(y)):
        var_y = y[sel].var(axis=0)
        share = np.divide(added[sel].var(axis=0), var_y, out=np.zeros_like(var_y), where=var_y > 0)
        rows.append({"species": name, "genes": int(sel.sum()), "gate_open": float(is_open[sel].mean()),
                     "variance_share": float(share.mean())})
    return pd.DataFrame(rows).set_index("species")


def gate_sentence(table: pd.DataFrame) -> str:
    """:func:`gate_effect` as a sentence: how often the gate opens per species, and its share."""
    if table.empty:
        return "These targets are measured: there is no simulated gate."
    per = table.drop(index="all", errors="ignore")
    opened = " and ".join(f"{r.gate_open:.1%} of the {int(r.genes):,} {sp} genes" for sp, r in per.iterrows())
    share = table["variance_share"].get("all", table["variance_share"].iloc[0])
    each = ", ".join(f"{sp} {r.variance_share:.1%}" for sp, r in per.iterrows())
    ratio = per["gate_open"].max() / per["gate_open"].min() if len(per) > 1 and per["gate_open"].min() else 1
    return (f"The gate is open for {opened}"
            + (f", {ratio:.1f} times as often in {per['gate_open'].idxmax()}" if len(per) > 1 else "")
            + f". What the open gates add to the mean is {share:.1%} of the variance of the observed "
            f"targets (mean over tissues" + (f"; {each}" if len(per) > 1 else "") + ").")


def site_summary(targets: Targets) -> dict[str, float]:
    """Driver sites per promoter, the share of promoters with one, and the range over drivers of
    each driver's mean site position (bp relative to the TSS)."""
    sites = targets.truth_sites[targets.truth_sites["role"] == "driver"]
    n = len(targets.expression)
    mean_pos = sites.groupby("motif")["position"].mean()
    return {"sites_per_promoter": len(sites) / n,
            "promoters_with_site": float(targets.expression["gene_id"].isin(sites["gene_id"]).mean()),
            "mean_position_min": float(mean_pos.min()), "mean_position_max": float(mean_pos.max())}


def site_density(truth_sites: pd.DataFrame, promoters: pd.DataFrame, *, downstream: int = 0,
                 bin_size: int = 25) -> pd.DataFrame:
    """Driver sites along the promoter: raw count per kb of promoter sequence, and weight.

    Each bin's site count is divided by the promoter bases that lie in it (trimmed promoters
    cover only their own positions), so chance matches spread evenly show as a flat density.

    Args:
        truth_sites: the ``truth_sites`` of :class:`Targets`.
        promoters: the promoters simulated on (coordinates as for :func:`tss_index`).
        downstream: as in :func:`tss_index`.
        bin_size: bp per bin.

    Returns:
        Columns ``position`` (bin start, bp relative to the TSS), ``sites``, ``bases``,
        ``sites_per_kb`` and ``contribution`` (summed ``|contribution|`` of the sites).
    """
    sites = truth_sites[truth_sites["role"] == "driver"]
    tss = tss_index(promoters, downstream)
    first, last = -tss, promoters["sequence"].str.len().to_numpy(np.int64) - tss
    lo = int(np.floor(first.min() / bin_size) * bin_size)
    edges = np.arange(lo, int(last.max()) + bin_size, bin_size)
    cover = np.zeros(len(edges) - 1)
    for a, b in zip(first, last):  # bases of each promoter per bin
        cover += np.clip(np.minimum(edges[1:], b) - np.maximum(edges[:-1], a), 0, None)
    k = np.digitize(sites["position"].to_numpy(), edges) - 1
    count = np.bincount(k, minlength=len(cover))[:len(cover)]
    weight = np.bincount(k, weights=sites["contribution"].abs().to_numpy(),
                         minlength=len(cover))[:len(cover)]
    with np.errstate(invalid="ignore", divide="ignore"):
        density = np.where(cover > 0, 1000 * count / cover, np.nan)
    return pd.DataFrame({"position": edges[:-1], "sites": count, "bases": cover,
                         "sites_per_kb": density, "contribution": weight})


def ceiling_table(targets: Targets) -> pd.DataFrame:
    """Per simulated tissue: the noise ceiling, the drivers active in it, and ``driver_variance``,
    the variance (over genes) of what the drivers add to the mean."""
    tissues = targets.card["tissues"]
    if not targets.card.get("drivers"):  # measured targets: no known drivers or ceiling
        return pd.DataFrame(columns=["tissue", "noise_ceiling_r2", "active_drivers", "driver_variance"])
    beta = np.array([[d["effects"][t] for t in tissues] for d in targets.card["drivers"]])
    return pd.DataFrame({"tissue": tissues,
                         "noise_ceiling_r2": [targets.card["noise_ceiling_r2"][t] for t in tissues],
                         "active_drivers": (beta != 0).sum(axis=0),
                         "driver_variance": targets.components["motif_effect"].var(axis=0)})


def _relation(rho: float, what: str) -> str:
    """``what`` + how it orders the ceilings, from a Spearman ``rho``."""
    if not np.isfinite(rho):
        return f"{what} does not vary, so it cannot order them"
    way = "the more, the higher" if rho > 0 else "the more, the lower"
    strength = "hardly orders" if abs(rho) < 0.3 else "partly orders" if abs(rho) < 0.7 else "orders"
    return f"{what} {strength} them (Spearman ρ = {rho:.2f}{'' if abs(rho) < 0.3 else '; ' + way})"


def ceiling_sentence(table: pd.DataFrame) -> str:
    """What orders the noise ceilings of :func:`ceiling_table`, as a sentence."""
    from scipy.stats import spearmanr

    if table.empty:
        return "These targets are measured: their noise ceiling is unknown."
    if len(table) < 3:
        return "There are too few simulated tissues to say what orders their ceilings."
    with warnings.catch_warnings():  # a constant column gives NaN, said in words
        warnings.simplefilter("ignore")
        rho_n = float(spearmanr(table["active_drivers"], table["noise_ceiling_r2"])[0])
        rho_v = float(spearmanr(table["driver_variance"], table["noise_ceiling_r2"])[0])
    lo, hi = int(table["active_drivers"].min()), int(table["active_drivers"].max())
    return (f"Across the {len(table)} simulated tissues the ceilings run from "
            f"{table['noise_ceiling_r2'].min():.3f} to {table['noise_ceiling_r2'].max():.3f}. "
            + _relation(rho_n, f"The number of drivers active in a tissue ({lo} to {hi})")
            + "; " + _relation(rho_v, "the variance the drivers add to the mean") + ".")


def tissue_correlation(expression: pd.DataFrame, groups: dict[str, int] | None = None
                       ) -> dict[str, float]:
    """Mean Spearman correlation between tissues across genes: over all pairs, and (with the
    card's ``tissue_groups``) within and between groups."""
    tissues = [c for c in expression.columns if c != "gene_id"]
    corr = expression[tissues].corr(method="spearman").to_numpy()
    pair = ~np.eye(len(tissues), dtype=bool)
    out = {"mean": float(corr[pair].mean()) if pair.any() else np.nan, "within": np.nan,
           "between": np.nan}
    if groups:
        g = np.array([groups[t] for t in tissues])
        same = (g[:, None] == g[None, :]) & pair
        out["within"] = float(corr[same].mean()) if same.any() else np.nan
        out["between"] = float(corr[pair & ~same].mean()) if (pair & ~same).any() else np.nan
    return out


def composition_r2(targets: Targets, promoters: pd.DataFrame) -> float:
    """Mean over tissues of the squared Pearson correlation of GC content with the noiseless signal."""
    seqs = promoters["sequence"].str
    gc = ((seqs.count("G") + seqs.count("C")) / seqs.len()).to_numpy(float)
    signal = targets.signal.drop(columns="gene_id").to_numpy(float)
    r = [np.corrcoef(gc, signal[:, j])[0, 1] for j in range(signal.shape[1])]
    return float(np.nanmean(np.square(r)))
