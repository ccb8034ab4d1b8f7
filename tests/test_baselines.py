"""cornlib.baselines: train/valid/test discipline, tuning, predictions layout, the shuffled control."""

import numpy as np
import pandas as pd
import pytest

from cornlib import baselines, dataset, motifs
from cornlib.evaluate import claims, metrics
from cornlib.sequence import shuffle

MOTIF = "GATTACAG"


@pytest.fixture(scope="module")
def data():
    """300 random promoters; tissue targets count a planted 8-mer, the proxy follows GC."""
    rng = np.random.default_rng(0)
    n, length = 300, 150
    seqs, counts = [], []
    for _ in range(n):
        s = list(rng.choice(list("ACGT"), size=length))
        k = int(rng.integers(0, 4))
        for pos in rng.choice(np.arange(0, length - 8, 10), size=k, replace=False):
            s[pos:pos + 8] = MOTIF
        seqs.append("".join(s))
        counts.append(k)
    counts = np.array(counts, float)
    genes = [f"AT{i:04d}" if i % 2 else f"AA{i:04d}" for i in range(n)]
    species = ["athaliana" if i % 2 else "aarenosa" for i in range(n)]
    promoters = pd.DataFrame({"gene_id": genes, "species": species,
                              "chrom": "1", "start": 0, "end": length, "strand": "+", "sequence": seqs})
    labels = np.array(["train"] * 200 + ["valid"] * 50 + ["test"] * 50)
    split = pd.DataFrame({"gene_id": genes, "cluster_id": np.arange(n), "split": labels,
                          "fold": np.where(labels == "train", np.arange(n) % 2, -1)})
    expression = pd.DataFrame({"gene_id": genes,
                               "sim_a": counts + rng.normal(scale=0.3, size=n),
                               "sim_b": 2 * counts + rng.normal(scale=0.5, size=n)})
    gc = np.array([(s.count("G") + s.count("C")) / length for s in seqs])
    at = promoters["species"] == "athaliana"
    proxy = pd.DataFrame({"gene_id": promoters.loc[at, "gene_id"],
                          "proxy": 10 * gc[at] + rng.normal(scale=0.1, size=at.sum())})
    return dataset.assemble(promoters, split, expression, proxy=proxy, card={"kind": "simulated"})


def _r2(fit, target="overall"):
    res = metrics.evaluate_predictions(fit.predictions, overall_targets=["sim_a", "sim_b"], n_bootstrap=0)
    return res.set_index(["target", "metric"]).loc[(target, "r2"), "value"]


def test_predictions_cover_each_test_gene_and_target_once(data):
    fit = baselines.fit_mean(data)
    p = fit.predictions
    assert list(p.columns) == list(baselines.PREDICTION_COLUMNS)
    test_genes = set(data.table.loc[data.table["split"] == "test", "gene_id"])
    assert set(p["gene_id"]) == test_genes
    assert p.groupby("target").size().to_dict() == {"proxy": 25, "sim_a": 50, "sim_b": 50}
    assert (p.loc[p["target"] == "proxy", "species"] == "athaliana").all()
    train = data.table[data.table["split"] == "train"]
    assert np.allclose(p.loc[p["target"] == "sim_a", "y_pred"], train["sim_a"].mean())


def test_kmer_ridge_finds_the_planted_motif_and_beats_nucleotides(data):
    kmer = baselines.fit_kmer_ridge(data, [1.0, 30.0, 1000.0], k_max=4)
    nuc = baselines.fit_nucleotide_ridge(data, [1.0])
    assert _r2(kmer) > 0.5
    assert _r2(kmer) > _r2(nuc) + 0.2


def test_shuffled_control_loses_the_motif_but_keeps_composition(data):
    shuffled = shuffle.dinucleotide_shuffle(data.table["sequence"], seed=1)
    real = baselines.fit_kmer_ridge(data, [30.0], k_max=4)
    control = baselines.fit_kmer_ridge(data, [30.0], k_max=4, sequences=shuffled, model="shuffled")
    assert _r2(control) < _r2(real) - 0.3  # the 8-mer's order is gone
    assert _r2(control, "proxy") > 0.5  # GC content survives a dinucleotide shuffle


