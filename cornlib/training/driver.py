"""The one training driver: :func:`run` trains any cornlib model by a :class:`Recipe`.

It owns what every model's training needs: the ``Trainer`` arguments, seeding (the caller's RNG
states are given back), the thread limit, the valid R² after every evaluation, the best
evaluation's weights (kept and restored at the end), early stopping and the time budget,
checkpoints for resuming and their clean-up, the history table, the stats, and writing the
results (rank 0 only under ``torchrun``). The CNN baseline
(:func:`cornlib.training.cnn.train`), masked-LM pretraining
(:func:`cornlib.training.pretrain.pretrain`), masked-bin pretraining
(:func:`cornlib.training.bins.pretrain`) and fine-tuning
(:func:`cornlib.training.finetune.finetune`) are recipes on it.

A run folder ``out_dir`` receives ``model/`` (``save_pretrained``, with the tokenizer if any),
``history.parquet`` (:func:`cornlib.training.loss_curves`), ``log_history.json`` (the raw log,
rewritten at every log so a killed run leaves its curves) and, when the recipe names targets,
``valid_r2.parquet`` (:func:`cornlib.training.valid_scores`).
"""

from __future__ import annotations

import contextlib
import gc
import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import pandas as pd

#: Why a run ended (``stats["stopped_by"]``), in words for a chapter's text.
STOPPED_BY = {"epochs": "after its last epoch", "steps": "after its last step",
              "early stopping": "by early stopping", "time budget": "at its time budget"}


@dataclass
class Recipe:
    """How :func:`run` trains: everything but the model, the data and the output folder.

    Attributes:
        batch_size: training examples per step (per process under ``torchrun``).
        learning_rate, weight_decay: AdamW's (ignored where ``optimizer`` is given).
        epochs, max_steps: the length of the run; ``max_steps`` wins when set.
        warmup_steps, scheduler: the learning-rate schedule (``warmup_steps`` < 1 is a
            fraction of the run; ``scheduler`` a ``transformers`` scheduler name).
        eval_batch_size: examples per evaluation batch (default ``2 * batch_size``).
        evaluate: ``"epoch"``, every ``n`` steps, or ``None`` (no validation).
        log: log the training loss every ``"epoch"`` or every ``n`` steps.
        checkpoint: save a checkpoint every ``"epoch"`` or ``n`` steps (``None``: never).
        resume: continue from the newest checkpoint in ``out_dir / checkpoint_dir`` (and the
            best weights kept there); ``False`` deletes that folder first.
        checkpoint_dir: the Trainer's folder under ``out_dir``.
        keep_checkpoints: leave the checkpoints after the run (default: delete the folder).
        collator: batches examples (``None``: ``transformers.default_data_collator``, which
            stacks them, with or without a tokenizer).
        tokenizer: given to the Trainer and saved beside the model.
        target_names: score valid R² (mean and per target) at every evaluation.
        keep_best: an evaluation metric (``"eval_r2"``) whose best evaluation's weights the
            run ends with; ``None`` keeps the last weights.
        patience: stop after this many evaluations without a better ``keep_best`` (``None``:
            never).
        min_delta: the gain in ``keep_best`` that counts as better for the patience
            (:class:`cornlib.training.hf.BestEpoch`).
        max_seconds: stop after this much training time (``None``: no budget).
        optimizer: ``model → torch optimizer`` replacing AdamW (e.g. layer-wise rates).
        callbacks: more ``TrainerCallback`` objects.
        annotate: ``history table → history table`` adding columns before it is saved.
        seed: the initial global RNG state of the run (batch order, dropout, Trainer seed).
        device: ``auto``, ``cpu`` or ``cuda`` (fp32 on CPU; bf16, else fp16, on a GPU).
        threads: torch and BLAS threads while training (``None``: the libraries' default).
        progress: show the Trainer's step bar.
        arguments: any further ``TrainingArguments`` fields.
    """

    batch_size: int = 32
    learning_rate: float = 1e-3
    epochs: int | None = None
    max_steps: int | None = None
    weight_decay: float = 0.0
    warmup_steps: int | float = 0
    scheduler: str = "linear"
    eval_batch_size: int | None = None
    evaluate: int | str | None = "epoch"
    log: int | str = "epoch"
    checkpoint: int | str | None = None
    resume: bool = False
    checkpoint_dir: str = "trainer"
    keep_checkpoints: bool = False
    collator: Any = None
    tokenizer: Any = None
    target_names: Sequence[str] | None = None
    keep_best: str | None = None
    patience: int | None = None
    min_delta: float = 0.0
    max_seconds: float | None = None
    optimizer: Callable[[Any], Any] | None = None
    callbacks: Sequence[Any] = ()
    annotate: Callable[[pd.DataFrame], pd.DataFrame] | None = None
    seed: int = 0
    device: str = "auto"
    threads: int | None = None
    progress: bool = False
    arguments: dict[str, Any] = field(default_factory=dict)


