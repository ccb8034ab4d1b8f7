"""Borrowing a caller's model: run it on a device in evaluation mode, then give it back as it was.

Prediction, embeddings and gradients take the user's model; :func:`preserve_state` (after
tangermeme's ``_preserve_model_state``) records its device and the training flag of each module, moves it and
switches it to evaluation mode for the block, and restores both afterwards, errors included.
"""

from __future__ import annotations

import contextlib
from typing import Iterator


@contextlib.contextmanager
def preserve_state(model, device: str | None = None) -> Iterator:
    """Run a block with ``model`` on ``device`` (``auto``, ``cpu``, ``cuda``; ``None``: where it
    is) in evaluation mode, and yield it; its device and every module's training flag are
    restored on exit."""
    import torch

    from cornlib.runtime import resolve_device

    modes = [(m, m.training) for m in model.modules()]
    first = next(model.parameters(), None)
    home = first.device if first is not None else None
    try:
        if device is not None:
            model.to(torch.device(resolve_device(device)))
        model.eval()
        yield model
    finally:
        if home is not None and next(model.parameters()).device != home:
            model.to(home)
        for module, mode in modes:
            module.training = mode
