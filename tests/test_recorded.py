"""cornlib.evaluate.recorded: a recorded run is written with its provenance and read back."""

import pandas as pd
import pytest

from cornlib.evaluate import recorded

META = {"profile": "long", "git": "abc1234", "cpu": "AMD EPYC", "cores": 2,
        "date": "2026-12-06 04:00 UTC", "seconds": 1800.0, "command": "python -m cornlib.run"}


def _run_dir(tmp_path):
    run = tmp_path / "runs" / "long"
    (run / "finetune").mkdir(parents=True)
    (run / "evaluate").mkdir()
    pd.DataFrame({"best_valid_r2": [0.2], "stopped_by": ["early stopping"]},
                 index=["transformer, random init, seed 0"]).to_parquet(
        run / "finetune" / "runs.parquet")
    pd.DataFrame({"model": ["pretrained"], "target": ["overall"], "metric": ["r2"],
                  "value": [0.2], "ci_low": [0.1], "ci_high": [0.3]}).to_parquet(
        run / "evaluate" / "results.parquet")
    rows = [dict(model="pretrained", reference="random_init", target="overall", metric=m,
                 value=0.01, ci_low=-0.01, ci_high=0.03) for m in ("pearson_r2", "r2")]
    pd.DataFrame(rows).to_parquet(run / "evaluate" / "differences.parquet")
    return run


def test_a_record_round_trips_with_its_provenance(tmp_path):
    run = _run_dir(tmp_path)
    out = tmp_path / "results" / "long"
    written = recorded.export(run, out, META)
    assert {p.name for p in written} == {"runs.csv", "results.csv", "differences.csv",
                                         "meta.json"}
    rec = recorded.load(out)
    assert rec.tables["runs"].index.tolist() == ["transformer, random init, seed 0"]
    assert rec.tables["cross_species"].empty
    assert "profile long, commit abc1234" in rec.label and "30 minutes" in rec.label
    assert "recorded run" in recorded.intro(rec, "small")
    assert "itself" in recorded.intro(rec, "long")
    assert recorded.ablation(rec) == [
        "pretrained is indistinguishable from random_init on Pearson r² (Δ Pearson r² = "
        "+0.010 [-0.010, +0.030]) and on R² (Δ R² = +0.010 [-0.010, +0.030])"]


def test_no_record_and_incomplete_records(tmp_path):
    assert recorded.load(tmp_path / "nothing") is None and recorded.load(None) is None
    assert "No recorded longer run" in recorded.intro(None, "small")
    with pytest.raises(ValueError, match="lacks"):
        recorded.export(tmp_path, tmp_path / "out", {"profile": "long"})
    with pytest.raises(FileNotFoundError, match="chapters 07 and 08"):
        recorded.export(tmp_path, tmp_path / "out", META)
    assert recorded.resolve("benchmarks/results/long").is_absolute()


def test_the_recipe_benchmark_table_is_read_back(tmp_path):
    assert recorded.recipes(str(tmp_path / "none*.csv")) is None
    pd.DataFrame({"recipe": ["a", "b"], "seeds": [3, 3], "valid_r2_mean": [0.2, 0.22],
                  "valid_r2_sd": [0.01, 0.02], "valid_r2_min": [0.19, 0.2],
                  "valid_r2_max": [0.21, 0.24], "best_epoch_mean": [20.0, 18.0],
                  "epochs_run_mean": [23.0, 21.0], "early_stopped": [3, 2],
                  "seconds_mean": [100.0, 90.0], "delta_mean": [float("nan"), 0.02],
                  "delta_low": [float("nan"), -0.01], "delta_high": [float("nan"), 0.05],
                  "delta_n": [0, 3], "stopped": ["x", "y"], "note": ["", ""],
                  "git": "abc", "cpu": "AMD EPYC", "cores": 2, "date": "2026-12-06"}
                 ).to_csv(tmp_path / "r.csv", index=False)
    pd.DataFrame({"x": [1]}).to_csv(tmp_path / "r_runs.csv", index=False)  # not a summary
    label, table = recorded.recipes(str(tmp_path / "r*.csv"))
    assert label == "r.csv: commit abc, AMD EPYC (2 cores), 2026-12-06"
    assert table.loc["a", "Δ vs reference [95% t]"] == "reference"
    assert table.loc["b", "Δ vs reference [95% t]"] == "+0.020 [-0.010, +0.050]"
    assert table.loc["b", "ended by early stopping"] == "2/3"
