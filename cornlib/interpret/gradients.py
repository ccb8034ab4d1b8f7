"""Gradient attributions through Captum: a cheaper cross-check of mutagenesis.

Models that read bases (the CNN, the hybrid transformer) are differentiated with respect to
their one-hot input ``(B, L, 4)`` (their ``forward(one_hot=...)``). Results are aligned to the
sequence strings like :func:`cornlib.interpret.ism.saturation`: ``(N, L_max, 4, T)``, NaN past
a sequence's end (a promoter shorter than the model's window is padded with N, and those padding
positions are dropped).

Every function takes a :class:`cornlib.models.predictor.TorchPredictor` (or a loaded cornlib
regressor, wrapped with the default window) and reads the bases the predictor reads: its window
(:data:`cornlib.models.predictor.WINDOWS`) decides which end of a long promoter is kept, bases
outside it get NaN. The model's device and mode are restored afterwards.

One-hot gradients carry an arbitrary component along the all-ones direction of each position
(the input can never move there); Majdandzic et al. (2023) remove it by subtracting the mean
over the four bases, :func:`correct`. Integrated gradients from the uniform baseline (0.25 per
base) already give ``g_ref - mean(g)`` per position, the corrected form.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from cornlib.sequence import encode_fixed, normalize_all


def one_hot(sequences: Sequence[str], length: int, align: str = "end") -> np.ndarray:
    """``(N, length, 4)`` float32 one-hot of the sequences, N all zeros; ``align="end"``: the
    TSS (3') ends aligned, as models read them; ``"start"``: aligned like the per-base results
    of this package (position 0 = a sequence's first base, zeros past its end)."""
    codes = encode_fixed(normalize_all(sequences), length=length, align=align)
    return np.eye(5, 4, dtype=np.float32)[codes]


def _forward(model, mean: bool):
    def f(x):
        logits = model(one_hot=x).logits
        return logits.mean(dim=1, keepdim=True) if mean else logits
    return f


def _to_sequences(values: np.ndarray, seqs: list[str], length: int, align: str) -> np.ndarray:
    """Window positions → sequence positions (NaN past each sequence's end and for the bases
    the window leaves out)."""
    out = np.full((len(seqs), max(map(len, seqs)), *values.shape[2:]), np.nan, np.float32)
    for i, s in enumerate(seqs):
        n = min(len(s), length)
        if align == "end":
            out[i, len(s) - n: len(s)] = values[i, length - n:]
        else:
            out[i, :n] = values[i, :n]
    return out


def _predictor(model, inputs: str, tokenizer=None):
    """The predictor of ``model`` (a predictor, or a cornlib regressor to wrap), checked to read
    ``inputs``."""
    from cornlib.models import predictor

    p = predictor.as_predictor(model, tokenizer)
    kind = getattr(p, "kind", None)
    if kind is None or kind.inputs != inputs:
        other = ("token_attributions (a model that reads tokens)" if inputs == "bases"
                 else "gradients or integrated_gradients (a model that reads bases)")
        name = type(getattr(p, "model", p)).__name__
        raise ValueError(f"{name} does not read {inputs}: use {other}")
    return p


def _attribute(method, model, sequences: Sequence[str], targets: Sequence[int] | str | None,
               batch_size: int, device: str, **kw) -> np.ndarray:
    import torch

    from cornlib.models import predictor
    from cornlib.models.state import preserve_state
    from cornlib.runtime import resolve_device

    p = _predictor(model, "bases")
    seqs = normalize_all(sequences)
    length = int(p.config.seq_length)
    align = predictor.align(p.window)
    dev = torch.device(resolve_device(device))
    x_all = one_hot(seqs, length, align)
    mean = isinstance(targets, str)
    if mean and targets != "mean":
        raise ValueError(f"targets must be indices, None (all) or 'mean', not {targets!r}")
    targets = ([0] if mean else list(range(p.config.n_targets)) if targets is None
               else list(targets))
    out = np.zeros((len(seqs), length, 4, len(targets)), np.float32)
    with preserve_state(p.model, device) as net:
        explainer = method(_forward(net, mean))
        for start in range(0, len(seqs), batch_size):
            x = torch.from_numpy(x_all[start:start + batch_size]).to(dev).requires_grad_()
            for j, t in enumerate(targets):
                a = explainer.attribute(x, target=int(t), **kw)
                out[start:start + len(x), :, :, j] = a.detach().float().cpu().numpy()
    return _to_sequences(out, seqs, length, align)


def gradients(model, sequences: Sequence[str], *, targets: Sequence[int] | str | None = None,
              batch_size: int = 32, device: str = "auto") -> np.ndarray:
    """d(prediction of each target) / d(one-hot input), ``(N, L_max, 4, T)`` (Captum
    ``Saliency`` without the absolute value). ``model``: a predictor (its window is kept) or
    a cornlib regressor that reads bases; ``targets``: indices, ``None`` (all) or ``"mean"``
    (the mean over targets: one pass, ``T = 1``)."""
    from captum.attr import Saliency

    return _attribute(Saliency, model, sequences, targets, batch_size, device, abs=False)


def integrated_gradients(model, sequences: Sequence[str], *,
                         targets: Sequence[int] | str | None = None,
                         n_steps: int = 16, batch_size: int = 16,
                         device: str = "auto") -> np.ndarray:
    """Integrated gradients from the uniform baseline (0.25 per base), ``(N, L_max, 4, T)``
    per-base attributions; a position's score is their sum over the four bases (the path mean
    of ``g_ref - mean(g)``: already corrected)."""
    from captum.attr import IntegratedGradients

    return _attribute(IntegratedGradients, model, sequences, targets, batch_size, device,
                      baselines=0.25, n_steps=n_steps, internal_batch_size=batch_size * n_steps)


def correct(grad: np.ndarray) -> np.ndarray:
    """Majdandzic et al.'s correction: subtract each position's mean over the four bases."""
    return grad - grad.mean(axis=2, keepdims=True)


def times_input(grad: np.ndarray, sequences: Sequence[str]) -> np.ndarray:
    """Gradient × input: the gradient at each position's observed base, ``(N, L_max, T)``
    (0 at N, NaN past the end)."""
    seqs = normalize_all(sequences)
    mask = np.zeros(grad.shape[:3], np.float32)
    for i, s in enumerate(seqs):
        mask[i, :len(s)] = np.eye(5, 4, dtype=np.float32)[encode_fixed([s], len(s))[0]]
    out = (grad * mask[..., None]).sum(axis=2)
    for i, s in enumerate(seqs):
        out[i, len(s):] = np.nan
    return out


def token_attributions(model, tokenizer, sequences: Sequence[str], *,
                       targets: Sequence[int] | None = None, n_steps: int = 0,
                       device: str = "auto") -> np.ndarray:
    """Attributions of a BPE transformer (FloraBERT's design) on its token embeddings, spread
    over the bases each token covers: ``(N, L_max, T)``, NaN past a sequence's end.

    Each token's score is gradient × embedding summed over the embedding dimensions
    (``n_steps = 0``; Captum ``LayerGradientXActivation``) or integrated gradients from the
    padding token's embedding (``n_steps > 0``; ``LayerIntegratedGradients``); a token of ``k``
    bases gives each of them ``score / k``, so a sequence's per-base scores add up to its
    tokens' scores. ``model``: a predictor (``tokenizer`` may then be ``None``: the
    predictor's) or a regressor with its ``tokenizer``. Sequences longer than the model's window
    keep the end the predictor keeps (the TSS end by default; bases left out get NaN).
    """
    import torch

    from cornlib.models import predictor
    from cornlib.models.state import preserve_state
    from cornlib.runtime import resolve_device

    p = _predictor(model, "tokens", tokenizer)
    tokenizer = p.tokenizer
    seqs = normalize_all(sequences)
    dev = torch.device(resolve_device(device))
    enc = predictor.tokens_encoder(tokenizer, p.max_length, p.window, offsets=True)(seqs)
    ids, mask = enc["input_ids"].to(dev), enc["attention_mask"].to(dev)
    offsets = enc["offset_mapping"].numpy()
    with preserve_state(p.model, device) as net:
        scores = _token_scores(net, tokenizer.pad_token_id, ids, mask, targets, n_steps)
    out = np.full((len(seqs), max(map(len, seqs)), scores.shape[-1]), np.nan, np.float32)
    for i, s in enumerate(seqs):
        covered = np.zeros(len(s), bool)
        out[i, :len(s)] = 0.0
        for (a, b), score in zip(offsets[i], scores[i]):
            if b > a:
                out[i, a:b] += score / (b - a)
                covered[a:b] = True
        out[i, :len(s)][~covered] = np.nan
    return out


def _token_scores(model, pad_id: int, ids, mask, targets: Sequence[int] | None,
                  n_steps: int) -> np.ndarray:
    """Per-token scores ``(N, tokens, T)`` of :func:`token_attributions`."""
    import torch
    from captum.attr import LayerGradientXActivation, LayerIntegratedGradients

    def forward(input_ids, attention_mask):
        return model(input_ids=input_ids, attention_mask=attention_mask).logits

    layer = model.get_input_embeddings()
    targets = list(range(model.config.num_labels)) if targets is None else list(targets)
    scores = np.zeros((*ids.shape, len(targets)), np.float32)
    for j, t in enumerate(targets):
        if n_steps:
            base = torch.where(mask.bool(), torch.full_like(ids, pad_id), ids)
            a = LayerIntegratedGradients(forward, layer).attribute(
                ids, baselines=base, additional_forward_args=(mask,), target=t,
                n_steps=n_steps)
        else:
            a = LayerGradientXActivation(forward, layer).attribute(
                ids, additional_forward_args=(mask,), target=t)
        scores[..., j] = a.sum(-1).detach().float().cpu().numpy()
    return scores
