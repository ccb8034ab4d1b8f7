"""The modelling table: promoters ⨝ split ⨝ expression targets (+ real proxy) by gene_id, validated."""

from __future__ import annotations

import dataclasses
import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import pandas as pd

from cornlib import CornlibWarning
from cornlib.split.assign import SPLITS

PROXY = "proxy"
_PROMOTER_COLUMNS = ("gene_id", "species", "chrom", "start", "end", "strand", "sequence")
_SPLIT_COLUMNS = ("gene_id", "cluster_id", "split", "fold")


@dataclass(frozen=True)
class ModellingData:
    """One row per gene with its promoter, split and targets.

    Attributes:
        table: columns ``gene_id, species, chrom, start, end, strand, sequence, cluster_id,
            split, fold``, one float column per tissue and, when loaded, ``proxy`` (NaN for genes
            without the real label, i.e. every non-*A. thaliana* gene). Sorted by ``gene_id``.
        tissues: the expression target columns (simulated or measured, per ``card["kind"]``).
        proxy: ``"proxy"`` when the real proxy label was joined, else ``None``.
        card: the targets card (``targets/card.json``), ``{}`` if absent.
        report: one row per join: ``join, left_only, right_only, matched, examples``.
        promoter_settings: how the promoters were cut (chapter 02's parameters,
            :data:`cornlib.data.promoters.PROMOTER_KEYS`; ``{}`` when not recorded); every model
            trained on this data records them, so ``cornlib predict`` cuts promoters alike.
    """

    table: pd.DataFrame
    tissues: list[str]
    proxy: str | None = None
    card: dict[str, Any] = field(default_factory=dict)
    report: pd.DataFrame = field(default_factory=pd.DataFrame)
    promoter_settings: dict[str, Any] = field(default_factory=dict)

    @property
    def targets(self) -> list[str]:
        """Every target (the tissues, then the proxy if present)."""
        return self.tissues + ([self.proxy] if self.proxy else [])

    def rows(self, split: str, targets: Sequence[str] | None = None) -> pd.DataFrame:
        """Genes of one split that have every one of ``targets`` (a copy; default: the tissues).

        The proxy is defined for *A. thaliana* genes only, so asking for it keeps those genes.
        """
        if split not in SPLITS:
            raise ValueError(f"split must be one of {SPLITS}, not {split!r}")
        targets = list(self.tissues if targets is None else targets)
        unknown = [t for t in targets if t not in self.table.columns]
        if unknown:
            raise ValueError(f"unknown targets {unknown}; known: {self.targets}")
        sub = self.table[self.table["split"] == split]
        if targets:
            sub = sub[sub[targets].notna().all(axis=1)]
        return sub.reset_index(drop=True)

    def arrays(self, split: str, targets: Sequence[str] | None = None
               ) -> tuple[np.ndarray, list[str], np.ndarray]:
        """``(gene_ids, sequences, Y)`` of one split; ``Y`` has shape (n_genes, n_targets)."""
        targets = list(self.tissues if targets is None else targets)
        sub = self.rows(split, targets)
        return sub["gene_id"].to_numpy(), sub["sequence"].tolist(), sub[targets].to_numpy(float)

    @property
    def ceiling(self) -> dict[str, float]:
        """``{tissue: noise-ceiling r²}`` from the card (empty for measured targets)."""
        return {str(k): float(v) for k, v in (self.card.get("noise_ceiling_r2") or {}).items()}


def _read_parquet(run_dir: Path, name: str, columns: Sequence[str]) -> pd.DataFrame:
    """Read a run-directory table, with an error that says which notebook writes it."""
    from cornlib import artifacts

    path = artifacts.path(run_dir, name)
    df = pd.read_parquet(path)
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise ValueError(f"{path} lacks columns {missing} (has {list(df.columns)}); rerun "
                         f"{artifacts.producer(name)}")
    return df


