"""The baselines to beat: sklearn pipelines (mean, nucleotide/k-mer ridge, motif boosting) and a CNN.

Every baseline is trained on ``train``, tuned on ``valid`` (the setting with the best mean
valid R² over the targets of a group), and predicts ``test`` once. Targets come in groups: the
expression tissues together (multi-output), and the real proxy alone (its genes are the
*A. thaliana* subset). Each ``fit_*`` returns a :class:`BaselineFit` whose ``predictions`` are a
long table (``model, gene_id, species, target, y_true, y_pred``) for
:func:`cornlib.evaluate.metrics.evaluate_predictions`. ``sequences=`` replaces the promoters (aligned
with ``data.table``), e.g. by dinucleotide shuffles for the composition-only control. The
oracle (:func:`fit_oracle`) reads the simulation's true sites instead of the sequence.
"""

from __future__ import annotations

import os
import shutil
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import pandas as pd

from cornlib import CornlibWarning, features, sequence
from cornlib.dataset import ModellingData
from cornlib.evaluate import metrics
from cornlib.evaluate.predictions import COLUMNS as PREDICTION_COLUMNS  # noqa: F401  (re-exported)
from cornlib.features import (  # noqa: F401  (re-exported: chapter 04 calls baselines.*)
    motif_features,
    oracle_features,
    pick_motifs,
)
from cornlib.runtime import limit_threads

#: Columns of :attr:`BaselineFit.tuning`.
TUNING_COLUMNS = ("model", "group", "setting", "valid_r2", "chosen")
#: Name of the tissues' target group (:func:`target_groups`).
TISSUES = "tissues"


@dataclass
class BaselineFit:
    """A fitted baseline.

    Attributes:
        model: the baseline's name (``kmer_ridge``...).
        predictions: test-set predictions, columns
            :data:`cornlib.evaluate.predictions.COLUMNS`.
        tuning: one row per group and candidate setting with its mean valid R²
            (columns :data:`TUNING_COLUMNS`).
        estimators: ``{group: fitted estimator}`` (sklearn pipelines from sequences, per-target
            boosting models, or the CNN's model directory).
    """

    model: str
    predictions: pd.DataFrame
    tuning: pd.DataFrame
    estimators: dict[str, Any] = field(default_factory=dict)


def target_groups(data: ModellingData) -> dict[str, list[str]]:
    """``{"tissues": [...], "proxy": ["proxy"]}``.

    The proxy group is left out, with a :class:`cornlib.CornlibWarning`, when it was not loaded
    or when a split has fewer than 2 genes with the proxy (e.g. *A. thaliana* held out whole).
    """
    groups = {TISSUES: list(data.tissues)}
    if data.proxy:
        has = data.table[data.proxy].notna()
        counts = {s: int((has & (data.table["split"] == s)).sum()) for s in ("train", "valid", "test")}
        short = {s: c for s, c in counts.items() if c < 2}
        if short:
            warnings.warn(f"the proxy is left out of the baselines: too few genes with it in {short}",
                          CornlibWarning, stacklevel=3)
        else:
            groups["proxy"] = [data.proxy]
    return groups


def _rows(data: ModellingData, split: str, targets: Sequence[str]) -> np.ndarray:
    """Row positions in ``data.table`` of one split's genes that have every target."""
    t = data.table
    mask = (t["split"] == split).to_numpy() & t[list(targets)].notna().all(axis=1).to_numpy()
    rows = np.flatnonzero(mask)
    if len(rows) == 0:
        raise ValueError(f"no {split} genes have targets {list(targets)}; check the split and targets")
    return rows


def _sequences(data: ModellingData, sequences: Sequence[str] | None) -> list[str]:
    """The promoters of ``data.table``, or a replacement aligned with it."""
    if sequences is None:
        return data.table["sequence"].tolist()
    sequences = list(sequences)
    if len(sequences) != len(data.table):
        raise ValueError(f"{len(sequences)} replacement sequences for {len(data.table)} table rows; "
                         "pass one per row of data.table, in its order")
    return sequences


