"""Training the CNN baseline (:class:`cornlib.models.cnn.PromoterCNN`): a recipe on
:func:`cornlib.training.run`."""

from __future__ import annotations

import os

import numpy as np

from cornlib.training.driver import TrainResult


def train(config, train_codes: np.ndarray, train_y: np.ndarray, valid_codes: np.ndarray,
          valid_y: np.ndarray, out_dir: str | os.PathLike, *, epochs: int = 40,
          patience: int | None = 3, min_delta: float = 0.0,
          batch_size: int = 64, learning_rate: float = 5e-3, weight_decay: float = 1e-4,
          seed: int = 0, device: str = "auto", threads: int | None = None) -> TrainResult:
    """Train a fresh :class:`~cornlib.models.cnn.PromoterCNN` of ``config`` and save it.

    Valid is scored after every epoch; the run stops after ``patience`` epochs without a better
    mean valid R² (``None``: runs all ``epochs``) and ends with the weights of its best epoch (in
    memory, no checkpoints).

    Args:
        config: a :class:`~cornlib.models.cnn.PromoterCNNConfig` (its ``target_names`` name the
            label columns).
        train_codes, train_y, valid_codes, valid_y: base codes (n, seq_length) and targets
            (n, n_targets) of the training and validation genes.
        out_dir: the run folder (``model/``, ``history.parquet``, ``valid_r2.parquet``).
        epochs, batch_size, learning_rate, weight_decay: AdamW with linear decay over
            ``epochs`` (a cap that early stopping should reach first).
        patience, min_delta: stop after ``patience`` epochs without a valid R² more than
            ``min_delta`` above the last counted improvement.
        seed: initial weights, batch order and dropout.
        device: ``auto``, ``cpu`` or ``cuda``; threads: torch threads while training.
    """
    from cornlib import training
    from cornlib.models import cnn

    with training.seeded(seed):
        model = cnn.PromoterCNN(config)
    recipe = training.Recipe(
        min_delta=min_delta, epochs=epochs, batch_size=batch_size, eval_batch_size=4 * batch_size,
        learning_rate=learning_rate, weight_decay=weight_decay, evaluate="epoch", log="epoch",
        target_names=list(config.target_names), keep_best="eval_r2", patience=patience, seed=seed,
        device=device, threads=threads)
    return training.run(model, training.ArrayDataset(train_codes, train_y),
                        training.ArrayDataset(valid_codes, valid_y), recipe, out_dir)
