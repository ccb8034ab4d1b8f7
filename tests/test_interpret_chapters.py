"""The library side of chapters 09-10: site geometry, the TSS profile, variant separation,
model comparison, page tables and the chapters' inputs."""


import numpy as np
import pandas as pd
import pytest
import torch
from motif_counter import MOTIF, MotifCounter  # noqa: F401
from motif_counter import motif_predictor as _motif_predictor

from cornlib import models
from cornlib.interpret import (
    geometry,
    gradients,
    inputs,
    kmer_flip,
    methods,
    motifs,
    profile,
    recovery,
    tables,
    variant_effects,
)
from cornlib.models import predictor


def _genes(n=5, length=60, seed=0):
    rng = np.random.default_rng(seed)
    seqs = ["".join(rng.choice(list("AT"), length)) for _ in range(n)]
    seqs = [s[:30] + MOTIF + s[38:] for s in seqs]
    return pd.DataFrame({"gene_id": [f"g{i}" for i in range(n)], "sequence": seqs})


CARD = {"tissues": ["t1", "t2"],
        "drivers": [{"matrix_id": "M1", "length": 4, "effects": {"t1": 1.0, "t2": 0.0}},
                    {"matrix_id": "M2", "length": 6, "effects": {"t1": 0.0, "t2": -1.0}}]}
TRUTH = pd.DataFrame({
    "gene_id": ["g1", "g1", "g2", "g2", "g2"], "motif": ["M1", "M2", "M1", "M2", "sim:TATA"],
    "motif_name": ["one", "two", "one", "two", "TATA"],
    "role": ["driver", "driver", "driver", "driver", "core"],
    "position": [-20, -100, -30, -12, -25], "contribution": [0.5, -0.2, 0.1, -0.9, 2.0],
    "peak_tissue": ["t1", "t2", "t1", "t2", "t1"]})


def test_strongest_site_and_its_window():
    # g2 (TSS at 50 of 60 bases) holds the largest |contribution| among drivers (the core's
    # larger one does not count): M2 at -12, acting most in t2.
    w = geometry.strongest_site(TRUTH, CARD, ["g1", "g2"], [200, 50], [200, 60], ["t1", "t2"],
                                flank=20)
    assert (w.gene, w.gene_id, w.target, w.target_name) == (1, "g2", 1, "t2")
    assert (w.start, w.end) == (18, 58)  # 38 ± 20
    assert w.sites == [(20, 24, "one"), (38, 44, "two")]  # both of g2's drivers overlap
    narrow = geometry.strongest_site(TRUTH, CARD, ["g1", "g2"], [200, 50], [200, 60],
                                     ["t1", "t2"], flank=10)
    assert narrow.sites == [(38, 44, "two")]  # M1 at 20-24 lies left of 28
    wide = geometry.strongest_site(TRUTH, CARD, ["g1", "g2"], [200, 50], [200, 60],
                                   ["t1", "t2"], flank=40)
    assert (wide.start, wide.end) == (0, 60)  # clipped to the sequence
    only_g1 = geometry.strongest_site(TRUTH, CARD, ["g1"], [200], [200], ["t1", "t2"], flank=5)
    assert (only_g1.gene_id, only_g1.target_name, only_g1.start, only_g1.end) == ("g1", "t1", 175, 185)
    assert only_g1.sites == [(180, 184, "one")]  # the M2 site at -100 lies outside


def test_strongest_site_errors_name_the_problem():
    with pytest.raises(ValueError, match="none of the 1 genes has a true driver site"):
        geometry.strongest_site(TRUTH, CARD, ["g9"], [10], [10], ["t1"])
    with pytest.raises(ValueError, match="t2 is not one of the model's targets"):
        geometry.strongest_site(TRUTH, CARD, ["g2"], [50], [60], ["t1"])
    with pytest.raises(ValueError, match="not a driver"):
        geometry.site_spans(TRUTH.assign(motif="M9"), CARD, 0)


def test_draw_genes_uses_the_next_seed():
    genes = _genes(20)
    drawn = profile.draw_genes(genes, 5, seed=3)
    assert drawn.equals(genes.sample(5, random_state=4))
    assert len(profile.draw_genes(genes, 50, seed=0)) == 20


