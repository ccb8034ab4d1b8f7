"""Promoter extraction: hand-checked toy genome, policies, report, writers, bedtools identity."""

import gzip
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cornlib.data import bedtools, embedded, genome, gff, promoter_stats, promoters
from cornlib.data.sources import GenomeFiles

TOY = Path(__file__).parent / "data" / "toy"
FA, GFF = TOY / "toy.fa", TOY / "toy.gff3"
needs_bedtools = pytest.mark.skipif(shutil.which("bedtools") is None,
                                    reason="bedtools is not on PATH (apt-get install bedtools)")


@pytest.fixture
def cache(tmp_path):
    return tmp_path / "cache"


def toy(cache, **params):
    """Toy promoters with upstream=10 and no length filter unless overridden."""
    params = {"upstream": 10, "min_length": 1, "cache_dir": cache, **params}
    return promoters.extract(FA, GFF, "toy", **params)


def rows(table):
    return list(zip(table["gene_id"], table["start"], table["end"], table["sequence"], table["flags"]))


# --- the hand-checked toy genome (see tests/data/toy/README.md) ---------------------------------

def test_toy_promoters_match_the_hand_checked_ones(cache):
    table, _ = toy(cache)
    assert rows(table) == [
        ("TOY_A", 23, 30, "TTCCCCC", "trimmed"),  # [20,30) minus the tRNA gene [18,23)
        ("TOY_B", 50, 55, "TGGCC", "trimmed"),  # - strand: revcomp of ggcca, trimmed at TOY_C
        ("TOY_C", 50, 55, "GGCCA", "trimmed"),  # shares the intergenic stretch with TOY_B
        ("TOY_NEST", 50, 55, "GGCCA", "trimmed;detached"),  # nested in TOY_C: FloraBERT's fragment
        ("TOY_IUPAC", 8, 18, "GCGNCGCGAT", "iupac"),  # R -> Y on -, then N
    ]
    assert list(table.columns) == promoters.COLUMNS
    assert table["tss"].tolist() == [30, 49, 55, 60, 7]
    assert (table["length"] == table["end"] - table["start"]).all()


def test_report_accounts_for_every_candidate(cache):
    _, report = toy(cache)
    assert report["genes"] == 11 and report["candidates"] == 10 and report["kept"] == 5
    assert report["dropped"] == {"unstranded": 1, "covered_by_neighbours": 1, "chrom_edge": 2,
                                 "too_short": 0, "too_many_n": 1, "max_genes": 0}
    assert report["candidates"] == report["kept"] + sum(report["dropped"].values())
    assert report["examples"]["chrom_edge"] == ["TOY_EDGE", "TOY_END"]
    assert report["examples"]["covered_by_neighbours"] == ["TOY_COVERED"]
    assert report["flagged"] == {"trimmed": 4, "detached": 1, "clipped": 0, "iupac": 1}
    assert report["iupac_bases"] == 1


def test_edge_policy_flag_keeps_clipped_windows(cache):
    table, report = toy(cache, edge_policy="flag")
    got = {r[0]: r[1:] for r in rows(table)}
    assert got["TOY_EDGE"] == (0, 3, "ACG", "clipped")  # + strand, window [-7, 3)
    assert got["TOY_END"] == (78, 80, "TA", "clipped")  # - strand, window [78, 88)
    assert report["dropped"]["chrom_edge"] == 0 and report["flagged"]["clipped"] == 2


def test_without_trimming_windows_are_whole(cache):
    got = {r[0]: r[1:] for r in rows(toy(cache, trim_neighbours=False)[0])}
    assert got["TOY_A"] == (20, 30, "TTTTTCCCCC", "")
    assert got["TOY_B"] == (50, 60, "GTAATTGGCC", "")  # revcomp of ggccaATTAC
    assert got["TOY_COVERED"] == (56, 66, "TTACCCGGAA", "")