@dataclass
class TrainResult:
    """What :func:`run` (and every training recipe) returns.

    Attributes:
        model: the trained model, with the best evaluation's weights when the recipe keeps
            them (also saved in ``output_dir / "model"``).
        history: the history table (:func:`cornlib.training.loss_curves`; the recipe may add
            columns, e.g. fine-tuning's ``trainable``), saved as ``history.parquet``.
        output_dir: the run folder.
        stats: ``steps``, ``seconds``, ``epochs_run``, ``train_loss``, ``stopped_by``
            (``epochs``, ``steps``, ``early stopping`` or ``time budget``; see
            :data:`STOPPED_BY`),
            ``sequences_per_second``, ``device``, ``bf16``, ``fp16``; ``best_epoch`` and
            ``best_valid_r2`` when targets are scored; ``tokens`` and ``tokens_per_second``
            when the recipe counts tokens.
        per_target: valid R² after each evaluation (``epoch``, ``r2``, one column per target;
            ``None`` without targets), saved as ``valid_r2.parquet``.
        schedule: fine-tuning's unfreezing schedule (``group``, ``epoch``, ``learning_rate``);
            ``None`` for other recipes.
    """

    model: Any
    history: pd.DataFrame
    output_dir: Path
    stats: dict[str, Any] = field(default_factory=dict)
    per_target: pd.DataFrame | None = None
    schedule: pd.DataFrame | None = None


def _strategy(every: int | str | None, name: str) -> dict[str, Any]:
    """``TrainingArguments`` fields of one interval (``"epoch"``, ``n`` steps or ``None``)."""
    if every is None:
        return {f"{name}_strategy": "no"}
    if every == "epoch":
        return {f"{name}_strategy": "epoch"}
    if isinstance(every, int) and every > 0:
        return {f"{name}_strategy": "steps", f"{name}_steps": every}
    raise ValueError(f"{name} interval must be 'epoch', a positive step count or None, "
                     f"not {every!r}")


def arguments(recipe: Recipe, output_dir: str | os.PathLike):
    """The ``TrainingArguments`` of ``recipe`` with checkpoints under ``output_dir``."""
    from cornlib.training.trainer import training_arguments

    if recipe.max_steps is None and recipe.epochs is None:
        raise ValueError("a recipe needs epochs or max_steps")
    length = ({"max_steps": recipe.max_steps} if recipe.max_steps is not None
              else {"num_train_epochs": recipe.epochs})
    kwargs = dict(
        per_device_train_batch_size=recipe.batch_size,
        per_device_eval_batch_size=recipe.eval_batch_size or 2 * recipe.batch_size,
        learning_rate=recipe.learning_rate, weight_decay=recipe.weight_decay,
        warmup_steps=recipe.warmup_steps, lr_scheduler_type=recipe.scheduler,
        disable_tqdm=not recipe.progress, remove_unused_columns=False,
        prediction_loss_only=not recipe.target_names, **length,
        **_strategy(recipe.evaluate, "eval"), **_strategy(recipe.log, "logging"),
        **_strategy(recipe.checkpoint, "save"))
    kwargs.update(recipe.arguments)
    return training_arguments(output_dir, device=recipe.device, seed=recipe.seed, **kwargs)


