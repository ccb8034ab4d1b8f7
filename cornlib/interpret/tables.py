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

