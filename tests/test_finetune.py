"""cornlib.training.finetune: real freezing on a schedule, layer-wise learning rates, the best
epoch kept, and a model that learns a planted motif."""

import numpy as np
import pandas as pd
import pytest
import torch

from cornlib import models, sequence, training
from cornlib.training import arms
from cornlib.training import finetune as F

SMALL = dict(seq_length=64, stem_channels=8, stem_kernel=7, pool=8, hidden_size=16,
             num_hidden_layers=2, num_attention_heads=2, intermediate_size=32,
             hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0, head_dropout=0.0)


def _data(n=384, seed=0):
    """Expression = number of planted TATAAA copies (+ noise), in two 'tissues'."""
    rng = np.random.default_rng(seed)
    seqs, y = [], []
    for _ in range(n):
        s = list(rng.choice(list("ACGT"), 64))
        k = int(rng.integers(0, 3))
        for j in range(k):
            p = 8 + 20 * j
            s[p:p + 6] = "TATAAA"
        seqs.append("".join(s))
        y.append([k + rng.normal(0, 0.1), 2 * k + rng.normal(0, 0.1)])
    codes = sequence.encode_fixed(seqs, length=64)
    return codes, np.asarray(y, np.float32)


def _model(**kw):
    fields = {"target_names": ["a", "b"], "target_mean": [1.0, 2.0], "target_std": [0.8, 1.6]}
    torch.manual_seed(0)
    return models.CornHybridForRegression(models.CornHybridConfig(n_targets=2, **SMALL,
                                                                  **fields, **kw))


def test_schedule_and_layer_groups():
    assert F.unfreezing_schedule(4, None) == [0, 0, 0, 0]
    assert F.unfreezing_schedule(4, 2) == [0, 2, 4, 6]
    assert F.unfreezing_schedule(3, 0)[1:] == [10 ** 9] * 2
    names = [g for g, _ in F.layer_groups(_model())]
    assert names == ["head", "layer 1", "layer 0", "stem"]
    counted = sum(p.numel() for _, g in F.layer_groups(_model()) for p in g)
    assert counted == sum(p.numel() for p in _model().parameters())
    opt = F.optimizer(_model(), 1e-3, 0.01, layer_decay=0.5)
    assert sorted({g["lr"] for g in opt.param_groups}) == [1.25e-4, 2.5e-4, 5e-4, 1e-3]


def test_a_probe_trains_only_the_head(tmp_path):
    codes, y = _data(128)
    model = _model()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    ds = training.ArrayDataset(codes, y)
    F.finetune(model, ds, ds, tmp_path, target_names=["a", "b"], epochs=2, batch_size=32,
               unfreeze_every=0, patience=None, device="cpu")
    after = model.state_dict()
    changed = {k for k in before if not torch.equal(before[k], after[k])}
    assert changed and all(k.startswith("head.") or k.startswith("hybrid.norm.")
                           for k in changed)


def test_finetuning_learns_a_planted_motif(tmp_path):
    codes, y = _data(448)
    tr, va = training.ArrayDataset(codes[:320], y[:320]), training.ArrayDataset(codes[320:],
                                                                                y[320:])
    res = F.finetune(_model(), tr, va, tmp_path, target_names=["a", "b"], epochs=9,
                     batch_size=32, learning_rate=3e-3, patience=None,
                     data_collator=F.StrandCollator(0.5, seed=0), device="cpu")
    assert res.stats["best_valid_r2"] > 0.5
    assert res.stats["best_valid_r2"] == pytest.approx(res.per_target["r2"].max())
    loaded = models.CornHybridForRegression.from_pretrained(tmp_path / "model")
    assert loaded.config.target_names == ["a", "b"]
    assert isinstance(pd.read_parquet(tmp_path / "valid_r2.parquet"), pd.DataFrame)


def test_groups_unfreeze_top_down_on_schedule(tmp_path):
    codes, y = _data(64)
    ds = training.ArrayDataset(codes, y)
    res = F.finetune(_model(), ds, ds, tmp_path, target_names=["a", "b"], epochs=4,
                     batch_size=32, unfreeze_every=1, patience=None, device="cpu")
    assert list(res.schedule["epoch"]) == [0, 1, 2, 3]
    trained = res.history[res.history["split"] == "valid"]["trainable"].tolist()
    assert trained == [1, 2, 3, 4]


