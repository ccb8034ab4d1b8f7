"""The one look of the book's figures: 150 dpi, and text legible at the page's width.

Every plot function of :mod:`cornlib.plots` is wrapped in :func:`styled`: it draws under
:data:`STYLE` (whatever the caller's ``rcParams``), caps the figure at :data:`MAX_WIDTH_IN`
and raises any text smaller than :data:`MIN_FONT_PT`. The book's text column is about 8 inches
wide (768 CSS pixels), so a figure no wider than that shows at about its own size, and a label
of 8 pt reads as 8 pt: on a ~100 dpi page a 12-inch figure shrinks to two thirds and its 8-pt
labels to 6 pixels. The figure's own resolution (``figure.dpi``) is what Jupyter's inline
backend saves, so pages and ``savefig`` both get :data:`DPI`.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

#: Dots per inch of inline and saved figures.
DPI = 150
#: The widest a figure may be, in inches (the book's text column).
MAX_WIDTH_IN = 8.0
#: The smallest text a figure may carry, in points.
MIN_FONT_PT = 8.0

#: The ``rcParams`` every plot function draws under.
STYLE: dict[str, Any] = {
    "figure.dpi": DPI,
    "savefig.dpi": DPI,
    "savefig.bbox": "tight",
    "font.size": 10,
    "axes.titlesize": 10,
    "axes.labelsize": 10,
    "xtick.labelsize": 9,
    "ytick.labelsize": 9,
    "legend.fontsize": 9,
    "legend.title_fontsize": 9,
    "figure.titlesize": 11,
    "figure.labelsize": 10,
}


def fit_width(width: float, height: float) -> tuple[float, float]:
    """``(width, height)`` in inches, scaled down together when wider than the page."""
    if width <= MAX_WIDTH_IN:
        return width, height
    return MAX_WIDTH_IN, height * MAX_WIDTH_IN / width


def panels(n: int, panel: tuple[float, float], max_cols: int | None = None, **kwargs):
    """``n`` panels of ``panel`` inches (width, height), wrapped into rows to fit the page.

    As many columns as fit :data:`MAX_WIDTH_IN` (at most ``max_cols``), each at least two
    thirds of its asked width; unused axes of the last row are removed. ``kwargs`` go to
    :func:`matplotlib.pyplot.subplots`.

    Returns:
        ``fig, axes``: ``axes`` a 1-D array of the ``n`` axes, row by row.
    """
    import matplotlib.pyplot as plt

    width, height = panel
    fit = max(1, int(MAX_WIDTH_IN // (width * 2 / 3)))
    ncols = max(1, min(n, fit, max_cols or n))
    nrows = -(-n // ncols)
    fig, axes = plt.subplots(nrows, ncols, squeeze=False,
                             figsize=(min(width * ncols, MAX_WIDTH_IN), height * nrows), **kwargs)
    for ax in axes.flat[n:]:
        ax.remove()
    return fig, axes.flat[:n]


def _figures(result) -> list:
    from matplotlib.figure import Figure

    items = result if isinstance(result, tuple) else (result,)
    found = []
    for item in items:
        fig = getattr(item, "figure", None) if not isinstance(item, Figure) else item
        if fig is None and hasattr(item, "flat"):  # an array of axes
            fig = next((getattr(a, "figure", None) for a in item.flat), None)
        if isinstance(fig, Figure) and fig not in found:
            found.append(fig)
    return found


def finish(fig) -> None:
    """Apply the page's limits to a drawn figure: resolution, width and smallest text."""
    from matplotlib.text import Text

    fig.set_dpi(DPI)
    width, height = fig.get_size_inches()
    if width > MAX_WIDTH_IN:
        fig.set_size_inches(*fit_width(width, height))
    for text in fig.findobj(Text):
        if text.get_fontsize() < MIN_FONT_PT:
            text.set_fontsize(MIN_FONT_PT)
    for ax in fig.axes:  # tick labels made later copy these
        for axis in (ax.xaxis, ax.yaxis):
            size = min((t.label1.get_fontsize() for t in axis.get_major_ticks()[:1]),
                       default=MIN_FONT_PT)
            if size < MIN_FONT_PT:
                axis.set_tick_params(which="both", labelsize=MIN_FONT_PT)


def styled(function: Callable) -> Callable:
    """Draw ``function``'s figure under :data:`STYLE`, then :func:`finish` it."""

    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        import matplotlib as mpl

        # Only the style's keys are put back afterwards, not the whole rcParams as
        # rc_context does: a first pyplot import inside the block turns on interactive mode
        # for Jupyter's inline backend, and undoing that would hide every later figure.
        before = {key: mpl.rcParams[key] for key in STYLE}
        mpl.rcParams.update(STYLE)
        try:
            result = function(*args, **kwargs)
            for fig in _figures(result):
                finish(fig)
        finally:
            mpl.rcParams.update(before)
        return result

    return wrapper