def _take(X, rows: np.ndarray):
    """Rows of a dense array, sparse matrix or DataFrame."""
    return X.iloc[rows] if isinstance(X, pd.DataFrame) else X[rows]


def _long(model: str, data: ModellingData, rows: np.ndarray, targets: Sequence[str],
          pred: np.ndarray, seed: int = 0) -> pd.DataFrame:
    """Long-form predictions of ``targets`` for the genes at ``rows`` (one training run)."""
    t = data.table.iloc[rows]
    pred = np.asarray(pred, dtype=float).reshape(len(rows), len(targets))
    parts = [pd.DataFrame({"model": model, "seed": int(seed), "gene_id": t["gene_id"].to_numpy(),
                           "species": t["species"].to_numpy(), "target": name,
                           "y_true": t[name].to_numpy(float), "y_pred": pred[:, j]})
             for j, name in enumerate(targets)]
    return pd.concat(parts, ignore_index=True)


def fit_sklearn(data: ModellingData, model: str, X, make: Callable[[Any], Any],
                grid: Sequence[Any], *, featurize: Callable | None = None,
                threads: int | None = None, only: Sequence[str] | None = None) -> BaselineFit:
    """Fit ``make(setting)`` for every setting of ``grid`` on train, keep the best on valid.

    Args:
        data: the modelling table.
        model: name of the baseline.
        X: features of every row of ``data.table`` (array, sparse matrix or DataFrame).
        make: builds an unfitted multi-output sklearn estimator from one setting.
        grid: candidate settings (e.g. ridge alphas).
        featurize: sequences → ``X``; when given, each kept estimator is returned as a pipeline
            ``featurize → estimator`` that predicts from sequences.
        threads: BLAS/OpenMP thread limit while fitting (see :func:`cornlib.runtime.limit_threads`).
        only: fit only these target groups of :func:`target_groups` (default: all).

    Returns:
        A :class:`BaselineFit`; test is predicted once per group, by the chosen setting.
    """
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import FunctionTransformer

    if len(grid) == 0:
        raise ValueError(f"{model}: the grid of settings is empty")
    preds, tuning, estimators = [], [], {}
    groups = target_groups(data)
    unknown = sorted(set(only or []) - set(groups))
    if unknown:
        raise ValueError(f"{model}: unknown target groups {unknown}; known: {sorted(groups)}")
    for group, targets in groups.items():
        if only is not None and group not in only:
            continue
        tr, va, te = (_rows(data, s, targets) for s in ("train", "valid", "test"))
        y_tr = data.table[targets].to_numpy(float)[tr]
        y_va = data.table[targets].to_numpy(float)[va]
        best, best_score, scores = None, -np.inf, []
        for setting in grid:
            with limit_threads(threads):
                est = make(setting).fit(_take(X, tr), y_tr if len(targets) > 1 else y_tr[:, 0])
                score = metrics.mean_r2(y_va, est.predict(_take(X, va)))
            scores.append(score)
            if score > best_score or best is None:
                best, best_score, chosen = est, score, setting
        tuning += [(model, group, repr(s), sc, s is chosen) for s, sc in zip(grid, scores)]
        preds.append(_long(model, data, te, targets, best.predict(_take(X, te))))
        if featurize is not None:
            best = Pipeline([("features", FunctionTransformer(featurize)), ("model", best)])
        estimators[group] = best
    return BaselineFit(model, pd.concat(preds, ignore_index=True),
                       pd.DataFrame(tuning, columns=list(TUNING_COLUMNS)), estimators)


def _ridge(alpha: float):
    """Standardised features → ridge regression."""
    from sklearn.linear_model import Ridge
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return make_pipeline(StandardScaler(), Ridge(alpha=float(alpha)))


def fit_mean(data: ModellingData, *, model: str = "mean") -> BaselineFit:
    """Predict each target's training mean (sklearn ``DummyRegressor``)."""
    from sklearn.dummy import DummyRegressor

    X = np.zeros((len(data.table), 1))
    return fit_sklearn(data, model, X, lambda _: DummyRegressor(strategy="mean"), [None])


