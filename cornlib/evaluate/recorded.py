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
from typing import Any

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
