"""Masked-LM pretraining on the promoter corpus: examples, held-out split, training, warm start,
and evaluation of masked-token prediction against composition baselines (token unigram, Markov).

Coordinates: a tokenized sequence is ``<s> t_1 ... t_n </s>``; the bases of ``t_1 ... t_n``
concatenate to the (normalized, possibly truncated) sequence, and a token's span
``[base_start, base_end)`` is 0-based half-open along that sequence.
"""

from __future__ import annotations

import math
import os
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

import numpy as np
import pandas as pd

from cornlib import CornlibWarning

PROMOTER = "promoter"
BASES = "ACGT"
LOG2 = math.log(2.0)


# --- examples ------------------------------------------------------------------------------------

def load_inputs(run_dir: str | os.PathLike) -> tuple[pd.DataFrame, Any]:
    """Read ``corpus.parquet`` and ``tokenizer/`` from a run directory (written by 05_tokenizer).

    Raises:
        FileNotFoundError: the corpus or a tokenizer file is missing (the message says how to
            make them).
        ValueError: the corpus has an empty or non-DNA sequence (naming its ``seq_id``), or the
            tokenizer lacks ``<pad>``/``<mask>``/``<s>``/``</s>``.
    """
    from cornlib import corpus as corpus_mod
    from cornlib import tokenize as tokenize_mod

    run_dir = Path(run_dir)
    corpus = corpus_mod.read(run_dir / "corpus.parquet")
    tokenizer = tokenize_mod.load(run_dir / "tokenizer")
    missing = [name for name in ("pad_token", "mask_token", "bos_token", "eos_token")
               if getattr(tokenizer, name, None) is None]
    if missing:
        raise ValueError(f"the tokenizer in {run_dir / 'tokenizer'} has no {', '.join(missing)}; "
                         "rebuild it with notebooks/05_tokenizer.md")
    return corpus, tokenizer


def heldout_split(corpus: pd.DataFrame, fraction: float = 0.05, *, seed: int = 0) -> pd.DataFrame:
    """Hold out a random ``fraction`` of each species' promoters for evaluation.

    Genome windows (``source != "promoter"``) always stay in training. Species with at least two
    promoters contribute at least one held-out promoter, so every species gets a score.

    Args:
        corpus: the corpus table (``seq_id, species, source, sequence``).
        fraction: share of each species' promoters to hold out, in ``(0, 0.5]``.
        seed: seed of the draw.

    Returns:
        A copy of ``corpus`` with a column ``part`` ∈ {``train``, ``heldout``}.
    """
    if not 0.0 < fraction <= 0.5:
        raise ValueError(f"heldout fraction must be in (0, 0.5], got {fraction}")
    out = corpus.copy()
    out["part"] = "train"
    rng = np.random.default_rng(seed)
    for species, rows in out[out["source"] == PROMOTER].groupby("species", sort=True):
        n = len(rows)
        k = min(n - 1, max(1, round(fraction * n))) if n >= 2 else 0
        if k == 0:
            warnings.warn(f"species {species!r} has {n} promoter(s): none held out, so it gets no "
                          "held-out score", CornlibWarning, stacklevel=2)
            continue
        out.loc[rng.choice(rows.index.to_numpy(), size=k, replace=False), "part"] = "heldout"
    return out


def tokenize(sequences: Iterable[str], tokenizer, max_length: int) -> list[list[int]]:
    """Token ids ``<s> ... </s>`` of each sequence, truncated to ``max_length`` (specials included).

    Sequences must already be normalized (``cornlib.corpus.read`` checks this). A
    :class:`~cornlib.CornlibWarning` reports how many sequences were cut.
    """
    if max_length < 3:
        raise ValueError(f"max_length must leave room for <s>, a token and </s>; got {max_length}")
    seqs = list(sequences)
    enc = tokenizer(seqs, add_special_tokens=False, verbose=False)["input_ids"]
    bos, eos = tokenizer.bos_token_id, tokenizer.eos_token_id
    keep = max_length - 2
    cut = sum(len(ids) > keep for ids in enc)
    if cut:
        warnings.warn(f"{cut} of {len(enc)} sequences are longer than {keep} tokens and were "
                      f"truncated (raise max_length to keep them whole)", CornlibWarning,
                      stacklevel=2)
    return [[bos, *ids[:keep], eos] for ids in enc]