def _check_unique(df: pd.DataFrame, name: str) -> None:
    """Each gene_id once."""
    dup = df["gene_id"].duplicated()
    if dup.any():
        raise ValueError(f"{name}: gene_id {df.loc[dup, 'gene_id'].iloc[0]!r} appears more than once "
                         f"({int(dup.sum())} repeats); keep one row per gene")


def _join_row(join: str, left: pd.Series, right: pd.Series) -> dict[str, Any]:
    """Counts of gene_ids on one or both sides of a join, with a few examples of the misses."""
    lhs, rhs = set(left), set(right)
    miss = sorted(lhs - rhs)[:3] + sorted(rhs - lhs)[:3]
    return {"join": join, "left_only": len(lhs - rhs), "right_only": len(rhs - lhs),
            "matched": len(lhs & rhs), "examples": ", ".join(miss)}


def _check_targets(df: pd.DataFrame, columns: Sequence[str], name: str) -> None:
    """Every target numeric and finite, naming the first bad gene."""
    for col in columns:
        if not pd.api.types.is_numeric_dtype(df[col]):
            raise ValueError(f"{name}: target column {col!r} is {df[col].dtype}, not numeric")
        bad = ~np.isfinite(df[col].to_numpy(float))
        if bad.any():
            gene = df.loc[bad, "gene_id"].iloc[0]
            raise ValueError(f"{name}: target {col!r} is NaN/inf for {int(bad.sum())} genes (first: "
                             f"{gene!r}); impute or drop those genes when the targets are made")


def _check_split(table: pd.DataFrame, splits: Sequence[str]) -> None:
    """Every split and every training fold holds genes; folds follow the convention of cornlib.split."""
    unknown = sorted(set(table["split"]) - set(SPLITS))
    if unknown:
        raise ValueError(f"split.parquet: unknown split labels {unknown}; expected {SPLITS}")
    counts = table["split"].value_counts()
    for s in splits:
        if counts.get(s, 0) == 0:
            raise ValueError(f"split {s!r} has no genes with a promoter and targets; check "
                             "split_fractions in the profile and the join report")
    train = table[table["split"] == "train"]
    if (train["fold"] < 0).any():
        gene = train.loc[train["fold"] < 0, "gene_id"].iloc[0]
        raise ValueError(f"split.parquet: training gene {gene!r} has fold -1; folds run 0..k-1")
    k = int(train["fold"].max()) + 1 if len(train) else 0
    empty = sorted(set(range(k)) - set(train["fold"]))
    if empty:
        raise ValueError(f"fold {empty[0]} of 0..{k - 1} holds no training genes (after the join); "
                         "lower n_folds or check the split")


