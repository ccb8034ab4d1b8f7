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

from cornlib.evaluate import resample
from cornlib.models.markov import MarkovModel, unigram_logprobs
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
        examples: from :func:`~cornlib.training.pretrain.mask_fixed`.
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
                    bases: list[str], token_lengths: np.ndarray) -> dict[str, np.ndarray]:
    """Token and base scores of predictive distributions ``logp`` over the vocabulary.

    Args:
        logp: log-probabilities ``(M, V)``, or ``(1, V)`` for one distribution used for all.
        true_ids: the true token of each of the ``M`` targets.
        table: from :func:`_base_table`.
        bases: the true letters of each target.
        token_lengths: letters of every token ``(V,)`` (0 for special tokens).

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
    # log P(the true token's length): the MLM must also say where the token ends, which the
    # Markov chain is told; subtracting it scores the letters given the length
    length_of = np.asarray(token_lengths)
    want_len = np.fromiter((len(b) for b in bases), np.int64, m)
    by_length = np.full((len(logp), lmax + 1), -np.inf)
    for n in np.unique(want_len):
        cols = length_of == n
        if cols.any():
            top = logp[:, cols].max(1, keepdims=True)
            by_length[:, n] = (top + np.log(np.exp(logp[:, cols] - top).sum(1, keepdims=True)))[:, 0]
    by_length = np.broadcast_to(by_length, (m, lmax + 1))
    logp = np.broadcast_to(logp, (m, v))
    return {"pred_id": logp.argmax(1), "logp_true": logp[np.arange(m), true_ids],
            "bases_correct": correct, "logp_length": by_length[np.arange(m), want_len]}


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
                logp.cpu().numpy(), true_ids, table, [bases_of[t] for t in true_ids],
                np.array([len(b) for b in bases_of]))))
    finally:
        model.train(was_training)
    return pd.concat(parts, ignore_index=True)


def score_unigram(logp: np.ndarray, targets: pd.DataFrame, tokenizer) -> pd.DataFrame:
    """Score the same masked tokens with a fixed token-frequency distribution ``logp`` (V,)."""
    lengths = np.array([len(b) for b in token_bases(tokenizer)])
    return pd.DataFrame(_score_logprobs(np.asarray(logp)[None], targets["true_id"].to_numpy(),
                                        _base_table(tokenizer), list(targets["bases"]), lengths))


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
                         "bases_correct": right, "logp_length": 0.0, "token_level": False})


def summarize(targets: pd.DataFrame, scores: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Per-species and overall metrics of each predictor on the same masked tokens.

    Args:
        targets: from :func:`masked_targets`.
        scores: predictor name → rows aligned with ``targets`` (:func:`score_mlm`,
            :func:`score_unigram`, :func:`score_markov`).

    Returns:
        One row per (predictor, species) plus species ``all``: ``masked_tokens``,
        ``token_accuracy`` and ``perplexity`` (NaN for base-level predictors), ``bases``,
        ``bits_per_base`` (−log2 P(true letters) / letters), ``base_accuracy`` and
        ``bits_per_base_given_length`` (the same bits once the token's length is known: a
        token predictor's probability renormalized over tokens of the true length; the Markov
        chain is always told the length), all over the ACGT-only tokens.
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
                if n_bases else np.nan,
                "bits_per_base_given_length": float(
                    -(base["logp_true"] - base["logp_length"]).sum() / LOG2 / n_bases)
                if n_bases and "logp_length" in base else np.nan})
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
        heldout: fixed-masked held-out examples (:func:`~cornlib.training.pretrain.mask_fixed`).
        species: species of each held-out example.
        tokenizer: their tokenizer.
        train_ids: training examples (for the unigram).
        train_sequences: training sequences (for the Markov chain).
        markov_order: order ``k`` of the Markov chain.
        batch_size: examples per forward pass.

    Returns:
        :func:`summarize` of every predictor (models first); :func:`score_heldout` gives the
        per-token rows behind it (for :func:`bootstrap`).
    """
    return summarize(*score_heldout(models, heldout, species, tokenizer, train_ids=train_ids,
                                    train_sequences=train_sequences, markov_order=markov_order,
                                    batch_size=batch_size))


def score_heldout(models: dict[str, Any], heldout: list[dict], species: list[str], tokenizer, *,
                  train_ids: list[list[int]], train_sequences: Iterable[str], markov_order: int = 5,
                  batch_size: int = 64) -> tuple[pd.DataFrame, dict[str, pd.DataFrame]]:
    """The per-token rows behind :func:`evaluate` (same arguments).

    Returns:
        ``(targets, scores)``: :func:`masked_targets` and predictor name → its rows (models
        first, then ``token unigram`` and ``Markov chain (k=<order>)``).
    """
    targets = masked_targets(heldout, species, tokenizer)
    scores = {name: score_mlm(model, heldout, tokenizer, batch_size=batch_size)
              for name, model in models.items()}
    scores["token unigram"] = score_unigram(unigram_logprobs(train_ids, tokenizer),
                                            targets, tokenizer)
    markov = MarkovModel(markov_order).fit(train_sequences)
    scores[f"Markov chain (k={markov_order})"] = score_markov(
        markov, targets, sequences_of(heldout, tokenizer))
    return targets, scores


