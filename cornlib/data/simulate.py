"""The embedded stand-in: simulated multi-tissue expression driven by real motifs in real promoters.

No multi-tissue plant expression matrix can be had offline, so the small profile simulates one,
honestly labelled as such, on the real promoters of the embedded genomes. The generative model,
for gene ``i`` and (simulated) tissue ``t``:

1. **Driver motifs.** ``n_drivers`` informative JASPAR CORE plant motifs (information content
   ``>= min_information`` bits, one per TF family), drawn with the seed. Their hits
   (``p <= pvalue`` against the promoters' base composition, either strand) are the true sites.
2. **Tissue-specific effects.** Tissues fall into ``n_tissue_groups`` contiguous groups; each
   driver has a home group (groups get drivers in turn) and is active in a tissue with
   probability ``active_in_group`` (home) or ``active_out_group`` (elsewhere); a
   ``broad_fraction`` of the drivers is active in every tissue. The effect ``beta[m, t]`` is
   the driver's sign (a repressor with probability ``repressor_fraction``) times a log-normal
   magnitude around ``effect_size``, zero where inactive.
3. **Position weighting and saturation.** A site whose centre lies ``d`` bp from the TSS has
   weight ``exp(-|d| / position_scale)``; both orientations count alike. A driver's weights in
   a promoter add up to ``W`` and it occupies the promoter with ``1 - exp(-W)``, so many weak
   sites act like one strong site and effects stay bounded.
4. **Interaction.** A TATA-like core element (IUPAC ``core_consensus``, not a JASPAR matrix;
   ``p <= core_pvalue``, on the gene's strand) with its centre inside ``core_window`` (bp
   relative to the TSS) gates the drivers: without it their summed effect is multiplied by
   ``core_leak``.
5. **Mean.** ``mu[i, t] = b[t] + gate[i] * sum_m occupancy[i, m] * beta[m, t]`` with tissue
   baselines ``b[t] ~ N(baseline, baseline_sd)``.
6. **Observation.** ``y = max(mu + u[i] + e[i, t], 0)`` with a gene effect shared by tissues
   ``u ~ N(0, gene_sd)`` (not encoded in the promoter) and noise ``e ~ N(0, noise_sd)``; then
   zero-inflation: the gene is not expressed in the tissue (``y = 0``) with probability
   ``pi = sigmoid(zero_slope * (c[t] - mu))``, ``c[t]`` chosen so that the expected fraction
   of zeros in each tissue (silenced plus clipped) equals ``zero_fraction``.

The noiseless signal is ``E[y | promoter] = (1 - pi) * (mu Phi(mu/s) + s phi(mu/s))`` with
``s = sqrt(gene_sd**2 + noise_sd**2)``: the best any model of the promoter can predict, so the
R² of that signal against the observed values is each tissue's noise ceiling.
"""

from __future__ import annotations

import dataclasses
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import pandas as pd

from cornlib import CornlibWarning, io
from cornlib import motifs as _motifs
from cornlib.data.sites import (  # noqa: F401  (re-exported: notebooks call simulate.*)
    CORE_ID,
    _validate_promoters,
    choose_drivers,
    core_element,
    core_scan,
    tss_index,
)

TRUTH_COLUMNS = ["gene_id", "motif", "motif_name", "role", "position", "strand", "score", "weight",
                 "contribution", "peak_tissue"]