def fit_nucleotide_ridge(data: ModellingData, alphas: Sequence[float], *,
                         sequences: Sequence[str] | None = None, threads: int | None = None,
                         model: str = "nucleotide_ridge") -> BaselineFit:
    """Ridge on the bag of nucleotides (A, C, G, T, N fractions): FloraBERT's baseline."""
    X = features.composition(_sequences(data, sequences))
    return fit_sklearn(data, model, X, _ridge, list(alphas), featurize=features.composition,
                       threads=threads)


def fit_kmer_ridge(data: ModellingData, alphas: Sequence[float], *, k_max: int = 6,
                   canonical: bool = True, sequences: Sequence[str] | None = None,
                   threads: int | None = None, model: str = "kmer_ridge") -> BaselineFit:
    """Ridge on the k-mer spectrum (length-normalised frequencies of every k in 1..k_max)."""
    import functools

    featurize = functools.partial(features.kmer_spectrum, k_max=k_max, canonical=canonical)
    X = featurize(_sequences(data, sequences))
    return fit_sklearn(data, model, X, _ridge, list(alphas), featurize=featurize, threads=threads)


def fit_oracle(data: ModellingData, X: pd.DataFrame, alphas: Sequence[float], *,
               threads: int | None = None, model: str = "oracle") -> BaselineFit:
    """Ridge on :func:`oracle_features` (the true sites), tissues only; no sequence model can
    know more of these sites, so its score shows how much of the noise ceiling they allow."""
    if len(X) != len(data.table):
        raise ValueError(f"X has {len(X)} rows for {len(data.table)} table rows")
    return fit_sklearn(data, model, X, _ridge, list(alphas), threads=threads, only=["tissues"])


def fit_motif_gbm(data: ModellingData, X: pd.DataFrame, *, max_iter: int = 200,
                  learning_rate: float = 0.1, max_leaf_nodes: int = 15, seed: int = 0,
                  threads: int | None = None, model: str = "motif_gbm") -> BaselineFit:
    """Gradient boosting (``HistGradientBoostingRegressor``), one model per target.

    The number of boosting iterations is tuned on valid: each model is fitted with ``max_iter``
    trees (no early stopping, so the first ``n`` trees are exactly the model ``max_iter=n``)
    and ``staged_predict`` scores every prefix on valid; test is predicted once, by the best
    prefix. ``X`` holds the features of every row of ``data.table`` (see :func:`motif_features`).
    """
    from sklearn.ensemble import HistGradientBoostingRegressor

    if len(X) != len(data.table):
        raise ValueError(f"X has {len(X)} rows for {len(data.table)} table rows")
    preds, tuning, estimators = [], [], {}
    for group, targets in target_groups(data).items():
        tr, va, te = (_rows(data, s, targets) for s in ("train", "valid", "test"))
        out, fitted = np.empty((len(te), len(targets))), {}
        for j, name in enumerate(targets):
            y = data.table[name].to_numpy(float)
            est = HistGradientBoostingRegressor(max_iter=max_iter, learning_rate=learning_rate,
                                                max_leaf_nodes=max_leaf_nodes, early_stopping=False,
                                                random_state=seed)
            with limit_threads(threads):
                est.fit(X.iloc[tr], y[tr])
                curve = [metrics.mean_r2(y[va][:, None], p) for p in est.staged_predict(X.iloc[va])]
                n_best = int(np.argmax(curve)) + 1
                out[:, j] = next(p for n, p in enumerate(est.staged_predict(X.iloc[te]), start=1)
                                 if n == n_best)
            tuning += [(model, name, f"max_iter={n}", sc, n == n_best)
                       for n, sc in enumerate(curve, start=1) if n % 10 == 0 or n == n_best]
            fitted[name] = (est, n_best)
        preds.append(_long(model, data, te, targets, out))
        estimators[group] = fitted
    return BaselineFit(model, pd.concat(preds, ignore_index=True),
                       pd.DataFrame(tuning, columns=list(TUNING_COLUMNS)), estimators)




