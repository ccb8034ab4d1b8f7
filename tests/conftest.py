"""Shared test settings: offline Hugging Face, a private download/index cache."""

import os

import numpy as np
import pytest

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ.setdefault("MPLBACKEND", "Agg")


@pytest.fixture(scope="session")
def tok():
    """A tiny byte-level BPE tokenizer trained on random DNA (vocabulary 60 + specials)."""
    from cornlib import tokenize

    rng = np.random.default_rng(0)
    seqs = ["".join(rng.choice(list("ACGT"), 300)) for _ in range(40)]
    return tokenize.train_bpe(seqs, vocab_size=60, model_max_length=64)


@pytest.fixture(scope="session")
def tiny_run_dir(tmp_path_factory):
    """The run directory the notebooks of the tiny profile execute into (test_notebooks.py),
    shared with the tests that read the executed notebooks (test_rendered.py)."""
    return tmp_path_factory.mktemp("run_tiny")