def test_tuning_keeps_the_best_valid_setting_per_group(data):
    fit = baselines.fit_kmer_ridge(data, [1e-3, 30.0, 1e6], k_max=3)
    for _, group in fit.tuning.groupby("group"):
        assert group["chosen"].sum() == 1
        assert group.loc[group["chosen"], "valid_r2"].iloc[0] == group["valid_r2"].max()


def test_kept_estimator_is_a_pipeline_from_sequences(data):
    fit = baselines.fit_kmer_ridge(data, [30.0], k_max=3)
    test = data.rows("test")
    direct = fit.estimators["tissues"].predict(test["sequence"].tolist())
    p = fit.predictions[fit.predictions["target"] == "sim_b"].set_index("gene_id").loc[test["gene_id"]]
    assert np.allclose(direct[:, 1], p["y_pred"])


def test_motif_gbm_tunes_iterations_on_valid(data):
    X = baselines.motif_features(data.table["sequence"].tolist(),
                                 [motifs.from_consensus(MOTIF, "X1", "planted"),
                                  motifs.from_consensus("TATAWAWR", "X2", "tata")], proximal=50)
    assert list(X.columns[:2]) == ["motif:X1", "motif:X2"]
    fit = baselines.fit_motif_gbm(data, X, max_iter=40, learning_rate=0.2, seed=0, threads=1)
    chosen = fit.tuning[fit.tuning["chosen"]]
    assert set(chosen["group"]) == {"sim_a", "sim_b", "proxy"}
    assert _r2(fit) > 0.3


def test_pick_motifs_keeps_the_most_informative_per_family():
    weak = motifs.Motif("M1", "a", "DOF", np.full((6, 4), 5.0) + np.eye(6, 4))
    strong = motifs.from_consensus("AAAGCT", "M2", "b")
    strong = motifs.Motif("M2", "b", "DOF", strong.counts)
    other = motifs.Motif("M3", "c", "MYB", motifs.from_consensus("CAGTTA", "M3", "c").counts)
    picked = baselines.pick_motifs([weak, strong, other], max_motifs=5)
    assert [m.matrix_id for m in picked] == ["M2", "M3"]
    assert len(baselines.pick_motifs([weak, strong, other], max_motifs=1)) == 1
    assert len(baselines.pick_motifs([weak, strong, other], max_motifs=None)) == 3


def test_replacement_sequences_must_align_with_the_table(data):
    with pytest.raises(ValueError, match="one per row"):
        baselines.fit_nucleotide_ridge(data, [1.0], sequences=["ACGT"] * 3)


def test_combine_rejects_repeated_names_and_summary_formats_ci(data):
    fit = baselines.fit_mean(data)
    with pytest.raises(ValueError, match="repeat"):
        baselines.combine([fit, fit])
    preds, tuning = baselines.combine([fit, baselines.fit_nucleotide_ridge(data, [1.0])])
    res = metrics.evaluate_predictions(preds, overall_targets=["sim_a", "sim_b"], n_bootstrap=20)
    table = baselines.summary(res, "r2")
    assert table.index.tolist() == ["mean", "nucleotide_ridge"]
    assert "[" in table.loc["nucleotide_ridge", "overall"]
    with pytest.raises(ValueError, match="no rows for metric"):
        baselines.summary(res, "nope")


def test_limit_threads_restores_the_thread_count():
    from threadpoolctl import threadpool_info

    before = [i["num_threads"] for i in threadpool_info()]
    with baselines.limit_threads(1):
        assert all(i["num_threads"] == 1 for i in threadpool_info())
    assert [i["num_threads"] for i in threadpool_info()] == before
    with pytest.raises(ValueError, match="positive"):
        with baselines.limit_threads(0):
            pass