def fit_cnn(data: ModellingData, output_dir: str | os.PathLike, *, seq_length: int = 1000,
            channels: Sequence[int] = (32,), kernel_sizes: Sequence[int] = (15,),
            pool_sizes: Sequence[int] = (1,), global_pool: str = "max", hidden_size: int = 64,
            hidden_activation: str = "gelu", dropout: float = 0.2, epochs: int = 40, patience: int | None = 3,
            min_delta: float = 0.0, batch_size: int = 64,
            learning_rate: float = 5e-3, weight_decay: float = 1e-4,
            seed: int = 0, seeds: Sequence[int] | None = None,
            one_seed: Sequence[str] = (), device: str = "auto",
            threads: int | None = None, sequences: Sequence[str] | None = None,
            model: str = "cnn") -> BaselineFit:
    """Train :class:`cornlib.models.cnn.PromoterCNN` per target group and seed
    (:func:`cornlib.training.cnn.train`) and predict test once per run, through its predictor.

    Sequences are padded/cropped to ``seq_length`` with the TSS end aligned. Valid is scored
    after every epoch; a run ends when ``patience`` epochs bring no better mean valid R² (or at
    ``epochs``), with the weights of its best epoch. Each run goes to
    ``output_dir/<group>/seed_<s>`` (``model/``, ``history.parquet``...); the seeds run side by
    side on a CPU (:func:`cornlib.training.seeds.run_seeds`), and the best seed on valid is
    copied to ``output_dir/<group>/model`` (:func:`cornlib.training.seeds.keep_best`).

    Args:
        data: the modelling table.
        output_dir: where the runs go.
        seq_length, channels, kernel_sizes, pool_sizes, global_pool: the convolutions
            (:class:`cornlib.models.cnn.PromoterCNNConfig`).
        hidden_size, hidden_activation, dropout: the dense layer (the same config).
        epochs, patience, min_delta, batch_size, learning_rate: optimisation
            (AdamW with ``weight_decay``, linear decay over ``epochs``, early
            stopping after ``patience`` epochs without a valid R² ``min_delta`` above the last
            improvement; :func:`cornlib.training.cnn.train`).
        weight_decay: AdamW's weight decay.
        seed, seeds: the seeds of the runs (initial weights, batch order and dropout);
            ``seeds=None`` trains ``seed`` alone.
        one_seed: target groups trained with the first seed only (e.g. ``["proxy"]``, a
            label no model predicts, where more runs would answer nothing).
        device: ``auto``, ``cpu`` or ``cuda``.
        threads: torch threads of a run (``None``: the cores shared among the seeds).
        sequences: replacement sequences aligned with ``data.table`` (e.g. shuffles).
        model: name of the baseline.

    Returns:
        A :class:`BaselineFit`: one tuning row per group, seed and epoch (its valid R²), test
        predictions of every seed (column ``seed``), ``estimators`` ``{group: model folder of
        the best seed}``.
    """
    from cornlib.models import cnn, predictor
    from cornlib.training import cnn as recipe
    from cornlib.training import seeds as seeding

    output_dir = Path(output_dir)
    seeds = [int(seed)] if seeds is None else [int(s) for s in seeds]
    seqs = _sequences(data, sequences)
    codes = sequence.encode_fixed(seqs, length=seq_length, align="end")
    preds, tuning, estimators = [], [], {}
    for group, targets in target_groups(data).items():
        tr, va, te = (_rows(data, s, targets) for s in ("train", "valid", "test"))
        y = data.table[targets].to_numpy(np.float32)
        mean, std = y[tr].mean(axis=0), y[tr].std(axis=0)
        if (std <= 0).any():
            raise ValueError(f"{model}: a target of group {group!r} is constant on train")
        config = cnn.PromoterCNNConfig(
            seq_length=seq_length, n_targets=len(targets), channels=list(channels),
            kernel_sizes=list(kernel_sizes), pool_sizes=list(pool_sizes), global_pool=global_pool,
            hidden_size=hidden_size, hidden_activation=hidden_activation, dropout=dropout,
            target_names=list(targets),
            target_mean=mean.tolist(), target_std=std.tolist(),
            target_transform=data.card.get("units"),
            promoter_settings=getattr(data, "promoter_settings", None) or None)
        train_x, train_y, valid_x, valid_y = codes[tr], y[tr], codes[va], y[va]

        def train(s: int, n_threads: int | None, config=config, group=group, train_x=train_x,
                  train_y=train_y, valid_x=valid_x, valid_y=valid_y):
            return recipe.train(config, train_x, train_y, valid_x, valid_y,
                                output_dir / group / f"seed_{s}", epochs=epochs,
                                patience=patience, min_delta=min_delta,
                                batch_size=batch_size,
                                learning_rate=learning_rate, weight_decay=weight_decay, seed=s,
                                device=device, threads=n_threads)

        shutil.rmtree(output_dir / group, ignore_errors=True)  # no files of an earlier fit
        runs = seeding.run_seeds(train, seeds[:1] if group in one_seed else seeds,
                                 device=device, threads=threads)
        seeding.keep_best(runs, output_dir / group)
        for s, run in runs.items():
            scores = run.per_target
            best = scores["epoch"].iloc[int(np.nanargmax(scores["r2"].to_numpy()))]
            tuning += [(model, group, f"seed={s}, epoch={e:g}", r2, e == best)
                       for e, r2 in zip(scores["epoch"], scores["r2"])]
            with limit_threads(threads, torch=True):
                test = predictor.from_model(run.model).predict(
                    [seqs[i] for i in te], data.table["gene_id"].iloc[te],
                    batch_size=4 * batch_size, device=device, progress=False)
            preds.append(_long(model, data, te, targets, test.to_numpy(), seed=s))
        estimators[group] = output_dir / group / "model"
    return BaselineFit(model, pd.concat(preds, ignore_index=True),
                       pd.DataFrame(tuning, columns=list(TUNING_COLUMNS)), estimators)