@dataclass(frozen=True)
class SimulationConfig:
    """Every parameter of the generative model (see the module docstring for their roles)."""

    n_tissues: int = 10
    n_drivers: int = 12
    min_information: float = 10.0
    pvalue: float = 1e-4
    position_scale: float = 400.0
    n_tissue_groups: int = 3
    active_in_group: float = 0.8
    active_out_group: float = 0.1
    broad_fraction: float = 0.25
    effect_size: float = 3.0
    repressor_fraction: float = 0.25
    core_consensus: str = "TATAWAWR"
    core_window: tuple[int, int] = (-60, -15)
    core_pvalue: float = 1e-3
    core_leak: float = 0.5
    baseline: float = 3.0
    baseline_sd: float = 0.3
    gene_sd: float = 0.5
    noise_sd: float = 0.5
    zero_fraction: float = 0.15
    zero_slope: float = 3.0
    release: str = "JASPAR2024"

    def __post_init__(self) -> None:
        checks = [
            (self.n_tissues >= 1, "n_tissues must be at least 1"),
            (self.n_drivers >= 1, "n_drivers must be at least 1"),
            (0 < self.pvalue < 1 and 0 < self.core_pvalue < 1, "pvalue and core_pvalue must be in (0, 1)"),
            (self.position_scale > 0, "position_scale must be positive (bp)"),
            (1 <= self.n_tissue_groups <= self.n_tissues, "n_tissue_groups must be in [1, n_tissues]"),
            (all(0 <= p <= 1 for p in (self.active_in_group, self.active_out_group, self.broad_fraction)),
             "active_in_group, active_out_group and broad_fraction must be in [0, 1]"),
            (0 <= self.repressor_fraction <= 1, "repressor_fraction must be a probability"),
            (len(self.core_window) == 2 and self.core_window[0] < self.core_window[1],
             "core_window must be (start, end) bp relative to the TSS with start < end"),
            (0 <= self.core_leak <= 1, "core_leak must be in [0, 1]"),
            (min(self.effect_size, self.baseline_sd, self.gene_sd, self.noise_sd) >= 0,
             "effect_size, baseline_sd, gene_sd and noise_sd must be >= 0"),
            (0 <= self.zero_fraction < 1, "zero_fraction must be in [0, 1)"),
            (self.zero_slope > 0, "zero_slope must be positive"),
        ]
        for ok, message in checks:
            if not ok:
                raise ValueError(f"simulation parameters: {message} (got {self})")


@dataclass
class Targets:
    """Expression targets and what is known of how they arose.

    Attributes:
        expression: ``gene_id`` + one float column per tissue (observed log-expression).
        card: JSON-ready description: ``kind`` (``simulated``/``measured``), ``tissues``,
            ``noise_ceiling_r2`` (``None`` when unknown), and for a simulation its parameters,
            seed and driver effects.
        signal: same shape as ``expression``: the noiseless signal ``E[y | promoter]``
            (``None`` for measured data).
        truth_sites: the sites that drive expression (empty for measured data; see
            :func:`simulate`).
        drivers: the driver motifs, then the core element (empty for measured data).
        components: arrays of the model, rows in ``expression`` order: ``baseline (T,)``,
            ``motif_effect (n, T)``, ``gate (n,)``, ``mean (n, T)``, ``gene_effect (n,)``,
            ``noise (n, T)``, ``zero_probability (n, T)``, ``silenced (n, T)``, ``beta (D, T)``.
    """

    expression: pd.DataFrame
    card: dict[str, Any]
    signal: pd.DataFrame | None = None
    truth_sites: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=TRUTH_COLUMNS))
    drivers: list[_motifs.Motif] = field(default_factory=list)
    components: dict[str, np.ndarray] = field(default_factory=dict, repr=False)


def tissue_names(n_tissues: int) -> list[str]:
    """Neutral column names that say the tissues are simulated: ``sim_t01``, ``sim_t02``, ...

    A simulated tissue is a random assignment of driver effects, not an organ, so it gets no
    organ's name.
    """
    return [f"sim_t{i + 1:02d}" for i in range(n_tissues)]


def _calibrate_zeros(mean: np.ndarray, sd: float, target: float,
                     slope: float) -> tuple[np.ndarray, np.ndarray]:
    """Silencing probabilities ``pi (n, T)`` and per-tissue offsets ``c (T,)``.

    In each tissue ``c`` is set (by bisection) so that the expected fraction of zeros, silenced
    or clipped at zero, equals ``target``.
    """
    from scipy.special import expit, ndtr

    clipped = ndtr(-mean / sd) if sd > 0 else (mean <= 0).astype(float)
    floor = clipped.mean(axis=0)
    if np.any(floor > target + 1e-6):
        warnings.warn(f"zero_fraction {target} is below the fraction clipped at zero anyway in some "
                      f"tissue (up to {floor.max():.3f}); those tissues get no silenced genes",
                      CornlibWarning, stacklevel=3)
    lo = np.full(mean.shape[1], float(mean.min()) - 60 / slope)
    hi = np.full(mean.shape[1], float(mean.max()) + 60 / slope)
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        pi = expit(slope * (mid - mean))
        low = (pi + (1 - pi) * clipped).mean(axis=0) < target
        lo, hi = np.where(low, mid, lo), np.where(low, hi, mid)
    offset = np.where(floor >= target, -np.inf, 0.5 * (lo + hi))
    return expit(slope * (offset - mean)), offset


