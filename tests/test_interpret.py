"""cornlib.interpret: perturbations, gradients and true-site recovery, on any model."""

import numpy as np
import pandas as pd
import pytest
import torch
from motif_counter import MOTIF, MotifCounter  # noqa: F401
from motif_counter import motif_predictor as _motif_predictor

from cornlib import models
from cornlib.interpret import gradients, ism, kmer_flip, perturb, recovery
from cornlib.models import hybrid, predictor
from cornlib.sequence import mutate


def _seqs(n, length, seed=0, plant_at=None):
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        s = "".join(rng.choice(list("AT"), length))  # no GC: the motif only where planted
        if plant_at is not None:
            s = s[:plant_at] + MOTIF + s[plant_at + len(MOTIF):]
        out.append(s)
    return out


def _cnn(length=64, targets=3, seed=0):
    torch.manual_seed(seed)
    return models.PromoterCNN(models.PromoterCNNConfig(
        seq_length=length, n_targets=targets, channels=[4], kernel_sizes=[5], pool_sizes=[1],
        hidden_size=8)).eval()


def _hybrid(rc_average=True):
    cfg = hybrid.CornHybridConfig(seq_length=64, stem_channels=8, stem_kernel=5, pool=8,
                                  hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                                  intermediate_size=32, rc_average=rc_average)
    return hybrid.regressor(cfg, n_targets=3).eval()


def test_scores_are_mutant_minus_reference_and_references_stay_unchanged():
    refs = _seqs(2, 40, plant_at=10)
    before = list(refs)
    eff = perturb.score_edits(_motif_predictor(), refs, [0, 1, 1],
                              [mutate.Edit(10, "T", "A"), mutate.Edit(0, refs[1][0], "G"),
                               mutate.Edit(12, refs[1][12], "C")])
    assert refs == before
    assert eff.delta.shape == (3, 2)
    assert eff.delta[0, 0] == -1  # the planted motif broken
    assert eff.delta[1, 0] == 0 and eff.delta[1, 1] == pytest.approx(1 / 40)


def test_perturbations_name_bad_owners_and_bad_edits():
    with pytest.raises(ValueError, match="owner index 5"):
        perturb.score(_motif_predictor(), ["ACGT"], ["ACGA"], [5])
    with pytest.raises(ValueError, match="edit 0 of reference 0"):
        perturb.apply_edits(["ACGT"], [0], [mutate.Edit(0, "G", "A")])
    with pytest.raises(ValueError, match="no reference"):
        perturb.score(_motif_predictor(), [], [], [])


def test_saturation_mutagenesis_covers_every_substitution():
    seqs = _seqs(1, 30, plant_at=5) + _seqs(1, 20, seed=1)
    muts, where = ism.mutants(seqs[0])
    assert len(muts) == 3 * 30 and len(set(muts)) == 90 and seqs[0] not in muts
    assert len(ism.mutants("ANA")[0]) == 3 + 4 + 3
    delta = ism.saturation(_motif_predictor(), seqs)
    assert delta.shape == (2, 30, 4, 2)
    assert np.isnan(delta[1, 20:]).all() and np.isfinite(delta[1, :20]).all()
    ref_codes = ["ACGT".index(b) for b in seqs[0]]
    assert (delta[0, np.arange(30), ref_codes] == 0).all()
    # breaking any base of the planted motif loses it; elsewhere the count does not change
    lost = (delta[0, :, :, 0] == -1).any(axis=1)
    assert lost[5:13].all() and not lost[:5].any() and not lost[13:].any()
    score = ism.position_scores(delta)
    assert score.shape == (2, 30, 2) and np.isnan(score[1, 25]).all()
    h = ism.hypothetical(delta)
    assert np.allclose(np.nansum(h[0], axis=1), 0, atol=1e-6)


def test_saturation_of_a_bpe_model_retokenises_each_mutant(tok):
    config = models.config_for_tokenizer(tok, max_length=64, layers=1, hidden=16, heads=2,
                                         intermediate=32, dropout=0.0, num_labels=2)
    torch.manual_seed(0)
    p = predictor.from_model(models.CornBertForRegression(config).eval(), tok)
    seq = _seqs(1, 40, seed=3)[0]
    n_tokens = len(tok.tokenize(seq))
    # a position where some substitution changes the segmentation (not just one token)
    pos = next(i for i in range(40) if any(len(tok.tokenize(m)) != n_tokens
                                           for m in ism.mutants(seq, [i])[0]))
    muts, where = ism.mutants(seq, positions=[pos])
    delta = ism.saturation(p, [seq], positions=[pos])
    direct = p.predict(muts).to_numpy() - p.predict([seq]).to_numpy()
    assert np.allclose(delta[0, pos, where[:, 1]], direct, atol=1e-5)
    assert np.isnan(delta[0, pos - 1]).all() if pos else np.isnan(delta[0, 1]).all()