def test_tss_profiles_are_the_binned_flips_and_ism():
    genes = _genes(4)
    labels = pd.DataFrame({"motif": 1.0, "gc": 0.0}, index=genes["gene_id"]).iloc[::-1]
    ism = np.random.default_rng(0).normal(size=(2, 50, 2))
    model = _motif_predictor()
    table = profile.tss_profiles({"m": model}, genes, 4, labels=labels, ism={"m": ism},
                                 ism_tss=[50, 40], draws=3, seed=1, bin_width=10)
    assert table["method"].unique().tolist() == [profile.flip_label(4), profile.ERROR_CHANGE,
                                                 profile.ISM]
    assert (table["model"] == "m").all()
    flip = kmer_flip.flip(model, genes["sequence"].tolist(), 4, draws=3, seed=1,
                          labels=np.tile([1.0, 0.0], (4, 1)))
    for method, values, tss in [(profile.flip_label(4), np.abs(flip.effect), [60] * 4),
                                (profile.ERROR_CHANGE, flip.error_change, [60] * 4),
                                (profile.ISM, np.abs(ism), [50, 40])]:
        want = kmer_flip.tss_profile(values.mean(axis=2, keepdims=True), tss, bin_width=10)
        got = table[table["method"] == method].drop(columns=["model", "method"])
        pd.testing.assert_frame_equal(got.reset_index(drop=True), want)
    plain = profile.tss_profiles({"m": model}, genes, 4, draws=3, seed=1)
    assert plain["method"].unique().tolist() == [profile.flip_label(4)]
    assert (plain["bin_start"] % 50 == 0).all()  # the default bin width
    with pytest.raises(ValueError, match="ism_tss"):
        profile.tss_profiles({"m": model}, genes, 4, ism={"m": ism})


def _variant_table(deltas, status=None, genes=None):
    n = len(deltas)
    t = pd.DataFrame({"id": [f"v{i}" for i in range(n)],
                      "gene_id": genes or [f"g{i}" for i in range(n)],
                      "status": status or ["scored"] * n})
    d = np.asarray(deltas, float)
    return t.assign(ref_a=0.0, delta_a=d[:, 0], delta_b=d[:, 1])


def test_variant_effects_and_separation():
    simulated = pd.DataFrame({"id": [f"v{i}" for i in range(6)],
                              "gene_id": [f"g{i}" for i in range(6)],
                              "class": ["site"] * 3 + ["random"] * 3})
    good = _variant_table([[1, -3], [2, 0], [0, 4], [0.1, 0], [0, -0.2], [0.3, 0]])
    # v5 unscored; v0 also falls in another gene's promoter (not the one it was drawn for)
    other = pd.concat([_variant_table([[0, 1]] * 6, status=["scored"] * 5 + ["indel"]),
                       _variant_table([[9, 9]], genes=["g5"])], ignore_index=True)
    eff = variant_effects.effects({"a": good, "b": other}, simulated)
    a = eff[eff["model"] == "a"].set_index("id")
    assert a["effect"].tolist() == [3, 2, 4, 0.1, 0.2, 0.3]
    assert a["class"].tolist() == simulated["class"].tolist()
    assert eff[eff["model"] == "b"]["id"].tolist() == [f"v{i}" for i in range(5)]
    sep = variant_effects.separation(eff, n_bootstrap=50, seed=2)
    assert sep["model"].unique().tolist() == ["a", "b"]
    want = recovery.separation([3, 2, 4], [0.1, 0.2, 0.3], n_bootstrap=50, seed=2)
    got = sep[sep["model"] == "a"].drop(columns="model").reset_index(drop=True)
    pd.testing.assert_frame_equal(got, want)
    auroc = sep[sep["metric"] == "auroc"].set_index("model")["value"]
    assert auroc["a"] == 1.0 and auroc["b"] == 0.5