def expected_expression(mean: np.ndarray, zero_probability: np.ndarray, sd: float) -> np.ndarray:
    """``E[y]`` for ``y = 0`` with probability ``pi``, else ``max(mean + N(0, sd^2), 0)``."""
    from scipy.special import ndtr

    if sd == 0:
        return (1 - zero_probability) * np.maximum(mean, 0)
    z = mean / sd
    density = np.exp(-0.5 * z**2) / np.sqrt(2 * np.pi)
    return (1 - zero_probability) * (mean * ndtr(z) + sd * density)


def noise_ceiling(observed: pd.DataFrame, signal: pd.DataFrame) -> pd.Series:
    """Per tissue ``R² = 1 - SSE(observed, signal) / SST(observed)``; tables share ``gene_id`` order."""
    from cornlib.stats import r2_columns

    tissues = [c for c in observed.columns if c != "gene_id"]
    r2 = r2_columns(observed[tissues].to_numpy(float), signal[tissues].to_numpy(float))
    return pd.Series(r2, index=tissues, name="noise_ceiling_r2")


def _sites(seqs: list[str], tss: np.ndarray, drivers: list[_motifs.Motif], core: _motifs.Motif,
           background: np.ndarray, cfg: SimulationConfig) -> tuple[pd.DataFrame, pd.DataFrame, np.ndarray]:
    """Driver sites (with ``raw`` position weights), the best core hit per gated gene, and the gate.

    ``gene_id`` in both tables is the row number of the gene.
    """
    ids = np.arange(len(seqs))
    hits = pd.concat([
        _motifs.scan(seqs, drivers, pvalue=cfg.pvalue, background=background, ids=ids, tss_index=tss),
        _motifs.scan(seqs, [core], pvalue=cfg.core_pvalue, background=background, ids=ids, tss_index=tss),
    ], ignore_index=True)
    hits = (hits.sort_values("score", ascending=False, kind="stable")  # a palindrome hits both strands
            .drop_duplicates(["gene_id", "motif", "start"]).sort_index())
    length = {m.matrix_id: m.length for m in drivers + [core]}
    centre = hits["position"].to_numpy() + hits["motif"].map(length).to_numpy() / 2.0
    is_core = (hits["motif"] == CORE_ID).to_numpy()
    in_window = (is_core & (hits["strand"] == "+").to_numpy()
                 & (centre >= cfg.core_window[0]) & (centre <= cfg.core_window[1]))
    core_hits = (hits[in_window].sort_values("score", ascending=False, kind="stable")
                 .drop_duplicates("gene_id").sort_values("gene_id"))
    gate = np.full(len(seqs), cfg.core_leak)
    gate[core_hits["gene_id"].to_numpy(dtype=np.int64)] = 1.0
    sites = hits[~is_core].assign(raw=np.exp(-np.abs(centre[~is_core]) / cfg.position_scale))
    return sites, core_hits, gate


