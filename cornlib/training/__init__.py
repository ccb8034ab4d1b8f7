"""Training on the Hugging Face ``Trainer``: one set-up (arguments, precision, callbacks,
checkpoints) shared by the CNN baseline, masked-LM pretraining and fine-tuning."""

from cornlib.training.collators import (
    ArrayDataset,
    MaskedLMDataset,
    MaskingCollator,
    padded_collator,
)
from cornlib.training.trainer import (
    check_checkpoint,
    derive_seed,
    fit,
    keep_best,
    last_checkpoint,
    loss_curves,
    make_trainer,
    precision_kwargs,
    quiet_hf_bars,
    resolve_device,
    save_model,
    training_arguments,
)

__all__ = [
    "ArrayDataset", "keep_best", "MaskedLMDataset", "MaskingCollator", "padded_collator",
    "check_checkpoint", "derive_seed", "fit", "last_checkpoint", "loss_curves",
    "make_trainer", "precision_kwargs", "quiet_hf_bars", "resolve_device", "save_model",
    "training_arguments",
]


def __getattr__(name: str):
    """The ``Trainer`` subclasses (built on first use: transformers is slow to import)."""
    from cornlib.training import trainer

    return getattr(trainer, name)
