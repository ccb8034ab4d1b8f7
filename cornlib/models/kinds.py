"""Which cornlib model is which: the one place that tells the CNN, the hybrid transformer and the
BPE transformer apart, and the one reader of a saved model folder's ``config.json``.

Everything else asks :func:`kind_of` (a model, a config or a ``config.json`` dict) for a
:class:`Kind` (what the model reads, its classes) instead of testing classes or
attributes, and reads saved folders with :func:`read_config`, whose errors name the folder and
what it holds (a masked LM where a regressor is wanted, a foreign model by its ``model_type``).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Collection

from cornlib.models import cnn, cornbert, hybrid


@dataclass(frozen=True)
class Kind:
    """One family of cornlib models.

    Attributes:
        name: ``"cnn"``, ``"hybrid"`` or ``"cornbert"``.
        model_type: the ``model_type`` of its config (``config.json``).
        inputs: ``"bases"`` (base codes, ``config.seq_length`` of them) or ``"tokens"`` (BPE
            tokens, at most ``config.max_tokens``; the model needs its tokenizer).
        regressor: its expression-model class.
        masked_lm: its masked-LM class (``None``: it is not pretrained).
    """

    name: str
    model_type: str
    inputs: str
    regressor: type
    masked_lm: type | None

    def width(self, config: Any) -> int:
        """The most bases (``"bases"``) or tokens (``"tokens"``) a model of ``config`` reads."""
        return int(config.seq_length if self.inputs == "bases" else config.max_tokens)


#: Every cornlib model family.
KINDS = (
    Kind("cnn", cnn.MODEL_TYPE, "bases", cnn.PromoterCNN, None),
    Kind("hybrid", hybrid.MODEL_TYPE, "bases", hybrid.CornHybridForRegression,
         hybrid.CornHybridForMaskedLM),
    Kind("cornbert", cornbert.MODEL_TYPE, "tokens", cornbert.CornBertForRegression,
         cornbert.CornBertForMaskedLM),
)
_BY_TYPE = {k.model_type: k for k in KINDS}

#: The class names of the expression models (what :func:`cornlib.models.predictor.load` takes).
REGRESSORS = tuple(k.regressor.__name__ for k in KINDS)
#: The class names of the masked LMs (what fine-tuning starts from).
MASKED_LMS = tuple(k.masked_lm.__name__ for k in KINDS if k.masked_lm is not None)


def kind_of(obj: Any) -> Kind | None:
    """The :class:`Kind` of a model, a config or a ``config.json`` dict (``None``: not cornlib's)."""
    if isinstance(obj, dict):
        model_type = obj.get("model_type")
    else:
        config = getattr(obj, "config", obj)
        model_type = getattr(config, "model_type", None)
    return _BY_TYPE.get(model_type) if isinstance(model_type, str) else None


def read_config(path: str | os.PathLike, *, accept: Collection[str], wanted: str,
                advice: str, weights: bool = True) -> tuple[dict, Kind]:
    """Read a saved model folder's ``config.json`` and check that it holds a model of ``accept``.

    Args:
        path: the folder (written by ``save_pretrained``).
        accept: class names that may be loaded from it (e.g. :data:`REGRESSORS`); a kind with a
            single class (the CNN) is accepted by its ``model_type`` alone.
        wanted: what the caller needs, for the message (``"an expression model"``).
        advice: what to pass instead, for the message (``"the folder of ..."``).
        weights: also require a weights file (``*.safetensors`` or ``*.bin``).

    Returns:
        The config as a dict and the model's :class:`Kind`.

    Raises:
        FileNotFoundError: no ``config.json`` (or no weights), naming the folder.
        ValueError: the folder holds another model, naming its classes (a cornlib model) or its
            ``model_type`` (a foreign model).
    """
    path = Path(path)
    config_file = path / "config.json"
    if not config_file.is_file():
        raise FileNotFoundError(f"{path} holds no config.json: pass {advice}")
    if weights and not any(path.glob("*.safetensors")) and not any(path.glob("*.bin")):
        raise FileNotFoundError(f"{path} holds a config.json but no weights (*.safetensors)")
    try:
        raw = json.loads(config_file.read_text())
    except json.JSONDecodeError as err:
        raise ValueError(f"{config_file} is not valid JSON ({err})") from None
    kind = kind_of(raw)
    arch = list(raw.get("architectures") or [])
    if kind is not None:
        single = kind.masked_lm is None and kind.regressor.__name__ in accept
        if single or set(accept) & set(arch):
            return raw, kind
        what = f"a cornlib {', '.join(arch) or 'model'}"
    else:
        what = f"a foreign model (model_type {raw.get('model_type')!r})"
    raise ValueError(f"{config_file} describes {what}, not {wanted}: pass {advice}")
