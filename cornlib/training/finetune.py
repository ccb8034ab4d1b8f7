"""Fine-tuning an encoder for expression: a recipe on :func:`cornlib.training.run`.

The driver gives every run what a 10,000-gene data set needs: the validation score (mean R²
over targets, and per target) after every epoch, the best epoch's weights kept, early stopping
and a wall-clock budget. This recipe adds progressive unfreezing as real freezing — the head
trains first, then encoder layer groups are unfrozen top-down on a schedule, each with a
learning rate ``layer_decay`` times the one above it — and reverse-complement augmentation
(:class:`StrandCollator`). :func:`cross_species` trains one run per species.

Under ``torchrun --nproc_per_node N`` (or ``accelerate launch``) the ``Trainer`` trains data-
parallel with no change here; ``batch_size`` is then per process, and only rank 0 writes.
"""

from __future__ import annotations

import math
import os
from dataclasses import replace
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import pandas as pd
from torch import nn

from cornlib.training.driver import TrainResult

#: Display name of each fine-tuning run (its folder under ``finetune/``), for every table and
#: legend of the book; a cross-species run ``from_<species>`` shows as ``from <species>``.
RUN_LABELS = {"pretrained": "transformer, pretrained",
              "random_init": "transformer, random init",
              "probe": "transformer, probe",
              "proxy": "transformer, TAIR10 proxy"}

#: The folder of the run fine-tuned on the real proxy alone (:func:`proxy_run`).
PROXY_RUN = "proxy"


def run_label(run: str) -> str:
    """The display name of the run folder ``run`` (:data:`RUN_LABELS`)."""
    if run in RUN_LABELS:
        return RUN_LABELS[run]
    if run.startswith("from_"):
        return "from " + run[len("from_"):]
    if run.startswith("pretrained_") and run[len("pretrained_"):].isdigit():
        return f"transformer, pretrained {int(run[len('pretrained_'):]):,} steps"
    raise ValueError(f"{run!r} is not a fine-tuning run folder: one of {sorted(RUN_LABELS)} "
                     "or from_<species> or pretrained_<steps>")


def layer_groups(model: nn.Module) -> list[tuple[str, list[nn.Parameter]]]:
    """The model's parameters in groups from the top (head) down to the input layers.

    Knows cornlib's regressors: the hybrid (head, encoder layers from the last, stem) and the
    RoBERTa regressor (head, encoder layers from the last, embeddings).
    """
    from cornlib.models import kinds

    kind = kinds.kind_of(model)
    name = kind.name if kind is not None else None
    if name == "hybrid":
        enc = model.hybrid
        groups = [("head", list(model.head.parameters()) + list(enc.norm.parameters()))]
        groups += [(f"layer {i}", list(layer.parameters()))
                   for i, layer in reversed(list(enumerate(enc.layers)))]
        stem = [p for name, p in enc.named_parameters()
                if name.split(".")[0] in {"conv", "proj", "positions"}]
        return groups + [("stem", stem)]
    if name == "cornbert":
        enc = model.roberta
        groups = [("head", list(model.head.parameters()))]
        groups += [(f"layer {i}", list(layer.parameters()))
                   for i, layer in reversed(list(enumerate(enc.encoder.layer)))]
        return groups + [("embeddings", list(enc.embeddings.parameters()))]
    raise ValueError(f"no layer groups known for {type(model).__name__}")


def optimizer(model: nn.Module, learning_rate: float, weight_decay: float,
              layer_decay: float = 1.0):
    """AdamW with one parameter group per layer group; group ``i`` from the top gets
    ``learning_rate * layer_decay**i`` (biases and norms without weight decay)."""
    import torch

    params = []
    for i, (_, group) in enumerate(layer_groups(model)):
        lr = learning_rate * layer_decay ** i
        decay = [p for p in group if p.ndim > 1]
        plain = [p for p in group if p.ndim <= 1]
        params += [{"params": decay, "lr": lr, "weight_decay": weight_decay},
                   {"params": plain, "lr": lr, "weight_decay": 0.0}]
    return torch.optim.AdamW([g for g in params if g["params"]], lr=learning_rate)


