"""A regressor on a pretrained encoder: the masked LM's weights kept, its prediction head
swapped for a fresh regression head, and the load checked key by key."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Any, Iterator


def regressor_from_mlm(path: str | os.PathLike, **config: Any) -> tuple[Any, dict[str, list]]:
    """Load the encoder of a saved cornlib masked LM into its regressor class.

    Args:
        path: a folder written by masked-LM pretraining (``…/pretrain/model``).
        **config: regressor config fields (``n_targets``/``num_labels``, ``target_names``,
            ``target_mean``, ``target_std``, ``target_transform``, dropout, ...).

    Returns:
        The model and its load report: ``missing`` (fresh head weights) and ``unexpected``
        (the dropped masked-LM head), both restricted to head parameters.

    Raises:
        FileNotFoundError: no ``config.json``.
        ValueError: not a cornlib masked LM, or encoder weights missing from the checkpoint.
    """
    import cornlib.models  # noqa: F401  (registers the Auto classes)
    from cornlib.models import kinds
    from cornlib.models.cornbert import ATTN_IMPLEMENTATION

    path = Path(path)
    _, kind = kinds.read_config(
        path, accept=kinds.MASKED_LMS, wanted="a cornlib masked LM", weights=False,
        advice="the folder of a pretrained masked LM (e.g. <run_dir>/finetune/pretrain/model)")
    # the load report is returned, so transformers' printed copy of it is silenced
    if kind.name != "cornbert":
        with _quiet_load():
            model, info = kind.regressor.from_pretrained(path, output_loading_info=True,
                                                         **config)
        heads = ("head.",)
    else:
        config.setdefault("num_labels", config.get("n_targets", 1))
        config.pop("n_targets", None)
        with _quiet_load():
            model, info = kind.regressor.from_pretrained(
                path, output_loading_info=True, attn_implementation=ATTN_IMPLEMENTATION,
                **config)
        heads = ("head.", "lm_head.")
    report = {k: sorted(info.get(k, [])) for k in ("missing_keys", "unexpected_keys")}
    stray = [k for k in report["missing_keys"] if not k.startswith(heads)]
    if stray:
        raise ValueError(f"{path}: encoder weights missing from the checkpoint: {stray[:5]}")
    return model, {"missing": report["missing_keys"], "unexpected": report["unexpected_keys"]}


@contextlib.contextmanager
def _quiet_load() -> Iterator[None]:
    """Hide transformers' warnings (its printed load report) inside the block, then restore."""
    from transformers.utils import logging as hf_logging

    level = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()
    try:
        yield
    finally:
        hf_logging.set_verbosity(level)