def test_nan_labels_are_masked_out():
    model = _model().eval()
    x = torch.from_numpy(_data(4)[0].astype(np.int64))
    labels = torch.tensor([[1.0, float("nan")], [0.0, 2.0], [float("nan")] * 2, [1.0, 1.0]])
    loss = model(x, labels=labels).loss
    assert torch.isfinite(loss)


class _Crash:
    """A collator that stacks batches and raises on its ``n``-th call (a killed run)."""

    def __init__(self, n):
        self.n, self.calls = n, 0

    def __call__(self, examples):
        self.calls += 1
        if self.calls == self.n:
            raise RuntimeError("killed")
        return {"input_ids": torch.stack([e["input_ids"] for e in examples]),
                "labels": torch.stack([e["labels"] for e in examples])}


def test_a_killed_run_resumes_from_its_last_epoch_and_keeps_the_best(tmp_path):
    """The resumed run ends with the same kept (best-epoch) weights as an uninterrupted one;
    that they are the best epoch's is checked in tests/test_train.py."""
    codes, y = _data(96)
    ds = training.ArrayDataset(codes, y)  # 3 training steps and 1 evaluation batch per epoch
    kw = dict(target_names=["a", "b"], batch_size=32, patience=None, device="cpu",
              resume=True, epochs=3)
    with pytest.raises(RuntimeError, match="killed"):
        F.finetune(_model(), ds, ds, tmp_path, data_collator=_Crash(10), **kw)
    assert list((tmp_path / "trainer").glob("checkpoint-*"))
    assert (tmp_path / "trainer" / "best.pt").is_file()
    done = F.finetune(_model(), ds, ds, tmp_path, **kw)
    assert done.stats["steps"] == 9  # continued: 3 epochs in all, not 3 more
    assert not (tmp_path / "trainer").exists()
    whole = F.finetune(_model(), ds, ds, tmp_path / "again", **{**kw, "resume": False})
    assert whole.stats["steps"] == 9
    assert done.stats["best_epoch"] == whole.stats["best_epoch"]
    a, b = done.model.state_dict(), whole.model.state_dict()
    assert all(torch.allclose(a[k], b[k], atol=1e-6) for k in a)


def test_schedule_in_words():
    from cornlib.training.arms import describe_schedule

    assert describe_schedule(None, 1.0, None) == ("every layer group trains from the first step, "
                                                  "all at one learning rate")
    words = describe_schedule(1, 0.9, None)
    assert "first 1 epoch(s) only the head" in words and "0.9 times" in words
    assert "every 2 epoch(s)" in describe_schedule(1, 0.8, 2)


def test_best_run_is_chosen_on_valid(tmp_path):
    import pandas as pd

    from cornlib.training.finetune import best_run

    for run, r2 in [("pretrained", [0.1, 0.2]), ("random_init", [0.3, 0.25])]:
        (tmp_path / run).mkdir()
        pd.DataFrame({"epoch": [1, 2], "r2": r2}).to_parquet(tmp_path / run / "valid_r2.parquet")
    name, path, scores = best_run(tmp_path)
    assert name == "random_init" and path == tmp_path / "random_init" / "model"
    assert scores.to_dict() == {"pretrained": 0.2, "random_init": 0.3}
    with pytest.raises(FileNotFoundError, match="07_finetune"):
        best_run(tmp_path, runs=("probe",))
    with pytest.raises(FileNotFoundError, match=r"probe/valid_r2.parquet is missing"):
        best_run(tmp_path, runs=("probe",))


