"""cornlib.models.hybrid and cornlib.training.bins: the convolution-stem transformer."""

import numpy as np
import pytest
import torch

from cornlib import models, sequence, training
from cornlib.models import hybrid
from cornlib.training import bins

SMALL = dict(seq_length=64, stem_channels=8, stem_kernel=5, pool=8, hidden_size=16,
             num_hidden_layers=1, num_attention_heads=2, intermediate_size=32,
             hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0, head_dropout=0.0)


def _codes(seqs, length=64):
    return torch.from_numpy(sequence.encode_fixed(seqs, length=length).astype(np.int64))


def test_reverse_complement_codes_match_the_string_version():
    s = "ACGTTNGCA"
    rc = hybrid.reverse_complement_codes(_codes([s], 9))
    assert sequence.decode(rc[0].numpy()) == sequence.reverse_complement(s)


def test_padding_bins_are_masked_and_do_not_change_the_output():
    model = models.CornHybridForRegression(models.CornHybridConfig(n_targets=2, **SMALL)).eval()
    short = "ACGTAGGCTTAGCATCGATCGGATCGATTTAGC"  # 33 bases: 5 real bins of 8 at the TSS end
    x = _codes([short])
    assert model.hybrid.bins(x).sum() == 5
    with torch.no_grad():
        a = model(x).logits
        b = model(_codes(["N" * 31 + short])).logits  # same real bins after left padding
    torch.testing.assert_close(a, b)


def test_rc_average_is_strand_symmetric():
    cfg = models.CornHybridConfig(n_targets=1, rc_average=True, **SMALL)
    model = models.CornHybridForRegression(cfg).eval()
    seq = "".join(np.random.default_rng(0).choice(list("ACGT"), 64))
    with torch.no_grad():
        a = model(_codes([seq])).logits
        b = model(_codes([sequence.reverse_complement(seq)])).logits
    torch.testing.assert_close(a, b)


def test_masked_bin_loss_targets_only_hidden_acgt_bases():
    cfg = models.CornHybridConfig(**SMALL)
    mlm = models.CornHybridForMaskedLM(cfg)
    x = _codes(["ACGT" * 15 + "NNNN"])
    hidden = torch.zeros(1, 8, dtype=torch.bool)
    hidden[0, 7] = True  # the last bin: 4 real bases and 4 N
    out = mlm(x, hidden_bins=hidden)
    assert out.logits.shape == (1, 8, 4)
    want = torch.nn.functional.cross_entropy(out.logits[0, :4], x[0, 56:60])
    torch.testing.assert_close(out.loss, want)
    with pytest.raises(ValueError, match="hidden_bins"):
        mlm(x)


def test_hidden_bin_collator_hides_only_real_bins_and_at_least_one():
    col = bins.HiddenBinCollator(64, 8, rate=0.01, seed=0)
    batch = col([{"input_ids": t} for t in _codes(["A" * 20, "ACGT" * 16])])
    real = models.CornHybridModel(models.CornHybridConfig(**SMALL)).bins(batch["input_ids"])
    assert batch["hidden_bins"].sum(1).min() >= 1
    assert not (batch["hidden_bins"] & ~real).any()


def test_pretraining_lowers_the_masked_loss_and_saves(tmp_path):
    rng = np.random.default_rng(0)
    motif = "TATAAAGGCC"
    seqs = ["".join(rng.choice(list("ACGT"), 54)) + motif for _ in range(96)]
    codes = sequence.encode_fixed(seqs, length=64)
    out = bins.pretrain(codes, codes[:32], models.CornHybridConfig(**SMALL), tmp_path,
                        max_steps=60, batch_size=32, learning_rate=5e-3, eval_steps=30,
                        rate=0.2, device="cpu")
    valid = out.history[out.history["split"] == "valid"]["loss"].to_numpy()
    assert valid[-1] < np.log(4) - 0.05
    from transformers import AutoModelForMaskedLM

    loaded = AutoModelForMaskedLM.from_pretrained(tmp_path / "model")
    assert isinstance(loaded, models.CornHybridForMaskedLM)
    reg = models.CornHybridForRegression.from_pretrained(tmp_path / "model", n_targets=2)
    torch.testing.assert_close(reg.hybrid.conv.weight, loaded.hybrid.conv.weight)


def test_config_checks_sizes():
    with pytest.raises(ValueError, match="divisible"):
        models.CornHybridForRegression(models.CornHybridConfig(hidden_size=30,
                                                               num_attention_heads=4))
    with pytest.raises(ValueError, match="length 50"):
        models.CornHybridForRegression(models.CornHybridConfig(**SMALL))(
            torch.zeros(1, 50, dtype=torch.long))
    assert training.ArrayDataset(np.zeros((3, 4)))[0].keys() == {"input_ids"}


def test_mixed_loss_thresholds_in_target_units():
    from cornlib.models import targets

    assert targets.expressed_threshold(1.0, "log1p") == pytest.approx(np.log(2))
    cfg = models.CornHybridConfig(n_targets=2, loss="mixed", expressed_tpm=1.0,
                                  target_transform="log1p", **SMALL)
    model = models.CornHybridForRegression(cfg).eval()
    x = _codes(["ACGT" * 16, "TTGA" * 16])
    labels = torch.tensor([[0.0, 3.0], [float("nan"), 0.5]])
    out = model(x, labels=labels)
    assert out.logits.shape == (2, 2) and torch.isfinite(out.loss)
    z, logit = model.head(model.embed(x)).chunk(2, dim=-1)
    torch.testing.assert_close(out.logits, torch.sigmoid(logit) * z)
    with pytest.raises(ValueError, match="loss must be"):
        models.CornHybridForRegression(models.CornHybridConfig(loss="huber", **SMALL))
