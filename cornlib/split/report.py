"""Audits as tables, names and numbers for the page: the audit table (checks × splits), the
per-species comparison, an honest name for the split, and the values chapter 03 glues."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd

from cornlib.split.audit import Audit

#: Row label of the audit table's denominators.
TEST_ROW = "test promoters"


def audit_table(audits: Mapping[str, Audit], percent: bool = False) -> pd.DataFrame:
    """Test promoters with a training hit, per check (rows) and audit (columns).

    The first row gives the test promoters of each audit; then one row per check of
    ``Audit.summary["checks"]`` in the order of the first audit (coverages high to low, shared
    DNA, protein family). A check an audit did not run is missing (``<NA>``).

    Args:
        audits: label → :class:`~cornlib.split.audit.Audit` (e.g. this split, a random split).
        percent: give percentages of the test promoters instead of counts.
    """
    rows: dict[str, dict[str, Any]] = {TEST_ROW: {}}
    for label, a in audits.items():
        rows[TEST_ROW][label] = 100.0 if percent else a.summary["test_promoters"]
        for c in a.summary["checks"]:
            rows.setdefault(c["check"], {})[label] = (c["percent"] if percent
                                                      else c["test_promoters"])
    table = pd.DataFrame.from_dict(rows, orient="index", columns=list(audits))
    table.index.name = "check"
    return table.astype("Float64" if percent else "Int64")


def compare(audits: Mapping[str, Audit]) -> pd.DataFrame:
    """One row per audit and species (plus ``all``): test promoters, leaks and duplicates."""
    rows = []
    for label, a in audits.items():
        for species, part in [("all", a.nearest), *a.nearest.groupby("species")]:
            d = a.duplicates
            d = d if species == "all" else d[d["species"] == species]
            rows.append({"split": label, "species": species, "test_promoters": len(part),
                         "leaks": int(part["similar"].sum()),
                         "leak_percent": round(100 * float(part["similar"].mean()), 1),
                         "exact_duplicates": int((d["exact_elsewhere"] > 0).sum()),
                         "rc_duplicates": int((d["rc_elsewhere"] > 0).sum())})
    return pd.DataFrame(rows)


def split_name(audit: Audit, families: bool = True) -> str:
    """What the split may be called: ``leakage-free`` only if every check found nothing.

    Otherwise ``homology- and family-aware`` (``homology-aware`` without the family check).
    """
    if audit.residual() == 0 and (not families or _has(audit, "family")):
        return "leakage-free"
    return "homology- and family-aware" if families else "homology-aware"


def _has(audit: Audit, key: str) -> bool:
    """Whether the audit ran the check ``key``."""
    return any(c["key"] == key for c in audit.summary.get("checks", []))


def glue_values(audit: Audit, prefix: str) -> dict[str, Any]:
    """Numbers of an audit under stable names for the page (myst-nb ``glue``).

    Names: ``{prefix}_test`` (test promoters), ``{prefix}_{key}`` and ``{prefix}_{key}_pct``
    for each check (``cov80``, ``cov50``, ``cov30``, ``shared_dna``, ``family``),
    ``{prefix}_shared_bp``, ``{prefix}_exact``, ``{prefix}_rc`` (promoters with an exact or
    reverse-complement copy in another split), ``{prefix}_residual`` (the largest count).
    """
    s = audit.summary
    out: dict[str, Any] = {f"{prefix}_test": int(s["test_promoters"]),
                           f"{prefix}_exact": int(s["exact_duplicates_across_splits"]),
                           f"{prefix}_rc": int(s["rc_duplicates_across_splits"]),
                           f"{prefix}_residual": int(audit.residual())}
    for c in s["checks"]:
        out[f"{prefix}_{c['key']}"] = int(c["test_promoters"])
        out[f"{prefix}_{c['key']}_pct"] = float(c["percent"])
    if s.get("shared_dna_bp") is not None:
        out[f"{prefix}_shared_bp"] = int(s["shared_dna_bp"])
    if "group_mates_elsewhere" in s:
        out[f"{prefix}_mates_elsewhere"] = int(s["group_mates_elsewhere"])
    return out


def leakage_statement(audit: Audit, baseline: Audit | None = None) -> str:
    """The audit as Markdown sentences, optionally against a baseline (e.g. a random split).

    Args:
        audit: the audit of the split in use.
        baseline: the audit of a split to compare with (e.g. :func:`~cornlib.split.assign.random_split`).
    """
    def says(a: Audit) -> str:
        s = a.summary
        checks = "; ".join(f"{c['check']}: **{c['test_promoters']:,}** ({c['percent']:.1f} %)"
                           for c in s["checks"])
        return (f"of {s['test_promoters']:,} test promoters, these have a training match — "
                f"{checks}; {s['exact_duplicates_across_splits']:,} promoters have an exact "
                f"copy and {s['rc_duplicates_across_splits']:,} a reverse-complement copy in "
                f"another split")

    text = f"With this ({split_name(audit, _has(audit, 'family'))}) split, {says(audit)}."
    if baseline is not None:
        text += f" With a random split, {says(baseline)}."
    return text


def neighbour_correlation(audits: Mapping[str, Audit], targets: pd.DataFrame) -> pd.DataFrame:
    """How well each test promoter's nearest training promoter predicts its targets.

    For the test promoters with any training hit (``nearest``'s ``match_id``), the Pearson
    correlation, per target column, between their values and their neighbours' values: what a
    nearest-neighbour lookup would score, and so how much a split lets through.

    Args:
        audits: label → :class:`~cornlib.split.audit.Audit`.
        targets: ``gene_id`` plus one numeric column per target (``targets/expression.parquet``).

    Returns:
        One row per audit: ``pairs`` (test promoters with a neighbour that has targets),
        ``mean_r``, ``min_r`` and ``max_r`` over the target columns.
    """
    values = targets.set_index(targets["gene_id"].astype(str)).drop(columns="gene_id")
    values = values.select_dtypes("number")
    rows = []
    for label, a in audits.items():
        near = a.nearest[(a.nearest["match_id"] != "")
                         & a.nearest["gene_id"].isin(values.index)
                         & a.nearest["match_id"].isin(values.index)]
        own = values.loc[near["gene_id"]].to_numpy(dtype=float)
        other = values.loc[near["match_id"]].to_numpy(dtype=float)
        r = pd.Series([pd.Series(own[:, j]).corr(pd.Series(other[:, j]))
                       for j in range(values.shape[1])], dtype=float) if len(near) > 2 \
            else pd.Series(dtype=float)
        rows.append({"split": label, "pairs": len(near), "mean_r": r.mean(),
                     "min_r": r.min(), "max_r": r.max()})
    return pd.DataFrame(rows).set_index("split")
