"""Measured expression targets: the maize NAM TPM tables as a genes × tissues log(TPM+1) matrix.

The source (profile key ``expression``, layout ``nam_tpm``) is the NAM consortium's per-line table
``<LINE>_full-tpm.tsv`` (Hufford et al. 2021, CyVerse ``NAM_pangene_expression_counts_per_tissue-TPM``):
one row per pan-gene, the columns ``PanGeneID, Geneid, Chr, Start, End, Strand, Length`` and then
one TPM column per RNA-seq library, named ``LINE_STAGE_TISSUE_LIBRARY`` (``B73_V11_middle_MN01041``).

Choices, each a spec key (defaults in brackets), each counted in the report:

- **Tissues** [all ten]: library tissue tokens map to :data:`NAM_TISSUES` (``middle`` →
  ``leaf_middle``); tissues present but not listed are left out and reported; a listed tissue with
  no library, or a token not in the map, is an error.
- **Replicates** [``mean``]: the libraries of one tissue of one line are averaged on the TPM scale.
- **Lines** [``[B73]``]: with several lines, each pan-gene's tissue TPM is the ``median`` across the
  lines that carry it, then keyed by the reference line's gene ID (pan-genes absent from the
  reference line are reported and left out). One line (the genome the promoters come from) is the
  default because another line's expression belongs to another line's promoter.
- **Gene IDs**: ``Geneid`` values are normalised with :func:`normalize_gene_id` (``gene:`` prefix
  and the maize ``_T001`` transcript suffix removed). Rows whose ``Geneid`` is not a gene of that
  line (empty, ``NA`` or a ``chr:start-end`` placement) are reported and left out.
- **Duplicated genes**: rows with identical values collapse; differing rows raise unless
  ``duplicates`` is ``mean``/``max``/``first`` (then reported with a warning).
- **Scale**: natural log, ``log(TPM + 1)``. **All-zero genes** are kept (``drop_all_zero: false``)
  and counted; FloraBERT dropped genes below 1 TPM in every tissue.
- **Bad values**: NaN, empty, non-numeric, infinite or negative TPM raise :class:`ValueError` naming
  the file, line, gene ID and column. Nothing is imputed or dropped silently.
"""

from __future__ import annotations

import os
import re
import warnings
from pathlib import Path
from typing import Any, Mapping

import pandas as pd

from cornlib import CornlibWarning
from cornlib.data.cleaning import _unannotated, normalize_gene_id, numeric_column

#: Tissue token of a NAM library name → the book's tissue name.
NAM_TISSUES: dict[str, str] = {
    "root": "root", "shoot": "shoot", "base": "leaf_base", "middle": "leaf_middle",
    "tip": "leaf_tip", "ear": "ear", "tassel": "tassel", "anther": "anther",
    "endosperm": "endosperm", "embryo": "embryo",
}
#: The metadata columns of a NAM full-tpm table (every other column is a library).
NAM_META_COLUMNS = ("PanGeneID", "Geneid", "Chr", "Start", "End", "Strand", "Length")
#: The form of a NAM library column name, ``<line>_<stage>_<tissue>_<library>``.
LIBRARY_PATTERN = re.compile(r"(?P<line>[^_]+)_(?P<stage>[^_]+)_(?P<tissue>[^_]+)_(?P<library>[^_.]+)")

# --- reading the NAM table -----------------------------------------------------------------------


def parse_libraries(columns: list[str], source: str = "table",
                    tissue_names: Mapping[str, str] | None = None,
                    pattern: str | None = None) -> pd.DataFrame:
    """Split library column names ``LINE_STAGE_TISSUE_LIBRARY`` into their parts.

    A directory or a ``.bam`` suffix in the name (featureCounts headers) is ignored. ``pattern``
    replaces :data:`LIBRARY_PATTERN` (a regex matched at the start, with a ``tissue`` group and
    optionally ``line``, ``stage``, ``library``).

    Returns:
        One row per column: ``column, line, stage, token, tissue, library``.

    Raises:
        ValueError: a column that is not a library name, or a tissue token not in
            :data:`NAM_TISSUES` / ``tissue_names`` (naming the file and the column).
    """
    names = {**NAM_TISSUES, **{str(k).lower(): str(v) for k, v in (tissue_names or {}).items()}}
    regex = re.compile(pattern) if pattern else LIBRARY_PATTERN
    rows = []
    for col in columns:
        m = regex.match(str(col).rsplit("/", 1)[-1])
        if not m:
            raise ValueError(
                f"{source}: column {col!r} is neither a metadata column {list(NAM_META_COLUMNS)} "
                "nor a library named LINE_STAGE_TISSUE_LIBRARY (like B73_V11_middle_MN01041); "
                "list it in the expression spec's 'ignore_columns' or set 'library_pattern'")
        token = m["tissue"].lower()
        if token not in names:
            raise ValueError(
                f"{source}: unknown tissue {m['tissue']!r} in column {col!r}; known tokens: "
                f"{sorted(names)}. Map it in the expression spec, e.g. tissue_names: "
                f"{{{m['tissue']}: <name>}}")
        parts = m.groupdict()
        rows.append({"column": col, "line": parts.get("line"), "stage": parts.get("stage"),
                     "token": token, "tissue": names[token], "library": parts.get("library")})
    return pd.DataFrame(rows, columns=["column", "line", "stage", "token", "tissue", "library"])


