"""cornlib.evaluate.metrics: agreement with scipy/sklearn, R² in sklearn's order, bootstrap CIs."""

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from sklearn.metrics import mean_absolute_error, mean_squared_error, r2_score

from cornlib.evaluate import metrics


@pytest.fixture
def pair():
    rng = np.random.default_rng(0)
    y = rng.normal(size=200)
    return y, 0.7 * y + rng.normal(scale=0.8, size=200) + 0.3


def test_score_matches_scipy_and_sklearn(pair):
    y, p = pair
    s = metrics.score(y, p)
    assert s["mse"] == pytest.approx(mean_squared_error(y, p))
    assert s["mae"] == pytest.approx(mean_absolute_error(y, p))
    assert s["pearson_r"] == pytest.approx(stats.pearsonr(y, p)[0])
    assert s["pearson_r2"] == pytest.approx(stats.pearsonr(y, p)[0] ** 2)
    assert s["spearman_rho"] == pytest.approx(stats.spearmanr(y, p)[0])
    assert s["r2"] == pytest.approx(r2_score(y, p))


def test_r2_follows_sklearn_argument_order_not_florabert(pair):
    y, p = pair
    assert metrics.score(y, p)["r2"] == pytest.approx(r2_score(y, p))
    assert metrics.score(p, y)["r2"] == pytest.approx(r2_score(p, y))
    assert abs(r2_score(y, p) - r2_score(p, y)) > 0.05  # the swap matters on this data
    assert metrics.score(y, p)["r2"] != pytest.approx(metrics.score(p, y)["r2"])


def test_spearman_handles_ties_like_scipy():
    y = np.array([1, 1, 2, 3, 3, 3, 4, 5.0])
    p = np.array([2, 1, 1, 3, 4, 4, 4, 6.0])
    assert metrics.score(y, p)["spearman_rho"] == pytest.approx(stats.spearmanr(y, p)[0])


def test_resample_ranks_equal_rankdata():
    rng = np.random.default_rng(3)
    x = np.round(rng.normal(size=120), 1)  # many ties
    idx = metrics.bootstrap_indices(120, 40, seed=5)
    assert np.allclose(metrics._resample_ranks(x, idx), stats.rankdata(x[idx], axis=1))


def test_constant_prediction_gives_nan_correlation_not_error(pair):
    y, _ = pair
    s = metrics.score(y, np.full_like(y, y.mean()))
    assert np.isnan(s["pearson_r"]) and np.isnan(s["spearman_rho"])
    assert s["r2"] == pytest.approx(0.0)


def test_evaluate_is_tidy_with_overall_and_ci_bracketing_value(pair):
    y, p = pair
    yt = pd.DataFrame({"a": y, "b": -y})
    yp = pd.DataFrame({"a": p, "b": -p + 0.1})
    res = metrics.evaluate(yt, yp, n_bootstrap=200, seed=1)
    assert list(res.columns) == list(metrics.RESULT_COLUMNS)
    assert set(res["target"]) == {"a", "b", "overall"}
    assert set(res["metric"]) == set(metrics.METRICS)
    assert ((res["ci_low"] <= res["value"] + 1e-9) & (res["value"] <= res["ci_high"] + 1e-9)).all()
    a = res.set_index(["target", "metric"])["value"]
    assert a["overall", "r2"] == pytest.approx((a["a", "r2"] + a["b", "r2"]) / 2)


def test_bootstrap_is_seeded_and_narrows_with_more_genes():
    rng = np.random.default_rng(2)
    y = rng.normal(size=2000)
    p = y + rng.normal(size=2000)
    r1 = metrics.evaluate(y, p, n_bootstrap=100, seed=7)
    r2 = metrics.evaluate(y, p, n_bootstrap=100, seed=7)
    pd.testing.assert_frame_equal(r1, r2)
    r3 = metrics.evaluate(y, p, n_bootstrap=100, seed=8)
    assert not np.allclose(r1["ci_low"], r3["ci_low"])
    small = metrics.evaluate(y[:100], p[:100], n_bootstrap=200, seed=7).set_index("metric")
    big = metrics.evaluate(y, p, n_bootstrap=200, seed=7).set_index("metric")
    width = lambda r: r.loc["pearson_r", "ci_high"] - r.loc["pearson_r", "ci_low"]  # noqa: E731
    assert width(big) < width(small)


