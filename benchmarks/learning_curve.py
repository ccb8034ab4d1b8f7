"""Learning curve: the book's transformer and CNN retrained on fractions of the training genes.

    .venv/bin/python benchmarks/learning_curve.py --from runs/small --fractions 0.25 0.5 \\
        --out benchmarks/results/learning_curve [--seeds N] [--quick]

Is the transformer of chapter 07 limited by its data? For each fraction ``f < 1`` this keeps a
random subset of the **training** clusters (whole clusters of ``split.parquet``'s
``cluster_id``, drawn in one seeded order, so the subsets are nested and hold about ``f`` of
the training genes; ``valid`` and ``test`` are unchanged) and trains, exactly as the book does,

- the transformer's ``random_init`` arm (chapter 07: the profile's hybrid from random weights,
  :func:`cornlib.training.finetune.finetune_seeds`),
- the CNN (chapter 04: :func:`cornlib.baselines.fit_cnn` with the profile's ``cnn_*``
  settings), and
- the true-site oracle (chapter 04's ridge on the simulation's sites; deterministic, seconds),

each network with the profile's ``n_seeds`` seeds, to early stopping on ``valid`` with the
profile's caps. Fraction 1 is the run directory's own models (``finetune/random_init/seed_*``
predicted here; the CNN's and the oracle's test rows of ``baselines/predictions.parquet``):
nothing is retrained. Every setting comes from the profile (``--profile``, default ``small``).

The test genes are scored as chapter 08 scores them
(:func:`cornlib.evaluate.metrics.evaluate_predictions` with the run's
:func:`cornlib.evaluate.runs.scoring_options`: seeds pooled, clusters and seeds resampled
together) on the simulated tissues. ``--out`` receives ``results.csv`` (Pearson r² and R², mean
over the tissues, with intervals), ``differences.csv`` (paired on the same resamples: each
model at each fraction against itself at fraction 1, the transformer against the CNN at each
fraction), ``runs.csv`` (every run: best epoch, epochs run, why it stopped, best valid R²),
``predictions.parquet`` (every seed's test predictions, float32; the scores are computed from
it, and ``--rescore`` computes them again without training) and ``meta.json`` (commit, machine,
date, wall time, command: :data:`cornlib.evaluate.recorded.META_KEYS`). Scratch models go to
``--work`` (a temporary folder by default, removed at the end). ``--quick`` is the smoke
test's mode: the tiny profile, one seed, at most :data:`QUICK_EPOCHS` epochs per run, fraction
0.5 unless ``--fractions`` says otherwise.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "benchmarks")]  # this checkout's cornlib
os.environ.setdefault("HF_HUB_OFFLINE", "1")

#: What ``--from`` must hold: chapters 01–04 and 07 of a run directory.
REQUIRED = ("promoters.parquet", "split.parquet", "targets/expression.parquet",
            "targets/card.json", "baselines/bootstrap.json", "baselines/predictions.parquet",
            "baselines/cnn/tissues/seeds.json", "finetune/random_init/seeds.json")
#: The models of the curve, named as in the run directory.
TRANSFORMER, CNN, ORACLE = "random_init", "cnn", "oracle"
#: The metrics kept (target ``overall``: the mean over the simulated tissues).
METRICS = ("pearson_r2", "r2")
#: ``--quick``: the epoch cap of every network.
QUICK_EPOCHS = 2
#: Columns of the files written.
RESULT_COLUMNS = ("fraction", "n_train_genes", "model", "metric", "value", "ci_low", "ci_high")
RUN_COLUMNS = ("fraction", "model", "seed", "best_epoch", "epochs_run", "stopped_by",
               "best_valid_r2", "seconds")
PREDICTION_COLUMNS = ("model", "fraction", "seed", "gene_id", "target", "y_true", "y_pred")
DIFFERENCE_COLUMNS = ("model", "fraction", "reference_model", "reference_fraction", "metric",
                      "value", "ci_low", "ci_high", "share_positive", "verdict")


def check_run_dir(run_dir: Path) -> None:
    """Raise :class:`FileNotFoundError` naming every file of :data:`REQUIRED` that ``run_dir``
    lacks (or ``NotADirectoryError`` when it is not a folder)."""
    if not run_dir.is_dir():
        raise NotADirectoryError(f"--from {run_dir} is not a directory")
    missing = [f for f in REQUIRED if not (run_dir / f).is_file()]
    missing += [f"finetune/random_init/seed_{s}/model" for s in seeds_of(run_dir, TRANSFORMER)
                if not (run_dir / "finetune" / TRANSFORMER / f"seed_{s}" / "model").is_dir()]
    if missing:
        raise FileNotFoundError(
            f"{run_dir} is not a finished run directory (chapters 01–04 and 07 with seeds): "
            f"missing {', '.join(missing)}")


def seeds_of(run_dir: Path, model: str) -> list[int]:
    """The seeds that ``seeds.json`` of ``model``'s folder lists (none if it is absent)."""
    path = run_dir / folder(model) / "seeds.json"
    return [int(s) for s in json.loads(path.read_text())["runs"]] if path.is_file() else []