def test_proxy_is_left_out_with_a_warning_when_a_split_lacks_it(data):
    from cornlib import CornlibWarning

    table = data.table.copy()
    table.loc[table["split"] == "test", "proxy"] = np.nan
    short = dataset.ModellingData(table=table, tissues=data.tissues, proxy="proxy")
    with pytest.warns(CornlibWarning, match="proxy is left out"):
        fit = baselines.fit_mean(short)
    assert "proxy" not in set(fit.predictions["target"])


def _truth(data):
    """A true-site table for the fixture: one driver row per planted copy, a core row for some."""
    rows = []
    for gene, seq in zip(data.table["gene_id"], data.table["sequence"]):
        k = seq.count(MOTIF)
        rows += [{"gene_id": gene, "motif": "X1", "role": "driver", "weight": 1.0}] * k
    genes = data.table["gene_id"].iloc[::3]
    rows += [{"gene_id": g, "motif": "sim:TATA", "role": "core", "weight": 1.0} for g in genes]
    return pd.DataFrame(rows)


def test_oracle_features_sum_site_weights_per_gene_in_table_order(data):
    X = baselines.oracle_features(_truth(data), data.table["gene_id"])
    assert list(X.columns) == ["site:X1", "core_gate"]
    counts = data.table["sequence"].str.count(MOTIF).to_numpy(float)
    assert np.array_equal(X["site:X1"].to_numpy(), counts)  # 0 for genes without a site
    assert X["core_gate"].to_numpy().tolist() == [float(i % 3 == 0) for i in range(len(X))]
    with pytest.raises(ValueError, match="truth lacks"):
        baselines.oracle_features(pd.DataFrame({"gene_id": []}), data.table["gene_id"])


def test_oracle_fits_the_tissues_only_and_reaches_what_the_sites_explain(data):
    X = baselines.oracle_features(_truth(data), data.table["gene_id"])
    fit = baselines.fit_oracle(data, X, [0.1, 10.0])
    assert set(fit.predictions["target"]) == {"sim_a", "sim_b"}
    assert set(fit.tuning["group"]) == {"tissues"}
    assert _r2(fit) > 0.8
    with pytest.raises(ValueError, match="unknown target groups"):
        baselines.fit_sklearn(data, "x", X, baselines._ridge, [1.0], only=["nope"])


def test_difference_summary_states_the_verdict(data):
    X = baselines.oracle_features(_truth(data), data.table["gene_id"])
    preds, _ = baselines.combine([baselines.fit_mean(data), baselines.fit_oracle(data, X, [1.0])])
    groups = data.table.set_index("gene_id")["cluster_id"]
    diffs = metrics.paired_differences(preds, ["r2", "pearson_r2"], reference="mean",
                                       overall_targets=["sim_a", "sim_b"], groups=groups,
                                       n_bootstrap=100)
    table = baselines.difference_summary(diffs, metric="r2")
    assert table.loc[("mean", "oracle"), "verdict"] == "better"
    assert table.loc[("mean", "oracle"), "difference [CI]"].startswith("+")
    assert baselines.difference_summary(diffs).loc[("mean", "oracle"), "difference [CI]"] == "—"


def test_describe_writes_the_comparison_from_the_interval():
    diffs = pd.DataFrame({"model": ["a", "b", "c"], "reference": "ref", "target": "overall",
                          "metric": "pearson_r2", "value": [0.1, -0.01, np.nan],
                          "ci_low": [0.05, -0.03, np.nan], "ci_high": [0.15, 0.02, np.nan]})
    assert claims.describe(diffs, "a", "ref") == \
        "a beats ref (Δ Pearson r² = +0.100 [+0.050, +0.150])"
    assert claims.describe(diffs, "b", "ref").startswith("b is indistinguishable from ref")
    assert claims.describe(diffs, "c", "ref") == "c cannot be compared with ref (Pearson r² undefined)"
    with pytest.raises(ValueError, match="no paired difference"):
        claims.describe(diffs, "a", "b")


