"""The window policy: which bases of a promoter a model with a fixed window reads.

Promoters run 5'→3' and end at the TSS. A sequence longer than a model's window keeps the bases
nearest the TSS (``"tss"``, the default: the 3' end) or its 5' end (``"start"``). This is the
one definition; :mod:`cornlib.models.predictor` (prediction), :mod:`cornlib.interpret.gradients`
and ``cornlib predict --window`` use it. (It lives here, beside
:func:`cornlib.sequence.encode_fixed`, so that the command line can offer the choices without
importing torch.)
"""

from __future__ import annotations

#: The ends of a long sequence that can be kept, the TSS (3') end or the 5' end.
WINDOWS = ("tss", "start")


def align(window: str) -> str:
    """Where a window puts a sequence (the ``align`` of :func:`cornlib.sequence.encode_fixed`):
    ``"end"`` for ``"tss"`` (the 3' ends aligned; a long sequence keeps its last bases),
    ``"start"`` for ``"start"`` (its first bases).

    Raises:
        ValueError: not one of :data:`WINDOWS`.
    """
    if window not in WINDOWS:
        raise ValueError(f"window must be one of {WINDOWS}, not {window!r}")
    return "end" if window == "tss" else "start"
