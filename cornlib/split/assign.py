"""Whole clusters to train/valid/test (and training folds), a random control, and validation."""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterable, Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from cornlib import CornlibWarning, artifacts, io
from cornlib.split.mmseqs import promoter_sequences

SPLITS: tuple[str, ...] = ("train", "valid", "test")
#: Columns of ``split.parquet``.
COLUMNS: tuple[str, ...] = ("gene_id", "species", "cluster_id", "split", "fold")
#: Library defaults (the small profile's values).
DEFAULT_FRACTIONS: dict[str, float] = {"train": 0.8, "valid": 0.1, "test": 0.1}

# --- assignment --------------------------------------------------------------------------------

def check_fractions(fractions: Mapping[str, float] | None) -> dict[str, float]:
    """Validate split fractions; return them as ``{train, valid, test}`` floats.

    Raises:
        ValueError: unknown or missing labels, a negative value, ``train`` or ``test`` not
            positive, or a sum other than 1.
    """
    fractions = dict(DEFAULT_FRACTIONS if fractions is None else fractions)
    if set(fractions) != set(SPLITS):
        raise ValueError(f"split_fractions must have exactly the keys {list(SPLITS)}, "
                         f"not {sorted(fractions)}")
    out = {k: float(fractions[k]) for k in SPLITS}
    if any(v < 0 for v in out.values()) or out["train"] <= 0 or out["test"] <= 0:
        raise ValueError(f"split_fractions {out}: train and test must be > 0 and valid ≥ 0")
    if abs(sum(out.values()) - 1) > 1e-6:
        raise ValueError(f"split_fractions {out} sum to {sum(out.values()):.4f}, not 1")
    return out


def parse_holdout(spec: str | None) -> tuple[str, str, str | None] | None:
    """Parse a hold-out spec: ``None``, ``"species:<name>"`` or ``"chrom:<species>:<chrom>"``.

    Returns:
        ``None`` or ``(kind, species, chrom)`` with ``chrom`` ``None`` for a species hold-out.
    """
    if spec is None or spec == "":
        return None
    parts = str(spec).split(":", 2)
    if parts[0] == "species" and len(parts) == 2 and parts[1]:
        return "species", parts[1], None
    if parts[0] == "chrom" and len(parts) == 3 and parts[1] and parts[2]:
        return "chrom", parts[1], parts[2]
    raise ValueError(f"holdout {spec!r} is not understood; use null, 'species:<name>' "
                     f"(e.g. 'species:aarenosa') or 'chrom:<species>:<chrom>' "
                     f"(e.g. 'chrom:athaliana:NC_003070.9')")


def _holdout_mask(clusters: pd.DataFrame, spec: str) -> np.ndarray:
    """Boolean mask of the genes a hold-out spec names (``ValueError`` if it names none)."""
    kind, species, chrom = parse_holdout(spec)
    known = sorted(clusters["species"].astype(str).unique())
    if species not in known:
        raise ValueError(f"holdout {spec!r}: no promoter of species {species!r} (species: {known})")
    mask = (clusters["species"] == species).to_numpy()
    if kind == "chrom":
        if "chrom" not in clusters.columns:
            raise ValueError(f"holdout {spec!r} needs a 'chrom' column in the cluster table; "
                             "cluster a promoter table that has one")
        chroms = sorted(clusters.loc[mask, "chrom"].astype(str).unique())
        mask = mask & (clusters["chrom"] == chrom).to_numpy()
        if not mask.any():
            raise ValueError(f"holdout {spec!r}: species {species!r} has no promoter on "
                             f"{chrom!r} (its chromosomes: {chroms[:20]})")
    return mask