def test_bootstrap_interval_covers_truth_most_of_the_time():
    rng = np.random.default_rng(11)
    hits = 0
    for _ in range(40):
        y = rng.normal(size=300)
        p = 0.5 * y + rng.normal(scale=np.sqrt(0.75), size=300)  # population r = 0.5
        row = metrics.evaluate(y, p, n_bootstrap=300, seed=int(rng.integers(1e9))).set_index("metric")
        hits += row.loc["pearson_r", "ci_low"] <= 0.5 <= row.loc["pearson_r", "ci_high"]
    assert hits >= 33  # nominal 95 %: 38 of 40 expected


def test_ceiling_fraction_divides_by_the_ceiling(pair):
    y, p = pair
    res = metrics.evaluate(y, p, targets=["t"], n_bootstrap=50, seed=0, ceiling={"t": 0.5})
    v = res.set_index("metric")
    assert v.loc["r2_of_ceiling", "value"] == pytest.approx(v.loc["r2", "value"] / 0.5)
    assert v.loc["r2_of_ceiling", "ci_high"] == pytest.approx(v.loc["r2", "ci_high"] / 0.5)
    with pytest.raises(ValueError, match="ceiling"):
        metrics.evaluate(y, p, targets=["t"], n_bootstrap=10, ceiling={"t": 0.0})


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_nan_or_inf_values_are_rejected_by_name(pair, bad):
    y, p = pair
    p = p.copy()
    p[5] = bad
    with pytest.raises(ValueError, match="y_pred.*gene row 5"):
        metrics.evaluate(y, p, n_bootstrap=10)


def test_shape_mismatch_is_rejected(pair):
    y, p = pair
    with pytest.raises(ValueError, match="shape"):
        metrics.score(y, p[:-1])


def test_evaluate_predictions_scores_groups_and_proxy_alone():
    rng = np.random.default_rng(4)
    genes = [f"g{i}" for i in range(60)]
    rows = []
    for model, noise in (("good", 0.3), ("bad", 3.0)):
        for t in ("t1", "t2"):
            y = rng.normal(size=60)
            rows.append(pd.DataFrame({"model": model, "gene_id": genes, "target": t, "y_true": y,
                                      "y_pred": y + rng.normal(scale=noise, size=60)}))
        y = rng.normal(size=20)  # the proxy: a subset of genes
        rows.append(pd.DataFrame({"model": model, "gene_id": genes[:20], "target": "proxy",
                                  "y_true": y, "y_pred": y + rng.normal(scale=noise, size=20)}))
    preds = pd.concat(rows, ignore_index=True)
    res = metrics.evaluate_predictions(preds, overall_targets=["t1", "t2"], n_bootstrap=50, seed=0)
    assert set(res["target"]) == {"t1", "t2", "overall", "proxy"}
    v = res.set_index(["model", "target", "metric"])["value"]
    assert v["good", "overall", "r2"] > v["bad", "overall", "r2"]
    with pytest.raises(ValueError, match="repeat"):
        metrics.evaluate_predictions(pd.concat([preds, preds.iloc[:1]]), n_bootstrap=5)


def test_bias_corrected_interval_shifts_down_for_an_upward_biased_r2():
    rng = np.random.default_rng(6)
    y, p = rng.normal(size=40), rng.normal(size=40)  # no signal: resampled r² is biased upward
    pct = metrics.evaluate(y, p, n_bootstrap=500, seed=0, ci_method="percentile").set_index("metric")
    bc = metrics.evaluate(y, p, n_bootstrap=500, seed=0, ci_method="bc").set_index("metric")
    assert bc.loc["pearson_r2", "ci_high"] < pct.loc["pearson_r2", "ci_high"]
    assert bc.loc["pearson_r2", "value"] == pct.loc["pearson_r2", "value"]
    with pytest.raises(ValueError, match="ci_method"):
        metrics.evaluate(y, p, n_bootstrap=10, ci_method="bca")


# --- cluster bootstrap, paired differences, the noise ceiling on the evaluated genes -------------

