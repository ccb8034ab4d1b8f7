"""Fine-tuning an encoder for expression on the Hugging Face ``Trainer``.

The same :func:`cornlib.training.make_trainer` set-up as pretraining and the CNN, with callbacks
for what a 10,000-gene data set needs: the validation score (mean R² over targets, and per
target) after every epoch, the best epoch's weights kept, early stopping, a wall-clock budget,
and progressive unfreezing as real freezing — the head trains first, then encoder layer groups
are unfrozen top-down on a schedule, each with a learning rate ``layer_decay`` times the one
above it. Reverse-complement augmentation flips a share of the training sequences each batch.

Under ``torchrun --nproc_per_node N`` (or ``accelerate launch``) the ``Trainer`` trains data-
parallel with no change here; ``batch_size`` is then per process, and only rank 0 writes.
"""

from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import pandas as pd
from torch import nn

from cornlib.stats import r2_columns


@dataclass
class FinetuneResult:
    """What :func:`finetune` returns.

    Attributes:
        model: the fine-tuned model with the best epoch's weights (saved in ``output_dir``).
        history: one row per logged step/evaluation: ``epoch``, ``step``, ``split``, ``loss``,
            ``r2`` (mean valid R²) and ``trainable`` (parameter groups trained at that time).
        per_target: valid R² of every target after each evaluation (``epoch`` × targets).
        schedule: ``epoch`` at which each parameter group was unfrozen (``group``, ``epoch``,
            ``learning_rate``).
        stats: steps, seconds, best epoch and its valid R².
    """

    model: Any
    history: pd.DataFrame
    per_target: pd.DataFrame
    schedule: pd.DataFrame
    stats: dict[str, Any] = field(default_factory=dict)


def layer_groups(model: nn.Module) -> list[tuple[str, list[nn.Parameter]]]:
    """The model's parameters in groups from the top (head) down to the input layers.

    Knows cornlib's regressors: the hybrid (head, encoder layers from the last, stem) and the
    RoBERTa regressor (head, encoder layers from the last, embeddings).
    """
    if hasattr(model, "hybrid"):
        enc = model.hybrid
        groups = [("head", list(model.head.parameters()) + list(enc.norm.parameters()))]
        groups += [(f"layer {i}", list(layer.parameters()))
                   for i, layer in reversed(list(enumerate(enc.layers)))]
        stem = [p for name, p in enc.named_parameters()
                if name.split(".")[0] in {"conv", "proj", "positions"}]
        return groups + [("stem", stem)]
    if hasattr(model, "roberta"):
        enc = model.roberta
        groups = [("head", list(model.head.parameters()))]
        groups += [(f"layer {i}", list(layer.parameters()))
                   for i, layer in reversed(list(enumerate(enc.encoder.layer)))]
        return groups + [("embeddings", list(enc.embeddings.parameters()))]
    raise ValueError(f"no layer groups known for {type(model).__name__}")


def optimizer(model: nn.Module, learning_rate: float, weight_decay: float,
              layer_decay: float = 1.0):
    """AdamW with one parameter group per layer group; group ``i`` from the top gets
    ``learning_rate * layer_decay**i`` (biases and norms without weight decay)."""
    import torch

    params = []
    for i, (_, group) in enumerate(layer_groups(model)):
        lr = learning_rate * layer_decay ** i
        decay = [p for p in group if p.ndim > 1]
        plain = [p for p in group if p.ndim <= 1]
        params += [{"params": decay, "lr": lr, "weight_decay": weight_decay},
                   {"params": plain, "lr": lr, "weight_decay": 0.0}]
    return torch.optim.AdamW([g for g in params if g["params"]], lr=learning_rate)


def unfreezing_schedule(n_groups: int, every: int | None,
                        head_epochs: int | None = None) -> list[int]:
    """The epoch at which each group (top first) starts training.

    ``every=None`` trains everything from epoch 0, or, with ``head_epochs=h``, the head alone
    for ``h`` epochs and then everything; ``every=k`` starts with the head and unfreezes one more
    group every ``k`` epochs (after ``head_epochs``, which defaults to ``k``); ``every=0`` keeps
    all but the head frozen (a probe).
    """
    if every is None:
        return [0] + [int(head_epochs or 0)] * (n_groups - 1)
    if every < 0:
        raise ValueError(f"unfreeze_every must be None or ≥ 0, got {every}")
    if every == 0:
        return [0] + [10 ** 9] * (n_groups - 1)
    first = every if head_epochs is None else int(head_epochs)
    return [0] + [first + i * every for i in range(n_groups - 1)]


