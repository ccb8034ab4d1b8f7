"""cornlib.training.pretrain and cornlib.evaluate.mlm: inputs, held-out split, masking,
pretraining, warm start, scores, baselines."""

import math
import warnings

import numpy as np
import pandas as pd
import pytest
import torch

from cornlib import CornlibWarning, corpus, models, tokenize
from cornlib.evaluate import mlm
from cornlib.models import markov
from cornlib.training import pretrain


def _random_dna(rng, n):
    return "".join(rng.choice(list("ACGT"), n))


@pytest.fixture(scope="module")
def table():
    rng = np.random.default_rng(0)
    rows = [(f"{sp}_{i}", sp, "promoter", _random_dna(rng, int(rng.integers(80, 160))))
            for sp in ("athaliana", "aarenosa") for i in range(12)]
    rows += [("g:1:0-100(+)", "alyrata", "genome_window", _random_dna(rng, 100))]
    return pd.DataFrame(rows, columns=list(corpus.COLUMNS))


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory, table):
    path = tmp_path_factory.mktemp("run")
    corpus.write(path / "corpus.parquet", table)
    tokenize.save(tokenize.train_bpe(table["sequence"], vocab_size=40, model_max_length=128),
                  path / "tokenizer")
    return path


@pytest.fixture(scope="module")
def tok(run_dir):
    return tokenize.load(run_dir / "tokenizer")


def test_load_inputs_reads_corpus_and_tokenizer(run_dir, table):
    found, tok = pretrain.load_inputs(run_dir)
    assert len(found) == len(table) and tok.mask_token == "<mask>"


@pytest.mark.parametrize("bad, message", [("", "empty"), ("ACGTXACGT", "not a DNA letter")])
def test_load_inputs_rejects_empty_or_non_dna_sequences(tmp_path, run_dir, table, bad, message):
    broken = table.copy()
    broken.loc[3, "sequence"] = bad
    broken.to_parquet(tmp_path / "corpus.parquet", index=False)
    (tmp_path / "tokenizer").symlink_to(run_dir / "tokenizer")
    with pytest.raises(ValueError, match=message) as err:
        pretrain.load_inputs(tmp_path)
    assert table.loc[3, "seq_id"] in str(err.value)


def test_load_inputs_names_a_missing_tokenizer_file(tmp_path, run_dir):
    (tmp_path / "corpus.parquet").symlink_to(run_dir / "corpus.parquet")
    (tmp_path / "tokenizer").mkdir()
    (tmp_path / "tokenizer" / "tokenizer_config.json").write_text("{}")
    with pytest.raises(FileNotFoundError, match="tokenizer.json"):
        pretrain.load_inputs(tmp_path)


def test_heldout_split_is_per_species_and_keeps_windows_in_training(table):
    parts = pretrain.heldout_split(table, 0.25, seed=1)
    assert "part" not in table.columns
    held = parts[parts["part"] == "heldout"]
    assert held.groupby("species").size().to_dict() == {"aarenosa": 3, "athaliana": 3}
    assert (parts.loc[parts["source"] == "genome_window", "part"] == "train").all()
    again = pretrain.heldout_split(table, 0.25, seed=1)
    assert again["part"].equals(parts["part"])


def test_tokenize_wraps_in_specials_and_warns_when_truncating(tok, table):
    with pytest.warns(CornlibWarning, match="truncated"):
        ids = pretrain.tokenize(table["sequence"], tok, max_length=12)
    assert all(len(x) <= 12 and x[0] == tok.bos_token_id and x[-1] == tok.eos_token_id
               for x in ids)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        whole = pretrain.tokenize(table["sequence"][:2], tok, max_length=200)
    assert tok.decode(whole[0], skip_special_tokens=True) == table["sequence"][0]


def test_mask_fixed_is_reproducible_and_skips_specials(tok, table):
    ids = pretrain.tokenize(table["sequence"], tok, max_length=128)
    a = pretrain.mask_fixed(ids, tok, 0.2, seed=3)
    b = pretrain.mask_fixed(ids, tok, 0.2, seed=3)
    assert a == b
    for ex, orig in zip(a, ids):
        labels = np.array(ex["labels"])
        chosen = labels != -100
        assert chosen.sum() >= 1 and not chosen[0] and not chosen[-1]
        assert (np.array(ex["input_ids"])[chosen] == tok.mask_token_id).all()
        assert (labels[chosen] == np.array(orig)[chosen]).all()


