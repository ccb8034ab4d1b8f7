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

import numpy as np
import pandas as pd

from cornlib import CornlibWarning

NAM_TISSUES: dict[str, str] = {
    "root": "root", "shoot": "shoot", "base": "leaf_base", "middle": "leaf_middle",
    "tip": "leaf_tip", "ear": "ear", "tassel": "tassel", "anther": "anther",
    "endosperm": "endosperm", "embryo": "embryo",
}
NAM_META_COLUMNS = ("PanGeneID", "Geneid", "Chr", "Start", "End", "Strand", "Length")
LIBRARY_PATTERN = re.compile(r"(?P<line>[^_]+)_(?P<stage>[^_]+)_(?P<tissue>[^_]+)_(?P<library>[^_.]+)")
MISSING_TOKENS = {"", "na", "nan", "n/a", "null", "none", "-"}
SPEC_DEFAULTS: dict[str, Any] = {
    "layout": "nam_tpm", "url": None, "lines": ["B73"], "reference_line": None, "tissues": None,
    "tissue_names": {}, "replicate_agg": "mean", "line_agg": "median", "drop_all_zero": False,
    "duplicates": "error", "values": "tpm", "sha256": None, "md5": None, "size": None,
    "library_pattern": None, "ignore_columns": [],
}
CHOICES = {
    "layout": {"nam_tpm", "matrix"}, "replicate_agg": {"mean", "median"},
    "line_agg": {"median", "mean"}, "duplicates": {"error", "mean", "max", "first"},
    "values": {"tpm", "log1p_tpm"},
}
_PREFIX = re.compile(r"^(?:gene|transcript|mrna|cds|protein):", re.IGNORECASE)
_MAIZE_FORM = re.compile(r"^(Zm\d{5}[a-z]{1,2}\d{6})_[TP]\d+$")


# --- gene IDs ------------------------------------------------------------------------------------


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


# --- the spec ------------------------------------------------------------------------------------


def expression_spec(spec: Mapping[str, Any]) -> dict[str, Any]:
    """Check the profile's ``expression`` mapping and fill its defaults.

    Keys: ``layout`` (``nam_tpm`` | ``matrix``), ``url`` (``{line}`` is replaced per line),
    ``lines``, ``reference_line``, ``tissues``, ``tissue_names`` (extra token → name),
    ``replicate_agg``, ``line_agg``, ``drop_all_zero``, ``duplicates``, ``values`` (``matrix``:
    ``tpm`` | ``log1p_tpm``), ``sha256``/``md5``/``size`` (per line), ``library_pattern`` (a regex
    with a ``tissue`` group, for library names other than ``LINE_STAGE_TISSUE_LIBRARY``) and
    ``ignore_columns`` (extra non-library columns). See the module docstring.

    Raises:
        ValueError: unknown keys or values, naming the key and the allowed values.
    """
    if not isinstance(spec, Mapping):
        raise ValueError(f"expression: expected a mapping (profiles/full.yml 'expression'), not {spec!r}")
    unknown = set(spec) - set(SPEC_DEFAULTS)
    if unknown:
        raise ValueError(f"expression: unknown key(s) {sorted(unknown)}; allowed: {sorted(SPEC_DEFAULTS)}")
    out = {**SPEC_DEFAULTS, **{k: v for k, v in spec.items() if v is not None}}
    for key, allowed in CHOICES.items():
        if out[key] not in allowed:
            raise ValueError(f"expression: '{key}' must be one of {sorted(allowed)}, not {out[key]!r}")
    lines = out["lines"]
    if not isinstance(lines, list) or not lines or not all(isinstance(x, str) and x for x in lines):
        raise ValueError(f"expression: 'lines' must be a non-empty list of line names, not {lines!r}")
    if len(set(lines)) != len(lines):
        raise ValueError(f"expression: 'lines' has duplicates: {lines}")
    if out["layout"] == "matrix" and len(lines) > 1:
        raise ValueError("expression: layout 'matrix' is one table; give a single entry in 'lines'")
    out["reference_line"] = out["reference_line"] or lines[0]
    if out["reference_line"] not in lines:
        raise ValueError(f"expression: reference_line {out['reference_line']!r} is not in lines {lines}")
    tissues = out["tissues"]
    if tissues is not None and (not isinstance(tissues, list) or not tissues
                                or not all(isinstance(t, str) and t for t in tissues)
                                or len(set(tissues)) != len(tissues)):
        raise ValueError(f"expression: 'tissues' must be a list of distinct names, not {tissues!r}")
    if not isinstance(out["tissue_names"], Mapping):
        raise ValueError("expression: 'tissue_names' maps a library tissue token to a tissue name")
    if out["library_pattern"] is not None:
        try:
            pattern = re.compile(out["library_pattern"])
        except (re.error, TypeError) as err:
            raise ValueError(f"expression: 'library_pattern' is not a regex: {err}") from err
        if "tissue" not in pattern.groupindex:
            raise ValueError("expression: 'library_pattern' needs a named group (?P<tissue>...)")
    if not isinstance(out["ignore_columns"], list):
        raise ValueError("expression: 'ignore_columns' must be a list of column names")
    if not isinstance(out["drop_all_zero"], bool):
        raise ValueError(f"expression: 'drop_all_zero' must be true or false, not {out['drop_all_zero']!r}")
    return out


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


