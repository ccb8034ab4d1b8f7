"""Why a sequence model falls short of the true-site oracle, read from the simulation's answer key.

The simulated mean is linear in each driver's gated occupancy: ``mu[i, t] = b[t] + sum_m
W[i, m] * beta[m, t]``, ``W`` the summed weights of the gene's true sites of driver ``m`` (its
occupancy times the gene's gate; :mod:`cornlib.data.simulate`). A least-squares fit of a model's
predictions on ``W`` (intercept included, one fit per tissue) and the same fit of the noiseless
signal give, driver by driver, the share of the driver's effect on the signal that the
predictions carry (:func:`capture`): the slopes summed over the tissues where the driver acts,
the model's over the signal's. 1 is the whole effect, 0 none of it (a model that never learned
the motif). The core element gates every driver (:func:`gate_use`): the signal's slope on the
drivers' summed ungated effect is steeper in gated genes than in the others; a model that reads
the gate shows the same ratio of slopes, one that does not shows about 1.

Only the tissues where a driver acts count, so an effect predicted in the wrong tissues costs a
model nothing here (it costs it in the scores). Both are computed on one split's genes with the
book's cluster bootstrap, its seeds drawn with replacement inside every resample; a model trained
with several seeds is their mean (for :func:`capture` the slope of the mean prediction, slopes
being linear in the predictions; for :func:`gate_use` the mean of the seeds' ratios).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd

from cornlib import artifacts
from cornlib.data.answer_key import has_truth
from cornlib.evaluate import resample
from cornlib.features import oracle_features

#: A driver counts as learned when the predictions carry at least this share of its effect.
LEARNED_SHARE = 1 / 3
#: The ``motif`` of :func:`capture`'s summary row (every driver, weighted by its variance).
ALL = "*"
#: Columns of :func:`capture` and :func:`gate_use`.
COLUMNS = ["model", "term", "motif", "variance_share", "value", "ci_low", "ci_high", "signal"]


def drivers(card: Mapping[str, Any]) -> pd.DataFrame:
    """The simulation's drivers: ``motif`` (matrix ID), ``name``, ``term`` (the name with the
    TF family) and one column of effects ``beta`` per tissue, from ``targets/card.json``.

    Raises:
        ValueError: the card is not a simulation's (measured targets have no drivers).
    """
    if card.get("kind") != "simulated" or not card.get("drivers"):
        raise ValueError("the targets card has no drivers: true-site analyses need simulated "
                         "targets (targets/card.json of kind 'simulated')")
    rows = [{"motif": d["matrix_id"], "name": d["name"],
             "term": f"{d['name']} ({d['family']})" if d.get("family") else d["name"],
             **d["effects"]} for d in card["drivers"]]
    return pd.DataFrame(rows)


def occupancy(truth: pd.DataFrame, gene_ids: Sequence[str], motifs: Sequence[str]
              ) -> tuple[np.ndarray, np.ndarray]:
    """Gated occupancy ``W`` (genes × ``motifs``) and whether each gene has the core element."""
    features = oracle_features(truth, gene_ids)
    cols = [f"site:{m}" for m in motifs]
    W = features.reindex(columns=cols, fill_value=0.0).to_numpy(float)
    return W, features["core_gate"].to_numpy() > 0


def _aligned(predictions: pd.DataFrame, signal: pd.DataFrame, tissues: list[str]):
    """Genes shared by the predictions and the signal; ``{model: (seeds, genes, tissues)}`` array
    and the signal as (genes, tissues)."""
    need = {"model", "seed", "gene_id", "target", "y_pred"}
    if not need <= set(predictions.columns):
        raise ValueError(f"predictions lack columns {sorted(need - set(predictions.columns))}")
    missing = [t for t in tissues if t not in signal.columns]
    if missing:
        raise ValueError(f"the signal has no column for tissues {missing}")
    rows = predictions[predictions["target"].isin(tissues)]
    genes = sorted(set(rows["gene_id"]) & set(signal["gene_id"]))
    if len(genes) < 10:
        raise ValueError(f"only {len(genes)} genes have both predictions and a signal; "
                         "pass the predictions of one split of the simulated tissues")
    S = signal.set_index("gene_id").loc[genes, tissues].to_numpy(float)
    arrays = {}
    for model, sub in rows.groupby("model", sort=False):
        wide = sub.pivot_table(index=["seed", "gene_id"], columns="target", values="y_pred")
        seeds = sorted(wide.index.get_level_values("seed").unique())
        try:
            P = np.stack([wide.loc[s].loc[genes, tissues].to_numpy(float) for s in seeds])
        except KeyError as err:
            raise ValueError(f"model {model!r} lacks predictions for some genes or tissues "
                             f"of the split ({err})") from None
        arrays[model] = P
    return genes, arrays, S


def _slopes(A: np.ndarray, Y: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Weighted least-squares coefficients of ``Y`` (genes × k) on ``A`` for each weight row:
    shape (n_weights, A's columns, k)."""
    out = []
    for w in weights:
        Aw = A * w[:, None]
        out.append(np.linalg.lstsq(Aw.T @ A, Aw.T @ Y, rcond=None)[0])
    return np.stack(out)


