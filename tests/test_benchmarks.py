"""Smoke tests of the benchmarks in ``benchmarks/`` (tiny sizes; no timing thresholds)."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

from cornlib.paths import REPO_ROOT


@pytest.mark.slow
def test_train_throughput_quick():
    """train_throughput.py --quick prints its table: both models, both setups, each thread
    count, positive rates and fractions of a positive measured peak."""
    out = subprocess.run(
        [sys.executable, str(REPO_ROOT / "benchmarks" / "train_throughput.py"), "--quick",
         "--threads", "1", "2"],
        check=True, capture_output=True, text=True, timeout=600,
        env={**os.environ, "HF_HUB_OFFLINE": "1", "TQDM_DISABLE": "1"}).stdout
    assert "random base codes" in out
    assert "FlopCounterMode" in out
    peaks = re.findall(r"fp32 matmul peak, (\d) thread\(s\): ([\d.]+) GFLOP/s", out)
    assert {t for t, _ in peaks} == {"1", "2"}
    assert all(float(v) > 0 for _, v in peaks)
    assert any(line.split() == ["model", "threads", "setup", "steps", "batch", "seconds",
                                "seq/s", "GFLOP/s", "%", "of", "peak", "vs", "plain"]
               for line in out.splitlines())
    rows = [line.split() for line in out.splitlines()
            if line.split()[:1] in (["hybrid"], ["cnn"]) and len(line.split()) == 10]
    seen = {(r[0], r[1], r[2]) for r in rows}
    assert seen == {(m, t, s) for m in ("hybrid", "cnn") for t in ("1", "2")
                    for s in ("plain", "driver")}
    for r in rows:
        seq_s, gflop_s, share, ratio = (float(x) for x in r[6:10])
        assert seq_s > 0 and gflop_s > 0 and share > 0 and ratio > 0
    mflop = dict(re.findall(r"^(hybrid|cnn): ([\d.]+) MFLOP per sequence", out, re.M))
    assert set(mflop) == {"hybrid", "cnn"} and all(float(v) > 0 for v in mflop.values())


def _benchmark(name: str):
    """The module ``benchmarks/<name>.py``."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(name, REPO_ROOT / "benchmarks" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _recipes_module():
    return _benchmark("finetune_recipes")


def test_finetune_recipes_summary_pairs_seeds_with_a_t_interval():
    """The recipe table: mean, sd and range over seeds, the paired per-seed difference to the
    reference with its Student-t interval, and how the runs stopped in words."""
    import pandas as pd
    from scipy import stats

    fr = _recipes_module()
    ref, other = "hybrid, random init", "hybrid, random init, pool 32"
    runs = pd.DataFrame({
        "recipe": [ref] * 3 + [other] * 3, "seed": [0, 1, 2] * 2,
        "best_valid_r2": [0.20, 0.22, 0.24, 0.21, 0.25, 0.24],
        "best_epoch": [10.0, 12.0, 14.0, 8.0, 9.0, 10.0],
        "epochs_run": [13.0, 15.0, 17.0, 11.0, 12.0, 60.0],
        "stopped_by": ["early stopping"] * 5 + ["epochs"],
        "seconds": [100.0, 110.0, 120.0, 50.0, 60.0, 70.0], "note": ""})
    summary = fr.summarise(runs, ref).set_index("recipe")
    assert summary.loc[ref, "valid_r2_mean"] == pytest.approx(0.22)
    assert summary.loc[ref, "valid_r2_sd"] == pytest.approx(0.02)
    assert summary.loc[ref, "early_stopped"] == 3 and summary.loc[ref, "delta_n"] == 0
    row = summary.loc[other]
    diffs = [0.01, 0.03, 0.0]
    half = stats.t.ppf(0.975, 2) * pd.Series(diffs).std() / 3 ** 0.5
    assert row["delta_mean"] == pytest.approx(sum(diffs) / 3)
    assert row["delta_low"] == pytest.approx(sum(diffs) / 3 - half)
    assert row["delta_high"] == pytest.approx(sum(diffs) / 3 + half)
    assert (row["valid_r2_min"], row["valid_r2_max"]) == (0.21, 0.25)
    assert row["early_stopped"] == 2 and row["stopped"] == (
        "early stopping 2, epoch cap 1 (not converged)")
    assert fr.stopped_words(["time budget", "early stopping"]).endswith(
        "(stopped by time budget, not converged)")
    table = fr.display(fr.summarise(runs, ref), ref)
    assert table.iloc[0, 9] == "reference" and "(n=3)" in table.iloc[1, 9]
    assert fr.select(["hybrid, random init, pool"], ref) == [ref, other]
    with pytest.raises(ValueError, match="names no recipe"):
        fr.select(["nonsense"], ref)


