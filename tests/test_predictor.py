"""cornlib.models.predictor: saved models carry their contract; one predict for every model."""

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import torch

from cornlib import models, training
from cornlib.models import predictor

TISSUES = ["sim_t01_root", "sim_t02_leaf"]


def _seqs(n, lo=30, hi=80, seed=0):
    rng = np.random.default_rng(seed)
    return ["".join(rng.choice(list("ACGT"), int(k))) for k in rng.integers(lo, hi, n)]


@pytest.fixture(scope="module")
def cnn_dir(tmp_path_factory):
    path = tmp_path_factory.mktemp("cnn") / "model"
    config = models.PromoterCNNConfig(seq_length=64, n_targets=2, channels=[4], kernel_sizes=[5],
                                      pool_sizes=[2], hidden_size=8, target_names=TISSUES,
                                      target_mean=[3.0, -1.0], target_std=[2.0, 0.5],
                                      target_transform="log1p")
    torch.manual_seed(0)
    training.save_model(models.PromoterCNN(config), path)
    return path


@pytest.fixture(scope="module")
def bert_dir(tok, tmp_path_factory):
    path = tmp_path_factory.mktemp("bert") / "model"
    config = models.config_for_tokenizer(tok, max_length=32, layers=1, hidden=16, heads=2,
                                         intermediate=32, dropout=0.0, num_labels=2,
                                         target_names=TISSUES, target_mean=[1.0, 2.0],
                                         target_std=[0.5, 4.0], target_transform="log1p")
    torch.manual_seed(0)
    training.save_model(models.CornBertForRegression(config), path, tok)
    return path


def test_saved_models_restore_their_targets_and_units(cnn_dir, bert_dir):
    for path in (cnn_dir, bert_dir):
        p = predictor.load(path)
        assert p.targets == TISSUES and p.units == "log1p"
    assert predictor.load(bert_dir).max_length == 32


def test_predictions_keep_input_order_whatever_the_batching(cnn_dir, bert_dir):
    seqs = _seqs(23)
    ids = [f"g{i}" for i in range(23)]
    for path in (cnn_dir, bert_dir):
        p = predictor.load(path)
        whole = p.predict(seqs, ids, batch_size=5)
        one = pd.concat([p.predict([s], [i], batch_size=1) for s, i in zip(seqs, ids)])
        assert list(whole.index) == ids and list(whole.columns) == TISSUES
        np.testing.assert_allclose(whole.to_numpy(), one.to_numpy(), rtol=1e-4, atol=1e-4)


def test_outputs_are_in_original_units(bert_dir):
    model = models.CornBertForRegression.from_pretrained(bert_dir).eval()
    enc = predictor.tokens_encoder(_tok(bert_dir), 32)(["ACGTACGTAA"])
    with torch.no_grad():
        z = model.head(model.roberta(**enc).last_hidden_state, enc["attention_mask"])
        out = model(**enc).logits
    torch.testing.assert_close(out, z * torch.tensor([0.5, 4.0]) + torch.tensor([1.0, 2.0]))


def _tok(path):
    from cornlib import tokenize

    return tokenize.load(path)


def test_long_sequences_keep_the_tss_end(cnn_dir):
    p = predictor.load(cnn_dir)
    tail = _seqs(1, 64, 65, seed=3)[0]
    long = _seqs(1, 200, 201, seed=4)[0] + tail
    a = p.predict([long, tail]).to_numpy()
    np.testing.assert_allclose(a[0], a[1], rtol=1e-5)
    b = predictor.load(cnn_dir, window="start").predict([long]).to_numpy()
    assert not np.allclose(a[0], b[0])


def test_bad_input_is_named(cnn_dir):
    p = predictor.load(cnn_dir)
    with pytest.raises(ValueError, match="'g2'.*'X'"):
        p.predict(["ACGT", "ACGT", "ACXT"], ["g0", "g1", "g2"])
    with pytest.raises(ValueError, match="duplicate sequence ids"):
        p.predict(["ACGT", "ACGT"], ["g0", "g0"])
    with pytest.raises(ValueError, match="no sequences"):
        p.predict([])


