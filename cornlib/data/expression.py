"""Expression targets: genes × tissues log(TPM+1) tables, their spec, validation and the join
with promoters. The table layouts (genes × tissues, genes × samples + a sample sheet, samples ×
genes) are read by :mod:`cornlib.data.layouts`, the maize NAM pan-gene tables by
:mod:`cornlib.data.nam`.
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
from cornlib.data import layouts
from cornlib.data.cleaning import MISSING_TOKENS, maize_id_scheme, normalize_gene_id, numeric_column
from cornlib.data.nam import combine_lines, line_matrix, read_nam_tpm

SPEC_DEFAULTS: dict[str, Any] = {
    "layout": "nam_tpm", "url": None, "path": None, "samples": None, "lines": None,
    "reference_line": None, "tissues": None,
    "tissue_names": {}, "replicate_agg": "mean", "line_agg": "median", "drop_all_zero": False,
    "min_tpm": None, "duplicates": "error", "values": "tpm", "sha256": None, "md5": None,
    "size": None, "library_pattern": None, "ignore_columns": [],
}
#: Layouts that read one table (``lines`` names NAM lines, one file each, for the others).
ONE_TABLE = {"matrix", "genes_x_samples"}
CHOICES = {
    "layout": {"auto", *layouts.LAYOUTS}, "replicate_agg": {"mean", "median"},
    "line_agg": {"median", "mean"}, "duplicates": {"error", "mean", "max", "first"},
    "values": {"tpm", "log1p_tpm"},
}


# --- the spec ------------------------------------------------------------------------------------


def expression_spec(spec: Mapping[str, Any]) -> dict[str, Any]:
    """Check the profile's ``expression`` mapping and fill its defaults.

    Keys: ``layout`` (``auto`` | ``matrix`` | ``genes_x_samples`` | ``samples_x_genes`` |
    ``nam_tpm``, see :mod:`cornlib.data.layouts`), ``url`` (an http(s) URL or a local path;
    ``{line}`` is replaced per line; ``path`` is a synonym), ``samples`` (the sample sheet of
    ``genes_x_samples``: URL or path), ``lines`` (NAM lines, one file each; the cultivar kept
    from a ``samples_x_genes`` table), ``reference_line``, ``tissues``, ``tissue_names`` (a
    table's tissue name → the name used), ``replicate_agg``, ``line_agg``, ``drop_all_zero``,
    ``min_tpm`` (drop genes under this TPM in every tissue; ``null``: 1 for ``samples_x_genes``
    as FloraBERT did, none otherwise; ``0`` keeps every gene), ``duplicates``,
    ``values`` (``matrix``: ``tpm`` | ``log1p_tpm``), ``sha256``/``md5``/``size`` (per line),
    ``library_pattern`` (a regex with a ``tissue`` group, for NAM library names other than
    ``LINE_STAGE_TISSUE_LIBRARY``) and ``ignore_columns`` (extra metadata columns).

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
    if spec.get("url") is not None and spec.get("path") is not None:
        raise ValueError("expression: give one of 'url' or 'path', not both")
    out["url"] = out["url"] if out["url"] is not None else out.pop("path", None)
    out.pop("path", None)
    if out["lines"] is None:
        if out["layout"] != "nam_tpm" and "{line}" in str(out["url"] or ""):
            raise ValueError("expression: 'url' holds {line}: name the lines (one file each) "
                             "in 'lines'")
        out["lines"] = ["B73"] if out["layout"] == "nam_tpm" else ["table"]
    lines = out["lines"]
    if not isinstance(lines, list) or not lines or not all(isinstance(x, str) and x for x in lines):
        raise ValueError(f"expression: 'lines' must be a non-empty list of line names, not {lines!r}")
    if len(set(lines)) != len(lines):
        raise ValueError(f"expression: 'lines' has duplicates: {lines}")
    if out["layout"] in ONE_TABLE and len(lines) > 1:
        raise ValueError(f"expression: layout {out['layout']!r} reads one table; 'lines' (NAM "
                         "lines, one file each) takes at most a single entry here")
    if out["layout"] == "genes_x_samples" and out["samples"] is None:
        raise ValueError("expression: layout 'genes_x_samples' needs 'samples', the sample sheet "
                         "(columns sample, tissue[, replicate])")
    min_tpm = out["min_tpm"]
    if min_tpm is not None and (isinstance(min_tpm, bool) or not isinstance(min_tpm, (int, float))
                                or min_tpm < 0):
        raise ValueError(f"expression: 'min_tpm' must be a TPM value >= 0 or null, not {min_tpm!r}")
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
    raw = layouts.read_raw(path)
    gid = layouts.gene_column(list(raw.columns)) or "gene_id"
    raw = raw.rename(columns={gid: "gene_id"})
    df = validate_targets(raw, source=str(path), tissues=tissues, first_line=2)
    if values == "tpm":
        cols = [c for c in df.columns if c != "gene_id"]
        df[cols] = np.log1p(df[cols])
    return df


def resolve_layout(path: str | os.PathLike, spec: Mapping[str, Any]) -> str:
    """The spec's layout, or (``auto``) the one :func:`cornlib.data.layouts.detect_layout` finds
    in the header of ``path``."""
    if spec.get("layout", "auto") != "auto":
        return spec["layout"]
    raw = layouts.read_raw(path, nrows=5)
    return layouts.detect_layout(raw, has_sheet=spec.get("samples") is not None, source=str(path))


def load_expression(paths: Mapping[str, str | os.PathLike], spec: Mapping[str, Any], *,
                    samples: str | os.PathLike | pd.DataFrame | None = None
                    ) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Turn expression file(s) into validated log(TPM+1) targets.

    Args:
        paths: ``{line: file}`` (from :func:`cornlib.data.download.fetch_expression`); the
            one-table layouts take the single file whatever its key.
        spec: the profile's ``expression`` mapping (see :func:`expression_spec`).
        samples: the sample sheet of ``genes_x_samples`` (default: ``spec["samples"]``, a path).

    Returns:
        ``(targets, report)``: ``targets`` has ``gene_id`` and one float column per tissue
        (the ``targets/expression.parquet`` schema); the report records every choice and count.
    """
    spec = dict(expression_spec(spec))
    if not paths:
        raise ValueError("expression: no file given")
    if spec["layout"] == "auto":
        spec["layout"] = resolve_layout(next(iter(paths.values())), spec)
    if spec["layout"] != "nam_tpm":
        if spec["layout"] in ONE_TABLE and len(paths) != 1:
            raise ValueError(f"expression: layout {spec['layout']!r} reads one table, got "
                             f"{len(paths)} files ({sorted(paths)})")
        files = {str(k): Path(v) for k, v in paths.items()}
        return _load_table(files, spec, samples if samples is not None else spec["samples"])
    if spec["lines"] == ["table"]:  # auto-detected: the files' own keys are the lines
        spec["lines"] = list(paths)
        spec["reference_line"] = spec["lines"][0]
    missing = [line for line in spec["lines"] if line not in paths]
    if missing:
        raise ValueError(f"expression: no file for line(s) {missing}; got {sorted(paths)}")
    files = {line: Path(paths[line]) for line in spec["lines"]}
    source = ", ".join(str(p) for p in files.values())

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
    tpm, low = layouts.drop_low(tpm, tissues, spec["min_tpm"])
    targets, log_report = to_log_targets(tpm, tissues, drop_all_zero=spec["drop_all_zero"])
    targets = validate_targets(targets, source=source, tissues=tissues)
    report = {"layout": "nam_tpm", "files": {k: str(v) for k, v in files.items()},
              "tissues": tissues, "per_line": line_reports, "combine": combine_report,
              "log": log_report, "genes": int(len(targets))}
    return targets, report


def _load_table(files: Mapping[str, Path], spec: Mapping[str, Any],
                samples) -> tuple[pd.DataFrame, dict[str, Any]]:
    """The layouts of :mod:`cornlib.data.layouts`: TPM genes × tissues, low genes, log."""
    layout, tissues = spec["layout"], spec["tissues"]
    per_file, reports = {}, {}
    for key, path in files.items():
        if layout == "matrix":
            tpm, rep = layouts.read_genes_x_tissues(path, tissues=tissues, values=spec["values"])
        elif layout == "genes_x_samples":
            if samples is None:
                raise ValueError(f"{path}: a genes x samples table needs its sample sheet "
                                 "('samples' in the expression spec, --samples for cornlib init)")
            tpm, rep = layouts.read_genes_x_samples(
                path, samples, tissues=tissues, tissue_names=spec["tissue_names"],
                replicate_agg=spec["replicate_agg"])
        else:
            line = key if key in spec["lines"] and key != "table" else None
            tpm, rep = layouts.read_samples_x_genes(
                path, line=line, tissues=tissues, tissue_names=spec["tissue_names"],
                replicate_agg=spec["replicate_agg"], ignore_columns=spec["ignore_columns"])
        tissues = tissues or [c for c in tpm.columns if c != "gene_id"]
        per_file[key], reports[key] = tpm, rep
    source = ", ".join(str(p) for p in files.values())
    if len(per_file) == 1:
        tpm = next(iter(per_file.values()))
        combine_report: dict[str, Any] = {}
    else:
        tpm, combine_report = _combine_gene_tables(per_file, tissues, spec["line_agg"], source)
    min_tpm = spec["min_tpm"]
    if min_tpm is None and layout == "samples_x_genes":
        min_tpm = layouts.FLORABERT_MIN_TPM
    tpm, low = layouts.drop_low(tpm, tissues, min_tpm)
    tpm = validate_targets(tpm, source=source, tissues=tissues)
    targets, log_report = to_log_targets(tpm, tissues, drop_all_zero=spec["drop_all_zero"])
    report = {"layout": layout, "files": {k: str(v) for k, v in files.items()},
              "tissues": tissues, "per_file": reports, "combine": combine_report,
              "low_expression": low, "log": log_report, "genes": int(len(targets))}
    if spec["samples"] is not None and not isinstance(spec["samples"], pd.DataFrame):
        report["samples"] = str(spec["samples"])
    return targets, report


def _combine_gene_tables(tables: Mapping[str, pd.DataFrame], tissues: list[str], how: str,
                         source: str) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Several lines' samples x genes tables (one gene ID scheme): ``how`` per gene and tissue."""
    stacked = pd.concat([t.assign(_line=k) for k, t in tables.items()], ignore_index=True)
    out = stacked.groupby("gene_id", sort=False, as_index=False)[tissues].agg(how)
    lines_per_gene = stacked.groupby("gene_id", sort=False)["_line"].nunique()
    return out, {"lines": list(tables), "line_agg": how,
                 "lines_per_gene": {"min": int(lines_per_gene.min()),
                                    "max": int(lines_per_gene.max())}}


def load_targets(spec: Mapping[str, Any], cache_dir: str | os.PathLike | None = None, *,
                 progress: bool = True) -> pd.DataFrame:
    """Download (once, verified) and load the profile's measured expression targets.

    The 01 notebook calls this when ``source == "download"``. Local paths are read in place.

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
    samples = None
    if spec["samples"] is not None:
        from cornlib.data.filespec import file_spec
        from cornlib.paths import cache_dir as default_cache

        samples = download.fetch(file_spec(spec["samples"], "expression.samples"),
                                 default_cache(cache_dir) / "expression", progress=progress)
    df, report = load_expression(paths, spec, samples=samples)
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
        out[str(c)] = numeric_column(df[c].reset_index(drop=True), source=source, column=str(c),
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
