"""Training on the Hugging Face ``Trainer``: arguments, precision, batches, callbacks, resuming."""

from __future__ import annotations

import contextlib
import functools
from pathlib import Path
from typing import Any, Iterator

from cornlib.runtime import resolve_device


def precision_kwargs(device: str) -> dict[str, bool]:
    """fp32 on CPU; bf16 on a GPU that supports it, fp16 otherwise."""
    import torch

    if device != "cuda":
        return {"bf16": False, "fp16": False}
    if torch.cuda.is_bf16_supported():
        return {"bf16": True, "fp16": False}
    return {"bf16": False, "fp16": True}


def training_arguments(output_dir: str | Path, *, device: str = "auto", seed: int = 0,
                       **kwargs: Any):
    """``TrainingArguments`` with cornlib's defaults (offline, device-aware precision).

    Any ``TrainingArguments`` field can be passed through ``kwargs``.
    """
    from transformers import TrainingArguments

    device = resolve_device(device)
    defaults: dict[str, Any] = dict(report_to="none", seed=seed, data_seed=seed,
                                    use_cpu=device == "cpu",
                                    disable_tqdm=False, dataloader_num_workers=0)
    defaults.update(precision_kwargs(device))
    defaults.update(kwargs)
    return TrainingArguments(output_dir=str(output_dir), **defaults)


# --- examples and batches ------------------------------------------------------------------------

def derive_seed(*keys: int) -> int:
    """A 32-bit seed hashed from non-negative integers (``derive_seed(seed, epoch, index)``)."""
    import numpy as np

    return int(np.random.SeedSequence(list(keys)).generate_state(1)[0])


# --- Trainer, sampler and callbacks (built on first use: transformers is slow to import)

@functools.cache
def _hf_classes() -> dict[str, type]:
    """Build the classes that subclass transformers types."""
    import torch
    from transformers import PrinterCallback, ProgressCallback, Trainer, TrainerCallback
    from transformers.trainer_pt_utils import LengthGroupedSampler
    from transformers.utils.notebook import NotebookProgressCallback

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
        continues the same file. :meth:`frame` gives the tidy table of :func:`loss_curves`.
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
            return loss_curves(self.history)

    class QuietProgress(ProgressCallback):
        """One tqdm bar over the training steps: no log dicts and no evaluation bars under it."""

        def on_log(self, args, state, control, logs=None, **kwargs):
            return None

        def on_prediction_step(self, args, state, control, eval_dataloader=None, **kwargs):
            return None

    return {"EpochLengthGroupedSampler": EpochLengthGroupedSampler, "CornTrainer": CornTrainer,
            "LossHistory": LossHistory, "QuietProgress": QuietProgress,
            "_printers": (PrinterCallback, ProgressCallback, NotebookProgressCallback)}


def __getattr__(name: str):
    """``CornTrainer``, ``LossHistory``, ``QuietProgress``, ``EpochLengthGroupedSampler``."""
    if name in ("CornTrainer", "LossHistory", "QuietProgress", "EpochLengthGroupedSampler"):
        return _hf_classes()[name]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def loss_curves(log_history: list[dict[str, Any]]):
    """Tidy loss curves from a Trainer log history.

    Returns:
        A DataFrame with columns ``step``, ``epoch``, ``split`` (``train`` or ``valid``),
        ``loss``, ``learning_rate`` (NaN for valid rows), sorted by split and step.
    """
    import pandas as pd

    rows = []
    for entry in log_history:
        if "loss" in entry:
            rows.append({"step": entry.get("step"), "epoch": entry.get("epoch"), "split": "train",
                         "loss": entry["loss"], "learning_rate": entry.get("learning_rate")})
        if "eval_loss" in entry:
            rows.append({"step": entry.get("step"), "epoch": entry.get("epoch"), "split": "valid",
                         "loss": entry["eval_loss"], "learning_rate": float("nan")})
    df = pd.DataFrame(rows, columns=["step", "epoch", "split", "loss", "learning_rate"])
    return df.astype({"loss": float, "learning_rate": float}).sort_values(
        ["split", "step"], kind="stable").reset_index(drop=True)


@contextlib.contextmanager
def quiet_hf_bars() -> Iterator[None]:
    """Hide transformers' own progress bars (saving and loading weights) inside the block.

    The Trainer's step bar is a plain tqdm bar and stays.
    """
    from transformers.utils import logging as hf_logging

    was_on = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        if was_on:
            hf_logging.enable_progress_bar()