def _duplicated(n_clusters=150, copies=4, seed=0):
    """Each cluster is one gene copied ``copies`` times (near-identical promoters in one cluster)."""
    rng = np.random.default_rng(seed)
    y = rng.normal(size=n_clusters)
    p = 0.6 * y + rng.normal(scale=0.8, size=n_clusters)
    return np.repeat(y, copies), np.repeat(p, copies), np.repeat(np.arange(n_clusters), copies)


def test_singleton_clusters_resample_exactly_like_genes():
    w_genes = metrics.bootstrap_weights(80, 30, seed=4)
    w_single = metrics.bootstrap_weights(80, 30, seed=4, groups=np.arange(80))
    assert np.array_equal(w_genes, w_single)
    idx = metrics.bootstrap_indices(80, 30, seed=4)
    assert np.array_equal(w_genes, np.stack([np.bincount(r, minlength=80) for r in idx]))


def test_cluster_resamples_take_whole_clusters():
    groups = np.array(["a", "a", "b", "c", "c", "c", "d"])
    w = metrics.bootstrap_weights(len(groups), 200, seed=1, groups=groups)
    for label in set(groups):
        member = w[:, groups == label]
        assert (member == member[:, :1]).all()  # a cluster's genes come and go together
    n_clusters = w[:, [0, 2, 3, 6]].sum(axis=1)  # one gene per cluster: clusters drawn
    assert (n_clusters == 4).all()
    idx = metrics.bootstrap_indices(len(groups), 200, seed=1, groups=groups)
    assert [len(r) for r in idx] == w.sum(axis=1).astype(int).tolist()


def test_weighted_ranks_equal_rankdata_of_the_expanded_resample():
    from cornlib.evaluate import _scores

    rng = np.random.default_rng(8)
    x = np.round(rng.normal(size=50), 1)
    groups = rng.integers(0, 20, size=50)
    idx = metrics.bootstrap_indices(50, 10, seed=2, groups=groups)
    w = metrics.bootstrap_weights(50, 10, seed=2, groups=groups)
    ranks = _scores.weighted_ranks(x, w)
    for b, rows in enumerate(idx):
        assert np.allclose(ranks[b, rows], stats.rankdata(x[rows]))


def test_cluster_bootstrap_is_wider_when_clusters_are_copies_of_one_gene():
    y, p, groups = _duplicated()
    by_gene = metrics.evaluate(y, p, n_bootstrap=400, seed=0).set_index("metric")
    by_cluster = metrics.evaluate(y, p, n_bootstrap=400, seed=0, groups=groups).set_index("metric")
    width = lambda r, m: r.loc[m, "ci_high"] - r.loc[m, "ci_low"]  # noqa: E731
    for m in ("pearson_r2", "r2", "spearman_rho", "mse"):
        assert by_cluster.loc[m, "value"] == pytest.approx(by_gene.loc[m, "value"])
        assert width(by_cluster, m) > 1.5 * width(by_gene, m)  # about sqrt(4) = 2 times


def test_cluster_bootstrap_agrees_with_scoring_each_expanded_resample():
    rng = np.random.default_rng(9)
    y = rng.normal(size=60)
    p = y + rng.normal(size=60)
    groups = rng.integers(0, 25, size=60)
    res = metrics.evaluate(y, p, n_bootstrap=30, seed=5, groups=groups, ci_method="percentile")
    idx = metrics.bootstrap_indices(60, 30, seed=5, groups=groups)
    r2 = np.array([r2_score(y[rows], p[rows]) for rows in idx])
    row = res.set_index("metric").loc["r2"]
    assert row["ci_low"] == pytest.approx(np.quantile(r2, 0.025))
    assert row["ci_high"] == pytest.approx(np.quantile(r2, 0.975))


def _long(models: dict, y: np.ndarray, genes: list[str]) -> pd.DataFrame:
    """Long predictions of two targets for each ``{model: (n, 2) predictions}``."""
    rows = [pd.DataFrame({"model": m, "gene_id": genes, "target": t, "y_true": y[:, j],
                          "y_pred": pred[:, j]})
            for m, pred in models.items() for j, t in enumerate(("t1", "t2"))]
    return pd.concat(rows, ignore_index=True)


