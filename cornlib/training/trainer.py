"""Training on the Hugging Face ``Trainer``: arguments, precision, seeding, metrics, the history
table, checkpoints and resuming. The ``Trainer`` subclass and the callbacks live in
:mod:`cornlib.training.hf` (imported on first use)."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any, Iterator, Sequence

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


# --- seeds, metrics and the history table ---------------------------------------------------

def derive_seed(*keys: int) -> int:
    """A 32-bit seed hashed from non-negative integers (``derive_seed(seed, epoch, index)``)."""
    import numpy as np

    return int(np.random.SeedSequence(list(keys)).generate_state(1)[0])


@contextlib.contextmanager
def seeded(seed: int) -> Iterator[None]:
    """Run a block with Python's, NumPy's and torch's global RNGs seeded with ``seed``, and
    give the caller its RNG states back afterwards (the ``Trainer`` reseeds all three)."""
    import random

    import numpy as np
    import torch

    py, npy = random.getstate(), np.random.get_state()
    # the current GPU's generator too once CUDA is up (forking every GPU's would open a
    # context on each of them from every process under torchrun)
    devices = [torch.cuda.current_device()] if torch.cuda.is_initialized() else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        random.seed(seed)
        np.random.seed(seed % 2 ** 32)
        try:
            yield
        finally:
            random.setstate(py)
            np.random.set_state(npy)


#: Columns of the history table (:func:`loss_curves`).
HISTORY_COLUMNS = ("step", "epoch", "split", "loss", "learning_rate", "r2")


def loss_curves(log_history: list[dict[str, Any]]):
    """The history table of a run: its train and valid losses from a Trainer log history.

    Returns:
        A DataFrame with columns :data:`HISTORY_COLUMNS`: ``step``, ``epoch``, ``split``
        (``train`` or ``valid``), ``loss``, ``learning_rate`` (NaN for valid rows) and ``r2``
        (the mean valid R² where :func:`r2_metrics` scored the evaluation, else NaN), sorted by
        split and step.
    """
    import pandas as pd

    nan = float("nan")
    rows = []
    for entry in log_history:
        at = {"step": entry.get("step"), "epoch": entry.get("epoch")}
        if "loss" in entry:
            rows.append({**at, "split": "train", "loss": entry["loss"],
                         "learning_rate": entry.get("learning_rate"), "r2": nan})
        if "eval_loss" in entry:
            rows.append({**at, "split": "valid", "loss": entry["eval_loss"],
                         "learning_rate": nan, "r2": entry.get("eval_r2", nan)})
    df = pd.DataFrame(rows, columns=list(HISTORY_COLUMNS))
    return df.astype({"loss": float, "learning_rate": float, "r2": float}).sort_values(
        ["split", "step"], kind="stable").reset_index(drop=True)


def r2_metrics(names: Sequence[str]):
    """``compute_metrics`` for the Trainer: mean R² over targets (``r2``) and each ``r2_<name>``
    (:func:`cornlib.stats.r2_columns`; a target that is constant on valid counts as NaN)."""
    import numpy as np

    from cornlib.stats import r2_columns

    names = list(names)

    def compute(pred) -> dict[str, float]:
        y = np.asarray(pred.label_ids, dtype=float).reshape(len(pred.label_ids), -1)
        per = r2_columns(y, np.asarray(pred.predictions, dtype=float).reshape(y.shape))
        out = {"r2": float(np.nanmean(per))}
        out.update({f"r2_{n}": float(v) for n, v in zip(names, per)})
        return out

    return compute


def valid_scores(log_history: list[dict[str, Any]], names: Sequence[str]):
    """Valid R² after each evaluation scored by :func:`r2_metrics`: columns ``epoch``, ``r2``
    (mean over targets) and one per target name."""
    import pandas as pd

    nan = float("nan")
    rows = [{"epoch": e.get("epoch"), "r2": e.get("eval_r2", nan),
             **{n: e.get(f"eval_r2_{n}", nan) for n in names}}
            for e in log_history if "eval_loss" in e]
    return pd.DataFrame(rows, columns=["epoch", "r2", *names])


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
    from cornlib.training import hf as cb

    history = cb.LossHistory(history_path)
    trainer = cb.CornTrainer(model=model, args=args, train_dataset=train_dataset,
                             eval_dataset=eval_dataset, data_collator=data_collator,
                             processing_class=processing_class, compute_metrics=compute_metrics,
                             callbacks=[history, *(callbacks or [])])
    for printer in cb.PRINTERS:
        trainer.remove_callback(printer)
    if not args.disable_tqdm:
        trainer.add_callback(cb.QuietProgress)
    trainer.loss_history = history
    return trainer


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
