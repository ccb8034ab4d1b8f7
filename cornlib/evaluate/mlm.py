"""How well a masked LM predicts held-out promoter tokens, next to composition baselines.

Coordinates: a tokenized sequence is ``<s> t_1 ... t_n </s>``; the bases of ``t_1 ... t_n``
concatenate to the (normalized, possibly truncated) sequence, and a token's span
``[base_start, base_end)`` is 0-based half-open along that sequence. Baselines: the training
tokens' unigram frequencies and a Markov chain over bases (:mod:`cornlib.models.markov`).
"""

from __future__ import annotations

import math
from typing import Any, Iterable

import numpy as np
import pandas as pd

from cornlib.models.markov import MarkovModel
from cornlib.sequence import BASES

LOG2 = math.log(2.0)


def token_bases(tokenizer) -> list[str]:
    """The bases each token id stands for (``""`` for special tokens)."""
    special = set(tokenizer.all_special_ids)
    vocab = tokenizer.convert_ids_to_tokens(list(range(len(tokenizer))))
    return ["" if i in special else tokenizer.convert_tokens_to_string([t]).upper()
            for i, t in enumerate(vocab)]


def masked_targets(examples: list[dict], species: Iterable[str], tokenizer) -> pd.DataFrame:
    """One row per masked token of fixed-masked examples, with its span along the sequence.

    Args:
        examples: from :func:`mask_fixed`.
        species: the species of each example.
        tokenizer: the tokenizer of the examples.

    Returns:
        Columns ``example``, ``species``, ``position`` (token index), ``true_id``, ``bases``
        (the true token's letters), ``base_start``, ``base_end`` (0-based half-open along the
        sequence), ``visible_start`` (first base of the unbroken unmasked, ``N``-free stretch
        that ends at ``base_start``), ``acgt`` (the token holds only ACGT).
    """
    bases_of = token_bases(tokenizer)
    rows = []
    for e, (ex, sp) in enumerate(zip(examples, species)):
        labels = np.asarray(ex["labels"])
        ids = np.where(labels != -100, labels, np.asarray(ex["input_ids"]))
        lengths = np.array([len(bases_of[i]) for i in ids])
        ends = np.cumsum(lengths)
        starts = ends - lengths
        seq = "".join(bases_of[i] for i in ids)
        visible = 0
        for p in range(len(ids)):
            if labels[p] != -100:
                rows.append((e, sp, p, int(ids[p]), bases_of[ids[p]], int(starts[p]),
                             int(ends[p]), visible))
                visible = int(ends[p])
            else:
                n_at = seq.rfind("N", starts[p], ends[p])
                if n_at >= 0:
                    visible = n_at + 1
    out = pd.DataFrame(rows, columns=["example", "species", "position", "true_id", "bases",
                                      "base_start", "base_end", "visible_start"])
    out["acgt"] = out["bases"].map(lambda b: bool(b) and set(b) <= set(BASES))
    return out


def sequences_of(examples: list[dict], tokenizer) -> list[str]:
    """The bases of each (fixed-masked) example with the true tokens put back."""
    bases_of = token_bases(tokenizer)
    out = []
    for ex in examples:
        labels = np.asarray(ex["labels"])
        ids = np.where(labels != -100, labels, np.asarray(ex["input_ids"]))
        out.append("".join(bases_of[i] for i in ids))
    return out


def _base_table(tokenizer) -> np.ndarray:
    """One-hot letters of every token by offset, shape ``(V, Lmax, 4)``."""
    bases_of = token_bases(tokenizer)
    table = np.zeros((len(bases_of), max(len(b) for b in bases_of), 4), np.float32)
    for i, b in enumerate(bases_of):
        for j, ch in enumerate(b):
            k = BASES.find(ch)
            if k >= 0:
                table[i, j, k] = 1.0
    return table


