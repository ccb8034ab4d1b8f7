"""Masked-bin pretraining of the hybrid model: hide a share of each promoter's bins and learn to
predict their bases (:class:`cornlib.models.hybrid.CornHybridForMaskedLM`)."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import numpy as np


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
             threads: int | None = None, progress: bool = False) -> dict[str, Any]:
    """Pretrain a fresh :class:`~cornlib.models.hybrid.CornHybridForMaskedLM` and save it.

    Args:
        codes: base codes of the training sequences, shape (n, seq_length).
        eval_codes: held-out codes for the validation loss, or ``None``.
        config: a :class:`~cornlib.models.hybrid.CornHybridConfig`.
        output_dir: the model goes to ``output_dir / "model"``.

    Returns:
        ``{"model", "history" (loss curves), "stats"}``.
    """
    import torch

    from cornlib import training
    from cornlib.models.hybrid import CornHybridForMaskedLM
    from cornlib.runtime import limit_threads

    output_dir = Path(output_dir)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = CornHybridForMaskedLM(config)
    has_eval = eval_codes is not None and len(eval_codes) > 0
    args = training.training_arguments(
        output_dir / "trainer", device=device, seed=seed, max_steps=max_steps,
        per_device_train_batch_size=batch_size, per_device_eval_batch_size=2 * batch_size,
        learning_rate=learning_rate, warmup_steps=warmup_steps, weight_decay=weight_decay,
        lr_scheduler_type="linear", save_strategy="no",
        eval_strategy="steps" if has_eval else "no", eval_steps=eval_steps,
        logging_steps=logging_steps, remove_unused_columns=False, disable_tqdm=not progress,
        prediction_loss_only=True)
    trainer = training.make_trainer(
        model, args, training.ArrayDataset(codes),
        training.ArrayDataset(eval_codes) if has_eval else None,
        data_collator=HiddenBinCollator(config.seq_length, config.pool, rate, seed))
    t0 = time.perf_counter()
    with limit_threads(threads, torch=True):
        out = trainer.train()
    seconds = time.perf_counter() - t0
    if trainer.is_world_process_zero():  # under torchrun only rank 0 writes
        with training.quiet_hf_bars():
            training.save_model(trainer.model, output_dir / "model")
        import shutil

        shutil.rmtree(output_dir / "trainer", ignore_errors=True)
    history = training.loss_curves(trainer.state.log_history)
    stats = {"steps": int(out.global_step), "seconds": round(seconds, 1),
             "train_loss": float(out.training_loss),
             "sequences_per_second": round(out.global_step * batch_size / seconds, 1)}
    return {"model": trainer.model, "history": history, "stats": stats}
