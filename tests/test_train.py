"""cornlib.training: precision, batches, reproducible masks, exact resuming, checkpoint checks."""

import numpy as np
import pytest
import torch

from cornlib import io, models, training


@pytest.fixture(scope="module")
def examples(tok):
    rng = np.random.default_rng(2)
    seqs = ["".join(rng.choice(list("ACGT"), int(n))) for n in rng.integers(30, 200, 40)]
    return [ids[:48] for ids in tok(seqs)["input_ids"]]


def _config(tok, **kw):
    return models.config_for_tokenizer(tok, max_length=64, layers=1, hidden=16, heads=2,
                                       intermediate=32, **kw)


def test_training_arguments_are_fp32_offline_on_cpu(tmp_path):
    args = training.training_arguments(tmp_path, device="cpu", seed=7, max_steps=3)
    assert not args.bf16 and not args.fp16
    assert args.use_cpu and args.seed == 7 and args.max_steps == 3
    assert args.report_to in ([], "none", ["none"])


def test_precision_is_bf16_on_capable_gpu_else_fp16(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: True)
    assert training.precision_kwargs("cuda") == {"bf16": True, "fp16": False}
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: False)
    assert training.precision_kwargs("cuda") == {"bf16": False, "fp16": True}
    assert training.precision_kwargs("cpu") == {"bf16": False, "fp16": False}


def test_resolve_device_rejects_unknown_names():
    with pytest.raises(ValueError, match="device"):
        training.resolve_device("tpu")


