"""Recorded longer runs: the tables of a run that needs more than the book's budget, committed
with the commit, machine and date they came from, and read back by the book.

A recorded run is the same notebooks run with a longer profile (``profiles/long.yml``) by
``benchmarks/recorded_run.py``, which calls :func:`export`. The book never recomputes it: chapter
08 reads the committed tables with :func:`load` and labels them as recorded, beside the live
numbers of the profile it was built with.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import pandas as pd

#: The tables a recorded run keeps, each name with its file in the run directory.
TABLES = {"runs": "finetune/runs.parquet", "results": "evaluate/results.parquet",
          "differences": "evaluate/differences.parquet",
          "cross_species": "evaluate/cross_species.parquet", "trend": "finetune/trend.parquet"}
#: What the record must say about where it came from.
META_KEYS = ("profile", "git", "cpu", "cores", "date", "seconds", "command")


@dataclass
class Recorded:
    """A recorded run read back: its ``meta`` (:data:`META_KEYS` and more) and its tables
    (``runs``, ``results``, ``differences``, ``cross_species``; an absent table is empty)."""

    meta: dict[str, Any]
    tables: dict[str, pd.DataFrame]

    @property
    def label(self) -> str:
        """``recorded run: profile long, commit abc1234, AMD EPYC (2 cores), 2026-12-06 …``."""
        m = self.meta
        return (f"recorded run: profile {m['profile']}, commit {m['git']}, {m['cpu']} "
                f"({m['cores']} cores), {m['date']}, {m['seconds'] / 60:.0f} minutes")


def export(run_dir: str | os.PathLike, out_dir: str | os.PathLike, meta: dict[str, Any]
           ) -> list[Path]:
    """Write the run's :data:`TABLES` as CSV and ``meta.json`` into ``out_dir``; return the
    files written.

    Raises:
        ValueError: ``meta`` lacks some of :data:`META_KEYS`.
        FileNotFoundError: the run has no ``evaluate/results.parquet`` (chapter 08 did not run).
    """
    missing = [k for k in META_KEYS if k not in meta]
    if missing:
        raise ValueError(f"the record's meta lacks {missing}")
    run_dir, out_dir = Path(run_dir), Path(out_dir)
    if not (run_dir / TABLES["results"]).is_file():
        raise FileNotFoundError(f"{run_dir / TABLES['results']} is missing: run chapters 07 and "
                                "08 of the profile first")
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name, rel in TABLES.items():
        if (run_dir / rel).is_file():
            path = out_dir / f"{name}.csv"
            table = pd.read_parquet(run_dir / rel)
            table.to_csv(path, index=name == "runs")
            written.append(path)
    (out_dir / "meta.json").write_text(json.dumps(meta, indent=1, default=str))
    return [*written, out_dir / "meta.json"]


def load(path: str | os.PathLike | None) -> Recorded | None:
    """The recorded run in ``path`` (from :func:`export`; relative to the repository root
    unless absolute), or ``None`` when there is none."""
    if path is None or not (resolve(path) / "meta.json").is_file():
        return None
    path = resolve(path)
    meta = json.loads((path / "meta.json").read_text())
    tables = {}
    for name in TABLES:
        file = path / f"{name}.csv"
        tables[name] = (pd.read_csv(file, index_col=0 if name == "runs" else None)
                        if file.is_file() else pd.DataFrame())
    return Recorded(meta, tables)


#: The pairs of the pretraining ablation (model, reference).
ABLATION = (("pretrained", "random_init"), ("pretrained", "probe"), ("probe", "random_init"))


def resolve(path: str | os.PathLike) -> Path:
    """A record's folder: a relative path is taken from the repository root."""
    from cornlib.paths import REPO_ROOT

    path = Path(path)
    return path if path.is_absolute() else REPO_ROOT / path


def intro(record: Recorded | None, profile: str) -> str:
    """What a chapter says before showing ``record`` (or why it shows none)."""
    if record is None:
        return ("No recorded longer run is committed with this book "
                "(`benchmarks/recorded_run.py` makes one).")
    if record.meta["profile"] == profile:
        return "This build is the recorded profile itself; its numbers are the ones above."
    return (f"The tables below come from a {record.label}. It runs the same notebooks on the "
            f"data of this build with what this profile cannot afford: the pretraining ablation "
            f"and the cross-species runs, each to convergence with every seed. They are read "
            f"from the committed record, not recomputed by this build.")