def make_trainer(model, args, train_dataset, eval_dataset=None, *, data_collator=None,
                 processing_class=None, compute_metrics=None, callbacks: list | None = None,
                 history_path: str | Path | None = None):
    """A ``CornTrainer`` with a quiet progress bar and a ``LossHistory`` callback.

    Args:
        model, args, train_dataset, eval_dataset, data_collator, processing_class, compute_metrics:
            as for ``transformers.Trainer``.
        callbacks: more ``TrainerCallback`` objects.
        history_path: where ``LossHistory`` keeps the log history (JSON); ``None`` = memory only.

    Returns:
        The trainer; its ``LossHistory`` is ``trainer.loss_history``.
    """
    classes = _hf_classes()
    history = classes["LossHistory"](history_path)
    trainer = classes["CornTrainer"](model=model, args=args, train_dataset=train_dataset,
                                     eval_dataset=eval_dataset, data_collator=data_collator,
                                     processing_class=processing_class,
                                     compute_metrics=compute_metrics,
                                     callbacks=[history, *(callbacks or [])])
    for printer in classes["_printers"]:
        trainer.remove_callback(printer)
    if not args.disable_tqdm:
        trainer.add_callback(classes["QuietProgress"])
    trainer.loss_history = history
    return trainer


def keep_best(metric: str = "eval_loss", greater_is_better: bool | None = None,
              path: str | Path | None = None):
    """A ``TrainerCallback`` that keeps the weights of the evaluation with the best ``metric``
    in memory and loads them when training ends (no checkpoint files, unlike
    ``load_best_model_at_end``). ``greater_is_better`` defaults to ``False`` for losses.
    With ``path`` the best weights and score are also saved there (rank 0), and read back when
    training starts, so a resumed run still ends with the best epoch of the whole run."""
    import torch
    from transformers import TrainerCallback

    higher = (not metric.endswith("loss")) if greater_is_better is None else greater_is_better

    class KeepBest(TrainerCallback):
        def __init__(self):
            self.best, self.state_dict = None, None

        def on_train_begin(self, args, state, control, model=None, **kwargs):
            if path is not None and Path(path).is_file():
                saved = torch.load(path, map_location="cpu", weights_only=True)
                self.best, self.state_dict = float(saved["best"]), saved["state_dict"]

        def on_evaluate(self, args, state, control, metrics=None, model=None, **kwargs):
            score = (metrics or {}).get(metric)
            if model is None or score is None:
                return
            if self.best is None or (score > self.best if higher else score < self.best):
                self.best = score
                self.state_dict = {k: v.detach().clone() for k, v in model.state_dict().items()}
                if path is not None and state.is_world_process_zero:
                    Path(path).parent.mkdir(parents=True, exist_ok=True)
                    torch.save({"best": score, "state_dict": self.state_dict}, path)

        def on_train_end(self, args, state, control, model=None, **kwargs):
            if model is not None and self.state_dict is not None:
                model.load_state_dict(self.state_dict)

    return KeepBest()


# --- checkpoints ---------------------------------------------------------------------------------

def last_checkpoint(output_dir: str | Path) -> Path | None:
    """The newest ``checkpoint-<step>`` folder in ``output_dir`` (``None`` if there is none)."""
    from transformers.trainer_utils import get_last_checkpoint

    output_dir = Path(output_dir)
    if not output_dir.is_dir():
        return None
    found = get_last_checkpoint(str(output_dir))
    return Path(found) if found else None


def check_checkpoint(checkpoint: str | Path, config) -> None:
    """Raise if ``checkpoint`` cannot resume a model of ``config``.

    Raises:
        FileNotFoundError: ``checkpoint`` is not a folder with ``config.json`` and
            ``trainer_state.json``.
        ValueError: the checkpoint's vocabulary, sizes or pad id differ from ``config``'s.
    """
    from cornlib import io, models

    checkpoint = Path(checkpoint)
    missing = [f for f in ("config.json", "trainer_state.json") if not (checkpoint / f).is_file()]
    if missing:
        raise FileNotFoundError(f"{checkpoint} is not a Trainer checkpoint (it lacks "
                                f"{', '.join(missing)}); pass a checkpoint-<step> folder")
    models.check_compatible(io.read_json(checkpoint / "config.json"), config, where=checkpoint)


def save_model(model, path: str | Path, tokenizer=None) -> Path:
    """``save_pretrained`` the model (and tokenizer) into ``path`` atomically; return ``path``.

    The folder is written under a temporary name beside ``path`` and renamed into place, so a
    reader never sees half a model; an existing ``path`` is replaced.
    """
    from cornlib import io

    with io.atomic_dir(path) as tmp:
        model.save_pretrained(tmp)
        if tokenizer is not None:
            tokenizer.save_pretrained(tmp)
    return Path(path)


def fit(trainer, resume: bool | str | Path = False):
    """Train, resuming from a checkpoint when asked; return the ``TrainOutput``.

    Args:
        trainer: from :func:`make_trainer`.
        resume: ``False`` starts fresh; ``True`` continues from the newest checkpoint in
            ``args.output_dir`` when there is one (else starts fresh); a path resumes from that
            checkpoint.

    Raises:
        FileNotFoundError: ``resume`` is a path that is not a checkpoint.
        ValueError: the checkpoint was made with another model config.
    """
    checkpoint: Path | None = None
    if resume is True:
        checkpoint = last_checkpoint(trainer.args.output_dir)
    elif resume:
        checkpoint = Path(resume)
    if checkpoint is not None:
        check_checkpoint(checkpoint, trainer.model.config)
    return trainer.train(resume_from_checkpoint=str(checkpoint) if checkpoint else None)
