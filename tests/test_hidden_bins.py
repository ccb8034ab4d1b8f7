"""cornlib.evaluate.hidden_bins: the masked-bin pretraining against composition predictors."""

import math

import numpy as np
import pandas as pd
import pytest
import torch
from transformers.modeling_outputs import MaskedLMOutput

from cornlib import models, sequence
from cornlib.evaluate import hidden_bins, resample
from cornlib.models.markov import MarkovModel

SMALL = dict(seq_length=32, stem_channels=8, stem_kernel=5, pool=4, hidden_size=16,
             num_hidden_layers=1, num_attention_heads=2, intermediate_size=32)


def _model(seed=0):
    torch.manual_seed(seed)
    return models.CornHybridForMaskedLM(models.CornHybridConfig(**SMALL))


def _seqs(n, length=32, seed=0, p=(0.4, 0.1, 0.1, 0.4)):
    rng = np.random.default_rng(seed)
    return ["".join(rng.choice(list("ACGT"), length, p=p)) for _ in range(n)]


def _codes(seqs, length=32):
    return sequence.encode_fixed(seqs, length=length)


def _markov(order=2, seed=1):
    return MarkovModel(order).fit(_seqs(50, 200, seed=seed))


def _answer(model, logit=0.0):
    """A forward that puts ``logit`` on the true base (0: a uniform guess), from the codes it
    is given (the real forward hides them; this one cheats)."""
    n, p = model.config.n_bins, model.config.pool

    def forward(input_ids, hidden_bins=None, labels=None, **kwargs):
        truth = input_ids[:, -n * p:].reshape(len(input_ids), n, p)[hidden_bins].long()
        logits = torch.zeros(*truth.shape, 4)
        logits.scatter_(-1, truth.clamp(max=3)[..., None], logit)
        return MaskedLMOutput(loss=None, logits=logits)

    return forward