def ablation(record: Recorded) -> list[str]:
    """The record's ablation pairs as sentences on Pearson r² and R²
    (:func:`cornlib.evaluate.claims.describe_both`), for the pairs it holds."""
    from cornlib.evaluate import claims

    diffs = record.tables["differences"]
    if diffs.empty:
        return []
    have = set(zip(diffs["model"], diffs["reference"]))
    lengths = sorted({m for m in diffs["model"] if str(m).startswith("pretrained_")
                      and str(m)[len("pretrained_"):].isdigit()},
                     key=lambda m: int(m[len("pretrained_"):]))
    pairs = [*ABLATION, *[(m, "random_init") for m in lengths]]
    return [claims.describe_both(diffs, a, b) for a, b in pairs if (a, b) in have]


#: The recipe benchmark's committed tables (``benchmarks/finetune_recipes.py --out``).
RECIPES = "benchmarks/results/finetune_recipes*.csv"


def recipes(pattern: str = RECIPES) -> tuple[str, pd.DataFrame] | None:
    """The recipe benchmark's committed summaries (every file matching ``pattern``, relative
    to the repository root) as ``(label, table)``: one row per recipe with the mean, sd and
    range of its best valid R² over seeds, the mean best epoch and epochs run, how many runs
    early stopping ended, how the others stopped, and its difference to the reference recipe of
    its run; ``None`` when none is committed."""
    where = resolve(pattern)
    files = sorted(p for p in where.parent.glob(where.name) if not p.stem.endswith("_runs"))
    if not files:
        return None
    labels, parts = [], []
    for file in files:
        table = pd.read_csv(file)
        m = table.iloc[0]
        labels.append(f"{file.name}: commit {m['git']}, {m['cpu']} ({m['cores']} cores), "
                      f"{m['date']}")
        parts.append(table)
    table = pd.concat(parts, ignore_index=True)

    def interval(r) -> str:
        if pd.isna(r["delta_mean"]):
            return "reference"
        return f"{r['delta_mean']:+.3f} [{r['delta_low']:+.3f}, {r['delta_high']:+.3f}]"

    shown = pd.DataFrame({
        "seeds": table["seeds"],
        "valid R² (mean)": table["valid_r2_mean"].round(3),
        "sd": table["valid_r2_sd"].round(3),
        "best epoch": table["best_epoch_mean"].round(1),
        "epochs run": table["epochs_run_mean"].round(1),
        "ended by early stopping": [f"{e}/{n}" for e, n in zip(table["early_stopped"],
                                                              table["seeds"])],
        "stopped": table["stopped"].fillna(""),
        "Δ vs reference [95% t]": table.apply(interval, axis=1)})
    shown.index = table["recipe"].rename("recipe")
    return "; ".join(labels), shown


def recipe_sentence(table: pd.DataFrame, recipe: str, against: str) -> str:
    """``recipe``'s row of :func:`recipes`'s table beside ``against``'s: mean best valid R² over
    its seeds, their spread and how many early stopping ended (``""`` when either is absent)."""
    if recipe not in table.index or against not in table.index:
        return ""

    def said(name: str) -> str:
        r = table.loc[name]
        spread = f", sd {r['sd']:.3f}" if pd.notna(r["sd"]) else ""
        return (f"{name}: mean best valid R² {r['valid R² (mean)']:.3f} over {int(r['seeds'])} "
                f"seed{'s' if int(r['seeds']) > 1 else ''}{spread}, "
                f"{r['ended by early stopping']} ended by early stopping, best epoch "
                f"{r['best epoch']:.1f} of {r['epochs run']:.1f}")

    return f"{said(recipe)}; against {said(against)}."


#: The learning curve's committed tables (``benchmarks/learning_curve.py --out``).
CURVE = "benchmarks/results/learning_curve"
#: The files of the curve, with the results, paired differences and runs as CSV and every seed's
#: predictions as Parquet.
CURVE_TABLES = {"results": "results.csv", "differences": "differences.csv", "runs": "runs.csv",
                "predictions": "predictions.parquet"}


def curve(path: str | os.PathLike | None = CURVE) -> Recorded | None:
    """The recorded learning curve in ``path`` (relative to the repository root unless
    absolute), or ``None`` when there is none: ``meta`` and the tables of :data:`CURVE_TABLES`.

    Raises:
        FileNotFoundError: ``meta.json`` is there but a table is missing (a half-copied record).
    """
    if path is None or not (resolve(path) / "meta.json").is_file():
        return None
    path = resolve(path)
    missing = [f for f in CURVE_TABLES.values() if not (path / f).is_file()]
    if missing:
        raise FileNotFoundError(f"the learning curve in {path} lacks {missing}; rerun "
                                "benchmarks/learning_curve.py")
    tables = {name: (pd.read_parquet(path / f) if f.endswith(".parquet") else pd.read_csv(path / f))
              for name, f in CURVE_TABLES.items()}
    return Recorded(json.loads((path / "meta.json").read_text()), tables)