def mask_fixed(input_ids: list[list[int]], tokenizer, mlm_probability: float = 0.15, *,
               seed: int = 0) -> list[dict[str, list[int]]]:
    """Mask held-out examples once, reproducibly: every chosen token becomes ``<mask>``.

    Each non-special token is chosen with probability ``mlm_probability`` (at least one per
    example), from a generator seeded by ``(seed, example index)``.

    Returns:
        One dict per example with ``input_ids`` (masked) and ``labels`` (the true id at chosen
        positions, ``-100`` elsewhere).
    """
    from cornlib.train import derive_seed

    special = set(tokenizer.all_special_ids)
    out = []
    for i, ids in enumerate(input_ids):
        rng = np.random.default_rng(derive_seed(seed, i))
        ids = np.asarray(ids)
        can = ~np.isin(ids, list(special))
        chosen = can & (rng.random(len(ids)) < mlm_probability)
        if not chosen.any() and can.any():
            chosen[rng.choice(np.flatnonzero(can))] = True
        labels = np.where(chosen, ids, -100)
        masked = np.where(chosen, tokenizer.mask_token_id, ids)
        out.append({"input_ids": masked.tolist(), "labels": labels.tolist()})
    return out


def padding_report(lengths: list[int], batch_size: int, max_length: int, *, seed: int = 0
                   ) -> pd.DataFrame:
    """Share of computed positions that are real tokens under three batching schemes.

    Args:
        lengths: tokens per training example.
        batch_size: examples per batch.
        max_length: the fixed length of the naive scheme.
        seed: seed of the shuffles.

    Returns:
        One row per scheme (``pad to max_length``, ``dynamic padding``, ``dynamic padding +
        length grouping``): ``positions`` computed in one epoch, ``real_tokens``, ``real_share``.
    """
    import torch
    from transformers.trainer_pt_utils import get_length_grouped_indices

    lengths = np.asarray(lengths)
    gen = torch.Generator().manual_seed(seed)
    shuffled = torch.randperm(len(lengths), generator=gen).numpy()
    grouped = np.asarray(get_length_grouped_indices(lengths.tolist(), batch_size, generator=gen))

    def positions(order: np.ndarray, fixed: int | None) -> int:
        batches = [lengths[order[i:i + batch_size]] for i in range(0, len(order), batch_size)]
        return int(sum(len(b) * (fixed or b.max()) for b in batches))

    real = int(lengths.sum())
    rows = [("pad to max_length", positions(shuffled, max_length)),
            ("dynamic padding", positions(shuffled, None)),
            ("dynamic padding + length grouping", positions(grouped, None))]
    return pd.DataFrame([{"scheme": name, "positions": n, "real_tokens": real,
                          "real_share": real / n} for name, n in rows])


def example_index(heldout: pd.DataFrame, species: str, seq_id: str | None = None) -> int:
    """Position in ``heldout`` (row order) of ``seq_id``, or of the first promoter of ``species``.

    Raises:
        ValueError: ``seq_id`` is not held out, or ``species`` has no held-out promoter.
    """
    rows = heldout.reset_index(drop=True)
    if seq_id is not None:
        hit = rows.index[rows["seq_id"] == seq_id]
        if not len(hit):
            raise ValueError(f"{seq_id!r} is not among the held-out promoters; pick one of "
                             f"{list(rows['seq_id'].head(3))} ...")
        return int(hit[0])
    hit = rows.index[(rows["species"] == species) & (rows["source"] == PROMOTER)]
    if not len(hit):
        raise ValueError(f"no held-out promoter of species {species!r}; species held out: "
                         f"{sorted(rows['species'].unique())}")
    return int(hit[0])


# --- training ------------------------------------------------------------------------------------

