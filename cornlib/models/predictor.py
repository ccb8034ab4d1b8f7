"""Any trained model of the book as one thing: DNA strings in, a genes × targets table out.

Evaluation, ``cornlib predict``, importance and variant scoring all call :func:`predict` (or a
:class:`Predictor`'s ``predict``), with one signature in the spirit of tangermeme's
``(model, X, …, batch_size, device)``: sequences are checked first, batched in order of length
(so little padding), run without gradients on the chosen device, and returned in the input
order, in the units the model was trained on.

Window policy: promoters run 5'→3' and end at the TSS. A sequence longer than the model's window
keeps the bases nearest the TSS (``window="tss"``, the default: the 3' end) or the 5' end
(``window="start"``); shorter ones are padded (the CNN) or simply shorter (the transformer).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import pandas as pd

from cornlib.models.targets import target_names
from cornlib.sequence import encode_fixed, normalize_all

WINDOWS = ("tss", "start")


class Predictor:
    """Base class: ``predict(sequences) → DataFrame`` (rows = sequences, columns = targets).

    Attributes:
        targets: the output columns (tissue names).
        max_length: the longest input the model reads (bases or tokens; ``None``: any).
        units: what the outputs are (``"log1p"``: log(TPM + 1); ``None`` if not recorded).
    """

    targets: list[str]
    max_length: int | None = None
    units: str | None = None

    def predict(self, sequences: Sequence[str], ids: Sequence[Any] | None = None, *,
                batch_size: int = 64, device: str = "auto",
                progress: bool | None = None) -> pd.DataFrame:
        """Predict every target for every sequence.

        Args:
            sequences: DNA strings (any case; IUPAC codes become N).
            ids: row names (default ``0..n-1``); they name sequences in errors too.
            batch_size: sequences per forward pass.
            device: ``auto``, ``cpu`` or ``cuda``.
            progress: show a progress bar (default: for more than 10 batches).

        Raises:
            ValueError: no sequences, a non-DNA letter (naming the id and position), or
                ``ids`` of another length or with duplicates.
        """
        seqs, index = _check_inputs(sequences, ids)
        values = self._predict(seqs, batch_size=batch_size, device=device,
                               progress=progress)
        return pd.DataFrame(values, index=index, columns=self.targets)

    def _predict(self, seqs: list[str], *, batch_size: int, device: str,
                 progress: bool | None) -> np.ndarray:
        raise NotImplementedError


def _check_inputs(sequences: Sequence[str], ids: Sequence[Any] | None
                  ) -> tuple[list[str], pd.Index]:
    if isinstance(sequences, str):
        raise ValueError("pass a list of sequences, not one string")
    sequences = list(sequences)
    if not sequences:
        raise ValueError("no sequences to predict")
    index = pd.Index(range(len(sequences)) if ids is None else list(ids), name="seq_id")
    if len(index) != len(sequences):
        raise ValueError(f"{len(sequences)} sequences but {len(index)} ids")
    if index.has_duplicates:
        dup = index[index.duplicated()].unique()[:5].tolist()
        raise ValueError(f"duplicate sequence ids: {dup}")
    return normalize_all(sequences, index), index


def _batches(lengths: np.ndarray, batch_size: int) -> list[np.ndarray]:
    """Row indices grouped into batches of similar length (longest first)."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be positive, got {batch_size}")
    order = np.argsort(-lengths, kind="stable")
    return [order[i:i + batch_size] for i in range(0, len(order), batch_size)]


def _bar(n_batches: int, progress: bool | None):
    from tqdm.auto import tqdm

    show = n_batches > 10 if progress is None else progress
    return tqdm(total=n_batches, desc="predict", unit="batch", disable=not show, leave=False)


class TorchPredictor(Predictor):
    """A Hugging Face model whose ``logits`` are the targets, behind an input encoder.

    Args:
        model: a ``PreTrainedModel`` returning ``logits`` (B, T).
        encode: list of normalized sequences → dict of tensors for ``model(**batch)``.
        max_length: recorded for users (``None`` if any length is read).
    """

    def __init__(self, model, encode: Callable[[list[str]], dict], *,
                 max_length: int | None = None):
        self.model = model
        self.encode = encode
        self.targets = target_names(model.config)
        self.max_length = max_length
        self.units = getattr(model.config, "target_transform", None)
        self.config = model.config

    def _predict(self, seqs: list[str], *, batch_size: int, device: str,
                 progress: bool | None) -> np.ndarray:
        import torch

        from cornlib.runtime import resolve_device

        dev = torch.device(resolve_device(device))
        model = self.model.to(dev).eval()
        out = np.zeros((len(seqs), len(self.targets)), dtype=np.float32)
        batches = _batches(np.fromiter(map(len, seqs), np.int64, len(seqs)), batch_size)
        with _bar(len(batches), progress) as bar, torch.inference_mode():
            for rows in batches:
                batch = self.encode([seqs[i] for i in rows])
                batch = {k: v.to(dev) for k, v in batch.items()}
                out[rows] = model(**batch).logits.float().cpu().numpy()
                bar.update()
        return out


def bases_encoder(seq_length: int, window: str = "tss") -> Callable[[list[str]], dict]:
    """Encoder for models that read base codes of a fixed width (the CNN)."""
    import torch

    align = _align(window)

    def encode(seqs: list[str]) -> dict:
        codes = encode_fixed(seqs, length=seq_length, align=align)
        return {"input_ids": torch.from_numpy(codes.astype(np.int64))}

    return encode


