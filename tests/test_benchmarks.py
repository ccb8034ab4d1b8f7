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


def _recipes_module():
    import importlib.util

    path = REPO_ROOT / "benchmarks" / "finetune_recipes.py"
    spec = importlib.util.spec_from_file_location("finetune_recipes", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


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
