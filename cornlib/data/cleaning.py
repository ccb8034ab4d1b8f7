"""Cleaning what expression tables hold: gene IDs in one form, numbers with clear errors."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

#: Cell values read as missing.
MISSING_TOKENS = {"", "na", "nan", "n/a", "null", "none", "-"}
_PREFIX = re.compile(r"^(?:gene|transcript|mrna|cds|protein):", re.IGNORECASE)
_MAIZE_FORM = re.compile(r"^(Zm\d{5}[a-z]{1,2}\d{6})_[TP]\d+$")



def normalize_gene_id(gene_id: str) -> str:
    """One gene ID whatever file it came from.

    ``gene:Zm00001eb000010`` (Ensembl GFF3 ``ID``), ``Zm00001eb000010_T001`` (maize transcript,
    as in the NAM tables) and ``Zm00001eb000010`` (MaizeGDB GFF3, v5 gene) all give
    ``Zm00001eb000010``. Other IDs lose only an Ensembl type prefix (``gene:AT1G01010`` →
    ``AT1G01010``); dotted transcript versions (``AT1G01010.1``) are kept as they are.
    """
    text = _PREFIX.sub("", str(gene_id).strip())
    m = _MAIZE_FORM.match(text)
    return m.group(1) if m else text


def maize_id_scheme(gene_id: str) -> str | None:
    """Which maize annotation a gene ID belongs to (for error hints), or ``None``."""
    text = normalize_gene_id(gene_id)
    if text.startswith("Zm00001eb"):
        return "B73 RefGen_v5 (Zm00001eb)"
    if text.startswith("Zm00001d"):
        return "B73 RefGen_v4 (Zm00001d)"
    if text.startswith("GRMZM"):
        return "B73 RefGen_v3 (GRMZM)"
    m = re.match(r"^Zm000(\d\d)ab", text)
    return f"NAM line annotation Zm000{m.group(1)}ab" if m else None


def _unannotated(raw_id: str) -> bool:
    """True for a NAM ``Geneid`` that is not a gene of the line (empty, NA, ``chr1:10-20``)."""
    text = str(raw_id).strip()
    return text.lower() in MISSING_TOKENS or bool(re.search(r":\d+-\d+$", text))


def numeric_column(col: pd.Series, *, source: str, column: str, ids: pd.Series,
                   first_line: int | None, allow_negative: bool = False,
                   where: str | None = None) -> pd.Series:
    """Parse one column of numbers; raise naming file, line (or row), gene and column if bad.

    ``where`` replaces the line/row in the message (a samples-in-rows table names its sample).
    """
    numeric = pd.api.types.is_numeric_dtype(col) and not pd.api.types.is_bool_dtype(col)
    text = col if numeric else col.astype("string").str.strip()
    arr = pd.to_numeric(text, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    bad = ~np.isfinite(arr)
    if not allow_negative:
        bad |= arr < 0
    if not bad.any():
        return pd.Series(arr, index=col.index)
    i = int(np.flatnonzero(bad)[0])
    shown = text.iloc[i]
    if np.isfinite(arr[i]):
        kind = "negative value"
    elif np.isinf(arr[i]):
        kind = "infinite value"
    elif pd.isna(col.iloc[i]) or str(shown).lower() in MISSING_TOKENS:
        kind = "missing value (NaN)"
    else:
        kind = "non-numeric value"
    if where is None:
        where = f"line {first_line + i}" if first_line is not None else f"row {i}"
    more = int(bad.sum()) - 1
    raise ValueError(
        f"{source} {where}: {kind} {shown!r} for gene {ids.iloc[i]!r} in column {column!r}"
        + (f" ({more} more bad value(s) in this column)" if more else "")
        + ("; values must be finite numbers" if allow_negative
           else "; values must be finite numbers >= 0 (TPM or log(TPM+1))")
        + ". Fix the file or remove the row")
