"""Expression tables as labs have them, read into one genes × tissues TPM matrix.

Four layouts (the profile's ``expression: {layout: ...}``, or ``auto``):

- ``matrix``: genes × tissues, a gene ID column then one column per tissue (ready targets).
- ``genes_x_samples``: genes × samples (an RNA-seq pipeline's TPM matrix, as tximport/DESeq2
  use it) plus a **sample sheet** naming each sample's tissue (and replicate): columns
  ``sample``, ``tissue`` (or ``condition``/``organism_part``) and optionally ``replicate``.
  Replicates are averaged per tissue on the TPM scale.
- ``samples_x_genes``: one row per RNA-seq sample, metadata columns, then one column per gene
  (the NAM files FloraBERT read, ``<LINE>_TPM_expression_counts_aligned_against_own_genome.txt``:
  ``Cultivar``, ``organism_part``, gene IDs). Replicates (rows of one tissue) are averaged;
  ``shoot system`` is named ``shoot``; genes under 1 TPM in every tissue are dropped (FloraBERT's
  ``04-process-genex-nam.py``; the spec's ``min_tpm`` changes it, ``0`` keeps all).
- ``nam_tpm``: the NAM consortium's pan-gene tables (:mod:`cornlib.data.nam`).

``auto`` picks the layout from the header (:func:`detect_layout`); a header that fits none is an
error naming the columns found. Every value is checked: empty, NaN, non-numeric, infinite or
negative TPM raise a :class:`ValueError` naming the file, the gene and the sample.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import pandas as pd

from cornlib.data.cleaning import MISSING_TOKENS, numeric_column
from cornlib.data.nam import NAM_META_COLUMNS

#: The layouts :func:`cornlib.data.expression.load_expression` reads.
LAYOUTS = ("matrix", "genes_x_samples", "samples_x_genes", "nam_tpm")
#: Header names (lower case) taken as the gene ID column of a genes-in-rows table.
GENE_COLUMNS = ("gene_id", "geneid", "gene", "gene_name", "genes", "name", "id", "target_id",
                "feature_id", "")
#: Sample metadata columns of a samples-in-rows table (lower case); every other column is a gene.
SAMPLE_META = ("cultivar", "line", "genotype", "accession", "organism_part", "tissue", "sample",
               "sample_id", "sample_name", "run", "replicate", "rep", "stage",
               "developmental_stage", "library", "condition", "batch", "age")
#: Sheet/table columns naming a sample's tissue, in order of preference (lower case).
TISSUE_KEYS = ("tissue", "organism_part", "condition")
SAMPLE_KEYS = ("sample", "sample_id", "sample_name", "run", "library")
REPLICATE_KEYS = ("replicate", "rep")
LINE_KEYS = ("cultivar", "line", "genotype", "accession")
#: FloraBERT's filter for its NAM samples x genes files (genes under 1 TPM in every tissue go).
FLORABERT_MIN_TPM = 1.0
#: Tissue names renamed whatever the table (FloraBERT's NAM processing).
TISSUE_RENAMES = {"shoot system": "shoot"}


# --- reading and detecting ---------------------------------------------------------------------


def separator(path: str | os.PathLike) -> str:
    """``,`` for ``.csv``/``.csv.gz`` files, else a tab."""
    name = Path(path).name.lower().removesuffix(".gz")
    return "," if name.endswith(".csv") else "\t"


def read_raw(path: str | os.PathLike, *, nrows: int | None = None) -> pd.DataFrame:
    """A table as strings (plain or gzip; tab- or comma-separated by suffix), nothing parsed.

    Raises:
        FileNotFoundError: no such file.
        ValueError: an empty file.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"expression table {path} does not exist")
    try:
        return pd.read_csv(path, sep=separator(path), dtype=str, keep_default_na=False,
                           na_filter=False, nrows=nrows)
    except pd.errors.EmptyDataError:
        raise ValueError(f"{path} is empty: an expression table needs a header line") from None


def _find(columns, keys) -> str | None:
    """The first column whose lower-cased name is in ``keys`` (in the order of ``keys``)."""
    lower = {str(c).strip().lower(): c for c in columns}
    return next((lower[k] for k in keys if k in lower), None)


def gene_column(columns) -> str | None:
    """The gene ID column of a genes-in-rows table: a column named like :data:`GENE_COLUMNS`
    (``gene_id`` first), or an unnamed first column (row names written by R)."""
    found = _find(columns, GENE_COLUMNS)
    if found is not None:
        return found
    first = str(columns[0]) if len(columns) else None
    return columns[0] if first is not None and first.startswith("Unnamed") else None


def _is_numeric(values: pd.Series) -> bool:
    text = values.astype(str).str.strip()
    text = text[~text.str.lower().isin(MISSING_TOKENS)]
    return bool(len(text)) and pd.to_numeric(text, errors="coerce").notna().all()