def _simple_slopes(x: np.ndarray, y: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Weighted least-squares slope of ``y`` on ``x`` (intercept included), one per weight row."""
    n = weights.sum(axis=1)
    mx, my = weights @ x / n, weights @ y / n
    sxy = weights @ (x * y) / n - mx * my
    sxx = weights @ (x * x) / n - mx * mx
    return sxy / sxx


def _resamples(genes: Sequence[str], groups, n_bootstrap: int, seed: int) -> np.ndarray:
    """Row 0: every gene once (the point estimate); then the cluster-bootstrap weights."""
    labels = None if groups is None else pd.Series(groups).reindex(genes).to_numpy()
    reps = resample.bootstrap_weights(len(genes), n_bootstrap, seed, labels)
    return np.vstack([np.ones(len(genes)), reps])


def _summarise(model: str, term: str, motif: str, share: float, values: np.ndarray,
               signal: float, ci: float, method: str = "bc") -> dict[str, Any]:
    point, reps = float(values[0]), values[1:]
    low, high = resample.interval(reps, point, ci, method) if len(reps) else (np.nan,) * 2
    return dict(model=model, term=term, motif=motif, variance_share=share, value=point,
                ci_low=low, ci_high=high, signal=signal)


def _seed_mean(coefs_by_seed: np.ndarray, model: str, n_bootstrap: int, seed: int
               ) -> np.ndarray:
    """Mean over seeds of per-seed quantities (n_seeds, n_draws, ...): row 0 over every seed,
    the resamples over seeds drawn with replacement (:func:`resample.seed_draws`)."""
    draws = resample.seed_draws(len(coefs_by_seed), n_bootstrap, seed, model)
    point = coefs_by_seed[:, :1].mean(axis=0)
    if not n_bootstrap:
        return point
    reps = np.stack([coefs_by_seed[d, i + 1].mean(axis=0) for i, d in enumerate(draws)])
    return np.concatenate([point, reps])


def capture(predictions: pd.DataFrame, signal: pd.DataFrame, truth: pd.DataFrame,
            card: Mapping[str, Any], *, groups=None, n_bootstrap: int = 1000, seed: int = 0,
            ci: float = 0.95, ci_method: str = "bc", summary: bool = False) -> pd.DataFrame:
    """Per model and driver, the share of the driver's effect on the signal that the model's
    predictions carry, with a cluster-bootstrap interval (columns :data:`COLUMNS`).

    Args:
        predictions: long predictions of one split (``model, seed, gene_id, target, y_pred``),
            several models and seeds allowed; targets other than the card's tissues are ignored.
        signal: ``targets/signal.parquet`` (``gene_id`` + one column per tissue).
        truth: ``targets/truth_sites.parquet``.
        card: ``targets/card.json`` (its drivers and their effects).
        groups: cluster label per gene ID (a Series), as the book's scoring options; ``None``
            resamples genes.

    ``variance_share`` is the driver's share of the variance the drivers give the mean on these
    genes (``beta**2 * var(W)`` summed over tissues); ``signal`` is 1 (the signal carries all of
    its own effect). With ``summary``, each model gets one more row (``motif`` :data:`ALL`,
    ``term`` "all drivers"): the shares weighted by ``variance_share``.
    """
    table = drivers(card)
    tissues = list(card["tissues"])
    genes, arrays, S = _aligned(predictions, signal, tissues)
    motifs = table["motif"].tolist()
    W, _ = occupancy(truth, genes, motifs)
    beta = table[tissues].to_numpy(float)  # drivers × tissues
    active = beta != 0
    variance = (beta ** 2).sum(axis=1) * W.var(axis=0)
    share = variance / variance.sum() if variance.sum() > 0 else np.full(len(motifs), np.nan)
    A = np.column_stack([np.ones(len(genes)), W])
    weights = _resamples(genes, groups, n_bootstrap, seed)
    sig = _slopes(A, S, weights)[:, 1:, :]  # draws × drivers × tissues
    sig_sum = np.where(active, sig, 0).sum(axis=2)
    rows = []
    for model, P in arrays.items():
        per_seed = np.stack([_slopes(A, p, weights)[:, 1:, :] for p in P])
        coefs = _seed_mean(per_seed, model, n_bootstrap, seed)
        with np.errstate(divide="ignore", invalid="ignore"):  # a driver without sites here
            carried = np.where(active, coefs, 0).sum(axis=2) / sig_sum  # draws × drivers
        carried[~np.isfinite(carried)] = np.nan
        for j, motif in enumerate(motifs):
            rows.append(_summarise(model, table["term"][j], motif, float(share[j]),
                                   carried[:, j], 1.0, ci, ci_method))
        if summary:
            total = np.nan_to_num(carried) @ np.nan_to_num(share)
            rows.append(_summarise(model, "all drivers", ALL, 1.0, total, 1.0, ci,
                                   ci_method))
    return pd.DataFrame(rows, columns=COLUMNS)


def gate_use(predictions: pd.DataFrame, signal: pd.DataFrame, truth: pd.DataFrame,
             card: Mapping[str, Any], *, groups=None, n_bootstrap: int = 1000, seed: int = 0,
             ci: float = 0.95, ci_method: str = "bc") -> pd.DataFrame:
    """Per model, the slope of its predictions on the drivers' summed ungated effect in gated
    genes over that slope in the other genes (mean over tissues), with an interval; ``signal``
    holds the same ratio for the noiseless signal (columns :data:`COLUMNS`, ``term`` "core gate").
    """
    table = drivers(card)
    tissues = list(card["tissues"])
    genes, arrays, S = _aligned(predictions, signal, tissues)
    W, gated = occupancy(truth, genes, table["motif"].tolist())
    if gated.all() or not gated.any():
        raise ValueError("every gene or none has the core element: the gate's use is undefined")
    leak = float(card.get("parameters", {}).get("core_leak", 0.5))
    effect = (W / np.where(gated, 1.0, leak)[:, None]) @ table[tissues].to_numpy(float)
    weights = _resamples(genes, groups, n_bootstrap, seed)

    def ratio(Y: np.ndarray) -> np.ndarray:  # draws, from (genes × tissues) values
        out = np.empty((len(weights), len(tissues)))
        for t in range(len(tissues)):
            on, off = (_simple_slopes(effect[p, t], Y[p, t], weights[:, p])
                       for p in (gated, ~gated))
            out[:, t] = on / off
        return out.mean(axis=1)

    signal_ratio = float(ratio(S)[0])
    rows = []
    for model, P in arrays.items():
        per_seed = np.stack([ratio(p) for p in P])[:, :, None]
        values = _seed_mean(per_seed, model, n_bootstrap, seed)[:, 0]
        rows.append(_summarise(model, "core gate", "", np.nan, values, signal_ratio, ci,
                               ci_method))
    return pd.DataFrame(rows, columns=COLUMNS)


def learned(table: pd.DataFrame, model: str, share: float = LEARNED_SHARE) -> list[str]:
    """Matrix IDs of the drivers whose effect ``model``'s predictions carry at least ``share``
    of (point estimates of :func:`capture`; choose them on ``valid``)."""
    sub = table[(table["model"] == model) & ~table["motif"].isin([ALL, ""])]
    if sub.empty:
        raise ValueError(f"no capture rows for model {model!r}; models: "
                         f"{sorted(table['model'].unique())}")
    return sub.loc[sub["value"] >= share, "motif"].tolist()


def _names(table: pd.DataFrame, motifs: Sequence[str]) -> str:
    by_motif = table.drop_duplicates("motif").set_index("motif")["term"]
    return ", ".join(by_motif[m] for m in motifs)


def _capital(text: str) -> str:
    return text[:1].upper() + text[1:]


def gate_unused(row: pd.Series) -> bool:
    """True when a :func:`gate_use` row's interval holds 1 (no steeper where the gate is open)."""
    return bool(row["ci_low"] <= 1 <= row["ci_high"])


def _gate_phrase(row: pd.Series) -> str:
    """How a model's gate ratio (a :func:`gate_use` row) compares with 1 and with the signal's."""
    if not (np.isfinite(row["ci_low"]) and np.isfinite(row["ci_high"])):
        return f"{row['value']:.2f} (no interval)"
    ratio = f"{row['value']:.2f} [{row['ci_low']:.2f}, {row['ci_high']:.2f}]"
    if gate_unused(row):
        return f"{ratio}, no steeper where the gate is open"
    if row["ci_low"] > 1 and row["ci_high"] < row["signal"]:
        return f"{ratio}, steeper where the gate is open but less than the signal"
    if row["ci_low"] > 1:
        return f"{ratio}, as steep as the signal's"
    return f"{ratio}, flatter where the gate is open"


def _percent_range(values: pd.Series) -> str:
    low, high = float(values.min()), float(values.max())
    return f"{low:.0%}" if f"{low:.0%}" == f"{high:.0%}" else f"between {low:.0%} and {high:.0%}"


def explain(short: "Shortfall", reference: str | None, *, known_r2: float, oracle_r2: float,
            model_r2: float, gap: tuple[float, float, float] | None = None,
            labels: Mapping[str, str] | None = None, share: float = LEARNED_SHARE) -> str:
    """The chapter's account of why ``short.model`` falls short of the oracle.

    Args:
        short: :func:`analyse`'s result (the learned drivers are chosen on ``valid``; the
            numbers are read on ``test``).
        reference: the other network measured beside it (``None``: none).
        known_r2: the test Pearson r² of an oracle told only the learned drivers.
        oracle_r2, model_r2: the full oracle's and the model's test Pearson r².
        gap: the full oracle minus the told-only-the-learned one, ``(value, low, high)``.
        labels: display names of models.
    """
    labels = dict(labels or {})
    say = lambda m: labels.get(m, m)  # noqa: E731
    model, valid, test = short.model, short.valid, short.test
    mine = learned(valid, model, share)
    rows = test[(test["model"] == model) & ~test["motif"].isin([ALL, ""])].set_index("motif")
    n, k = len(rows), len(mine)
    missed = rows.drop(index=mine)
    if k:
        text = (f"Chosen on valid, {say(model)} carries at least {share:.0%} of the effect of "
                f"{k} of the {n} drivers ({_names(test, mine)}), which give "
                f"{rows.loc[mine, 'variance_share'].sum():.0%} of the drivers' summed variance "
                f"in the simulated mean; on test it carries "
                f"{_percent_range(rows.loc[mine, 'value'])} of each one's effect")
    else:
        text = (f"Chosen on valid, {say(model)} carries at least {share:.0%} of the effect of "
                f"none of the {n} drivers")
    if len(missed) and missed["variance_share"].notna().any():
        big = missed["variance_share"].idxmax()
        text += ((f", and at most {missed['value'].max():.0%} of any of the other "
                  f"{len(missed)}" if k else
                  f": on test it carries at most {missed['value'].max():.0%} of any of them")
                 + f" (point estimates; the largest of them, {missed.loc[big, 'term']}, gives "
                   f"{missed.loc[big, 'variance_share']:.0%} of that variance)")
    text += ". "
    if reference is not None and reference in set(valid["model"]):
        theirs = learned(valid, reference, share)
        if set(theirs) == set(mine):
            text += (f"{_capital(say(reference))}, judged the same way, carries at least "
                     f"{share:.0%} of the same {k} and less of the others: the misses are not "
                     f"peculiar to {say(model)}. " if k else
                     f"Neither does {say(reference)}. ")
        else:
            text += (f"{_capital(say(reference))}, judged the same way, carries at least "
                     f"{share:.0%} of {len(theirs)} ({_names(valid, theirs) or 'none'}). ")
    g = short.gate.set_index("model")
    text += (f"The core element multiplies the drivers' effect by {1 / short.leak:g} in the "
             f"genes that have it; on test the signal's slope on the drivers' summed effect is "
             f"{float(short.gate['signal'].iloc[0]):.2f} times as steep in those genes as in "
             f"the others (not {1 / short.leak:g}: expression floored at zero and silenced "
             f"genes flatten it); {say(model)}'s is {_gate_phrase(g.loc[model])}")
    if reference is not None and reference in g.index:
        text += f"; {say(reference)}'s {_gate_phrase(g.loc[reference])}"
    told = f"the true sites of only the {k} learned drivers" if k else "only the core element"
    text += (f". An oracle told {told} (their occupancies are lower where the gate is closed, "
             f"so it reads the gate through them) reaches a test Pearson r² of "
             f"{known_r2:.3f}, {known_r2 / oracle_r2:.0%} of the full oracle's {oracle_r2:.3f}")
    if gap is not None:
        text += f" (the difference: {gap[0]:+.3f} [{gap[1]:+.3f}, {gap[2]:+.3f}])"
    text += ": the drivers never learned account for that gap. "
    reads = "does not read the gate" if gate_unused(g.loc[model]) else "reads the gate"
    text += (f"{_capital(say(model))}, which carries only part of each learned driver's effect "
             f"and {reads}, reaches {model_r2:.3f}." if k else
             f"{_capital(say(model))} reaches {model_r2:.3f}.")
    return text


def summary(short: "Shortfall", reference: str | None, *, known_r2: float,
            labels: Mapping[str, str] | None = None, share: float = LEARNED_SHARE) -> str:
    """One sentence of :func:`explain` for a chapter's summary."""
    labels = dict(labels or {})
    say = lambda m: labels.get(m, m)  # noqa: E731
    mine = learned(short.valid, short.model, share)
    n = int((~short.valid["motif"].isin([ALL, ""]) & (short.valid["model"] == short.model)).sum())
    text = (f"{say(short.model)} carries at least {share:.0%} of the effect of {len(mine)} of "
            f"the {n} drivers (chosen on valid)")
    if reference is not None and reference in set(short.valid["model"]):
        same = set(learned(short.valid, reference, share)) == set(mine)
        text += f", {say(reference)} " + ("of the same ones" if same else "of others")
    g = short.gate.set_index("model")
    if gate_unused(g.loc[short.model]):
        text += ", and does not read the core element's gate"
    return (text + f"; an oracle told only those drivers' sites reaches a test Pearson r² of "
            f"{known_r2:.3f}.")


@dataclass
class Shortfall:
    """What :func:`analyse` found: driver capture on ``valid`` and ``test``, the gate on
    ``test``, the drivers ``learned`` by ``model`` (chosen on valid), ``known_features`` (the
    oracle's features, :func:`cornlib.features.oracle_features`, for every gene of the data,
    restricted to those drivers and the gate: an oracle told only what the model learned) and
    the simulation's ``leak`` (the drivers' factor where the core element is missing)."""

    model: str
    valid: pd.DataFrame
    test: pd.DataFrame
    gate: pd.DataFrame
    learned: list[str]
    known_features: pd.DataFrame
    leak: float = 0.5


def capture_in(run_dir: str | os.PathLike, data, predictions: pd.DataFrame,
               options: Mapping[str, Any], *, what=capture, **kwargs: Any) -> pd.DataFrame:
    """:func:`capture` (or ``what=gate_use``) of ``predictions`` against the run's answer key
    (``targets/truth_sites.parquet``, ``targets/signal.parquet``), resampled as the run's
    scoring ``options`` say (:func:`cornlib.evaluate.runs.scoring_options`); ``kwargs`` go to
    ``what``."""
    truth = pd.read_parquet(artifacts.path(run_dir, "targets/truth_sites.parquet"))
    signal = pd.read_parquet(artifacts.path(run_dir, "targets/signal.parquet"))
    return what(predictions, signal, truth, data.card, groups=options.get("groups"),
                n_bootstrap=int(options["n_bootstrap"]), seed=int(options["seed"]),
                ci=float(options.get("ci", 0.95)), ci_method=options.get("ci_method", "bc"),
                **kwargs)


def analyse(run_dir: str | os.PathLike, data, folders: Mapping[str, str], model: str,
            options: Mapping[str, Any], *, test: pd.DataFrame | None = None,
            device: str = "auto") -> Shortfall | None:
    """Driver capture and gate use of the seeded runs in ``folders`` (name → folder, as
    :func:`cornlib.evaluate.runs.seed_predictions`), ``model`` among them; ``None`` on measured
    targets (no answer key).

    Args:
        options: the run's scoring options (:func:`cornlib.evaluate.runs.scoring_options`):
            its clusters, resamples, seed and coverage.
        test: the test predictions already made (long, every seed of these runs among
            them), so they are not predicted again; ``None`` predicts them.
    """
    from cornlib.evaluate.runs import seed_predictions

    if not has_truth(data.card):
        return None
    if model not in folders:
        raise ValueError(f"model {model!r} is not among the runs {list(folders)}")
    preds = {"valid": seed_predictions(run_dir, data, folders, split="valid", device=device),
             "test": (seed_predictions(run_dir, data, folders, split="test", device=device)
                      if test is None else test[test["model"].isin(list(folders))])}
    valid = capture_in(run_dir, data, preds["valid"], options)
    test = capture_in(run_dir, data, preds["test"], options)
    gate = capture_in(run_dir, data, preds["test"], options, what=gate_use)
    chosen = learned(valid, model)
    truth = pd.read_parquet(artifacts.path(run_dir, "targets/truth_sites.parquet"))
    features = oracle_features(truth, data.table["gene_id"])
    known = features[[f"site:{m}" for m in chosen] + ["core_gate"]]
    leak = float(data.card.get("parameters", {}).get("core_leak", 0.5))
    return Shortfall(model, valid, test, gate, chosen, known, leak)