def test_masked_target_spans_cover_the_true_bases(tok, table):
    ids = pretrain.tokenize(table["sequence"], tok, max_length=128)
    ex = pretrain.mask_fixed(ids, tok, 0.3, seed=0)
    targets = mlm.masked_targets(ex, table["species"], tok)
    seqs = mlm.sequences_of(ex, tok)
    assert seqs[0] == tok.decode(ids[0], skip_special_tokens=True)
    for t in targets.itertuples():
        assert seqs[t.example][t.base_start:t.base_end] == t.bases
        assert t.visible_start <= t.base_start
    # the visible context never reaches back over another masked token
    prev_end = targets.groupby("example")["base_end"].shift()
    assert (targets["visible_start"][prev_end.notna()] >= prev_end.dropna()).all()


def test_markov_order0_is_base_frequency_and_learns_a_repeat():
    m0 = markov.MarkovModel(0, alpha=0.0).fit(["AAAC"])
    np.testing.assert_allclose(m0.probs(""), [0.75, 0.25, 0.0, 0.0])
    m3 = markov.MarkovModel(3, alpha=0.01).fit(["ACGT" * 200])
    seq = "ACGT" * 5
    logp, right = m3.score_span(seq, 8, 12, visible_start=0)
    assert right == 4 and -logp / math.log(2) / 4 < 0.01
    # with no visible context the first base is a guess
    logp0, _ = m3.score_span(seq, 8, 12, visible_start=8)
    assert logp0 < logp


def test_summarize_scores_a_perfect_and_a_uniform_predictor():
    targets = pd.DataFrame({"example": [0, 0], "species": ["a", "b"], "position": [1, 2],
                            "true_id": [5, 6], "bases": ["AC", "G"], "base_start": [0, 2],
                            "base_end": [2, 3], "visible_start": [0, 2], "acgt": [True, True]})
    perfect = pd.DataFrame({"pred_id": [5, 6], "logp_true": [0.0, 0.0], "bases_correct": [2, 1]})
    uniform = pd.DataFrame({"pred_id": [-1, -1], "logp_true": [2 * math.log(0.25), math.log(0.25)],
                            "bases_correct": [0, 0], "token_level": False})
    s = mlm.summarize(targets, {"perfect": perfect, "uniform": uniform}).set_index(
        ["predictor", "species"])
    assert s.loc[("perfect", "all"), "token_accuracy"] == 1.0
    assert s.loc[("perfect", "all"), "perplexity"] == 1.0
    assert s.loc[("perfect", "all"), "base_accuracy"] == 1.0
    assert s.loc[("uniform", "all"), "bits_per_base"] == pytest.approx(2.0)
    assert math.isnan(s.loc[("uniform", "a"), "token_accuracy"])
    assert s.loc[("perfect", "b"), "bases"] == 1