def _callbacks():
    from transformers import TrainerCallback

    class Unfreeze(TrainerCallback):
        """Sets ``requires_grad`` by the schedule at the start of every epoch."""

        def __init__(self, groups, starts):
            self.groups, self.starts, self.trainable = groups, starts, []

        def on_epoch_begin(self, args, state, control, **kwargs):
            epoch = int(round(state.epoch or 0))
            self.trainable = []
            for (name, params), start in zip(self.groups, self.starts):
                on = epoch >= start
                for p in params:
                    p.requires_grad_(on)
                if on:
                    self.trainable.append(name)

    class Budget(TrainerCallback):
        """Stops training after ``seconds`` of wall time, or after ``patience`` evaluations
        without a better ``metric`` (the evaluation at the end of that epoch still runs)."""

        def __init__(self, seconds, patience, metric):
            self.seconds, self.patience, self.metric = seconds, patience, metric
            self.t0, self.best, self.waited, self.reason = None, None, 0, None

        def on_train_begin(self, args, state, control, **kwargs):
            self.t0 = time.perf_counter()

        def on_step_end(self, args, state, control, **kwargs):
            if self.seconds and time.perf_counter() - self.t0 > self.seconds:
                self.reason = "time budget"
                control.should_training_stop = True
                control.should_evaluate = True

        def on_evaluate(self, args, state, control, metrics=None, **kwargs):
            score = (metrics or {}).get(self.metric)
            if score is None:
                return
            if self.best is None or score > self.best:
                self.best, self.waited = score, 0
            else:
                self.waited += 1
                if self.patience and self.waited >= self.patience:
                    self.reason = self.reason or "early stopping"
                    control.should_training_stop = True

    return Unfreeze, Budget


def r2_metrics(names: Sequence[str]):
    """``compute_metrics`` for the Trainer: mean R² over targets (``r2``) and each ``r2_<name>``."""
    def compute(pred) -> dict[str, float]:
        y = np.asarray(pred.label_ids, dtype=float).reshape(len(pred.label_ids), -1)
        p = np.asarray(pred.predictions, dtype=float).reshape(y.shape)
        per = r2_columns(y, p)
        out = {"r2": float(np.nanmean(per))}
        out.update({f"r2_{n}": float(v) for n, v in zip(names, per)})
        return out

    return compute


class StrandCollator:
    """Stacks ``input_ids``/``labels`` and reverse-complements each example with probability
    ``rc_probability`` (drawn from a generator seeded with ``seed``)."""

    def __init__(self, rc_probability: float = 0.0, seed: int = 0):
        import torch

        self.p = float(rc_probability)
        self.generator = torch.Generator().manual_seed(int(seed))

    def __call__(self, examples: list[dict]) -> dict:
        import torch

        from cornlib.models.hybrid import reverse_complement_codes

        ids = torch.stack([e["input_ids"] for e in examples])
        labels = torch.stack([e["labels"] for e in examples])
        if self.p > 0:
            flip = torch.rand(len(ids), generator=self.generator) < self.p
            if flip.any():
                ids[flip] = reverse_complement_codes(ids[flip])
        return {"input_ids": ids, "labels": labels}


