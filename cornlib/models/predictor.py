"""Any trained model of the book as one thing: DNA strings in, a genes × targets table out.

Evaluation, ``cornlib predict``, importance and variant scoring all call :func:`predict` (or a
:class:`Predictor`'s ``predict``), with one signature in the spirit of tangermeme's
``(model, X, …, batch_size, device)``: sequences are checked first, batched in order of length
(so little padding), run without gradients on the chosen device, and returned in the input
order, in the units the model was trained on.

Window policy: promoters run 5'→3' and end at the TSS. A sequence longer than the model's window
keeps the bases nearest the TSS (``window="tss"``, the default: the 3' end) or the 5' end
(``window="start"``); shorter ones are padded (the CNN) or simply shorter (the transformer).
The policy is defined once, :mod:`cornlib.sequence.windows` (``WINDOWS``, ``align``, re-exported
here); gradients (:mod:`cornlib.interpret.gradients`) read a predictor's window and keep the
same bases.

One inference loop: :meth:`TorchPredictor.apply` runs any per-batch function of the model
(its predictions by default, the embeddings of :mod:`cornlib.evaluate.embeddings`, ...) over
batches of similar length, on the chosen device, and leaves the model's device and mode as it
found them (:func:`cornlib.models.state.preserve_state`).
"""

from __future__ import annotations

import os
from typing import Any, Callable, Sequence

import numpy as np
import pandas as pd

from cornlib.models import kinds
from cornlib.models.state import preserve_state
from cornlib.models.targets import target_names
from cornlib.sequence import encode_fixed, normalize_all
from cornlib.sequence.windows import WINDOWS, align  # noqa: F401  (WINDOWS re-exported)


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
    """A tqdm bar over batches: shown when asked (default: more than 10 batches), at a terminal
    or in Jupyter, and never while ``TQDM_DISABLE`` is set (the book's builds run with
    ``TQDM_DISABLE=1``). ``disable`` is only ever passed as ``True``: an explicit ``False``
    would override tqdm's own reading of ``TQDM_*`` settings; and tqdm reads the environment
    when it is imported, so the variable is read here, at each call, too."""
    from tqdm.auto import tqdm

    show = n_batches > 10 if progress is None else progress
    off = {} if show and not os.environ.get("TQDM_DISABLE") else {"disable": True}
    return tqdm(total=n_batches, desc="predict", unit="batch", leave=False, **off)


def _logits(model, batch: dict):
    return model(**batch).logits


class TorchPredictor(Predictor):
    """A Hugging Face model whose ``logits`` are the targets, behind an input encoder.

    Args:
        model: a ``PreTrainedModel`` returning ``logits`` (B, T).
        encode: list of normalized sequences → dict of tensors for ``model(**batch)``.
        max_length: recorded for users (``None`` if any length is read).
        window: the end ``encode`` keeps of a long sequence (one of :data:`WINDOWS`).
        tokenizer: the tokenizer of a model that reads tokens.

    Attributes:
        kind: the model's :class:`cornlib.models.kinds.Kind` (``None`` for a model that is not
            cornlib's); ``kind.inputs`` says whether it reads bases or tokens.
    """

    def __init__(self, model, encode: Callable[[list[str]], dict], *,
                 max_length: int | None = None, window: str = "tss", tokenizer=None):
        align(window)
        self.model = model
        self.encode = encode
        self.targets = target_names(model.config)
        self.max_length = max_length
        self.units = getattr(model.config, "target_transform", None)
        self.config = model.config
        self.window = window
        self.tokenizer = tokenizer
        self.kind = kinds.kind_of(model)

    def apply(self, sequences: Sequence[str], func: Callable | None = None,
              ids: Sequence[Any] | None = None, *, batch_size: int = 64, device: str = "auto",
              progress: bool | None = None) -> np.ndarray:
        """Run ``func(model, batch)`` on batches of the encoded sequences; its outputs, one row
        per sequence, in the input order.

        The one inference loop of the package (in the spirit of tangermeme's
        ``predict(func=...)``): sequences are checked, batched by length, encoded, moved to the
        device and run without gradients, with the model in evaluation mode; its device and
        mode are restored afterwards.

        Args:
            sequences, ids, batch_size, device, progress: as in :meth:`Predictor.predict`.
            func: ``(model, batch) → tensor`` with one row per sequence of the batch (``batch``:
                the encoder's dict, on the device); default: the model's ``logits``.

        Returns:
            float32 array ``(n_sequences, ...)``.
        """
        seqs, _ = _check_inputs(sequences, ids)
        return self._run(seqs, func or _logits, batch_size=batch_size, device=device,
                         progress=progress)

    def _predict(self, seqs: list[str], *, batch_size: int, device: str,
                 progress: bool | None) -> np.ndarray:
        return self._run(seqs, _logits, batch_size=batch_size, device=device,
                         progress=progress)

    def _run(self, seqs: list[str], func: Callable, *, batch_size: int, device: str,
             progress: bool | None) -> np.ndarray:
        import torch

        from cornlib.runtime import resolve_device

        dev = torch.device(resolve_device(device))
        out = None
        batches = _batches(np.fromiter(map(len, seqs), np.int64, len(seqs)), batch_size)
        with (preserve_state(self.model, device) as model, _bar(len(batches), progress) as bar,
              torch.inference_mode()):
            for rows in batches:
                batch = self.encode([seqs[i] for i in rows])
                batch = {k: v.to(dev) for k, v in batch.items()}
                values = func(model, batch).float().cpu().numpy()
                if out is None:
                    out = np.zeros((len(seqs), *values.shape[1:]), dtype=np.float32)
                out[rows] = values
                bar.update()
        return out