def detect_layout(raw: pd.DataFrame, *, has_sheet: bool = False,
                  source: str = "expression table") -> str:
    """The layout of a table from its header (and first rows).

    Args:
        raw: the table as strings (:func:`read_raw`; a few rows suffice).
        has_sheet: a sample sheet was given (genes × samples).
        source: the file, for the message.

    Raises:
        ValueError: a table that fits no layout, naming the columns found and what each layout
            expects.
    """
    cols = list(raw.columns)
    if "Geneid" in cols and any(c not in NAM_META_COLUMNS for c in cols):
        return "nam_tpm"
    if _find(cols, TISSUE_KEYS) is not None and gene_column(cols) is None:
        return "samples_x_genes"
    if gene_column(cols) is not None and len(cols) > 1:
        return "genes_x_samples" if has_sheet else "matrix"
    shown = ", ".join(map(repr, cols[:8])) + (f", ... ({len(cols)} in all)" if len(cols) > 8 else "")
    raise ValueError(
        f"{source}: no known expression layout fits its columns ({shown}). Expected one of: "
        "genes x tissues ('gene_id' then one column per tissue); genes x samples ('gene_id' "
        "then one column per sample) with a sample sheet (--samples / 'samples': columns "
        "sample, tissue[, replicate]); samples x genes (metadata columns 'organism_part' or "
        "'tissue' [and 'Cultivar'], then one column per gene ID); the NAM pan-gene table "
        "(PanGeneID, Geneid, ... then LINE_STAGE_TISSUE_LIBRARY columns)")


# --- tissues, the sample sheet --------------------------------------------------------------------


def tissue_name(raw: str, names: Mapping[str, str] | None = None) -> str:
    """A tissue column name for a sheet value: mapped by ``names`` (then :data:`TISSUE_RENAMES`),
    spaces and dashes as ``_``."""
    text = str(raw).strip()
    table = {**TISSUE_RENAMES, **{str(k).strip().lower(): str(v) for k, v in (names or {}).items()}}
    text = table.get(text.lower(), text)
    return "_".join(text.replace("-", " ").split())


def read_sample_sheet(sheet: str | os.PathLike | pd.DataFrame, *,
                      tissue_names: Mapping[str, str] | None = None) -> pd.DataFrame:
    """Read a sample sheet: one row per sample, its tissue and (optionally) its replicate.

    Columns (any case): ``sample`` (or ``sample_id``, ``run``, ``library``; else the first
    column), ``tissue`` (or ``organism_part``, ``condition``), ``replicate`` (optional). A
    DataFrame is taken as it is (its source named ``sample sheet``).

    Returns:
        ``sample, tissue, replicate`` (replicate numbered 1, 2, ... per tissue when absent).

    Raises:
        ValueError: no tissue column (naming the columns found), an empty sample or tissue, or a
            sample listed twice (naming the file and line).
    """
    source = "sample sheet" if isinstance(sheet, pd.DataFrame) else str(sheet)
    raw = sheet.astype(str) if isinstance(sheet, pd.DataFrame) else read_raw(sheet)
    cols = list(raw.columns)
    tissue = _find(cols, TISSUE_KEYS)
    if tissue is None or len(cols) < 2:
        raise ValueError(f"{source}: a sample sheet needs a sample column and a 'tissue' column "
                         f"(or 'organism_part'/'condition'), and optionally 'replicate'; found "
                         f"columns {cols}")
    sample = _find(cols, SAMPLE_KEYS) or next(c for c in cols if c != tissue)
    rep = _find(cols, REPLICATE_KEYS)
    out = pd.DataFrame({"sample": raw[sample].astype(str).str.strip(),
                        "tissue": [tissue_name(t, tissue_names) for t in raw[tissue]]})
    for col in ("sample", "tissue"):
        empty = out[col].str.lower().isin(MISSING_TOKENS).to_numpy()
        if empty.any():
            i = int(np.flatnonzero(empty)[0])
            raise ValueError(f"{source} line {i + 2}: empty {col} ({int(empty.sum())} such "
                             "row(s)); every sample needs a name and a tissue")
    dup = out["sample"][out["sample"].duplicated()]
    if len(dup):
        raise ValueError(f"{source}: sample {dup.iloc[0]!r} is listed twice; one row per sample")
    if rep is not None:
        out["replicate"] = raw[rep].astype(str).str.strip().to_numpy()
    else:
        out["replicate"] = (out.groupby("tissue").cumcount() + 1).astype(str).to_numpy()
    return out


def _average(values: pd.DataFrame, groups: Mapping[str, list[str]], how: str) -> pd.DataFrame:
    """Columns of ``values`` averaged per group (``{tissue: [sample columns]}``)."""
    agg = (lambda b: b.mean(axis=1)) if how == "mean" else (lambda b: b.median(axis=1))
    return pd.DataFrame({t: agg(values[cols]).to_numpy(float) for t, cols in groups.items()},
                        index=values.index)


