"""Judging models: :mod:`cornlib.evaluate.metrics` (every score the book reports, with bootstrap
intervals) and :mod:`cornlib.evaluate.mlm` (masked-token prediction against its baselines)."""