def finetune(model, train_dataset, eval_dataset, output_dir: str | os.PathLike, *,
             target_names: Sequence[str], data_collator=None, epochs: int = 20,
             batch_size: int = 64, learning_rate: float = 1e-3, weight_decay: float = 0.01,
             warmup_steps: int = 50, scheduler: str = "constant_with_warmup",
             layer_decay: float = 1.0, unfreeze_every: int | None = None,
             head_epochs: int | None = None, patience: int | None = 3,
             max_seconds: float | None = None, seed: int = 0, device: str = "auto",
             threads: int | None = None, progress: bool = False,
             tokenizer=None, resume: bool = False) -> FinetuneResult:
    """Fine-tune ``model`` on ``train_dataset``, keep its best epoch on ``eval_dataset``, save it.

    Args:
        model: a cornlib regressor (its config records the targets; see
            :mod:`cornlib.models.targets`).
        train_dataset, eval_dataset: map-style datasets of ``input_ids`` and ``labels``.
        output_dir: the model is saved to ``output_dir / "model"``, the curves to
            ``output_dir / "history.parquet"``.
        target_names: the label columns, in order.
        data_collator: batches examples (default: stack, no augmentation).
        epochs, batch_size, learning_rate, weight_decay: AdamW.
        warmup_steps, scheduler: the learning-rate schedule (a ``transformers`` scheduler
            name). The default, constant after a short warm-up, suits runs cut by a time
            budget or early stopping, whose length is not known in advance.
        layer_decay: learning-rate factor from one layer group to the one below it.
        unfreeze_every, head_epochs: see :func:`unfreezing_schedule`.
        patience: stop after this many evaluations without a better valid R² (None: never).
        max_seconds: wall-clock budget for training (None: none).
        seed: initial head weights, batch order, dropout and augmentation.
        device: ``auto``, ``cpu`` or ``cuda``; threads: torch threads while training.
        tokenizer: saved beside a token model.
        resume: checkpoint every epoch in ``output_dir / "trainer"`` (with the best epoch's
            weights) and continue from the newest checkpoint there when one exists; the folder
            is removed when training ends. Without it nothing is written until the end.
    """
    import torch

    from cornlib import training
    from cornlib.runtime import limit_threads

    output_dir = Path(output_dir)
    groups = layer_groups(model)
    starts = unfreezing_schedule(len(groups), unfreeze_every, head_epochs)
    steps_per_epoch = max(1, -(-len(train_dataset) // batch_size))
    args = training.training_arguments(
        output_dir / "trainer", device=device, seed=seed, num_train_epochs=epochs,
        per_device_train_batch_size=batch_size, per_device_eval_batch_size=4 * batch_size,
        warmup_steps=int(warmup_steps), lr_scheduler_type=scheduler, eval_strategy="epoch",
        save_strategy="epoch" if resume else "no", save_total_limit=1 if resume else None,
        logging_steps=max(1, steps_per_epoch // 4), disable_tqdm=not progress,
        remove_unused_columns=False)
    unfreeze_cls, budget_cls = _callbacks()
    unfreeze = unfreeze_cls(groups, starts)
    budget = budget_cls(max_seconds, patience, "eval_r2")
    trainer = training.make_trainer(
        model, args, train_dataset, eval_dataset, data_collator=data_collator,
        compute_metrics=r2_metrics(target_names),
        callbacks=[unfreeze, budget, training.keep_best(
            "eval_r2", path=output_dir / "trainer" / "best.pt" if resume else None)])
    trainer.optimizer = optimizer(model, learning_rate, weight_decay, layer_decay)
    t0 = time.perf_counter()
    with limit_threads(threads, torch=True), torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        out = training.fit(trainer, resume=resume)
    seconds = time.perf_counter() - t0
    main = trainer.is_world_process_zero()  # under torchrun only rank 0 writes
    if main:
        with training.quiet_hf_bars():
            training.save_model(trainer.model, output_dir / "model", tokenizer)
        import shutil

        shutil.rmtree(output_dir / "trainer", ignore_errors=True)
    history, per_target = _curves(trainer.state.log_history, target_names, starts, groups)
    best = per_target.loc[per_target["r2"].idxmax()] if len(per_target) else None
    lr = [learning_rate * layer_decay ** i for i in range(len(groups))]
    schedule = pd.DataFrame({"group": [g for g, _ in groups], "epoch": starts,
                             "learning_rate": lr})
    stats = {"steps": int(out.global_step), "seconds": round(seconds, 1),
             "epochs_run": float(trainer.state.epoch or 0),
             "stopped_by": budget.reason or "epochs",
             "best_epoch": None if best is None else float(best["epoch"]),
             "best_valid_r2": None if best is None else float(best["r2"])}
    if main:
        from cornlib import io

        io.write_parquet(output_dir / "history.parquet", history)
        io.write_parquet(output_dir / "valid_r2.parquet", per_target)
    return FinetuneResult(trainer.model, history, per_target, schedule, stats)


def _curves(log: list[dict], names: Sequence[str], starts: list[int], groups
            ) -> tuple[pd.DataFrame, pd.DataFrame]:
    rows, per = [], []
    for e in log:
        epoch = e.get("epoch")
        # groups trained during the epoch this log falls in (a log at epoch 1.0 ends epoch 0)
        index = max(0, math.ceil(epoch) - 1) if epoch is not None else 0
        trained = sum(1 for s in starts if s <= index)
        if "loss" in e:
            rows.append({"epoch": epoch, "step": e.get("step"), "split": "train",
                         "loss": e["loss"], "r2": np.nan, "trainable": trained})
        if "eval_loss" in e:
            rows.append({"epoch": epoch, "step": e.get("step"), "split": "valid",
                         "loss": e["eval_loss"], "r2": e.get("eval_r2", np.nan),
                         "trainable": trained})
            per.append({"epoch": epoch, "r2": e.get("eval_r2", np.nan),
                        **{n: e.get(f"eval_r2_{n}", np.nan) for n in names}})
    history = pd.DataFrame(rows, columns=["epoch", "step", "split", "loss", "r2", "trainable"])
    return history, pd.DataFrame(per, columns=["epoch", "r2", *names])


def code_datasets(data, seq_length: int, targets: Sequence[str] | None = None,
                  sequences: Sequence[str] | None = None) -> dict[str, Any]:
    """Base-code datasets of the train, valid and test genes of ``data`` (a
    :class:`cornlib.dataset.ModellingData`): ``{split: ArrayDataset}``, TSS end aligned.

    Genes missing a target keep NaN labels (the loss masks them); ``sequences`` replaces the
    promoters (aligned with ``data.table``).
    """
    from cornlib import sequence
    from cornlib.training import ArrayDataset

    targets = list(data.tissues if targets is None else targets)
    table = data.table
    seqs = table["sequence"].tolist() if sequences is None else list(sequences)
    codes = sequence.encode_fixed(seqs, length=seq_length, align="end")
    y = table[targets].to_numpy(np.float32)
    return {s: ArrayDataset(codes[(table["split"] == s).to_numpy()],
                            y[(table["split"] == s).to_numpy()])
            for s in ("train", "valid", "test")}


def target_fields(data, targets: Sequence[str] | None = None) -> dict[str, Any]:
    """Config fields recording the targets: names, training mean/std and units."""
    from cornlib.models.targets import fit_scaling

    targets = list(data.tissues if targets is None else targets)
    y = data.table.loc[data.table["split"] == "train", targets].to_numpy(float)
    return {**fit_scaling(y, targets), "target_transform": data.card.get("units")}


def species_datasets(data, seq_length: int, species: str,
                     targets: Sequence[str] | None = None) -> dict[str, Any]:
    """:func:`code_datasets` restricted to one species' genes (train and valid of that species;
    test of every other species), for cross-species training."""
    from dataclasses import replace

    known = sorted(data.table["species"].unique())
    if species not in known:
        raise ValueError(f"no gene of species {species!r}; species: {known}")
    table = data.table
    mine = table["species"] == species
    keep = (mine & table["split"].isin(["train", "valid"])) | (~mine & (table["split"] == "test"))
    part = replace(data, table=table[keep].reset_index(drop=True))
    return code_datasets(part, seq_length, targets)


def runs_table(runs: dict[str, FinetuneResult]) -> pd.DataFrame:
    """One row per run: its best valid R², best epoch, epochs run, seconds and why it stopped."""
    rows = [{"run": name, **{k: r.stats.get(k) for k in ("best_valid_r2", "best_epoch",
                                                          "epochs_run", "seconds",
                                                          "stopped_by")}}
            for name, r in runs.items()]
    return pd.DataFrame(rows).set_index("run")


def best_run(finetune_dir: str | os.PathLike, runs: Sequence[str] = ("pretrained", "random_init")
             ) -> tuple[str, Path, pd.Series]:
    """The fine-tuning run with the best validation R² (chosen on ``valid``, never ``test``):
    its name, its model folder and every run's best valid R².

    Raises:
        FileNotFoundError: a run has no ``valid_r2.parquet`` (run chapter 07 first).
    """
    from cornlib import artifacts

    finetune_dir = Path(finetune_dir)
    scores = {}
    for run in runs:
        path = finetune_dir / run / "valid_r2.parquet"
        if not path.is_file():
            raise FileNotFoundError(f"{path} is missing; "
                                    f"{artifacts.how_to_make('finetune/runs.parquet')}")
        scores[run] = float(pd.read_parquet(path)["r2"].max())
    best = max(scores, key=scores.get)
    return best, finetune_dir / best / "model", pd.Series(scores, name="best valid R²")


def describe_schedule(head_epochs: int | None, layer_decay: float,
                      unfreeze_every: int | None) -> str:
    """The fine-tuning schedule in words, for a chapter's text."""
    parts = []
    if head_epochs:
        parts.append(f"for the first {head_epochs} epoch(s) only the head has gradients")
    if unfreeze_every:
        parts.append(f"then one more layer group is unfrozen every {unfreeze_every} epoch(s), "
                     "top down")
    elif head_epochs:
        parts.append("then every layer group trains")
    else:
        parts.append("every layer group trains from the first step")
    parts.append(f"each at {layer_decay:g} times the learning rate of the group above it"
                 if layer_decay != 1 else "all at one learning rate")
    return ", ".join(parts)
