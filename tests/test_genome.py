"""FASTA access (plain, gzip, BGZF; cache; bad files) and GFF3 gene tables (TSS, bad lines)."""

import gzip
import os
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cornlib.data import compressed, embedded, genome, gff

TOY = Path(__file__).parent / "data" / "toy"
CHR1 = "ACGTTGCAACGATCGATCGATTTTTCCCCCAAAAAGGGGGCATGCATGCAggccaATTACCCGGAATTCCTAGCTAGCTA"
CHR2 = "ATATATATATcgcGRCGCGCNNNNNACGTACGTACGTACGTACGT"


@pytest.fixture
def cache(tmp_path):
    return tmp_path / "cache"


def _gff_lines():
    return (TOY / "toy.gff3").read_text().splitlines()


def _write_gff(path, lines):
    path.write_text("\n".join(lines) + "\n")
    return path


# --- FASTA --------------------------------------------------------------------------------------

def test_fasta_is_keyed_on_the_first_header_word(cache):
    fa = genome.open_fasta(TOY / "toy.fa", cache)
    assert genome.chrom_sizes(fa) == {"chr1": 80, "chr2": 45}
    assert genome.fetch(fa, "chr1", 0, 80) == CHR1
    assert genome.fetch(fa, "chr2", 8, 18, "-") == "GCGYCgcgAT"


def test_index_goes_to_the_cache_not_beside_a_read_only_source(tmp_path, cache):
    src = tmp_path / "ro"
    src.mkdir()
    shutil.copy(TOY / "toy.fa", src / "toy.fa")
    os.chmod(src, 0o555)
    try:
        fa = genome.open_fasta(src / "toy.fa", cache)
        assert genome.fetch(fa, "chr1", 10, 20) == CHR1[10:20]
        assert sorted(p.name for p in src.iterdir()) == ["toy.fa"]
        assert list((cache / "genomes").glob("*.fa.fai"))
    finally:
        os.chmod(src, 0o755)


@pytest.mark.parametrize("kind", ["gzip", "bgzf"])
def test_compressed_fasta_is_decompressed_once_into_the_cache(tmp_path, cache, kind):
    path = tmp_path / "toy.fa.gz"
    data = (TOY / "toy.fa").read_bytes()
    if kind == "gzip":
        path.write_bytes(gzip.compress(data))
    else:
        from Bio import bgzf

        with bgzf.BgzfWriter(str(path), "wb") as fh:
            fh.write(data)
    assert compressed.compression(path) == kind
    fa = genome.open_fasta(path, cache)
    assert genome.fetch(fa, "chr1", 0, 80) == CHR1
    cached = genome.prepare_fasta(path, cache)
    assert cached.parent == cache / "genomes" and compressed.compression(cached) == "plain"
    assert not list(tmp_path.glob("*.fai")) and not list(tmp_path.glob("*.gzi"))


def test_fetch_many_matches_pyfaidx_on_wrapped_lines(cache):
    fa = genome.open_fasta(TOY / "toy.fa", cache)
    rng = np.random.default_rng(0)
    starts = rng.integers(0, 80, 200)
    ends = np.minimum(80, starts + rng.integers(0, 45, 200))
    got = genome.fetch_many(fa, ["chr1"] * 200, starts, ends)
    assert [g.decode() for g in got] == [str(fa["chr1"][s:e]) for s, e in zip(starts, ends)]
    with pytest.raises(ValueError, match="outside"):
        genome.fetch_many(fa, ["chr2"], [40], [46])


def test_missing_fasta_is_file_not_found(cache):
    with pytest.raises(FileNotFoundError, match="nope.fa"):
        genome.open_fasta(TOY / "nope.fa", cache)


@pytest.mark.parametrize("content, message", [
    (b"", "empty"),
    (b">chr1 only a header\n", "no sequence"),
    (b"ACGT\n>chr1\nACGT\n", "cannot be indexed"),
    (b">chr1\nACGTACGT\nACG\nACGTACGT\n", "cannot be indexed"),
    (b">chr1\nACGT\n>chr1 again\nACGT\n", "unique|cannot be indexed"),
])
def test_bad_fasta_gets_a_clear_error(tmp_path, cache, content, message):
    path = tmp_path / "bad.fa"
    path.write_bytes(content)
    with pytest.raises(ValueError, match=message):
        genome.open_fasta(path, cache)


def test_truncated_gzip_fasta_is_detected(tmp_path, cache):
    data = gzip.compress((TOY / "toy.fa").read_bytes() * 20)
    path = tmp_path / "cut.fa.gz"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match="truncated"):
        genome.open_fasta(path, cache)
    assert not list((cache / "genomes").glob("*.fa")), "a half file was left in the cache"


def test_bgzf_fasta_without_eof_block_is_truncated(tmp_path, cache):
    from Bio import bgzf

    path = tmp_path / "cut.fa.gz"
    with bgzf.BgzfWriter(str(path), "wb") as fh:
        fh.write((TOY / "toy.fa").read_bytes())
    path.write_bytes(path.read_bytes()[:-28])  # drop the 28-byte BGZF EOF block
    with pytest.raises(ValueError, match="truncated"):
        genome.open_fasta(path, cache)


# --- GFF3 ---------------------------------------------------------------------------------------

def test_gene_table_is_zero_based_with_tss_per_strand():
    genes = gff.read_genes(TOY / "toy.gff3").set_index("gene_id")
    assert len(genes) == 11  # type "gene" only: no pseudogene, mRNA or exon
    assert "TOY_PSEUDO" not in genes.index
    a, b = genes.loc["TOY_A"], genes.loc["TOY_B"]
    assert (a.start, a.end, a.strand, a.tss) == (30, 40, "+", 30)  # GFF 31..40
    assert (b.start, b.end, b.strand, b.tss) == (41, 50, "-", 49)  # GFF 42..50
    assert pd.isna(genes.loc["TOY_DOT", "tss"])  # unstranded: no TSS
    assert genes.loc["TOY_TRNA", "biotype"] == "tRNA"


