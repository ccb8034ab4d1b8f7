"""Genome windows: promoters whose windows share DNA, whatever an alignment says.

Two promoters *share DNA* when they come from the same species and FASTA record and their
half-open windows ``[start, end)`` intersect (``start < other_end`` and ``other_start < end``;
touching windows share nothing). Divergent gene pairs share their intergenic region this way:
read in opposite directions, the shared stretch can fall just below an alignment-coverage
threshold, but it is the same DNA.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd

from cornlib import io

_WINDOW_COLUMNS = ("gene_id", "species", "chrom", "start", "end")


def _checked(promoters: pd.DataFrame) -> pd.DataFrame:
    """The window columns, validated (``ValueError`` for missing columns or ``end < start``)."""
    io.require_columns(promoters, _WINDOW_COLUMNS, "the promoter table (genome windows)")
    win = promoters[list(_WINDOW_COLUMNS)].copy()
    win["gene_id"] = win["gene_id"].astype(str)
    bad = win["end"].to_numpy() < win["start"].to_numpy()
    if bad.any():
        raise ValueError(f"promoter {win['gene_id'][bad].iat[0]!r} has end < start "
                         "(coordinates are 0-based, half-open)")
    return win


def overlap_edges(promoters: pd.DataFrame) -> np.ndarray:
    """Edges (k × 2 row positions) joining promoters whose windows share DNA.

    Within each species and record, windows sorted by start are swept once; each window that
    starts before the furthest end so far is joined to the window reaching that end (it truly
    overlaps it), so the connected components are exactly the blocks of overlapping windows.
    """
    win = _checked(promoters).reset_index(drop=True)
    edges = []
    for _, part in win.groupby(["species", "chrom"], sort=False):
        order = part.sort_values(["start", "end"], kind="stable").index.to_numpy()
        start = win["start"].to_numpy()[order]
        end = win["end"].to_numpy()[order]
        if len(order) < 2:
            continue
        reach = np.maximum.accumulate(end)
        holder = order[_running_argmax(end)]        # the window reaching ``reach``
        joins = start[1:] < reach[:-1]
        edges.append(np.stack([order[1:][joins], holder[:-1][joins]], axis=1))
    return np.concatenate(edges) if edges else np.empty((0, 2), dtype=int)


def _running_argmax(values: np.ndarray) -> np.ndarray:
    """Index of the (first) maximum of ``values[:i+1]`` for each ``i``."""
    reach = np.maximum.accumulate(values)
    is_new = np.r_[True, values[1:] > reach[:-1]]
    return np.maximum.accumulate(np.where(is_new, np.arange(len(values)), 0))


def blocks(promoters: pd.DataFrame) -> np.ndarray:
    """Block id per promoter (input order): promoters whose windows chain together by overlap."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    n = len(promoters)
    e = overlap_edges(promoters)
    graph = coo_matrix((np.ones(len(e)), (e[:, 0], e[:, 1])), shape=(n, n))
    return pd.factorize(connected_components(graph, directed=False)[1])[0]


def shared_dna(promoters: pd.DataFrame, query_ids: Iterable[str],
               target_ids: Iterable[str]) -> pd.DataFrame:
    """How much of each query promoter's window lies in target promoters' windows.

    Args:
        promoters: the promoter table (``gene_id``, ``species``, ``chrom``, ``start``, ``end``).
        query_ids, target_ids: gene ids, e.g. the test and the training promoters (a gene in
            both is not compared with itself).

    Returns:
        One row per query, in the order given: ``gene_id``, ``overlapping_windows`` (target
        windows it intersects), ``shared_bp`` (its bases inside the union of those windows) and
        ``largest_overlap_bp`` (the most it shares with one target window).

    Raises:
        ValueError: an id that is not in the promoter table.
    """
    win = _checked(promoters).set_index("gene_id", drop=False)
    query, target = list(map(str, query_ids)), list(map(str, target_ids))
    missing = sorted(set(query + target) - set(win.index))
    if missing:
        raise ValueError(f"gene {missing[0]!r} is not in the promoter table "
                         f"({len(missing)} missing)")
    q = win.loc[query].reset_index(drop=True)
    t = win.loc[target].reset_index(drop=True)
    out = pd.DataFrame({"gene_id": q["gene_id"].to_numpy(), "overlapping_windows": 0,
                        "shared_bp": 0, "largest_overlap_bp": 0})
    tgroups = {key: part for key, part in t.groupby(["species", "chrom"], sort=False)}
    for key, part in q.groupby(["species", "chrom"], sort=False):
        if key not in tgroups:
            continue
        tp = tgroups[key]
        tp = tp[~tp["gene_id"].isin(set(part["gene_id"]))]       # never a gene with itself
        ts, te = tp["start"].to_numpy(), tp["end"].to_numpy()
        qs, qe = part["start"].to_numpy(), part["end"].to_numpy()
        lo, hi = np.sort(ts), np.sort(te)
        count = np.searchsorted(lo, qe, side="left") - np.searchsorted(hi, qs, side="right")
        bs, be = _merge(ts, te)
        covered = _covered(bs, be, qe) - _covered(bs, be, qs)
        order = np.argsort(ts, kind="stable")
        largest = np.zeros(len(part), dtype=np.int64)
        for i in np.flatnonzero(count > 0):    # few: only windows that do overlap
            j = order[: np.searchsorted(ts[order], qe[i], side="left")]
            largest[i] = max(0, int((np.minimum(te[j], qe[i]) - np.maximum(ts[j], qs[i])).max()))
        out.loc[part.index, "overlapping_windows"] = count
        out.loc[part.index, "shared_bp"] = covered
        out.loc[part.index, "largest_overlap_bp"] = largest
    return out


def _merge(starts: np.ndarray, ends: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The union of half-open intervals as sorted, disjoint ``(starts, ends)``."""
    if not len(starts):
        return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64)
    order = np.argsort(starts, kind="stable")
    s, e = starts[order], ends[order]
    reach = np.maximum.accumulate(e)
    new = np.r_[True, s[1:] >= reach[:-1]]
    return s[new], np.maximum.reduceat(reach, np.flatnonzero(new))


def _covered(bs: np.ndarray, be: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Bases of the disjoint sorted blocks ``[bs, be)`` that lie before each position ``x``."""
    if not len(bs):
        return np.zeros(len(x), dtype=np.int64)
    cum = np.r_[0, np.cumsum(be - bs)]
    k = np.searchsorted(bs, x, side="right") - 1
    inside = np.clip(x - bs[np.maximum(k, 0)], 0, (be - bs)[np.maximum(k, 0)])
    return np.where(k >= 0, cum[np.maximum(k, 0)] + inside, 0)
