"""The evaluation of a run directory's models (chapter 08), read through the artifact registry.

Every model folder, the baselines' test predictions and the bootstrap settings that chapter 04
recorded are read with :func:`cornlib.artifacts.path`, so a missing input names the chapter
that writes it. Runs are named by their folder under ``finetune/`` (``pretrained``,
``random_init``, ``probe``, ``from_<species>``) in every table.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Mapping, Sequence

import pandas as pd

from cornlib import artifacts
from cornlib.evaluate import metrics
from cornlib.evaluate.predictions import COLUMNS, long_predictions
from cornlib.io import read_json

#: Prefix of the cross-species runs' folders (``finetune/from_<species>``).
CROSS_PREFIX = "from_"


def scoring_options(run_dir: str | os.PathLike, data) -> dict[str, Any]:
    """Keyword arguments of :func:`cornlib.evaluate.metrics.evaluate_predictions` and
    :func:`~cornlib.evaluate.metrics.paired_differences` that repeat the baselines' bootstrap
    (``baselines/bootstrap.json``: resamples, seed, coverage, method, clusters, noise ceiling),
    so a model scored here sees the baselines' resamples.

    Args:
        run_dir: the run directory.
        data: its :class:`cornlib.dataset.ModellingData`.
    """
    settings = read_json(artifacts.path(run_dir, "baselines/bootstrap.json"))
    signal = (pd.read_parquet(artifacts.path(run_dir, settings["signal"]))
              if settings.get("signal") else None)
    groups = data.table.set_index("gene_id")[settings["groups"]] if settings.get("groups") else None
    return {"overall_targets": list(data.tissues), "seed": int(settings["seed"]),
            "n_bootstrap": int(settings["n_bootstrap"]), "ci": float(settings["ci"]),
            "ci_method": settings.get("ci_method", "bc"), "groups": groups, "signal": signal,
            "ceiling": None if signal is not None else data.ceiling}


def per_subset(options: Mapping[str, Any]) -> dict[str, Any]:
    """``options`` for scores on a subset of the genes (one species): without the noise ceiling,
    which :func:`scoring_options` gives for the whole test set."""
    return {**options, "signal": None, "ceiling": None}


def load_models(run_dir: str | os.PathLike, runs: Sequence[str]) -> dict[str, Any]:
    """Run folder name → predictor of ``finetune/<run>/model`` (a missing folder names the
    chapter that writes it); for a seeded run, the seed chosen on valid."""
    from cornlib.models import predictor

    return {run: predictor.load(artifacts.path(run_dir, f"finetune/{run}/model"))
            for run in runs}


def trained_runs(run_dir: str | os.PathLike, runs: Sequence[str]) -> list[str]:
    """The fine-tuning runs of ``runs`` that chapter 07 trained in this run directory (a
    ``finetune/<run>/model`` folder), in the given order."""
    return [r for r in runs if (Path(run_dir) / "finetune" / r / "model").is_dir()]


def ablation_text(sentences: Sequence[str]) -> str:
    """The pretraining ablation's findings as one paragraph, or why there are none."""
    if not sentences:
        return ("This build trained no pretrained arm, so it cannot compare one: chapter 07 "
                "says why (the pretraining's test against composition, or the profile's "
                "budget), and a recorded longer run, where one is committed, answers the "
                "question below.")
    return ("Pretraining and fine-tuning, with the mean over seeds and intervals over clusters "
            "and seeds: " + "; ".join(sentences) + ".")


def seed_models(run_dir: str | os.PathLike, run: str, parent: str = "finetune"
                ) -> dict[int, Path]:
    """Seed → model folder of every training run of ``<parent>/<run>`` (``finetune/<run>``,
    or ``baselines/cnn/tissues`` with ``parent="baselines/cnn"``): the ``seed_<s>`` folders that
    ``seeds.json`` lists (:func:`cornlib.training.seeds.keep_best`), or ``{0: <run>/model}``
    for a run trained once."""
    folder = Path(run_dir) / parent / run
    record = folder / "seeds.json"
    if not record.exists():
        return {0: artifacts.path(run_dir, f"{parent}/{run}/model")}
    seeds = [int(s) for s in json.loads(record.read_text())["runs"]]
    return {s: artifacts.path(run_dir, f"{parent}/{run}/seed_{s}/model") for s in seeds}