def test_pretrain_saves_a_loadable_model_and_warm_starts_from_it(run_dir, tok, tmp_path):
    from transformers import AutoModelForMaskedLM

    found, _ = pretrain.load_inputs(run_dir)
    parts = pretrain.heldout_split(found, 0.2, seed=0)
    train_part = parts[parts["part"] == "train"]
    held = parts[parts["part"] == "heldout"]
    train_ids = pretrain.tokenize(train_part["sequence"], tok, 128)
    heldout = pretrain.mask_fixed(pretrain.tokenize(held["sequence"], tok, 128), tok, seed=0)
    config = models.config_for_tokenizer(tok, max_length=128, layers=1, hidden=16, heads=2,
                                         intermediate=32)
    res = pretrain.pretrain(train_ids, heldout, tok, tmp_path / "pt", config=config, max_steps=4,
                            batch_size=8, save_steps=2, eval_steps=2, logging_steps=1,
                            progress=False)
    assert res.stats["steps"] == 4 and res.stats["tokens"] > 0
    assert set(res.history["split"]) == {"train", "valid"}
    models.register()
    loaded = AutoModelForMaskedLM.from_pretrained(tmp_path / "pt" / "model")
    assert all(torch.equal(p, q.cpu()) for p, q in zip(loaded.parameters(),
                                                        res.model.parameters()))
    # warm start: continue the saved model on one species
    one = pretrain.tokenize(train_part.loc[train_part["species"] == "athaliana", "sequence"],
                            tok, 128)
    warm = pretrain.pretrain(one, None, tok, tmp_path / "warm",
                             init_from=tmp_path / "pt" / "model", max_steps=2, batch_size=4,
                             save_steps=2, logging_steps=1, progress=False)
    assert not torch.equal(warm.model.roberta.embeddings.word_embeddings.weight,
                           loaded.roberta.embeddings.word_embeddings.weight)
    summary = mlm.evaluate({"pretrained": res.model, "warm": warm.model}, heldout,
                                list(held["species"]), tok, train_ids=train_ids,
                                train_sequences=train_part["sequence"], markov_order=2)
    assert set(summary["predictor"]) == {"pretrained", "warm", "token unigram", "Markov chain (k=2)"}
    assert set(summary["species"]) == {"aarenosa", "athaliana", "all"}
    assert summary["bits_per_base"].between(0, 10).all()
    table = mlm.predictions_on(res.model, heldout[0], tok)
    assert len(table) == len(heldout[0]["input_ids"]) and table["masked"].any()
    record = pretrain.metrics_record(summary, {"pretrain": res, "warm": warm}, profile="test")
    assert record["model"]["hidden"] == 16 and record["runs"]["warm"]["steps"] == 2


def test_warm_start_refuses_a_model_of_another_vocabulary(run_dir, tok, tmp_path):
    other = tokenize.train_bpe(["ACGT" * 40, "TTGACA" * 20], vocab_size=12)
    config = models.config_for_tokenizer(other, max_length=64, layers=1, hidden=16, heads=2)
    models.new_mlm(config).save_pretrained(tmp_path / "other")
    ids = pretrain.tokenize(["ACGTACGTAC" * 3], tok, 128)
    with pytest.raises(ValueError, match="vocab_size"):
        pretrain.pretrain(ids, None, tok, tmp_path / "w", init_from=tmp_path / "other",
                          max_steps=1, progress=False)


def test_heldout_split_by_cluster_keeps_cluster_mates_together(table):
    promoters = table[table["source"] == "promoter"]
    # pairs of promoters share a cluster, across species too
    clusters = pd.DataFrame({"gene_id": promoters["seq_id"],
                             "cluster_id": np.arange(len(promoters)) % 12})
    parts = pretrain.heldout_split(table, 0.25, seed=2, clusters=clusters)
    held = parts[parts["part"] == "heldout"]
    train = parts[(parts["part"] == "train") & (parts["source"] == "promoter")]
    assert not set(held["cluster"]) & set(train["cluster"])
    assert (held.groupby("species").size() >= 3).all()
    assert (parts.loc[parts["source"] == "genome_window", "part"] == "train").all()
    assert parts.loc[parts["source"] == "genome_window", "cluster"].isna().all()
    again = pretrain.heldout_split(table, 0.25, seed=2, clusters=clusters)
    assert again["part"].equals(parts["part"])


def _two_predictors(n=60, seed=0):
    rng = np.random.default_rng(seed)
    targets = pd.DataFrame({"example": np.arange(n) // 3, "species": "a", "position": 1,
                            "true_id": 5, "bases": "AC", "base_start": 0, "base_end": 2,
                            "visible_start": 0, "acgt": True})
    good = pd.DataFrame({"pred_id": np.where(rng.random(n) < 0.9, 5, 6),
                         "logp_true": np.log(0.8), "bases_correct": 2, "logp_length": np.log(0.9)})
    bad = pd.DataFrame({"pred_id": np.where(rng.random(n) < 0.1, 5, 6),
                        "logp_true": np.log(0.1), "bases_correct": 0, "logp_length": 0.0})
    return targets, {"good": good, "bad": bad, "same": good.copy()}