def test_soft_mask_and_iupac_policies(cache):
    keep = {r[0]: r[3] for r in rows(toy(cache, soft_mask="keep")[0])}
    assert keep["TOY_B"] == "tggcc" and keep["TOY_IUPAC"] == "GCGNCgcgAT"
    table, _ = toy(cache, iupac="keep")
    iupac = table.set_index("gene_id").loc["TOY_IUPAC"]
    assert iupac["sequence"] == "GCGYCGCGAT" and iupac["n_fraction"] == 0 and iupac["n_iupac"] == 1
    upper = toy(cache)[0].set_index("gene_id")
    assert upper.loc["TOY_B", "masked_fraction"] == 1.0 and upper.loc["TOY_IUPAC", "n_fraction"] == 0.1


def test_downstream_is_appended_only_to_fragments_touching_the_tss(cache):
    got = {r[0]: r[1:4] for r in rows(toy(cache, downstream=3)[0])}
    assert got["TOY_A"] == (23, 33, "TTCCCCCAAA")
    assert got["TOY_B"] == (47, 55, "TGGCCTGC")  # - strand: 3 bases of the gene body, revcomp
    assert got["TOY_NEST"] == (50, 55, "GGCCA")  # detached: no downstream part


def test_neighbours_are_every_gene_whatever_its_biotype(cache):
    table, report = toy(cache, biotypes=None)
    got = {r[0]: r[1:] for r in rows(table)}
    assert got["TOY_TRNA"] == (23, 30, "GGGGGAA", "trimmed")  # trimmed at TOY_A's body
    assert report["candidates"] == 11
    # TOY_PSEUDO (type pseudogene) overlaps TOY_A's fragment and does not trim it
    assert got["TOY_A"][:2] == (23, 30)


def test_length_and_n_filters(cache):
    short = toy(cache, min_length=6)
    assert [r[0] for r in rows(short[0])] == ["TOY_A", "TOY_IUPAC"]
    assert short[1]["dropped"]["too_short"] == 3
    lenient = {r[0]: r[3] for r in rows(toy(cache, max_n_fraction=0.5)[0])}
    assert lenient["TOYN"] == "GCNNNNNACG"  # n_fraction 0.5 is not above 0.5


def test_max_genes_is_deterministic_and_evenly_spaced(cache):
    first, report = toy(cache, max_genes=2)
    again, _ = toy(cache, max_genes=2)
    assert list(first["gene_id"]) == list(again["gene_id"]) == ["TOY_A", "TOY_C"]
    assert report["dropped"]["max_genes"] == 3 and report["kept"] == 2


def test_letters_outside_acgtn_and_iupac_name_gene_and_position(tmp_path, cache):
    bad = tmp_path / "bad.fa"
    bad.write_text(FA.read_text().replace("CGCGCNNNNNACGTA", "CXCGCNNNNNACGTA"))  # chr2 pos 16
    with pytest.raises(ValueError, match=r"gene TOY_IUPAC .* letter 'X' at position 2 "):
        promoters.extract(bad, GFF, "toy", upstream=10, min_length=1, cache_dir=cache)


def test_windows_does_not_mutate_the_gene_table(cache):
    genes = gff.read_genes(GFF)
    before = genes.copy()
    sizes = genome.chrom_sizes(genome.open_fasta(FA, cache))
    win = promoters.windows(genes, sizes, upstream=10)
    assert genes.equals(before)
    assert win.set_index("gene_id").loc["TOY_COVERED", "reason"] == "covered_by_neighbours"


@pytest.mark.parametrize("params, message", [
    ({"edge_policy": "clip"}, "edge_policy must be one of drop, flag"),
    ({"soft_mask": "lower"}, "soft_mask must be one of upper, keep"),
    ({"upstream": -1}, "upstream must be a non-negative integer"),
    ({"upstream": 0, "downstream": 0}, "window would be empty"),
    ({"max_n_fraction": 2}, "max_n_fraction must lie in"),
    ({"max_genes": 0}, "max_genes must be a positive integer"),
    ({"biotypes": "protein_coding"}, "biotypes must be a list"),
])
def test_bad_parameters_are_rejected(cache, params, message):
    with pytest.raises(ValueError, match=message):
        toy(cache, **params)


