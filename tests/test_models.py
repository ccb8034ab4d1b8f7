"""cornlib.models: config from a tokenizer, sparse MLM head, mean-pool regressor, Auto* loading."""

import json

import numpy as np
import pytest
import torch

from cornlib import models, tokenize


@pytest.fixture(scope="module")
def config(tok):
    return models.config_for_tokenizer(tok, max_length=64, layers=1, hidden=16, heads=2,
                                       intermediate=32, dropout=0.0)


def _batch(tok, lengths=(40, 25)):
    rng = np.random.default_rng(1)
    seqs = ["".join(rng.choice(list("ACGT"), n)) for n in lengths]
    return tok(seqs, padding=True, return_tensors="pt")


def test_config_for_tokenizer_takes_vocab_and_special_ids(tok, config):
    assert config.vocab_size == len(tok)
    assert config.pad_token_id == tok.pad_token_id
    assert config.mask_token_id == tok.mask_token_id
    # RoBERTa positions start after the pad id
    assert config.max_position_embeddings == 64 + tok.pad_token_id + 1
    assert config.max_tokens == 64


def test_config_rejects_hidden_not_divisible_by_heads(tok):
    with pytest.raises(ValueError, match="divisible"):
        models.config_for_tokenizer(tok, hidden=30, heads=4)


def test_new_mlm_uses_sdpa_and_is_seeded(config):
    a, b = models.new_mlm(config, seed=3), models.new_mlm(config, seed=3)
    assert a.config._attn_implementation == "sdpa"
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))
    assert a.lm_head.decoder.weight is a.roberta.embeddings.word_embeddings.weight


def test_sparse_head_matches_dense_head(tok, config):
    model = models.new_mlm(config).eval()
    batch = _batch(tok)
    labels = batch["input_ids"].clone()
    labels[:, ::2] = -100
    labels[batch["attention_mask"] == 0] = -100
    with torch.no_grad():
        sparse = model(**batch, labels=labels)
        model.config.sparse_mlm_head = False
        dense = model(**batch, labels=labels)
        model.config.sparse_mlm_head = True
        plain = model(**batch)
    chosen = labels != -100
    assert sparse.logits.shape == (int(chosen.sum()), len(tok))
    assert dense.logits.shape == (*labels.shape, len(tok))
    assert plain.logits.shape == (*labels.shape, len(tok))
    torch.testing.assert_close(sparse.logits, dense.logits[chosen])
    torch.testing.assert_close(sparse.loss, dense.loss)


def test_mlm_loss_divides_by_num_items_in_batch(tok, config):
    model = models.new_mlm(config).eval()
    batch = _batch(tok)
    labels = batch["input_ids"].clone()
    labels[batch["attention_mask"] == 0] = -100
    n = int((labels != -100).sum())
    with torch.no_grad():
        mean = model(**batch, labels=labels).loss
        summed = model(**batch, labels=labels, num_items_in_batch=2 * n).loss
    torch.testing.assert_close(summed, mean / 2)


def test_register_is_repeatable_and_auto_classes_load(tok, config, tmp_path):
    from transformers import AutoConfig, AutoModelForMaskedLM, AutoModelForSequenceClassification

    model = models.new_mlm(config)
    model.save_pretrained(tmp_path)
    models.register()
    models.register()
    assert isinstance(AutoConfig.from_pretrained(tmp_path), models.CornBertConfig)
    loaded = AutoModelForMaskedLM.from_pretrained(tmp_path)
    assert isinstance(loaded, models.CornBertForMaskedLM)
    assert loaded.config._attn_implementation == "sdpa"
    assert all(torch.equal(p, q) for p, q in zip(model.parameters(), loaded.parameters()))
    reg = AutoModelForSequenceClassification.from_pretrained(tmp_path, num_labels=3)
    assert isinstance(reg, models.CornBertForRegression)
    torch.testing.assert_close(reg.roberta.embeddings.word_embeddings.weight,
                               model.roberta.embeddings.word_embeddings.weight)


def test_mean_pool_ignores_padding(tok, config):
    cfg = models.CornBertConfig(**{**config.to_dict(), "num_labels": 2})
    model = models.CornBertForRegression(cfg).eval()
    alone = tok(["ACGTACGTTTGACA"], return_tensors="pt")
    padded = tok(["ACGTACGTTTGACA", "ACGT" * 12], padding=True, return_tensors="pt")
    assert padded["attention_mask"][0].eq(0).any()
    with torch.no_grad():
        a = model(**alone).logits[0]
        b = model(**padded).logits[0]
        c = model(input_ids=padded["input_ids"]).logits[0]  # mask derived from <pad>
    torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(b, c)


def test_regression_loss_is_mse_only_with_labels(tok, config):
    cfg = models.CornBertConfig(**{**config.to_dict(), "num_labels": 2})
    model = models.CornBertForRegression(cfg).eval()
    batch = _batch(tok)
    labels = torch.tensor([[0.5, -1.0], [2.0, 0.0]])
    with torch.no_grad():
        out = model(**batch, labels=labels)
        none = model(**batch)
    assert none.loss is None
    assert out.logits.shape == (2, 2)
    torch.testing.assert_close(out.loss, torch.mean((out.logits - labels) ** 2))


def test_load_mlm_rejects_missing_and_foreign_checkpoints(tok, config, tmp_path):
    with pytest.raises(FileNotFoundError, match="config.json"):
        models.load_mlm(tmp_path / "nowhere")
    models.new_mlm(config).save_pretrained(tmp_path / "ok")
    raw = json.loads((tmp_path / "ok" / "config.json").read_text())
    (tmp_path / "roberta").mkdir()
    (tmp_path / "roberta" / "config.json").write_text(json.dumps({**raw, "model_type": "roberta"}))
    (tmp_path / "roberta" / "model.safetensors").write_bytes(b"")
    with pytest.raises(ValueError, match="model_type"):
        models.load_mlm(tmp_path / "roberta")
    other = tokenize.train_bpe(["ACGT" * 50, "TTGACA" * 30], vocab_size=20)
    with pytest.raises(ValueError, match="vocab_size"):
        models.load_mlm(tmp_path / "ok", other)
    assert isinstance(models.load_mlm(tmp_path / "ok", tok), models.CornBertForMaskedLM)
