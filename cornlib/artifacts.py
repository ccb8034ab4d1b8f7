"""The run directory's artifacts: which chapter writes each file, in one place.

Errors about a missing input name the producing chapter from here, so renumbering the book
means editing nothing but ``_toc.yml`` and the notebook file names: chapters are registered by
topic (``promoters``), and the number is read from the notebook file (``02_promoters.md``).
"""

from __future__ import annotations

import os
from pathlib import Path

#: Run-directory path (relative, POSIX) → topic of the chapter that writes it.
ARTIFACTS: dict[str, str] = {
    "targets/expression.parquet": "eda",
    "targets/card.json": "eda",
    "targets/truth_sites.parquet": "eda",
    "targets/signal.parquet": "eda",
    "targets/proxy.parquet": "eda",
    "promoters.parquet": "promoters",
    "promoters.fa": "promoters",
    "promoters_report.json": "promoters",
    "split.parquet": "split",
    "split/clusters.parquet": "split",
    "baselines": "baselines",
    "corpus.parquet": "tokenizer",
    "tokenizer": "tokenizer",
    "tokenizer_report.json": "tokenizer",
    "pretrain/model": "pretrain",
    "pretrain/metrics.json": "pretrain",
    "finetune/pretrain/model": "finetune",
    "finetune/pretrained/model": "finetune",
    "finetune/runs.parquet": "finetune",
    "finetune/random_init/model": "finetune",
    "finetune/probe/model": "finetune",
    "finetune/from_*/model": "finetune",
    "finetune/*/valid_r2.parquet": "finetune",
    "importance/recovery.json": "importance",
    "importance/profile.json": "importance",
    "importance/motifs.json": "importance",
    "variants/separation.json": "variants",
}


def chapter(topic: str) -> str:
    """The notebook stem of a topic (``promoters`` → ``02_promoters``), or the topic itself."""
    from cornlib.paths import REPO_ROOT

    found = sorted((REPO_ROOT / "notebooks").glob(f"[0-9][0-9]_{topic}.md"))
    return found[0].stem if found else topic


def producer(name: str) -> str:
    """The notebook stem that writes the artifact ``name`` (a key of :data:`ARTIFACTS`)."""
    name = Path(name).as_posix()
    if name not in ARTIFACTS:
        raise KeyError(f"{name!r} is not a registered run-directory artifact "
                       f"(known: {', '.join(sorted(ARTIFACTS))})")
    return chapter(ARTIFACTS[name])


def how_to_make(name: str) -> str:
    """``make it with notebooks/NN_topic.md (python -m cornlib.run --only NN)``."""
    stem = producer(name)
    return (f"make it with notebooks/{stem}.md "
            f"(python -m cornlib.run --profile small --only {stem.split('_')[0]})")


def path(run_dir: str | os.PathLike, name: str) -> Path:
    """``run_dir / name``, or ``FileNotFoundError`` naming the chapter that writes it."""
    p = Path(run_dir) / name
    if not p.exists():
        raise FileNotFoundError(f"no {name} in {run_dir}; {how_to_make(name)}")
    return p