def curve_predictions(record: Recorded) -> pd.DataFrame:
    """The curve's test predictions with each model named ``<model>@<fraction>``."""
    preds = record.tables["predictions"].copy()
    preds["model"] = [f"{m}@{f:g}" for m, f in zip(preds["model"], preds["fraction"])]
    return preds.drop(columns="fraction")


def curve_steps(record: Recorded) -> pd.DataFrame:
    """Each model's last step of the curve, from the record's paired differences
    (``differences.csv``: every fraction against the whole training set, seeds and clusters
    resampled together), turned round to whole set minus the largest smaller fraction: columns
    ``model``, ``fraction`` (1), ``from_fraction``, ``target``, ``metric``, ``value``,
    ``ci_low``, ``ci_high`` and ``verdict``."""
    d = record.tables["differences"]
    d = d[(d["model"] == d["reference_model"]) & (d["reference_fraction"] == 1.0)
          & (d["fraction"] < 1.0)]
    last = d[d["fraction"] == d["fraction"].max()]
    flip = {"better": "worse", "worse": "better"}
    return pd.DataFrame({
        "model": last["model"], "fraction": 1.0, "from_fraction": last["fraction"],
        "target": "overall", "metric": last["metric"], "value": -last["value"],
        "ci_low": -last["ci_high"], "ci_high": -last["ci_low"],
        "verdict": [flip.get(v, v) for v in last["verdict"]]}).reset_index(drop=True)


def curve_sentence(record: Recorded, steps: pd.DataFrame, carried: pd.DataFrame | None = None,
                   labels: dict[str, str] | None = None, model: str = "random_init",
                   missed: Sequence[str] = ()) -> str:
    """What the learning curve says: each model's test Pearson r² at every number of training
    genes, whether its last step helped (on both metrics, or which) and, with ``carried``
    (:func:`curve_carried`), the share of the drivers' effect each model carries; for ``model``
    also the share of each driver in ``missed`` (matrix IDs: those it has not learned)."""
    from cornlib.evaluate import claims
    from cornlib.evaluate.shortfall import ALL

    labels = dict(labels or {})
    res = record.tables["results"]
    res = res[res["metric"] == "pearson_r2"].sort_values("fraction")
    genes = res.drop_duplicates("fraction")["n_train_genes"].astype(int).tolist()
    parts = []
    for name, sub in res.groupby("model", sort=False):
        values = ", ".join(f"{v:.3f}" for v in sub["value"])
        parts.append(f"{labels.get(name, name)} {values}")
    text = (f"Trained on {', '.join(f'{g:,}' for g in genes)} genes, the test Pearson r² is: "
            + "; ".join(parts) + ". ")
    n_genes = dict(zip(res["fraction"], res["n_train_genes"].astype(int)))
    last = steps[steps["fraction"] == steps["fraction"].max()]
    said = []
    for name in dict.fromkeys(last["model"]):
        rows = last[last["model"] == name]
        label = labels.get(name, name)
        more, fewer = (f"{label} with {n_genes[float(rows[c].iloc[0])]:,} genes"
                       for c in ("fraction", "from_fraction"))
        said.append(claims.describe_both(rows.assign(model=more, reference=fewer), more, fewer))
    text += "The last step, paired on the same test genes: " + "; ".join(said) + "."
    if carried is None or carried.empty:
        return text
    ordered = carried.sort_values("n_train_genes")
    total = ordered[ordered["motif"] == ALL]
    shares = [f"{labels.get(m, m)} " + " → ".join(f"{v:.0%}" for v in sub["value"])
              for m, sub in total.groupby("model", sort=False)]
    text += (" The share of the drivers' effect carried, weighted by their variance, goes "
             + "; ".join(shares) + ".")
    mine = ordered[(ordered["model"] == model) & ordered["motif"].isin(list(missed))]
    if not mine.empty:
        each = [f"{sub['term'].iloc[0]} " + " → ".join(f"{v:.0%}" for v in sub["value"])
                for _, sub in mine.groupby("motif", sort=False)]
        text += (f" Of the drivers {labels.get(model, model)} misses in this build, the share "
                 "it carries (point estimates): " + "; ".join(each) + ".")
    return text


