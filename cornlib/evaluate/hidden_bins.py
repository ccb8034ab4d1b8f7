"""Has the masked-bin pretraining learned more than composition? The gate before chapter 07
asks whether pretraining helps fine-tuning.

The hybrid encoder (:class:`cornlib.models.hybrid.CornHybridForMaskedLM`) is pretrained by
hiding bins of ``pool`` bases and predicting their bases. Here it is scored on promoters of
whole sequence clusters that pretraining never saw (:func:`heldout_codes`, chapter 06's
:func:`cornlib.training.pretrain.heldout_split`), on the same hidden bins
(:func:`draw_hidden`, the pretraining's own :class:`~cornlib.training.bins.HiddenBinCollator`)
as two predictors that know only composition:

- ``composition``: the base frequencies of the sequence's own visible A/C/G/T bases (add-one
  pseudocount), the same guess at every hidden base of that sequence;
- ``markov``: a Markov chain of order k fitted on the training sequences
  (:class:`cornlib.models.markov.MarkovModel`), which predicts each hidden base from the visible
  bases just before the run of hidden bins it lies in
  (:meth:`~cornlib.models.markov.MarkovModel.base_marginals`: the chain run forward over every
  letter the hidden positions could hold), never from a hidden base. The model also sees the
  bases after the run; the chain does not.

All three give one distribution over A/C/G/T per hidden base (the model's bases of a bin are
predicted independently too), so they are compared on **bits per base**: −log₂ P(true base)
summed over the hidden A/C/G/T bases and divided by their number (2 bits is a uniform guess).
Intervals resample held-out clusters (:mod:`cornlib.evaluate.resample`); the model passes the
gate (:func:`passes`) when it needs fewer bits per base than both, with paired intervals below
zero.

Coordinates: a sequence's window is the last ``n_bins * pool`` codes of its row (what the model
reads); ``position`` is the 0-based column of a base in the row of ``codes``.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
import pandas as pd

from cornlib.evaluate import resample
from cornlib.sequence import N_CODE, decode

LOG2 = math.log(2.0)

#: The predictors, in table order.
PREDICTORS: tuple[str, ...] = ("model", "composition", "markov")

#: The paired differences of the gate (model − reference, bits per base), and its references.
DIFFERENCES: dict[str, str] = {"model_minus_composition": "composition",
                               "model_minus_markov": "markov"}


class HeldOutCodes(NamedTuple):
    """The pretraining corpus split by cluster, as base codes.

    ``train`` (n_train, seq_length) and ``heldout`` (n_heldout, seq_length): codes of
    :func:`cornlib.sequence.encode_fixed` (TSS end aligned), in corpus order; ``clusters``: the
    cluster of each held-out row (for resampling); ``parts``: the corpus with ``part``
    (``train``/``heldout``) and ``cluster`` columns, from
    :func:`~cornlib.training.pretrain.heldout_split`.
    """

    train: np.ndarray
    heldout: np.ndarray
    clusters: np.ndarray
    parts: pd.DataFrame


def heldout_codes(corpus: pd.DataFrame, split: pd.DataFrame | pd.Series | None,
                  seq_length: int, *, fraction: float = 0.05, seed: int = 0) -> HeldOutCodes:
    """Hold out whole sequence clusters of the corpus and encode both parts.

    Args:
        corpus: the corpus table (``seq_id, species, source, sequence``).
        split: ``split.parquet`` (``gene_id``, ``cluster_id``) or a Series of cluster ids;
            ``None`` holds out single promoters.
        seq_length: bases per row (the model's ``config.seq_length``).
        fraction: share of each species' promoters to hold out.
        seed: seed of the draw.

    Returns:
        A :class:`HeldOutCodes`; genome windows always stay in ``train``.
    """
    from cornlib.sequence import encode_fixed
    from cornlib.training.pretrain import heldout_split

    parts = heldout_split(corpus, fraction, seed=seed, clusters=split)
    held = (parts["part"] == "heldout").to_numpy()
    train = encode_fixed(parts.loc[~held, "sequence"].tolist(), length=seq_length)
    heldout = encode_fixed(parts.loc[held, "sequence"].tolist(), length=seq_length)
    return HeldOutCodes(train, heldout, parts.loc[held, "cluster"].astype(str).to_numpy(), parts)


def draw_hidden(codes: np.ndarray, pool: int, *, rate: float = 0.15, seed: int = 0) -> np.ndarray:
    """The hidden bins of every row, drawn once by the pretraining's
    :class:`~cornlib.training.bins.HiddenBinCollator` (same rule, same seed), shape
    ``(n, seq_length // pool)`` bool; they do not depend on any batch size."""
    import torch

    from cornlib.training.bins import HiddenBinCollator

    codes = _check_codes(codes)
    if len(codes) == 0:
        return np.zeros((0, codes.shape[1] // pool), bool)
    collate = HiddenBinCollator(codes.shape[1], pool, rate, seed)
    ids = torch.from_numpy(codes.astype(np.int64))
    return collate([{"input_ids": row} for row in ids])["hidden_bins"].numpy()


def predict_hidden(model, codes: np.ndarray, hidden: np.ndarray, *, markov,
                   batch_size: int = 64, device: str | None = None
                   ) -> tuple[pd.DataFrame, dict[str, np.ndarray]]:
    """Every predictor's distribution at every hidden A/C/G/T base.

    Args:
        model: a :class:`~cornlib.models.hybrid.CornHybridForMaskedLM` (run in evaluation mode
            without gradients; its device and mode are restored afterwards).
        codes: base codes ``(n, seq_length)``.
        hidden: hidden bins ``(n, n_bins)`` (:func:`draw_hidden`).
        markov: a fitted :class:`~cornlib.models.markov.MarkovModel`.
        batch_size: sequences per forward pass.
        device: where to run the model (``None``: where it is).

    Returns:
        ``(targets, logp)``: one row per hidden A/C/G/T base (``sequence``, ``position``,
        ``base`` code), by sequence then position; predictor name (:data:`PREDICTORS`) →
        natural log-probabilities of the four bases ``(n_targets, 4)``, rows aligned with
        ``targets``.
    """
    codes = _check_codes(codes)
    config = model.config
    n, p = int(config.n_bins), int(config.pool)
    if codes.shape[1] != int(config.seq_length):
        raise ValueError(f"codes have {codes.shape[1]} columns, the model reads "
                         f"{config.seq_length}; encode with cornlib.sequence.encode_fixed("
                         f"..., length={config.seq_length})")
    hidden = np.asarray(hidden, bool)
    if hidden.shape != (len(codes), n):
        raise ValueError(f"hidden has shape {hidden.shape}, expected {(len(codes), n)} "
                         f"(one flag per bin of {p} bases)")
    offset = codes.shape[1] - n * p
    window = codes[:, offset:]  # what the model reads
    at = np.repeat(hidden, p, axis=1)  # hidden positions of the window
    target = at & (window < N_CODE)
    rows, cols = np.nonzero(target)
    targets = pd.DataFrame({"sequence": rows, "position": cols + offset,
                            "base": window[rows, cols].astype(np.int64)})
    logp = {"model": _model_logp(model, codes, hidden, window, at, batch_size, device),
            "composition": _composition_logp(window, at, target),
            "markov": _markov_logp(markov, window, at, target)}
    return targets, logp


def score(model, codes: np.ndarray, clusters, *, markov, rate: float = 0.15, seed: int = 0,
          batch_size: int = 64, n_bootstrap: int = 1000, ci: float = 0.95,
          ci_method: str = "percentile", device: str | None = None
          ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Score the model, per-sequence composition and a Markov chain on the same hidden bins.

    Args:
        model: a :class:`~cornlib.models.hybrid.CornHybridForMaskedLM`.
        codes: held-out base codes ``(n, seq_length)`` (:func:`heldout_codes`).
        clusters: the cluster of each row; clusters are the resampling units.
        markov: a :class:`~cornlib.models.markov.MarkovModel` fitted on the training sequences.
        rate, seed: the hidden-bin draw (:func:`draw_hidden`); ``seed`` also seeds the
            resamples.
        batch_size, device: of the model's forward passes.
        n_bootstrap, ci, ci_method: resamples, coverage and interval method
            (:func:`cornlib.evaluate.resample.interval`).

    Returns:
        ``(per_sequence, intervals)``. ``per_sequence``: one row per held-out sequence,
        ``sequence``, ``cluster``, ``bases`` (hidden A/C/G/T bases) and ``logp_<predictor>``
        (their summed natural log-probability). ``intervals``: ``metric, value, ci_low,
        ci_high, verdict``: ``<predictor>_bits_per_base`` for each of :data:`PREDICTORS`, then
        the paired differences of :data:`DIFFERENCES` in bits per base (model − reference,
        negative where the model needs fewer bits; the verdict says where the interval lies
        against 0, fewer bits counting as ``better``). A resample's bits per base are its
        summed −log₂ P over its summed bases.
    """
    resample.check_options(ci, ci_method, n_bootstrap)
    codes = _check_codes(codes)
    labels = np.asarray(list(clusters), dtype=object)
    if len(labels) != len(codes):
        raise ValueError(f"clusters has {len(labels)} labels for {len(codes)} held-out rows")
    hidden = draw_hidden(codes, int(model.config.pool), rate=rate, seed=seed)
    targets, logp = predict_hidden(model, codes, hidden, markov=markov,
                                   batch_size=batch_size, device=device)
    rows, base = targets["sequence"].to_numpy(), targets["base"].to_numpy()
    per_sequence = pd.DataFrame({"sequence": np.arange(len(codes)), "cluster": labels,
                                 "bases": np.bincount(rows, minlength=len(codes))})
    for name in PREDICTORS:
        true = logp[name][np.arange(len(base)), base]
        per_sequence[f"logp_{name}"] = np.bincount(rows, weights=true, minlength=len(codes))
    return per_sequence, intervals(per_sequence, n_bootstrap=n_bootstrap, seed=seed, ci=ci,
                                   ci_method=ci_method)


def intervals(per_sequence: pd.DataFrame, *, n_bootstrap: int = 1000, seed: int = 0,
              ci: float = 0.95, ci_method: str = "percentile") -> pd.DataFrame:
    """The interval table of :func:`score` from its per-sequence table (whole clusters
    resampled with :func:`cornlib.evaluate.resample.bootstrap_weights`, the same resamples for
    every predictor)."""
    resample.check_options(ci, ci_method, n_bootstrap)
    weights = resample.bootstrap_weights(len(per_sequence), n_bootstrap, seed,
                                         groups=per_sequence["cluster"].to_numpy())
    bases = per_sequence["bases"].to_numpy(float)
    point, reps = {}, {}
    with np.errstate(invalid="ignore", divide="ignore"):
        for name in PREDICTORS:
            nats = -per_sequence[f"logp_{name}"].to_numpy(float)
            point[name] = nats.sum() / LOG2 / bases.sum()
            reps[name] = (weights @ nats) / LOG2 / (weights @ bases)
    metrics = {f"{name}_bits_per_base": point[name] for name in PREDICTORS}
    replicates = {f"{name}_bits_per_base": reps[name] for name in PREDICTORS}
    for metric, ref in DIFFERENCES.items():
        metrics[metric] = point["model"] - point[ref]
        replicates[metric] = reps["model"] - reps[ref]
    return resample.summarise(metrics, replicates, ci=ci, ci_method=ci_method,
                              null={m: 0.0 for m in DIFFERENCES},
                              higher_is_better={m: False for m in DIFFERENCES})


def passes(table: pd.DataFrame) -> bool:
    """Whether the model needs fewer bits per base than both composition predictors, each
    paired interval lying wholly below zero (rows of :func:`score`'s interval table)."""
    verdicts = _differences(table)["verdict"]
    return bool((verdicts == "better").all())


def sentence(table: pd.DataFrame, *, markov_order: int, model: str = "pretrained encoder",
             ci: float = 0.95) -> str:
    """One sentence on the gate, e.g. "The pretrained encoder beats per-sequence composition
    (Δ -0.031 bits per base, 95% interval -0.040 to -0.022) and does worse than the Markov-5
    chain (…): it has not shown that it learned more than composition."

    Args:
        table: :func:`score`'s interval table.
        markov_order: the order of the chain that was scored.
        model: what to call the model.
        ci: the coverage the intervals were computed with.
    """
    rows = _differences(table)
    names = {"composition": "per-sequence composition",
             "markov": f"the Markov-{markov_order} chain"}
    said = []
    for metric, ref in DIFFERENCES.items():
        r = rows.loc[metric]
        said.append((resample.VERBS[r["verdict"]],
                     f"{names[ref]} (Δ {r['value']:+.3f} bits per base, {ci:.0%} interval "
                     f"{r['ci_low']:+.3f} to {r['ci_high']:+.3f})"))
    (verb1, one), (verb2, two) = said
    body = f"{verb1} {one} and {two}" if verb1 == verb2 else f"{verb1} {one} and {verb2} {two}"
    end = ("it has learned more than the composition of promoters" if passes(table)
           else "it has not shown that it learned more than composition")
    return f"The {model} {body}: {end}."


# --- the three predictors ----------------------------------------------------------------------


def _check_codes(codes) -> np.ndarray:
    codes = np.asarray(codes)
    if codes.ndim != 2:
        raise ValueError(f"codes must be a 2-D array (sequences × bases), got shape {codes.shape}")
    return codes


def _differences(table: pd.DataFrame) -> pd.DataFrame:
    rows = table.set_index("metric")
    missing = [m for m in DIFFERENCES if m not in rows.index]
    if missing or "verdict" not in rows:
        raise ValueError(f"not an interval table of cornlib.evaluate.hidden_bins.score: "
                         f"rows {missing or list(DIFFERENCES)} or the verdict column missing")
    return rows.loc[list(DIFFERENCES)]


def _model_logp(model, codes: np.ndarray, hidden: np.ndarray, window: np.ndarray,
                at: np.ndarray, batch_size: int, device: str | None) -> np.ndarray:
    """The model's log-probabilities at the hidden A/C/G/T bases, row-major order."""
    import torch

    from cornlib.models.state import preserve_state

    parts = []
    with preserve_state(model, device) as m:
        where = next(m.parameters()).device
        for i in range(0, len(codes), batch_size):
            ids = torch.from_numpy(codes[i:i + batch_size].astype(np.int64)).to(where)
            bins = torch.from_numpy(hidden[i:i + batch_size]).to(where)
            if not bins.any():
                continue
            with torch.no_grad(), torch.autocast(where.type, enabled=False):
                logits = m(input_ids=ids, hidden_bins=bins).logits  # M, pool, 4 (bin order)
                logp = torch.log_softmax(logits.float(), -1).reshape(-1, 4).cpu().numpy()
            # the hidden bins' positions in row-major order are the forward's order of bins
            real = window[i:i + batch_size][at[i:i + batch_size]] < N_CODE
            parts.append(logp[real])
    return np.concatenate(parts) if parts else np.zeros((0, 4))


def _composition_logp(window: np.ndarray, at: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Add-one base frequencies of each sequence's visible A/C/G/T bases, one row per target."""
    visible = ~at & (window < N_CODE)
    rows = np.nonzero(visible)[0]
    counts = np.zeros((len(window), 4))
    np.add.at(counts, (rows, window[visible].astype(np.int64)), 1.0)
    counts += 1.0
    logp = np.log(counts / counts.sum(1, keepdims=True))
    return logp[np.nonzero(target)[0]]


def _markov_logp(markov, window: np.ndarray, at: np.ndarray, target: np.ndarray) -> np.ndarray:
    """The chain's marginals at the hidden A/C/G/T bases, from the visible bases before each run
    of hidden positions (back to the window's start or an ``N``)."""
    order = int(markov.order)
    out = []
    for i in range(len(window)):
        flags = np.concatenate([[False], at[i], [False]]).astype(np.int8)
        edges = np.diff(flags)
        for start, end in zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)):
            left = decode(window[i, max(0, start - order):start]) if order else ""
            left = left[left.rfind("N") + 1:]
            probs = markov.base_marginals(left, int(end - start))
            out.append(probs[target[i, start:end]])
    return np.log(np.concatenate(out)) if out else np.zeros((0, 4))