@dataclass
class PretrainResult:
    """What :func:`pretrain` returns.

    Attributes:
        model: the trained masked LM (also saved under ``output_dir / "model"``).
        history: loss curves (:func:`cornlib.train.loss_curves`).
        output_dir: the run's folder (``model/``, ``checkpoints/``, ``log_history.json``).
        stats: steps, seconds, non-pad tokens seen and tokens per second of this call.
    """

    model: Any
    history: pd.DataFrame
    output_dir: Path
    stats: dict[str, Any] = field(default_factory=dict)


def pretrain(train_ids: list[list[int]], eval_examples: list[dict] | None, tokenizer,
             output_dir: str | os.PathLike, *, config=None,
             init_from: str | os.PathLike | None = None, max_steps: int = 300,
             batch_size: int = 32, learning_rate: float = 1e-3, warmup_steps: int | float = 0.1,
             weight_decay: float = 0.01, save_steps: int = 100, eval_steps: int = 100,
             logging_steps: int = 10, mlm_probability: float = 0.15,
             mask_replace_prob: float = 0.8, seed: int = 0,
             device: str = "auto", resume: bool = True, unigram_init: bool = True,
             progress: bool = True) -> PretrainResult:
    """Train a masked LM with the Hugging Face ``Trainer`` and save it.

    Batches are padded only to their longest member and grouped by length; masks are drawn per
    (seed, epoch, example), so a run killed and restarted with ``resume=True`` continues from its
    newest checkpoint and ends with the same weights as an uninterrupted run.

    Args:
        train_ids: token ids per training example (from :func:`tokenize`).
        eval_examples: fixed-masked held-out examples (:func:`mask_fixed`) for the validation loss
            curve, or ``None``.
        tokenizer: the tokenizer the ids come from (saved beside the model).
        output_dir: the run folder; the model goes to ``output_dir / "model"``.
        config: a :class:`cornlib.models.CornBertConfig` for a fresh model.
        init_from: a saved masked LM to continue from instead (warm start); ``config`` is then
            ignored.
        max_steps, batch_size, learning_rate, warmup_steps, weight_decay: optimisation (AdamW,
            linear decay; ``warmup_steps`` < 1 is a fraction of ``max_steps``).
        save_steps, eval_steps, logging_steps: checkpoint, validation and logging intervals.
        mlm_probability: share of tokens masked in training.
        mask_replace_prob: share of those replaced by ``<mask>``; half of the rest become a
            random token, half stay as they are (RoBERTa: 0.8, so 10 % / 10 %).
        seed: seeds the initial weights, the batch order, the masks and dropout.
        device: ``auto``, ``cpu`` or ``cuda`` (fp32 on CPU; bf16, else fp16, on a GPU).
        resume: continue from the newest checkpoint in ``output_dir / "checkpoints"`` if any;
            ``False`` deletes that folder first and starts fresh.
        unigram_init: start a fresh model's output bias at the training tokens' log-frequencies,
            so it predicts the composition baseline from step 0 and spends its steps on context.
        progress: show a progress bar.

    Raises:
        ValueError: no training examples, neither ``config`` nor ``init_from``, or a checkpoint
            or ``init_from`` model made with another config or tokenizer.
    """
    from cornlib import train

    if not train_ids:
        raise ValueError("no training examples: the corpus (after the held-out split) is empty")
    output_dir = Path(output_dir)
    model = _initial_model(train_ids, tokenizer, config, init_from, seed, unigram_init)
    has_eval = bool(eval_examples)
    if not resume and (output_dir / "checkpoints").is_dir():
        import shutil

        shutil.rmtree(output_dir / "checkpoints")
    args = train.training_arguments(
        output_dir / "checkpoints", device=device, seed=seed, max_steps=max_steps,
        per_device_train_batch_size=batch_size, per_device_eval_batch_size=2 * batch_size,
        learning_rate=learning_rate, warmup_steps=warmup_steps, weight_decay=weight_decay,
        adam_beta2=0.98, adam_epsilon=1e-6, lr_scheduler_type="linear", max_grad_norm=1.0,
        save_strategy="steps", save_steps=save_steps, save_total_limit=2,
        eval_strategy="steps" if has_eval else "no", eval_steps=eval_steps,
        logging_steps=logging_steps, train_sampling_strategy="group_by_length",
        remove_unused_columns=False, prediction_loss_only=True, disable_tqdm=not progress,
        include_num_input_tokens_seen="non_padding")
    trainer = train.make_trainer(
        model, args, train.MaskedLMDataset(train_ids, seed=seed),
        eval_examples if has_eval else None,
        data_collator=train.MaskingCollator(tokenizer, mlm_probability,
                                            mask_replace_prob=mask_replace_prob,
                                            random_replace_prob=(1 - mask_replace_prob) / 2),
        processing_class=tokenizer, history_path=output_dir / "log_history.json")
    t0, tokens0 = time.perf_counter(), trainer.state.num_input_tokens_seen
    with train.quiet_hf_bars():
        out = train.fit(trainer, resume=resume)
        seconds = time.perf_counter() - t0
        train.save_model(trainer.model, output_dir / "model", tokenizer)
    tokens = trainer.state.num_input_tokens_seen - tokens0
    stats = {"steps": int(out.global_step), "seconds": round(seconds, 2),
             "train_loss": float(out.training_loss), "tokens": int(tokens),
             "tokens_per_second": round(tokens / seconds, 1) if seconds else None,
             "device": str(args.device), "bf16": args.bf16, "fp16": args.fp16}
    return PretrainResult(model=trainer.model,
                          history=train.loss_curves(trainer.state.log_history),
                          output_dir=output_dir, stats=stats)