def _effects(n_drivers: int, cfg: SimulationConfig, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Tissue groups ``(T,)``, home groups and broad flags ``(D,)``, and effects ``beta (D, T)``."""
    T = cfg.n_tissues
    groups = np.concatenate([np.full(len(c), g) for g, c in
                             enumerate(np.array_split(np.arange(T), cfg.n_tissue_groups))])
    home = rng.permutation(np.arange(n_drivers) % cfg.n_tissue_groups)  # balanced home groups
    broad = rng.permutation(n_drivers) < round(cfg.broad_fraction * n_drivers)
    p_active = np.where(groups[None, :] == home[:, None], cfg.active_in_group, cfg.active_out_group)
    p_active[broad] = 1.0  # broadly active drivers act in every tissue
    active = rng.random((n_drivers, T)) < p_active
    for k in np.flatnonzero(~active.any(axis=1)):  # every driver acts somewhere
        active[k, rng.choice(np.flatnonzero(groups == home[k]))] = True
    sign = np.where(rng.random(n_drivers) < cfg.repressor_fraction, -1.0, 1.0)
    magnitude = cfg.effect_size * rng.lognormal(0.0, 0.3, size=n_drivers)
    jitter = rng.lognormal(0.0, 0.2, size=(n_drivers, T))
    beta = np.where(active, sign[:, None] * magnitude[:, None] * jitter, 0.0)  # D, T
    return {"groups": groups, "home": home, "broad": broad, "beta": beta}


def _occupancy(sites: pd.DataFrame, gate: np.ndarray, n_drivers: int,
               driver_index: dict[str, int]) -> tuple[np.ndarray, np.ndarray]:
    """Gated occupancy ``(n, D)`` of each driver in each promoter, and each site's share of it."""
    k_site = sites["motif"].map(driver_index).to_numpy(dtype=np.int64)
    g_site = sites["gene_id"].to_numpy(dtype=np.int64)
    raw = np.zeros((len(gate), n_drivers))  # summed position weights per gene and driver
    np.add.at(raw, (g_site, k_site), sites["raw"].to_numpy())
    weights = gate[:, None] * (1.0 - np.exp(-raw))  # saturates: many weak sites ≈ one strong one
    site_weight = sites["raw"].to_numpy() / raw[g_site, k_site] * weights[g_site, k_site]
    return weights, site_weight


def _observe(mean: np.ndarray, cfg: SimulationConfig, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Draw gene effects, noise and silencing around ``mean (n, T)``; the observed ``y`` and ``E[y]``."""
    n = mean.shape[0]
    sd = float(np.hypot(cfg.gene_sd, cfg.noise_sd))
    zero_p, offset = _calibrate_zeros(mean, sd, cfg.zero_fraction, cfg.zero_slope)
    gene_effect = rng.normal(0.0, cfg.gene_sd, size=n)
    noise = rng.normal(0.0, cfg.noise_sd, size=mean.shape)
    silenced = rng.random(mean.shape) < zero_p
    y = np.where(silenced, 0.0, np.maximum(mean + gene_effect[:, None] + noise, 0.0))
    return {"y": y, "expected": expected_expression(mean, zero_p, sd), "zero_probability": zero_p,
            "offset": offset, "gene_effect": gene_effect, "noise": noise, "silenced": silenced}


def _truth(ids: np.ndarray, tissues: list[str], sites: pd.DataFrame, site_weight: np.ndarray,
           core_hits: pd.DataFrame, drivers: list[_motifs.Motif], core: _motifs.Motif,
           beta: np.ndarray, motif_effect: np.ndarray, core_leak: float) -> pd.DataFrame:
    """The truth-site table (see :func:`simulate`), rows in gene order."""
    index = {m.matrix_id: k for k, m in enumerate(drivers)}
    k_site = sites["motif"].map(index).to_numpy(dtype=np.int64)
    peak = np.abs(beta).argmax(axis=1)
    driver_rows = pd.DataFrame({
        "gene_id": ids[sites["gene_id"].to_numpy(dtype=np.int64)], "motif": sites["motif"].to_numpy(),
        "motif_name": [drivers[k].name for k in k_site], "role": "driver",
        "position": sites["position"].to_numpy(), "strand": sites["strand"].to_numpy(),
        "score": sites["score"].to_numpy(), "weight": site_weight,
        "contribution": site_weight * beta[k_site, peak[k_site]],
        "peak_tissue": np.array(tissues)[peak[k_site]]})
    g_core = core_hits["gene_id"].to_numpy(dtype=np.int64)
    open_effect = motif_effect[g_core]  # driver effect of those genes, gate open
    strongest = np.abs(open_effect).argmax(axis=1) if len(g_core) else np.zeros(0, dtype=np.int64)
    core_rows = pd.DataFrame({
        "gene_id": ids[g_core], "motif": CORE_ID, "motif_name": core.name, "role": "core",
        "position": core_hits["position"].to_numpy(), "strand": core_hits["strand"].to_numpy(),
        "score": core_hits["score"].to_numpy(), "weight": 1.0,
        "contribution": (1 - core_leak) * open_effect[np.arange(len(g_core)), strongest],
        "peak_tissue": np.array(tissues)[strongest]})
    truth = pd.concat([driver_rows, core_rows], ignore_index=True)
    order = np.argsort(pd.Index(ids).get_indexer(truth["gene_id"]), kind="stable")
    return truth.iloc[order].reset_index(drop=True)[TRUTH_COLUMNS]


def simulate(promoters: pd.DataFrame, *, seed: int, motifs: Sequence[_motifs.Motif] | None = None,
             downstream: int = 0, **params: Any) -> Targets:
    """Simulate multi-tissue log-expression from real promoters (model in the module docstring).

    Args:
        promoters: ``gene_id`` (unique) and ``sequence`` (5'→3' on the gene's strand); the TSS
            is placed by :func:`tss_index`; a ``species`` column is summarised in the card.
        seed: seed of every random draw.
        motifs: candidate driver motifs; default JASPAR CORE plants of ``release``.
        downstream: bp of each sequence at or after the TSS (used only without coordinates).
        **params: fields of :class:`SimulationConfig` (``n_tissues``, ``zero_fraction``, ...).

    Returns:
        :class:`Targets` of kind ``simulated``. Its ``truth_sites`` has one row per true site:
        ``gene_id, motif`` (matrix ID), ``motif_name, role`` (``driver`` or ``core``),
        ``position`` (leftmost base relative to the TSS, negative upstream), ``strand``,
        ``score`` (bits), ``weight``, ``contribution`` and ``peak_tissue``. A driver site adds
        ``weight * beta[motif, t]`` to the gene's mean in tissue ``t`` (``weight``: the site's
        share of its driver's position weights x the driver's occupancy x the gene's gate;
        ``beta`` in ``card["drivers"]``); ``contribution`` is that amount in the driver's peak
        tissue. A core row is the best core element in the window (``weight`` 1, the open
        gate); its ``contribution`` is what opening the gate adds in the gene's tissue of
        largest driver effect.

    Raises:
        ValueError: bad promoters (missing columns, duplicated IDs, empty sequences) or
            parameters (unknown names, values out of range).
    """
    known = {f.name for f in dataclasses.fields(SimulationConfig)}
    unknown = sorted(set(params) - known)
    if unknown:
        raise ValueError(f"unknown simulation parameter(s) {unknown}; known: {sorted(known)}")
    if "core_window" in params:
        params = {**params, "core_window": tuple(params["core_window"])}
    cfg = SimulationConfig(**params)
    _validate_promoters(promoters)
    if downstream < 0:
        raise ValueError(f"downstream must be >= 0, not {downstream}")
    rng = np.random.default_rng(seed)
    ids = promoters["gene_id"].astype(str).to_numpy()
    seqs = promoters["sequence"].tolist()
    tissues = tissue_names(cfg.n_tissues)

    # drivers, their sites and the core-element gate
    pool = _motifs.load_plant_motifs(cfg.release) if motifs is None else list(motifs)
    drivers = choose_drivers(pool, cfg.n_drivers, cfg.min_information, rng)
    core = core_element(cfg.core_consensus)
    background = _motifs.base_composition(seqs)
    sites, core_hits, gate = _sites(seqs, tss_index(promoters, downstream), drivers, core, background, cfg)

    # tissue-specific effects, occupancy and the mean
    eff = _effects(len(drivers), cfg, rng)
    index = {m.matrix_id: k for k, m in enumerate(drivers)}
    weights, site_weight = _occupancy(sites, gate, len(drivers), index)
    motif_effect = weights @ eff["beta"]  # n, T
    baseline = cfg.baseline + rng.normal(0.0, cfg.baseline_sd, size=cfg.n_tissues)
    mean = baseline[None, :] + motif_effect

    # observation: gene effect, noise, clipping and zeros; the noiseless signal and its ceiling
    obs = _observe(mean, cfg, rng)
    expression = pd.DataFrame(obs["y"], columns=tissues)
    expression.insert(0, "gene_id", ids)
    signal = pd.DataFrame(obs["expected"], columns=tissues)
    signal.insert(0, "gene_id", ids)
    ceiling = noise_ceiling(expression, signal)

    truth = _truth(ids, tissues, sites, site_weight, core_hits, drivers, core, eff["beta"],
                   motif_effect, cfg.core_leak)
    thresholds = {m.matrix_id: _motifs.score_threshold(m.log_odds(background), p, background)
                  for m, p in [(d, cfg.pvalue) for d in drivers] + [(core, cfg.core_pvalue)]}
    card = {
        "kind": "simulated",
        "units": "simulated log-expression",
        "description": ("Simulated log-expression on real promoters: motif-driven, tissue-specific "
                        "effects of real JASPAR CORE plant motifs; NOT measured data."),
        "tissues": tissues,
        "noise_ceiling_r2": {t: float(v) for t, v in ceiling.items()},
        "seed": int(seed),
        "parameters": dataclasses.asdict(cfg),
        "motif_source": f"{cfg.release} CORE plants (pyjaspar)",
        "background": dict(zip(_motifs.ALPHABET, map(float, background))),
        "drivers": [{"matrix_id": m.matrix_id, "name": m.name, "family": m.family,
                     "length": m.length, "information_content": m.information_content(),
                     "threshold_bits": thresholds[m.matrix_id], "home_group": int(eff["home"][k]),
                     "broad": bool(eff["broad"][k]),
                     "effects": dict(zip(tissues, map(float, eff["beta"][k])))}
                    for k, m in enumerate(drivers)],
        "core_element": {"matrix_id": CORE_ID, "consensus": cfg.core_consensus,
                         "window": list(cfg.core_window), "threshold_bits": thresholds[CORE_ID],
                         "genes_with_core": int((gate == 1.0).sum()),
                         "fraction_with_core": float((gate == 1.0).mean()),
                         "fraction_with_core_by_species": (
                             {str(k): float(v) for k, v in
                              pd.Series(gate == 1.0).groupby(promoters["species"].to_numpy()).mean().items()}
                             if "species" in promoters.columns else None)},
        "tissue_groups": dict(zip(tissues, map(int, eff["groups"]))),
        "tissue_baselines": dict(zip(tissues, map(float, baseline))),
        "zero_offsets": {t: (float(c) if np.isfinite(c) else None) for t, c in zip(tissues, obs["offset"])},
        "n_genes": len(ids),
        "n_genes_by_species": ({str(k): int(v) for k, v in promoters["species"].value_counts().items()}
                               if "species" in promoters.columns else None),
        "zero_fraction_observed": float((obs["y"] == 0).mean()),
        "genes_with_driver_sites": int((weights.sum(axis=1) > 0).sum()),
        "n_driver_sites": int((truth["role"] == "driver").sum()),
    }
    components = {"baseline": baseline, "motif_effect": motif_effect, "gate": gate, "mean": mean,
                  "gene_effect": obs["gene_effect"], "noise": obs["noise"],
                  "zero_probability": obs["zero_probability"], "silenced": obs["silenced"],
                  "beta": eff["beta"]}
    return Targets(expression, card, signal, truth, drivers + [core], components)


def measured(expression: pd.DataFrame, report: dict[str, Any] | None = None) -> Targets:
    """Wrap a measured genes × tissues matrix (e.g. :func:`cornlib.data.expression.load_targets`).

    Args:
        expression: ``gene_id`` + one column of log(TPM+1) per tissue.
        report: how it was loaded; default ``expression.attrs["report"]`` if present.
    """
    from cornlib.data import expression as _expression

    clean = _expression.validate_targets(expression, source="measured expression")
    tissues = [c for c in clean.columns if c != "gene_id"]
    card = {"kind": "measured", "units": "log1p", "description": "Measured log(TPM + 1) expression.",
            "tissues": tissues, "noise_ceiling_r2": None, "n_genes": len(clean),
            "zero_fraction_observed": float((clean[tissues].to_numpy() == 0).mean()),
            "report": report if report is not None else expression.attrs.get("report")}
    return Targets(clean, card)


def save(targets: Targets, run_dir: str | Path) -> dict[str, Path]:
    """Write ``targets/{expression,truth_sites}.parquet``, ``targets/card.json`` and, for a
    simulation, ``targets/signal.parquet`` under ``run_dir``; return the paths by name."""
    out = Path(run_dir) / "targets"
    paths = {"expression": io.write_parquet(out / "expression.parquet", targets.expression),
             "truth_sites": io.write_parquet(out / "truth_sites.parquet", targets.truth_sites),
             "card": io.write_json(out / "card.json", targets.card)}
    if targets.signal is not None:
        paths["signal"] = io.write_parquet(out / "signal.parquet", targets.signal)
    return paths


def top_drivers(targets: Targets, n: int) -> list[_motifs.Motif]:
    """The ``n`` drivers that move expression most (summed ``|contribution|`` of their sites), then the
    core element; empty for measured targets."""
    if not targets.drivers:
        return []
    sites = targets.truth_sites[targets.truth_sites["role"] == "driver"]
    impact = sites["contribution"].abs().groupby(sites["motif"]).sum()
    drivers = [m for m in targets.drivers if m.matrix_id != CORE_ID]
    ranked = sorted(drivers, key=lambda m: -impact.get(m.matrix_id, 0.0))
    return ranked[:n] + [m for m in targets.drivers if m.matrix_id == CORE_ID]


def drivers_table(card: dict[str, Any]) -> pd.DataFrame:
    """The card's driver motifs as a table: one row per driver, one effect column per tissue."""
    rows = [{k: v for k, v in d.items() if k != "effects"} | d["effects"] for d in card.get("drivers", [])]
    return pd.DataFrame(rows, columns=None if rows else ["matrix_id", "name", "family"])
