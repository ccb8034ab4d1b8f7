"""Where and how computation runs: the device and the number of CPU threads."""

from __future__ import annotations

import contextlib
from typing import Iterator


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


@contextlib.contextmanager
def limit_threads(n: int | None, *, torch: bool = False) -> Iterator[None]:
    """Run a block with at most ``n`` BLAS/OpenMP threads (and torch threads), then restore.

    ``None`` leaves the libraries' defaults. On a CPU shared with other jobs one thread is often
    several times faster than two (OpenMP workers wait on each other).
    """
    from threadpoolctl import threadpool_limits

    if n is None:
        yield
        return
    if n < 1:
        raise ValueError(f"threads must be positive or None, got {n}")
    old = None
    if torch:
        import torch as _torch

        old = _torch.get_num_threads()
        _torch.set_num_threads(int(n))
    try:
        with threadpool_limits(limits=int(n)):
            yield
    finally:
        if old is not None:
            _torch.set_num_threads(old)