def _initial_model(train_ids: list[list[int]], tokenizer, config, init_from, seed: int,
                   unigram_init: bool):
    """A fresh masked LM of ``config`` or the saved one at ``init_from``, checked against the data.

    Raises:
        ValueError: neither is given, the config or model does not match the tokenizer, or an
            example is longer than the model's positions.
    """
    import torch

    from cornlib import models, train

    if init_from is not None:
        with train.quiet_hf_bars():
            model = models.load_mlm(init_from, tokenizer)
    elif config is not None:
        models.check_compatible(config, {"vocab_size": len(tokenizer),
                                         "pad_token_id": tokenizer.pad_token_id},
                                where="config", keys=("vocab_size", "pad_token_id"))
        model = models.new_mlm(config, seed=seed)
        if unigram_init:
            with torch.no_grad():
                model.lm_head.bias.copy_(torch.as_tensor(unigram_logprobs(train_ids, tokenizer)))
    else:
        raise ValueError("pass config= for a fresh model or init_from= to continue one")
    longest = max(len(x) for x in train_ids)
    if longest > model.config.max_tokens:
        raise ValueError(f"an example has {longest} tokens but the model holds "
                         f"{model.config.max_tokens}; tokenize with max_length ≤ "
                         f"{model.config.max_tokens}")
    return model


# --- scoring masked tokens -----------------------------------------------------------------------

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

    from cornlib.train import MaskingCollator

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