#: How :func:`choose_on_valid` picks the reference baseline (the criterion that chooses the
#: book's transformer too, :func:`cornlib.training.finetune.best_run`).
SELECTION_CRITERION = "mean valid R² over the simulated tissues"


def valid_scores(tuning: pd.DataFrame, targets: Sequence[str]) -> pd.Series:
    """Each model's mean valid R² over ``targets`` (the tissues), at its chosen settings.

    Read from the tuning table (:data:`TUNING_COLUMNS`): a model fitted on the tissues together
    has one chosen row of group :data:`TISSUES` per seed (its ``valid_r2`` is already the mean
    over the tissues; several seeds are averaged, as their test scores are); a model fitted per
    target (motif boosting) has one chosen row per tissue, and
    their mean is taken. Proxy rows are left out.

    Args:
        tuning: the stacked tuning tables (:func:`combine`).
        targets: the tissues, e.g. ``data.tissues``.

    Returns:
        ``valid_r2`` per model, in the table's order.

    Raises:
        ValueError: a model has neither form, both, or lacks some tissues.
    """
    missing = sorted(set(TUNING_COLUMNS) - set(tuning.columns))
    if missing:
        raise ValueError(f"the tuning table lacks columns {missing}; pass the tuning of "
                         "cornlib.baselines.combine")
    targets = list(targets)
    chosen = tuning[tuning["chosen"].astype(bool)]
    scores = {}
    for model, rows in chosen.groupby("model", sort=False):
        joint = rows.loc[rows["group"] == TISSUES, "valid_r2"]
        single = rows[rows["group"].isin(targets)].set_index("group")["valid_r2"]
        if len(joint) >= 1 and single.empty:
            scores[model] = float(joint.mean())
        elif joint.empty and sorted(single.index) == sorted(targets):
            scores[model] = float(single.mean())
        else:
            raise ValueError(
                f"{model}: its chosen tuning rows cover neither the group {TISSUES!r} once nor "
                f"each tissue once (groups: {sorted(rows['group'])}; tissues: {targets})")
    return pd.Series(scores, name="valid_r2", dtype=float).rename_axis("model")