def test_paired_auroc_difference_and_the_ceiling():
    rng = np.random.default_rng(0)
    n = 40
    truth = rng.uniform(0.1, 2, n)
    simulated = pd.DataFrame({"id": [f"v{i}" for i in range(2 * n)],
                              "gene_id": [f"g{i}" for i in range(2 * n)],
                              "class": ["site"] * n + ["random"] * n,
                              "contribution": np.r_[-truth, [np.nan] * n]})
    sharp = np.r_[truth, rng.uniform(0, 0.05, n)]  # ranks the sites as the truth does
    blurred = np.r_[rng.uniform(0, 2, n), rng.uniform(0, 1, n)]
    eff = variant_effects.effects(
        {"a": _variant_table(np.c_[sharp, 0 * sharp]),
         "b": _variant_table(np.c_[blurred, 0 * blurred])}, simulated)
    diff = variant_effects.auroc_difference(eff, ["a", "b"], n_bootstrap=200, seed=1)
    sep = variant_effects.separation(eff, n_bootstrap=200, seed=1)
    auroc = sep[sep["metric"] == "auroc"].set_index("model")
    assert diff["model"].tolist() == ["a − b"] and diff["verdict"].iat[0] == "better"
    assert diff["value"].iat[0] == pytest.approx(auroc.at["a", "value"] - auroc.at["b", "value"])
    flipped = variant_effects.auroc_difference(eff, ["b", "a"], n_bootstrap=200, seed=1)
    assert flipped["verdict"].iat[0] == "worse"
    assert flipped["ci_low"].iat[0] == pytest.approx(-diff["ci_high"].iat[0])  # same draws
    top = variant_effects.ceiling(eff, ["a", "b"], n_bootstrap=200, seed=1)
    assert top["model"].tolist() == ["a", "b", "a − b"] and (top["n"] == n).all()
    got = top.set_index("model")
    assert got.at["a", "value"] == pytest.approx(1.0)  # |contribution| ranks as the truth
    assert got.at["a − b", "verdict"] == "better"
    text = variant_effects.comparison_text(diff, top)
    assert "a's separation beats the b's" in text and "a beats the b" in text
    assert "true effects" not in variant_effects.comparison_text(diff, None)
    with pytest.raises(ValueError, match="not in it: \\['c'\\]"):
        variant_effects.auroc_difference(eff, ["a", "c"])
    with pytest.raises(ValueError, match="no true effect"):
        variant_effects.ceiling(eff.drop(columns="contribution"), ["a", "b"])


def test_problem_variants_cover_each_status():
    bad = variant_effects.problem_variants({"chrom": "c1", "pos": 5, "ref": "A"}, {"c1": "gattaca"})
    assert bad["id"].tolist() == ["no_contig", "wrong_ref", "multi", "indel", "far"]
    rows = bad.set_index("id")
    assert rows.loc["wrong_ref", ["ref", "alt"]].tolist() == ["C", "G"]
    assert rows.loc["multi", "alt"] == "C,G" and rows.loc["indel", "alt"] == "AT"
    assert rows.loc["far", ["pos", "ref", "alt"]].tolist() == [1, "G", "T"]
    assert rows.loc["no_contig", "chrom"] not in {"c1"}


def test_compact_tables_show_missing_values_one_way():
    t = pd.DataFrame({"x": [0.12345, np.nan], "n": [1200, 3], "s": ["a", None],
                      "q": [1e-5, np.nan]}, index=pd.Index(["r1", "r2"], name="row"))
    out = tables.compact(t, digits=2, formats={"q": "{:.1e}"})
    assert out.to_dict("list") == {"x": ["0.12", "—"], "n": ["1,200", "3"], "s": ["a", "—"],
                                   "q": ["1.0e-05", "—"]}
    assert out.index.equals(t.index)
    with pytest.raises(KeyError, match="nope"):
        tables.compact(t, formats={"nope": "{}"})


def test_by_model_runs_each_model_and_tabulates_seconds(monkeypatch):
    calls = []

    def fake(model, seqs, **kw):
        calls.append((model, tuple(seqs), kw))
        timing = pd.DataFrame({"method": ["ism", "gradients"], "seconds": [2.0 * model, 1.0],
                               "evaluations": [1, 1]})
        return {"ism": np.full((1, 3, 1), model)}, np.zeros(1), timing

    monkeypatch.setattr(methods, "importance", fake)
    scores, effects, seconds = methods.by_model({"t": 1, "c": 3}, ["ACG"], seed=4)
    assert [c[0] for c in calls] == [1, 3] and calls[0][2] == {"seed": 4}
    assert list(scores) == list(effects) == ["t", "c"]
    assert seconds.columns.tolist() == ["t", "c"]
    assert seconds.loc["ism"].tolist() == [2.0, 6.0]