def test_kmer_windows_stay_inside_the_sequence():
    starts = kmer_flip.windows(10, 4, 4)
    assert starts.tolist() == [0, 4, 6] and (starts + 4 <= 10).all()
    assert kmer_flip.windows(3, 4, 1).size == 0
    with pytest.raises(ValueError):
        kmer_flip.windows(10, 0, 1)


def test_kmer_flip_finds_the_planted_motif_and_is_seeded():
    seqs = _seqs(3, 60, plant_at=30)
    labels = np.array([[1.0, 0.0]] * 3)
    a = kmer_flip.flip(_motif_predictor(), seqs, 4, draws=3, seed=1, labels=labels)
    b = kmer_flip.flip(_motif_predictor(), seqs, 4, draws=3, seed=1)
    assert np.array_equal(a.effect, b.effect) and b.error_change is None
    motif = a.effect[:, 30:38, 0]
    assert (motif < -0.3).all() and np.abs(a.effect[:, :26, 0]).max() < 0.5
    assert np.isclose(a.error_change[:, 30:38, 0], -motif).all()  # y = 1 = the motif count
    assert np.isfinite(a.effect).all() and a.reference.shape == (3, 2)


def test_tss_profile_bins_relative_to_the_tss():
    imp = np.zeros((2, 10, 1))
    imp[:, 8:] = 1.0  # the last two bases before the TSS
    imp[1, :2] = np.nan
    prof = kmer_flip.tss_profile(imp, [10, 10], bin_width=2, targets=["t"])
    assert prof["bin_start"].tolist() == [-10, -8, -6, -4, -2]
    assert prof.set_index("bin_start").loc[-2, "mean"] == 1.0
    assert prof.set_index("bin_start").loc[-10, "n"] == 1


@pytest.mark.parametrize("make", [_cnn, _hybrid])
def test_one_hot_forward_matches_codes(make):
    model = make()
    codes = torch.randint(0, 5, (3, 64))
    oh = torch.nn.functional.one_hot(codes, 5)[..., :4].float()
    assert torch.allclose(model(input_ids=codes).logits, model(one_hot=oh).logits, atol=1e-5)


@pytest.mark.parametrize("make", [_cnn, _hybrid])
def test_integrated_gradients_are_complete_and_aligned(make):
    model = make()
    seqs = ["".join(np.random.default_rng(i).choice(list("ACGT"), n))
            for i, n in enumerate([64, 40])]
    ig = gradients.integrated_gradients(model, seqs, n_steps=64, targets=[1])
    assert ig.shape == (2, 64, 4, 1) and np.isnan(ig[1, 40:]).all()
    # completeness: the attributions add up to f(x) - f(baseline)
    x = torch.from_numpy(gradients.one_hot(seqs[:1], 64))
    with torch.no_grad():
        gap = (model(one_hot=x).logits - model(one_hot=torch.full_like(x, 0.25)).logits)[0, 1]
    assert np.nansum(ig[0]) == pytest.approx(float(gap), rel=0.05, abs=1e-3)


def test_gradient_times_input_and_the_correction():
    model = _cnn()
    seqs = ["ACGT" * 16, "ACGTACGTAC"]
    g = gradients.gradients(model, seqs)
    assert g.shape == (2, 64, 4, 3) and np.isnan(g[1, 10:]).all()
    x = torch.from_numpy(gradients.one_hot(seqs[:1], 64)).requires_grad_()
    model(one_hot=x).logits[0, 2].backward()
    assert np.allclose(g[0, :, :, 2], x.grad[0].numpy(), atol=1e-6)
    gxi = gradients.times_input(g, seqs)
    assert np.allclose(gxi[0, :4, 2], [g[0, i, i, 2] for i in range(4)])
    assert np.allclose(gradients.correct(g)[0].sum(axis=1), 0, atol=1e-6)


TRUTH = pd.DataFrame({"gene_id": ["g1", "g1", "g2", "g2"], "motif": ["M1", "M2", "M1", "sim:TATA"],
                      "role": ["driver", "driver", "driver", "core"],
                      "position": [-20, -8, -30, -12]})
CARD = {"tissues": ["t1", "t2"], "core_element": {"consensus": "TATAWAWR"},
        "drivers": [{"matrix_id": "M1", "length": 4, "effects": {"t1": 1.0, "t2": 0.0}},
                    {"matrix_id": "M2", "length": 3, "effects": {"t1": 0.0, "t2": -1.0}}]}