@pytest.fixture
def models():
    rng = np.random.default_rng(12)
    n = 120
    y = rng.normal(size=(n, 2))
    genes = [f"g{i:03d}" for i in range(n)]
    good = y + rng.normal(scale=0.5, size=(n, 2))
    preds = {"good": good, "copy": good.copy(), "bad": y + rng.normal(scale=2.0, size=(n, 2)),
             "mean": np.zeros((n, 2))}
    clusters = pd.Series(np.arange(n) // 3, index=genes)
    return _long(preds, y, genes), clusters


def test_paired_difference_of_a_model_with_itself_is_exactly_zero(models):
    preds, clusters = models
    d = metrics.paired_differences(preds, ["pearson_r2", "r2", "mse"], reference="good",
                                   overall_targets=["t1", "t2"], groups=clusters, n_bootstrap=200)
    same = d[d["model"] == "copy"]
    assert len(same) == 9  # t1, t2, overall x 3 metrics
    assert (same[["value", "ci_low", "ci_high", "share_positive"]] == 0).all().all()
    assert set(d["model"]) == {"copy", "bad", "mean"}  # the reference is not compared with itself


def test_paired_difference_sign_agrees_with_the_point_estimates(models):
    preds, clusters = models
    kwargs = dict(overall_targets=["t1", "t2"], groups=clusters, n_bootstrap=300, seed=3)
    d = metrics.paired_differences(preds, ["pearson_r2", "r2"], reference="bad", **kwargs)
    res = metrics.evaluate_predictions(preds, **kwargs).set_index(["model", "target", "metric"])
    for row in d.itertuples():
        expected = res.loc[(row.model, row.target, row.metric), "value"]
        assert row.model_value == pytest.approx(expected, nan_ok=True)
        assert row.value == pytest.approx(row.model_value - row.reference_value, nan_ok=True)
    good = d[(d["model"] == "good") & (d["target"] == "overall")].set_index("metric")
    assert (good["value"] > 0).all() and (good["ci_low"] > 0).all()
    assert (good["share_positive"] > 0.99).all()
    assert metrics.verdict(*good.loc["r2", ["ci_low", "ci_high"]]) == "better"
    assert (good["verdict"] == "better").all()
    mse = metrics.paired_differences(preds, "mse", reference="good", **kwargs)
    bad = mse[(mse["model"] == "bad") & (mse["target"] == "overall")].iloc[0]
    assert bad["value"] > 0 and bad["verdict"] == "worse"  # more error: worse
    mean = d[(d["model"] == "mean") & (d["metric"] == "pearson_r2")]
    assert mean["value"].isna().all() and mean["share_positive"].isna().all()  # r of a constant
    everyone = metrics.paired_differences(preds, "r2", overall_targets=["t1", "t2"], n_bootstrap=50)
    assert len(everyone) == 4 * 3 * 3  # every ordered pair of 4 models, 3 targets
    with pytest.raises(ValueError, match="not among the models"):
        metrics.paired_differences(preds, reference="nope", n_bootstrap=5)
    with pytest.raises(ValueError, match="unknown metric"):
        metrics.paired_differences(preds, "r3", reference="bad", n_bootstrap=5)


def test_paired_differences_need_the_same_genes(models):
    preds, _ = models
    short = preds[~((preds["model"] == "bad") & (preds["gene_id"] == "g000"))]
    with pytest.raises(ValueError, match="different genes"):
        metrics.paired_differences(short, "r2", reference="good", n_bootstrap=5)


def test_groups_must_cover_every_gene(models):
    preds, clusters = models
    with pytest.raises(ValueError, match="no group"):
        metrics.evaluate_predictions(preds, groups=clusters.iloc[1:], n_bootstrap=5)
    with pytest.raises(ValueError, match="not a column"):
        metrics.evaluate_predictions(preds, groups="cluster_id", n_bootstrap=5)


def test_verdict_reads_the_interval():
    assert metrics.verdict(0.01, 0.2) == "better"
    assert metrics.verdict(-0.2, -0.01) == "worse"
    assert metrics.verdict(-0.1, 0.1) == "indistinguishable"
    assert metrics.verdict(0.01, 0.2, higher_is_better=False) == "worse"
    assert metrics.verdict(np.nan, np.nan) == "undefined"
    assert metrics.verdict(0.55, 0.7, null=0.5) == "better"  # e.g. an AUROC against chance
    assert metrics.verdict(0.45, 0.7, null=0.5) == "indistinguishable"
    assert set(metrics.VERBS) == set(metrics.VERDICTS)
    assert metrics.VERBS[metrics.verdict(0.01, 0.2)] == "beats"


def test_noise_ceiling_on_a_subset_equals_r2_on_that_subset():
    from cornlib.data.simulate import noise_ceiling as sim_ceiling

    rng = np.random.default_rng(13)
    n = 400
    signal = rng.normal(size=(n, 2))
    y = signal + rng.normal(scale=0.7, size=(n, 2))
    sub = rng.random(n) < 0.3
    res = metrics.noise_ceiling(y[sub], signal[sub], targets=["a", "b"], n_bootstrap=100)
    v = res.set_index("target")["value"]
    assert set(res["metric"]) == {metrics.NOISE_CEILING}
    assert v["a"] == pytest.approx(r2_score(y[sub, 0], signal[sub, 0]))
    assert v["overall"] == pytest.approx((v["a"] + v["b"]) / 2)
    frame = lambda a: pd.DataFrame(a, columns=["a", "b"]).assign(gene_id=range(int(sub.sum())))  # noqa: E731
    assert sim_ceiling(frame(y[sub]), frame(signal[sub])).to_numpy() == pytest.approx(
        [v["a"], v["b"]])
    assert v["a"] != pytest.approx(r2_score(y[:, 0], signal[:, 0]), abs=1e-4)  # not the all-gene one


def test_signal_resamples_the_ceiling_with_the_scores():
    rng = np.random.default_rng(14)
    n = 150
    genes = [f"g{i:03d}" for i in range(n)]
    signal = rng.normal(size=(n, 2))
    y = signal + rng.normal(scale=0.7, size=(n, 2))
    preds = _long({"m": signal + rng.normal(scale=0.5, size=(n, 2))}, y, genes)
    clusters = pd.Series(np.arange(n) // 2, index=genes)
    sig = pd.DataFrame(signal, columns=["t1", "t2"]).assign(gene_id=genes)
    res = metrics.evaluate_predictions(preds, overall_targets=["t1", "t2"], groups=clusters,
                                       signal=sig, n_bootstrap=200, seed=2)
    v = res.set_index(["target", "metric"])
    alone = metrics.noise_ceiling(y, signal, targets=["t1", "t2"], groups=clusters.to_numpy(),
                                  n_bootstrap=200, seed=2).set_index("target")
    for t in ("t1", "t2", "overall"):  # same genes, clusters and seed: the same resamples
        assert v.loc[(t, "noise_ceiling"), ["value", "ci_low", "ci_high"]].to_numpy(float) == \
            pytest.approx(alone.loc[t, ["value", "ci_low", "ci_high"]].to_numpy(float))
    for t in ("t1", "overall"):  # overall: the mean R² over the mean ceiling
        assert v.loc[(t, "r2_of_ceiling"), "value"] == pytest.approx(
            v.loc[(t, "r2"), "value"] / v.loc[(t, "noise_ceiling"), "value"])
    with pytest.raises(ValueError, match="not both"):
        metrics.evaluate_predictions(preds, signal=sig, ceiling={"t1": 0.5}, n_bootstrap=5)
    with pytest.raises(ValueError, match="no value for gene"):
        metrics.evaluate_predictions(preds, overall_targets=["t1", "t2"], signal=sig.iloc[1:],
                                     n_bootstrap=5)


def test_long_interval_tables_read_as_one_row_per_model():
    from cornlib.evaluate import resample

    table = pd.DataFrame({"model": ["b", "b", "a", "a"], "metric": ["r2", "mse", "r2", "mse"],
                          "value": [0.5, 1.25, np.nan, 2.0], "ci_low": [0.4, 1.0, np.nan, 1.5],
                          "ci_high": [0.6, 1.5, np.nan, 2.5]})
    wide = resample.wide(table, "model", digits=2)
    assert list(wide.index) == ["b", "a"] and list(wide.columns) == ["r2", "mse"]
    assert wide.loc["b", "r2"] == "0.50 [0.40, 0.60]" and wide.loc["a", "r2"] == "—"
    assert resample.formatted(table.iloc[:1], 1, sign=True).iloc[0] == "+0.5 [+0.4, +0.6]"
    by_species = table.rename(columns={"metric": "species"})
    assert list(resample.wide(by_species, "model", columns="species").columns) == ["r2", "mse"]
    empty = resample.wide(table.iloc[:0], "model")
    assert empty.empty


def test_summarise_gives_verdicts_against_a_null():
    from cornlib.evaluate import resample

    reps = {"auroc": np.linspace(0.6, 0.8, 101), "bits": np.linspace(1.0, 1.2, 101)}
    out = resample.summarise({"auroc": 0.7, "bits": 1.1}, reps, ci_method="percentile",
                             null={"auroc": 0.5}).set_index("metric")
    assert out.loc["auroc", "verdict"] == "better" and pd.isna(out.loc["bits", "verdict"])
    assert out.loc["auroc", "ci_low"] == pytest.approx(np.quantile(reps["auroc"], 0.025))
    worse = resample.summarise({"bits": 1.1}, reps, null={"bits": 0.5},
                               higher_is_better={"bits": False})
    assert worse["verdict"].iloc[0] == "worse"
    with pytest.raises(ValueError, match="ci_method"):
        resample.check_options(0.95, "bca", 10)


def _seeded_predictions(spreads, n=120, seed=0):
    """Long predictions of models 'a' (several runs) and 'b' (one run) for two targets."""
    rng = np.random.default_rng(seed)
    truth = rng.normal(size=(n, 2))
    rows = []
    for model, runs in spreads.items():
        for run, noise in enumerate(runs):
            pred = truth + rng.normal(scale=noise, size=truth.shape)
            for j in range(2):
                rows += [dict(model=model, seed=run, gene_id=f"g{i:03d}", target=f"t{j}",
                              y_true=truth[i, j], y_pred=pred[i, j]) for i in range(n)]
    return pd.DataFrame(rows)


def test_runs_are_pooled_by_their_mean_and_add_training_variance():
    from cornlib.evaluate import metrics

    preds = _seeded_predictions({"a": [0.3, 1.0, 2.0], "b": [0.8]})
    opts = dict(overall_targets=["t0", "t1"], n_bootstrap=300, seed=1)
    pooled = metrics.evaluate_predictions(preds, **opts).set_index(["model", "target", "metric"])
    per_run = metrics.evaluate_predictions(preds, runs=None, by=["model", "seed"], **opts)
    per_run = per_run.set_index(["model", "seed", "target", "metric"])["value"]
    # the estimate of a seeded model is the mean of its runs' estimates
    mean_a = np.mean([per_run["a", s, "overall", "r2"] for s in range(3)])
    assert pooled.loc[("a", "overall", "r2"), "value"] == pytest.approx(mean_a)
    # one run: exactly the unpooled score and interval
    single = metrics.evaluate_predictions(preds[preds.model == "b"], **opts)
    row = single.set_index(["target", "metric"]).loc[("overall", "r2")]
    assert pooled.loc[("b", "overall", "r2"), "ci_low"] == pytest.approx(row["ci_low"])
    # runs this different widen the interval beyond any one run's sampling interval
    one = metrics.evaluate_predictions(preds[(preds.model == "a") & (preds.seed == 1)], **opts)
    width_one = one.set_index(["target", "metric"]).loc[("overall", "r2")]
    width_one = width_one["ci_high"] - width_one["ci_low"]
    a = pooled.loc[("a", "overall", "r2")]
    assert a["ci_high"] - a["ci_low"] > 2 * width_one
    # a paired difference carries the same training variance
    diff = metrics.paired_differences(preds, "r2", reference="b", **opts)
    d = diff.set_index(["model", "target"]).loc[("a", "overall")]
    assert d["value"] == pytest.approx(a["value"] - pooled.loc[("b", "overall", "r2"), "value"])
    assert d["ci_high"] - d["ci_low"] > 2 * width_one


def test_runs_on_different_genes_are_refused():
    from cornlib.evaluate import metrics

    preds = _seeded_predictions({"a": [0.5, 0.5]})
    preds = preds[~((preds.seed == 1) & (preds.gene_id == "g000"))]
    with pytest.raises(ValueError, match="runs of .*different genes"):
        metrics.evaluate_predictions(preds, overall_targets=["t0", "t1"], n_bootstrap=10)