def read_nam_tpm(path: str | os.PathLike, tissue_names: Mapping[str, str] | None = None, *,
                 library_pattern: str | None = None,
                 ignore_columns: list[str] | tuple[str, ...] = ()) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Read one NAM ``<LINE>_full-tpm.tsv`` table, checking every value.

    Args:
        path: the table (tab-separated; ``.csv`` is read comma-separated).
        tissue_names: extra library tissue tokens (see :func:`parse_libraries`).
        library_pattern: another library-name regex (see :func:`parse_libraries`).
        ignore_columns: further metadata columns to skip (besides :data:`NAM_META_COLUMNS`).

    Returns:
        ``(table, libraries)``: ``table`` has ``pan_gene_id`` (``None`` if the file has no
        ``PanGeneID``), ``raw_id`` (``Geneid``), ``gene_id`` (normalised; ``None`` for rows that
        are not a gene of the line) and one float TPM column per library; ``libraries`` is
        :func:`parse_libraries` of those columns.

    Raises:
        FileNotFoundError: no such file.
        ValueError: a missing ``Geneid`` column, a bad library column, or a bad value.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path} does not exist; fetch it with "
                                "cornlib.data.download.fetch_expression(spec, cache_dir)")
    raw = pd.read_csv(path, sep="," if path.suffix == ".csv" else "\t", dtype=str,
                      keep_default_na=False, na_filter=False)
    if "Geneid" not in raw.columns:
        raise ValueError(f"{path}: no 'Geneid' column (columns: {list(raw.columns)[:8]}...); "
                         f"expected the NAM full-tpm layout {list(NAM_META_COLUMNS)} + libraries")
    lib_cols = [c for c in raw.columns if c not in NAM_META_COLUMNS and c not in ignore_columns]
    if not lib_cols:
        raise ValueError(f"{path}: no library columns after {list(NAM_META_COLUMNS)}")
    libraries = parse_libraries(lib_cols, str(path), tissue_names, library_pattern)
    ids = raw["Geneid"]
    table = pd.DataFrame({
        "pan_gene_id": raw["PanGeneID"] if "PanGeneID" in raw.columns else None,
        "raw_id": ids,
        "gene_id": [None if _unannotated(x) else normalize_gene_id(x) for x in ids],
    })
    values = {c: numeric_column(raw[c], source=str(path), column=c, ids=ids, first_line=2)
              for c in lib_cols}
    return pd.concat([table, pd.DataFrame(values)], axis=1), libraries