def choose_on_valid(scores: pd.Series, exclude: Sequence[str] = ("oracle",)) -> str:
    """The model with the highest valid score (:func:`valid_scores`), ``exclude`` aside (the
    oracle reads the true sites, so it is a reference, not a baseline)."""
    eligible = scores.drop(list(exclude), errors="ignore").dropna()
    if eligible.empty:
        raise ValueError(f"no model with a valid score to choose from (excluded: {list(exclude)})")
    return str(eligible.idxmax())


def selection_record(scores: pd.Series, chosen: str) -> dict[str, Any]:
    """What chapter 04 writes about its reference baseline (``baselines/selection.json``):
    the chosen model, its valid score, the criterion and every model's valid score."""
    if chosen not in scores.index:
        raise ValueError(f"{chosen!r} has no valid score; models: {list(scores.index)}")
    return {"reference": chosen, "split": "valid", "criterion": SELECTION_CRITERION,
            "valid_r2": float(scores[chosen]),
            "valid_scores": {m: float(v) for m, v in scores.items()}}


def combine(fits: Sequence[BaselineFit]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Stack the predictions and the tuning tables of several fits (names must be unique)."""
    names = [f.model for f in fits]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise ValueError(f"baseline names repeat: {dup}; give each fit its own model= name")
    return (pd.concat([f.predictions for f in fits], ignore_index=True),
            pd.concat([f.tuning for f in fits], ignore_index=True))


def summary(results: pd.DataFrame, metric: str = "pearson_r2", *,
            targets: Sequence[str] | None = None, digits: int = 3) -> pd.DataFrame:
    """A model × target table of ``value [ci_low, ci_high]`` strings for one metric.

    ``targets`` picks and orders the columns (those absent from ``results`` are skipped);
    undefined values (a constant prediction's correlation) show as ``—``.
    """
    sub = results[results["metric"] == metric]
    if sub.empty:
        raise ValueError(f"no rows for metric {metric!r}; metrics present: "
                         f"{sorted(results['metric'].unique())}")
    fmt = f"{{:.{digits}f}}"
    text = sub.apply(lambda r: f"{fmt.format(r['value'])} [{fmt.format(r['ci_low'])}, "
                               f"{fmt.format(r['ci_high'])}]" if np.isfinite(r["value"]) else "—",
                     axis=1)
    table = sub.assign(text=text).pivot(index="model", columns="target", values="text")
    models = list(dict.fromkeys(sub["model"]))
    present = list(dict.fromkeys(sub["target"]))
    columns = present if targets is None else [t for t in targets if t in present]
    return table.loc[models, columns]


def difference_summary(differences: pd.DataFrame, *, target: str = "overall",
                       metric: str = "pearson_r2", digits: int = 3) -> pd.DataFrame:
    """One row per reference and model: ``model − reference [ci_low, ci_high]``, the share of
    resamples above 0 and the verdict (:func:`cornlib.evaluate.metrics.verdict`).

    Args:
        differences: :func:`cornlib.evaluate.metrics.paired_differences`.
        target, metric: the rows to show.
        digits: decimals of the difference.
    """
    sub = differences[(differences["target"] == target) & (differences["metric"] == metric)]
    if sub.empty:
        raise ValueError(f"no differences for target {target!r} and metric {metric!r}")
    fmt = f"{{:+.{digits}f}}"
    higher = metric not in ("mse", "mae")

    def text(r) -> str:
        return (f"{fmt.format(r['value'])} [{fmt.format(r['ci_low'])}, {fmt.format(r['ci_high'])}]"
                if np.isfinite(r["value"]) else "—")

    return pd.DataFrame({
        "reference": sub["reference"].to_numpy(), "model": sub["model"].to_numpy(),
        "difference [CI]": sub.apply(text, axis=1).to_numpy(),
        "share > 0": sub["share_positive"].round(3).to_numpy(),
        "verdict": [metrics.verdict(lo, hi, higher_is_better=higher)
                    for lo, hi in zip(sub["ci_low"], sub["ci_high"])],
    }).set_index(["reference", "model"])