def curve_carried(record: Recorded, table: pd.DataFrame) -> pd.DataFrame:
    """:func:`cornlib.evaluate.shortfall.capture` (``summary=True``) of :func:`curve_predictions`
    back with ``fraction`` and ``n_train_genes`` columns and each model's own name; the rows of
    ``motif`` :data:`cornlib.evaluate.shortfall.ALL` are the variance-weighted summaries."""
    rows = table.copy()
    split = rows["model"].str.rpartition("@")
    rows["model"], rows["fraction"] = split[0], split[2].astype(float)
    genes = record.tables["results"].drop_duplicates("fraction").set_index("fraction")
    rows["n_train_genes"] = genes["n_train_genes"].reindex(rows["fraction"]).to_numpy()
    return rows.reset_index(drop=True)


def curve_tables(record: Recorded, run_dir: str | os.PathLike, data,
                 options: dict[str, Any]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The curve's last steps (:func:`curve_steps`) and, for every model but the oracle, the
    share of each driver's effect it carries at each number of training genes
    (:func:`curve_carried`), against the answer key of ``run_dir``.

    Raises:
        ValueError: the curve was recorded on other test genes or other targets than this run's
            (a record of other data).
    """
    from cornlib.evaluate import shortfall

    preds = curve_predictions(record)
    rows = data.rows("test", [])
    test = set(rows["gene_id"])
    mismatch = (f"{len(set(preds['gene_id']) & test)} of {len(test)} test genes shared"
                if set(preds["gene_id"]) != test else None)
    if mismatch is None:
        observed = rows.melt("gene_id", value_vars=sorted(set(preds["target"])),
                             var_name="target", value_name="y_run")
        joined = preds.merge(observed, on=["gene_id", "target"], how="left")
        if not pd.Series(abs(joined["y_true"] - joined["y_run"]) < 1e-4).all():
            mismatch = "the same genes with other target values"
    if mismatch:
        raise ValueError(f"the learning curve ({record.label}) was recorded on other data than "
                         f"this run's ({mismatch}): set the profile's learning_curve to null, "
                         "or record one for these data with benchmarks/learning_curve.py")
    sequence_models = preds[~preds["model"].str.startswith("oracle@")]
    table = shortfall.capture_in(run_dir, data, sequence_models, options, summary=True)
    return curve_steps(record), curve_carried(record, table)


def curve_summary(record: Recorded, steps: pd.DataFrame, model: str,
                  labels: dict[str, str] | None = None, oracle: str = "oracle") -> str:
    """One sentence for a summary: ``model``'s and the oracle's test Pearson r² along the
    curve, and, when the last step's intervals say so on both metrics (the model better, the
    oracle not), that the model is still rising at the whole training set."""
    labels = dict(labels or {})
    res = record.tables["results"]
    res = res[res["metric"] == "pearson_r2"].sort_values("fraction")

    def path(m: str) -> str:
        return " → ".join(f"{v:.3f}" for v in res.loc[res["model"] == m, "value"])

    genes = res["n_train_genes"].astype(int)
    text = (f"over {genes.min():,} → {genes.max():,} training genes the test Pearson r² of "
            f"{labels.get(model, model)} goes {path(model)}")
    if oracle in set(res["model"]):
        text += f", the oracle's {path(oracle)}"
    last = steps[steps["fraction"] == steps["fraction"].max()]
    verdicts = last.groupby("model")["verdict"].agg(set)
    if verdicts.get(model) == {"better"} and "better" not in verdicts.get(oracle, set()):
        text += (": still rising at the whole training set while the oracle is flat, so more "
                 "genes would likely help; the curve cannot say how far (with fewer genes the "
                 "runs also trained fewer steps before early stopping)")
    return text + "."


def curve_intro(record: Recorded) -> str:
    """What a chapter says before showing the recorded learning curve."""
    fractions = sorted(record.tables["predictions"]["fraction"].unique())
    shares = ", ".join(f"{f:.0%}" for f in fractions if f < 1)
    return (f"Whether more genes would teach the missed drivers takes more training than this "
            f"build affords; a recorded run answers it. benchmarks/learning_curve.py trained "
            f"the transformer's random-init arm, the CNN and the oracle again on nested subsets "
            f"of the training clusters ({shares} of them, whole clusters), with the same "
            f"recipes, seeds and early stopping, and scored them on the same test genes; the "
            f"whole training set is the models of the run it was recorded from. It is a "
            f"{record.label}, read from the record, not recomputed.")