def test_read_genes_returns_a_fresh_table_each_call():
    first = gff.read_genes(TOY / "toy.gff3")
    first.loc[0, "gene_id"] = "CHANGED"
    assert gff.read_genes(TOY / "toy.gff3").loc[0, "gene_id"] == "TOY_EDGE"


def test_an_edited_annotation_is_parsed_again(tmp_path):
    path = _write_gff(tmp_path / "edit.gff3", _gff_lines())
    assert len(gff.read_genes(path)) == 11
    _write_gff(path, _gff_lines()[:-1])
    os.utime(path, ns=(1, 1))  # a different mtime even on a coarse-clock file system
    assert len(gff.read_genes(path)) == 10


def test_gene_id_is_locus_tag_else_id_without_prefix():
    genes = gff.read_genes(TOY / "toy.gff3")
    assert "TOYN" in set(genes["gene_id"])  # ID=gene-TOYN, no locus_tag
    assert not genes["gene_id"].str.startswith("gene-").any()


def test_attributes_after_a_hash_are_kept():
    """``read_csv(comment='#')`` would cut TOY_A's attributes after 'motif #1'."""
    a = gff.read_genes(TOY / "toy.gff3").set_index("gene_id").loc["TOY_A"]
    assert a["name"] == "toyA" and a["biotype"] == "protein_coding"


def test_gzip_crlf_blank_lines_and_fasta_section_are_read(tmp_path):
    lines = _gff_lines()
    text = "\r\n".join(lines[:5] + [""] + lines[5:]) + "\r\n##FASTA\r\n>chr1\r\nACGT\r\n"
    path = tmp_path / "toy.gff3.gz"
    path.write_bytes(gzip.compress(text.encode()))
    got = gff.read_genes(path)
    want = gff.read_genes(TOY / "toy.gff3")
    assert got.equals(want)


@pytest.mark.parametrize("edit, message", [
    (lambda f: f[:4] + ["\t".join(f[4].split("\t")[:8])],
     r"line 5: expected 9 tab-separated columns \(.*\), found 8"),
    (lambda f: f[:4] + [f[4].replace("\t4\t", "\t4.5\t")], "line 5: start and end must be integers"),
    (lambda f: f[:4] + [f[4].replace("\t4\t12\t", "\t12\t4\t")], "line 5: inverted coordinates"),
    (lambda f: f[:4] + [f[4].replace("\t4\t12\t", "\t0\t12\t")], "line 5: start 0 is below 1"),
    (lambda f: f[:4] + [f[4].replace("\t+\t", "\tx\t")], "line 5: strand must be one of"),
    (lambda f: f[:9] + [f[9].replace("\t+\t", "\tplus\t")], "line 10: strand must be one of"),
    (lambda f: f + [f[8].replace("\t", " ", 2)],
     r"line 19: expected 9 tab-separated columns \(.*\), found 7"),
])
def test_malformed_lines_name_file_and_line(tmp_path, edit, message):
    path = _write_gff(tmp_path / "bad.gff3", edit(_gff_lines()))
    with pytest.raises(ValueError, match=message) as err:
        gff.read_genes(path)
    assert "bad.gff3" in str(err.value)


def test_duplicate_gene_ids_name_the_id_and_lines(tmp_path):
    lines = _gff_lines()
    path = _write_gff(tmp_path / "dup.gff3", lines + [lines[7]])  # TOY_A again
    with pytest.raises(ValueError, match=r"gene ID 'TOY_A' appears 2 times \(lines 8, 19\)"):
        gff.read_genes(path)


def test_seqid_missing_from_fasta_is_named(tmp_path, cache):
    path = _write_gff(tmp_path / "chr3.gff3", [ln.replace("chr2\t", "chr3\t") for ln in _gff_lines()])
    genes = gff.read_genes(path)
    sizes = genome.chrom_sizes(genome.open_fasta(TOY / "toy.fa", cache))
    with pytest.raises(ValueError, match="seqid 'chr3'.*not a record of FASTA"):
        gff.check_against_fasta(genes, sizes, path, TOY / "toy.fa")


def test_gene_past_the_record_end_is_an_error(tmp_path, cache):
    lines = [ln.replace("\t75\t78\t", "\t75\t99\t") for ln in _gff_lines()]
    path = _write_gff(tmp_path / "long.gff3", lines)
    sizes = genome.chrom_sizes(genome.open_fasta(TOY / "toy.fa", cache))
    with pytest.raises(ValueError, match="TOY_END ends at 99 .*beyond the end of chr1"):
        gff.check_against_fasta(gff.read_genes(path), sizes, path, TOY / "toy.fa")


def test_truncated_gzip_gff_is_detected(tmp_path):
    data = gzip.compress((TOY / "toy.gff3").read_bytes() * 50)
    path = tmp_path / "cut.gff3.gz"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match="truncated"):
        gff.read_genes(path)


def test_real_tair10_annotation_keeps_every_gene():
    """All 7,156 protein-coding genes, including the 34 whose attributes contain '#'."""
    genes = gff.read_genes(embedded.locate("athaliana").gff)
    assert len(genes) == 8771 and genes["gene_id"].is_unique
    assert (genes["biotype"] == "protein_coding").sum() == 7156
    assert genes["gene_id"].str.fullmatch(r"AT1G\d{5}").all()
    assert (genes["tss"] == genes["start"].where(genes["strand"] == "+", genes["end"] - 1)).all()
