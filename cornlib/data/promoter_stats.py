"""What a promoter table holds: drop reasons, letters, examples, GC content around the TSS."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from cornlib.data.promoters import FLAGS


def report_table(report: dict[str, Any]) -> pd.DataFrame:
    """One row per species (and a ``total`` row): genes, candidates, kept, then drops by reason."""
    per = report["species"] if "species" in report and isinstance(report["species"], dict) else {
        report["species"]: report}
    rows = []
    for name, rep in list(per.items()) + ([("total", report["total"])] if "total" in report else []):
        rows.append({"species": name, "genes": rep["genes"], "candidates": rep["candidates"],
                     "kept": rep["kept"], **rep["dropped"],
                     **{f"flag_{f}": n for f, n in rep["flagged"].items()}})
    return pd.DataFrame(rows).set_index("species")


def letter_summary(promoters: pd.DataFrame) -> pd.DataFrame:
    """Per species: promoters, how many contain N (and the largest N share), IUPAC codes,
    and the mean share of soft-masked bases."""
    g = promoters.groupby("species", sort=False)
    return pd.DataFrame({
        "promoters": g.size(),
        "with_N": g["n_fraction"].apply(lambda x: int((x > 0).sum())),
        "max_N_fraction": g["n_fraction"].max(),
        "with_IUPAC": g["n_iupac"].apply(lambda x: int((x > 0).sum())),
        "mean_masked_fraction": g["masked_fraction"].mean().round(3),
    })


def preview(promoters: pd.DataFrame, width: int = 24) -> pd.DataFrame:
    """A few promoters to look at: the first with no flag, then the first of each flag.

    Returns:
        One row per example: ``gene_id, species, location, length, flags`` and the sequence's
        first and last ``width`` bases (``5' ...`` / ``... 3'``, the 3' end next to the TSS).
    """
    picks = [promoters.index[promoters["flags"] == ""][:1]]
    for flag in FLAGS:
        picks.append(promoters.index[promoters["flags"].str.contains(flag, regex=False)][:1])
    rows = promoters.loc[pd.Index(np.concatenate([p.to_numpy() for p in picks])).unique()]
    loc = rows["chrom"] + ":" + rows["start"].astype(str) + "-" + rows["end"].astype(str) \
        + "(" + rows["strand"] + ")"
    return pd.DataFrame({
        "gene_id": rows["gene_id"], "species": rows["species"], "location": loc,
        "length": rows["length"], "flags": rows["flags"].replace("", "-"),
        "5' end": rows["sequence"].str[:width] + " ...",
        "3' end": "... " + rows["sequence"].str[-width:]}).reset_index(drop=True)


def gc_profile(promoters: pd.DataFrame, upstream: int, downstream: int = 0,
               bin_size: int = 10) -> pd.DataFrame:
    """GC fraction by position relative to the TSS, per species (N and missing bases ignored).

    Position 0 is the TSS base, ``-1`` the base just upstream of it; every promoter is placed
    by its coordinates, so trimmed or detached ones add only the positions they cover.

    Returns:
        Columns ``species, position`` (bin start, in ``[-upstream, downstream)``),
        ``gc_fraction``, ``n_bases``.
    """
    if bin_size < 1:
        raise ValueError(f"bin_size must be a positive integer, not {bin_size!r}")
    width = upstream + downstream
    code = np.full(256, 255, dtype=np.uint8)
    code[np.frombuffer(b"GCgc", np.uint8)] = 1
    code[np.frombuffer(b"ATat", np.uint8)] = 0
    plus = (promoters["strand"] == "+").to_numpy()
    first = np.where(plus, promoters["start"] - promoters["tss"],
                     promoters["tss"] - (promoters["end"] - 1)).astype(np.int64) + upstream
    rows = []
    for species in pd.unique(promoters["species"]):
        sel = (promoters["species"] == species).to_numpy()
        gc = np.zeros(width, dtype=np.int64)
        n = np.zeros(width, dtype=np.int64)
        for seq, f in zip(promoters["sequence"][sel], first[sel]):
            c = code[np.frombuffer(seq.encode("ascii"), np.uint8)]
            a, b = max(f, 0), min(f + len(c), width)
            if b <= a:
                continue
            c = c[a - f:b - f]
            gc[a:b] += c == 1
            n[a:b] += c != 255
        edges = np.arange(0, width, bin_size)
        gcb, nb = np.add.reduceat(gc, edges), np.add.reduceat(n, edges)
        with np.errstate(invalid="ignore", divide="ignore"):
            frac = np.where(nb > 0, gcb / np.maximum(nb, 1), np.nan)
        rows.append(pd.DataFrame({"species": species, "position": edges - upstream,
                                  "gc_fraction": frac, "n_bases": nb}))
    return pd.concat(rows, ignore_index=True)