def folder(model: str) -> str:
    """Where a network's seeds live inside a run directory (or a fraction's work folder)."""
    return f"finetune/{TRANSFORMER}" if model == TRANSFORMER else "baselines/cnn/tissues"


def settings(profile: str, quick: bool, n_seeds: int | None) -> dict:
    """The profile's settings (``--quick``: the tiny profile with :data:`QUICK_EPOCHS`), with
    ``seeds``: ``n_seeds`` (default the profile's) seeds from its ``seed``."""
    from cornlib import profiles
    from cornlib.training.seeds import seed_list

    s = profiles.load("tiny" if quick else profile)
    if quick:
        s["finetune_epochs"] = min(s["finetune_epochs"], QUICK_EPOCHS)
        s["cnn_epochs"] = min(s["cnn_epochs"], QUICK_EPOCHS)
        n_seeds = n_seeds or 1
    s["seeds"] = seed_list(s["seed"], n_seeds or s["n_seeds"])
    return s


def subsample(data, fraction: float, seed: int):
    """``data`` with whole training clusters only, about ``fraction`` of the training genes.

    The clusters are shuffled once with ``seed`` and kept in that order until they hold at
    least ``fraction`` of the training genes, so the subsets of two fractions are nested;
    ``valid`` and ``test`` are untouched.
    """
    import dataclasses

    import numpy as np

    if not 0 < fraction <= 1:
        raise ValueError(f"a fraction must be in (0, 1], not {fraction}")
    table = data.table
    train = table["split"] == "train"
    sizes = table.loc[train, "cluster_id"].value_counts().sort_index()
    order = np.random.default_rng(seed).permutation(len(sizes))
    counts = sizes.to_numpy()[order]
    n_keep = int(np.searchsorted(np.cumsum(counts), fraction * train.sum() - 1e-9)) + 1
    kept = set(sizes.index[order[:n_keep]])
    keep = ~train | table["cluster_id"].isin(kept)
    return dataclasses.replace(data, table=table[keep].reset_index(drop=True))


def train_transformer(data, s: dict, work: Path) -> dict:
    """Chapter 07's ``random_init`` arm on ``data``, every seed of ``s["seeds"]``, into
    ``work/finetune/random_init``: ``{seed: TrainResult}``."""
    from cornlib.models import CornHybridConfig
    from cornlib.training import finetune

    config = CornHybridConfig(
        seq_length=s["hybrid_seq_length"], stem_channels=s["hybrid_channels"],
        stem_kernel=s["hybrid_kernel"], pool=s["hybrid_pool"], hidden_size=s["hybrid_hidden"],
        num_hidden_layers=s["hybrid_layers"], num_attention_heads=s["hybrid_heads"],
        intermediate_size=s["hybrid_intermediate"])
    sets = finetune.code_datasets(data, s["hybrid_seq_length"])
    head = finetune.head_fields(data, dropout=s["hybrid_head_dropout"], loss=s["finetune_loss"])
    common = dict(target_names=data.tissues, epochs=s["finetune_epochs"],
                  batch_size=s["finetune_batch_size"], weight_decay=s["finetune_weight_decay"],
                  patience=s["finetune_patience"], max_seconds=s["finetune_seconds"],
                  device=s["device"], resume=s["finetune_resume"])
    return finetune.finetune_seeds(
        work / folder(TRANSFORMER),
        lambda seed: finetune.initial_model(head, config=config, seed=seed),
        sets["train"], sets["valid"], s["seeds"], rc=s["finetune_rc"],
        learning_rate=s["finetune_lr"], threads=s["finetune_threads"], **common)