def test_bootstrap_intervals_and_paired_verdicts():
    targets, scores = _two_predictors()
    intervals, diffs = mlm.bootstrap(targets, scores, [("good", "bad"), ("good", "same")],
                                     units=np.arange(20) // 2, n_bootstrap=200, seed=0)
    row = intervals.set_index(["predictor", "metric"]).loc[("good", "bits_per_base")]
    assert row["value"] == pytest.approx(-math.log2(0.8) / 2)
    assert row["ci_low"] <= row["value"] <= row["ci_high"]
    given = intervals.set_index(["predictor", "metric"]).loc[("good", "bits_per_base_given_length")]
    assert given["value"] == pytest.approx(-math.log2(0.8 / 0.9) / 2)
    d = diffs.set_index(["reference", "metric"])
    assert d.loc[("bad", "token_accuracy"), "verdict"] == "better"
    assert d.loc[("bad", "bits_per_base"), "verdict"] == "better"  # fewer bits is better
    assert (d.loc["same", "verdict"] == "indistinguishable").all()
    sentence = mlm.compare_sentence(diffs, "good", "same")
    assert sentence.startswith("The good is indistinguishable from the same in masked-token")
    assert "beats the bad" in mlm.compare_sentence(diffs, "good", "bad")
    with pytest.raises(ValueError, match="units"):
        mlm.bootstrap(targets, scores, [], units=[0, 1])
    import matplotlib

    matplotlib.use("Agg")
    from cornlib.plots.per_category import paired_differences

    fig, axes = paired_differences(diffs)
    assert len(axes) == diffs["metric"].nunique()
    matplotlib.pyplot.close(fig)


def test_bootstrap_draws_the_engines_cluster_resamples():
    from cornlib.evaluate import resample

    targets, scores = _two_predictors()
    units = np.arange(20) // 4  # 5 clusters of 4 examples (3 tokens each)
    intervals, _ = mlm.bootstrap(targets, scores, [], units=units, n_bootstrap=50, seed=3)
    w = resample.bootstrap_weights(20, 50, seed=3, groups=units)  # per example
    right = (scores["bad"]["pred_id"] == 5).to_numpy(float)
    per_example = np.bincount(targets["example"], weights=right, minlength=20)
    reps = (w @ per_example) / (w.sum(axis=1) * 3)
    row = intervals.set_index(["predictor", "metric"]).loc[("bad", "token_accuracy")]
    assert row["ci_low"] == pytest.approx(np.quantile(reps, 0.025))
    assert row["ci_high"] == pytest.approx(np.quantile(reps, 0.975))


def test_length_sentence_splits_off_the_cost_of_the_token_length():
    summary = pd.DataFrame({"predictor": ["mlm", "uni", "chain"], "species": "all",
                            "bits_per_base": [2.2, 2.2, 1.9], "base_accuracy": [0.35, 0.35, 0.33],
                            "bits_per_base_given_length": [1.8, 1.8, 1.9]})
    differences = pd.DataFrame({"model": ["mlm"], "reference": ["uni"], "metric": ["base_accuracy"],
                                "verdict": ["indistinguishable"]})
    text = mlm.length_sentence(summary, differences, "mlm", "uni", "chain")
    assert "0.400 per base pay for the token's length" in text
    assert "more than the chain (1.900)" in text and "1.800, fewer than the chain" in text
    assert "guesses 35.0% of the letters, more than the chain (33.0%)" in text
    assert "comes from the token statistics" in text


def test_unigram_scores_the_length_of_the_true_token(tok, table):
    ids = pretrain.tokenize(table["sequence"], tok, max_length=128)
    ex = pretrain.mask_fixed(ids, tok, 0.3, seed=0)
    targets = mlm.masked_targets(ex, table["species"], tok)
    logp = mlm.unigram_logprobs(ids, tok)
    sc = mlm.score_unigram(logp, targets, tok)
    lengths = np.array([len(b) for b in mlm.token_bases(tok)])
    t = targets.iloc[0]
    same = lengths == len(t["bases"])
    assert sc["logp_length"].iloc[0] == pytest.approx(np.log(np.exp(logp[same]).sum()))
    assert (sc["logp_true"] <= sc["logp_length"] + 1e-9).all()
