"""Training on the Hugging Face ``Trainer``: one driver (:func:`run`) that the CNN baseline,
both pretrainings and fine-tuning call with their own :class:`Recipe`, and one result type
(:class:`TrainResult`)."""

from cornlib.training.collators import (
    ArrayDataset,
    MaskedLMDataset,
    MaskingCollator,
    padded_collator,
)
from cornlib.training.driver import STOPPED_BY, Recipe, TrainResult, run, stats_table
from cornlib.training.trainer import (
    check_checkpoint,
    derive_seed,
    fit,
    last_checkpoint,
    loss_curves,
    make_trainer,
    precision_kwargs,
    quiet_hf_bars,
    r2_metrics,
    resolve_device,
    save_model,
    seeded,
    training_arguments,
    valid_scores,
)

__all__ = [
    "ArrayDataset", "MaskedLMDataset", "MaskingCollator", "padded_collator",
    "Recipe", "STOPPED_BY", "TrainResult", "run", "stats_table",
    "check_checkpoint", "derive_seed", "fit", "last_checkpoint", "loss_curves",
    "make_trainer", "precision_kwargs", "quiet_hf_bars", "r2_metrics", "resolve_device",
    "save_model", "seeded", "training_arguments", "valid_scores",
]

#: Classes that subclass ``transformers`` types, from :mod:`cornlib.training.hf`.
_HF = ("CornTrainer", "LossHistory", "QuietProgress", "EpochLengthGroupedSampler", "BestEpoch",
       "TimeBudget", "Unfreeze", "PadToMaxLength")


def __getattr__(name: str):
    """The ``transformers`` subclasses (imported on first use: transformers is slow to import)."""
    if name in _HF:
        from cornlib.training import hf

        return getattr(hf, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