# --- intervals and comparisons -------------------------------------------------------------------

#: metric → (words, higher is better, format of a value).
METRIC_INFO = {"token_accuracy": ("masked-token accuracy", True, ".4f"),
               "perplexity": ("perplexity", False, ",.1f"),
               "bits_per_base": ("bits per base", False, ".3f"),
               "base_accuracy": ("base accuracy", True, ".4f"),
               "bits_per_base_given_length": ("bits per base given the token length", False, ".3f")}


def _unit_sums(targets: pd.DataFrame, sc: pd.DataFrame, units: np.ndarray,
               n_units: int) -> np.ndarray:
    """Per resampling unit: tokens, right tokens, token nats, ACGT bases, base nats, right
    bases, base nats given the length (columns 0-6)."""
    df = pd.concat([targets.reset_index(drop=True), sc.reset_index(drop=True)], axis=1)
    u = units[df["example"].to_numpy()]
    acgt = df["acgt"].to_numpy(bool)
    letters = df["bases"].str.len().to_numpy(float)
    logp = df["logp_true"].to_numpy(float)
    given = logp - (df["logp_length"].to_numpy(float) if "logp_length" in df else np.nan)
    cols = [np.ones(len(df)), (df["pred_id"] == df["true_id"]).to_numpy(float), -logp,
            np.where(acgt, letters, 0.0), np.where(acgt, -logp, 0.0),
            np.where(acgt, df["bases_correct"].to_numpy(float), 0.0), np.where(acgt, -given, 0.0)]
    return np.stack([np.bincount(u, weights=c, minlength=n_units) for c in cols], axis=1)


def _metrics_of(sums: np.ndarray, token_level: bool) -> dict[str, np.ndarray]:
    """The metrics of ``METRIC_INFO`` from summed columns (``(..., 7)``)."""
    with np.errstate(invalid="ignore", divide="ignore"):
        out = {"bits_per_base": sums[..., 4] / LOG2 / sums[..., 3],
               "base_accuracy": sums[..., 5] / sums[..., 3],
               "bits_per_base_given_length": sums[..., 6] / LOG2 / sums[..., 3]}
        if token_level:
            out = {"token_accuracy": sums[..., 1] / sums[..., 0],
                   "perplexity": np.exp(sums[..., 2] / sums[..., 0]), **out}
    return out


def bootstrap(targets: pd.DataFrame, scores: dict[str, pd.DataFrame],
              pairs: Iterable[tuple[str, str]], *, units: Iterable | None = None,
              n_bootstrap: int = 1000, seed: int = 0, ci: float = 0.95,
              ci_method: str = "percentile") -> tuple[pd.DataFrame, pd.DataFrame]:
    """Bootstrap intervals of every predictor's held-out scores, and paired differences.

    Resampling units (``units``: one label per held-out example, e.g. its sequence cluster; by
    default each example) are drawn with replacement ``n_bootstrap`` times
    (:func:`cornlib.evaluate.resample.bootstrap_weights`), the same draws for every predictor,
    so a difference's interval is paired: it counts only the variation that the two predictors
    do not share.

    Args:
        targets, scores: from :func:`score_heldout`.
        pairs: ``(model, reference)`` names to compare (e.g. a model and a baseline).
        units: resampling unit of each example.
        n_bootstrap, seed, ci, ci_method: resamples, their seed, the interval's coverage and
            method (:func:`cornlib.evaluate.resample.interval`).

    Returns:
        ``(intervals, differences)``. ``intervals``: ``predictor, metric, value, ci_low,
        ci_high``. ``differences``: ``model, reference, metric, value`` (model − reference),
        ``ci_low``, ``ci_high``, ``share_positive`` and ``verdict`` (``better``, ``worse``,
        ``indistinguishable`` or ``undefined``: where the interval lies against 0, fewer bits
        and a lower perplexity counting as better), for the metrics both have.
    """
    resample.check_options(ci, ci_method, n_bootstrap)
    n_examples = int(targets["example"].max()) + 1 if len(targets) else 0
    labels = np.arange(n_examples) if units is None else np.asarray(list(units))
    if len(labels) != n_examples:
        raise ValueError(f"units has {len(labels)} labels for {n_examples} held-out examples")
    codes = resample.group_codes(labels, n_examples)
    n_units = int(codes.max()) + 1 if n_examples else 0
    weights = resample.bootstrap_weights(n_units, n_bootstrap, seed)
    point, reps = {}, {}
    for name, sc in scores.items():
        token_level = bool(sc.get("token_level", pd.Series([True])).all())
        sums = _unit_sums(targets, sc, codes, n_units)
        point[name] = _metrics_of(sums.sum(axis=0), token_level)
        reps[name] = _metrics_of(weights @ sums, token_level)
    intervals = pd.concat(
        [resample.summarise(point[name], reps[name], ci=ci, ci_method=ci_method)
         .assign(predictor=name) for name in scores], ignore_index=True)
    diffs = [{"model": model, "reference": ref, "metric": m,
              **resample.paired(point[model][m], point[ref][m], reps[model][m], reps[ref][m],
                                ci=ci, ci_method=ci_method, higher_is_better=METRIC_INFO[m][1])}
             for model, ref in pairs for m in point[model] if m in point[ref]]
    columns = ["model", "reference", "metric", "value", "ci_low", "ci_high", "share_positive",
               "verdict"]
    return (intervals[["predictor", "metric", "value", "ci_low", "ci_high"]],
            pd.DataFrame(diffs, columns=columns))