def assemble(promoters: pd.DataFrame, split: pd.DataFrame, expression: pd.DataFrame, *,
             proxy: pd.DataFrame | None = None, card: dict[str, Any] | None = None,
             splits: Sequence[str] = SPLITS) -> ModellingData:
    """Join the run-directory tables on ``gene_id`` (inner for targets, left for the proxy).

    Args:
        promoters: ``promoters.parquet`` (gene_id, species, ..., sequence).
        split: ``split.parquet`` (gene_id, cluster_id, split, fold).
        expression: ``targets/expression.parquet`` (gene_id + one float column per tissue).
        proxy: ``targets/proxy.parquet`` (gene_id, proxy) or ``None``.
        card: ``targets/card.json``; its ``tissues`` fix the target order when present.
        splits: splits that must be non-empty.

    Returns:
        A :class:`ModellingData`; genes lost in a join are counted in ``report`` and warned about
        with :class:`cornlib.CornlibWarning` when a promoter lacks a split row or targets.

    Raises:
        ValueError: a missing column, a repeated gene_id, a NaN/inf target, an unknown split
            label, or an empty split or fold.
    """
    card = dict(card or {})
    for df, cols, name in ((promoters, _PROMOTER_COLUMNS, "promoters"),
                           (split, _SPLIT_COLUMNS, "split"), (expression, ("gene_id",), "expression")):
        missing = [c for c in cols if c not in df.columns]
        if missing:
            raise ValueError(f"{name} table lacks columns {missing}")
        _check_unique(df, name)
    tissues = [c for c in expression.columns if c != "gene_id"]
    if card.get("tissues"):
        absent = [t for t in card["tissues"] if t not in tissues]
        if absent:
            raise ValueError(f"card.json names tissues {absent} that expression.parquet lacks")
        tissues = list(card["tissues"])
    if not tissues:
        raise ValueError("expression table has no target columns besides gene_id")
    _check_targets(expression, tissues, "expression")

    report = [_join_row("promoters ⨝ split", promoters["gene_id"], split["gene_id"])]
    table = promoters[list(_PROMOTER_COLUMNS)].merge(split[list(_SPLIT_COLUMNS)], on="gene_id")
    report.append(_join_row("(promoters ⨝ split) ⨝ targets", table["gene_id"], expression["gene_id"]))
    table = table.merge(expression[["gene_id", *tissues]], on="gene_id")
    proxy_name = None
    if proxy is not None:
        if PROXY not in proxy.columns or "gene_id" not in proxy.columns:
            raise ValueError(f"proxy table needs columns gene_id and {PROXY!r}")
        _check_unique(proxy, "proxy")
        _check_targets(proxy, [PROXY], "proxy")
        report.append(_join_row("table ⟕ proxy", table["gene_id"], proxy["gene_id"]))
        table = table.merge(proxy[["gene_id", PROXY]], on="gene_id", how="left")
        proxy_name = PROXY
    report = pd.DataFrame(report)
    lost = report.iloc[:2]["left_only"].to_numpy()
    if lost.any():
        warnings.warn(f"{int(lost[0])} promoters have no split row and {int(lost[1])} more have no "
                      "targets; they are left out (see ModellingData.report)", CornlibWarning,
                      stacklevel=2)
    _check_split(table, splits)
    table = table.sort_values("gene_id").reset_index(drop=True)
    return ModellingData(table=table, tissues=tissues, proxy=proxy_name, card=card, report=report)


def load(run_dir: str | os.PathLike, *, proxy: bool | None = None,
         splits: Sequence[str] = SPLITS) -> ModellingData:
    """Read and join ``promoters.parquet``, ``split.parquet`` and ``targets/`` of a run directory.

    Args:
        run_dir: the run directory.
        proxy: join ``targets/proxy.parquet``; ``None`` joins it when the file exists.
        splits: splits that must be non-empty.

    Raises:
        FileNotFoundError: a table is missing (the message names the notebook that writes it).
        ValueError: see :func:`assemble`.
    """
    from cornlib import io

    run_dir = Path(run_dir)
    promoters = _read_parquet(run_dir, "promoters.parquet", _PROMOTER_COLUMNS)
    split = _read_parquet(run_dir, "split.parquet", _SPLIT_COLUMNS)
    expression = _read_parquet(run_dir, "targets/expression.parquet", ["gene_id"])
    card_path = run_dir / "targets" / "card.json"
    card = io.read_json(card_path) if card_path.exists() else {}
    proxy_path = run_dir / "targets" / "proxy.parquet"
    if proxy is None:
        proxy = proxy_path.exists()
    proxy_df = _read_parquet(run_dir, "targets/proxy.parquet", ["gene_id", PROXY]) if proxy else None
    data = assemble(promoters, split, expression, proxy=proxy_df, card=card, splits=splits)
    report_path = run_dir / "promoters_report.json"
    if report_path.exists():
        from cornlib.data.promoters import PROMOTER_KEYS

        params = io.read_json(report_path).get("parameters") or {}
        data = dataclasses.replace(data, promoter_settings={
            k: v for k, v in params.items() if k in PROMOTER_KEYS})
    return data
