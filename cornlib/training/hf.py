"""Every class of cornlib that subclasses a ``transformers`` type: the Trainer, its sampler, its
callbacks and the benchmark's pad-to-max-length collator.

This module imports ``transformers`` at the top, so :mod:`cornlib.training` imports it on first
use only (``transformers`` is slow to import): the one way cornlib builds such classes lazily.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import torch
from transformers import (
    DataCollatorForLanguageModeling,
    PrinterCallback,
    ProgressCallback,
    Trainer,
    TrainerCallback,
)
from transformers.trainer_pt_utils import LengthGroupedSampler
from transformers.utils.notebook import NotebookProgressCallback

from cornlib.training.trainer import derive_seed, loss_curves

#: The progress printers ``make_trainer`` removes (it adds :class:`QuietProgress` instead).
PRINTERS = (PrinterCallback, ProgressCallback, NotebookProgressCallback)


class EpochLengthGroupedSampler(LengthGroupedSampler):
    """Length-grouped order drawn from a generator seeded with ``(seed, epoch)``.

    Batches hold examples of similar length (so little padding), the order changes every
    epoch, and it does not depend on the global RNG, so a resumed run sees the same batches.
    """

    def __init__(self, batch_size: int, lengths: list[int], seed: int = 0):
        super().__init__(batch_size, lengths=lengths)
        self.seed = seed
        self.set_epoch(0)

    def set_epoch(self, epoch: int) -> None:
        self.generator = torch.Generator().manual_seed(derive_seed(self.seed, int(epoch)))


class CornTrainer(Trainer):
    """``Trainer`` whose ``group_by_length`` sampler is seeded per epoch (exact resuming)."""

    def _get_train_sampler(self, train_dataset=None):
        dataset = train_dataset if train_dataset is not None else self.train_dataset
        if (self.args.train_sampling_strategy != "group_by_length"
                or not hasattr(dataset, "lengths")):
            return super()._get_train_sampler(train_dataset)
        seed = self.args.data_seed if self.args.data_seed is not None else self.args.seed
        return EpochLengthGroupedSampler(
            self.args.train_batch_size * self.args.gradient_accumulation_steps,
            dataset.lengths, seed)


class LossHistory(TrainerCallback):
    """Keep the Trainer's log history (train and eval loss by step), also on disk.

    After every log it writes ``state.log_history`` to ``path`` (JSON, atomic), so a killed
    run leaves its curves behind; a resumed run restores the history from its checkpoint and
    continues the same file. :meth:`frame` gives the tidy table of
    :func:`cornlib.training.loss_curves`.
    """

    def __init__(self, path: str | Path | None = None):
        self.path = Path(path) if path is not None else None
        self.history: list[dict[str, Any]] = []

    def on_log(self, args, state, control, logs=None, **kwargs):
        self.history = list(state.log_history)
        if self.path is not None and state.is_world_process_zero:
            from cornlib import io

            io.write_json(self.path, self.history)

    def frame(self):
        """The history so far as :func:`cornlib.training.loss_curves` tables it."""
        return loss_curves(self.history)


class QuietProgress(ProgressCallback):
    """One tqdm bar over the training steps: no log dicts and no evaluation bars under it."""

    def on_log(self, args, state, control, logs=None, **kwargs):
        return None

    def on_prediction_step(self, args, state, control, eval_dataloader=None, **kwargs):
        return None


class BestEpoch(TrainerCallback):
    """Track the best evaluation of ``metric``: keep its weights, stop after ``patience``
    evaluations without a better one, and load the best weights when training ends.

    The weights are kept in memory (no checkpoint files, unlike ``load_best_model_at_end``).
    With ``path`` the best weights and score are also saved there (rank 0) and read back when
    training starts, so a resumed run still ends with the best evaluation of the whole run.

    Args:
        metric: a key of the evaluation metrics (``eval_r2``, ``eval_loss``).
        greater_is_better: defaults to ``False`` for losses, ``True`` otherwise.
        patience: stop after this many evaluations without a better score (``None``: never).
        min_delta: a score must beat the one of the last counted improvement by more than this
            to reset the patience (Keras's ``min_delta``); the kept weights are still those of
            the best score, so a run that creeps up by less stops while its history shows its
            best epoch.
        path: where to keep the best weights across a resume (``None``: memory only).

    Attributes:
        best: the best score so far (``None`` before the first evaluation).
        stopped: whether ``patience`` stopped the run.
    """

    def __init__(self, metric: str = "eval_loss", greater_is_better: bool | None = None,
                 patience: int | None = None, path: str | Path | None = None,
                 min_delta: float = 0.0):
        if min_delta < 0:
            raise ValueError(f"min_delta must be >= 0, got {min_delta}")
        self.metric, self.patience, self.min_delta = metric, patience, float(min_delta)
        self.mark = None  # the score of the last improvement that reset the patience
        self.path = Path(path) if path is not None else None
        self.higher = (not metric.endswith("loss") if greater_is_better is None
                       else greater_is_better)
        self.best, self.state_dict, self.waited, self.stopped = None, None, 0, False

    def on_train_begin(self, args, state, control, model=None, **kwargs):
        if self.path is not None and self.path.is_file():
            saved = torch.load(self.path, map_location="cpu", weights_only=True)
            self.best, self.state_dict = float(saved["best"]), saved["state_dict"]
            self.mark = self.best

    def on_evaluate(self, args, state, control, metrics=None, model=None, **kwargs):
        score = (metrics or {}).get(self.metric)
        if score is None:
            return
        gain = None if self.mark is None else (score - self.mark if self.higher
                                               else self.mark - score)
        if gain is None or gain > self.min_delta:
            self.mark, self.waited = score, 0
        else:
            self.waited += 1
        if self.best is None or (score > self.best if self.higher else score < self.best):
            self.best = score
            if model is not None:
                self.state_dict = {k: v.detach().clone() for k, v in model.state_dict().items()}
            if self.path is not None and state.is_world_process_zero:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                torch.save({"best": score, "state_dict": self.state_dict}, self.path)
        if self.patience and self.waited >= self.patience:
            self.stopped = True
            control.should_training_stop = True

    def on_train_end(self, args, state, control, model=None, **kwargs):
        if model is not None and self.state_dict is not None:
            model.load_state_dict(self.state_dict)


class TimeBudget(TrainerCallback):
    """Stop training after ``seconds`` of wall time (``None``: never); the evaluation at the
    end of that step still runs. ``spent`` says whether it stopped the run."""

    def __init__(self, seconds: float | None):
        self.seconds, self.t0, self.spent = seconds, None, False

    def on_train_begin(self, args, state, control, **kwargs):
        self.t0 = time.perf_counter()

    def on_step_end(self, args, state, control, **kwargs):
        if self.seconds and time.perf_counter() - self.t0 > self.seconds:
            self.spent = True
            control.should_training_stop = True
            control.should_evaluate = True


class Unfreeze(TrainerCallback):
    """Sets ``requires_grad`` of each parameter group by its start epoch, at every epoch's start.

    Args:
        groups: ``[(name, parameters)]``, as :func:`cornlib.training.finetune.layer_groups`.
        starts: the epoch at which each group starts training.
    """

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


class PadToMaxLength(DataCollatorForLanguageModeling):
    """Masked-LM batches padded to ``max_length`` whatever their longest example: the naive
    reference of ``benchmarks/pretrain_throughput.py`` (cornlib pads to the longest)."""

    def __init__(self, tokenizer, max_length: int, **kwargs: Any):
        super().__init__(tokenizer, **kwargs)
        self.max_length = int(max_length)

    def torch_call(self, examples):
        batch = self.tokenizer.pad([{"input_ids": ex["input_ids"]} for ex in examples],
                                   padding="max_length", max_length=self.max_length,
                                   return_tensors="pt")
        batch["input_ids"], batch["labels"] = self.torch_mask_tokens(batch["input_ids"])
        return batch