def tokens_encoder(tokenizer, max_tokens: int, window: str = "tss"
                   ) -> Callable[[list[str]], dict]:
    """Encoder for models that read tokens: the TSS end is kept when truncating."""
    side = "left" if _align(window) == "end" else "right"

    def encode(seqs: list[str]) -> dict:
        old = tokenizer.truncation_side
        tokenizer.truncation_side = side
        try:
            enc = tokenizer(seqs, truncation=True, max_length=max_tokens, padding=True,
                            return_tensors="pt")
        finally:
            tokenizer.truncation_side = old
        return {"input_ids": enc["input_ids"], "attention_mask": enc["attention_mask"]}

    return encode


def _align(window: str) -> str:
    if window not in WINDOWS:
        raise ValueError(f"window must be one of {WINDOWS}, not {window!r}")
    return "end" if window == "tss" else "start"


class SklearnPredictor(Predictor):
    """A fitted scikit-learn estimator (or pipeline) that predicts from sequences.

    Args:
        estimator: has ``predict(sequences)`` (e.g. ``featurize → ridge`` pipelines of
            :mod:`cornlib.baselines`).
        targets: its output columns.
    """

    def __init__(self, estimator, targets: Sequence[str]):
        self.estimator = estimator
        self.targets = list(targets)

    def _predict(self, seqs: list[str], *, batch_size: int, device: str,
                 progress: bool | None) -> np.ndarray:
        batches = _batches(np.arange(len(seqs)), max(batch_size, 1024))
        out = np.zeros((len(seqs), len(self.targets)))
        with _bar(len(batches), progress) as bar:
            for rows in batches:
                pred = self.estimator.predict([seqs[i] for i in rows])
                out[rows] = np.asarray(pred, dtype=float).reshape(len(rows), -1)
                bar.update()
        return out


def from_model(model, tokenizer=None, *, window: str = "tss") -> TorchPredictor:
    """Wrap a loaded cornlib regressor (CNN, or transformer with its ``tokenizer``)."""
    from cornlib.models.cnn import PromoterCNN
    from cornlib.models.cornbert import CornBertForRegression
    from cornlib.models.hybrid import CornHybridForRegression

    if isinstance(model, (PromoterCNN, CornHybridForRegression)):
        length = int(model.config.seq_length)
        return TorchPredictor(model, bases_encoder(length, window), max_length=length)
    if isinstance(model, CornBertForRegression):
        if tokenizer is None:
            raise ValueError("a transformer regressor needs its tokenizer")
        length = int(model.config.max_tokens)
        return TorchPredictor(model, tokens_encoder(tokenizer, length, window),
                              max_length=length)
    raise ValueError(f"{type(model).__name__} is not a cornlib expression model "
                     "(PromoterCNN, CornHybridForRegression or CornBertForRegression)")


def load(path: str | os.PathLike, *, window: str = "tss") -> TorchPredictor:
    """Load a saved expression model folder (CNN or fine-tuned transformer) as a predictor.

    Raises:
        FileNotFoundError: ``path`` holds no ``config.json`` or no weights, or a transformer
            folder holds no tokenizer.
        ValueError: the folder holds another kind of model (a masked LM, a foreign model),
            naming what it found.
    """
    import cornlib.models  # noqa: F401  (registers the Auto classes)
    from cornlib.models.cnn import MODEL_TYPE as CNN_TYPE
    from cornlib.models.cornbert import MODEL_TYPE as BERT_TYPE
    from cornlib.models.hybrid import MODEL_TYPE as HYBRID_TYPE

    path = Path(path)
    config_file = path / "config.json"
    if not config_file.is_file():
        raise FileNotFoundError(f"{path} holds no config.json: pass a model folder written by "
                                "save_pretrained (e.g. <run_dir>/finetune/model)")
    if not any(path.glob("*.safetensors")) and not any(path.glob("*.bin")):
        raise FileNotFoundError(f"{path} holds a config.json but no weights (*.safetensors)")
    raw = json.loads(config_file.read_text())
    kind, arch = raw.get("model_type"), raw.get("architectures") or []
    if kind == CNN_TYPE:
        from cornlib.models.cnn import PromoterCNN

        return from_model(PromoterCNN.from_pretrained(path), window=window)
    if kind == HYBRID_TYPE and "CornHybridForRegression" in arch:
        from cornlib.models.hybrid import CornHybridForRegression

        return from_model(CornHybridForRegression.from_pretrained(path), window=window)
    if kind == BERT_TYPE and "CornBertForRegression" in arch:
        from cornlib import tokenize
        from cornlib.models.cornbert import ATTN_IMPLEMENTATION, CornBertForRegression

        model = CornBertForRegression.from_pretrained(path,
                                                      attn_implementation=ATTN_IMPLEMENTATION)
        return from_model(model, tokenize.load(path), window=window)
    what = (f"a cornlib {', '.join(arch) or 'model'}" if kind in (BERT_TYPE, HYBRID_TYPE)
            else f"a model of type {kind!r}")
    raise ValueError(f"{config_file} describes {what}, not an expression model: pass the folder "
                     "of a fine-tuned transformer (CornHybridForRegression, "
                     "CornBertForRegression) or of the CNN baseline")


def predict(model: Predictor | str | os.PathLike, sequences: Sequence[str],
            ids: Sequence[Any] | None = None, *, batch_size: int = 64, device: str = "auto",
            progress: bool | None = None) -> pd.DataFrame:
    """Predict with a :class:`Predictor` or a saved model folder (see :meth:`Predictor.predict`)."""
    if not isinstance(model, Predictor):
        model = load(model)
    return model.predict(sequences, ids, batch_size=batch_size, device=device,
                         progress=progress)
