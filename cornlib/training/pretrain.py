"""Masked-LM pretraining on the promoter corpus: examples, held-out split, training, warm start.

Scoring masked-token prediction against its baselines lives in :mod:`cornlib.evaluate.mlm`.

Coordinates: a tokenized sequence is ``<s> t_1 ... t_n </s>``; the bases of ``t_1 ... t_n``
concatenate to the (normalized, possibly truncated) sequence, and a token's span
``[base_start, base_end)`` is 0-based half-open along that sequence.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Any, Iterable

import numpy as np
import pandas as pd

from cornlib import CornlibWarning, artifacts
from cornlib.models.markov import unigram_logprobs
from cornlib.training.driver import TrainResult

PROMOTER = "promoter"


# --- examples ------------------------------------------------------------------------------------

def load_inputs(run_dir: str | os.PathLike) -> tuple[pd.DataFrame, Any]:
    """Read ``corpus.parquet`` and ``tokenizer/`` from a run directory (written by the tokenizer chapter).

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
                         f"rebuild it: {artifacts.how_to_make('tokenizer')}")
    return corpus, tokenizer


def heldout_split(corpus: pd.DataFrame, fraction: float = 0.05, *, seed: int = 0,
                  clusters: pd.DataFrame | pd.Series | None = None) -> pd.DataFrame:
    """Hold out a share ``fraction`` of each species' promoters for evaluation, by cluster.

    With ``clusters`` (``split.parquet``, or a Series ``gene_id`` → ``cluster_id``), whole
    sequence clusters are held out, so that no held-out promoter has a cluster mate in training:
    clusters are drawn in a seeded random order and every promoter of a drawn cluster is held
    out, until each species reaches its share (a cluster is skipped if it would leave a species
    no training promoter). Promoters the table does not cover are clusters of their own. Without
    ``clusters`` each promoter is its own cluster. Genome windows (``source != "promoter"``)
    always stay in training. Species with at least two promoters contribute at least one
    held-out promoter, so every species gets a score.

    Args:
        corpus: the corpus table (``seq_id, species, source, sequence``).
        fraction: share of each species' promoters to hold out, in ``(0, 0.5]``.
        seed: seed of the draw.
        clusters: the split table (``gene_id``, ``cluster_id``) or a Series of cluster ids.

    Returns:
        A copy of ``corpus`` with a column ``part`` ∈ {``train``, ``heldout``} and ``cluster``
        (the cluster id for promoters, ``<NA>`` for windows).
    """
    if not 0.0 < fraction <= 0.5:
        raise ValueError(f"heldout fraction must be in (0, 0.5], got {fraction}")
    out = corpus.copy()
    out["part"] = "train"
    is_promoter = (out["source"] == PROMOTER).to_numpy()
    ids = out["seq_id"].astype(str)
    if clusters is None:
        label = pd.Series(np.arange(len(out)), index=out.index).astype(str)
    else:
        table = (clusters.set_index("gene_id")["cluster_id"] if isinstance(clusters, pd.DataFrame)
                 else clusters)
        table = pd.Series(table.to_numpy(), index=table.index.astype(str))
        label = ids.map(table).astype("string").fillna("own:" + ids)
    out["cluster"] = pd.Series(label.to_numpy(), index=out.index, dtype="string").where(is_promoter)
    promoters = out[is_promoter]
    size = promoters.groupby("species").size()
    target = {sp: (min(n - 1, max(1, round(fraction * n))) if n >= 2 else 0) for sp, n in size.items()}
    for sp, k in target.items():
        if k == 0:
            warnings.warn(f"species {sp!r} has {size[sp]} promoter(s): none held out, so it gets no "
                          "held-out score", CornlibWarning, stacklevel=2)
    members = promoters.groupby("cluster", sort=True)["species"].value_counts().unstack(fill_value=0)
    held = pd.Series(0, index=size.index)
    chosen = []
    rng = np.random.default_rng(seed)
    for c in members.index[rng.permutation(len(members))]:
        need = [sp for sp in size.index if held[sp] < target[sp]]
        if not need:
            break
        counts = members.loc[c]
        if not (counts[need] > 0).any() or ((held + counts) > size - 1).any():
            continue
        chosen.append(c)
        held += counts
    out.loc[is_promoter & out["cluster"].isin(chosen).fillna(False).to_numpy(), "part"] = "heldout"
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
    from cornlib.training.trainer import derive_seed

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