def test_seqid_missing_from_fasta_stops_extraction(tmp_path, cache):
    gff = tmp_path / "other.gff3"
    gff.write_text(GFF.read_text().replace("chr2\t", "scaffold_9\t"))
    with pytest.raises(ValueError, match="seqid 'scaffold_9'"):
        promoters.extract(FA, gff, "toy", cache_dir=cache)


# --- several genomes, writers, profile --------------------------------------------------------

def test_extract_genomes_concatenates_and_checks_ids(tmp_path, cache):
    one = GenomeFiles("toy", "toy genome", FA, GFF)
    table, report = promoters.extract_genomes([one], upstream=10, min_length=1, cache_dir=cache)
    assert set(table["species"]) == {"toy"} and report["total"]["kept"] == len(table) == 5
    assert report["species"]["toy"]["label"] == "toy genome"
    twin = GenomeFiles("twin", "same genes again", FA, GFF)
    with pytest.raises(ValueError, match="unique across species"):
        promoters.extract_genomes([one, twin], upstream=10, min_length=1, cache_dir=cache)
    with pytest.raises(ValueError, match="has no GFF3 annotation"):
        promoters.extract_genomes([GenomeFiles("bare", "bare", FA, None)], cache_dir=cache)


def test_report_table_has_a_row_per_species_and_a_total(cache):
    one = GenomeFiles("toy", "toy genome", FA, GFF)
    _, report = promoters.extract_genomes([one], upstream=10, min_length=1, cache_dir=cache)
    table = promoter_stats.report_table(report)
    assert list(table.index) == ["toy", "total"]
    assert table.loc["toy", "kept"] == 5 and table.loc["toy", "chrom_edge"] == 2


def test_writers_round_trip_and_write_nothing_on_error(tmp_path, cache):
    table, _ = toy(cache)
    fa = promoters.write(table, tmp_path / "p.fa")
    lines = fa.read_text().splitlines()
    assert lines[0].startswith(">TOY_A species=toy loc=chr1:23-30(+) flags=trimmed")
    assert lines[1] == "TTCCCCC" and len(lines) == 2 * len(table)
    pq = promoters.write(table, tmp_path / "p.parquet")
    assert promoters.read(pq).equals(table)
    with pytest.raises(ValueError, match="columns"):
        promoters.write_parquet(table.drop(columns="sequence"), tmp_path / "bad.parquet")
    with pytest.raises(ValueError, match="cannot tell the format"):
        promoters.write(table, tmp_path / "p.txt")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cache", "p.fa", "p.parquet"]


def test_gc_profile_places_both_strands_relative_to_the_tss(cache):
    table, _ = toy(cache)
    sub = table[table["gene_id"].isin(["TOY_A", "TOY_B"])]  # TTCCCCC at -7..-1; TGGCC at -5..-1
    prof = promoter_stats.gc_profile(sub, upstream=10, bin_size=1).set_index("position")
    assert prof.loc[-10:-8, "gc_fraction"].isna().all()
    assert prof.loc[-7, "gc_fraction"] == 0 and prof.loc[-5, "gc_fraction"] == 0.5
    assert (prof.loc[-4:-1, "gc_fraction"] == 1).all() and prof.loc[-1, "n_bases"] == 2


def test_plots_return_figures(cache):
    import matplotlib

    matplotlib.use("Agg")
    from cornlib.plots import along_promoter, distributions, per_category

    one = GenomeFiles("toy", "toy genome", FA, GFF)
    table, report = promoters.extract_genomes([one], upstream=10, min_length=1, cache_dir=cache)
    for fig, _ in (per_category.dropped(report), distributions.lengths_and_n(table),
                   along_promoter.gc_along(promoter_stats.gc_profile(table, upstream=10,
                                                                     bin_size=2))):
        assert fig.axes
    matplotlib.pyplot.close("all")


def test_small_profile_values_are_the_library_defaults():
    from cornlib import profiles

    small = profiles.load("small")
    for key, value in promoters.DEFAULTS.items():
        if key in small:
            assert small[key] == value, key