def test_a_masked_lm_or_foreign_folder_is_refused(tok, tmp_path):
    mlm = models.new_mlm(models.config_for_tokenizer(tok, max_length=32, layers=1, hidden=16,
                                                     heads=2, intermediate=32))
    mlm.save_pretrained(tmp_path / "mlm")
    with pytest.raises(ValueError, match="CornBertForMaskedLM, not an expression model"):
        predictor.load(tmp_path / "mlm")
    (tmp_path / "bert").mkdir()
    (tmp_path / "bert" / "config.json").write_text(json.dumps({"model_type": "bert"}))
    (tmp_path / "bert" / "model.safetensors").write_bytes(b"")
    with pytest.raises(ValueError, match="type 'bert'"):
        predictor.load(tmp_path / "bert")
    with pytest.raises(FileNotFoundError, match="no config.json"):
        predictor.load(tmp_path / "nowhere")


def test_sklearn_models_share_the_interface():
    from sklearn.linear_model import LinearRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer

    from cornlib import features

    seqs = _seqs(40)
    X = features.composition(seqs)
    y = np.c_[X[:, 1] + X[:, 2], X[:, 0]]
    est = make_pipeline(FunctionTransformer(features.composition), LinearRegression())
    p = predictor.SklearnPredictor(est.fit(seqs, y), TISSUES)
    np.testing.assert_allclose(p.predict(seqs).to_numpy(), y, atol=1e-8)


def test_import_alone_registers_the_auto_classes(tok, cnn_dir, bert_dir, tmp_path):
    models.new_mlm(models.config_for_tokenizer(tok, max_length=32, layers=1, hidden=16, heads=2,
                                               intermediate=32)).save_pretrained(tmp_path / "mlm")
    code = ("import sys, cornlib.models, transformers as t\n"
            "A = t.AutoModelForSequenceClassification\n"
            "print(type(A.from_pretrained(sys.argv[1])).__name__,"
            " type(A.from_pretrained(sys.argv[2])).__name__,"
            " type(t.AutoModelForMaskedLM.from_pretrained(sys.argv[3])).__name__)")
    out = subprocess.run([sys.executable, "-c", code, str(cnn_dir), str(bert_dir),
                          str(tmp_path / "mlm")], capture_output=True, text=True, check=True,
                         env={"HF_HUB_OFFLINE": "1", "PATH": ""})
    assert out.stdout.split() == ["PromoterCNN", "CornBertForRegression", "CornBertForMaskedLM"]


def _hybrid(seq_length=64):
    from cornlib.models import hybrid

    cfg = hybrid.CornHybridConfig(seq_length=seq_length, stem_channels=8, stem_kernel=5, pool=8,
                                  hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                                  intermediate_size=32, target_names=TISSUES)
    return hybrid.regressor(cfg, n_targets=2)


