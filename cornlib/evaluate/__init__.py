"""Judging models: :mod:`cornlib.evaluate.resample` (the one bootstrap engine: resamples,
intervals, paired differences, verdicts), :mod:`cornlib.evaluate.metrics` (every score the book
reports, with bootstrap intervals), :mod:`cornlib.evaluate.mlm` (masked-token prediction against
its baselines), :mod:`cornlib.evaluate.hidden_bins` (the hybrid's masked-bin pretraining against
composition on held-out clusters) and :mod:`cornlib.evaluate.runs` (a run directory's models scored beside the
baselines)."""