def unfreezing_schedule(n_groups: int, every: int | None,
                        head_epochs: int | None = None) -> list[int]:
    """The epoch at which each group (top first) starts training.

    ``every=None`` trains everything from epoch 0, or, with ``head_epochs=h``, the head alone
    for ``h`` epochs and then everything; ``every=k`` starts with the head and unfreezes one more
    group every ``k`` epochs (after ``head_epochs``, which defaults to ``k``); ``every=0`` keeps
    all but the head frozen (a probe).
    """
    if every is None:
        return [0] + [int(head_epochs or 0)] * (n_groups - 1)
    if every < 0:
        raise ValueError(f"unfreeze_every must be None or ≥ 0, got {every}")
    if every == 0:
        return [0] + [10 ** 9] * (n_groups - 1)
    first = every if head_epochs is None else int(head_epochs)
    return [0] + [first + i * every for i in range(n_groups - 1)]


class StrandCollator:
    """Stacks ``input_ids``/``labels`` and reverse-complements each example with probability
    ``rc_probability`` (drawn from a generator seeded with ``seed``)."""

    def __init__(self, rc_probability: float = 0.0, seed: int = 0):
        import torch

        self.p = float(rc_probability)
        self.generator = torch.Generator().manual_seed(int(seed))

    def __call__(self, examples: list[dict]) -> dict:
        import torch

        from cornlib.models.hybrid import reverse_complement_codes

        ids = torch.stack([e["input_ids"] for e in examples])
        labels = torch.stack([e["labels"] for e in examples])
        if self.p > 0:
            flip = torch.rand(len(ids), generator=self.generator) < self.p
            if flip.any():
                ids[flip] = reverse_complement_codes(ids[flip])
        return {"input_ids": ids, "labels": labels}


