"""Figures the notebooks show, one module per chapter topic; each function returns ``fig, ax``."""
