"""cornlib.training.arms and the chapter-level sentences of cornlib.evaluate.runs: which arms
run, what is said of those that do not, and whether the book's target was met."""

import json

import pandas as pd
import pytest

from cornlib.evaluate import runs as R
from cornlib.training import arms


def test_the_ablation_runs_exactly_when_pretraining_passed_unless_forced():
    assert "ablation runs" in arms.ablation_note(True, "auto")
    assert "not run" in arms.ablation_note(False, "auto")
    assert "asks for it" in arms.ablation_note(False, True)
    assert "recorded longer run" in arms.ablation_note(True, False)
    assert "switched off" in arms.ablation_note(False, False)
    with pytest.raises(ValueError, match="ablation must be"):
        arms.ablation_note(True, "sometimes")


def test_arms_not_trained_leave_no_folder_behind(tmp_path):
    (tmp_path / "pretrained" / "model").mkdir(parents=True)
    (tmp_path / "random_init" / "model").mkdir(parents=True)
    assert arms.clear_runs(tmp_path, arms.ABLATION_RUNS) == ["pretrained"]
    assert not (tmp_path / "pretrained").exists() and (tmp_path / "random_init").exists()
    run_dir = tmp_path.parent / (tmp_path.name + "_run")
    (run_dir / "finetune" / "random_init" / "model").mkdir(parents=True)
    assert R.trained_runs(run_dir, ["pretrained", "random_init", "probe"]) == ["random_init"]


def test_the_chosen_seed_is_read_from_the_record(tmp_path):
    with pytest.raises(FileNotFoundError, match="several seeds"):
        arms.chosen_seed(tmp_path)
    (tmp_path / "seeds.json").write_text(json.dumps({"chosen_seed": 2, "runs": {}}))
    assert arms.chosen_seed(tmp_path) == 2


def test_cross_species_runs_and_what_is_said_of_them():
    assert arms.cross_species_runs(["b", "a", "a"]) == ["from_a", "from_b"]
    assert arms.cross_species_runs(["a"]) == []
    assert "needs two or more species" in arms.cross_species_note(True, ["a"])
    assert "not trained in this profile" in arms.cross_species_note(False, ["a", "b"])
    assert "early stopping" in arms.cross_species_note(True, ["a", "b"])


def _tables(tf_r2, oracle_r2, lo, hi):
    results = pd.DataFrame({"model": ["tf", "oracle"], "target": "overall",
                            "metric": "pearson_r2", "value": [tf_r2, oracle_r2]})
    diffs = pd.DataFrame({"model": ["tf"], "reference": ["gbm"], "target": ["overall"],
                          "metric": ["pearson_r2"], "value": [(lo + hi) / 2],
                          "ci_low": [lo], "ci_high": [hi]})
    return results, diffs


def test_the_target_needs_a_paired_win_and_sixty_percent_of_the_oracle():
    met = R.target_sentence(*_tables(0.33, 0.5, 0.01, 0.05), "tf", "gbm")
    assert met.startswith("It is met:") and "66%" in met and "0.300" in met
    part = R.target_sentence(*_tables(0.25, 0.5, 0.01, 0.05), "tf", "gbm")
    assert part.startswith("It is met in part") and "50%" in part
    not_met = R.target_sentence(*_tables(0.25, 0.5, -0.02, 0.05), "tf", "gbm")
    assert not_met.startswith("It is not met") and "indistinguishable" in not_met
    results, diffs = _tables(0.25, 0.5, -0.02, 0.05)
    results = results[results["model"] != "oracle"]
    assert "no oracle" in R.target_sentence(results, diffs, "tf", "gbm")


def test_the_ablation_text_says_why_it_is_empty():
    assert R.ablation_text([]).startswith("This build trained no pretrained arm")
    assert R.ablation_text(["a beats b", "c is indistinguishable from b"]).endswith(
        "a beats b; c is indistinguishable from b.")


def test_pretraining_lengths_are_found_and_tabled_by_steps(tmp_path):
    from cornlib.training import TrainResult
    from cornlib.training.finetune import run_label

    for name in ("pretrained_900", "pretrained_100", "pretrained", "pretrained_x"):
        (tmp_path / name).mkdir()
    assert arms.length_runs(tmp_path) == ["pretrained_100", "pretrained_900"]
    assert run_label("pretrained_1000") == "transformer, pretrained 1,000 steps"

    def gate(d_comp, d_markov):
        return pd.DataFrame({"metric": ["model_minus_composition", "model_minus_markov"],
                             "value": [d_comp, d_markov],
                             "verdict": ["better" if d_comp < 0 else "worse", "better"]})

    def arm(*r2):
        return {s: TrainResult(None, pd.DataFrame(), tmp_path, {"best_valid_r2": v})
                for s, v in enumerate(r2)}

    table = arms.trend_table({300: gate(-0.002, -0.005), 100: gate(0.01, -0.001)},
                             {300: arm(0.2, 0.24), 100: arm(0.1, 0.12)})
    assert table["pretraining steps"].tolist() == [100, 300]
    assert table["passes"].tolist() == [False, True]
    assert table["valid R² (mean of seeds)"].tolist() == pytest.approx([0.11, 0.22])