def run(model, train, valid, recipe: Recipe, out_dir: str | os.PathLike) -> TrainResult:
    """Train ``model`` on ``train`` by ``recipe``, scoring ``valid``, and save the run in
    ``out_dir`` (see the module's text for the files).

    Args:
        model: a ``transformers`` model returning a loss for ``labels``.
        train, valid: map-style datasets (``valid`` may be ``None`` when
            ``recipe.evaluate`` is ``None``).
        recipe: how to train.
        out_dir: the run folder.

    Raises:
        ValueError: the recipe evaluates but there is no ``valid``, or keeps the best of a
            metric without evaluating.
        FileNotFoundError, ValueError: from :func:`cornlib.training.fit` when resuming.
    """
    from transformers import default_data_collator

    from cornlib import io
    from cornlib.runtime import limit_threads
    from cornlib.training import hf
    from cornlib.training import trainer as tr

    out_dir = Path(out_dir)
    if recipe.evaluate is not None and valid is None:
        raise ValueError("the recipe evaluates every "
                         f"{recipe.evaluate} but no valid dataset was given")
    if recipe.keep_best and recipe.evaluate is None:
        raise ValueError(f"keep_best={recipe.keep_best!r} needs evaluations (evaluate=None)")
    checkpoints = out_dir / recipe.checkpoint_dir
    if not recipe.resume:
        shutil.rmtree(checkpoints, ignore_errors=True)
    args = arguments(recipe, checkpoints)
    budget = hf.TimeBudget(recipe.max_seconds)
    callbacks = [*recipe.callbacks, budget]
    best = None
    if recipe.keep_best:
        saved = checkpoints / "best.pt" if recipe.resume and recipe.checkpoint else None
        best = hf.BestEpoch(recipe.keep_best, patience=recipe.patience, path=saved,
                            min_delta=recipe.min_delta)
        callbacks.append(best)
    names = list(recipe.target_names or [])
    with limit_threads(recipe.threads, torch=True), tr.seeded(recipe.seed):
        trainer = tr.make_trainer(
            model, args, train, valid if recipe.evaluate is not None else None,
            data_collator=recipe.collator or default_data_collator,
            processing_class=recipe.tokenizer,
            compute_metrics=tr.r2_metrics(names) if names else None, callbacks=callbacks,
            history_path=out_dir / "log_history.json")
        if recipe.optimizer is not None:
            trainer.optimizer = recipe.optimizer(model)
        t0, tokens0 = time.perf_counter(), trainer.state.num_input_tokens_seen
        with tr.quiet_hf_bars(), frozen_gc():
            out = tr.fit(trainer, resume=recipe.resume)
        seconds = time.perf_counter() - t0
    log = trainer.state.log_history
    history = tr.loss_curves(log)
    if recipe.annotate is not None:
        history = recipe.annotate(history)
    per_target = tr.valid_scores(log, names) if names else None
    if trainer.is_world_process_zero():  # under torchrun only rank 0 writes
        with tr.quiet_hf_bars():
            tr.save_model(trainer.model, out_dir / "model", recipe.tokenizer)
        io.write_parquet(out_dir / "history.parquet", history)
        if per_target is not None:
            io.write_parquet(out_dir / "valid_r2.parquet", per_target)
        if not recipe.keep_checkpoints:
            shutil.rmtree(checkpoints, ignore_errors=True)
    stats = _stats(trainer, out, seconds, recipe, budget, best, per_target,
                   trainer.state.num_input_tokens_seen - tokens0)
    return TrainResult(trainer.model, history, out_dir, stats, per_target)


@contextlib.contextmanager
def frozen_gc():
    """Run a block with the objects that exist now left out of Python's cyclic garbage
    collection (``gc.freeze``), then put them back.

    The ``Trainer`` runs a full ``gc.collect()`` when training starts (accelerate's
    ``free_memory``), and Python runs full collections now and then while a run allocates; each
    walks every object of the process, 0.3 s or more in a notebook's kernel. Frozen objects
    are skipped; what the run itself leaves as garbage is still collected. Nothing is done
    when the caller has frozen objects already.
    """
    if gc.get_freeze_count():
        yield
        return
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


def _stats(trainer, out, seconds: float, recipe: Recipe, budget, best, per_target,
           tokens: int) -> dict[str, Any]:
    """The stats of :class:`TrainResult`."""
    args = trainer.args
    steps = int(out.global_step)
    if budget.spent:
        stopped_by = "time budget"
    elif best is not None and best.stopped:
        stopped_by = "early stopping"
    else:
        stopped_by = "steps" if recipe.max_steps is not None else "epochs"
    sequences = steps * args.train_batch_size * args.world_size
    stats = {"steps": steps, "seconds": round(seconds, 2),
             "epochs_run": float(trainer.state.epoch or 0),
             "train_loss": float(out.training_loss), "stopped_by": stopped_by,
             "sequences_per_second": round(sequences / seconds, 1) if seconds else None,
             "device": str(args.device), "bf16": args.bf16, "fp16": args.fp16}
    if per_target is not None:
        scored = per_target.dropna(subset=["r2"])
        top = scored.loc[scored["r2"].idxmax()] if len(scored) else None
        stats["best_epoch"] = None if top is None else float(top["epoch"])
        stats["best_valid_r2"] = None if top is None else float(top["r2"])
    if args.include_num_input_tokens_seen not in (False, "no", None):
        stats["tokens"] = int(tokens)
        stats["tokens_per_second"] = round(tokens / seconds, 1) if seconds else None
    return stats


def stats_table(runs: dict[str, TrainResult], columns: Sequence[str] | None = None
                ) -> pd.DataFrame:
    """One row per run (named by the keys of ``runs``) with the ``columns`` of its stats
    (default: all; a stat a run lacks is empty)."""
    rows = {name: r.stats for name, r in runs.items()}
    table = pd.DataFrame.from_dict(rows, orient="index")
    if columns is not None:
        table = table.reindex(columns=list(columns))
    return table.rename_axis("run")
