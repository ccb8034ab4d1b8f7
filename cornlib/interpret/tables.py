"""Tables as a book page shows them: rounded numbers, one mark for a missing value.

pandas shows a missing float as ``NaN`` and a missing object as ``None``; :func:`compact`
formats every cell as text so that a page shows each number to the digits it means and every
missing value as :data:`MISSING`.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

#: How a missing value is shown.
MISSING = "—"


def _cell(value, fmt: str | None, digits: int) -> str:
    if value is None or (isinstance(value, (float, np.floating)) and np.isnan(value)):
        return MISSING
    if value is pd.NA or value is pd.NaT:
        return MISSING
    if fmt is not None:
        return fmt.format(value)
    if isinstance(value, (bool, np.bool_)):
        return str(bool(value))
    if isinstance(value, (int, np.integer)):
        return f"{int(value):,d}"
    if isinstance(value, (float, np.floating)):
        return f"{float(value):.{digits}f}"
    return str(value)


def compact(table: pd.DataFrame, digits: int = 3,
            formats: Mapping[str, str] | None = None) -> pd.DataFrame:
    """``table`` with every cell as text: floats to ``digits`` decimals (or the column's
    ``formats`` entry, e.g. ``"{:.1e}"``), integers with thousands separators, missing values
    as :data:`MISSING`. The index and column names are kept."""
    formats = dict(formats or {})
    unknown = set(formats) - set(table.columns)
    if unknown:
        raise KeyError(f"formats name columns the table does not have: {sorted(unknown)}")
    out = pd.DataFrame(index=table.index)
    for c in table.columns:
        out[c] = [_cell(v, formats.get(c), digits) for v in table[c].tolist()]
    return out


def intervals(table: pd.DataFrame, index: str | list[str], columns: str = "metric",
              digits: int = 3, sign: bool = False) -> pd.DataFrame:
    """A long table of estimates (``value``, ``ci_low``, ``ci_high``) as a wide page table:
    one row per ``index``, one column per value of ``columns``, each cell
    ``value [ci_low, ci_high]`` as text (``+`` on positive numbers with ``sign``;
    :data:`MISSING` for an undefined value)."""
    f = f"{{:{'+' if sign else ''}.{digits}f}}"
    if table.empty:
        return pd.DataFrame(index=pd.Index([], name=None if isinstance(index, list) else index))

    def cell(r) -> str:
        if not np.isfinite(r["value"]):
            return MISSING
        if not (np.isfinite(r["ci_low"]) and np.isfinite(r["ci_high"])):
            return f.format(r["value"])
        return (f"{f.format(r['value'])} [{f.format(r['ci_low'])}, "
                f"{f.format(r['ci_high'])}]")

    text = table.assign(_cell=table.apply(cell, axis=1))
    wide = text.pivot(index=index, columns=columns, values="_cell")
    order = list(pd.unique(table[columns]))
    rows = pd.unique(pd.MultiIndex.from_frame(table[index]) if isinstance(index, list)
                     else table[index])
    wide = wide.reindex(index=rows, columns=order).rename_axis(columns=None)
    return wide.fillna(MISSING)