def _score_logprobs(logp: np.ndarray, true_ids: np.ndarray, table: np.ndarray,
                    bases: list[str]) -> dict[str, np.ndarray]:
    """Token and base scores of predictive distributions ``logp`` over the vocabulary.

    Args:
        logp: log-probabilities ``(M, V)``, or ``(1, V)`` for one distribution used for all.
        true_ids: the true token of each of the ``M`` targets.
        table: from :func:`_base_table`.
        bases: the true letters of each target.

    A base is predicted as the most probable letter at its offset under the token distribution
    (the letters of every token long enough to reach it, weighted by its probability).
    """
    m = len(true_ids)
    longest = max((len(b) for b in bases), default=1)
    v, lmax, _ = table.shape
    sub = table[:, :longest].reshape(v, -1)  # V, longest * 4
    probs = np.exp(logp - logp.max(1, keepdims=True))
    probs /= probs.sum(1, keepdims=True)
    best = (probs @ sub).reshape(len(logp), -1, 4).argmax(-1)  # M (or 1), longest
    best = np.broadcast_to(best, (m, best.shape[1]))
    correct = np.zeros(m, np.int64)
    for i, b in enumerate(bases):
        want = np.fromiter((BASES.find(c) for c in b), np.int64, len(b))
        correct[i] = int((best[i, :len(b)] == want).sum())
    logp = np.broadcast_to(logp, (m, v))
    return {"pred_id": logp.argmax(1), "logp_true": logp[np.arange(m), true_ids],
            "bases_correct": correct}


def score_mlm(model, examples: list[dict], tokenizer, *, batch_size: int = 64) -> pd.DataFrame:
    """Score a masked LM on fixed-masked examples, one row per masked token.

    Rows follow :func:`masked_targets` (example, then position). Columns: ``pred_id`` (most
    probable token), ``logp_true`` (natural log-probability of the true token),
    ``bases_correct`` (letters of the true token matched by the per-offset most probable letter).
    """
    import torch

    from cornlib.training import MaskingCollator

    table = _base_table(tokenizer)
    bases_of = token_bases(tokenizer)
    collate = MaskingCollator(tokenizer)
    was_training = model.training
    model.eval()
    parts = []
    try:
        for i in range(0, len(examples), batch_size):
            batch = collate(examples[i:i + batch_size])
            batch = {k: v.to(model.device) for k, v in batch.items()}
            labels = batch.pop("labels")
            with torch.no_grad(), torch.autocast(model.device.type, enabled=False):
                hidden = model.roberta(**batch).last_hidden_state  # B, L, H
                chosen = labels != -100  # B, L
                logp = torch.log_softmax(model.lm_head(hidden[chosen]).float(), -1)  # M, V
            true_ids = labels[chosen].cpu().numpy()
            parts.append(pd.DataFrame(_score_logprobs(
                logp.cpu().numpy(), true_ids, table, [bases_of[t] for t in true_ids])))
    finally:
        model.train(was_training)
    return pd.concat(parts, ignore_index=True)


def unigram_logprobs(train_ids: list[list[int]], tokenizer, pseudocount: float = 1.0
                     ) -> np.ndarray:
    """Log-frequency ``(V,)`` of every token in the training examples, with a pseudocount.

    Special tokens are never masked, so they get the pseudocount only.
    """
    counts = np.bincount(np.concatenate([np.asarray(x) for x in train_ids]),
                         minlength=len(tokenizer)).astype(float)
    counts[tokenizer.all_special_ids] = 0.0
    counts += pseudocount
    return np.log(counts / counts.sum())


def score_unigram(logp: np.ndarray, targets: pd.DataFrame, tokenizer) -> pd.DataFrame:
    """Score the same masked tokens with a fixed token-frequency distribution ``logp`` (V,)."""
    return pd.DataFrame(_score_logprobs(np.asarray(logp)[None], targets["true_id"].to_numpy(),
                                        _base_table(tokenizer), list(targets["bases"])))


def score_markov(markov: MarkovModel, targets: pd.DataFrame, sequences: list[str]
                 ) -> pd.DataFrame:
    """Score masked tokens' bases with a Markov chain (base-level only; token columns are NaN).

    Tokens holding letters other than ACGT get NaN (they are left out of base scores for every
    predictor).
    """
    logp, right = [], []
    for t in targets.itertuples(index=False):
        if not t.acgt:
            logp.append(np.nan)
            right.append(np.nan)
            continue
        lp, r = markov.score_span(sequences[t.example], t.base_start, t.base_end,
                                  t.visible_start)
        logp.append(lp)
        right.append(r)
    return pd.DataFrame({"pred_id": np.full(len(targets), -1), "logp_true": logp,
                         "bases_correct": right, "token_level": False})


