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
    text = recorded.recipe_sentence(table, "b", "a")
    assert text.startswith("b: mean best valid R² 0.220 over 3 seeds, sd 0.020, 2/3 ended")
    assert "against a: mean best valid R² 0.200" in text
    assert recorded.recipe_sentence(table, "florabert", "a") == ""


def test_a_learning_curve_is_read_back_paired_and_checked_against_the_genes(tmp_path):
    import json
    import sys
    from pathlib import Path

    import numpy as np

    sys.path.insert(0, str(Path(__file__).parent))
    from test_shortfall import TISSUES, _world

    genes, W, B, gated, truth, signal, card, clusters = _world(n=200)
    run = tmp_path / "run"
    (run / "targets").mkdir(parents=True)
    truth.to_parquet(run / "targets" / "truth_sites.parquet")
    signal.to_parquet(run / "targets" / "signal.parquet")
    S = signal[TISSUES].to_numpy()
    rng = np.random.default_rng(0)
    y = S + rng.normal(0, 0.5, S.shape)
    parts, results = [], []
    for fraction, strength, sd in [(0.5, 0.3, 0.6), (1.0, 0.8, 0.05)]:
        for model in ("random_init", "oracle"):
            for seed in (0, 1):
                pred = 3 + strength * (S - 3) + rng.normal(0, sd, S.shape)
                parts.append(pd.DataFrame({
                    "model": model, "fraction": fraction, "seed": seed,
                    "gene_id": np.repeat(genes, 3), "target": np.tile(TISSUES, len(genes)),
                    "y_true": y.ravel(), "y_pred": pred.ravel()}))
            results += [dict(fraction=fraction, n_train_genes=int(1000 * fraction), model=model,
                             metric=m, value=strength / 2, ci_low=0.0, ci_high=1.0)
                        for m in ("pearson_r2", "r2")]
    out = tmp_path / "curve"
    out.mkdir()
    pd.concat(parts).to_parquet(out / "predictions.parquet")
    pd.DataFrame(results).to_csv(out / "results.csv", index=False)
    assert recorded.curve(out) is None  # no meta.json: no record
    (out / "meta.json").write_text(json.dumps({**META, "profile": "small"}))
    with pytest.raises(FileNotFoundError, match="runs.csv"):
        recorded.curve(out)
    pd.DataFrame({"fraction": [0.5], "model": ["random_init"]}).to_csv(out / "runs.csv")
    with pytest.raises(FileNotFoundError, match="differences.csv"):
        recorded.curve(out)
    pd.DataFrame([dict(model=m, fraction=f, reference_model=m, reference_fraction=1.0,
                       metric=metric, value=-0.2, ci_low=-0.3, ci_high=-0.1, verdict="worse")
                  for m in ("random_init", "oracle") for f in (0.25, 0.5)
                  for metric in ("pearson_r2", "r2")]).to_csv(out / "differences.csv")
    rec = recorded.curve(out)

    class Data:  # the two things curve_tables reads of a ModellingData
        @staticmethod
        def rows(split, targets):
            return pd.DataFrame(y, columns=TISSUES).assign(gene_id=genes)

    Data.card = card
    options = {"overall_targets": TISSUES, "n_bootstrap": 50, "seed": 0,
               "groups": clusters}
    steps, carried = recorded.curve_tables(rec, run, Data, options)
    assert set(steps["model"]) == {"random_init", "oracle"}
    assert (steps["fraction"] == 1.0).all() and (steps["from_fraction"] == 0.5).all()
    assert set(steps["verdict"]) == {"better"}
    assert set(carried["model"]) == {"random_init"}  # the oracle reads sites, not sequence
    from cornlib.evaluate.shortfall import ALL

    share = carried[carried["motif"] == ALL].set_index("fraction")["value"]
    assert share[0.5] == pytest.approx(0.3, abs=0.06) and share[1.0] == pytest.approx(0.8, abs=0.02)
    text = recorded.curve_sentence(rec, steps, carried, {"random_init": "the transformer"},
                                   missed=["M2"])
    assert "Trained on 500, 1,000 genes" in text
    assert "the transformer with 1,000 genes beats the transformer with 500 genes" in text
    assert "weighted by their variance, goes the transformer 33% → 79%" in text
    assert "Of the drivers the transformer misses in this build" in text and "name_M2 3" in text
    short = recorded.curve_summary(rec, steps, "random_init", {"random_init": "the model"})
    assert "over 500 → 1,000 training genes the test Pearson r² of the model goes" in short
    assert "still rising" not in short  # the oracle improved too

    import matplotlib

    matplotlib.use("Agg")
    from cornlib.plots.scores import learning_curve

    fig, axes = learning_curve(rec.tables["results"], carried, labels={"oracle": "the oracle"})
    assert len(axes) == 2 and "the oracle" in [t.get_text() for t in axes[0].get_legend().texts]
    assert [t.get_text() for t in axes[0].get_xticklabels()] == ["500", "1,000"]
    _, ax = learning_curve(pd.DataFrame(columns=["metric"]))
    assert "No learning curve" in ax.texts[0].get_text()

    class Other(Data):
        @staticmethod
        def rows(split, targets):
            return pd.DataFrame(y[:10], columns=TISSUES).assign(gene_id=genes[:10])

    with pytest.raises(ValueError, match="10 of 10 test genes shared"):
        recorded.curve_tables(rec, run, Other, options)

    class Resimulated(Data):
        @staticmethod
        def rows(split, targets):
            return pd.DataFrame(y + 1, columns=TISSUES).assign(gene_id=genes)

    with pytest.raises(ValueError, match="other target values"):
        recorded.curve_tables(rec, run, Resimulated, options)