def train_cnn(data, s: dict, work: Path):
    """Chapter 04's CNN on the tissues of ``data``, every seed, into ``work/baselines/cnn``:
    its :class:`cornlib.baselines.BaselineFit` (test predictions of every seed)."""
    from cornlib import baselines

    return baselines.fit_cnn(
        data, work / "baselines" / "cnn", seq_length=s["cnn_seq_length"],
        channels=s["cnn_channels"], kernel_sizes=s["cnn_kernel_sizes"],
        pool_sizes=s["cnn_pool_sizes"], global_pool=s["cnn_global_pool"],
        epochs=s["cnn_epochs"], patience=s["cnn_patience"], batch_size=s["cnn_batch_size"],
        learning_rate=s["cnn_learning_rate"], seeds=s["seeds"], device=s["device"],
        threads=s["baseline_threads"], model=CNN)


def fit_oracle(data, run_dir: Path, s: dict):
    """Chapter 04's true-site oracle on ``data`` (``None`` without ``truth_sites.parquet``)."""
    import pandas as pd

    from cornlib import baselines

    path = run_dir / "targets" / "truth_sites.parquet"
    if not path.is_file():
        return None
    X = baselines.oracle_features(pd.read_parquet(path), data.table["gene_id"])
    return baselines.fit_oracle(data, X, s["oracle_alphas"], threads=s["baseline_threads"])


def seed_runs(base: Path, model: str, fraction: float):
    """One row per seed of ``model`` in ``base`` (its ``seeds.json``,
    :func:`cornlib.training.seeds.keep_best`), columns :data:`RUN_COLUMNS`."""
    import pandas as pd

    record = json.loads((base / folder(model) / "seeds.json").read_text())["runs"]
    rows = [{"fraction": fraction, "model": model, "seed": int(seed), **{
        k: r.get(k) for k in ("best_epoch", "epochs_run", "stopped_by", "best_valid_r2",
                              "seconds")}} for seed, r in record.items()]
    return pd.DataFrame(rows, columns=list(RUN_COLUMNS))


def transformer_predictions(base: Path, data, seeds, device: str):
    """Test predictions of every seed's model of the ``random_init`` folder of ``base``."""
    import pandas as pd

    from cornlib.evaluate.predictions import long_predictions
    from cornlib.models import predictor

    return pd.concat([long_predictions(predictor.load(base / folder(TRANSFORMER)
                                                      / f"seed_{seed}" / "model"),
                                       data, "test", name=TRANSFORMER, device=device, seed=seed)
                      for seed in seeds], ignore_index=True)


def full_run(run_dir: Path, data, s: dict):
    """Fraction 1: the run directory's own models, nothing retrained. Returns
    ``(predictions, runs)``."""
    import pandas as pd

    book = pd.read_parquet(run_dir / "baselines" / "predictions.parquet")
    book = book[book["model"].isin([CNN, ORACLE]) & book["target"].isin(data.tissues)]
    if CNN not in set(book["model"]):
        raise ValueError(f"{run_dir}/baselines/predictions.parquet has no rows of the CNN")
    ours = transformer_predictions(run_dir, data, seeds_of(run_dir, TRANSFORMER), s["device"])
    runs = pd.concat([seed_runs(run_dir, m, 1.0) for m in (TRANSFORMER, CNN)],
                     ignore_index=True)
    return pd.concat([ours, book], ignore_index=True), runs


def train_fraction(run_dir: Path, data, fraction: float, s: dict, work: Path):
    """Train the curve's models on ``fraction`` of the training clusters. Returns
    ``(predictions, runs, n_train_genes)``."""
    import pandas as pd

    part = subsample(data, fraction, s["seed"])
    n_train = int((part.table["split"] == "train").sum())
    base = work / f"fraction_{fraction:g}"
    preds, runs = [], []
    for model in (TRANSFORMER, CNN):
        t0 = time.perf_counter()
        if model == TRANSFORMER:
            train_transformer(part, s, base)
            preds.append(transformer_predictions(base, data, s["seeds"], s["device"]))
        else:
            preds.append(train_cnn(part, s, base).predictions)
        table = seed_runs(base, model, fraction)
        runs.append(table)
        print(f"fraction {fraction:g} ({n_train:,} training genes), {model}: "
              f"{time.perf_counter() - t0:.0f} s", flush=True)
        for r in table.itertuples():
            print(f"  seed {r.seed}: best valid R² {r.best_valid_r2:.3f} at epoch "
                  f"{r.best_epoch:g} of {r.epochs_run:g} ({r.stopped_by}), {r.seconds:.0f} s",
                  flush=True)
    oracle = fit_oracle(part, run_dir, s)
    if oracle is not None:
        preds.append(oracle.predictions)
    return pd.concat(preds, ignore_index=True), pd.concat(runs, ignore_index=True), n_train


