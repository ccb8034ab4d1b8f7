"""A lab's RNA-seq output, made up for the guide: a genes × samples TPM table and its sample sheet.

The "Your own species" chapter and its end-to-end test need what a plant lab brings to
``cornlib init``: a TPM table (one row per gene, one column per RNA-seq sample, the form an
RNA-seq pipeline writes) and a sample sheet (``sample``, ``tissue``, ``replicate``). Both are
written here for the protein-coding genes of an embedded genome (:mod:`cornlib.data.embedded`,
*A. thaliana* TAIR10 chr1 by default), with a signal that is stated, not biology:

for gene *g*, tissue *t* and replicate *r*,
``log(TPM + 1) = 2 + w_t · z_g + b_t · m_g + e_gtr``, where

- ``z_g`` is the z-scored GC fraction of the :data:`UPSTREAM` bp upstream of the gene's TSS
  (strand-aware), with tissue weights ``w_t`` running evenly from 1 to -1 over the tissues;
- ``m_g`` is 1 when that window holds the G-box ``CACGTG`` (the palindromic site of bZIP and
  bHLH factors such as the PIFs), else 0, and ``b_t`` is ``MOTIF_EFFECT`` in the second
  tissue (``leaf``) and 0 elsewhere;
- ``e_gtr`` is Gaussian noise, sd ``NOISE_SD``, drawn per gene, tissue and replicate
  (seeded).

Values below 0 on the log scale are set to TPM 0. :func:`broken_copy` writes the usual mistakes
(transcript-suffixed IDs, a negative value, a sample missing from the sheet) for the checks to
catch, and :func:`hide_paths` shortens a report's file paths for a page.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
import pandas as pd

#: The lab's tissues, in the sheet's order.
TISSUES = ("root", "leaf", "flower")
#: Window upstream of the TSS whose GC fraction and G-box drive the signal (bp).
UPSTREAM = 500
#: The named motif (G-box) and its effect on log(TPM + 1) in the second tissue.
MOTIF = "CACGTG"
MOTIF_EFFECT = 1.5
NOISE_SD = 0.3
#: The mistakes :func:`broken_copy` makes.
MISTAKES = ("transcript_suffix", "negative_value", "sample_not_in_sheet")


@dataclass(frozen=True)
class ExampleFiles:
    """What :func:`write_example` wrote: the TPM table, the sample sheet and the signal's
    inputs per gene (``gene_id``, ``gc``, ``z_gc``, ``motif``; not given to any model)."""

    table: Path
    sheet: Path
    signal: pd.DataFrame


def upstream_features(genome: str = "athaliana", n_genes: int | None = 300,
                      cache_dir: str | os.PathLike | None = None) -> pd.DataFrame:
    """GC fraction and G-box presence of the upstream window of the first ``n_genes``
    protein-coding genes (by position; ``None``: all of them, the form a lab's table has) of an
    embedded genome's first chromosome.

    Returns:
        Columns ``gene_id``, ``gc``, ``z_gc`` and ``motif`` (0/1), one row per gene.

    Raises:
        ValueError: ``n_genes`` below 10 (too few to show a signal) or above the genes there are.
    """
    from cornlib.data import embedded, gff
    from cornlib.data import genome as gen

    if n_genes is not None and n_genes < 10:
        raise ValueError(f"n_genes={n_genes}: write at least 10 genes")
    files = embedded.locate(genome)
    genes = gff.read_genes(files.gff)
    genes = genes[(genes["biotype"] == "protein_coding")
                  & (genes["chrom"] == genes["chrom"].iloc[0])
                  & genes["strand"].isin(["+", "-"])]
    genes = genes.sort_values("start").head(n_genes or len(genes))
    if n_genes is not None and len(genes) < n_genes:
        raise ValueError(f"n_genes={n_genes}: {genome} has {len(genes)} protein-coding genes "
                         "on its first chromosome")
    fasta = gen.open_fasta(files.fasta, cache_dir)
    size = gen.chrom_sizes(fasta)
    gc, motif = [], []
    for g in genes.itertuples():
        tss = int(g.tss)
        lo, hi = ((tss - UPSTREAM, tss) if g.strand == "+" else (tss + 1, tss + 1 + UPSTREAM))
        lo, hi = max(lo, 0), min(hi, size[g.chrom])
        window = gen.fetch(fasta, g.chrom, lo, hi, g.strand).upper()
        gc.append((window.count("G") + window.count("C")) / max(len(window), 1))
        motif.append(int(MOTIF in window))
    x = np.asarray(gc)
    z = (x - x.mean()) / (x.std() or 1.0)
    return pd.DataFrame({"gene_id": genes["gene_id"].astype(str).to_numpy(), "gc": x,
                         "z_gc": z, "motif": motif})


def log_tpm(features: pd.DataFrame, tissues: Sequence[str] = TISSUES, replicates: int = 2,
            seed: int = 0) -> pd.DataFrame:
    """The stated signal (module docstring): log(TPM + 1), genes × samples ``<tissue>_<r>``."""
    if len(tissues) < 2 or replicates < 1:
        raise ValueError("give two or more tissues and one or more replicates")
    rng = np.random.default_rng(seed)
    weights = np.linspace(1, -1, len(tissues))
    columns = {}
    for i, tissue in enumerate(tissues):
        mean = 2 + weights[i] * features["z_gc"].to_numpy()
        if i == 1:
            mean = mean + MOTIF_EFFECT * features["motif"].to_numpy()
        for r in range(1, replicates + 1):
            columns[f"{tissue}_{r}"] = mean + rng.normal(0, NOISE_SD, len(features))
    return pd.DataFrame(columns, index=pd.Index(features["gene_id"], name="gene_id"))


def write_example(out_dir: str | os.PathLike, *, genome: str = "athaliana",
                  n_genes: int | None = 300,
                  tissues: Sequence[str] = TISSUES, replicates: int = 2, seed: int = 0,
                  cache_dir: str | os.PathLike | None = None) -> ExampleFiles:
    """Write ``tpm.tsv`` (genes × samples, TPM, 2 decimals) and ``samples.tsv`` (``sample``,
    ``tissue``, ``replicate``) under ``out_dir``, with the signal of the module docstring."""
    from cornlib.io import atomic_path

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    features = upstream_features(genome, n_genes, cache_dir)
    tpm = np.expm1(log_tpm(features, tissues, replicates, seed).clip(lower=0)).round(2)
    sheet = pd.DataFrame([{"sample": s, "tissue": s.rsplit("_", 1)[0],
                           "replicate": int(s.rsplit("_", 1)[1])} for s in tpm.columns])
    table, sheet_path = out / "tpm.tsv", out / "samples.tsv"
    with atomic_path(table) as tmp:
        tpm.to_csv(tmp, sep="\t", float_format="%.2f")
    with atomic_path(sheet_path) as tmp:
        sheet.to_csv(tmp, sep="\t", index=False)
    return ExampleFiles(table=table, sheet=sheet_path, signal=features)


def broken_copy(files: ExampleFiles, mistake: str, out_dir: str | os.PathLike
                ) -> tuple[Path, Path]:
    """A copy of the table and sheet with one usual mistake (:data:`MISTAKES`):
    ``transcript_suffix`` (every ID gets ``.1``), ``negative_value`` (the fourth gene's
    second-tissue first replicate is -1) or ``sample_not_in_sheet`` (the sheet loses its last
    sample). Returns ``(table, sheet)`` written under ``out_dir/<mistake>/``."""
    if mistake not in MISTAKES:
        raise ValueError(f"mistake {mistake!r}: one of {', '.join(MISTAKES)}")
    table = pd.read_csv(files.table, sep="\t", index_col=0, dtype={0: str})
    sheet = pd.read_csv(files.sheet, sep="\t")
    if mistake == "transcript_suffix":
        table.index = table.index + ".1"
    elif mistake == "negative_value":
        table.iloc[3, len(table.columns) // len(sheet["tissue"].unique())] = -1
    else:
        sheet = sheet.iloc[:-1]
    out = Path(out_dir) / mistake
    out.mkdir(parents=True, exist_ok=True)
    table.to_csv(out / "tpm.tsv", sep="\t", float_format="%.2f")
    sheet.to_csv(out / "samples.tsv", sep="\t", index=False)
    return out / "tpm.tsv", out / "samples.tsv"


def hide_paths(text: str, roots: Mapping[str | os.PathLike, str]) -> str:
    """``text`` with each root folder (absolute, resolved) replaced by its label, longest first:
    ``hide_paths(report, {run_dir: "", embedded_dir: "<embedded>/"})`` shows files relative to
    the run directory, as a page should."""
    pairs = sorted(((str(Path(root).resolve()), label) for root, label in roots.items()),
                   key=lambda p: -len(p[0]))
    for root, label in pairs:
        text = text.replace(root + os.sep, label).replace(root, label.rstrip("/") or ".")
    return text


def signal_summary(files: ExampleFiles) -> pd.DataFrame:
    """What the table's signal looks like, tissue by tissue (replicates averaged on the log
    scale): the correlation of log(TPM + 1) with the upstream GC fraction, and the G-box effect:
    the mean difference between genes with and without the G-box once the GC trend (a line fit
    per tissue) is removed (the G-box is GC-rich, so the raw difference carries GC too)."""
    table = pd.read_csv(files.table, sep="\t", index_col=0, dtype={0: str})
    sheet = pd.read_csv(files.sheet, sep="\t")
    logs = np.log1p(table).T.groupby(sheet.set_index("sample")["tissue"]).mean().T
    logs = logs[list(pd.unique(sheet["tissue"]))]
    signal = files.signal.set_index("gene_id").loc[logs.index]
    has = signal["motif"].to_numpy().astype(bool)
    gc = signal["gc"].to_numpy()
    rows = []
    for tissue in logs:
        y = logs[tissue].to_numpy()
        rest = y - np.polyval(np.polyfit(gc, y, 1), gc)
        effect = rest[has].mean() - rest[~has].mean() if has.any() and (~has).any() else np.nan
        rows.append({"r with GC": np.corrcoef(gc, y)[0, 1], "G-box effect": effect})
    return pd.DataFrame(rows, index=pd.Index(logs.columns, name="tissue"))


def profile_excerpt(text: str, keys: Sequence[str]) -> str:
    """The lines of a profile's top-level ``keys`` (with their indented blocks), in file order."""
    out, keep = [], False
    for line in text.splitlines():
        if line and not line[0].isspace() and not line.startswith("-"):
            keep = line.split(":", 1)[0] in keys and ":" in line
        if keep:
            out.append(line)
    return "\n".join(out)