def _fill(sizes: np.ndarray, fractions: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Assign groups of ``sizes`` to bins so bin totals approach ``fractions`` of the total.

    Largest groups first (ties in a seeded random order); each goes to a random bin, chosen with
    probability proportional to its remaining room, among those it fits in (else those with any
    room, else the emptiest relative to its target). Bins with fraction 0 get nothing.

    Returns:
        The bin index of each group.
    """
    order = rng.permutation(len(sizes))
    order = order[np.argsort(-sizes[order], kind="stable")]
    target = fractions * sizes.sum()
    filled = np.zeros(len(fractions))
    out = np.empty(len(sizes), dtype=int)
    live = fractions > 0
    for i in order:
        room = target - filled
        cand = live & (room >= sizes[i])
        if not cand.any():
            cand = live & (room > 0)
        if not cand.any():
            cand = np.zeros_like(live)
            cand[np.argmax(np.where(live, room / np.maximum(target, 1e-12), -np.inf))] = True
        p = np.where(cand, np.maximum(room, 1e-9), 0)
        out[i] = rng.choice(len(fractions), p=p / p.sum())
        filled[out[i]] += sizes[i]
    return out


def assign(clusters: pd.DataFrame, fractions: Mapping[str, float] | None = None, *, seed: int,
           holdout: str | None = None, n_folds: int = 5) -> pd.DataFrame:
    """Assign whole clusters to train / valid / test, and training clusters to folds.

    Without a hold-out, clusters are dealt to the splits so that promoter counts approach
    ``fractions`` (``_fill``). With ``holdout`` (``"species:<name>"`` or
    ``"chrom:<species>:<chrom>"``) the named promoters *and every promoter that shares a cluster
    with one* form the test set (a warning says how many were pulled in); the rest is dealt to
    train and valid in the ratio of their fractions, and ``fractions["test"]`` is ignored.

    Args:
        clusters: from :func:`~cornlib.split.clusters.cluster` (``gene_id``, ``species``,
            ``cluster_id``; ``chrom`` for a chromosome hold-out).
        fractions: ``{train, valid, test}`` summing to 1 (:func:`check_fractions`).
        seed: seeds the order of equal-sized clusters and the random choices.
        holdout: ``None`` or a hold-out spec (:func:`parse_holdout`).
        n_folds: folds of the training clusters (FloraBERT's k-fold option); 1 puts every
            training promoter in fold 0.

    Returns:
        A new table with :data:`COLUMNS`, in the order of ``clusters``.

    Raises:
        ValueError: bad fractions or hold-out, or a split or fold left without a promoter
            (the message says which and what to change).
    """
    io.require_columns(clusters, ("gene_id", "species", "cluster_id"), "the cluster table")
    frac = check_fractions(fractions)
    if int(n_folds) != n_folds or n_folds < 1:
        raise ValueError(f"n_folds must be an integer ≥ 1, not {n_folds!r}")
    rng = np.random.default_rng(seed)
    split = np.full(len(clusters), "", dtype=object)
    cid = clusters["cluster_id"].to_numpy()
    free = np.ones(len(clusters), dtype=bool)
    if holdout:
        named = _holdout_mask(clusters, holdout)
        held = np.isin(cid, np.unique(cid[named]))
        pulled = int((held & ~named).sum())
        if pulled:
            warnings.warn(f"holdout {holdout!r}: {pulled} promoters of other species or "
                          f"chromosomes share a cluster with held-out ones and go to test too",
                          CornlibWarning, stacklevel=2)
        split[held] = "test"
        free = ~held
        if not free.any():
            raise ValueError(f"holdout {holdout!r} leaves no promoter for training")
        frac = {"train": frac["train"], "valid": frac["valid"], "test": 0.0}
    labels = _deal(cid[free], np.array([frac[s] for s in SPLITS]), rng)
    split[free] = np.asarray(SPLITS, dtype=object)[labels]
    _check_nonempty(split, frac, len(np.unique(cid)), holdout)
    fold = np.full(len(clusters), -1, dtype=int)
    train = split == "train"
    fold[train] = _deal(cid[train], np.full(int(n_folds), 1 / n_folds), rng)
    empty = sorted(set(range(int(n_folds))) - set(fold[train]))
    if empty:
        raise ValueError(f"fold {empty[0]} is empty: the training part has only "
                         f"{len(np.unique(cid[train]))} clusters for n_folds={n_folds}; "
                         f"lower n_folds or use more promoters")
    return pd.DataFrame({"gene_id": clusters["gene_id"].astype(str).to_numpy(),
                         "species": clusters["species"].astype(str).to_numpy(),
                         "cluster_id": cid.astype(int), "split": split, "fold": fold},
                        columns=list(COLUMNS))


def _deal(cluster_ids: np.ndarray, fractions: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Bin index per row: whole clusters dealt to bins by :func:`_fill` (sized by row count)."""
    uniq, inverse, sizes = np.unique(cluster_ids, return_inverse=True, return_counts=True)
    return _fill(sizes, fractions, rng)[inverse] if len(uniq) else np.empty(0, dtype=int)


def _check_nonempty(split: np.ndarray, frac: Mapping[str, float], n_clusters: int,
                    holdout: str | None) -> None:
    """``ValueError`` naming a split that should have promoters but got none."""
    for name in SPLITS:
        if (frac[name] > 0 or name == "test") and not (split == name).any():
            raise ValueError(f"split {name!r} got no promoter: {len(split)} promoters in "
                             f"{n_clusters} clusters are too few for split_fractions "
                             f"{dict(frac)}{f' with holdout {holdout!r}' if holdout else ''}; "
                             f"use more genes (max_genes) or larger fractions")


def random_split(clusters: pd.DataFrame, fractions: Mapping[str, float] | None = None, *,
                 seed: int, holdout: str | None = None, n_folds: int = 5) -> pd.DataFrame:
    """The naive split, for comparison: genes dealt one by one, ignoring clusters.

    Same arguments and table as :func:`assign` (``cluster_id`` still gives the true clusters,
    which may now straddle splits).
    """
    io.require_columns(clusters, ("gene_id", "species", "cluster_id"), "the cluster table")
    singletons = clusters.assign(cluster_id=np.arange(len(clusters)))
    out = assign(singletons, fractions, seed=seed, holdout=holdout, n_folds=n_folds)
    out["cluster_id"] = clusters["cluster_id"].to_numpy().astype(int)
    return out


def validate(split: pd.DataFrame, *, whole_clusters: bool = True,
             require: Iterable[str] = SPLITS, name: str = "the split table") -> pd.DataFrame:
    """Check a split table; return it unchanged.

    Raises:
        ValueError: missing columns, a repeated ``gene_id``, an unknown split label, a split of
            ``require`` with no gene, a fold other than -1 outside train, an empty fold among
            ``0..max(fold)``, or (``whole_clusters``) a cluster in two splits.
    """
    io.require_columns(split, COLUMNS, name)
    dup = split["gene_id"][split["gene_id"].duplicated()]
    if len(dup):
        raise ValueError(f"{name} repeats gene_id {dup.iloc[0]!r}")
    bad = sorted(set(split["split"]) - set(SPLITS))
    if bad:
        raise ValueError(f"{name} has split labels {bad}; allowed: {list(SPLITS)}")
    for s in require:
        if not (split["split"] == s).any():
            raise ValueError(f"{name} has no {s!r} gene; rebuild it: "
                             f"{artifacts.how_to_make('split.parquet')}")
    train = split["split"] == "train"
    off = split.loc[~train & (split["fold"] != -1), "gene_id"]
    if len(off):
        raise ValueError(f"{name}: gene {off.iloc[0]!r} is not in train but has fold != -1")
    folds = split.loc[train, "fold"]
    if len(folds):
        if folds.min() < 0:
            gene = split.loc[train & (split["fold"] < 0), "gene_id"].iloc[0]
            raise ValueError(f"{name}: training genes need fold ≥ 0 (gene {gene!r})")
        empty = sorted(set(range(int(folds.max()) + 1)) - set(folds))
        if empty:
            raise ValueError(f"{name}: fold {empty[0]} is empty (folds run 0..{folds.max()}); "
                             f"rebuild the split with fewer folds")
    if whole_clusters:
        spread = split.groupby("cluster_id")["split"].nunique()
        if (spread > 1).any():
            raise ValueError(f"{name}: cluster {spread[spread > 1].index[0]} spans several splits")
    return split


def read(path: str | os.PathLike) -> pd.DataFrame:
    """Read and :func:`validate` ``split.parquet``.

    Raises:
        FileNotFoundError: ``path`` does not exist (it says how to make it).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no split table at {path}; "
                                f"{artifacts.how_to_make('split.parquet')}")
    return validate(pd.read_parquet(path), name=str(path))


def summary(split: pd.DataFrame) -> pd.DataFrame:
    """Promoters, clusters and share of promoters per split and species (plus ``all``)."""
    rows = []
    for species, part in [("all", split), *split.groupby("species")]:
        for name in SPLITS:
            sub = part[part["split"] == name]
            rows.append({"species": species, "split": name, "promoters": len(sub),
                         "clusters": sub["cluster_id"].nunique(),
                         "fraction": len(sub) / max(len(part), 1)})
    return pd.DataFrame(rows)


def fold_sizes(split: pd.DataFrame) -> pd.DataFrame:
    """Training promoters and clusters per fold."""
    train = split[split["split"] == "train"]
    return (train.groupby("fold").agg(promoters=("gene_id", "size"),
                                      clusters=("cluster_id", "nunique")).reset_index())


def split_sequences(promoters: pd.DataFrame, split: pd.DataFrame, name: str) -> pd.Series:
    """Normalized sequences of the ``name`` split (``train``/``valid``/``test``), by gene_id."""
    if name not in SPLITS:
        raise ValueError(f"split name must be one of {list(SPLITS)}, not {name!r}")
    seqs = promoter_sequences(promoters)
    ids = split.loc[split["split"] == name, "gene_id"].astype(str)
    missing = sorted(set(ids) - set(seqs.index))
    if missing:
        raise ValueError(f"gene {missing[0]!r} of the split table has no promoter sequence "
                         f"({len(missing)} missing); split and promoters must come from one run")
    return seqs[ids.to_numpy()]