def _numeric(col: pd.Series, *, source: str, column: str, ids: pd.Series,
             first_line: int | None, allow_negative: bool = False) -> pd.Series:
    """Parse one column of numbers; raise naming file, line (or row), gene and column if bad."""
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
    where = f"line {first_line + i}" if first_line is not None else f"row {i}"
    more = int(bad.sum()) - 1
    raise ValueError(
        f"{source} {where}: {kind} {shown!r} for gene {ids.iloc[i]!r} in column {column!r}"
        + (f" ({more} more bad value(s) in this column)" if more else "")
        + ("; values must be finite numbers" if allow_negative
           else "; values must be finite numbers >= 0 (TPM or log(TPM+1))")
        + ". Fix the file or remove the row")


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
    values = {c: _numeric(raw[c], source=str(path), column=c, ids=ids, first_line=2)
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


def to_log_targets(tpm: pd.DataFrame, tissues: list[str], *, drop_all_zero: bool = False,
                   examples: int = 5) -> tuple[pd.DataFrame, dict[str, Any]]:
    """``log(TPM + 1)`` (natural log) of a genes × tissues TPM matrix; all-zero genes counted.

    Returns:
        ``(targets, report)``: ``gene_id`` + one float column per tissue.
    """
    zero = (tpm[tissues] == 0).all(axis=1).to_numpy()
    out = tpm.loc[~zero] if drop_all_zero else tpm
    out = pd.concat([out[["gene_id"]].reset_index(drop=True),
                     np.log1p(out[tissues].astype(float)).reset_index(drop=True)], axis=1)
    report = {"scale": "log(TPM + 1), natural log", "all_zero_genes": int(zero.sum()),
              "all_zero_examples": tpm.loc[zero, "gene_id"].head(examples).tolist(),
              "all_zero_dropped": bool(drop_all_zero)}
    return out, report


# --- loading ---------------------------------------------------------------------------------------


def read_matrix(path: str | os.PathLike, *, tissues: list[str] | None = None,
                values: str = "tpm") -> pd.DataFrame:
    """Read a ready genes × tissues table (``gene_id`` + tissue columns) as log(TPM+1) targets.

    Args:
        path: ``.tsv`` (or ``.csv``) with a ``gene_id`` column.
        tissues: the expected tissue columns (others are an error), or ``None`` for all.
        values: ``tpm`` (checked ``>= 0``, then log-transformed) or ``log1p_tpm``.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path} does not exist")
    raw = pd.read_csv(path, sep="," if path.suffix == ".csv" else "\t", dtype=str,
                      keep_default_na=False, na_filter=False)
    df = validate_targets(raw, source=str(path), tissues=tissues, first_line=2)
    if values == "tpm":
        cols = [c for c in df.columns if c != "gene_id"]
        df[cols] = np.log1p(df[cols])
    return df


def load_expression(paths: Mapping[str, str | os.PathLike],
                    spec: Mapping[str, Any]) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Turn downloaded expression file(s) into validated log(TPM+1) targets.

    Args:
        paths: ``{line: file}`` (from :func:`cornlib.data.download.fetch_expression`).
        spec: the profile's ``expression`` mapping (see :func:`expression_spec`).

    Returns:
        ``(targets, report)``: ``targets`` has ``gene_id`` and one float column per tissue
        (the ``targets/expression.parquet`` schema); the report records every choice and count.
    """
    spec = expression_spec(spec)
    missing = [line for line in spec["lines"] if line not in paths]
    if missing:
        raise ValueError(f"expression: no file for line(s) {missing}; got {sorted(paths)}")
    files = {line: Path(paths[line]) for line in spec["lines"]}
    source = ", ".join(str(p) for p in files.values())
    if spec["layout"] == "matrix":
        df = read_matrix(files[spec["lines"][0]], tissues=spec["tissues"], values=spec["values"])
        report = {"layout": "matrix", "files": {k: str(v) for k, v in files.items()},
                  "values": spec["values"], "genes": int(len(df))}
        return df, report

    per_line, line_reports = {}, {}
    tissues = spec["tissues"]
    for line, path in files.items():
        table, libraries = read_nam_tpm(path, spec["tissue_names"],
                                        library_pattern=spec["library_pattern"],
                                        ignore_columns=spec["ignore_columns"])
        per_line[line], line_reports[line] = line_matrix(
            table, libraries, tissues=tissues, replicate_agg=spec["replicate_agg"], source=str(path))
        tissues = tissues or [c for c in per_line[line].columns if c not in ("pan_gene_id", "gene_id")]
    tpm, combine_report = combine_lines(per_line, reference_line=spec["reference_line"],
                                        tissues=tissues, line_agg=spec["line_agg"],
                                        duplicates=spec["duplicates"], source=source)
    targets, log_report = to_log_targets(tpm, tissues, drop_all_zero=spec["drop_all_zero"])
    targets = validate_targets(targets, source=source, tissues=tissues)
    report = {"layout": "nam_tpm", "files": {k: str(v) for k, v in files.items()},
              "tissues": tissues, "per_line": line_reports, "combine": combine_report,
              "log": log_report, "genes": int(len(targets))}
    return targets, report


def load_targets(spec: Mapping[str, Any], cache_dir: str | os.PathLike | None = None, *,
                 progress: bool = True) -> pd.DataFrame:
    """Download (once, verified) and load the profile's measured expression targets.

    The 01 notebook calls this when ``source == "download"``.

    Args:
        spec: the profile's ``expression`` mapping.
        cache_dir: download cache; ``None`` is :func:`cornlib.paths.cache_dir`.
        progress: tqdm bars for the downloads.

    Returns:
        ``gene_id`` + one float column of log(TPM+1) per tissue (genes × tissues), the
        ``targets/expression.parquet`` schema; ``df.attrs["report"]`` holds the load report.
    """
    from cornlib.data import download

    spec = expression_spec(spec)
    paths = download.fetch_expression(spec, cache_dir, progress=progress)
    df, report = load_expression(paths, spec)
    df.attrs["report"] = report
    return df


# --- validation and the join ---------------------------------------------------------------------


def validate_targets(df: pd.DataFrame, source: str = "targets", *, tissues: list[str] | None = None,
                     allow_negative: bool = False, first_line: int | None = None) -> pd.DataFrame:
    """Check an expression matrix (``gene_id`` + one numeric column per tissue); return a clean copy.

    Args:
        df: genes × tissues table.
        source: the file it came from, for messages.
        tissues: the expected tissue columns: any other column is an unknown tissue, any listed
            one absent is missing. ``None`` accepts every non-``gene_id`` column as a tissue.
        allow_negative: accept values below zero (simulated log-expression); measured log(TPM+1)
            is never negative.
        first_line: file line of the first row, for messages (2 for a file with a header);
            ``None`` names DataFrame rows instead.

    Returns:
        A new DataFrame: ``gene_id`` (str) first, then float64 tissue columns, index 0..n-1.

    Raises:
        ValueError: no ``gene_id`` column or no tissue column; empty or duplicated gene IDs;
            unknown or missing tissues; NaN, non-numeric, infinite or (unless allowed) negative
            values — naming the file, the gene ID and the column.
    """
    if not isinstance(df, pd.DataFrame):
        raise ValueError(f"{source}: expected a pandas DataFrame, not {type(df).__name__}")
    if "gene_id" not in df.columns:
        raise ValueError(f"{source}: no 'gene_id' column (columns: {list(df.columns)[:8]})")
    ids = df["gene_id"].astype(str).str.strip()
    empty = (df["gene_id"].isna() | ids.str.lower().isin(MISSING_TOKENS)).to_numpy()
    if empty.any():
        i = int(np.flatnonzero(empty)[0])
        where = f"line {first_line + i}" if first_line is not None else f"row {i}"
        raise ValueError(f"{source} {where}: empty gene_id ({int(empty.sum())} such rows); "
                         "every row needs a gene ID")
    dup = ids[ids.duplicated(keep=False)]
    if len(dup):
        raise ValueError(f"{source}: {dup.nunique()} gene ID(s) appear more than once, e.g. "
                         f"{dup.unique()[:5].tolist()}; each gene needs exactly one row")
    cols = [c for c in df.columns if c != "gene_id"]
    if not cols:
        raise ValueError(f"{source}: no tissue columns besides 'gene_id'")
    if tissues is not None:
        unknown = [c for c in cols if c not in tissues]
        if unknown:
            raise ValueError(f"{source}: unknown tissue column(s) {unknown}; expected {list(tissues)}")
        absent = [t for t in tissues if t not in cols]
        if absent:
            raise ValueError(f"{source}: tissue column(s) {absent} are missing")
        cols = list(tissues)
    out = pd.DataFrame({"gene_id": ids.to_numpy(dtype=object)}).astype({"gene_id": "str"})
    for c in cols:
        out[str(c)] = _numeric(df[c].reset_index(drop=True), source=source, column=str(c),
                               ids=ids.reset_index(drop=True), first_line=first_line,
                               allow_negative=allow_negative).to_numpy(dtype="float64")
    return out


def join_promoters(promoters: pd.DataFrame, expression: pd.DataFrame, *, examples: int = 5,
                   warn_below: float = 0.9) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Attach expression targets to promoters by gene ID; report what did not match, both ways.

    IDs are compared after :func:`normalize_gene_id` on both sides (so ``gene:Zm00001eb000010``
    meets ``Zm00001eb000010``); the joined table keeps the promoters' ``gene_id``.

    Policy: rows without a partner are left out of the joined table and counted in the report
    (count + examples, promoters also per species). A :class:`cornlib.CornlibWarning` is issued
    when fewer than ``warn_below`` of the expression genes found a promoter; no match at all is an
    error (it means two ID schemes, e.g. maize v4 ``Zm00001d`` against v5 ``Zm00001eb``).

    Args:
        promoters: table with a unique ``gene_id`` (``promoters.parquet``).
        expression: ``gene_id`` + tissue columns (checked by :func:`validate_targets`).
        examples: how many example IDs each report entry lists.
        warn_below: matched fraction of expression genes below which to warn.

    Returns:
        ``(joined, report)``: promoter columns followed by the tissue columns.

    Raises:
        ValueError: no ``gene_id``, duplicated IDs (also after normalising), or no match at all.
    """
    if "gene_id" not in promoters.columns:
        raise ValueError("promoters: no 'gene_id' column")
    targets = validate_targets(expression, source="expression", allow_negative=True)
    tissues = [c for c in targets.columns if c != "gene_id"]
    clash = [c for c in tissues if c in promoters.columns]
    if clash:
        raise ValueError(f"tissue column(s) {clash} also exist in the promoter table; rename them")
    p_key = promoters["gene_id"].astype(str).map(normalize_gene_id)
    e_key = targets["gene_id"].map(normalize_gene_id)
    for name, key in (("promoters", p_key), ("expression", e_key)):
        dup = key[key.duplicated()]
        if len(dup):
            raise ValueError(f"{name}: gene ID {dup.iloc[0]!r} occurs twice (after removing "
                             "'gene:' prefixes and maize _T001 suffixes); gene IDs must be unique")
    p_hit, e_hit = p_key.isin(set(e_key)), e_key.isin(set(p_key))
    n_match = int(p_hit.sum())
    if n_match == 0:
        hint = {s for s in map(maize_id_scheme, list(p_key[:50]) + list(e_key[:50])) if s}
        raise ValueError(
            "no promoter gene ID matches an expression gene ID: promoters have e.g. "
            f"{p_key.head(3).tolist()}, expression has e.g. {e_key.head(3).tolist()}"
            + (f" (schemes seen: {sorted(hint)}; use the same annotation version for both)" if hint else ""))
    joined = (promoters.reset_index(drop=True).assign(_key=p_key.to_numpy())
              .merge(targets.drop(columns="gene_id").assign(_key=e_key.to_numpy()),
                     on="_key", how="inner", validate="one_to_one").drop(columns="_key"))
    unmatched_p = promoters.loc[~p_hit.to_numpy()]
    report = {
        "promoters": int(len(promoters)), "expression_genes": int(len(targets)),
        "matched": n_match,
        "ids_normalised": int((p_key != promoters["gene_id"].astype(str)).sum()
                              + (e_key != targets["gene_id"]).sum()),
        "promoters_without_expression": {
            "count": int(len(unmatched_p)),
            "examples": unmatched_p["gene_id"].head(examples).astype(str).tolist(),
            "by_species": ({str(k): int(v) for k, v in unmatched_p["species"].value_counts().items()}
                           if "species" in promoters.columns else {}),
        },
        "expression_without_promoter": {
            "count": int((~e_hit).sum()),
            "examples": targets.loc[~e_hit.to_numpy(), "gene_id"].head(examples).tolist(),
        },
    }
    fraction = n_match / len(targets)
    if fraction < warn_below:
        warnings.warn(f"only {n_match} of {len(targets)} expression genes ({fraction:.0%}) have a "
                      f"promoter (e.g. unmatched: {report['expression_without_promoter']['examples'][:3]}); "
                      "they are left out of the joined table", CornlibWarning, stacklevel=2)
    return joined, report