def test_agreement_by_model_is_the_median_correlation_per_model():
    rng = np.random.default_rng(0)
    ref = rng.normal(size=(3, 20, 2))
    scores = {"t": {"ism": ref, "same": ref * 2, "noise": rng.normal(size=ref.shape)},
              "c": {"ism": ref, "same": -ref, "noise": ref}}
    wide = methods.agreement_by_model(scores)
    assert wide.columns.tolist() == ["t", "c"]
    assert wide.loc["same"].tolist() == pytest.approx([1.0, 1.0])
    assert wide.loc["noise", "c"] == pytest.approx(1.0) and abs(wide.loc["noise", "t"]) < 0.5
    assert "METHODS" not in vars(methods)


def test_verdict_table_is_short():
    verdicts = pd.DataFrame([["found", "M1", "one", "pos_0", "M1", "one", "F", 1e-6],
                             ["invented", None, None, "neg_0", None, None, None, np.nan]],
                            columns=motifs.COMPARE_COLUMNS).assign(model="cnn")
    shown = motifs.verdict_table(verdicts)
    assert shown.columns.tolist() == ["model", "verdict", "driver", "pattern", "match", "q"]
    assert tables.compact(shown, formats={"q": "{:.0e}"}).iloc[1].tolist() == [
        "cnn", "invented", "—", "neg_0", "—", "—"]
    assert motifs.verdict_table(verdicts.drop(columns="model")).columns[0] == "verdict"


def test_from_gradients_reads_corrected_mean_gradients(monkeypatch):
    torch.manual_seed(0)
    cnn = models.PromoterCNN(models.PromoterCNNConfig(
        seq_length=32, n_targets=2, channels=[4], kernel_sizes=[5], pool_sizes=[1],
        hidden_size=8)).eval()
    seen = {}

    def fake(x, hyp, **kw):
        seen.update(x=x, hyp=hyp, kw=kw)
        return []

    monkeypatch.setattr(motifs, "discover", fake)
    seqs = ["ACGT" * 8, "GATTACA"]
    assert motifs.from_gradients(predictor.from_model(cnn), seqs, max_seqlets=7) == []
    assert seen["kw"] == {"max_seqlets": 7}
    grad = gradients.gradients(cnn, seqs, targets="mean")
    assert np.allclose(seen["hyp"], np.nan_to_num(gradients.correct(grad)[..., 0]))
    assert seen["x"].shape == (2, 32, 4) and seen["x"][1, :7].sum() == 7
    assert not seen["x"][1, 7:].any()  # aligned like the per-base results


def test_inputs_read_through_the_registry(tmp_path):
    with pytest.raises(FileNotFoundError, match="promoters.parquet.*02_promoters"):
        inputs.promoters(tmp_path)
    pd.DataFrame({"gene_id": ["a", "b"], "sequence": ["AC", "GT"]}).to_parquet(
        tmp_path / "promoters.parquet")
    pd.DataFrame({"gene_id": ["b", "a"], "split": ["test", "train"], "cluster_id": [1, 2]}
                 ).to_parquet(tmp_path / "split.parquet")
    got = inputs.promoters(tmp_path)
    assert got.columns.tolist() == ["gene_id", "sequence", "split"]
    assert got["split"].tolist() == ["train", "test"]
    with pytest.raises(FileNotFoundError, match="truth_sites.parquet.*01_eda"):
        inputs.truth(tmp_path)
    for run, r2 in [("pretrained", [0.1, 0.3]), ("random_init", [0.2])]:
        (tmp_path / "finetune" / run).mkdir(parents=True)
        pd.DataFrame({"r2": r2}).to_parquet(tmp_path / "finetune" / run / "valid_r2.parquet")
    with pytest.raises(FileNotFoundError, match="cnn/tissues/model.*04_baselines"):
        inputs.model_dirs(tmp_path)
    (tmp_path / inputs.CNN).mkdir(parents=True)
    chosen, dirs, valid = inputs.model_dirs(tmp_path)
    assert chosen == "pretrained" and list(dirs) == ["transformer", "cnn"]
    assert dirs["transformer"] == tmp_path / "finetune" / "pretrained" / "model"
    assert valid.index.tolist() == ["pretrained", "random_init"]
    assert isinstance(valid, pd.DataFrame) and valid.iloc[:, 0].tolist() == [0.3, 0.2]


def test_verdict_counts_fill_every_status():
    verdicts = pd.DataFrame({"model": ["t", "t", "t", "c"],
                             "status": ["found", "missed", "missed", "invented"]})
    counts = motifs.verdict_counts(verdicts)
    assert counts.index.tolist() == ["t", "c"]
    assert counts.columns.tolist() == ["found", "family", "missed", "invented"]
    assert counts.loc["t"].tolist() == [1, 0, 2, 0] and counts.loc["c"].tolist() == [0, 0, 0, 1]