def compare_sentence(differences: pd.DataFrame, model: str, baseline: str, *,
                     ci: float = 0.95) -> str:
    """One sentence on how ``model`` compares with ``baseline`` (rows of :func:`bootstrap`).

    Each metric gets the verb of its verdict (:data:`cornlib.evaluate.resample.VERBS`); metrics
    with the same verdict are named together.
    """
    rows = differences[(differences["model"] == model) & (differences["reference"] == baseline)]
    if rows.empty:
        raise ValueError(f"no comparison of {model!r} with {baseline!r} in differences")
    parts = []
    for verdict in resample.VERDICTS:
        these = rows[rows["verdict"] == verdict]
        if these.empty:
            continue
        said = [f"{METRIC_INFO[r.metric][0]} (difference {r.value:+{METRIC_INFO[r.metric][2]}}, "
                f"{ci:.0%} interval {r.ci_low:+{METRIC_INFO[r.metric][2]}} to "
                f"{r.ci_high:+{METRIC_INFO[r.metric][2]}})" for r in these.itertuples()]
        listed = said[0] if len(said) == 1 else ", ".join(said[:-1]) + " and " + said[-1]
        parts.append(f"{resample.VERBS[verdict]} the {baseline} in {listed}")
    return f"The {model} " + "; it ".join(parts) + "."


def length_sentence(summary: pd.DataFrame, differences: pd.DataFrame, model: str, unigram: str,
                    markov: str) -> str:
    """Why bits per base and base accuracy can rank a token model and a Markov chain apart.

    Uses the ``all`` rows of :func:`summarize` and the ``model`` − ``unigram`` base-accuracy
    verdict of :func:`bootstrap`: how much of the model's bits pay for the token length, and
    whether its letter guesses owe anything to context beyond the token statistics the unigram
    has too.
    """
    rows = summary[summary["species"] == "all"].set_index("predictor")
    m, u, k = rows.loc[model], rows.loc[unigram], rows.loc[markov]
    pick = differences[(differences["model"] == model) & (differences["reference"] == unigram)
                       & (differences["metric"] == "base_accuracy")]
    verdict = pick["verdict"].iloc[0] if len(pick) else "indistinguishable"
    bits_rank = "fewer" if m["bits_per_base"] < k["bits_per_base"] else "more"
    acc_rank = "more" if m["base_accuracy"] > k["base_accuracy"] else "fewer"
    given = "fewer" if m["bits_per_base_given_length"] < k["bits_per_base"] else "more"
    context = {"undefined": "so whether context helps the model's letter guesses cannot be "
                            "told from these tokens",
               "indistinguishable": "so what the model's letter guesses have over the chain's comes "
                                    "from the token statistics (which tokens exist and where BPE "
                                    "puts their boundaries), not from context",
               "better": "so the model's letter guesses gain from context beyond the token "
                         "statistics",
               "worse": "so context, as the model uses it, costs letters against the token "
                        "statistics alone"}[verdict]
    return (f"The {model} spends {m['bits_per_base']:.3f} bits per base, {bits_rank} than the "
            f"{markov} ({k['bits_per_base']:.3f}), and guesses {m['base_accuracy']:.1%} of the "
            f"letters, {acc_rank} than the chain ({k['base_accuracy']:.1%}). The {unigram}, which "
            f"reads no context at all, guesses {u['base_accuracy']:.1%}, {context}. Of the model's "
            f"bits, {m['bits_per_base'] - m['bits_per_base_given_length']:.3f} per base pay for the "
            f"token's length, which the chain is told; renormalized over the tokens of the true "
            f"length it needs {m['bits_per_base_given_length']:.3f}, {given} than the chain, but "
            "that score also tells it that the span is one of the vocabulary's tokens of that "
            "length, which the chain cannot know. Neither bits score is an even contest.")