def bases_encoder(seq_length: int, window: str = "tss") -> Callable[[list[str]], dict]:
    """Encoder for models that read base codes of a fixed width (the CNN)."""
    import torch

    end = align(window)

    def encode(seqs: list[str]) -> dict:
        codes = encode_fixed(seqs, length=seq_length, align=end)
        return {"input_ids": torch.from_numpy(codes.astype(np.int64))}

    return encode


def tokens_encoder(tokenizer, max_tokens: int, window: str = "tss", *,
                   offsets: bool = False) -> Callable[[list[str]], dict]:
    """Encoder for models that read tokens: the window's end is kept when truncating (the TSS
    end by default); ``offsets`` adds each token's ``offset_mapping`` (bases it covers)."""
    side = "left" if align(window) == "end" else "right"
    keys = ("input_ids", "attention_mask") + (("offset_mapping",) if offsets else ())
    extra = {"return_offsets_mapping": True} if offsets else {}

    def encode(seqs: list[str]) -> dict:
        old = tokenizer.truncation_side
        tokenizer.truncation_side = side
        try:
            enc = tokenizer(seqs, truncation=True, max_length=max_tokens, padding=True,
                            return_tensors="pt", **extra)
        finally:
            tokenizer.truncation_side = old
        return {k: enc[k] for k in keys}

    return encode


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
    kind = kinds.kind_of(model)
    if kind is None or not isinstance(model, kind.regressor):
        raise ValueError(f"{type(model).__name__} is not a cornlib expression model "
                         "(PromoterCNN, CornHybridForRegression or CornBertForRegression)")
    length = kind.width(model.config)
    if kind.inputs == "bases":
        return TorchPredictor(model, bases_encoder(length, window), max_length=length,
                              window=window)
    if tokenizer is None:
        raise ValueError("a transformer regressor needs its tokenizer")
    return TorchPredictor(model, tokens_encoder(tokenizer, length, window), max_length=length,
                          window=window, tokenizer=tokenizer)


def load(path: str | os.PathLike, *, window: str = "tss") -> TorchPredictor:
    """Load a saved expression model folder (CNN or fine-tuned transformer) as a predictor.

    Raises:
        FileNotFoundError: ``path`` holds no ``config.json`` or no weights, or a transformer
            folder holds no tokenizer.
        ValueError: the folder holds another kind of model (a masked LM, a foreign model),
            naming what it found.
    """
    import cornlib.models  # noqa: F401  (registers the Auto classes)

    _, kind = kinds.read_config(
        path, accept=kinds.REGRESSORS, wanted="an expression model",
        advice="the folder of a fine-tuned transformer (CornHybridForRegression, "
               "CornBertForRegression) or of the CNN baseline, written by save_pretrained "
               "(e.g. <run_dir>/finetune/<run>/model)")
    if kind.inputs == "bases":
        return from_model(kind.regressor.from_pretrained(path), window=window)
    from cornlib import tokenize
    from cornlib.models.cornbert import ATTN_IMPLEMENTATION

    model = kind.regressor.from_pretrained(path, attn_implementation=ATTN_IMPLEMENTATION)
    return from_model(model, tokenize.load(path), window=window)


def as_predictor(model, tokenizer=None, *, window: str | None = None) -> Predictor:
    """A :class:`Predictor` from what a caller holds: a predictor as it is, a saved model folder
    loaded (:func:`load`), a loaded cornlib regressor wrapped (:func:`from_model`, with its
    ``tokenizer`` if it reads tokens).

    Args:
        window: the window of a predictor made here (default ``"tss"``); given with a
            predictor, it must be that predictor's.
    """
    if isinstance(model, Predictor):
        own = getattr(model, "window", None)
        if window is not None and own is not None and window != own:
            raise ValueError(f"this predictor keeps the {own!r} window, not {window!r}: "
                             "load the model again with the window wanted")
        return model
    if isinstance(model, (str, os.PathLike)):
        return load(model, window=window or "tss")
    return from_model(model, tokenizer, window=window or "tss")


def predict(model: Predictor | str | os.PathLike, sequences: Sequence[str],
            ids: Sequence[Any] | None = None, *, batch_size: int = 64, device: str = "auto",
            progress: bool | None = None) -> pd.DataFrame:
    """Predict with a :class:`Predictor` or a saved model folder (see :meth:`Predictor.predict`)."""
    return as_predictor(model).predict(sequences, ids, batch_size=batch_size, device=device,
                                       progress=progress)