def pretrain(train_ids: list[list[int]], eval_examples: list[dict] | None, tokenizer,
             output_dir: str | os.PathLike, *, config=None,
             init_from: str | os.PathLike | None = None, max_steps: int = 300,
             batch_size: int = 32, learning_rate: float = 1e-3, warmup_steps: int | float = 0.1,
             weight_decay: float = 0.01, save_steps: int = 100, eval_steps: int = 100,
             logging_steps: int = 10, mlm_probability: float = 0.15,
             mask_replace_prob: float = 0.8, seed: int = 0,
             device: str = "auto", resume: bool = True, unigram_init: bool = True,
             progress: bool = True) -> TrainResult:
    """Train a masked LM with :func:`cornlib.training.run` and save it.

    Batches are padded only to their longest member and grouped by length; masks are drawn per
    (seed, epoch, example), so a run killed and restarted with ``resume=True`` continues from its
    newest checkpoint and ends with the same weights as an uninterrupted run.

    Args:
        train_ids: token ids per training example (from :func:`tokenize`).
        eval_examples: fixed-masked held-out examples (:func:`mask_fixed`) for the validation loss
            curve, or ``None``.
        tokenizer: the tokenizer the ids come from (saved beside the model).
        output_dir: the run folder; the model goes to ``output_dir / "model"``, the
            checkpoints (kept for resuming) to ``output_dir / "checkpoints"``.
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

    Returns:
        A :class:`~cornlib.training.TrainResult` whose stats count the non-pad ``tokens``.

    Raises:
        ValueError: no training examples, neither ``config`` nor ``init_from``, or a checkpoint
            or ``init_from`` model made with another config or tokenizer.
    """
    from cornlib import training

    if not train_ids:
        raise ValueError("no training examples: the corpus (after the held-out split) is empty")
    model = _initial_model(train_ids, tokenizer, config, init_from, seed, unigram_init)
    has_eval = bool(eval_examples)
    recipe = training.Recipe(
        max_steps=max_steps, batch_size=batch_size, learning_rate=learning_rate,
        warmup_steps=warmup_steps, weight_decay=weight_decay,
        evaluate=eval_steps if has_eval else None, log=logging_steps, checkpoint=save_steps,
        resume=resume, checkpoint_dir="checkpoints", keep_checkpoints=True,
        collator=training.MaskingCollator(tokenizer, mlm_probability,
                                          mask_replace_prob=mask_replace_prob,
                                          random_replace_prob=(1 - mask_replace_prob) / 2),
        tokenizer=tokenizer, seed=seed, device=device, progress=progress,
        arguments=dict(adam_beta2=0.98, adam_epsilon=1e-6, max_grad_norm=1.0,
                       save_total_limit=2, train_sampling_strategy="group_by_length",
                       include_num_input_tokens_seen="non_padding"))
    return training.run(model, training.MaskedLMDataset(train_ids, seed=seed),
                        eval_examples if has_eval else None, recipe, output_dir)


def _initial_model(train_ids: list[list[int]], tokenizer, config, init_from, seed: int,
                   unigram_init: bool):
    """A fresh masked LM of ``config`` or the saved one at ``init_from``, checked against the data.

    Raises:
        ValueError: neither is given, the config or model does not match the tokenizer, or an
            example is longer than the model's positions.
    """
    import torch

    from cornlib import models, training

    if init_from is not None:
        with training.quiet_hf_bars():
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


def metrics_record(summary: pd.DataFrame, runs: dict[str, TrainResult], *,
                   intervals: pd.DataFrame | None = None,
                   differences: pd.DataFrame | None = None, **settings: Any) -> dict[str, Any]:
    """The content of ``pretrain/metrics.json``: model size, each run's stats, held-out scores.

    Args:
        summary: from :func:`cornlib.evaluate.mlm.evaluate`.
        runs: run name → :class:`~cornlib.training.TrainResult` of :func:`pretrain`.
        intervals, differences: from :func:`cornlib.evaluate.mlm.bootstrap`, recorded as
            ``heldout_intervals`` and ``heldout_differences`` when given.
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
            "heldout": records,
            **{key: table.replace({np.nan: None}).to_dict(orient="records")
               for key, table in [("heldout_intervals", intervals),
                                  ("heldout_differences", differences)] if table is not None}}


def _last(history: pd.DataFrame, split: str) -> float | None:
    """The last logged loss of one split (``None`` if none was logged)."""
    part = history[history["split"] == split]
    return float(part["loss"].iloc[-1]) if len(part) else None