def test_site_masks_follow_tissues_and_the_core_gate():
    m = recovery.site_masks(TRUTH, CARD, ["g1", "g2"], [30, 40], [30, 40])
    assert m.shape == (2, 40, 2)
    assert m[0, 10:14, 0].all() and not m[0, 10:14, 1].any()  # M1 acts in t1 only
    assert m[0, 22:25, 1].all() and not m[0, 22:25, 0].any()
    assert m[1, 10:14, 0].all() and m[1, 28:36, 0].all()  # the core acts where M1 does
    assert not m[1, :, 1].any() and not m[0, 30:].any()
    with pytest.raises(ValueError, match="simulated"):
        recovery.site_masks(TRUTH, {"tissues": ["t1"]}, ["g1"], [30], [30])


def test_recovery_is_one_for_the_truth_and_near_chance_for_noise():
    rng = np.random.default_rng(0)
    masks = np.zeros((40, 200, 2), bool)
    for i in range(40):
        masks[i, rng.integers(0, 190):][:10] = True
    genes = [f"g{i}" for i in range(40)]
    perfect = recovery.summarise(recovery.per_gene(masks + rng.random(masks.shape) * 0.1, masks,
                                                   ["a", "b"], genes), n_bootstrap=200)
    assert list(perfect.columns) == list(recovery.COLUMNS[2:])
    values = perfect.set_index(["target", "metric"])["value"]
    assert (values[:, "auprc"] == 1).all() and (values[:, "auroc"] == 1).all()
    best = perfect.set_index(["target", "metric"]).loc[("overall", "auroc")]
    assert best["verdict"] == "better"  # interval [1, 1] above 0.5
    noise = recovery.summarise(recovery.per_gene(rng.random(masks.shape), masks, ["a", "b"],
                                                 genes), n_bootstrap=200)
    row = noise[noise["target"] == "overall"].set_index("metric")
    assert row.loc["chance", "value"] == pytest.approx(0.05)
    auprc = row.loc["auprc"]
    assert auprc["ci_low"] < auprc["value"] < auprc["ci_high"] and auprc["value"] < 0.12
    assert 0.4 < row.loc["auroc", "value"] < 0.6
    assert row.loc["auroc", "verdict"] == "indistinguishable" and pd.isna(row.loc["auprc", "verdict"])
    assert (noise.loc[noise["target"] == "a", "pairs"] == 40).all()


def test_recovery_intervals_come_from_gene_resamples():
    from cornlib.evaluate import resample

    rng = np.random.default_rng(1)
    per = pd.DataFrame({"gene_id": [f"g{i}" for i in range(30)], "target": "a",
                        "auprc": rng.random(30), "auroc": rng.random(30), "chance": 0.1,
                        "positives": 2})
    res = recovery.summarise(per, n_bootstrap=100, seed=4).set_index(["target", "metric"])
    draws = resample.bootstrap_indices(30, 100, seed=4)
    boot = per["auprc"].to_numpy()[draws].mean(axis=1)
    assert res.loc[("a", "auprc"), "ci_low"] == pytest.approx(np.quantile(boot, 0.025))
    assert res.loc[("a", "auprc"), "ci_high"] == pytest.approx(np.quantile(boot, 0.975))
    empty = recovery.table({}, None, ["a"], [])
    assert empty.empty and list(empty.columns) == list(recovery.COLUMNS)
    import matplotlib

    matplotlib.use("Agg")
    from cornlib.plots.scores import recovery as plot_recovery

    rows = pd.concat([res.reset_index().assign(model=m, method=k)
                      for m in ("cnn", "tf") for k in ("ism", "saliency", "gxi")])
    fig, ax = plot_recovery(rows[rows["target"] == "overall"])
    assert len(ax.get_legend().get_texts()) == 2
    matplotlib.pyplot.close(fig)


def test_separation_of_two_groups_with_intervals_and_verdict():
    from sklearn.metrics import roc_auc_score

    from cornlib.evaluate import resample

    rng = np.random.default_rng(2)
    pos, neg = rng.normal(1.5, 1, 40), rng.normal(0, 1, 60)
    sep = recovery.separation(pos, neg, n_bootstrap=200, seed=3).set_index("metric")
    assert sep.loc["auroc", "verdict"] == "better" and pd.isna(sep.loc["median_positive", "verdict"])
    assert (sep["n_positive"] == 40).all() and (sep["n_negative"] == 60).all()
    y = np.r_[np.ones(40), np.zeros(60)]
    assert sep.loc["auroc", "value"] == pytest.approx(roc_auc_score(y, np.r_[pos, neg]))
    reps = [roc_auc_score(y, np.r_[pos[i], neg[j]])
            for i, j in resample.stratified_indices([40, 60], 200, seed=3)]
    assert sep.loc["auroc", "ci_low"] == pytest.approx(np.quantile(reps, 0.025))
    same = recovery.separation(neg[:30], neg[30:], n_bootstrap=200).set_index("metric")
    assert same.loc["auroc", "verdict"] == "indistinguishable"
    with pytest.raises(ValueError, match="both groups"):
        recovery.separation([], neg)


