"""cornlib.models.cnn and baselines.fit_cnn: the HF model contract, Auto* registration, Trainer training."""

import numpy as np
import pandas as pd
import pytest
import torch

from cornlib import baselines, dataset
from cornlib.models import cnn

SMALL = dict(seq_length=64, channels=[8, 8], kernel_sizes=[5, 3], pool_sizes=[4, 4], hidden_size=8)


def test_conv_block_keeps_length_then_pools():
    block = cnn.ConvBlock(4, 6, 5, pool_size=4, dropout=0.0)
    out = block(torch.randn(3, 4, 42))
    assert out.shape == (3, 6, 10) and (out >= 0).all()


def test_forward_returns_loss_only_with_labels_and_outputs_in_target_units():
    config = cnn.PromoterCNNConfig(n_targets=2, target_mean=[5.0, -1.0], target_std=[2.0, 0.5], **SMALL)
    model = cnn.PromoterCNN(config).eval()
    x = torch.randint(0, 5, (3, 64))
    out = model(x)
    assert out.loss is None and out.logits.shape == (3, 2)
    with torch.no_grad():
        model.head[-1].weight.zero_()
        model.head[-1].bias.zero_()
    assert torch.allclose(model(x).logits, torch.tensor([[5.0, -1.0]] * 3))  # z = 0 → the mean
    labels = torch.tensor([[7.0, -1.0]] * 3)  # z-scores (1, 0): MSE on z = 0.5
    assert model(x, labels=labels).loss.item() == pytest.approx(0.5)


def test_n_codes_are_zero_vectors():
    model = cnn.PromoterCNN(cnn.PromoterCNNConfig(**SMALL))
    onehot = model.one_hot(torch.tensor([[0, 1, 2, 3, 4]]))  # 1, 4, L
    assert onehot[0].T.tolist() == [[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1], [0, 0, 0, 0]]


def test_bad_configs_and_inputs_are_rejected():
    with pytest.raises(ValueError, match="one entry per block"):
        cnn.PromoterCNN(cnn.PromoterCNNConfig(seq_length=64, channels=[8], kernel_sizes=[3, 3],
                                              pool_sizes=[2]))
    with pytest.raises(ValueError, match="global_pool"):
        cnn.PromoterCNN(cnn.PromoterCNNConfig(global_pool="mean", **SMALL))
    with pytest.raises(ValueError, match="too short"):
        cnn.PromoterCNN(cnn.PromoterCNNConfig(seq_length=8, channels=[4], kernel_sizes=[3], pool_sizes=[16]))
    with pytest.raises(ValueError, match="target_mean has 1"):
        cnn.PromoterCNN(cnn.PromoterCNNConfig(n_targets=2, target_mean=[0.0], **SMALL))
    model = cnn.PromoterCNN(cnn.PromoterCNNConfig(**SMALL))
    with pytest.raises(ValueError, match="length 50"):
        model(torch.zeros(1, 50, dtype=torch.long))


def test_register_is_repeatable_and_auto_classes_round_trip(tmp_path):
    from transformers import AutoConfig, AutoModel

    cnn.register()
    cnn.register()
    model = cnn.PromoterCNN(cnn.PromoterCNNConfig(n_targets=3, target_mean=[1.0, 2.0, 3.0],
                                                  target_std=[1.0, 1.0, 2.0], **SMALL)).eval()
    model.save_pretrained(tmp_path)
    assert isinstance(AutoConfig.from_pretrained(tmp_path), cnn.PromoterCNNConfig)
    loaded = AutoModel.from_pretrained(tmp_path).eval()
    assert isinstance(loaded, cnn.PromoterCNN)
    x = torch.randint(0, 5, (4, 64))
    assert torch.allclose(model(x).logits, loaded(x).logits)


@pytest.fixture(scope="module")
def tiny_data():
    rng = np.random.default_rng(0)
    n = 160
    seqs = ["".join(rng.choice(list("ACGT"), size=int(rng.integers(50, 70)))) for _ in range(n)]
    gc = np.array([(s.count("G") + s.count("C")) / len(s) for s in seqs])
    genes = [f"AT{i:03d}" for i in range(n)]
    labels = np.array(["train"] * 100 + ["valid"] * 30 + ["test"] * 30)
    return dataset.assemble(
        pd.DataFrame({"gene_id": genes, "species": "athaliana", "chrom": "1", "start": 0, "end": 60,
                      "strand": "+", "sequence": seqs}),
        pd.DataFrame({"gene_id": genes, "cluster_id": np.arange(n), "split": labels,
                      "fold": np.where(labels == "train", 0, -1)}),
        pd.DataFrame({"gene_id": genes, "sim_a": 4 * gc + rng.normal(scale=0.1, size=n),
                      "sim_b": -3 * gc + rng.normal(scale=0.1, size=n)}))


