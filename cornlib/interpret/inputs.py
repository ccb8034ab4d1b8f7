"""What the interpretation chapters read from a run directory, through the artifact registry.

Every file is found with :func:`cornlib.artifacts.path`, so a missing input names the chapter
that writes it. The two models are named as everywhere in chapters 09–10: ``transformer`` (the
fine-tuning run with the best validation R², :func:`cornlib.training.finetune.best_run`) and
``cnn`` (the CNN baseline on the tissues).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pandas as pd

from cornlib import artifacts

#: The CNN baseline's model folder in a run directory.
CNN = "baselines/cnn/tissues/model"


def promoters(run_dir: str | os.PathLike) -> pd.DataFrame:
    """``promoters.parquet`` with the ``split`` of each gene (``split.parquet``)."""
    proms = pd.read_parquet(artifacts.path(run_dir, "promoters.parquet"))
    split = pd.read_parquet(artifacts.path(run_dir, "split.parquet"))
    return proms.merge(split[["gene_id", "split"]])


def truth(run_dir: str | os.PathLike) -> tuple[pd.DataFrame, dict[str, Any]]:
    """The simulation's true sites (``targets/truth_sites.parquet``) and the targets card."""
    from cornlib import io

    sites = pd.read_parquet(artifacts.path(run_dir, "targets/truth_sites.parquet"))
    return sites, io.read_json(artifacts.path(run_dir, "targets/card.json"))


def model_dirs(run_dir: str | os.PathLike) -> tuple[str, dict[str, Path], pd.DataFrame]:
    """The chosen fine-tuning run's name, the folders of ``transformer`` and ``cnn``, and
    every fine-tuning run's best validation R² (one row per run folder)."""
    from cornlib.training.finetune import best_run

    chosen, path, valid_r2 = best_run(Path(run_dir) / "finetune")
    dirs = {"transformer": path, "cnn": artifacts.path(run_dir, CNN)}
    return chosen, dirs, valid_r2.rename_axis("run").to_frame()