def _two_species(n=96):
    from cornlib import dataset

    codes, y = _data(n)
    seqs = ["".join("ACGTN"[c] for c in row) for row in codes]
    genes = [f"G{i:03d}" for i in range(n)]
    species = np.where(np.arange(n) % 2, "athaliana", "aarenosa")
    split = np.array(["train", "train", "valid", "test"] * (n // 4))
    return dataset.assemble(
        pd.DataFrame({"gene_id": genes, "species": species, "chrom": "1", "start": 0,
                      "end": 64, "strand": "+", "sequence": seqs}),
        pd.DataFrame({"gene_id": genes, "cluster_id": np.arange(n), "split": split,
                      "fold": 0}),
        pd.DataFrame({"gene_id": genes, "sim_a": y[:, 0], "sim_b": y[:, 1]}))


def test_cross_species_trains_one_run_per_species_on_its_own_genes(tmp_path):
    data = _two_species()
    head = F.head_fields(data, dropout=0.0)
    assert head["n_targets"] == 2 and head["target_names"] == ["sim_a", "sim_b"]
    config = models.CornHybridConfig(**{k: v for k, v in SMALL.items() if k != "head_dropout"})
    made = []

    def start():
        made.append(F.initial_model(head, config=config, seed=0))
        return made[-1]

    runs = F.cross_species(data, tmp_path, start, seq_length=64, epochs=1, batch_size=16,
                           patience=None, device="cpu")
    assert list(runs) == ["from_aarenosa", "from_athaliana"] and len(made) == 2
    per_species = (data.table["split"] == "train").sum() // 2
    assert all(r.stats["steps"] == -(-per_species // 16) for r in runs.values())
    assert (tmp_path / "from_athaliana" / "valid_r2.parquet").is_file()
    table = F.runs_table(runs)
    assert list(table.index) == ["from aarenosa", "from athaliana"]
    from dataclasses import replace

    one = replace(data, table=data.table[data.table["species"] == "athaliana"])
    assert F.cross_species(one, tmp_path / "one", start, seq_length=64, epochs=1) == {}


def test_a_pretrained_start_is_seeded_and_the_load_report_is_a_table(tmp_path):
    config = models.CornHybridConfig(**{k: v for k, v in SMALL.items() if k != "head_dropout"})
    models.CornHybridForMaskedLM(config).save_pretrained(tmp_path / "mlm")
    head = {"n_targets": 2, "target_names": ["a", "b"], "target_mean": [0.0, 0.0],
            "target_std": [1.0, 1.0], "head_dropout": 0.0}
    a = F.initial_model(head, encoder=tmp_path / "mlm", seed=3)
    torch.manual_seed(99)  # the caller's RNG plays no part
    b = F.initial_model(head, encoder=tmp_path / "mlm", seed=3)
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))
    with pytest.raises(ValueError, match="encoder= .* or config="):
        F.initial_model(head)
    table = F.load_report(tmp_path / "mlm", head)
    assert set(table["status"]) == {"new (regression head)", "dropped (masked-LM head)"}


def test_one_name_per_run():
    assert F.run_label("random_init") == "transformer, random init"
    assert F.run_label("from_athaliana") == "from athaliana"
    with pytest.raises(ValueError, match="not a fine-tuning run"):
        F.run_label("random init")


def test_proxy_run_fine_tunes_on_the_genes_with_the_proxy(tmp_path):
    from dataclasses import replace

    data = _two_species()
    at = np.arange(len(data.table)) % 3 != 0  # the genes with the proxy
    table = data.table.assign(proxy=np.where(at, data.table["sim_a"] + 1.0, np.nan))
    data = replace(data, table=table, proxy="proxy")
    head = F.head_fields(data, dropout=0.0)
    config = models.CornHybridConfig(**{k: v for k, v in SMALL.items() if k != "head_dropout"})
    heads = []

    def start(h):
        heads.append(h)
        return F.initial_model(h, config=config, seed=0)

    runs = F.proxy_run(data, tmp_path, head, start, seq_length=64, epochs=1, batch_size=16,
                       patience=None, device="cpu")
    assert list(runs) == ["proxy"] and heads[0]["target_names"] == ["proxy"]
    assert heads[0]["n_targets"] == 1 and heads[0]["head_dropout"] == 0.0
    train = table[at & (table["split"] == "train")]
    assert heads[0]["target_mean"] == pytest.approx([train["proxy"].mean()])
    assert runs["proxy"].stats["steps"] == -(-len(train) // 16)
    assert list(runs["proxy"].per_target.columns[-1:]) == ["proxy"]
    assert F.run_label("proxy") == "transformer, TAIR10 proxy"
    assert F.proxy_run(replace(data, proxy=None), tmp_path / "none", head, start,
                       seq_length=64) == {}
    none_valid = replace(data, table=table.assign(
        proxy=table["proxy"].where(table["split"] != "valid")))
    with pytest.warns(UserWarning, match="too few genes"):
        assert F.proxy_run(none_valid, tmp_path / "short", head, start, seq_length=64) == {}


def test_convergence_sentence_names_runs_not_ended_by_early_stopping():

    table = pd.DataFrame({"best_epoch": [3.0, 6.0, 2.0], "epochs_run": [5.0, 6.0, 2.7],
                          "stopped_by": ["early stopping", "epochs", "time budget"]},
                         index=["a", "b", "c"])
    text = arms.convergence_sentence(table)
    assert text.startswith("2 of 3 runs (b; c)") and "not of converged ones" in text
    assert "Every run" in arms.convergence_sentence(table.iloc[:1])
