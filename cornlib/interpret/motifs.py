"""Motifs from attributions: TF-MoDISco patterns, their JASPAR matches and driver recovery.

:func:`discover` clusters high-attribution windows (seqlets) into patterns with TF-MoDISco
(``modiscolite``), :func:`match` compares each pattern's PPM with JASPAR matrices by Tomtom
(``memelite``), and :func:`compare` says which simulation drivers were found, missed or
"invented" (a pattern that matches no driver).

Both libraries compile numba kernels on first use and cache them on disk (``NUMBA_CACHE_DIR``,
else ``__pycache__`` beside the package). With one thread on the book's 2-core machine, 100
sequences of 1,000 bp cost ~30 s (discover) + ~95 s (match) in a process with a cold cache,
~5 s + 0.2 s in the next process, ~2 s + 0.01 s on a repeat call. The Leiden runs dominate a
warm :func:`discover` (~0.8 s each at ~300 seqlets); on trained models' gradients for 100
promoters (~17 patterns) a warm call takes ~25-40 s. Matrices are ``(W, 4)`` in the order A, C,
G, T, as in :mod:`cornlib.motifs`.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from cornlib.motifs import Motif

#: Columns of the :func:`match` table.
MATCH_COLUMNS = ["pattern", "rank", "matrix_id", "name", "family", "p_value", "q_value", "e_value",
                 "offset", "orientation"]
#: Columns of the :func:`compare` table.
COMPARE_COLUMNS = ["status", "driver", "driver_name", "pattern", "matrix_id", "name", "family",
                   "q_value"]
_SEQLET_COLUMNS = ["sequence", "start", "end", "strand"]


@dataclass(frozen=True, eq=False)
class Pattern:
    """One TF-MoDISco pattern, trimmed to its informative core.

    Attributes:
        name: ``pos_0``, ``neg_1``, ... (metacluster and rank by number of seqlets).
        sign: ``positive`` or ``negative`` (the metacluster: raises or lowers the output).
        n_seqlets: number of seqlets in the pattern.
        cwm: ``(W, 4)`` contribution-weighted matrix, the seqlets' mean actual contributions.
        ppm: ``(W, 4)`` base frequencies over the seqlets.
        seqlets: one row per seqlet: ``sequence`` (index into the input), ``start``, ``end``
            (0-based, half-open, the trimmed core) and ``strand`` (``-``: the pattern reads
            along the reverse complement).
    """

    name: str
    sign: str
    n_seqlets: int
    cwm: np.ndarray = field(repr=False)
    ppm: np.ndarray = field(repr=False)
    seqlets: pd.DataFrame = field(repr=False)

    @property
    def length(self) -> int:
        """Number of positions ``W``."""
        return int(self.cwm.shape[0])


def discover(one_hot: np.ndarray, attributions: np.ndarray, *, window: int = 15, flank: int = 5,
             max_seqlets: int = 1000, min_seqlets: int = 30, min_cluster: int = 15,
             leiden_runs: int = 4, fdr: float = 0.2, trim: float = 0.3, **options) -> list[Pattern]:
    """TF-MoDISco patterns from one-hot sequences and hypothetical attributions.

    The actual contribution of a base is ``attributions * one_hot``. Positions whose four
    attributions are all zero (padding, N, dead-gradient runs) get a tiny noise floor on their
    unobserved bases first, which TF-MoDISco needs (``_floor_empty_positions``); actual
    contributions are unchanged. Defaults suit a small run (50-200 sequences of ~1,000 bp, up
    to ~1,000 seqlets per sign). Runs on numba's threads (``NUMBA_NUM_THREADS``); with more
    than one, modiscolite also forks helper processes.

    Args:
        one_hot: ``(N, L, 4)`` one-hot sequences (N is all zeros).
        attributions: ``(N, L, 4)`` hypothetical contributions (e.g. gradient × input before
            the multiplication, or mutagenesis effects).
        window: sliding window that finds seqlets, bp (the core of a seqlet).
        flank: bases added on each side of a seqlet's window.
        max_seqlets: most seqlets kept per metacluster (the strongest first).
        min_seqlets: a metacluster with this many seqlets or fewer is skipped.
        min_cluster: fewest seqlets a final pattern may hold.
        leiden_runs: Leiden clusterings per round (TF-MoDISco's default is 50).
        fdr: target false discovery rate of the seqlet threshold.
        trim: a pattern keeps the span of positions whose total ``|cwm|`` is at least this
            fraction of its largest.
        **options: further keyword arguments of ``modiscolite.tfmodisco.TFMoDISco``.

    Returns:
        Patterns, positive metacluster first, each by decreasing number of seqlets. An empty
        list when no window passes the seqlet threshold (e.g. flat attributions) or no
        metacluster has enough seqlets to cluster.
    """
    x, a = _check_tracks(one_hot, attributions)
    if not np.any(a * x):
        return []
    from modiscolite.tfmodisco import TFMoDISco

    a = _floor_empty_positions(a, x)

    settings = dict(sliding_window_size=window, flank_size=flank, max_seqlets_per_metacluster=max_seqlets,
                    min_metacluster_size=min_seqlets, final_min_cluster_size=min_cluster,
                    n_leiden_runs=leiden_runs, target_seqlet_fdr=fdr, initial_flank_to_add=flank,
                    trim_to_window_size=max(window, 20), min_num_to_trim_to=min(30, min_cluster),
                    nearest_neighbors_to_compute=min(500, max_seqlets), verbose=False)
    settings.update(options)
    with warnings.catch_warnings():  # 0/0 in modiscolite's PPM of an empty window
        warnings.filterwarnings("ignore", category=RuntimeWarning, module=r"modiscolite\.")
        pos, neg = TFMoDISco(one_hot=x, hypothetical_contribs=a, **settings)
    out = []
    for prefix, sign, found in (("pos", "positive", pos), ("neg", "negative", neg)):
        found = sorted(found or [], key=lambda p: -len(p.seqlets))
        out.extend(_pattern(p, f"{prefix}_{i}", sign, trim) for i, p in enumerate(found))
    return out


def _check_tracks(one_hot, attributions) -> tuple[np.ndarray, np.ndarray]:
    x = np.ascontiguousarray(one_hot, dtype=np.float32)
    a = np.ascontiguousarray(attributions, dtype=np.float32)
    if x.ndim != 3 or x.shape[2] != 4 or a.shape != x.shape:
        raise ValueError(f"one_hot and attributions must both be (N, L, 4), not {x.shape} and {a.shape}")
    if not np.isfinite(a).all():
        raise ValueError("attributions hold NaN or infinite values")
    return x, a


#: Scale of the noise ``_floor_empty_positions`` puts on empty positions, relative to the
#: largest ``|attribution|``: far below anything that changes seqlets, well above float32's tiny.
_FLOOR = 1e-7


def _floor_empty_positions(a: np.ndarray, x: np.ndarray, seed: int = 0) -> np.ndarray:
    """``a`` with tiny noise on the unobserved bases of positions whose four attributions are all zero.

    TF-MoDISco assumes every window holds some attribution. Its seqlets are moved after calling
    (``_polish_coordinates`` re-centres each on the pattern's most informative window,
    ``_expand_seqlets_to_fill_pattern`` widens it) and checked only against the array's bounds,
    so a seqlet near a stretch without attributions can land wholly inside it: zero padding
    past a promoter's end, N, or a run where a trained model's gradient is exactly zero (dead
    ReLUs, max pooling; the ``small`` run's CNN has runs of 200-300 bp inside its promoters).
    Its l1-normalised data is then all zero, its continuous Jaccard similarity with itself is
    0/0 = NaN, and ``SimilarPatternsCollapser``'s AUROC raises ``ValueError: Input contains
    NaN`` (or the Leiden step, fed NaN affinities, ``Cannot accept NaN weights``). Cropping or
    rescaling cannot remove such windows; a floor does.

    The noise (normal, seeded, ``_FLOOR`` times the largest ``|a|``) goes only on the bases
    ``one_hot`` does not hold, so every actual contribution ``a * one_hot`` is unchanged (a 0
    may become -0.0: seqlet calling, its null model and the CWMs see the same scores) and only the
    hypothetical track of an empty window gains a few 1e-7ths: enough to make its Jaccard
    finite (1 with itself, near 0 with any other window, empty or not: signed noise does not
    match), so empty windows neither crash nor draw together.
    """
    empty = ~np.any(a, axis=2)
    if not empty.any():
        return a
    noise = np.random.default_rng(seed).standard_normal((int(empty.sum()), 4)).astype(np.float32)
    out = a.copy()
    out[empty] = noise * np.float32(_FLOOR * float(np.abs(a).max())) * (x[empty] == 0)
    return out


def _pattern(p, name: str, sign: str, trim: float) -> Pattern:
    """A :class:`Pattern` from a modiscolite ``SeqletSet``, trimmed to its core."""
    cwm = np.asarray(p.contrib_scores, dtype=float)
    score = np.abs(cwm).sum(axis=1)
    keep = np.nonzero(score >= trim * score.max())[0]
    lo, hi = int(keep[0]), int(keep[-1]) + 1
    rows = []
    for s in p.seqlets:
        start, end = (s.end - hi, s.end - lo) if s.is_revcomp else (s.start + lo, s.start + hi)
        rows.append((int(s.example_idx), int(start), int(end), "-" if s.is_revcomp else "+"))
    seqlets = pd.DataFrame(rows, columns=_SEQLET_COLUMNS)
    ppm = np.asarray(p.sequence, dtype=float)[lo:hi]
    ppm = ppm / np.maximum(ppm.sum(axis=1, keepdims=True), 1e-12)
    return Pattern(name, sign, len(p.seqlets), cwm[lo:hi], ppm, seqlets)


def seqlet_table(patterns: Sequence[Pattern]) -> pd.DataFrame:
    """Every pattern's seqlets in one table: ``pattern, sequence, start, end, strand``."""
    parts = [p.seqlets.assign(pattern=p.name) for p in patterns]
    if not parts:
        return pd.DataFrame(columns=["pattern", *_SEQLET_COLUMNS])
    return pd.concat(parts, ignore_index=True)[["pattern", *_SEQLET_COLUMNS]]


def match(patterns: Sequence[Pattern], motifs: Sequence[Motif] | None = None, *, n: int = 5) -> pd.DataFrame:
    """Tomtom matches of each pattern's PPM against motif matrices, best first.

    Args:
        patterns: from :func:`discover`.
        motifs: targets; default :func:`cornlib.motifs.load_plant_motifs` (JASPAR 2024 CORE
            plants). Tomtom's p-values use the targets' columns as background, so pass a whole
            database, not a handful of matrices.
        n: matches kept per pattern.

    Returns:
        DataFrame with :data:`MATCH_COLUMNS`: ``rank`` (1 = best), ``p_value``, ``q_value``
        (Benjamini-Hochberg over all targets of the pattern), ``e_value`` (p × number of
        targets), ``offset`` and ``orientation``: pattern column ``j`` lies on column
        ``j + offset`` of the motif (``+``) or of its reverse complement (``-``).
    """
    from cornlib.motifs import load_plant_motifs

    patterns = list(patterns)
    if not patterns:
        return pd.DataFrame(columns=MATCH_COLUMNS)
    motifs = load_plant_motifs() if motifs is None else list(motifs)
    if not motifs:
        raise ValueError("no motifs to match against")
    from memelite import tomtom
    from scipy.stats import false_discovery_control

    targets = [np.ascontiguousarray((m.counts / m.counts.sum(axis=1, keepdims=True)).T) for m in motifs]
    queries = [np.ascontiguousarray(p.ppm.T) for p in patterns]
    p, _, offsets, _, strands = tomtom(queries, targets, n_jobs=1)
    rows = []
    for i, pat in enumerate(patterns):
        q = false_discovery_control(p[i], method="bh")
        for rank, j in enumerate(np.argsort(p[i], kind="stable")[:n], start=1):
            m = motifs[j]
            rows.append((pat.name, rank, m.matrix_id, m.name, m.family, float(p[i, j]), float(q[j]),
                         float(p[i, j] * len(motifs)), int(offsets[i, j]), "-" if strands[i, j] else "+"))
    return pd.DataFrame(rows, columns=MATCH_COLUMNS)


def _families(family: str) -> set[str]:
    return {f.strip().lower() for f in str(family or "").split("/") if f.strip()}


def compare(matches: pd.DataFrame, driver_ids: Sequence[str], *, q: float = 0.05,
            families: Mapping[str, str] | None = None,
            names: Mapping[str, str] | None = None) -> pd.DataFrame:
    """Which drivers the patterns recovered, which they missed, and which patterns are new.

    A driver is ``found`` when a pattern matches its matrix at ``q_value <= q``, else ``found
    (same family)`` when a pattern matches another matrix of its TF family (JASPAR holds
    near-duplicates), else ``missed``. A pattern with no such match to any driver is
    ``invented`` (its best significant match, if any, is shown). Families compare
    case-insensitively, a ``/``-joined family matching any of its parts.

    Args:
        matches: from :func:`match` (only its rows are considered: keep enough per pattern).
        driver_ids: matrix IDs of the true drivers (``card.json``'s ``drivers``).
        q: q-value threshold.
        families, names: driver matrix ID → TF family / name; default from
            :func:`cornlib.motifs.load_plant_motifs`.

    Returns:
        DataFrame with :data:`COMPARE_COLUMNS`, drivers first (in the given order), then the
        invented patterns; ``pattern``/``matrix_id``/``q_value`` name the best supporting match.
    """
    drivers = list(dict.fromkeys(driver_ids))
    if families is None or names is None:
        from cornlib.motifs import load_plant_motifs

        known = {m.matrix_id: m for m in load_plant_motifs()}
        families = families if families is not None else {d: known[d].family for d in drivers if d in known}
        names = names if names is not None else {d: known[d].name for d in drivers if d in known}
    sig = matches[matches["q_value"].astype(float) <= q].sort_values(["q_value", "p_value"], kind="stable")
    rows, explained = [], set()
    for d in drivers:
        exact = sig[sig["matrix_id"] == d]
        kin = sig[np.array([bool(_families(families.get(d)) & _families(f)) for f in sig["family"]],
                           dtype=bool)]
        explained.update(exact["pattern"])
        explained.update(kin["pattern"])
        if len(exact):
            status, hit = "found", exact.iloc[0]
        elif len(kin):
            status, hit = "found (same family)", kin.iloc[0]
        else:
            status, hit = "missed", None
        rows.append((status, d, names.get(d, ""), *_hit_fields(hit)))
    for pat in dict.fromkeys(matches["pattern"]):
        if pat not in explained:
            own = sig[sig["pattern"] == pat]
            rows.append(("invented", None, None, pat, *_hit_fields(own.iloc[0] if len(own) else None)[1:]))
    return pd.DataFrame(rows, columns=COMPARE_COLUMNS)


def verdict_table(verdicts: pd.DataFrame) -> pd.DataFrame:
    """The :func:`compare` rows (with an optional ``model`` column first) as a page shows them:
    the verdict, the driver's name, the pattern behind the verdict, its JASPAR match and the
    match's q-value; IDs and families left out."""
    cols = {"status": "verdict", "driver_name": "driver", "pattern": "pattern",
            "name": "match", "q_value": "q"}
    keep = (["model"] if "model" in verdicts.columns else []) + list(cols)
    return verdicts[keep].rename(columns=cols).reset_index(drop=True)


#: :func:`compare` status → its short key in :func:`verdict_counts`.
VERDICT_KEYS = {"found": "found", "found (same family)": "family", "missed": "missed",
                "invented": "invented"}


def verdict_counts(verdicts: pd.DataFrame) -> pd.DataFrame:
    """Rows of each status per ``model`` (rows, in order of appearance) under the keys of
    :data:`VERDICT_KEYS` (columns; 0 where a status does not occur)."""
    counts = pd.crosstab(verdicts["model"], verdicts["status"])
    counts = counts.reindex(index=pd.unique(verdicts["model"]), columns=list(VERDICT_KEYS),
                            fill_value=0)
    return counts.rename(columns=VERDICT_KEYS).rename_axis(index="model", columns=None)


def shuffled(patterns: Sequence[Pattern], n: int, seed: int = 0) -> list[Pattern]:
    """``n`` column-shuffled copies of each pattern (named ``<name>~<i>``): its positions in a
    random order, so each copy keeps the pattern's length, base composition and information
    per position but not the order that makes it a motif: random patterns as informative as
    the ones found, for the null of :func:`null_calls`."""
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    rng = np.random.default_rng(seed)
    out = []
    for p in patterns:
        for i in range(n):
            order = rng.permutation(p.length)
            out.append(Pattern(f"{p.name}~{i}", p.sign, p.n_seqlets, p.cwm[order],
                               p.ppm[order], p.seqlets.iloc[:0]))
    return out


#: The calls of :func:`pattern_calls`, from the most to the least specific.
CALLS = ("driver", "driver family", "other motif", "no match")


def pattern_calls(matches: pd.DataFrame, driver_ids: Sequence[str], *, q: float = 0.05,
                  families: Mapping[str, str] | None = None) -> pd.Series:
    """One call per pattern of ``matches`` (:data:`CALLS`): ``driver`` when a match at
    ``q_value <= q`` is a driver's matrix, else ``driver family`` when one shares a driver's TF
    family (what :func:`compare` counts as ``found (same family)``), else ``other motif`` when
    it matches JASPAR at all, else ``no match``.

    Args:
        matches: from :func:`match`; driver_ids, q, families: as in :func:`compare`.
    """
    drivers = list(dict.fromkeys(driver_ids))
    if families is None:
        from cornlib.motifs import load_plant_motifs

        known = {m.matrix_id: m.family for m in load_plant_motifs()}
        families = {d: known.get(d) for d in drivers}
    kin = set().union(*(_families(families.get(d)) for d in drivers)) if drivers else set()
    sig = matches[matches["q_value"].astype(float) <= q]
    calls = {}
    for pat in dict.fromkeys(matches["pattern"]):
        own = sig[sig["pattern"] == pat]
        if own["matrix_id"].isin(drivers).any():
            calls[pat] = CALLS[0]
        elif any(_families(f) & kin for f in own["family"]):
            calls[pat] = CALLS[1]
        else:
            calls[pat] = CALLS[2] if len(own) else CALLS[3]
    return pd.Series(calls, name="call", dtype=object).rename_axis("pattern")


def family_matrices(motifs: Sequence[Motif], driver_ids: Sequence[str]) -> list[str]:
    """IDs of the ``motifs`` that share a TF family with one of the drivers (the drivers'
    own included): every one a pattern can match to count as ``found (same family)``.

    Raises:
        ValueError: a driver is not among ``motifs``.
    """
    family = {m.matrix_id: m.family for m in motifs}
    missing = [d for d in driver_ids if d not in family]
    if missing:
        raise ValueError(f"driver {missing[0]} is not among the {len(family)} motifs")
    kin = set().union(*(_families(family[d]) for d in driver_ids)) if driver_ids else set()
    return [m.matrix_id for m in motifs if _families(m.family) & kin]


def null_calls(found: Mapping[str, Sequence[Pattern]], motifs: Sequence[Motif],
               driver_ids: Sequence[str], *, shuffles: int = 10, q: float = 0.05,
               seed: int = 0) -> pd.DataFrame:
    """How often a pattern counts as a driver, for the patterns found and for random ones.

    Each model's patterns and ``shuffles`` column-shuffled copies of each (:func:`shuffled`)
    are matched to ``motifs`` by :func:`match` and called by :func:`pattern_calls`. When a
    shuffled pattern counts as ``driver family`` about as often as a found one, that verdict
    says little.

    Returns:
        One row per model and ``source`` (``found``, ``shuffled``): ``patterns`` and the share
        of them under each of :data:`CALLS` (NaN without patterns).
    """
    rows = []
    for model, patterns in found.items():
        for source, pats in (("found", list(patterns)),
                             ("shuffled", shuffled(patterns, shuffles, seed))):
            calls = pattern_calls(match(pats, motifs), driver_ids, q=q) if pats else \
                pd.Series(dtype=object)
            share = calls.value_counts(normalize=True).reindex(list(CALLS))
            share = share.fillna(0.0) if len(calls) else share
            rows.append({"model": model, "source": source, "patterns": len(pats),
                         **share.to_dict()})
    return pd.DataFrame(rows, columns=["model", "source", "patterns", *CALLS])


def _hit_fields(hit) -> tuple:
    if hit is None:
        return (None, None, None, None, np.nan)
    return (hit["pattern"], hit["matrix_id"], hit["name"], hit["family"], float(hit["q_value"]))


__all__ = ["MATCH_COLUMNS", "COMPARE_COLUMNS", "Pattern", "discover", "seqlet_table", "match", "compare",
           "verdict_table", "VERDICT_KEYS", "verdict_counts", "from_gradients", "shuffled", "CALLS",
           "pattern_calls", "family_matrices", "null_calls", "verdict_values", "null_values"]


def compile_kernels(seed: int = 0) -> None:
    """Compile (and cache on disk) the numba kernels of TF-MoDISco and Tomtom with a small
    planted example, so that the first real call does not pay for it (``make env`` runs this
    once: ~2 minutes on a 2-core machine)."""
    from cornlib.motifs import load_plant_motifs

    rng = np.random.default_rng(seed)
    jaspar = load_plant_motifs()
    site = np.asarray(jaspar[0].counts, float)
    site = site / site.sum(axis=1, keepdims=True)
    n, length, w = 40, 300, len(site)
    x = np.eye(4, dtype=np.float32)[rng.integers(0, 4, (n, length))]
    a = rng.normal(0, 0.01, (n, length, 4)).astype(np.float32)
    for i in range(n):
        at = int(rng.integers(0, length - w))
        x[i, at:at + w] = np.eye(4, dtype=np.float32)[site.argmax(axis=1)]
        a[i, at:at + w] += np.log(site * 4 + 1e-3).astype(np.float32)
    match(discover(x, a, leiden_runs=1), jaspar)
    fake = Pattern("warm_up", "positive", 1, site, site, pd.DataFrame(columns=_SEQLET_COLUMNS))
    match([fake], jaspar)


def from_gradients(predictor, sequences: Sequence[str], *, device: str = "auto",
                   **options) -> list[Pattern]:
    """:func:`discover` on a model's gradients of its mean over targets, corrected
    (:func:`cornlib.interpret.gradients.correct`), for ``sequences`` (``options``: those of
    :func:`discover`, e.g. ``max_seqlets``, ``leiden_runs``).

    Args:
        predictor: a :class:`cornlib.models.predictor.TorchPredictor` of a model that reads
            bases (gradients need its one-hot forward pass).
    """
    from cornlib.interpret import gradients

    grad = gradients.gradients(predictor, sequences, targets="mean", device=device)
    hyp = np.nan_to_num(gradients.correct(grad)[..., 0])
    x = gradients.one_hot(sequences, hyp.shape[1], "start")
    return discover(x, hyp, **options)


if __name__ == "__main__":
    compile_kernels()


def verdict_values(verdicts: pd.DataFrame, models: Sequence[str],
                   drivers: bool = True) -> dict[str, object]:
    """The glue of :func:`verdict_counts`: ``motif_<key>_<model>`` for every key of
    :data:`VERDICT_KEYS` and model (0 for a model without rows). Without ``drivers`` (measured
    targets) only ``invented`` counts: the others are ``—``."""
    counts = verdict_counts(verdicts) if len(verdicts) else None
    out: dict[str, object] = {}
    for key in VERDICT_KEYS.values():
        for m in models:
            n = int(counts.loc[m, key]) if counts is not None and m in counts.index else 0
            out[f"motif_{key}_{m}"] = n if drivers or key == "invented" else "—"
    return out


def null_values(null: pd.DataFrame, models: Sequence[str]) -> dict[str, float]:
    """The glue of :func:`null_calls`: ``null_<source>_<model>``, the share of the patterns
    (``found``) and of their shuffled copies (``shuffled``) that count as a driver or its
    family; NaN where there is no row (measured targets) or no pattern."""
    rows = null.set_index(["model", "source"]) if len(null) else None
    out = {}
    for m in models:
        for source in ("found", "shuffled"):
            hit = float("nan")
            if rows is not None and (m, source) in rows.index:
                row = rows.loc[(m, source)]
                hit = float(row["driver"] + row["driver family"])
            out[f"null_{source}_{m}"] = hit
    return out
