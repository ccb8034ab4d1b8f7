"""Helpers shared by the figure modules: the tissue columns of an expression table, and a note
drawn in place of a figure that has nothing to show."""

from __future__ import annotations

import pandas as pd


def tissue_columns(expression: pd.DataFrame) -> list[str]:
    """The tissue columns of an expression table (every column but ``gene_id``)."""
    tissues = [c for c in expression.columns if c != "gene_id"]
    if not tissues:
        raise ValueError("the expression table has no tissue columns besides gene_id")
    return tissues


def placeholder(text: str, figsize=(6, 2)):
    """A figure holding only ``text``, for data that has nothing to draw; returns ``fig, ax``."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=figsize)
    ax.text(0.5, 0.5, text, ha="center", va="center", wrap=True)
    ax.set_axis_off()
    return fig, ax
