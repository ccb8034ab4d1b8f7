"""Sequence logos (logomaker) of position weight matrices."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from cornlib.plots._common import placeholder


def motif_logos(motifs: Sequence, ncols: int = 4, background: Sequence[float] | None = None):
    """Information-content logos of ``motifs`` (:class:`cornlib.motifs.Motif`), one panel each.

    Returns:
        ``fig, axes`` (a flat array); a note when ``motifs`` is empty.
    """
    import logomaker
    import matplotlib.pyplot as plt

    from cornlib import motifs as _motifs

    motifs = list(motifs)
    if not motifs:
        return placeholder("No motifs to draw.")
    bg = _motifs.UNIFORM if background is None else background
    nrows = -(-len(motifs) // ncols)
    fig, axes = plt.subplots(nrows, min(ncols, len(motifs)), figsize=(3.2 * min(ncols, len(motifs)),
                                                                       1.6 * nrows), squeeze=False)
    for ax, m in zip(axes.flat, motifs):
        probs = pd.DataFrame(m.probabilities(bg), columns=list(_motifs.ALPHABET))
        info = logomaker.transform_matrix(probs, from_type="probability", to_type="information",
                                          background=np.asarray(bg))
        logomaker.Logo(info, ax=ax, color_scheme="classic")
        ax.set_title(f"{m.name} ({m.matrix_id})", fontsize=8)
        ax.set_ylim(0, 2)
        ax.set_xticks([])
        ax.tick_params(labelsize=7)
    for ax in list(axes.flat)[len(motifs):]:
        ax.set_axis_off()
    fig.tight_layout()
    return fig, axes.ravel()
