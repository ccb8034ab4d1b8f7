"""cornlib.data.proxy: TAIR10 transcript-evidence depth per gene."""

import gzip

import numpy as np
import pandas as pd
import pytest

from cornlib.data import embedded, proxy

GFF = """##gff-version 3
chr1\tRefSeq\tgene\t100\t900\t.\t+\t.\tID=gene-AT1G00010;locus_tag=AT1G00010;gene_biotype=protein_coding
chr1\tRefSeq\tmRNA\t100\t900\t.\t+\t.\tID=rna-1;Parent=gene-AT1G00010;inference=similar to RNA sequence%2C mRNA:INSD:BT000001.1%2CINSD:AF000002.1;locus_tag=AT1G00010
chr1\tRefSeq\texon\t100\t900\t.\t+\t.\tID=exon-1;Parent=rna-1;inference=similar to RNA sequence%2C mRNA:INSD:ZZ999999.1;locus_tag=AT1G00010
chr1\tRefSeq\tmRNA\t100\t800\t.\t+\t.\tID=rna-2;Parent=gene-AT1G00010;inference=Similar to RNA sequence%2C EST:INSD:AF000002.1%2CINSD:EH000003.1;locus_tag=AT1G00010
chr1\tRefSeq\tgene\t1000\t1900\t.\t-\t.\tID=gene-AT1G00020;locus_tag=AT1G00020;gene_biotype=protein_coding
chr1\tRefSeq\tmRNA\t1000\t1900\t.\t-\t.\tID=rna-3;Parent=gene-AT1G00020;locus_tag=AT1G00020;product=unsupported
"""


def write(tmp_path, text, name="toy.gff.gz"):
    path = tmp_path / name
    with gzip.open(path, "wt") as fh:
        fh.write(text)
    return path


def test_evidence_depth_counts_distinct_accessions_over_isoforms(tmp_path):
    table = proxy.evidence_depth(write(tmp_path, GFF))
    assert table.columns.tolist() == ["gene_id", "evidence_depth", "isoform_count", "proxy"]
    got = table.set_index("gene_id")
    assert got.loc["AT1G00010", "evidence_depth"] == 3  # AF000002.1 cited twice; exon rows ignored
    assert got.loc["AT1G00010", "isoform_count"] == 2
    assert got.loc["AT1G00020", ["evidence_depth", "isoform_count"]].tolist() == [0, 1]
    np.testing.assert_allclose(got["proxy"], np.log1p(got["evidence_depth"]))


def test_an_mrna_without_the_id_attribute_names_its_line(tmp_path):
    text = GFF.replace("Parent=gene-AT1G00020;locus_tag=AT1G00020;", "Parent=gene-AT1G00020;")
    with pytest.raises(ValueError, match="line 7: mRNA has no locus_tag"):
        proxy.evidence_depth(write(tmp_path, text))


def test_a_gff_without_mrnas_or_a_missing_file_is_an_error(tmp_path):
    no_mrna = "\n".join(line for line in GFF.splitlines() if "\tmRNA\t" not in line)
    with pytest.raises(ValueError, match="no mRNA rows"):
        proxy.evidence_depth(write(tmp_path, no_mrna))
    with pytest.raises(FileNotFoundError, match="does not exist"):
        proxy.evidence_depth(tmp_path / "absent.gff")


def test_coverage_counts_matches_with_the_promoter_genes():
    table = pd.DataFrame({"gene_id": ["A", "B", "C"], "evidence_depth": [0, 2, 1]})
    promoters = pd.DataFrame({"gene_id": ["A", "B", "X"], "species": ["athaliana", "athaliana", "aarenosa"]})
    assert proxy.coverage(table, promoters) == {"promoters": 2, "with_proxy": 2, "with_evidence": 1,
                                                "proxy_without_promoter": 1}


def test_the_shipped_tair10_annotation_gives_the_documented_counts():
    table = proxy.evidence_depth(embedded.locate("athaliana").gff)
    assert len(table) > 7000 and table["gene_id"].str.match(r"^AT1G\d{5}$").all()
    assert table["gene_id"].is_unique
    assert table.loc[table["gene_id"] == "AT1G01010", "evidence_depth"].item() == 3
    assert (table["evidence_depth"] > 0).sum() > 5000
    assert table["isoform_count"].sum() == 13336  # every mRNA of the file, once