def score(predictions, run_dir: Path, data, n_train: dict):
    """Pearson r² and R² (mean over the tissues) of every model and fraction, with the
    book's intervals; columns :data:`RESULT_COLUMNS`."""
    from cornlib.evaluate import metrics, runs

    res = metrics.evaluate_predictions(predictions, by=("model", "fraction"),
                                       **runs.scoring_options(run_dir, data))
    res = res[(res["target"] == "overall") & res["metric"].isin(METRICS)]
    res = res.assign(n_train_genes=res["fraction"].map(n_train))
    return res.sort_values(["model", "fraction", "metric"])[list(RESULT_COLUMNS)]


def differences(predictions, run_dir: Path, data):
    """Paired differences on the same resamples (:func:`cornlib.evaluate.metrics.
    paired_differences`, seeds pooled), Pearson r² and R² of the tissues' mean: each model at
    each fraction against itself at fraction 1, and the transformer against the CNN at each
    fraction. Columns :data:`DIFFERENCE_COLUMNS`."""
    from cornlib.evaluate import metrics, runs

    fractions = sorted(set(predictions["fraction"]))
    models = [m for m in (TRANSFORMER, CNN, ORACLE) if m in set(predictions["model"])]
    refs = list(dict.fromkeys([(m, 1.0) for m in models] + [(CNN, f) for f in fractions]))
    diff = metrics.paired_differences(predictions, list(METRICS), by=("model", "fraction"),
                                      reference=refs, **runs.scoring_options(run_dir, data))
    ref_model = diff["reference"].str.rsplit("/", n=1).str[0]
    ref_fraction = diff["reference"].str.rsplit("/", n=1).str[1].astype(float)
    keep = (diff["target"] == "overall") & (
        ((ref_model == diff["model"]) & (ref_fraction == 1.0))
        | ((diff["model"] == TRANSFORMER) & (ref_model == CNN)
           & (ref_fraction == diff["fraction"])))
    diff = diff[keep].assign(reference_model=ref_model[keep],
                             reference_fraction=ref_fraction[keep])
    return diff.sort_values(["model", "reference_model", "fraction", "metric"])[
        list(DIFFERENCE_COLUMNS)]


def as_recorded(predictions):
    """The prediction table as ``predictions.parquet`` keeps it (and as it is scored):
    :data:`PREDICTION_COLUMNS`, the values as float32."""
    import numpy as np

    return predictions[list(PREDICTION_COLUMNS)].astype(
        {"y_true": np.float32, "y_pred": np.float32}).reset_index(drop=True)


def display(results, runs):
    """The printed table: one row per model and fraction."""
    import pandas as pd

    rows = []
    for (model, fraction), g in results.groupby(["model", "fraction"], sort=False):
        cells = {m: g[g["metric"] == m].iloc[0] for m in METRICS}
        r = runs[(runs["model"] == model) & (runs["fraction"] == fraction)]
        rows.append({
            "fraction": f"{fraction:g}", "train genes": f"{int(g['n_train_genes'].iloc[0]):,}",
            "model": model, **{
                label: f"{c.value:.3f} [{c.ci_low:.3f}, {c.ci_high:.3f}]"
                for label, c in zip(("Pearson r²", "R²"), cells.values())},
            "early-stopped": (f"{int((r['stopped_by'] == 'early stopping').sum())}/{len(r)}"
                              if len(r) else "—")})
    return pd.DataFrame(rows)


