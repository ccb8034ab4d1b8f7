"""Figures the notebooks show, one module per kind of figure; each function returns ``fig, ax``.

- :mod:`~cornlib.plots.distributions`: how one variable is spread (violins, histograms, ECDFs).
- :mod:`~cornlib.plots.per_category`: one number per category, as bars.
- :mod:`~cornlib.plots.along_promoter`: profiles by position relative to the TSS.
- :mod:`~cornlib.plots.heatmaps`: heat maps and clustermaps with a colour bar.
- :mod:`~cornlib.plots.logos`: sequence logos.
- :mod:`~cornlib.plots.curves`: training curves.
- :mod:`~cornlib.plots.scores`: models compared by their scores.
- :mod:`~cornlib.plots.tables`: :func:`~cornlib.plots.tables.show`, the one way a page shows a
  table, and tables shown in place of a figure (these return data frames).
- :mod:`~cornlib.plots.style`: the one look of every figure above (150 dpi, no wider than the
  page, no text under 8 pt); each plot function draws under it.
"""
