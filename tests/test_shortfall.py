"""cornlib.evaluate.shortfall: driver capture and gate use against a known generative model."""

import numpy as np
import pandas as pd
import pytest

from cornlib.evaluate import shortfall

TISSUES = ["t1", "t2", "t3"]
LEAK = 0.5


def _world(n=400, seed=0):
    """Three drivers, a gate on a third of the genes, and the signal they make (linear)."""
    rng = np.random.default_rng(seed)
    genes = [f"g{i:04d}" for i in range(n)]
    beta = {"M1": [2.0, 0.0, 1.5], "M2": [0.0, -1.0, -2.0], "M3": [1.0, 1.0, 1.0]}
    gated = rng.random(n) < 1 / 3
    gate = np.where(gated, 1.0, LEAK)
    rows, W = [], np.zeros((n, 3))
    for j, motif in enumerate(beta):
        has = rng.random(n) < 0.5
        W[:, j] = np.where(has, rng.uniform(0.1, 1.0, n), 0.0) * gate
        rows += [dict(gene_id=genes[i], motif=motif, role="driver", weight=W[i, j])
                 for i in np.flatnonzero(has)]
    rows += [dict(gene_id=genes[i], motif="sim:TATA", role="core", weight=1.0)
             for i in np.flatnonzero(gated)]
    B = np.array([beta[m] for m in beta])
    signal = pd.DataFrame(3.0 + W @ B, columns=TISSUES).assign(gene_id=genes)
    card = {"kind": "simulated", "tissues": TISSUES, "parameters": {"core_leak": LEAK},
            "drivers": [{"matrix_id": m, "name": f"name_{m}",
                         "effects": dict(zip(TISSUES, b))} for m, b in beta.items()]}
    clusters = pd.Series(np.arange(n) // 4, index=genes)
    return genes, W, B, gated, pd.DataFrame(rows), signal, card, clusters


def _long(genes, values: dict[tuple[str, int], np.ndarray]) -> pd.DataFrame:
    return pd.concat([pd.DataFrame({"model": m, "seed": s, "gene_id": np.repeat(genes, 3),
                                    "target": np.tile(TISSUES, len(genes)),
                                    "y_pred": v.ravel()})
                      for (m, s), v in values.items()], ignore_index=True)


def test_capture_reads_each_drivers_share_and_pools_seeds():
    genes, W, B, gated, truth, signal, card, clusters = _world()
    S = signal[TISSUES].to_numpy()
    half = 3.0 + 0.5 * (W @ B)
    blind = 3.0 + W[:, [0, 2]] @ B[[0, 2]]  # never learned M2
    noise = np.random.default_rng(1).normal(0, 0.01, S.shape)
    preds = _long(genes, {("exact", 0): S, ("half", 0): half + noise, ("half", 1): half - noise,
                          ("blind", 0): blind})
    table = shortfall.capture(preds, signal, truth, card, groups=clusters, n_bootstrap=50)
    value = table.set_index(["model", "motif"])["value"]
    assert np.allclose(value["exact"], 1.0)
    assert np.allclose(value["half"], 0.5, atol=1e-3)
    assert value["blind", "M2"] == pytest.approx(0.0, abs=1e-9)
    assert value["blind", "M1"] == pytest.approx(1.0)
    half_rows = table[table["model"] == "half"]
    assert (half_rows["ci_low"] <= half_rows["value"] + 1e-9).all()
    assert (half_rows["ci_high"] >= half_rows["value"] - 1e-9).all()
    assert table["variance_share"].iloc[:3].sum() == pytest.approx(1.0)
    assert shortfall.learned(table, "blind") == ["M1", "M3"]
    summary = shortfall.capture(preds, signal, truth, card, n_bootstrap=0, summary=True)
    total = summary[summary["motif"] == shortfall.ALL].set_index("model")["value"]
    assert total["exact"] == pytest.approx(1.0)
    blind_rows = summary[(summary["model"] == "blind") & (summary["motif"] != shortfall.ALL)]
    assert total["blind"] == pytest.approx(
        (blind_rows["value"] * blind_rows["variance_share"]).sum())
    assert shortfall.learned(summary, "blind") == ["M1", "M3"]
    assert shortfall.learned(table, "half", share=0.6) == []


def test_gate_use_tells_a_model_that_ignores_the_gate():
    genes, W, B, gated, truth, signal, card, clusters = _world()
    ungated = W / np.where(gated, 1.0, LEAK)[:, None]
    preds = _long(genes, {("reads", 0): signal[TISSUES].to_numpy(),
                          ("ignores", 0): 3.0 + 0.75 * (ungated @ B)})
    table = shortfall.gate_use(preds, signal, truth, card, groups=clusters, n_bootstrap=50)
    row = table.set_index("model")
    assert row.loc["reads", "value"] == pytest.approx(1 / LEAK)
    assert row.loc["ignores", "value"] == pytest.approx(1.0)
    assert row["signal"].iloc[0] == pytest.approx(1 / LEAK)
    assert "no steeper where the gate is open" in shortfall._gate_phrase(row.loc["ignores"])
    assert shortfall.gate_unused(row.loc["ignores"]) and not shortfall.gate_unused(row.loc["reads"])
    point = shortfall.gate_use(preds, signal, truth, card, n_bootstrap=0).set_index("model")
    assert "no interval" in shortfall._gate_phrase(point.loc["ignores"])


def test_explain_names_learned_drivers_and_the_known_oracle():
    genes, W, B, gated, truth, signal, card, clusters = _world()
    blind = 3.0 + W[:, [0, 2]] @ B[[0, 2]]
    preds = _long(genes, {("tf", 0): blind, ("cnn", 0): blind})
    cap = shortfall.capture(preds, signal, truth, card, groups=clusters, n_bootstrap=20)
    gate = shortfall.gate_use(preds, signal, truth, card, groups=clusters, n_bootstrap=20)
    short = shortfall.Shortfall("tf", cap, cap, gate, ["M1", "M3"], pd.DataFrame(), LEAK)
    labels = {"tf": "the transformer", "cnn": "the CNN"}
    text = shortfall.explain(short, "cnn", known_r2=0.3, oracle_r2=0.5, model_r2=0.2,
                             gap=(0.2, 0.1, 0.3), labels=labels)
    assert "2 of the 3 drivers (name_M1, name_M3)" in text
    assert "The CNN, judged the same way, carries at least 33% of the same 2" in text
    assert "60% of the full oracle's 0.500 (the difference: +0.200 [+0.100, +0.300])" in text
    assert "multiplies the drivers' effect by 2" in text and "reads the gate" in text
    line = shortfall.summary(short, "cnn", known_r2=0.3, labels=labels)
    assert line.startswith("the transformer carries at least 33% of the effect of 2 of the 3")
    assert "the CNN of the same ones" in line


def test_measured_targets_and_bad_input_are_refused():
    genes, W, B, gated, truth, signal, card, clusters = _world(n=40)
    preds = _long(genes, {("m", 0): signal[TISSUES].to_numpy()})
    with pytest.raises(ValueError, match="simulated"):
        shortfall.capture(preds, signal, truth, {"kind": "measured"})
    with pytest.raises(ValueError, match="lack columns"):
        shortfall.capture(preds.drop(columns="seed"), signal, truth, card)
    with pytest.raises(ValueError, match="only 0 genes"):
        shortfall.capture(preds.assign(gene_id="other"), signal, truth, card)
    with pytest.raises(ValueError, match="no capture rows"):
        shortfall.learned(shortfall.capture(preds, signal, truth, card, n_bootstrap=0), "x")


def test_the_capture_figure_draws_every_driver_and_the_gate():
    import matplotlib

    matplotlib.use("Agg")
    from cornlib.plots.scores import driver_capture

    genes, W, B, gated, truth, signal, card, clusters = _world()
    preds = _long(genes, {("tf", 0): signal[TISSUES].to_numpy()})
    table = shortfall.capture(preds, signal, truth, card, n_bootstrap=10, summary=True)
    gate = shortfall.gate_use(preds, signal, truth, card, n_bootstrap=10)
    fig, axes = driver_capture(table, gate, shortfall.LEARNED_SHARE)
    labels = [t.get_text() for t in axes[0].get_yticklabels()]
    assert len(labels) == 3 and all("%" in label for label in labels)  # no summary row
    assert [t.get_text() for t in axes[1].get_yticklabels()] == ["tf"]
    _, ax = driver_capture(pd.DataFrame())
    assert "measured targets" in ax.texts[0].get_text()