def test_collator_pads_to_longest_in_batch_not_max_length(tok, examples):
    collate = training.MaskingCollator(tok, pad_to_multiple_of=8)
    batch = collate([{"input_ids": x} for x in examples[:4]])
    longest = max(len(x) for x in examples[:4])
    assert batch["input_ids"].shape[1] == -(-longest // 8) * 8
    assert set(batch) == {"input_ids", "attention_mask", "labels"}
    # padding and special tokens are never targets
    special = torch.isin(batch["input_ids"], torch.tensor(tok.all_special_ids))
    assert not (batch["labels"][batch["attention_mask"] == 0] != -100).any()
    originally_special = batch["labels"] == -100
    assert originally_special[special & (batch["input_ids"] != tok.mask_token_id)].all()


def test_masks_depend_only_on_seed_epoch_and_example(tok, examples):
    collate = training.MaskingCollator(tok, mlm_probability=0.3)
    ds = training.MaskedLMDataset(examples, seed=5)
    first = collate([ds[i] for i in range(8)])
    torch.manual_seed(123)  # the global RNG plays no part
    again = collate([ds[i] for i in range(8)])
    torch.testing.assert_close(first["labels"], again["labels"])
    ds.set_epoch(1)
    other = collate([ds[i] for i in range(8)])
    assert not torch.equal(first["labels"], other["labels"])
    targets = (first["labels"] != -100).sum().item() / first["attention_mask"].sum().item()
    assert 0.1 < targets < 0.5


def test_fixed_labels_are_only_padded(tok, examples):
    collate = training.MaskingCollator(tok)
    ex = [{"input_ids": x, "labels": [-100] * (len(x) - 1) + [x[-1]]} for x in examples[:3]]
    batch = collate(ex)
    assert (batch["labels"] != -100).sum() == 3
    assert torch.equal(batch["input_ids"][0, :len(examples[0])], torch.tensor(examples[0]))


def _run(tok, examples, out, *, stop_at=None, resume=False, config=None):
    from transformers import TrainerCallback

    class Kill(TrainerCallback):
        def on_step_end(self, args, state, control, **kwargs):
            if stop_at is not None and state.global_step >= stop_at:
                control.should_training_stop = True

    model = models.new_mlm(config or _config(tok, dropout=0.1), seed=0)
    args = training.training_arguments(
        out, device="cpu", seed=0, max_steps=8, per_device_train_batch_size=8,
        per_device_eval_batch_size=8, learning_rate=3e-3, warmup_steps=2, save_steps=3,
        eval_strategy="steps", eval_steps=4, logging_steps=1, disable_tqdm=True,
        train_sampling_strategy="group_by_length", remove_unused_columns=False,
        prediction_loss_only=True)
    heldout = [{"input_ids": x, "labels": [-100] + x[1:-1] + [-100]} for x in examples[:4]]
    trainer = training.make_trainer(model, args, training.MaskedLMDataset(examples, seed=0), heldout,
                                 data_collator=training.MaskingCollator(tok), processing_class=tok,
                                 callbacks=[Kill()], history_path=out / "log_history.json")
    training.fit(trainer, resume=resume)
    return trainer


def test_killed_and_resumed_run_ends_with_the_same_weights(tok, examples, tmp_path):
    # 40 examples / 8 = 5 steps an epoch: the resumed part crosses an epoch boundary
    whole = _run(tok, examples, tmp_path / "whole")
    killed = _run(tok, examples, tmp_path / "killed", stop_at=4)
    assert killed.state.global_step == 4
    assert training.last_checkpoint(tmp_path / "killed").name == "checkpoint-3"
    resumed = _run(tok, examples, tmp_path / "killed", resume=True)
    assert resumed.state.global_step == 8
    a, b = whole.model.state_dict(), resumed.model.state_dict()
    assert a.keys() == b.keys()
    assert all(torch.equal(a[k], b[k]) for k in a)
    tied = resumed.model.roberta.embeddings.word_embeddings.weight
    assert resumed.model.lm_head.decoder.weight is tied
    curves = training.loss_curves(io.read_json(tmp_path / "killed" / "log_history.json"))
    assert sorted(curves.loc[curves["split"] == "train", "step"]) == list(range(1, 9))
    assert list(curves.loc[curves["split"] == "valid", "step"]) == [4, 8]


def test_resume_refuses_a_checkpoint_of_another_config(tok, examples, tmp_path):
    _run(tok, examples, tmp_path / "run", stop_at=3)
    wider = _config(tok, dropout=0.1)
    wider.hidden_size, wider.intermediate_size = 32, 64
    with pytest.raises(ValueError, match="hidden_size: checkpoint 16 vs expected 32"):
        _run(tok, examples, tmp_path / "run", resume=True, config=wider)
    with pytest.raises(FileNotFoundError, match="not a Trainer checkpoint"):
        training.check_checkpoint(tmp_path, wider)


def test_loss_curves_split_train_and_valid_rows():
    history = [{"loss": 3.0, "learning_rate": 1e-3, "epoch": 0.5, "step": 1},
               {"eval_loss": 2.5, "epoch": 0.5, "step": 1},
               {"loss": 2.0, "learning_rate": 5e-4, "epoch": 1.0, "step": 2},
               {"train_runtime": 1.0, "step": 2}]
    df = training.loss_curves(history)
    assert list(df["split"]) == ["train", "train", "valid"]
    assert list(df["loss"]) == [3.0, 2.0, 2.5]


def test_save_model_replaces_the_folder_whole(tok, tmp_path):
    model = models.new_mlm(_config(tok))
    path = tmp_path / "model"
    path.mkdir()
    (path / "stale.txt").write_text("old")
    training.save_model(model, path, tok)
    assert not (path / "stale.txt").exists()
    assert (path / "config.json").exists() and (path / "tokenizer.json").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["model"]


def _gc_data(n, sign, seed):
    """Random 64-base promoters; the target rises (``sign`` = 1) or falls (-1) with their GC
    share, around 2 (+ noise)."""
    from cornlib import sequence

    rng = np.random.default_rng(seed)
    gc = rng.uniform(0.2, 0.8, n)
    seqs = ["".join(rng.choice(list("ACGT"), 64, p=[(1 - g) / 2, g / 2, g / 2, (1 - g) / 2]))
            for g in gc]
    y = 2 + sign * 4 * (gc[:, None] - 0.5) + rng.normal(0, 0.05, (n, 1))
    return sequence.encode_fixed(seqs, length=64), y.astype(np.float32)


def test_the_run_ends_with_the_weights_of_its_best_epoch_not_its_last(tmp_path):
    # valid's target is the opposite of train's, so the better the model learns train, the
    # worse it scores on valid: the best valid epoch comes early, not last
    codes, y = _gc_data(256, +1, seed=0)
    valid_codes, valid_y = _gc_data(64, -1, seed=1)
    config = models.PromoterCNNConfig(seq_length=64, n_targets=1, channels=[8],
                                      kernel_sizes=[5], hidden_size=8, dropout=0.0,
                                      target_names=["gc"], target_mean=[2.0], target_std=[0.7])
    with training.seeded(0):
        model = models.PromoterCNN(config)
    recipe = training.Recipe(epochs=4, batch_size=32, learning_rate=1e-2, target_names=["gc"],
                             keep_best="eval_r2", checkpoint="epoch", keep_checkpoints=True,
                             device="cpu")
    res = training.run(model, training.ArrayDataset(codes, y),
                       training.ArrayDataset(valid_codes, valid_y), recipe, tmp_path)
    scores = res.per_target.set_index("epoch")["r2"]
    best = float(scores.idxmax())
    assert best < scores.index.max() and scores[best] > scores.iloc[-1] + 0.05
    assert res.stats["best_epoch"] == best and res.stats["best_valid_r2"] == scores[best]
    # the kept weights are those of the checkpoint written at the best epoch
    steps_per_epoch = 256 // 32
    saved = models.PromoterCNN.from_pretrained(
        tmp_path / "trainer" / f"checkpoint-{int(best) * steps_per_epoch}")
    kept = res.model.state_dict()
    assert all(torch.equal(v, kept[k].cpu()) for k, v in saved.state_dict().items())
    # ... and they score the best epoch's valid R² again
    from cornlib.models import predictor
    from cornlib.stats import mean_r2

    with torch.no_grad():
        pred = res.model.eval()(torch.from_numpy(valid_codes.astype(np.int64))).logits
    assert mean_r2(valid_y, pred.numpy()) == pytest.approx(scores[best], abs=1e-5)
    assert predictor.from_model(res.model) is not None
    # the history table is saved with the model, as for every run
    import pandas as pd

    saved_history = pd.read_parquet(tmp_path / "history.parquet")
    assert list(saved_history.columns) == list(training.trainer.HISTORY_COLUMNS)
    assert (tmp_path / "valid_r2.parquet").is_file() and (tmp_path / "model").is_dir()


def test_a_run_leaves_the_callers_rng_as_it_found_it(tmp_path):
    codes, y = _gc_data(64, +1, seed=0)
    config = models.PromoterCNNConfig(seq_length=64, n_targets=1, channels=[4],
                                      kernel_sizes=[5], hidden_size=4, target_names=["gc"],
                                      target_mean=[2.0], target_std=[0.7])
    model, ds = models.PromoterCNN(config), training.ArrayDataset(codes, y)
    torch.manual_seed(123)
    np.random.seed(7)
    expected = torch.rand(3), np.random.rand(3)
    torch.manual_seed(123)
    np.random.seed(7)
    training.run(model, ds, ds,
                 training.Recipe(epochs=1, batch_size=32, device="cpu", threads=1), tmp_path)
    assert torch.equal(torch.rand(3), expected[0])
    assert np.array_equal(np.random.rand(3), expected[1])


def test_recipes_are_checked():
    with pytest.raises(ValueError, match="epochs or max_steps"):
        training.driver.arguments(training.Recipe(), "x")
    with pytest.raises(ValueError, match="interval"):
        training.driver.arguments(training.Recipe(epochs=1, evaluate="daily"), "x")


def test_masking_collator_leaves_the_tokenizer_as_found(tok, examples):
    before = dict(tok.deprecation_warnings)
    collate = training.MaskingCollator(tok)
    collate([{"input_ids": x} for x in examples[:4]])
    collate([{"input_ids": x, "mask_seed": 3} for x in examples[:4]])
    assert dict(tok.deprecation_warnings) == before


def test_random_replacements_are_never_special_tokens(tok, examples):
    # at 50 % random replacement and 60 % masking, many draws would hit a special token (a
    # drawn <mask> is as good as a masked token, so only the others are ruled out)
    collate = training.MaskingCollator(tok, mlm_probability=0.6, mask_replace_prob=0.0,
                                       random_replace_prob=0.5)
    special = torch.tensor(sorted(set(tok.all_special_ids) - {tok.mask_token_id}))
    for seed in range(5):
        torch.manual_seed(seed)
        for batch in (collate([{"input_ids": x} for x in examples]),
                      collate([{"input_ids": x, "mask_seed": seed} for x in examples])):
            targets = batch["labels"] != -100
            assert targets.any()
            assert not torch.isin(batch["input_ids"][targets], special).any()


def test_frozen_gc_freezes_and_restores():
    """The driver leaves the objects that exist out of the collections while a run trains,
    puts them back afterwards, and keeps a caller's own freeze."""
    import gc

    from cornlib.training.driver import frozen_gc

    assert gc.get_freeze_count() == 0
    with frozen_gc():
        assert gc.get_freeze_count() > 0
    assert gc.get_freeze_count() == 0
    gc.freeze()
    try:
        count = gc.get_freeze_count()
        with frozen_gc():
            pass
        assert gc.get_freeze_count() == count
    finally:
        gc.unfreeze()


def test_early_stopping_ignores_gains_below_min_delta_but_keeps_the_best_weights():
    from types import SimpleNamespace

    import torch

    from cornlib.training.hf import BestEpoch

    model = torch.nn.Linear(1, 1)
    cb = BestEpoch("eval_r2", patience=2, min_delta=0.01)
    state = SimpleNamespace(is_world_process_zero=True)
    control = SimpleNamespace(should_training_stop=False)
    for step, score in enumerate([0.10, 0.105, 0.108, 0.2]):
        with torch.no_grad():
            model.weight.fill_(step)
        cb.on_evaluate(None, state, control, metrics={"eval_r2": score}, model=model)
        if control.should_training_stop:
            break
    assert step == 2 and cb.stopped  # two gains of < 0.01 in a row end the run
    assert cb.best == 0.108  # ... yet the weights kept are those of the best score
    cb.on_train_end(None, state, control, model=model)
    assert model.weight.item() == 2.0
    plain = BestEpoch("eval_r2", patience=2)
    control.should_training_stop = False
    for score in [0.10, 0.105, 0.108]:
        plain.on_evaluate(None, state, control, metrics={"eval_r2": score}, model=model)
    assert not plain.stopped
    with pytest.raises(ValueError, match="min_delta"):
        BestEpoch("eval_r2", min_delta=-1)