def _select_tissues(groups: dict[str, list[str]], tissues: list[str] | None,
                    source: str) -> tuple[dict[str, list[str]], list[str]]:
    """Keep (and order) the requested tissues; report the rest. Raises for an absent one."""
    if tissues is None:
        return groups, []
    missing = [t for t in tissues if t not in groups]
    if missing:
        raise ValueError(f"{source}: no sample of tissue(s) {missing}; the table has "
                         f"{list(groups)}. Remove them from the expression spec's 'tissues'")
    return {t: groups[t] for t in tissues}, [t for t in groups if t not in tissues]


def _report(groups: Mapping[str, list[str]], unused: list[str], how: str, sheet) -> dict:
    return {"samples": int(sum(map(len, groups.values()))),
            "samples_per_tissue": {t: len(c) for t, c in groups.items()},
            "tissues_not_used": unused, "replicate_agg": how,
            **({"replicates": {t: sorted(map(str, r)) for t, r in sheet.items()}} if sheet else {})}


# --- the layouts ---------------------------------------------------------------------------------


def _genes_in_rows(raw: pd.DataFrame, source: str) -> tuple[str, pd.Series, list[str]]:
    gid = gene_column(list(raw.columns))
    if gid is None:
        raise ValueError(f"{source}: no gene ID column (a column named 'gene_id', or an unnamed "
                         f"first column); found {list(raw.columns)[:8]}")
    ids = raw[gid].astype(str).str.strip()
    return gid, ids, [c for c in raw.columns if c != gid]


def read_genes_x_samples(path: str | os.PathLike, sheet: str | os.PathLike | pd.DataFrame, *,
                         tissues: list[str] | None = None,
                         tissue_names: Mapping[str, str] | None = None,
                         replicate_agg: str = "mean") -> tuple[pd.DataFrame, dict[str, Any]]:
    """A genes × samples TPM table and its sample sheet → genes × tissues TPM (replicates
    averaged per tissue).

    Returns:
        ``(tpm, report)``: ``gene_id`` + one TPM column per tissue, in sheet order.

    Raises:
        ValueError: samples of the table missing from the sheet or the reverse (naming them), or
            a bad value (naming the gene and the sample).
    """
    source = str(path)
    raw = read_raw(path)
    sheet_df = read_sample_sheet(sheet, tissue_names=tissue_names)
    _, ids, samples = _genes_in_rows(raw, source)
    listed = set(sheet_df["sample"])
    extra = [s for s in samples if str(s).strip() not in listed]
    absent = [s for s in sheet_df["sample"] if s not in {str(c).strip() for c in samples}]
    if extra or absent:
        parts = ([f"{len(extra)} table column(s) are not in the sheet (e.g. {extra[:5]})"]
                 if extra else [])
        parts += ([f"{len(absent)} sheet sample(s) are not table columns (e.g. {absent[:5]})"]
                  if absent else [])
        raise ValueError(f"{source}: the table and the sample sheet disagree: {'; '.join(parts)}. "
                         "Sample names must match exactly (columns of the table = 'sample' of "
                         "the sheet)")
    by_name = {str(c).strip(): c for c in samples}
    values = pd.DataFrame({s: numeric_column(raw[by_name[s]], source=source, column=s, ids=ids,
                                             first_line=2).to_numpy(float)
                           for s in sheet_df["sample"]})
    groups = {t: list(g["sample"]) for t, g in sheet_df.groupby("tissue", sort=False)}
    groups, unused = _select_tissues(groups, tissues, source)
    reps = {t: list(g["replicate"]) for t, g in sheet_df.groupby("tissue", sort=False)
            if t in groups}
    tpm = pd.concat([pd.DataFrame({"gene_id": ids.to_numpy(object)}),
                     _average(values, groups, replicate_agg)], axis=1)
    return tpm, {"layout": "genes_x_samples", **_report(groups, unused, replicate_agg, reps)}


