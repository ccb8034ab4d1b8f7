"""Masked-bin pretraining of the hybrid model: hide a share of each promoter's bins and learn to
predict their bases (:class:`cornlib.models.hybrid.CornHybridForMaskedLM`)."""

from __future__ import annotations

import os

import numpy as np

from cornlib.training.driver import TrainResult


class HiddenBinCollator:
    """Stacks base codes and draws the hidden bins: each bin holding a base is hidden with
    probability ``rate`` (at least one per sequence), from a generator seeded with ``seed``."""

    def __init__(self, seq_length: int, pool: int, rate: float = 0.15, seed: int = 0):
        import torch

        if not 0 < rate < 1:
            raise ValueError(f"the hidden-bin rate must lie in (0, 1), got {rate}")
        self.n, self.pool, self.rate = seq_length // pool, pool, float(rate)
        self.generator = torch.Generator().manual_seed(int(seed))

    def __call__(self, examples: list[dict]) -> dict:
        import torch

        from cornlib.sequence import N_CODE

        ids = torch.stack([e["input_ids"] for e in examples])
        real = (ids[:, -self.n * self.pool:] < N_CODE).reshape(len(ids), self.n, self.pool)
        real = real.any(-1)
        draw = torch.rand(real.shape, generator=self.generator)
        hidden = (draw < self.rate) & real
        # a sequence with no hidden bin gets its most likely candidate hidden
        none = ~hidden.any(1)
        if none.any():
            pick = torch.where(real, draw, torch.full_like(draw, 2.0)).argmin(1)
            hidden[none, pick[none]] = True
        # labels (the bases themselves) make the Trainer compute a validation loss
        return {"input_ids": ids, "hidden_bins": hidden, "labels": ids}


def pretrain(codes: np.ndarray, eval_codes: np.ndarray | None, config,
             output_dir: str | os.PathLike, *, max_steps: int = 300, batch_size: int = 64,
             learning_rate: float = 2e-3, warmup_steps: int | float = 0.1,
             weight_decay: float = 0.01, rate: float = 0.15, eval_steps: int = 100,
             logging_steps: int = 20, seed: int = 0, device: str = "auto",
             threads: int | None = None, progress: bool = False) -> TrainResult:
    """Pretrain a fresh :class:`~cornlib.models.hybrid.CornHybridForMaskedLM` with
    :func:`cornlib.training.run` and save it.

    Args:
        codes: base codes of the training sequences, shape (n, seq_length).
        eval_codes: held-out codes for the validation loss, or ``None``.
        config: a :class:`~cornlib.models.hybrid.CornHybridConfig`.
        output_dir: the model goes to ``output_dir / "model"``.
        max_steps, batch_size, learning_rate, warmup_steps, weight_decay: AdamW with linear
            decay (``warmup_steps`` < 1 is a fraction of ``max_steps``).
        rate: share of the bins holding a base that are hidden.
        eval_steps, logging_steps: validation and logging intervals.
        seed: initial weights, hidden bins, batch order and dropout.
        device: ``auto``, ``cpu`` or ``cuda``; threads: torch threads while training.
        progress: show a progress bar.

    Returns:
        A :class:`~cornlib.training.TrainResult`.
    """
    from cornlib import training
    from cornlib.models.hybrid import CornHybridForMaskedLM

    with training.seeded(seed):
        model = CornHybridForMaskedLM(config)
    has_eval = eval_codes is not None and len(eval_codes) > 0
    recipe = training.Recipe(
        max_steps=max_steps, batch_size=batch_size, learning_rate=learning_rate,
        warmup_steps=warmup_steps, weight_decay=weight_decay,
        evaluate=eval_steps if has_eval else None, log=logging_steps,
        collator=HiddenBinCollator(config.seq_length, config.pool, rate, seed), seed=seed,
        device=device, threads=threads, progress=progress)
    return training.run(model, training.ArrayDataset(codes),
                        training.ArrayDataset(eval_codes) if has_eval else None, recipe,
                        output_dir)