# --- identity with FloraBERT's bedtools pipeline ---------------------------------------------

SAME_JOB = dict(biotypes=None, edge_policy="flag", min_length=0, max_n_fraction=1.0,
                soft_mask="keep", iupac="keep")


def _assert_identical(ours, ref):
    merged = ref.merge(ours, on="gene_id", how="outer", suffixes=("_bt", ""), indicator=True)
    assert (merged["_merge"] == "both").all(), merged.loc[merged["_merge"] != "both", "gene_id"].tolist()
    for col in ("start", "end", "strand", "sequence"):
        assert (merged[f"{col}_bt"] == merged[col]).all(), col


@needs_bedtools
def test_toy_matches_bedtools(cache):
    ours, _ = toy(cache, **SAME_JOB)
    ref = bedtools.bedtools_reference(FA, GFF, upstream=10, cache_dir=cache)
    _assert_identical(ours, ref)


@needs_bedtools
def test_real_genome_slice_matches_bedtools(tmp_path, cache):
    """The first 3 Mb of TAIR10 chr1 and its genes (~800): same fragments, same sequences."""
    files = embedded.locate("athaliana")
    size = 3_000_000
    fa = genome.open_fasta(files.fasta, cache)
    chrom = next(iter(genome.chrom_sizes(fa)))
    seq = genome.fetch(fa, chrom, 0, size)
    (tmp_path / "slice.fa").write_text(f">{chrom} first 3 Mb\n" + "\n".join(
        seq[i:i + 60] for i in range(0, size, 60)) + "\n")
    with gzip.open(files.gff, "rt") as fh:
        keep = [ln for ln in fh if not ln.startswith("#") and ln.split("\t")[2] == "gene"
                and int(ln.split("\t")[4]) <= size]
    (tmp_path / "slice.gff3").write_text("##gff-version 3\n" + "".join(keep))
    ours, report = promoters.extract(tmp_path / "slice.fa", tmp_path / "slice.gff3", "athaliana",
                                     cache_dir=cache, **SAME_JOB)
    ref = bedtools.bedtools_reference(tmp_path / "slice.fa", tmp_path / "slice.gff3", cache_dir=cache)
    assert len(ref) > 500 and report["flagged"]["trimmed"] > 100
    _assert_identical(ours, ref)
    assert np.isin(["NC_003070.9"], ours["chrom"]).all()


# --- promoter_stats: lengths, the bedtools sentence, GC landmarks, TSS evidence ---------------

def test_length_summary_counts_full_length_promoters(cache):
    table, _ = toy(cache)  # upstream 10: only TOY_IUPAC keeps all 10 bases
    summary = promoter_stats.length_summary(table, upstream=10)
    assert summary.loc["toy", "full_length"] == 1 and summary.loc["toy", "promoters"] == 5
    assert summary.loc["toy", "full_share"] == pytest.approx(0.2)


def test_bedtools_sentence_says_what_happened():
    absent = promoter_stats.bedtools_sentence({"bedtools": "not installed"})
    assert "not installed" in absent and "did not run" in absent
    same = {"species": "toy", "bedtools": "bedtools v2.31.1", "promoters": 9, "identical": 9,
            "only_cornlib": 0, "only_bedtools": 0}
    assert "every promoter is identical" in promoter_stats.bedtools_sentence(same)
    off = promoter_stats.bedtools_sentence({**same, "identical": 7, "only_bedtools": 2})
    assert "7 of 9" in off and "2 only by bedtools" in off


def test_gc_landmarks_find_the_dip():
    pos = np.arange(-300, 0, 10)
    gc = np.where(pos < -200, 0.3, 0.4)
    gc[pos == -30] = 0.2
    prof = pd.DataFrame({"species": "s", "position": pos, "gc_fraction": gc, "n_bases": 100})
    marks = promoter_stats.gc_landmarks(prof).loc["s"]
    assert marks["gc_far"] == pytest.approx(0.3) and marks["dip_position"] == -30
    assert marks["gc_near"] == pytest.approx((19 * 0.4 + 0.2) / 20)