def seed_predictions(run_dir: str | os.PathLike, data, folders: Mapping[str, str], *,
                     split: str = "test", device: str = "auto") -> pd.DataFrame:
    """Every seed's predictions of ``split`` for each ``{name: folder}`` (a seeded run's folder
    relative to the run directory, e.g. ``{"cnn": "baselines/cnn/tissues"}``), one long table
    with the ``seed`` column."""
    from cornlib.models import predictor

    parts = []
    for name, folder in folders.items():
        parent, _, run = str(folder).rstrip("/").rpartition("/")
        for s, path in seed_models(run_dir, run, parent or ".").items():
            parts.append(long_predictions(predictor.load(path), data, split, name=name,
                                          device=device, seed=s))
    if not parts:
        return pd.DataFrame(columns=list(COLUMNS))
    return pd.concat(parts, ignore_index=True)


def split_predictions(run_dir: str | os.PathLike, data, runs: Sequence[str], *,
                      split: str = "test", device: str = "auto") -> pd.DataFrame:
    """The baselines' predictions (``baselines/predictions.parquet``) and those of every seed
    of each fine-tuning run in ``runs`` on ``split``, in one long table
    (:mod:`cornlib.evaluate.predictions`; column ``seed`` names the training run)."""
    baseline = pd.read_parquet(artifacts.path(run_dir, "baselines/predictions.parquet"))
    ours = seed_predictions(run_dir, data, {run: f"finetune/{run}" for run in runs},
                            split=split, device=device)
    return pd.concat([baseline, ours], ignore_index=True) if len(ours) else baseline


def proxy_predictions(run_dir: str | os.PathLike, data, name: str, *, split: str = "test",
                      device: str = "auto") -> pd.DataFrame:
    """The proxy run's (``finetune/proxy``, :func:`cornlib.training.finetune.proxy_run`)
    predictions of the real proxy on ``split`` genes that have it, its rows named ``name``
    (the transformer whose recipe and initialisation it shares, as the CNN of chapter 04 has
    one network for the tissues and one for the proxy under one name). Empty when the data
    have no proxy."""
    if not data.proxy:
        return pd.DataFrame(columns=list(COLUMNS))
    model = load_models(run_dir, ["proxy"])["proxy"]
    return long_predictions(model, data, split, name=name, targets=[data.proxy], device=device)


def cross_species(run_dir: str | os.PathLike, data, runs: Sequence[str] | None = None, *,
                  split: str = "test", device: str = "auto") -> pd.DataFrame:
    """Each cross-species run (``finetune/from_<species>``, trained and tuned on one species'
    genes) predicting ``split`` genes of the other species; named by its folder. ``runs``:
    the run folders to read (default: one per species, each required). Empty with one
    species or no runs."""
    species = sorted(data.table["species"].unique())
    wanted = [f"{CROSS_PREFIX}{s}" for s in species] if len(species) > 1 else []
    if runs is not None:
        wanted = [r for r in wanted if r in set(runs)]
    parts = []
    for run in wanted:
        source = run[len(CROSS_PREFIX):]
        model = load_models(run_dir, [run])[run]
        others = data.table.loc[data.table["species"] != source, "gene_id"]
        parts.append(long_predictions(model, data, split, name=run, genes=others, device=device))
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=list(COLUMNS))


def by_species(predictions: pd.DataFrame, options: Mapping[str, Any]) -> pd.DataFrame:
    """Scores of every model on each species' genes (``by=("model", "species")``)."""
    return metrics.evaluate_predictions(predictions, by=("model", "species"),
                                        **per_subset(options))


def references(predictions: pd.DataFrame, wanted: Sequence[str]) -> list[str]:
    """The models of ``wanted`` that ``predictions`` holds, in that order (each once)."""
    present = set(predictions["model"])
    return [m for m in dict.fromkeys(wanted) if m in present]


def reference_baseline(run_dir: str | os.PathLike) -> dict[str, Any]:
    """The reference baseline chapter 04 chose on ``valid`` (``baselines/selection.json``,
    :func:`cornlib.baselines.selection_record`): ``reference``, ``valid_r2``, ``criterion``
    and every baseline's ``valid_scores``.

    Raises:
        FileNotFoundError: the file is missing (naming the chapter that writes it).
        ValueError: the file does not name a reference chosen on ``valid``.
    """
    path = artifacts.path(run_dir, "baselines/selection.json")
    record = read_json(path)
    if record.get("split") != "valid" or not record.get("reference"):
        raise ValueError(f"{path} names no reference chosen on valid ({record!r}); "
                         f"{artifacts.how_to_make('baselines/selection.json')}")
    return record


def without_target(predictions: pd.DataFrame, target: str) -> list[str]:
    """The models of ``predictions`` with no prediction of ``target`` (e.g. the transformers,
    trained on the tissues only, for the proxy), in their order of appearance."""
    scored = set(predictions.loc[predictions["target"] == target, "model"])
    return [m for m in dict.fromkeys(predictions["model"]) if m not in scored]


