"""Training loops on the Hugging Face ``Trainer``: arguments, precision and device choice."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def resolve_device(device: str = "auto") -> str:
    """``auto`` → ``cuda`` when a GPU is visible, else ``cpu``."""
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device not in {"cpu", "cuda"}:
        raise ValueError(f"device must be 'auto', 'cpu' or 'cuda', not {device!r}")
    if device == "cuda" and not torch.cuda.is_available():
        raise ValueError("device='cuda' was asked for but no CUDA GPU is visible to torch")
    return device


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
                                    use_cpu=device == "cpu", save_safetensors=True,
                                    disable_tqdm=False, dataloader_num_workers=0)
    defaults.update(precision_kwargs(device))
    defaults.update(kwargs)
    return TrainingArguments(output_dir=str(output_dir), **defaults)
