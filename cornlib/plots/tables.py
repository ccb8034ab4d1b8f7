"""Tables the book shows: :func:`show` (the one way a page shows a table), and tables shown in
place of a figure (the genes of the genomes, one summary row per genome)."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

#: How a page shows a missing value.
MISSING = "—"
#: The CSS class of every table :func:`show` makes (``book/_static/cornlib.css`` styles it).
TABLE_CLASS = "cornlib-table"


def as_frame(data: Any, name: str = "value") -> pd.DataFrame:
    """``data`` as a data frame: a Series or a mapping becomes one column ``name`` (the Series'
    own name first) indexed by its keys, a list one column; nested values are joined as text."""
    if isinstance(data, pd.DataFrame):
        return data
    if isinstance(data, pd.Series):
        return data.to_frame(name if data.name is None else data.name)
    if isinstance(data, Mapping):
        return pd.Series({k: _cell(v) for k, v in data.items()}, dtype=object).infer_objects() \
            .to_frame(name)
    if isinstance(data, (list, tuple)):
        return pd.DataFrame({name: [_cell(v) for v in data]})
    raise TypeError(f"cannot show a {type(data).__name__} as a table (give a DataFrame, Series, "
                    "mapping or list)")


def _cell(value: Any) -> Any:
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    if isinstance(value, Mapping):
        return ", ".join(f"{k}: {_cell(v)}" for k, v in value.items())
    if isinstance(value, (list, tuple, set)):
        return ", ".join(str(_cell(v)) for v in value)
    return value


def show(data: Any, digits: int = 3, *, index: bool | None = None, name: str = "value",
         caption: str | None = None):
    """A table as the book shows it: numbers rounded, missing values as :data:`MISSING`, no
    index when it is only row numbers.

    Args:
        data: a DataFrame, or a Series, mapping or list (see :func:`as_frame`).
        digits: decimals of floating-point numbers (integers get thousands separators).
        index: show the index; default: unless it is a plain ``0..n-1`` range.
        name: the column of a Series without a name, a mapping or a list.
        caption: a caption above the table.

    Returns:
        A pandas ``Styler`` (it renders as HTML in Jupyter and the book).
    """
    frame = as_frame(data, name)
    styler = frame.style.format(precision=digits, thousands=",", na_rep=MISSING)
    styler = styler.format_index(na_rep=MISSING, precision=digits, axis=0)
    if index is None:
        index = not (isinstance(frame.index, pd.RangeIndex) and frame.index.name is None)
    if not index:
        styler = styler.hide(axis="index")
    if caption:
        styler = styler.set_caption(caption)
    return styler.set_table_attributes(f'class="dataframe {TABLE_CLASS}"')


def gene_table(genomes: Sequence) -> pd.DataFrame:
    """Every GFF3 ``gene`` feature of ``genomes`` (:class:`cornlib.data.sources.GenomeFiles`).

    Returns:
        :func:`cornlib.data.gff.read_genes` columns plus ``species`` first; genomes without a
        GFF3 contribute no rows.
    """
    from cornlib.data import gff

    parts = [gff.read_genes(g.gff).assign(species=g.species) for g in genomes if g.gff is not None]
    if not parts:
        return pd.DataFrame(columns=["species", *gff.GENE_COLUMNS])
    genes = pd.concat(parts, ignore_index=True)
    genes["biotype"] = genes["biotype"].fillna("unknown")
    return genes[["species", *gff.GENE_COLUMNS]]


def summary(genomes: Sequence, genes: pd.DataFrame,
            cache_dir: str | os.PathLike | None = None) -> pd.DataFrame:
    """One row per genome: label, number of sequences, assembled length and gene counts.

    Args:
        genomes: :class:`cornlib.data.sources.GenomeFiles`.
        genes: :func:`gene_table` of the same genomes.
        cache_dir: FASTA index cache (see :func:`cornlib.data.genome.prepare_fasta`).

    Returns:
        Indexed by species: ``label, records, length_mb, genes, protein_coding``.
    """
    from cornlib.data import genome

    rows = []
    for g in genomes:
        sizes = genome.chrom_sizes(genome.open_fasta(g.fasta, cache_dir))
        mine = genes[genes["species"] == g.species]
        rows.append({"species": g.species, "label": g.label, "records": len(sizes),
                     "length_mb": round(sum(sizes.values()) / 1e6, 2),
                     "genes": len(mine) if g.gff is not None else None,
                     "protein_coding": int((mine["biotype"] == "protein_coding").sum())
                     if g.gff is not None else None})
    return pd.DataFrame(rows).set_index("species")