#: Below this best valid R² a run is said to have learned nothing worth scoring.
LEARNED_MIN_R2 = 0.01


def valid_history(run_dir: str | os.PathLike, pattern: str = "finetune/from_*") -> pd.DataFrame:
    """Best valid R² of the run folders ``<run_dir>/<pattern>`` (each with the
    ``valid_r2.parquet`` the training driver writes): one row per run (``run``: its folder
    below the pattern's fixed part, e.g. ``tissues/seed_0`` for ``baselines/cnn/*/seed_*``)
    with ``best_valid_r2``,
    ``best_epoch``, ``epochs`` (the last evaluated), ``learned`` (best valid R² >=
    :data:`LEARNED_MIN_R2`) and ``improving`` (the best epoch is the last: no plateau yet).
    Empty when no run matches."""
    fixed = []
    for part in Path(pattern).parts:
        if any(c in part for c in "*?["):
            break
        fixed.append(part)
    base = Path(run_dir, *fixed)
    rows = []
    for path in sorted(Path(run_dir).glob(f"{pattern}/valid_r2.parquet")):
        history = pd.read_parquet(path)
        best = history.loc[history["r2"].idxmax()]
        rows.append({"run": path.parent.relative_to(base).as_posix(),
                     "best_valid_r2": float(best["r2"]),
                     "best_epoch": float(best["epoch"]), "epochs": float(history["epoch"].max())})
    table = pd.DataFrame(rows, columns=["run", "best_valid_r2", "best_epoch", "epochs"])
    return table.assign(learned=table["best_valid_r2"] >= LEARNED_MIN_R2,
                        improving=table["best_epoch"] >= table["epochs"])


def improving_sentence(history: pd.DataFrame, what: str) -> str:
    """Whether the runs of :func:`valid_history` (``what`` names them) passed their best epoch."""
    open_ = history.loc[history["improving"], "run"].tolist()
    if not open_:
        return f"Every run of {what} passed its best validation epoch before it ended."
    name = what[:1].upper() + what[1:]
    return (f"{name} ({', '.join(open_)}) had its best validation R² at its last epoch: it was "
            "still improving when its epochs ran out, so its scores are those of a model that "
            "has not converged.")


def learned_sentence(history: pd.DataFrame) -> str:
    """What :func:`valid_history` allows a reader to conclude, in one sentence."""
    if history.empty:
        return "No cross-species run was trained here (chapter 07 says why)."
    if history["learned"].all():
        return ("Every cross-species run learned on its own species' valid genes (best valid R² "
                f"{history['best_valid_r2'].min():.3f} or more), so its scores on the other "
                "species are a result.")
    idle = history[~history["learned"]]
    return (f"{', '.join(idle['run'])} learned nothing on valid within the budget (best valid R² "
            f"{idle['best_valid_r2'].max():.3f} after {idle['epochs'].max():.1f} epochs), so "
            "their scores on the other species measure no transfer; they are not a result, and "
            "answering the question needs longer runs.")


#: The share of the oracle's test Pearson r² the book asks of its transformer.
ORACLE_TARGET = 0.6


def target_sentence(results: pd.DataFrame, differences: pd.DataFrame, model: str,
                    reference: str, *, share: float = ORACLE_TARGET) -> str:
    """Whether ``model`` met the book's target: a paired Pearson r² interval above zero against
    ``reference`` (the best baseline chosen on valid) and at least ``share`` of the oracle's
    test Pearson r² (mean over the simulated tissues)."""
    from cornlib.evaluate import claims, resample

    value = results.set_index(["model", "target", "metric"])["value"]
    key = ("oracle", "overall", "pearson_r2")
    if key not in value.index:
        return "There is no oracle for these targets, so the target is not defined here."
    oracle, ours = float(value[key]), float(value[(model, "overall", "pearson_r2")])
    row = differences[(differences["model"] == model) & (differences["reference"] == reference)
                      & (differences["target"] == "overall")
                      & (differences["metric"] == "pearson_r2")].iloc[0]
    beats = resample.verdict(row["ci_low"], row["ci_high"]) == "better"
    reached = ours >= share * oracle
    said = claims.describe(differences, model, reference)
    head = ("It is met" if beats and reached else
            "It is met in part" if beats or reached else "It is not met")
    return (f"{head}: {said}, and it reaches {ours / oracle:.0%} of the oracle's {oracle:.3f} "
            f"(the target: {share:.0%}, a Pearson r² of {share * oracle:.3f}).")
