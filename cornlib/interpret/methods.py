"""Every importance method of the book on one model and one set of genes, side by side.

:func:`importance` runs them and returns per-position scores ``(N, L_max, T)`` under one name
each, so that :mod:`cornlib.interpret.recovery` can score them alike and :func:`agreement` can
compare each with mutagenesis (the reference: it measures what the model does to a mutant,
where gradients only approximate it locally).
"""

from __future__ import annotations

import time
from typing import Sequence

import numpy as np
import pandas as pd

from cornlib.interpret import gradients, ism, kmer_flip


def kmer_name(k: int) -> str:
    """The method name of the k-mer flip with window ``k``."""
    return f"kmer_flip_{k}"


#: The methods that perturb sequences and score each mutant (costly, a model evaluation per
#: mutant), as opposed to the gradient methods (a few passes per sequence).
PERTURBATION = ("ism", "kmer_flip")


def is_perturbation(method: str) -> bool:
    """Whether ``method`` (a name of :func:`importance`) scores mutants (ISM, k-mer flips)."""
    return method.startswith(PERTURBATION)


def importance(predictor, sequences: Sequence[str], *, kmer_ks: Sequence[int] = (6,),
               kmer_draws: int = 2, ig_steps: int = 16, seed: int = 0, batch_size: int = 256,
               device: str = "auto", progress: bool | None = None,
               perturb: Sequence[int] | None = None
               ) -> tuple[dict[str, np.ndarray], np.ndarray, pd.DataFrame]:
    """Run every method on ``sequences``.

    Args:
        predictor: a :class:`cornlib.models.predictor.TorchPredictor` of a model that reads
            bases (gradients need its one-hot forward pass).
        kmer_ks: the k-mer flip widths (each tiles the sequence, ``kmer_draws`` draws per
            window).
        perturb: indices of the sequences that ISM and the k-mer flips score (default: all);
            the gradient methods score every sequence. The others' rows are NaN, which
            :func:`cornlib.interpret.recovery.per_gene` leaves out.

    Returns:
        ``scores`` (method → ``(N, L_max, T)``; NaN past a sequence's end), the raw ISM
        effects ``(N, L_max, 4, T)`` (for logos) and a table of each method's seconds, model
        evaluations and genes.

    Raises:
        ValueError: an index of ``perturb`` is not one of the sequences.
    """
    seqs = list(sequences)
    sub = list(range(len(seqs))) if perturb is None else [int(i) for i in perturb]
    bad = [i for i in sub if not 0 <= i < len(seqs)]
    if bad:
        raise ValueError(f"perturb index {bad[0]} is not one of the {len(seqs)} sequences")
    few = [seqs[i] for i in sub]
    scores, timing = {}, []

    def timed(name, n_evals, n_genes, fn):
        t0 = time.perf_counter()
        out = fn()
        timing.append({"method": name, "seconds": time.perf_counter() - t0,
                       "evaluations": int(n_evals), "genes": int(n_genes)})
        return out

    def spread(values):  # rows of the perturbed sequences → rows of all, NaN elsewhere
        out = np.full((len(seqs), max(map(len, seqs)), *values.shape[2:]), np.nan,
                      values.dtype)
        out[sub, :values.shape[1]] = values
        return out

    total = sum(map(len, few))
    delta = spread(timed("ism", 3 * total, len(few), lambda: ism.saturation(
        predictor, few, batch_size=batch_size, device=device, progress=progress)))
    scores["ism"] = ism.position_scores(delta)
    grad = timed("gradients", len(seqs) * len(predictor.targets), len(seqs),
                 lambda: gradients.gradients(predictor, seqs, device=device))
    scores["grad_x_input"] = gradients.times_input(grad, seqs)
    scores["grad_x_input_corrected"] = gradients.times_input(gradients.correct(grad), seqs)
    ig = timed("integrated_gradients", len(seqs) * len(predictor.targets) * ig_steps,
               len(seqs), lambda: gradients.integrated_gradients(
                   predictor, seqs, n_steps=ig_steps, device=device))
    scores["integrated_gradients"] = ig.sum(axis=2)
    for k in kmer_ks:
        n = sum(len(kmer_flip.windows(len(s), k, k)) for s in few) * kmer_draws
        flip = timed(kmer_name(k), n, len(few), lambda k=k: kmer_flip.flip(
            predictor, few, k, draws=kmer_draws, seed=seed, batch_size=batch_size,
            device=device, progress=progress))
        scores[kmer_name(k)] = spread(flip.effect)
    return scores, delta, pd.DataFrame(timing)


def agreement(scores: dict[str, np.ndarray], reference: str = "ism") -> pd.DataFrame:
    """Spearman correlation of each method's ``|score|`` with the reference's, per gene and
    target: its median and quartiles over genes × targets."""
    from scipy.stats import spearmanr

    ref = np.abs(scores[reference])
    rows = []
    for name, values in scores.items():
        if name == reference:
            continue
        rho = []
        for i in range(ref.shape[0]):
            for j in range(ref.shape[2]):
                a, b = np.abs(values[i, :, j]), ref[i, :, j]
                ok = np.isfinite(a) & np.isfinite(b)
                if ok.sum() > 2 and np.ptp(a[ok]) > 0 and np.ptp(b[ok]) > 0:
                    rho.append(spearmanr(a[ok], b[ok])[0])
        q = np.quantile(rho, [0.25, 0.5, 0.75]) if rho else [np.nan] * 3
        rows.append({"method": name, "spearman_median": q[1], "spearman_q25": q[0],
                     "spearman_q75": q[2], "pairs": len(rho)})
    return pd.DataFrame(rows)


def by_model(models: dict[str, object], sequences: Sequence[str], **kw
             ) -> tuple[dict[str, dict[str, np.ndarray]], dict[str, np.ndarray], pd.DataFrame]:
    """:func:`importance` of every model on the same ``sequences`` (``kw``: its options).

    Returns:
        ``scores[model][method]``, the raw ISM effects per model, and the seconds of each
        method (rows) per model (columns)."""
    scores, effects, timing = {}, {}, []
    for name, model in models.items():
        scores[name], effects[name], t = importance(model, sequences, **kw)
        timing.append(t.assign(model=name))
    seconds = pd.concat(timing).pivot(index="method", columns="model", values="seconds")
    return scores, effects, seconds[list(models)]


def agreement_by_model(scores: dict[str, dict[str, np.ndarray]],
                       reference: str = "ism") -> pd.DataFrame:
    """Median Spearman correlation of each method (rows) with ``reference``, per model
    (columns): :func:`agreement` of every model."""
    rows = pd.concat([agreement(s, reference).assign(model=m) for m, s in scores.items()])
    wide = rows.pivot(index="method", columns="model", values="spearman_median")
    return wide[list(scores)]


def seconds_per_gene(seconds: pd.DataFrame, n_genes: int, n_perturbed: int) -> pd.DataFrame:
    """:func:`by_model`'s seconds divided by the genes each method scored (``n_perturbed``
    for ISM and the k-mer flips, ``n_genes`` for the gradient methods), with a ``genes``
    column."""
    genes = pd.Series([n_perturbed if is_perturbation(m) else n_genes for m in seconds.index],
                      index=seconds.index)
    return seconds.div(genes, axis=0).assign(genes=genes)