def summarize(targets: pd.DataFrame, scores: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Per-species and overall metrics of each predictor on the same masked tokens.

    Args:
        targets: from :func:`masked_targets`.
        scores: predictor name → rows aligned with ``targets`` (:func:`score_mlm`,
            :func:`score_unigram`, :func:`score_markov`).

    Returns:
        One row per (predictor, species) plus species ``all``: ``masked_tokens``,
        ``token_accuracy`` and ``perplexity`` (NaN for base-level predictors), ``bases``,
        ``bits_per_base`` (−log2 P(true letters) / letters) and ``base_accuracy``, both over
        the ACGT-only tokens.
    """
    rows = []
    for name, sc in scores.items():
        if len(sc) != len(targets):
            raise ValueError(f"scores of {name!r} have {len(sc)} rows, targets {len(targets)}")
        df = pd.concat([targets.reset_index(drop=True), sc.reset_index(drop=True)], axis=1)
        token_level = bool(sc.get("token_level", pd.Series([True])).all())
        for species, part in [*df.groupby("species", sort=True), ("all", df)]:
            base = part[part["acgt"]]
            n_bases = int(base["bases"].str.len().sum())
            rows.append({
                "predictor": name, "species": species, "masked_tokens": len(part),
                "token_accuracy": float((part["pred_id"] == part["true_id"]).mean())
                if token_level else np.nan,
                "perplexity": float(np.exp(-part["logp_true"].mean())) if token_level else np.nan,
                "bases": n_bases,
                "bits_per_base": float(-base["logp_true"].sum() / LOG2 / n_bases)
                if n_bases else np.nan,
                "base_accuracy": float(base["bases_correct"].sum() / n_bases)
                if n_bases else np.nan})
    return pd.DataFrame(rows)


def predictions_on(model, example: dict, tokenizer) -> pd.DataFrame:
    """Predicted vs true token at every position of one fixed-masked example.

    Returns:
        Columns ``position``, ``true`` (token letters), ``masked``, ``predicted`` (most probable
        token's letters), ``p_true`` (probability of the true token), ``correct``.
    """
    import torch

    bases_of = token_bases(tokenizer)
    ids = torch.tensor([example["input_ids"]], device=model.device)
    labels = np.asarray(example["labels"])
    true = np.where(labels != -100, labels, np.asarray(example["input_ids"]))
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            probs = torch.softmax(model(input_ids=ids).logits[0].float(), -1).cpu().numpy()
    finally:
        model.train(was_training)
    pred = probs.argmax(1)
    out = pd.DataFrame({"position": np.arange(len(true)),
                        "true": [bases_of[i] or tokenizer.convert_ids_to_tokens(int(i))
                                 for i in true],
                        "masked": labels != -100,
                        "predicted": [bases_of[i] or tokenizer.convert_ids_to_tokens(int(i))
                                      for i in pred],
                        "p_true": probs[np.arange(len(true)), true]})
    out["correct"] = pred == true
    return out


def evaluate(models: dict[str, Any], heldout: list[dict], species: list[str], tokenizer, *,
             train_ids: list[list[int]], train_sequences: Iterable[str], markov_order: int = 5,
             batch_size: int = 64) -> pd.DataFrame:
    """Score masked LMs and two composition baselines on the same held-out masked tokens.

    The baselines are the token unigram (each masked token predicted from training token
    frequencies) and a ``markov_order``-th order Markov chain over bases fitted on
    ``train_sequences``, which sees only the unmasked bases left of each masked token.

    Args:
        models: display name → masked LM.
        heldout: fixed-masked held-out examples (:func:`mask_fixed`).
        species: species of each held-out example.
        tokenizer: their tokenizer.
        train_ids: training examples (for the unigram).
        train_sequences: training sequences (for the Markov chain).
        markov_order: order ``k`` of the Markov chain.
        batch_size: examples per forward pass.

    Returns:
        :func:`summarize` of every predictor (models first).
    """
    targets = masked_targets(heldout, species, tokenizer)
    scores = {name: score_mlm(model, heldout, tokenizer, batch_size=batch_size)
              for name, model in models.items()}
    scores["token unigram"] = score_unigram(unigram_logprobs(train_ids, tokenizer),
                                            targets, tokenizer)
    markov = MarkovModel(markov_order).fit(train_sequences)
    scores[f"Markov k={markov_order}"] = score_markov(markov, targets,
                                                      sequences_of(heldout, tokenizer))
    return summarize(targets, scores)