def _tiny_cnn(n_targets=2, length=32):
    torch.manual_seed(0)
    return predictor.from_model(models.PromoterCNN(models.PromoterCNNConfig(
        seq_length=length, n_targets=n_targets, channels=[4], kernel_sizes=[5],
        pool_sizes=[1], hidden_size=8)).eval())


def test_importance_perturbs_only_the_given_genes():
    from cornlib.interpret import ism

    p = _tiny_cnn()
    seqs = ["ACGTTGCAAC" * 2, "GATTACAGATTACA", "CCGGAATT" * 3]
    kw = dict(kmer_ks=(3,), kmer_draws=1, ig_steps=2, progress=False)
    scores, delta, timing = methods.importance(p, seqs, perturb=[1], **kw)
    assert set(timing["genes"]) == {1, 3}  # perturbation on one, gradients on all
    for name in ("ism", "kmer_flip_3"):
        assert np.isnan(scores[name][[0, 2]]).all()
        assert np.isfinite(scores[name][1, :14]).all()
    assert np.isfinite(scores["grad_x_input"][2, :24]).all()
    alone = ism.saturation(p, seqs[1:2], progress=False)
    assert np.allclose(delta[1, :14], alone[0], equal_nan=True)
    assert np.isnan(delta[0]).all()
    full, _, _ = methods.importance(p, seqs, **kw)
    assert np.allclose(full["grad_x_input"], scores["grad_x_input"], equal_nan=True)
    with pytest.raises(ValueError, match="perturb index 3"):
        methods.importance(p, seqs, perturb=[3], **kw)


def test_zero_share_counts_flat_substitutions():
    from cornlib.interpret import ism

    delta = np.zeros((2, 3, 4, 1), np.float32)
    delta[0, 0, 1] = 0.5  # "AC": one substitution of A moves the prediction
    delta[0, 2] = np.nan  # past the end of "AC"
    delta[1] = np.nan  # not scored
    delta[0, 1, 0] = 1e-8  # rounding, not an effect
    share = ism.zero_share(delta, ["AC", "GG"])
    assert share["substitutions"] == pytest.approx(5 / 6)
    assert share["positions"] == pytest.approx(1 / 2)
    assert ism.zero_share(delta, ["AC", "GG"], atol=0)["substitutions"] == pytest.approx(4 / 6)
    masks = np.zeros((2, 3, 1), bool)
    masks[0, 0] = True  # the site is the position that moves
    split = ism.zero_share(delta, ["AC", "GG"], masks)
    assert (split["sites"], split["elsewhere"]) == (0.0, 1.0)
    with pytest.raises(ValueError, match="1 sequences for 2 rows"):
        ism.zero_share(delta, ["AC"])


def _per_sequence_case():
    from cornlib.interpret import contrasts

    rng = np.random.default_rng(0)
    n, length, t = 12, 40, 2
    masks = np.zeros((n, length, t), bool)
    masks[:, 10:15] = True
    perfect = masks.astype(float) + rng.uniform(0, 0.1, masks.shape)
    noise = rng.uniform(0, 1, masks.shape)
    few = noise.copy()
    few[6:] = np.nan  # scored on the first six genes only
    scores = {"a": {"perfect": perfect, "noise": noise, "few": few},
              "b": {"perfect": noise, "noise": noise}}
    ids = [f"g{i}" for i in range(n)]
    return contrasts, contrasts.per_sequence(scores, masks, ["t1", "t2"], ids)


def test_per_sequence_scores_and_their_summary():
    contrasts, table = _per_sequence_case()
    assert list(table.columns) == ["model", "method", "gene_id", "target", "auroc",
                                   "auprc", "chance", "auprc_norm"]
    perfect = table[(table["model"] == "a") & (table["method"] == "perfect")]
    assert np.allclose(perfect[["auroc", "auprc", "auprc_norm"]], 1.0)
    assert np.allclose(perfect["chance"], 5 / 40)
    assert len(table[table["method"] == "few"]) == 6 * 2
    s = contrasts.summary(table, n_bootstrap=50)
    assert list(s.columns) == contrasts.SUMMARY_COLUMNS
    row = s[(s["model"] == "a") & (s["method"] == "few") & (s["metric"] == "auroc")].iloc[0]
    assert row["genes"] == 6 and row["pairs"] == 12
    assert row["ci_low"] <= row["value"] <= row["ci_high"]


