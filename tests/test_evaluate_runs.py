"""cornlib.evaluate.runs: chapter 08's evaluation of a run directory, inputs through the registry."""

import shutil

import numpy as np
import pandas as pd
import pytest
import torch

from cornlib import io, models, training
from cornlib.dataset import ModellingData
from cornlib.evaluate import metrics, runs

TISSUES = ["t1", "t2"]


def _data(n=48):
    rng = np.random.default_rng(0)
    table = pd.DataFrame({
        "gene_id": [f"g{i:03d}" for i in range(n)],
        "species": np.where(np.arange(n) % 2 == 0, "sp_a", "sp_b"),
        "sequence": ["".join(rng.choice(list("ACGT"), 64)) for _ in range(n)],
        "cluster_id": np.arange(n) // 4,
        "split": np.where(np.arange(n) < n // 2, "train", "test"),
        "t1": rng.normal(size=n), "t2": rng.normal(size=n)})
    return ModellingData(table=table, tissues=TISSUES)


def _save_cnn(path, seed):
    config = models.PromoterCNNConfig(seq_length=64, n_targets=2, channels=[4], kernel_sizes=[5],
                                      pool_sizes=[2], hidden_size=8, target_names=TISSUES,
                                      target_mean=[0.0, 0.0], target_std=[1.0, 1.0])
    torch.manual_seed(seed)
    training.save_model(models.PromoterCNN(config), path)


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("run")
    data = _data()
    for seed, name in enumerate(["pretrained", "from_sp_a", "from_sp_b"]):
        _save_cnn(run_dir / "finetune" / name / "model", seed)
    io.write_json(run_dir / "baselines" / "bootstrap.json",
                  {"n_bootstrap": 30, "seed": 1, "ci": 0.9, "ci_method": "percentile",
                   "groups": "cluster_id", "signal": None})
    test = data.rows("test")
    mean = pd.concat([pd.DataFrame({"model": "mean", "gene_id": test["gene_id"],
                                    "species": test["species"], "target": t,
                                    "y_true": test[t], "y_pred": 0.0}) for t in TISSUES])
    io.write_parquet(run_dir / "baselines" / "predictions.parquet", mean)
    return run_dir, data


def test_scoring_repeats_the_baselines_bootstrap(run):
    run_dir, data = run
    options = runs.scoring_options(run_dir, data)
    assert (options["n_bootstrap"], options["seed"], options["ci"]) == (30, 1, 0.9)
    assert options["ci_method"] == "percentile" and options["signal"] is None
    assert options["groups"].loc["g005"] == 1 and options["overall_targets"] == TISSUES
    assert runs.per_subset(options)["ceiling"] is None


def test_every_model_is_scored_beside_the_baselines(run):
    run_dir, data = run
    options = runs.scoring_options(run_dir, data)
    predictions = runs.split_predictions(run_dir, data, ["pretrained"], device="cpu")
    assert set(predictions["model"]) == {"mean", "pretrained"}
    assert len(predictions) == 2 * 24 * 2  # two models, 24 test genes, two tissues
    results = metrics.evaluate_predictions(predictions, **options)
    assert {"pretrained", "mean"} == set(results["model"])
    refs = runs.references(predictions, ["cnn", "mean"])
    diffs = metrics.paired_differences(predictions, "r2", reference=refs, **options)
    assert set(diffs["verdict"]) <= set(metrics.VERDICTS)
    species = runs.by_species(predictions, options)
    assert set(species["species"]) == {"sp_a", "sp_b"}


def test_cross_species_models_predict_the_other_species(run):
    run_dir, data = run
    cross = runs.cross_species(run_dir, data, device="cpu")
    seen = cross.groupby("model")["species"].unique().to_dict()
    assert list(seen["from_sp_a"]) == ["sp_b"] and list(seen["from_sp_b"]) == ["sp_a"]
    one = ModellingData(table=data.table[data.table["species"] == "sp_a"], tissues=TISSUES)
    assert runs.cross_species(run_dir, one).empty


def test_missing_inputs_name_their_chapter(tmp_path, run):
    _, data = run
    with pytest.raises(FileNotFoundError, match="04_baselines"):
        runs.scoring_options(tmp_path, data)
    with pytest.raises(FileNotFoundError, match="07_finetune"):
        runs.load_models(tmp_path, ["pretrained"])


def test_reference_baseline_is_the_one_chosen_on_valid(tmp_path):
    from cornlib import baselines

    with pytest.raises(FileNotFoundError, match="04_baselines"):
        runs.reference_baseline(tmp_path)
    scores = pd.Series({"kmer_ridge": 0.1, "motif_gbm": 0.2, "oracle": 0.5})
    io.write_json(tmp_path / "baselines" / "selection.json",
                  baselines.selection_record(scores, baselines.choose_on_valid(scores)))
    record = runs.reference_baseline(tmp_path)
    assert record["reference"] == "motif_gbm" and record["valid_r2"] == 0.2
    io.write_json(tmp_path / "baselines" / "selection.json", {"reference": "cnn", "split": "test"})
    with pytest.raises(ValueError, match="chosen on valid"):
        runs.reference_baseline(tmp_path)


def test_models_without_a_target_are_named():
    predictions = pd.DataFrame({"model": ["cnn", "cnn", "pretrained", "mean"],
                                "target": ["t1", "proxy", "t1", "proxy"]})
    assert runs.without_target(predictions, "proxy") == ["pretrained"]
    assert runs.without_target(predictions, "t1") == ["mean"]
    assert runs.references(predictions, ["cnn", "nope", "cnn", "mean"]) == ["cnn", "mean"]


def test_the_proxy_run_predicts_the_proxy_genes_under_the_transformers_name(tmp_path, run):
    from dataclasses import replace

    run_dir, data = run
    assert runs.proxy_predictions(tmp_path, data, "pretrained").empty  # no proxy in the data
    table = data.table.assign(proxy=np.where(data.table["species"] == "sp_a", 1.0, np.nan))
    with_proxy = replace(data, table=table, proxy="proxy")
    with pytest.raises(FileNotFoundError, match="07_finetune"):
        runs.proxy_predictions(tmp_path, with_proxy, "pretrained")
    config = models.PromoterCNNConfig(seq_length=64, n_targets=1, channels=[4], kernel_sizes=[5],
                                      pool_sizes=[2], hidden_size=8, target_names=["proxy"],
                                      target_mean=[0.0], target_std=[1.0])
    training.save_model(models.PromoterCNN(config), tmp_path / "finetune" / "proxy" / "model")
    out = runs.proxy_predictions(tmp_path, with_proxy, "pretrained", device="cpu")
    assert set(out["model"]) == {"pretrained"} and set(out["target"]) == {"proxy"}
    assert set(out["species"]) == {"sp_a"} and len(out) == 12  # the sp_a test genes
    shutil.copytree(run_dir / "baselines", tmp_path / "baselines")
    with pytest.raises(ValueError, match="do not match"):  # a proxy model is no tissue model
        runs.split_predictions(tmp_path, data, ["proxy"])


def test_every_seed_of_a_run_predicts_under_its_seed(tmp_path, run):
    from cornlib.training import TrainResult, seeds

    run_dir, data = run
    shutil.copytree(run_dir, tmp_path, dirs_exist_ok=True)
    folder = tmp_path / "finetune" / "twice"
    results = {}
    for s, r2 in [(3, 0.1), (4, 0.2)]:
        shutil.copytree(run_dir / "finetune" / "pretrained" / "model",
                        folder / f"seed_{s}" / "model")
        results[s] = TrainResult(None, pd.DataFrame(), folder / f"seed_{s}",
                                 {"best_valid_r2": r2, "best_epoch": 2.0})
    assert seeds.keep_best(results, folder) == 4 and (folder / "model").is_dir()
    assert runs.seed_models(tmp_path, "twice").keys() == {3, 4}
    assert runs.seed_models(tmp_path, "pretrained").keys() == {0}
    predictions = runs.split_predictions(tmp_path, data, ["twice"], device="cpu")
    ours = predictions[predictions["model"] == "twice"]
    assert ours.groupby("seed").size().to_dict() == {3: 48, 4: 48}
    results = metrics.evaluate_predictions(predictions, n_bootstrap=20,
                                           overall_targets=TISSUES)
    assert results.groupby("model").size()["twice"] == results.groupby("model").size()["mean"]
    shutil.copytree(folder, tmp_path / "baselines" / "cnn" / "tissues")
    valid = runs.seed_predictions(tmp_path, data, {"net": "baselines/cnn/tissues"},
                                  split="test", device="cpu")
    assert set(valid["model"]) == {"net"} and set(valid["seed"]) == {3, 4}
    assert set(valid["gene_id"]) == set(data.rows("test", [])["gene_id"])


def test_valid_history_says_whether_cross_species_runs_learned(tmp_path):
    from cornlib.evaluate import runs as R

    assert R.valid_history(tmp_path).empty
    assert "No cross-species run" in R.learned_sentence(R.valid_history(tmp_path))
    for run, curve in [("from_a", [-0.001, 0.002, 0.001]), ("from_b", [0.01, 0.05, 0.04])]:
        folder = tmp_path / "finetune" / run
        folder.mkdir(parents=True)
        pd.DataFrame({"epoch": [1.0, 2.0, 3.0], "r2": curve}).to_parquet(
            folder / "valid_r2.parquet")
    table = R.valid_history(tmp_path).set_index("run")
    assert table.loc["from_b", "best_epoch"] == 2.0 and table.loc["from_b", "learned"]
    assert not table.loc["from_a", "learned"]
    assert table["improving"].tolist() == [False, False]
    cnn = tmp_path / "baselines" / "cnn" / "tissues"
    cnn.mkdir(parents=True)
    pd.DataFrame({"epoch": [1.0, 2.0], "r2": [0.01, 0.05]}).to_parquet(cnn / "valid_r2.parquet")
    cnn_history = R.valid_history(tmp_path, "baselines/cnn/*")
    assert cnn_history["improving"].tolist() == [True]
    assert R.improving_sentence(cnn_history, "the CNN").startswith("The CNN (tissues) had")
    assert R.improving_sentence(table.reset_index(), "x").startswith("Every run of x")
    text = R.learned_sentence(table.reset_index())
    assert text.startswith("from_a learned nothing") and "0.002" in text