def main(argv=None) -> int:
    from finetune_recipes import provenance

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--from", dest="source", required=True,
                   help="a finished run directory (read only)")
    p.add_argument("--fractions", type=float, nargs="+", default=None,
                   help="shares of the training genes below 1 (default 0.25 0.5; --quick 0.5)")
    p.add_argument("--out", default="benchmarks/results/learning_curve")
    p.add_argument("--profile", default="small", help="the settings of every model")
    p.add_argument("--seeds", type=int, default=None, help="default: the profile's n_seeds")
    p.add_argument("--work", default=None, help="scratch folder for the models (default: a "
                   "temporary folder, removed at the end)")
    p.add_argument("--quick", action="store_true",
                   help="smoke test: tiny profile, 1 seed, few epochs")
    p.add_argument("--rescore", action="store_true",
                   help="train nothing: score --out's predictions.parquet again")
    args = p.parse_args(argv)
    if args.rescore:
        return rescore(Path(args.source).resolve(), Path(args.out), argv)
    fractions = sorted(set(args.fractions or ([0.5] if args.quick else [0.25, 0.5])))
    if any(not 0 < f < 1 for f in fractions):
        p.error(f"--fractions must lie strictly between 0 and 1 (1 is the run's own models), "
                f"not {fractions}")
    if args.seeds is not None and args.seeds < 1:
        p.error("--seeds must be at least 1")
    run_dir = Path(args.source).resolve()
    try:
        check_run_dir(run_dir)
    except (FileNotFoundError, NotADirectoryError) as e:
        p.error(str(e))

    import pandas as pd

    from cornlib import dataset, io

    s = settings(args.profile, args.quick, args.seeds)
    out = Path(args.out)
    data = dataset.load(run_dir, proxy=False)
    load0, t0 = os.getloadavg()[0], time.perf_counter()
    print(f"{run_dir}: {int((data.table['split'] == 'train').sum()):,} training genes; "
          f"fractions {fractions} and 1 (the run's models); seeds {s['seeds']}; profile "
          f"{s['profile']}", flush=True)
    work = Path(args.work) if args.work else Path(tempfile.mkdtemp(prefix="learning_curve_"))
    try:
        preds, runs = full_run(run_dir, data, s)
        preds, runs = [preds.assign(fraction=1.0)], [runs]
        n_train = {1.0: int((data.table["split"] == "train").sum())}
        for f in fractions:
            p_f, r_f, n_train[f] = train_fraction(run_dir, data, f, s, work)
            preds.append(p_f.assign(fraction=f))
            runs.append(r_f)
    finally:
        if not args.work:
            shutil.rmtree(work, ignore_errors=True)
    predictions = as_recorded(pd.concat(preds, ignore_index=True))
    runs = pd.concat(runs, ignore_index=True).sort_values(["model", "fraction", "seed"])
    results = score(predictions, run_dir, data, n_train)
    diffs = differences(predictions, run_dir, data)
    seconds = time.perf_counter() - t0

    out.mkdir(parents=True, exist_ok=True)
    results.to_csv(out / "results.csv", index=False)
    diffs.to_csv(out / "differences.csv", index=False)
    runs.to_csv(out / "runs.csv", index=False)
    io.write_parquet(out / "predictions.parquet", predictions)
    command = ["benchmarks/learning_curve.py", *(sys.argv[1:] if argv is None else argv)]
    meta = provenance(s["profile"], seconds, command, load0, **{
        "from": str(run_dir), "fractions": [*fractions, 1.0], "seeds": s["seeds"]})
    (out / "meta.json").write_text(json.dumps(meta, indent=1, default=str))
    report(results, diffs, runs)
    print(f"{seconds / 60:.1f} minutes; written to {out}")
    return 0


def report(results, diffs, runs) -> None:
    """Print the curve, the paired differences and how the runs ended."""
    from finetune_recipes import markdown

    print(markdown(display(results, runs)))
    rows = diffs.assign(
        pair=[f"{m} {f:g} − {rm} {rf:g}" for m, f, rm, rf in zip(
            diffs["model"], diffs["fraction"], diffs["reference_model"],
            diffs["reference_fraction"])],
        cell=[f"{v:+.3f} [{lo:+.3f}, {hi:+.3f}] {verdict}" for v, lo, hi, verdict in zip(
            diffs["value"], diffs["ci_low"], diffs["ci_high"], diffs["verdict"])])
    print(markdown(rows.pivot(index="pair", columns="metric", values="cell")
                   .reset_index()[["pair", *METRICS]]))
    converged = int((runs["stopped_by"] == "early stopping").sum())
    print(f"early stopping ended {converged} of {len(runs)} runs")


def rescore(run_dir: Path, out: Path, argv) -> int:
    """Score ``out/predictions.parquet`` again (``results.csv``, ``differences.csv``), with
    the fractions' training genes of ``out/results.csv``; ``meta.json`` records it."""
    import pandas as pd

    from cornlib import dataset

    check_run_dir(run_dir)
    data = dataset.load(run_dir, proxy=False)
    predictions = pd.read_parquet(out / "predictions.parquet")
    old = pd.read_csv(out / "results.csv")
    n_train = dict(zip(old["fraction"], old["n_train_genes"]))
    results = score(predictions, run_dir, data, n_train)
    diffs = differences(predictions, run_dir, data)
    results.to_csv(out / "results.csv", index=False)
    diffs.to_csv(out / "differences.csv", index=False)
    meta = json.loads((out / "meta.json").read_text())
    from finetune_recipes import machine

    meta["rescored"] = {**machine(), "command": " ".join(
        ["python", "benchmarks/learning_curve.py", *(sys.argv[1:] if argv is None else argv)])}
    (out / "meta.json").write_text(json.dumps(meta, indent=1, default=str))
    report(results, diffs, pd.read_csv(out / "runs.csv"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