def test_gradient_of_the_mean_target_is_the_mean_gradient():
    model = _cnn()
    seqs = ["ACGT" * 16]
    each = gradients.gradients(model, seqs)
    mean = gradients.gradients(model, seqs, targets="mean")
    assert mean.shape == (1, 64, 4, 1)
    assert np.allclose(mean[..., 0], each.mean(axis=3), atol=1e-6)
    with pytest.raises(ValueError, match="mean"):
        gradients.gradients(model, seqs, targets="max")


def test_token_attributions_spread_each_token_over_its_bases(tok):
    config = models.config_for_tokenizer(tok, max_length=64, layers=1, hidden=16, heads=2,
                                         intermediate=32, dropout=0.0, num_labels=2)
    torch.manual_seed(0)
    model = models.CornBertForRegression(config).eval()
    seqs = _seqs(1, 40, seed=3) + _seqs(1, 25, seed=4)
    gxi = gradients.token_attributions(model, tok, seqs)
    assert gxi.shape == (2, 40, 2) and np.isnan(gxi[1, 25:]).all()
    assert np.isfinite(gxi[0]).all()
    # per-base scores add up to the tokens' scores: gradient x embedding summed per token
    enc = tok(seqs[:1], return_tensors="pt")
    emb = model.get_input_embeddings()
    x = emb(enc["input_ids"]).detach().requires_grad_()
    hook = emb.register_forward_hook(lambda m, i, o: x)
    try:
        model(input_ids=enc["input_ids"], attention_mask=enc["attention_mask"]).logits[0, 1].backward()
    finally:
        hook.remove()
    per_token = (x.grad * x).sum(-1)[0].detach()
    real = enc["input_ids"][0] != tok.pad_token_id
    special = torch.tensor([t in tok.all_special_ids for t in enc["input_ids"][0].tolist()])
    assert np.nansum(gxi[0, :, 1]) == pytest.approx(float(per_token[real & ~special].sum()), abs=1e-4)
    ig = gradients.token_attributions(model, tok, seqs[:1], targets=[0], n_steps=8)
    assert ig.shape == (1, 40, 1) and np.isfinite(ig).all()


def test_gradients_keep_the_bases_the_predictor_keeps():
    model = _cnn()
    long = _seqs(1, 100, seed=5)[0]
    tss = gradients.gradients(model, [long])  # a bare model: the predictor's default window
    np.testing.assert_allclose(tss, gradients.gradients(predictor.from_model(model), [long]))
    assert np.isnan(tss[0, :36]).all() and np.isfinite(tss[0, 36:]).all()
    np.testing.assert_allclose(tss[0, 36:], gradients.gradients(model, [long[36:]])[0],
                               atol=1e-6)
    start = gradients.gradients(predictor.from_model(model, window="start"), [long])
    assert np.isfinite(start[0, :64]).all() and np.isnan(start[0, 64:]).all()
    # the 5' window reads the first 64 bases as the model reads a 64-base promoter
    np.testing.assert_allclose(start[0, :64], gradients.gradients(model, [long[:64]])[0],
                               atol=1e-6)
    ig = gradients.integrated_gradients(predictor.from_model(model, window="start"), [long],
                                        n_steps=4, targets=[0])
    assert np.isfinite(ig[0, :64]).all() and np.isnan(ig[0, 64:]).all()


def test_token_attributions_keep_the_end_the_predictor_keeps(tok):
    config = models.config_for_tokenizer(tok, max_length=12, layers=1, hidden=16, heads=2,
                                         intermediate=32, dropout=0.0, num_labels=2)
    torch.manual_seed(0)
    model = models.CornBertForRegression(config).eval()
    seq = _seqs(1, 120, seed=6)[0]
    tss = gradients.token_attributions(model, tok, [seq])
    start = gradients.token_attributions(predictor.from_model(model, tok, window="start"), None,
                                         [seq])
    assert np.isfinite(tss[0, -1]).all() and np.isnan(tss[0, 0]).all()
    assert np.isfinite(start[0, 0]).all() and np.isnan(start[0, -1]).all()
    with pytest.raises(ValueError, match="does not read bases"):
        gradients.gradients(predictor.from_model(model, tok), [seq])


def test_gradients_give_the_model_back_as_they_found_it():
    model = _cnn().train()
    gradients.gradients(model, ["ACGT" * 16], device="cpu")
    gradients.integrated_gradients(model, ["ACGT" * 16], n_steps=2, device="cpu")
    assert model.training and all(m.training for m in model.modules())