class MarkovModel:
    """A k-th order Markov chain over ACGT with add-``alpha`` smoothing and shorter-context backoff.

    Contexts of every length ``0..order`` are counted, so a base whose visible context is shorter
    than ``order`` (near the start, a masked neighbour or an ``N``) uses the longest it has.
    """

    def __init__(self, order: int = 5, alpha: float = 1.0):
        if not 0 <= order <= 10:
            raise ValueError(f"Markov order must be between 0 and 10, got {order}")
        self.order = order
        self.alpha = alpha
        self.counts: list[np.ndarray] = []
        self._probs: list[np.ndarray] | None = None

    def fit(self, sequences: Iterable[str]) -> "MarkovModel":
        """Count (j+1)-mers for j = 0..order over ``sequences`` (non-ACGT letters break windows)."""
        lut = np.full(256, 255, np.uint8)
        for k, ch in enumerate(BASES):
            lut[ord(ch)] = k
        joined = "N".join(sequences).upper().encode()
        codes = lut[np.frombuffer(joined, np.uint8)].astype(np.int64)
        ok = codes != 255
        codes = np.where(ok, codes, 0)
        index = np.zeros_like(codes)
        valid = np.ones_like(ok)
        self.counts, self._probs = [], None
        for j in range(self.order + 1):
            # index of the window codes[t-j .. t] ending at t, valid if every letter is ACGT
            if j == 0:
                index, valid = codes.copy(), ok.copy()
            else:
                index = np.concatenate([[0], index[:-1]]) * 4 + codes
                valid = np.concatenate([[False], valid[:-1]]) & ok
            self.counts.append(np.bincount(index[valid], minlength=4 ** (j + 1))
                               .reshape(4 ** j, 4).astype(float))
        return self

    def probs(self, context: str) -> np.ndarray:
        """P(next base) given up to ``order`` preceding ACGT letters, shape (4,)."""
        context = context[-self.order:] if self.order else ""
        return self._tables()[len(context)][_kmer_index(context)]

    def _tables(self) -> list[np.ndarray]:
        """Smoothed P(next base | context) for each context length m: arrays ``(4**m, 4)``."""
        if not self.counts:
            raise ValueError("fit the Markov model before scoring")
        if self._probs is None:
            self._probs = [(c + self.alpha) / (c.sum(1, keepdims=True) + 4 * self.alpha)
                           for c in self.counts]
        return self._probs

    def base_marginals(self, context: str, n: int) -> np.ndarray:
        """P(letter) at each of the next ``n`` positions given only ``context``, shape (n, 4).

        Exact: the chain is run forward over every path through the unseen positions (a state is
        the last ``order`` letters, fewer while the context is short).
        """
        tables = self._tables()
        context = context[-self.order:] if self.order else ""
        m = len(context)
        state = np.zeros(4 ** m)
        state[_kmer_index(context)] = 1.0
        out = np.zeros((n, 4))
        for j in range(n):
            joint = state[:, None] * tables[m]  # 4**m, 4
            out[j] = joint.sum(0)
            state = joint.reshape(-1)  # index s * 4 + b: the context grown by one letter
            if m < self.order:
                m += 1
            else:
                state = state.reshape(4, -1).sum(0)  # drop the oldest letter
        return out

    def score_span(self, seq: str, start: int, end: int, visible_start: int
                   ) -> tuple[float, int]:
        """Log-probability (nats) of ``seq[start:end]`` and how many of its letters are guessed.

        Only ``seq[visible_start:start]`` is seen before the span. The log-probability is the
        chain rule over the true letters; the guess at each position is the most probable letter
        given the visible context alone (:meth:`base_marginals`), as for the token predictors.
        """
        left = seq[max(visible_start, start - self.order):start]
        logp = 0.0
        for i in range(start, end):
            ctx = (left + seq[start:i])[-self.order:] if self.order else ""
            logp += math.log(self.probs(ctx)[BASES.index(seq[i])])
        guess = self.base_marginals(left, end - start).argmax(1)
        truth = np.fromiter((BASES.index(c) for c in seq[start:end]), np.int64, end - start)
        return logp, int((guess == truth).sum())


def _kmer_index(kmer: str) -> int:
    """Base-4 index of an ACGT string (A=0, C=1, G=2, T=3; first letter most significant)."""
    idx = 0
    for ch in kmer:
        idx = idx * 4 + BASES.index(ch)
    return idx


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


def metrics_record(summary: pd.DataFrame, runs: dict[str, PretrainResult],
                   **settings: Any) -> dict[str, Any]:
    """The content of ``pretrain/metrics.json``: model size, each run's stats, held-out scores.

    Args:
        summary: from :func:`evaluate`.
        runs: run name → :class:`PretrainResult`.
        **settings: parameters to record (profile, seed, ...).
    """
    from cornlib.models import size_summary

    first = next(iter(runs.values())).model
    model = {**size_summary(first.config),
             "attn_implementation": first.config._attn_implementation}
    records = summary.replace({np.nan: None}).to_dict(orient="records")
    return {"settings": settings, "model": model,
            "runs": {name: {**r.stats, "model_dir": str(r.output_dir / "model"),
                            "final_valid_loss": _last(r.history, "valid"),
                            "final_train_loss": _last(r.history, "train")}
                     for name, r in runs.items()},
            "heldout": records}


def _last(history: pd.DataFrame, split: str) -> float | None:
    """The last logged loss of one split (``None`` if none was logged)."""
    part = history[history["split"] == split]
    return float(part["loss"].iloc[-1]) if len(part) else None