def test_apply_runs_any_function_of_the_model_in_input_order(cnn_dir):
    from cornlib.evaluate import embeddings

    model = _hybrid().eval()
    p = predictor.from_model(model)
    seqs = _seqs(13)
    vec = embeddings.embed(p, seqs, batch_size=4)
    codes = predictor.bases_encoder(64)(seqs)["input_ids"]
    with torch.no_grad():
        direct = model.embed(codes).numpy()
    assert vec.shape == direct.shape and vec.dtype == np.float32
    np.testing.assert_allclose(vec, direct, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(p.apply(seqs, batch_size=3), p.predict(seqs).to_numpy(),
                               rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="has no embed"):
        embeddings.embed(predictor.load(cnn_dir), seqs)


def test_models_come_back_in_the_mode_and_place_they_were_lent_in():
    from cornlib.evaluate import embeddings
    from cornlib.models.state import preserve_state

    model = _hybrid().train()
    model.hybrid.eval()  # a frozen encoder under a training head stays that way
    p = predictor.from_model(model)
    p.predict(_seqs(5), device="cpu")
    embeddings.embed(p, _seqs(5), device="cpu")
    assert model.training and model.head.training and not model.hybrid.training
    assert next(model.parameters()).device.type == "cpu"
    with pytest.raises(RuntimeError, match="boom"):
        with preserve_state(model, "cpu") as net:
            assert not net.training
            raise RuntimeError("boom")
    assert model.training and not model.hybrid.training


def test_as_predictor_loads_wraps_or_passes_through(cnn_dir):
    p = predictor.as_predictor(cnn_dir)
    assert isinstance(p, predictor.TorchPredictor) and p.window == "tss"
    assert predictor.as_predictor(p) is p
    wrapped = predictor.as_predictor(p.model, window="start")
    assert wrapped.window == "start" and wrapped.model is p.model
    assert p.kind.name == "cnn" and p.kind.inputs == "bases"
    with pytest.raises(ValueError, match="keeps the 'tss' window"):
        predictor.as_predictor(p, window="start")
    with pytest.raises(ValueError, match="not a cornlib expression model"):
        predictor.as_predictor(torch.nn.Linear(2, 2))
    with pytest.raises(ValueError, match="window must be one of"):
        predictor.load(cnn_dir, window="middle")


def test_every_reader_of_a_model_folder_names_what_it_found(tok, cnn_dir, tmp_path):
    from cornlib.models import encoders, kinds

    assert kinds.kind_of({"model_type": "cornbert"}).inputs == "tokens"
    assert kinds.kind_of(models.PromoterCNNConfig()).name == "cnn"
    assert kinds.kind_of({"model_type": "bert"}) is None
    mlm = models.new_mlm(models.config_for_tokenizer(tok, max_length=32, layers=1, hidden=16,
                                                     heads=2, intermediate=32))
    mlm.save_pretrained(tmp_path / "mlm")
    with pytest.raises(ValueError, match=f"{cnn_dir}.*PromoterCNN, not a cornlib masked LM"):
        encoders.regressor_from_mlm(cnn_dir)
    with pytest.raises(ValueError, match="PromoterCNN, not a CornBERT masked LM"):
        models.load_mlm(cnn_dir)
    with pytest.raises(FileNotFoundError, match=f"{tmp_path / 'nowhere'} holds no config.json"):
        encoders.regressor_from_mlm(tmp_path / "nowhere")
    model, report = encoders.regressor_from_mlm(tmp_path / "mlm", n_targets=2)
    assert isinstance(model, models.CornBertForRegression) and report["missing"]
    cfg = models.CornHybridConfig(seq_length=64, stem_channels=8, stem_kernel=5, pool=8,
                                  hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                                  intermediate_size=32)
    models.CornHybridForMaskedLM(cfg).save_pretrained(tmp_path / "hybrid")
    model, report = encoders.regressor_from_mlm(tmp_path / "hybrid", n_targets=2)
    assert isinstance(model, models.CornHybridForRegression)
    assert report["missing"] and all(k.startswith("head.") for k in report["missing"])


def test_progress_bars_obey_tqdm_disable(cnn_dir, monkeypatch, capfd):
    monkeypatch.delenv("TQDM_DISABLE", raising=False)
    assert not predictor._bar(50, None).disable  # shown at a terminal or in Jupyter
    assert predictor._bar(5, None).disable and predictor._bar(50, False).disable
    monkeypatch.setenv("TQDM_DISABLE", "1")  # the book's builds (papermill)
    assert predictor._bar(50, None).disable and predictor._bar(50, True).disable
    capfd.readouterr()
    predictor.load(cnn_dir).predict(_seqs(30), batch_size=1)  # 30 batches
    predictor.load(cnn_dir).predict(_seqs(30), batch_size=1, progress=True)
    assert "predict" not in capfd.readouterr().err
