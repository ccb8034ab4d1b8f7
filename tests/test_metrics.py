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