def test_fit_cnn_trains_with_the_trainer_and_saves_a_loadable_model(tiny_data, tmp_path):
    from transformers import AutoModel

    kwargs = dict(**SMALL, epochs=2, batch_size=16, learning_rate=5e-3, seed=3, device="cpu", threads=1)
    kwargs.pop("seq_length")
    fit = baselines.fit_cnn(tiny_data, tmp_path / "a", seq_length=64, **kwargs)
    p = fit.predictions
    assert set(p["target"]) == {"sim_a", "sim_b"} and len(p) == 60
    assert np.isfinite(p["y_pred"]).all()
    assert fit.tuning["setting"].tolist() == ["seed=3, epoch=1", "seed=3, epoch=2"]
    assert fit.tuning["chosen"].sum() == 1
    cnn.register()
    model = AutoModel.from_pretrained(fit.estimators["tissues"])
    assert model.config.target_names == ["sim_a", "sim_b"]
    assert not (tmp_path / "a" / "tissues" / "seed_3" / "trainer").exists()
    again = baselines.fit_cnn(tiny_data, tmp_path / "b", seq_length=64, **kwargs)
    assert np.allclose(again.predictions["y_pred"], p["y_pred"], atol=1e-5)  # seeded


def test_fit_cnn_trains_seeds_side_by_side_and_keeps_the_best_on_valid(tiny_data, tmp_path):
    import json

    kwargs = dict(**SMALL, epochs=2, batch_size=16, learning_rate=5e-3, device="cpu")
    kwargs.pop("seq_length")
    fit = baselines.fit_cnn(tiny_data, tmp_path / "two", seq_length=64, seeds=[3, 4],
                            patience=1, **kwargs)  # two processes on a CPU
    p = fit.predictions
    assert p.groupby("seed").size().to_dict() == {3: 60, 4: 60}
    record = json.loads((tmp_path / "two" / "tissues" / "seeds.json").read_text())
    best = max(record["runs"], key=lambda s: record["runs"][s]["best_valid_r2"])
    assert record["chosen_seed"] == int(best)
    assert fit.estimators["tissues"] == tmp_path / "two" / "tissues" / "model"
    # the seed run in a worker process equals the same seed trained here, alone
    one = baselines.fit_cnn(tiny_data, tmp_path / "one", seq_length=64, seed=3, threads=1,
                            patience=1, **kwargs)
    assert np.allclose(one.predictions["y_pred"], p.loc[p["seed"] == 3, "y_pred"], atol=1e-5)
    first = baselines.fit_cnn(tiny_data, tmp_path / "first", seq_length=64, seeds=[3, 4],
                              one_seed=["tissues"], threads=1, patience=1, **kwargs)
    assert set(first.predictions["seed"]) == {3}  # a group named in one_seed: the first seed


def test_fit_cnn_learns_a_planted_motif(tmp_path):
    """Guards the initialisation (with He-normal weights a planted motif was learned far slower)."""
    rng = np.random.default_rng(1)
    n, length = 1200, 120
    seqs, counts = [], []
    for _ in range(n):
        s = list(rng.choice(list("ACGT"), size=length))
        k = int(rng.integers(0, 4))
        for pos in rng.choice(np.arange(0, length - 8, 12), size=k, replace=False):
            s[pos:pos + 8] = "GATTACAG"
        seqs.append("".join(s))
        counts.append(k)
    genes = [f"AT{i:04d}" for i in range(n)]
    labels = np.array(["train"] * 900 + ["valid"] * 150 + ["test"] * 150)
    data = dataset.assemble(
        pd.DataFrame({"gene_id": genes, "species": "athaliana", "chrom": "1", "start": 0, "end": length,
                      "strand": "+", "sequence": seqs}),
        pd.DataFrame({"gene_id": genes, "cluster_id": np.arange(n), "split": labels,
                      "fold": np.where(labels == "train", 0, -1)}),
        pd.DataFrame({"gene_id": genes, "sim_a": (np.array(counts) > 0) + rng.normal(scale=0.2, size=n)}))
    fit = baselines.fit_cnn(data, tmp_path, seq_length=length, channels=[16], kernel_sizes=[11],
                            pool_sizes=[2], epochs=10, batch_size=32, learning_rate=5e-3, seed=0,
                            device="cpu", threads=1)
    assert fit.tuning["valid_r2"].max() > 0.5