def finetune(model, train_dataset, eval_dataset, output_dir: str | os.PathLike, *,
             target_names: Sequence[str], data_collator=None, epochs: int = 20,
             batch_size: int = 64, learning_rate: float = 1e-3, weight_decay: float = 0.01,
             warmup_steps: int = 50, scheduler: str = "constant_with_warmup",
             layer_decay: float = 1.0, unfreeze_every: int | None = None,
             head_epochs: int | None = None, patience: int | None = 3, min_delta: float = 0.0,
             max_seconds: float | None = None, seed: int = 0, device: str = "auto",
             threads: int | None = None, progress: bool = False,
             tokenizer=None, resume: bool = False) -> TrainResult:
    """Fine-tune ``model`` on ``train_dataset``, keep its best epoch on ``eval_dataset``, save it.

    Args:
        model: a cornlib regressor (its config records the targets; see
            :mod:`cornlib.models.targets`).
        train_dataset, eval_dataset: map-style datasets of ``input_ids`` and ``labels``.
        output_dir: the model is saved to ``output_dir / "model"``, the curves to
            ``output_dir / "history.parquet"``.
        target_names: the label columns, in order.
        data_collator: batches examples (default: stack, no augmentation).
        epochs, batch_size, learning_rate, weight_decay: AdamW.
        warmup_steps, scheduler: the learning-rate schedule (a ``transformers`` scheduler
            name). The default, constant after a short warm-up, suits runs cut by a time
            budget or early stopping, whose length is not known in advance.
        layer_decay: learning-rate factor from one layer group to the one below it.
        unfreeze_every, head_epochs: see :func:`unfreezing_schedule`.
        patience, min_delta: stop after ``patience`` evaluations without a valid R² more than
            ``min_delta`` above the last counted improvement (``patience=None``: never).
        max_seconds: wall-clock budget for training (None: none).
        seed: batch order and dropout (the initial weights come with ``model``, see
            :func:`initial_model`; a collator draws from its own seed).
        device: ``auto``, ``cpu`` or ``cuda``; threads: torch threads while training.
        tokenizer: saved beside a token model.
        resume: checkpoint every epoch in ``output_dir / "trainer"`` (with the best epoch's
            weights) and continue from the newest checkpoint there when one exists; the folder
            is removed when training ends. Without it nothing is written until the end.

    Returns:
        The :class:`~cornlib.training.TrainResult` of :func:`cornlib.training.run`, with the
        unfreezing ``schedule`` and a ``trainable`` column (parameter groups trained) in its
        history.
    """
    from cornlib import training
    from cornlib.training.hf import Unfreeze

    groups = layer_groups(model)
    starts = unfreezing_schedule(len(groups), unfreeze_every, head_epochs)
    steps_per_epoch = max(1, -(-len(train_dataset) // batch_size))
    recipe = training.Recipe(
        epochs=epochs, batch_size=batch_size, learning_rate=learning_rate,
        weight_decay=weight_decay, warmup_steps=int(warmup_steps), scheduler=scheduler,
        eval_batch_size=4 * batch_size, evaluate="epoch", log=max(1, steps_per_epoch // 4),
        checkpoint="epoch" if resume else None, resume=resume,
        arguments={"save_total_limit": 1} if resume else {}, collator=data_collator,
        tokenizer=tokenizer, target_names=list(target_names), keep_best="eval_r2",
        patience=patience, min_delta=min_delta, max_seconds=max_seconds,
        optimizer=lambda m: optimizer(m, learning_rate, weight_decay, layer_decay),
        callbacks=[Unfreeze(groups, starts)],
        annotate=lambda history: _trainable(history, starts), seed=seed, device=device,
        threads=threads, progress=progress)
    result = training.run(model, train_dataset, eval_dataset, recipe, output_dir)
    schedule = pd.DataFrame({"group": [g for g, _ in groups], "epoch": starts,
                             "learning_rate": [learning_rate * layer_decay ** i
                                               for i in range(len(groups))]})
    return replace(result, schedule=schedule)


def _trainable(history: pd.DataFrame, starts: list[int]) -> pd.DataFrame:
    """``history`` with ``trainable``: the parameter groups trained during the epoch each row
    falls in (a row at epoch 1.0 ends epoch 0)."""
    def trained(epoch) -> int:
        index = max(0, math.ceil(epoch) - 1) if pd.notna(epoch) else 0
        return sum(1 for s in starts if s <= index)

    return history.assign(trainable=[trained(e) for e in history["epoch"]])


def code_datasets(data, seq_length: int, targets: Sequence[str] | None = None,
                  sequences: Sequence[str] | None = None) -> dict[str, Any]:
    """Base-code datasets of the train, valid and test genes of ``data`` (a
    :class:`cornlib.dataset.ModellingData`): ``{split: ArrayDataset}``, TSS end aligned.

    Genes missing a target keep NaN labels (the loss masks them); ``sequences`` replaces the
    promoters (aligned with ``data.table``).
    """
    from cornlib import sequence
    from cornlib.training import ArrayDataset

    targets = list(data.tissues if targets is None else targets)
    table = data.table
    seqs = table["sequence"].tolist() if sequences is None else list(sequences)
    codes = sequence.encode_fixed(seqs, length=seq_length, align="end")
    y = table[targets].to_numpy(np.float32)
    return {s: ArrayDataset(codes[(table["split"] == s).to_numpy()],
                            y[(table["split"] == s).to_numpy()])
            for s in ("train", "valid", "test")}


def target_fields(data, targets: Sequence[str] | None = None) -> dict[str, Any]:
    """Config fields recording the targets: names, training mean/std and units."""
    from cornlib.models.targets import fit_scaling

    targets = list(data.tissues if targets is None else targets)
    y = data.table.loc[data.table["split"] == "train", targets].to_numpy(float)
    return {**fit_scaling(y, targets), "target_transform": data.card.get("units")}


def species_datasets(data, seq_length: int, species: str,
                     targets: Sequence[str] | None = None) -> dict[str, Any]:
    """:func:`code_datasets` restricted to one species' genes (train and valid of that species;
    test of every other species), for cross-species training."""
    from dataclasses import replace

    known = sorted(data.table["species"].unique())
    if species not in known:
        raise ValueError(f"no gene of species {species!r}; species: {known}")
    table = data.table
    mine = table["species"] == species
    keep = (mine & table["split"].isin(["train", "valid"])) | (~mine & (table["split"] == "test"))
    part = replace(data, table=table[keep].reset_index(drop=True))
    return code_datasets(part, seq_length, targets)


def head_fields(data, *, dropout: float = 0.1, loss: str = "mse",
                targets: Sequence[str] | None = None) -> dict[str, Any]:
    """The regression head's config fields: ``n_targets``, the targets' names, scaling and
    units (:func:`target_fields`), ``head_dropout``, ``loss`` and how the promoters were cut
    (``promoter_settings``, ``None`` when the data records none)."""
    targets = list(data.tissues if targets is None else targets)
    return {"n_targets": len(targets), **target_fields(data, targets),
            "head_dropout": dropout, "loss": loss,
            "promoter_settings": getattr(data, "promoter_settings", None) or None}


def initial_model(head: dict[str, Any], *, encoder: str | os.PathLike | None = None,
                  config=None, seed: int = 0):
    """A hybrid regressor with the head ``head`` (:func:`head_fields`) drawn from ``seed``:
    on the pretrained ``encoder`` (a masked-LM folder; the load is checked by
    :func:`cornlib.models.encoders.regressor_from_mlm`), or with fresh weights of ``config``.

    Raises:
        ValueError: neither or both of ``encoder`` and ``config``.
    """
    from cornlib.models import encoders, hybrid
    from cornlib.training import seeded

    if (encoder is None) == (config is None):
        raise ValueError("pass encoder= (a pretrained masked LM) or config= (fresh weights)")
    if config is not None:
        return hybrid.regressor(config, seed=seed, **head)
    with seeded(seed):
        return encoders.regressor_from_mlm(encoder, **head)[0]


def cross_species(data, out_dir: str | os.PathLike, start: Callable[[], Any], *,
                  seq_length: int, **kwargs: Any) -> dict[str, TrainResult]:
    """Train one model per species on that species' train and valid genes (the test genes of
    the other species are left for evaluation; see :func:`species_datasets`).

    Args:
        data: a :class:`cornlib.dataset.ModellingData` with at least two species.
        out_dir: the runs go to ``out_dir / "from_<species>"``.
        start: builds each run's initial model (e.g. ``lambda: initial_model(...)``).
        seq_length: bases per input.
        **kwargs: :func:`finetune`'s options (``target_names`` defaults to the tissues).

    Returns:
        ``{"from_<species>": result}``, species in sorted order; empty with one species.
    """
    kwargs.setdefault("target_names", list(data.tissues))
    species = sorted(data.table["species"].unique())
    runs = {}
    for source in species if len(species) > 1 else []:
        part = species_datasets(data, seq_length, source)
        runs[f"from_{source}"] = finetune(start(), part["train"], part["valid"],
                                          Path(out_dir) / f"from_{source}", **kwargs)
    return runs


def finetune_seeds(out_dir: str | os.PathLike, start: Callable[[int], Any], train_dataset,
                   eval_dataset, seeds: Sequence[int], *, rc: float = 0.0, device: str = "auto",
                   threads: int | None = None, **kwargs: Any) -> dict[int, TrainResult]:
    """Fine-tune one model per seed into ``out_dir / "seed_<s>"`` and keep the best on valid.

    ``start(seed)`` builds each run's initial model (e.g. ``lambda s: initial_model(head,
    config=config, seed=s)``); the batch order, dropout and strand flips (:class:`StrandCollator`
    with share ``rc``) are drawn from the same seed. The runs go side by side on a CPU
    (:func:`cornlib.training.seeds.run_seeds`); the best seed's model is copied to
    ``out_dir / "model"`` and every seed's run recorded in ``out_dir / "seeds.json"``
    (:func:`cornlib.training.seeds.keep_best`).

    Args:
        **kwargs: :func:`finetune`'s options (all but ``seed``, ``data_collator``, ``threads``).

    Returns:
        ``{seed: result}``.
    """
    from cornlib.training import seeds as seeding

    out_dir = Path(out_dir)
    if not kwargs.get("resume"):  # no files of an earlier build in the run's folder
        import shutil

        shutil.rmtree(out_dir, ignore_errors=True)

    def one(seed: int, n_threads: int | None) -> TrainResult:
        return finetune(start(seed), train_dataset, eval_dataset, out_dir / f"seed_{seed}",
                        data_collator=StrandCollator(rc, seed), seed=seed, device=device,
                        threads=n_threads, **kwargs)

    results = seeding.run_seeds(one, seeds, device=device, threads=threads)
    seeding.keep_best(results, out_dir)
    return results


def proxy_run(data, out_dir: str | os.PathLike, head: dict[str, Any],
              start: Callable[[dict[str, Any]], Any], *, seq_length: int,
              **kwargs: Any) -> dict[str, TrainResult]:
    """Fine-tune one model on the real proxy alone (a separate label, defined for the
    *A. thaliana* genes only), as chapter 04 fits each baseline on it apart from the tissues.

    The model reads the genes that have the proxy; its head is ``head`` (:func:`head_fields`)
    with the proxy as the one target, scaled on those genes' training values.

    Args:
        data: a :class:`cornlib.dataset.ModellingData`.
        out_dir: the run goes to ``out_dir / "proxy"``.
        head: the tissues' head fields (dropout and loss are kept).
        start: builds the initial model from a head (e.g.
            ``lambda h: initial_model(h, encoder=...)``).
        seq_length: bases per input.
        **kwargs: :func:`finetune`'s options (``target_names`` is set to the proxy).

    Returns:
        ``{"proxy": result}``; empty when the data have no proxy, and empty with a
        :class:`cornlib.CornlibWarning` when a split has fewer than 2 genes with it (the rule of
        :func:`cornlib.baselines.target_groups`).
    """
    import warnings
    from dataclasses import replace

    from cornlib import CornlibWarning

    if not data.proxy:
        return {}
    table = data.table
    has = table[data.proxy].notna()
    counts = {s: int((has & (table["split"] == s)).sum()) for s in ("train", "valid", "test")}
    short = {s: c for s, c in counts.items() if c < 2}
    if short:
        warnings.warn(f"no transformer is fine-tuned on the proxy: too few genes with it in "
                      f"{short}", CornlibWarning, stacklevel=2)
        return {}
    part = replace(data, table=table[has].reset_index(drop=True))
    sets = code_datasets(part, seq_length, [data.proxy])
    proxy_head = {**head, "n_targets": 1, **target_fields(part, [data.proxy])}
    kwargs["target_names"] = [data.proxy]
    return {PROXY_RUN: finetune(start(proxy_head), sets["train"], sets["valid"],
                                Path(out_dir) / PROXY_RUN, **kwargs)}


def load_report(encoder: str | os.PathLike, head: dict[str, Any]) -> pd.DataFrame:
    """What putting the head ``head`` on the pretrained ``encoder`` changes, as a table: one
    row per parameter, ``new`` (the regression head) or ``dropped`` (the masked-LM head); the
    encoder's own weights are all kept (:func:`cornlib.models.encoders.regressor_from_mlm`
    checks it)."""
    from cornlib.models import encoders

    _, report = encoders.regressor_from_mlm(encoder, **head)
    rows = ([(k, "new (regression head)") for k in report["missing"]]
            + [(k, "dropped (masked-LM head)") for k in report["unexpected"]])
    return pd.DataFrame(rows, columns=["parameter", "status"]).set_index("parameter")


def labelled(runs: dict[str, Any]) -> dict[str, Any]:
    """``runs`` keyed by folder name, re-keyed by display name (:func:`run_label`); a run
    trained with several seeds (a ``{seed: result}`` dict) gives one entry per seed,
    ``"<label>, seed <s>"``."""
    out = {}
    for name, r in runs.items():
        if isinstance(r, dict):
            out.update({f"{run_label(name)}, seed {s}": one for s, one in r.items()})
        else:
            out[run_label(name)] = r
    return out


#: The stats :func:`runs_table` shows.
RUN_COLUMNS = ("best_valid_r2", "best_epoch", "epochs_run", "seconds", "stopped_by")


def runs_table(runs: dict[str, TrainResult]) -> pd.DataFrame:
    """One row per run (``runs`` keyed by folder name; rows named by :func:`run_label`): its
    best valid R², best epoch, epochs run, seconds and why it stopped."""
    from cornlib.training import stats_table

    return stats_table(labelled(runs), RUN_COLUMNS)



def best_run(finetune_dir: str | os.PathLike, runs: Sequence[str] | None = None
             ) -> tuple[str, Path, pd.Series]:
    """The fine-tuning run with the best validation R² (chosen on ``valid``, never ``test``):
    its name, its model folder and every run's best valid R² (the mean over its seeds when it
    was trained with several, :func:`finetune_seeds`). ``runs``: the arms compared (default:
    ``pretrained`` and ``random_init``, those of them that were trained).

    Raises:
        FileNotFoundError: a run has no ``valid_r2.parquet`` (naming it and the chapter that
            writes it).
    """
    import json

    from cornlib import artifacts

    finetune_dir = Path(finetune_dir)
    if runs is None:  # the arms chapter 07 trained: random_init always, pretrained if asked
        runs = [r for r in ("pretrained", "random_init") if (finetune_dir / r).is_dir()]
        runs = runs or ["random_init"]
    scores = {}
    for run in runs:
        seeds = finetune_dir / run / "seeds.json"
        if seeds.is_file():  # several seeds: the mean of their best valid R²
            record = json.loads(seeds.read_text())["runs"]
            scores[run] = float(np.mean([r["best_valid_r2"] for r in record.values()]))
            continue
        path = finetune_dir / run / "valid_r2.parquet"
        if not path.is_file():
            raise FileNotFoundError(f"{path} is missing; "
                                    f"{artifacts.how_to_make('finetune/*/valid_r2.parquet')}")
        scores[run] = float(pd.read_parquet(path)["r2"].max())
    best = max(scores, key=scores.get)
    return best, finetune_dir / best / "model", pd.Series(scores, name="best valid R²")
