"""Sequence logos (logomaker) of position weight matrices."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from cornlib.plots._common import placeholder
from cornlib.plots.style import styled


@styled
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
    fig, axes = plt.subplots(nrows, min(ncols, len(motifs)), figsize=(2.6 * min(ncols, len(motifs)),
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


def _info(probs: np.ndarray, index) -> pd.DataFrame:
    """Information-content matrix (uniform background) of ``(W, 4)`` probabilities."""
    import logomaker

    frame = pd.DataFrame(probs, columns=list("ACGT"), index=pd.Index(index, dtype=int))
    return logomaker.transform_matrix(frame, from_type="probability", to_type="information")


@styled
def pattern_logos(patterns: Sequence, matches: pd.DataFrame, motifs: Sequence | None = None,
                  n: int = 6, kind: str = "cwm"):
    """Each pattern's logo beside its best Tomtom match's, on a shared, aligned x axis.

    Args:
        patterns: :class:`cornlib.interpret.motifs.Pattern` (from ``discover``).
        matches: :func:`cornlib.interpret.motifs.match` table; the ``rank == 1`` row of each
            pattern is drawn, reverse-complemented for orientation ``-`` and shifted by its
            offset so that aligned columns stand one above the other.
        motifs: the motifs matched against (default JASPAR 2024 CORE plants).
        n: patterns drawn (the first ``n``).
        kind: ``cwm`` (contribution scores) or ``ppm`` (information content) for the pattern.

    Returns:
        ``fig, axes`` (``(rows, 2)``: pattern, match); a note when there are no patterns.
    """
    import logomaker
    import matplotlib.pyplot as plt

    if kind not in ("cwm", "ppm"):
        raise ValueError(f"kind must be 'cwm' or 'ppm', not {kind!r}")
    patterns = list(patterns)[:n]
    if not patterns:
        return placeholder("TF-MoDISco found no patterns.")
    if motifs is None:
        from cornlib.motifs import load_plant_motifs

        motifs = load_plant_motifs()
    by_id = {m.matrix_id: m for m in motifs}
    best = matches[matches["rank"] == 1].set_index("pattern") if len(matches) else None
    fig, axes = plt.subplots(len(patterns), 2, figsize=(8, 1.5 * len(patterns)), squeeze=False)
    for (ax_p, ax_m), p in zip(axes, patterns):
        W = p.length
        if kind == "cwm":
            logomaker.Logo(pd.DataFrame(p.cwm, columns=list("ACGT")), ax=ax_p, color_scheme="classic")
        else:
            logomaker.Logo(_info(p.ppm, range(W)), ax=ax_p, color_scheme="classic")
            ax_p.set_ylim(0, 2)
        ax_p.set_title(f"{p.name} ({p.sign}, {p.n_seqlets} seqlets)", fontsize=8)
        lo, hi = 0, W
        hit = best.loc[p.name] if best is not None and p.name in best.index else None
        m = by_id.get(hit["matrix_id"]) if hit is not None else None
        if m is None:
            ax_m.text(0.5, 0.5, "no match", ha="center", va="center", fontsize=8)
            ax_m.set_axis_off()
        else:
            probs = m.probabilities()
            if hit["orientation"] == "-":
                probs = probs[::-1, ::-1]
            x = np.arange(m.length) - int(hit["offset"])  # motif column k under pattern column k - offset
            logomaker.Logo(_info(probs, x), ax=ax_m, color_scheme="classic")
            ax_m.set_ylim(0, 2)
            ax_m.set_title(f"{m.name} ({m.matrix_id}, {hit['orientation']} strand) "
                           f"q = {hit['q_value']:.1e}", fontsize=8)
            lo, hi = min(lo, int(x[0])), max(hi, int(x[-1]) + 1)
        for ax in (ax_p, ax_m):
            ax.set_xlim(lo - 0.5, hi - 0.5)
            ax.set_xticks([])
            ax.tick_params(labelsize=7)
    fig.tight_layout()
    return fig, axes