def read_samples_x_genes(path: str | os.PathLike, *, line: str | None = None,
                         tissues: list[str] | None = None,
                         tissue_names: Mapping[str, str] | None = None,
                         replicate_agg: str = "mean",
                         ignore_columns: list[str] | tuple[str, ...] = ()
                         ) -> tuple[pd.DataFrame, dict[str, Any]]:
    """A samples × genes TPM table (metadata columns, then one column per gene) → genes ×
    tissues TPM; the rows of one tissue (its replicates) are averaged.

    Metadata columns are those named like :data:`SAMPLE_META` (``Cultivar``, ``organism_part``,
    ...) and ``ignore_columns``; the tissue is read from ``organism_part`` (or ``tissue``). When
    the table holds several cultivars (lines), ``line`` picks one.

    Raises:
        ValueError: no tissue column, several cultivars without ``line`` (or a ``line`` absent),
            or a bad value (naming the sample's line, the sample and the gene).
    """
    source = str(path)
    raw = read_raw(path)
    cols = list(raw.columns)
    tissue = _find(cols, TISSUE_KEYS)
    if tissue is None:
        raise ValueError(f"{source}: a samples x genes table needs an 'organism_part' or "
                         f"'tissue' column; found {cols[:8]}")
    meta = {c for c in cols if str(c).strip().lower() in SAMPLE_META} | set(ignore_columns)
    genes = [c for c in cols if c not in meta]
    if not genes:
        raise ValueError(f"{source}: no gene columns besides the metadata {sorted(meta)}")
    lines = np.arange(len(raw)) + 2
    cultivar = _find(cols, LINE_KEYS)
    found_lines = list(dict.fromkeys(raw[cultivar].str.strip())) if cultivar else []
    if cultivar and (len(found_lines) > 1 or line is not None):
        if line is None:
            raise ValueError(f"{source}: the table holds several lines in '{cultivar}' "
                             f"({found_lines[:6]}); name one in the expression spec's 'lines'")
        keep = (raw[cultivar].str.strip().str.lower() == line.lower()).to_numpy()
        if not keep.any():
            if len(found_lines) > 1:
                raise ValueError(f"{source}: no row of line {line!r} in '{cultivar}' (found "
                                 f"{found_lines[:6]})")
            keep[:] = True  # one line, under another name (B73 vs b73_v5): take it
        raw, lines = raw.loc[keep].reset_index(drop=True), lines[keep]
    sample_col = _find(cols, SAMPLE_KEYS)
    tissue_of = [tissue_name(t, tissue_names) for t in raw[tissue]]
    labels = (raw[sample_col].astype(str).str.strip().tolist() if sample_col else
              [f"{t}_{i + 1}" for t, i in zip(tissue_of, pd.Series(tissue_of).groupby(
                  tissue_of).cumcount())])
    gene_ids = pd.Series([str(g).strip() for g in genes])
    block = raw[genes]
    values = {}
    for k in range(len(raw)):
        where = f"line {lines[k]} (sample {labels[k]!r}, tissue {tissue_of[k]!r})"
        values[labels[k]] = numeric_column(block.iloc[k].reset_index(drop=True), source=source,
                                           column=labels[k], ids=gene_ids, first_line=None,
                                           where=where).to_numpy(float)
    values = pd.DataFrame(values)
    groups: dict[str, list[str]] = {}
    for lab, t in zip(labels, tissue_of):
        groups.setdefault(t, []).append(lab)
    groups, unused = _select_tissues(groups, tissues, source)
    tpm = pd.concat([pd.DataFrame({"gene_id": gene_ids.to_numpy(object)}),
                     _average(values, groups, replicate_agg)], axis=1)
    report = {"layout": "samples_x_genes", "lines_found": found_lines, "gene_columns": len(genes),
              "metadata_columns": sorted(map(str, meta & set(cols))),
              **_report(groups, unused, replicate_agg, None)}
    return tpm, report


def read_genes_x_tissues(path: str | os.PathLike, *, tissues: list[str] | None = None,
                         values: str = "tpm") -> tuple[pd.DataFrame, dict[str, Any]]:
    """A ready genes × tissues table as TPM (``values: log1p_tpm`` is turned back to TPM only for
    the ``min_tpm`` filter; see :func:`cornlib.data.expression.read_matrix` for targets)."""
    source = str(path)
    from cornlib.data.expression import validate_targets

    raw = read_raw(path)
    gid, ids, _ = _genes_in_rows(raw, source)
    frame = raw.rename(columns={gid: "gene_id"})
    frame["gene_id"] = ids
    df = validate_targets(frame, source=source, tissues=tissues, first_line=2)
    cols = [c for c in df.columns if c != "gene_id"]
    if values == "log1p_tpm":
        df[cols] = np.expm1(df[cols])
    return df, {"layout": "matrix", "values": values, "tissues": cols}


def drop_low(tpm: pd.DataFrame, tissues: list[str], min_tpm: float | None, *,
             examples: int = 5) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Drop genes under ``min_tpm`` TPM in every tissue (FloraBERT: 1); ``None`` keeps all."""
    if not min_tpm:
        return tpm, {"min_tpm": None, "low_genes_dropped": 0}
    low = (tpm[tissues] < float(min_tpm)).all(axis=1).to_numpy()
    return (tpm.loc[~low].reset_index(drop=True),
            {"min_tpm": float(min_tpm), "low_genes_dropped": int(low.sum()),
             "low_examples": tpm.loc[low, "gene_id"].head(examples).astype(str).tolist()})