def line_matrix(table: pd.DataFrame, libraries: pd.DataFrame, *, tissues: list[str] | None = None,
                replicate_agg: str = "mean", source: str = "table",
                examples: int = 5) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Average one line's libraries into tissues (TPM scale) and drop rows that are not genes.

    Args:
        table, libraries: from :func:`read_nam_tpm`.
        tissues: tissues to keep, in output order; ``None`` keeps all, in :data:`NAM_TISSUES` order.
        replicate_agg: ``mean`` or ``median`` over the libraries of a tissue.
        source: file name for messages.
        examples: how many example IDs a report lists.

    Returns:
        ``(matrix, report)``: ``matrix`` has ``pan_gene_id, gene_id`` and one TPM column per
        tissue (genes × tissues); the report counts libraries per tissue, rows left out and
        tissues not used.

    Raises:
        ValueError: a requested tissue has no library in this table.
    """
    present = list(dict.fromkeys(libraries["tissue"]))
    order = list(dict.fromkeys([*NAM_TISSUES.values(), *present]))
    present = [t for t in order if t in present]
    tissues = list(tissues) if tissues is not None else present
    missing = [t for t in tissues if t not in present]
    if missing:
        raise ValueError(f"{source}: no library for tissue(s) {missing}; the table has {present}. "
                         "Remove them from the expression spec's 'tissues'")
    keep = table["gene_id"].notna().to_numpy()
    out = table.loc[keep, ["pan_gene_id", "gene_id"]].reset_index(drop=True)
    for t in tissues:
        cols = libraries.loc[libraries["tissue"] == t, "column"].tolist()
        block = table.loc[keep, cols]
        agg = block.mean(axis=1) if replicate_agg == "mean" else block.median(axis=1)
        out[t] = agg.to_numpy(dtype=float)
    report = {
        "file": source,
        "libraries": int(len(libraries)),
        "libraries_per_tissue": {t: int((libraries["tissue"] == t).sum()) for t in tissues},
        "rows": int(len(table)),
        "rows_not_genes": int((~keep).sum()),
        "rows_not_genes_examples": table.loc[~keep, "raw_id"].head(examples).tolist(),
        "tissues_not_used": [t for t in present if t not in tissues],
        "replicate_agg": replicate_agg,
    }
    return out, report


# --- combining lines and rows --------------------------------------------------------------------


def _collapse_duplicates(df: pd.DataFrame, tissues: list[str], policy: str, source: str,
                         examples: int) -> tuple[pd.DataFrame, dict[str, Any]]:
    """One row per gene: identical duplicate rows collapse; differing ones follow ``policy``."""
    report: dict[str, Any] = {"duplicates_policy": policy, "identical_duplicates_collapsed": 0,
                              "conflicting_duplicates": 0, "conflicting_examples": []}
    dup = df["gene_id"].duplicated(keep=False)
    if not dup.any():
        return df.reset_index(drop=True), report
    blocks = list(df.loc[dup].groupby("gene_id", sort=False)[tissues])
    conflicting = [g for g, block in blocks if len(block.drop_duplicates()) > 1]
    report["identical_duplicates_collapsed"] = sum(len(b) - 1 for g, b in blocks if g not in conflicting)
    report["conflicting_duplicates"] = len(conflicting)
    report["conflicting_examples"] = conflicting[:examples]
    if conflicting and policy == "error":
        g = conflicting[0]
        vals = df.loc[df["gene_id"] == g, tissues[0]].tolist()
        raise ValueError(
            f"{source}: gene {g!r} has {len(vals)} rows with different values (e.g. {tissues[0]}: "
            f"{vals}); {len(conflicting)} gene(s) are duplicated like this. Set the expression "
            "spec's 'duplicates' to mean, max or first to combine them")
    if conflicting:
        warnings.warn(f"{source}: {len(conflicting)} gene(s) have several differing rows "
                      f"(e.g. {conflicting[:3]}); combined with '{policy}'", CornlibWarning,
                      stacklevel=3)
    how = "first" if policy == "error" else policy
    return df.groupby("gene_id", sort=False, as_index=False)[tissues].agg(how), report


def combine_lines(matrices: Mapping[str, pd.DataFrame], *, reference_line: str,
                  tissues: list[str], line_agg: str = "median", duplicates: str = "error",
                  source: str = "expression",
                  examples: int = 5) -> tuple[pd.DataFrame, dict[str, Any]]:
    """One TPM matrix keyed by the reference line's gene IDs.

    With one line, its genes are kept as they are. With several, each pan-gene's tissue value is
    ``line_agg`` over the lines carrying it, then mapped to the reference line's gene.

    Returns:
        ``(matrix, report)``: ``gene_id`` + one TPM column per tissue.

    Raises:
        ValueError: a table without ``PanGeneID`` or with a pan-gene twice (several lines), or
            conflicting duplicate genes under ``duplicates: error``.
    """
    report: dict[str, Any] = {"lines": list(matrices), "reference_line": reference_line}
    if len(matrices) == 1:
        merged = next(iter(matrices.values()))[["gene_id", *tissues]]
    else:
        for line, m in matrices.items():
            if m["pan_gene_id"].isna().any():
                raise ValueError(f"{source}: the {line} table has no PanGeneID column; several "
                                 "lines are matched by pan-gene ID")
            dup = m["pan_gene_id"][m["pan_gene_id"].duplicated()]
            if len(dup):
                raise ValueError(f"{source}: pan-gene {dup.iloc[0]!r} appears twice in the {line} "
                                 "table; several lines need one row per pan-gene")
        stacked = pd.concat([m.assign(line=line) for line, m in matrices.items()], ignore_index=True)
        grouped = stacked.groupby("pan_gene_id", sort=False)
        agg = grouped[tissues].agg(line_agg)
        n_lines = grouped["line"].nunique()
        ref = matrices[reference_line].set_index("pan_gene_id")["gene_id"]
        mapped = agg.join(ref, how="left")
        no_ref = mapped["gene_id"].isna()
        report.update({
            "line_agg": line_agg,
            "pan_genes": int(len(agg)),
            "lines_per_pan_gene": {"min": int(n_lines.min()), "median": float(n_lines.median()),
                                   "max": int(n_lines.max())},
            "pan_genes_without_reference_gene": int(no_ref.sum()),
            "pan_genes_without_reference_gene_examples": mapped.index[no_ref][:examples].tolist(),
        })
        merged = mapped.loc[~no_ref].reset_index(drop=True)[["gene_id", *tissues]]
    merged, dup_report = _collapse_duplicates(merged, tissues, duplicates, source, examples)
    report.update(dup_report)
    return merged, report