def _tiny_run_dir(root, n=48):
    """A run directory with promoters, split and two simulated tissues (chapters 01–03)."""
    import numpy as np
    import pandas as pd

    from cornlib import io

    rng = np.random.default_rng(0)
    genes = [f"AT1G{i:05d}" for i in range(n)]
    io.write_parquet(root / "promoters.parquet", pd.DataFrame({
        "gene_id": genes, "species": "athaliana", "chrom": "1", "start": np.arange(n) * 2000,
        "end": np.arange(n) * 2000 + 300, "strand": "+",
        "sequence": ["".join(rng.choice(list("ACGT"), 300)) for _ in range(n)]}))
    labels = ["train"] * (n // 2) + ["valid"] * (n // 4) + ["test"] * (n - n // 2 - n // 4)
    io.write_parquet(root / "split.parquet", pd.DataFrame({
        "gene_id": genes, "species": "athaliana", "cluster_id": np.arange(n), "split": labels,
        "fold": [i % 2 if s == "train" else -1 for i, s in enumerate(labels)]}))
    io.write_parquet(root / "targets" / "expression.parquet", pd.DataFrame({
        "gene_id": genes, "sim_a": rng.normal(size=n), "sim_b": rng.normal(size=n)}))
    io.write_json(root / "targets" / "card.json",
                  {"kind": "simulated", "tissues": ["sim_a", "sim_b"]})
    return root


@pytest.mark.slow
def test_finetune_recipes_runs_seeds_and_writes_its_table(tmp_path):
    """finetune_recipes.py trains a recipe and the reference over 2 seeds (side by side in
    processes), prints the table and writes it with the machine; runs ended by the epoch cap
    are marked not converged."""
    run_dir = _tiny_run_dir(tmp_path / "run")
    out = tmp_path / "results" / "recipes.md"
    printed = subprocess.run(
        [sys.executable, str(REPO_ROOT / "benchmarks" / "finetune_recipes.py"),
         "--run-dir", str(run_dir), "--only", "hybrid, random init, pool 32", "--seeds", "2",
         "--max-epochs", "2", "--cores", "1", "--work", str(tmp_path / "work"),
         "--out", str(out)],
        check=True, capture_output=True, text=True, timeout=600, cwd=REPO_ROOT,
        env={**os.environ, "HF_HUB_OFFLINE": "1", "TQDM_DISABLE": "1",
             "OMP_NUM_THREADS": "1"}).stdout
    rows = [line for line in printed.splitlines() if line.startswith("| hybrid")]
    assert [r.split(" | ")[0] for r in rows] == ["| hybrid, random init",
                                                 "| hybrid, random init, pool 32"]
    assert all("epoch cap 2 (not converged)" in r and " 0/2 " in r for r in rows)
    assert "(n=2)" in rows[1] and "reference" in rows[0]
    text = out.read_text()
    assert "load average" in text and "cores" in text and "git " in text
    import pandas as pd

    runs = pd.read_csv(out.with_name("recipes_runs.csv"))
    assert sorted(runs["seed"]) == [0, 0, 1, 1] and set(runs["stopped_by"]) == {"epochs"}
    assert (runs["epochs_run"] == 2).all()


def _curve_module():
    return _benchmark("learning_curve")


def _finished_run_dir(root, lc):
    """:func:`_tiny_run_dir` with what chapters 04 and 07 leave for the learning curve: the CNN
    and the transformer's ``random_init`` arm trained on every training gene (the quick
    settings, one seed), the CNN's test predictions, the bootstrap settings and the signal."""
    import numpy as np
    import pandas as pd

    from cornlib import dataset, io

    run = _tiny_run_dir(root, n=64)
    data = dataset.load(run)
    s = lc.settings("small", True, 1)
    lc.train_transformer(data, s, run)
    io.write_parquet(run / "baselines" / "predictions.parquet",
                     lc.train_cnn(data, s, run).predictions)
    rng = np.random.default_rng(1)
    io.write_parquet(run / "targets" / "signal.parquet", pd.DataFrame({
        "gene_id": data.table["gene_id"], "sim_a": data.table["sim_a"] + 0.3 * rng.normal(size=64),
        "sim_b": data.table["sim_b"] + 0.3 * rng.normal(size=64)}))
    io.write_json(run / "baselines" / "bootstrap.json", {
        "n_bootstrap": 20, "seed": 0, "ci": 0.95, "ci_method": "percentile",
        "groups": "cluster_id", "overall_targets": ["sim_a", "sim_b"],
        "signal": "targets/signal.parquet"})
    return run


def test_learning_curve_subsets_whole_training_clusters():
    """A fraction keeps whole training clusters, about that share of the training genes,
    nested across fractions; valid and test stay as they are."""
    import numpy as np
    import pandas as pd

    from cornlib.dataset import ModellingData

    lc = _curve_module()
    rng = np.random.default_rng(0)
    clusters = np.repeat(np.arange(100), rng.integers(1, 5, 100))
    n = len(clusters)
    split = np.where(clusters < 80, "train", np.where(clusters < 90, "valid", "test"))
    data = ModellingData(pd.DataFrame({"gene_id": [f"g{i}" for i in range(n)],
                                       "cluster_id": clusters, "split": split}), ["t"])
    n_train = int((split == "train").sum())
    parts = {f: lc.subsample(data, f, seed=0).table for f in (0.25, 0.5)}
    for f, t in parts.items():
        train = t[t["split"] == "train"]
        assert f * n_train <= len(train) < f * n_train + 4
        full = data.table[data.table["cluster_id"].isin(train["cluster_id"])]
        assert len(full) == len(train)  # whole clusters
        assert (t["split"] != "train").sum() == (split != "train").sum()
    assert set(parts[0.25]["gene_id"]) <= set(parts[0.5]["gene_id"])
    assert not parts[0.5].equals(lc.subsample(data, 0.5, seed=1).table)
    with pytest.raises(ValueError, match="fraction"):
        lc.subsample(data, 0.0, seed=0)


@pytest.mark.slow
def test_learning_curve_quick(tmp_path, capsys):
    """learning_curve.py --quick retrains both networks on half the training clusters, scores
    them with the run's own models (fraction 1) and writes its files (--rescore scores the
    written predictions again, to the same results); a run directory without the trained
    models is refused, naming what is missing."""
    import json

    import pandas as pd

    from cornlib.evaluate import recorded

    lc = _curve_module()
    with pytest.raises(SystemExit):
        lc.main(["--from", str(_tiny_run_dir(tmp_path / "bare")), "--quick"])
    err = capsys.readouterr().err
    assert "not a finished run directory" in err and "finetune/random_init/seeds.json" in err
    run = _finished_run_dir(tmp_path / "run", lc)
    out = tmp_path / "curve"
    printed = subprocess.run(
        [sys.executable, str(REPO_ROOT / "benchmarks" / "learning_curve.py"), "--quick",
         "--from", str(run), "--out", str(out)],
        check=True, capture_output=True, text=True, timeout=600, cwd=REPO_ROOT,
        env={**os.environ, "HF_HUB_OFFLINE": "1", "TQDM_DISABLE": "1",
             "OMP_NUM_THREADS": "1"}).stdout
    assert "fraction 0.5 (16 training genes), random_init" in printed
    assert "early stopping ended" in printed
    results = pd.read_csv(out / "results.csv")
    assert list(results.columns) == list(lc.RESULT_COLUMNS)
    assert set(zip(results["fraction"], results["model"], results["metric"])) == {
        (f, m, k) for f in (0.5, 1.0) for m in ("random_init", "cnn")
        for k in ("pearson_r2", "r2")}
    assert (results["ci_low"] <= results["ci_high"]).all()
    assert dict(zip(results["fraction"], results["n_train_genes"])) == {0.5: 16, 1.0: 32}
    runs = pd.read_csv(out / "runs.csv")
    assert set(zip(runs["fraction"], runs["model"], runs["seed"])) == {
        (f, m, 0) for f in (0.5, 1.0) for m in ("random_init", "cnn")}
    assert (runs["epochs_run"] <= lc.QUICK_EPOCHS).all() and runs["stopped_by"].notna().all()
    preds = pd.read_parquet(out / "predictions.parquet")
    assert list(preds.columns) == list(lc.PREDICTION_COLUMNS)
    assert str(preds["y_pred"].dtype) == "float32" and set(preds["target"]) == {"sim_a",
                                                                                  "sim_b"}
    assert len(preds) == 4 * 16 * 2  # 2 models × 2 fractions, 16 test genes, 2 tissues
    diffs = pd.read_csv(out / "differences.csv")
    assert list(diffs.columns) == list(lc.DIFFERENCE_COLUMNS)
    assert set(zip(diffs["model"], diffs["fraction"], diffs["reference_model"],
                   diffs["reference_fraction"], diffs["metric"])) == {
        (*pair, k) for pair in [("random_init", 0.5, "random_init", 1.0),
                                ("cnn", 0.5, "cnn", 1.0), ("random_init", 0.5, "cnn", 0.5),
                                ("random_init", 1.0, "cnn", 1.0)]
        for k in ("pearson_r2", "r2")}
    meta = json.loads((out / "meta.json").read_text())
    assert set(recorded.META_KEYS) <= set(meta) and meta["profile"] == "tiny"
    assert "learning_curve.py" in meta["command"]
    assert lc.main(["--from", str(run), "--out", str(out), "--rescore"]) == 0
    pd.testing.assert_frame_equal(pd.read_csv(out / "results.csv"), results)
    assert "--rescore" in json.loads((out / "meta.json").read_text())["rescored"]["command"]