def test_five_prime_utr_is_the_distance_from_tss_to_the_first_coding_base(tmp_path):
    lines = ["##gff-version 3",
             "c\tt\tgene\t101\t300\t.\t+\t.\tID=gene-G1;locus_tag=G1;gene_biotype=protein_coding",
             "c\tt\tmRNA\t101\t300\t.\t+\t.\tID=rna-G1;Parent=gene-G1;locus_tag=G1",
             "c\tt\tCDS\t151\t200\t.\t+\t0\tID=cds-G1;Parent=rna-G1;locus_tag=G1",
             "c\tt\tCDS\t221\t300\t.\t+\t0\tID=cds-G1;Parent=rna-G1;locus_tag=G1",
             "c\tt\tgene\t401\t600\t.\t-\t.\tID=gene-G2;gene_biotype=protein_coding",
             "c\tt\tmRNA\t401\t600\t.\t-\t.\tID=rna-G2;Parent=gene-G2;Note=source:AUGUSTUS",
             "c\tt\tCDS\t401\t600\t.\t-\t0\tID=cds-G2;Parent=rna-G2"]
    path = tmp_path / "g.gff3"
    path.write_text("\n".join(lines) + "\n")
    utr = promoter_stats.five_prime_utr(path)
    assert utr.to_dict() == {"G1": 50, "G2": 0}  # G2: TSS at the start codon (via its mRNA)
    files = GenomeFiles("s", "s", FA, path)
    table = pd.DataFrame({"gene_id": ["G1", "G2"], "species": "s"})
    src = promoter_stats.tss_sources([files], table).loc["s"]
    assert src["mrnas"] == 2 and src["mrnas_ab_initio"] == 1 and src["tss_at_start_codon"] == 1
    groups = promoter_stats.tss_groups([files], table)
    assert groups["G2"].startswith("s: no 5'UTR") and groups["G1"] == "s: 5'UTR annotated"


def test_core_profile_and_peak_count_hits_per_group():
    hits = pd.DataFrame({"gene_id": ["a"] * 5 + ["b"], "centre": [-25.0, -26, -24, -150, -250, -25]})
    groups = pd.Series({"a": "x", "b": "y", "c": "y"})
    prof = promoter_stats.core_profile(hits, groups, span=300, bin_size=10)
    x = prof[prof["group"] == "x"].set_index("position")
    assert x.loc[-30, "hits"] == 3 and x.loc[-30, "per_1000"] == 3000 and x["hits"].sum() == 5
    peak = promoter_stats.core_peak(prof)
    assert peak.loc["x", "peak_hits"] == 3 and peak.loc["y", "promoters"] == 2
    assert peak.loc["x", "other_max"] == 1


def test_report_sentences_follow_the_numbers(cache):
    one = GenomeFiles("toy", "toy genome", FA, GFF)
    table, report = promoters.extract_genomes([one], upstream=10, min_length=1, cache_dir=cache)
    dropped = promoter_stats.drop_sentence(report)
    assert dropped.startswith("In toy, 5 of 10 candidate genes are dropped (50.0%")
    assert "2 at a chromosome end" in dropped and "4 of the 5 promoters kept are trimmed" in dropped
    assert "candidates = kept" in promoter_stats.accounted_sentence(report)
    text = promoter_stats.lengths_sentence(promoter_stats.length_summary(table, 10),
                                           promoter_stats.letter_summary(table))
    assert text.startswith("20.0% of the toy promoters keep the full window")
    assert "1 of the 5 promoters holds unknown bases" in text
    marks = pd.DataFrame({"gc_far": [0.3], "gc_near": [0.4], "dip_position": [-30], "dip_gc": [0.2]},
                         index=pd.Index(["s"], name="species"))
    assert "GC rises from 0.300" in promoter_stats.gc_sentence(marks)
    assert "where plant TATA boxes sit" in promoter_stats.gc_sentence(marks)