def test_paired_differences_use_the_genes_both_scored():
    contrasts, table = _per_sequence_case()
    d = contrasts.paired(table, [(("a", "perfect"), ("a", "noise")),
                                 (("a", "noise"), ("b", "noise")),
                                 (("a", "few"), ("a", "perfect"))], n_bootstrap=200)
    assert list(d.columns) == contrasts.PAIRED_COLUMNS
    auprc = d[d["metric"] == "auprc"].reset_index(drop=True)
    assert auprc.loc[0, "verdict"] == "better" and auprc.loc[0, "ci_low"] > 0
    assert auprc.loc[1, ["value", "ci_low", "ci_high"]].tolist() == [0.0, 0.0, 0.0]
    assert auprc.loc[1, "verdict"] == "indistinguishable"
    assert auprc.loc[2, "genes"] == 6 and auprc.loc[2, "verdict"] == "worse"
    two = table[table["gene_id"].isin(["g0", "g1"])]
    lone = contrasts.paired(two, [(("a", "perfect"), ("a", "noise"))], n_bootstrap=20)
    assert lone["verdict"].eq("undefined").all() and lone["ci_low"].isna().all()
    with pytest.raises(ValueError, match="c / noise is not in the table"):
        contrasts.paired(table, [(("c", "noise"), ("a", "noise"))])


def test_best_method_on_common_genes_and_the_differences_it_drives():
    contrasts, table = _per_sequence_case()
    assert contrasts.best_methods(table)["a"] == "perfect"
    # "perfect" wins on the mean over all its genes (0.6 against 0.5), but only thanks to the
    # six genes "few" did not score: on the genes every method scored, "few" wins.
    lucky = table.copy()
    first = lucky["gene_id"].isin([f"g{i}" for i in range(6)])
    lucky.loc[lucky["method"] == "perfect", "auprc"] = np.where(first, 0.2, 1.0)[
        (lucky["method"] == "perfect").to_numpy()]
    lucky.loc[lucky["method"] == "few", "auprc"] = 0.5
    lucky.loc[lucky["method"] == "noise", "auprc"] = 0.1
    assert contrasts.best_methods(lucky)["a"] == "few"
    diff = contrasts.method_differences(table, {"a": "perfect"}, n_bootstrap=20)
    assert diff[["reference_method"]].drop_duplicates()["reference_method"].tolist() == [
        "noise", "few"]
    models_ = contrasts.model_differences(table, "a", "b", by_target=True, n_bootstrap=20)
    assert set(models_["method"]) == {"perfect", "noise"}
    assert set(models_["target"]) == {"overall", "t1", "t2"}
    counts = contrasts.verdict_counts(diff)
    assert counts.columns.tolist() == ["better", "worse", "indistinguishable", "undefined"]
    assert counts.loc["a"].sum() == 2


def test_draw_genes_nests_the_perturbed_genes_and_relation_words():
    from cornlib.interpret import contrasts

    genes = pd.DataFrame({"gene_id": [f"g{i}" for i in range(10)]})
    truth = pd.DataFrame({"gene_id": [f"g{i}" for i in range(0, 10, 2)], "role": "driver"})
    drawn, sub = contrasts.draw_genes(genes, truth, 4, 2, seed=1)
    assert len(drawn) == 4 and drawn["gene_id"].isin(truth["gene_id"]).all()
    assert len(sub) == 2 and list(sub) == sorted(sub) and sub.max() < 4
    again, sub2 = contrasts.draw_genes(genes, None, 20, 3, seed=1)
    assert len(again) == 10 and len(sub2) == 3
    with pytest.raises(ValueError, match="positive"):
        contrasts.draw_genes(genes, None, 0, 1)
    ref = contrasts.KOO_PLOENZKE_AUROC
    assert contrasts.relation([0.5, 0.6], ref) == "below"
    assert contrasts.relation([0.7, 0.8], ref) == "within"
    assert contrasts.relation([0.55, 0.8], ref) == "overlapping"
    assert contrasts.relation([0.95], ref) == "above"


