"""The run directory's artifacts: which chapter writes each file, in one place.

Errors about a missing input name the producing chapter from here, so renumbering the book
means editing nothing but ``_toc.yml`` and the notebook file names: chapters are registered by
topic (``promoters``), and the number is read from the notebook file (``02_promoters.md``).
"""

from __future__ import annotations

import os
from fnmatch import fnmatchcase
from pathlib import Path

#: Run-directory path (relative, POSIX; ``*`` matches within one folder) → topic of the chapter
#: that writes it. A file inside a registered folder (``baselines/predictions.parquet``) belongs
#: to the folder's chapter.
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
    "baselines/cnn/tissues/model": "baselines",
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
    "finetune/proxy/model": "finetune",
    "finetune/from_*/model": "finetune",
    "finetune/*/valid_r2.parquet": "finetune",
    "importance/recovery.json": "importance",
    "importance/profile.json": "importance",
    "importance/motifs.json": "importance",
    "variants/separation.json": "variants",
    "variants/*.tsv": "variants",
    "evaluate/*.parquet": "evaluate",
    "evaluate/projector": "evaluate",
}


def chapter(topic: str) -> str:
    """The notebook stem of a topic (``promoters`` → ``02_promoters``), or the topic itself."""
    from cornlib.paths import REPO_ROOT

    found = sorted((REPO_ROOT / "notebooks").glob(f"[0-9][0-9]_{topic}.md"))
    return found[0].stem if found else topic


def _matches(name: str, pattern: str) -> bool:
    """``name`` matches ``pattern`` folder by folder (``*`` does not cross a ``/``)."""
    parts, keys = name.split("/"), pattern.split("/")
    return len(parts) == len(keys) and all(map(fnmatchcase, parts, keys))


def producer(name: str) -> str:
    """The notebook stem that writes the artifact ``name``: a key of :data:`ARTIFACTS`, a
    match of one of its patterns, or a file inside one of its folders."""
    name = Path(name).as_posix()
    if name in ARTIFACTS:
        return chapter(ARTIFACTS[name])
    for key, topic in ARTIFACTS.items():
        if "*" in key and _matches(name, key):
            return chapter(topic)
    parents = [p.as_posix() for p in Path(name).parents][:-1]
    for parent in parents:  # nearest first
        if parent in ARTIFACTS:
            return chapter(ARTIFACTS[parent])
    raise KeyError(f"{name!r} is not a registered run-directory artifact "
                   f"(known: {', '.join(sorted(ARTIFACTS))})")


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