def test_heldout_codes_hold_out_whole_clusters_and_keep_windows_in_training():
    seqs = _seqs(24, 40)
    corpus = pd.DataFrame({"seq_id": [f"g{i}" for i in range(24)],
                           "species": ["a"] * 10 + ["b"] * 10 + ["a"] * 4,
                           "source": ["promoter"] * 20 + ["genome_window"] * 4,
                           "sequence": seqs})
    split = pd.DataFrame({"gene_id": [f"g{i}" for i in range(20)],
                          "cluster_id": [i // 2 for i in range(20)]})
    out = hidden_bins.heldout_codes(corpus, split, 32, fraction=0.2, seed=3)
    held = out.parts["part"] == "heldout"
    assert out.train.shape == (int((~held).sum()), 32)
    assert out.heldout.shape == (int(held.sum()), 32) and len(out.clusters) == held.sum() >= 2
    assert not set(out.clusters) & set(out.parts.loc[~held, "cluster"].dropna().astype(str))
    assert (out.parts.loc[corpus["source"] == "genome_window", "part"] == "train").all()
    first = np.flatnonzero(held.to_numpy())[0]
    np.testing.assert_array_equal(out.heldout[0], _codes([seqs[first]])[0])
    again = hidden_bins.heldout_codes(corpus, split, 32, fraction=0.2, seed=3)
    np.testing.assert_array_equal(again.heldout, out.heldout)


def test_every_predictor_is_scored_on_the_same_hidden_bins(monkeypatch):
    model = _model()
    codes = _codes(_seqs(10))
    codes[0, :6] = sequence.N_CODE  # padding: never a target
    hidden = hidden_bins.draw_hidden(codes, 4, rate=0.3, seed=5)
    np.testing.assert_array_equal(hidden, hidden_bins.draw_hidden(codes, 4, rate=0.3, seed=5))
    seen = []
    real = model.forward

    def spy(input_ids, hidden_bins=None, **kwargs):
        seen.append(hidden_bins.cpu().numpy())
        return real(input_ids, hidden_bins=hidden_bins, **kwargs)

    monkeypatch.setattr(model, "forward", spy)
    targets, logp = hidden_bins.predict_hidden(model, codes, hidden, markov=_markov(),
                                               batch_size=3)
    np.testing.assert_array_equal(np.concatenate(seen), hidden)
    want = np.nonzero(np.repeat(hidden, 4, axis=1) & (codes < 4))
    np.testing.assert_array_equal(targets["sequence"], want[0])
    np.testing.assert_array_equal(targets["position"], want[1])
    np.testing.assert_array_equal(targets["base"], codes[want])
    for name in hidden_bins.PREDICTORS:
        assert logp[name].shape == (len(targets), 4)
        np.testing.assert_allclose(np.exp(logp[name]).sum(1), 1.0, rtol=1e-5)
    # the model's rows are its forward's logits at those bins, in the same order
    with torch.no_grad():
        logits = real(torch.from_numpy(codes.astype(np.int64)),
                      hidden_bins=torch.from_numpy(hidden)).logits
    full = torch.log_softmax(logits, -1).reshape(-1, 4).numpy()
    np.testing.assert_allclose(logp["model"], full[codes[np.repeat(hidden, 4, axis=1)] < 4],
                               atol=1e-5)


def test_composition_is_the_add_one_frequency_of_the_visible_bases():
    model = _model()
    codes = _codes(["AAAACCCCGGGGTTTT" * 2, "AAAAAAAAAAAAAAAACCCCCCCCNNNNTTTT"])
    hidden = np.zeros((2, 8), bool)
    hidden[0, 0] = True  # AAAA hidden: visible A 4, C 8, G 8, T 8
    hidden[1, [4, 6]] = True  # CCCC and NNNN hidden: visible A 16, C 4, T 4
    targets, logp = hidden_bins.predict_hidden(model, codes, hidden, markov=_markov())
    assert targets["sequence"].tolist() == [0] * 4 + [1] * 4
    np.testing.assert_allclose(np.exp(logp["composition"][0]), np.array([5, 9, 9, 9]) / 32)
    np.testing.assert_allclose(np.exp(logp["composition"][4]), np.array([17, 5, 1, 5]) / 28)
    per_seq, table = hidden_bins.score(model, codes, ["x", "y"], markov=_markov(),
                                       n_bootstrap=0)
    assert per_seq.columns.tolist() == ["sequence", "cluster", "bases", "logp_model",
                                        "logp_composition", "logp_markov"]


def test_no_predictor_reads_a_hidden_base():
    model = _model()
    markov = _markov(order=3)
    codes = _codes(_seqs(12, seed=4))
    codes[3, 10:13] = sequence.N_CODE  # an N stops the chain's context
    hidden = hidden_bins.draw_hidden(codes, 4, rate=0.3, seed=2)
    at = np.repeat(hidden, 4, axis=1)
    changed = codes.copy()
    changed[at & (codes < 4)] = (codes[at & (codes < 4)] + 1) % 4
    a_targets, a = hidden_bins.predict_hidden(model, codes, hidden, markov=markov)
    b_targets, b = hidden_bins.predict_hidden(model, changed, hidden, markov=markov)
    assert (a_targets["base"] != b_targets["base"]).all()
    for name in hidden_bins.PREDICTORS:
        np.testing.assert_allclose(a[name], b[name], atol=1e-6, err_msg=name)
    # the chain's guess for a run is its marginal from the visible bases just before it
    row = int(np.flatnonzero(hidden.any(1) & ~hidden[:, 0])[0])
    start = int(np.flatnonzero(at[row])[0])
    end = start + int(np.argmin(at[row, start:])) if not at[row, start:].all() else 32
    left = sequence.decode(codes[row, max(0, start - 3):start])
    left = left[left.rfind("N") + 1:]
    rows = (a_targets["sequence"] == row).to_numpy()
    want = np.log(markov.base_marginals(left, end - start))[codes[row, start:end] < 4]
    np.testing.assert_allclose(a["markov"][rows][:len(want)], want)


def test_a_model_given_the_answer_passes_and_a_uniform_one_fails(monkeypatch):
    codes = _codes(_seqs(40, seed=7))
    clusters = [f"c{i // 2}" for i in range(40)]
    oracle = _model()
    monkeypatch.setattr(oracle, "forward", _answer(oracle, 30.0))
    _, table = hidden_bins.score(oracle, codes, clusters, markov=_markov(), n_bootstrap=200)
    assert table.columns.tolist() == ["metric", "value", "ci_low", "ci_high", "verdict"]
    rows = table.set_index("metric")
    assert rows.loc["model_bits_per_base", "value"] < 1e-6
    assert rows.loc["model_minus_markov", "verdict"] == "better"
    assert pd.isna(rows.loc["model_bits_per_base", "verdict"])
    assert hidden_bins.passes(table)
    said = hidden_bins.sentence(table, markov_order=2)
    assert said.startswith("The pretrained encoder beats per-sequence composition (Δ -")
    assert "and the Markov-2 chain" in said and "learned more than" in said

    uniform = _model()
    monkeypatch.setattr(uniform, "forward", _answer(uniform, 0.0))
    per_seq, table = hidden_bins.score(uniform, codes, clusters, markov=_markov(),
                                       n_bootstrap=200)
    rows = table.set_index("metric")
    assert rows.loc["model_bits_per_base", "value"] == pytest.approx(2.0)
    assert rows.loc["model_minus_composition", "verdict"] == "worse"
    assert not hidden_bins.passes(table)
    assert "does worse than per-sequence composition" in hidden_bins.sentence(
        table, markov_order=2)
    bits = -per_seq["logp_model"].sum() / math.log(2) / per_seq["bases"].sum()
    assert bits == pytest.approx(2.0)


def test_intervals_resample_whole_clusters(monkeypatch):
    rng = np.random.default_rng(0)
    per_seq = pd.DataFrame({"sequence": range(8), "cluster": ["a", "a", "b", "c", "d", "e",
                                                               "f", "g"],
                            "bases": rng.integers(10, 30, 8)})
    for name in hidden_bins.PREDICTORS:
        per_seq[f"logp_{name}"] = -rng.uniform(0.8, 1.4, 8) * per_seq["bases"]
    drawn = []
    real = resample.bootstrap_weights

    def spy(n, n_bootstrap, seed, groups=None):
        drawn.append(real(n, n_bootstrap, seed, groups=groups))
        return drawn[-1]

    monkeypatch.setattr(resample, "bootstrap_weights", spy)
    table = hidden_bins.intervals(per_seq, n_bootstrap=300, seed=4).set_index("metric")
    weights = drawn[0]
    np.testing.assert_array_equal(weights[:, 0], weights[:, 1])  # one cluster, drawn together
    assert (weights[:, 0] != weights[:, 2]).any()
    nats = -per_seq[["logp_model", "logp_markov"]].to_numpy()
    bases = per_seq["bases"].to_numpy(float)
    reps = (weights @ nats) / math.log(2) / (weights @ bases)[:, None]
    point = nats.sum(0) / math.log(2) / bases.sum()
    assert table.loc["model_minus_markov", "value"] == pytest.approx(point[0] - point[1])
    lo, hi = np.quantile(reps[:, 0] - reps[:, 1], [0.025, 0.975])
    assert table.loc["model_minus_markov", "ci_low"] == pytest.approx(lo)
    assert table.loc["model_minus_markov", "ci_high"] == pytest.approx(hi)


@pytest.mark.parametrize("training", [True, False])
def test_the_model_is_left_in_its_mode(training):
    model = _model()
    model.train(training)
    model.hybrid.layers[0].train(not training)  # a module in the other mode stays so
    hidden_bins.score(model, _codes(_seqs(4)), list("abcd"), markov=_markov(), n_bootstrap=10)
    assert model.training is training and model.hybrid.training is training
    assert model.hybrid.layers[0].training is (not training)


def test_bad_inputs_get_clear_errors():
    model = _model()
    with pytest.raises(ValueError, match="the model reads 32"):
        hidden_bins.score(model, _codes(_seqs(3, 40), 40), list("abc"), markov=_markov())
    with pytest.raises(ValueError, match="2 labels for 3"):
        hidden_bins.score(model, _codes(_seqs(3)), list("ab"), markov=_markov())
    with pytest.raises(ValueError, match="not an interval table"):
        hidden_bins.passes(pd.DataFrame({"metric": ["x"], "value": [1.0]}))