def test_valid_scores_average_the_tissues_at_the_chosen_settings(data):
    X = baselines.motif_features(data.table["sequence"].tolist(),
                                 [motifs.from_consensus(MOTIF, "X1", "planted")], proximal=50)
    fits = [baselines.fit_mean(data), baselines.fit_kmer_ridge(data, [1.0, 30.0], k_max=3),
            baselines.fit_motif_gbm(data, X, max_iter=20, seed=0, threads=1)]
    _, tuning = baselines.combine(fits)
    scores = baselines.valid_scores(tuning, data.tissues)
    assert scores.index.tolist() == ["mean", "kmer_ridge", "motif_gbm"]
    chosen = tuning[tuning["chosen"]]
    kmer = chosen.query("model == 'kmer_ridge' and group == 'tissues'")["valid_r2"]
    assert scores["kmer_ridge"] == pytest.approx(kmer.iloc[0])
    gbm = chosen.query("model == 'motif_gbm' and group in ['sim_a', 'sim_b']")["valid_r2"]
    assert scores["motif_gbm"] == pytest.approx(gbm.mean())  # the proxy is left out
    # the same criterion as the transformer's: mean valid R² of the kept predictions
    valid = data.rows("valid")
    kept = fits[1].estimators["tissues"].predict(valid["sequence"].tolist())
    assert scores["kmer_ridge"] == pytest.approx(
        metrics.mean_r2(valid[data.tissues].to_numpy(), kept))


def test_choose_on_valid_ignores_the_oracle_and_records_the_choice():
    scores = pd.Series({"mean": -0.01, "kmer_ridge": 0.2, "cnn": 0.3, "oracle": 0.9})
    assert baselines.choose_on_valid(scores) == "cnn"
    assert baselines.choose_on_valid(scores, exclude=["oracle", "cnn"]) == "kmer_ridge"
    record = baselines.selection_record(scores, "cnn")
    assert record["reference"] == "cnn" and record["split"] == "valid"
    assert record["valid_r2"] == 0.3 and record["valid_scores"]["oracle"] == 0.9
    with pytest.raises(ValueError, match="no model"):
        baselines.choose_on_valid(scores[["oracle"]])
    with pytest.raises(ValueError, match="no valid score"):
        baselines.selection_record(scores, "motif_gbm")


def test_valid_scores_refuse_a_model_missing_tissues():
    tuning = pd.DataFrame({"model": ["gbm", "gbm"], "group": ["sim_a", "proxy"],
                           "setting": ["1", "1"], "valid_r2": [0.1, 0.2], "chosen": True})
    with pytest.raises(ValueError, match="gbm"):
        baselines.valid_scores(tuning, ["sim_a", "sim_b"])
    with pytest.raises(ValueError, match="lacks columns"):
        baselines.valid_scores(tuning.drop(columns="chosen"), ["sim_a"])


def test_describe_both_claims_only_what_holds_on_both_metrics():
    rows = []
    for metric, (v, lo, hi) in {"pearson_r2": (0.05, 0.01, 0.09),
                                "r2": (0.02, -0.01, 0.05)}.items():
        rows.append(dict(model="a", reference="b", target="overall", metric=metric, value=v,
                         ci_low=lo, ci_high=hi))
    diffs = pd.DataFrame(rows)
    text = claims.describe_both(diffs, "a", "b")
    assert text.startswith("a beats b on Pearson r² (Δ Pearson r² = +0.050")
    assert "is indistinguishable from b on R²" in text
    assert text.endswith("holds on Pearson r² only")
    diffs.loc[diffs.metric == "r2", ["ci_low"]] = 0.001
    assert claims.describe_both(diffs, "a", "b").startswith("a beats b on Pearson r² (")
    assert " and on R² (Δ R² = +0.020" in claims.describe_both(diffs, "a", "b")