def test_recovery_scores_equal_scikit_learn_with_ties():
    from sklearn.metrics import average_precision_score, roc_auc_score

    rng = np.random.default_rng(3)
    for _ in range(20):
        n = int(rng.integers(5, 300))
        y = rng.random(n) < rng.uniform(0.02, 0.5)
        y[0], y[1] = True, False
        x = np.round(rng.normal(size=n), int(rng.integers(0, 3)))  # rounding makes ties
        ap, roc = recovery._scores(y, x)
        assert ap == pytest.approx(average_precision_score(y, x), abs=1e-12)
        assert roc == pytest.approx(roc_auc_score(y, x), abs=1e-12)


def test_wide_shows_a_value_without_its_undefined_interval():
    from cornlib.evaluate import resample

    long = pd.DataFrame({"model": ["a", "a", "b"], "metric": ["x", "y", "x"],
                         "value": [0.5, -0.25, np.nan], "ci_low": [0.4, np.nan, np.nan],
                         "ci_high": [0.6, np.nan, np.nan]})
    wide = resample.wide(long, "model", digits=2)
    assert wide.loc["a", "x"] == "0.50 [0.40, 0.60]"
    assert wide.loc["a", "y"] == "-0.25"
    assert wide.loc["b", "x"] == "—" and wide.loc["b", "y"] == "—"


def test_glue_keys_are_complete_on_either_targets():
    """Chapter 9's prose keys exist with true sites (counts, values) and without (— or NaN)."""
    from cornlib.interpret import measured

    contrasts, table = _per_sequence_case()
    diff = contrasts.method_differences(table, {"a": "perfect"}, n_bootstrap=20)
    words = contrasts.choice_words({"a": "perfect"}, diff, ["a", "b"])
    assert words["best_a"] == "perfect" and words["best_a_others"] == 2
    assert words["best_b"] == words["best_b_better"] == "—"
    empty = contrasts.per_sequence({}, None, ["t1"], ["g0"])
    none = contrasts.summary(empty)
    rng = contrasts.auroc_range(none)
    assert np.isnan(rng["auroc_min"]) and rng["kp_relation"] == "—"
    s = contrasts.summary(table, n_bootstrap=20)
    assert contrasts.auroc_range(s)["kp_relation"] in {"below", "above", "within",
                                                       "overlapping"}
    assert contrasts.verdict_words(contrasts.paired(empty, []), "x")["x_methods"] == "—"
    models_ = contrasts.model_differences(table, "a", "b", n_bootstrap=20)
    counted = contrasts.verdict_words(models_, "x")
    assert counted["x_methods"] == 2 and set(counted) == {
        "x_better", "x_worse", "x_indistinguishable", "x_undefined", "x_methods"}
    one = contrasts.paired(table, [(("a", "perfect"), ("a", "noise"))],
                           metrics=["auprc"], n_bootstrap=20)
    values = contrasts.paired_values(one, "d", ["a", "b"])
    assert values["d_a_verdict"] == "better" and values["d_b_verdict"] == "—"
    assert np.isnan(values["d_b_value"]) and values["d_a_value"] > 0
    verdicts = pd.DataFrame({"model": ["t", "t"], "status": ["missed", "invented"]})
    v = motifs.verdict_values(verdicts, ["t", "c"])
    assert (v["motif_missed_t"], v["motif_invented_c"]) == (1, 0)
    v = motifs.verdict_values(verdicts, ["t", "c"], drivers=False)
    assert v["motif_missed_t"] == "—" and v["motif_invented_t"] == 1
    null = pd.DataFrame([{"model": "t", "source": "found", "patterns": 2, "driver": 0.5,
                          "driver family": 0.25}])
    n = motifs.null_values(null, ["t"])
    assert n["null_found_t"] == 0.75 and np.isnan(n["null_shuffled_t"])
    assert np.isnan(motifs.null_values(null.iloc[:0], ["t"])["null_found_t"])
    glued = {}
    measured.glue_all(lambda k, v, display: glued.update({k: (v, display)}), {"k": 1})
    assert glued == {"k": (1, False)}


def test_ism_window_without_true_sites_is_the_largest_effect():
    from cornlib.interpret import measured

    ism = np.zeros((1, 50, 4, 2))
    ism[0, 20, 1, 1] = 3.0
    w = measured.ism_window(ism, pd.DataFrame(), {"kind": "measured"}, ["g"], [25], [50],
                            ["x", "y"], flank=5)
    assert (w.gene_id, w.target_name, w.start, w.end, w.sites) == ("g", "y", 15, 25, [])
