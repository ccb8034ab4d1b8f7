"""``cornlib variants``: SNVs mapped strand-aware onto promoters, every unscored variant given a
status, bad input named, the output written whole or not at all, simulated variants that map
back onto the bases they were drawn from."""

import re

import numpy as np
import pandas as pd
import pytest
import torch

from cornlib import cli, models, training
from cornlib import variants as V
from cornlib.data import embedded, genome, promoters
from cornlib.data.simulate import tss_index
from cornlib.models import predictor
from cornlib.sequence import Edit, apply, reverse_complement

torch.set_num_threads(1)
TISSUES = ["sim_t01", "sim_t02"]
SETTINGS = dict(upstream=10, min_length=5)
HEADER = "##fileformat=VCFv4.2\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n"
# chr1: gene M on - (GFF 5..14, TSS 0-based 13, promoter [14, 24)); gene P on + (GFF 31..40,
# TSS 30, promoter [20, 30)); an N at 0-based 27; 0-based 20..23 lie in both promoters.
CHR1 = "".join(np.random.default_rng(3).choice(list("ACGT"), 60))
CHR1 = CHR1[:27] + "N" + CHR1[28:]
GFF = ("##gff-version 3\n"
       "chr1\tt\tgene\t5\t14\t.\t-\t.\tID=gene-M;gene_biotype=protein_coding\n"
       "chr1\tt\tgene\t31\t40\t.\t+\t.\tID=gene-P;gene_biotype=protein_coding\n")


def _genome(tmp_path, seq=CHR1, name="g"):
    fa, gff = tmp_path / f"{name}.fa", tmp_path / f"{name}.gff3"
    fa.write_text(f">chr1 tiny\n{seq}\n>chr2\n{'ACGT' * 10}\n")
    gff.write_text(GFF)
    return fa, gff


def _vcf(tmp_path, lines, name="v.vcf"):
    path = tmp_path / name
    path.write_text(HEADER + "".join("\t".join(map(str, row)) + "\t.\t.\t.\n" for row in lines))
    return path


def _located(tmp_path, lines, **kw):
    fa, gff = _genome(tmp_path)
    proms, _ = promoters.extract(fa, gff, "tiny", cache_dir=tmp_path / "cache", **SETTINGS)
    found = V.read_vcf(_vcf(tmp_path, lines), **kw)
    return V.locate(found, proms, genome.open_fasta(fa, tmp_path / "cache")), proms


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    path = tmp_path_factory.mktemp("model") / "cnn"
    config = models.PromoterCNNConfig(
        seq_length=64, n_targets=2, channels=[4], kernel_sizes=[5], pool_sizes=[1],
        hidden_size=8, target_names=TISSUES, target_mean=[1.0, 2.0], target_std=[1.0, 1.0],
        target_transform="log1p", promoter_settings=SETTINGS)
    torch.manual_seed(0)
    training.save_model(models.PromoterCNN(config), path)
    return path


def test_plus_and_minus_strand_mapping_matches_a_mutated_genome(tmp_path):
    comp = str.maketrans("ACGT", "TGCA")
    lines = [("chr1", 26, "v_plus", CHR1[25], CHR1[25].translate(comp)),
             ("chr1", 16, "v_minus", CHR1[15], CHR1[15].translate(comp)),
             ("chr1", 22, "v_both", CHR1[21], CHR1[21].translate(comp))]
    loc, proms = _located(tmp_path, lines)
    assert (loc["status"] == "scored").all() and list(loc["id"]) == ["v_plus", "v_minus", "v_both",
                                                                       "v_both"]
    got = loc.set_index(["id", "gene_id"])
    assert tuple(got.loc[("v_plus", "P"), ["strand", "offset", "tss_offset"]]) == ("+", 5, -5)
    assert tuple(got.loc[("v_minus", "M"), ["strand", "offset", "tss_offset"]]) == ("-", 8, -2)
    assert got.loc[("v_minus", "M"), "promoter_ref"] == CHR1[15].translate(comp)
    assert tuple(got.loc[("v_both", "M"), ["offset", "tss_offset"]]) == (2, -8)
    assert tuple(got.loc[("v_both", "P"), ["offset", "tss_offset"]]) == (1, -9)
    seqs = proms.set_index("gene_id")["sequence"]
    assert seqs["P"] == CHR1[20:30] and seqs["M"] == reverse_complement(CHR1[14:24])
    for (vid, gene), row in got.iterrows():  # the edit gives the promoter of the mutated genome
        pos0 = next(p for c, p, i, *_ in lines if i == vid) - 1
        mutated = CHR1[:pos0] + row["alt"] + CHR1[pos0 + 1:]
        (tmp_path / f"{vid}_{gene}").mkdir()
        fa, gff = _genome(tmp_path / f"{vid}_{gene}", mutated)
        alt_proms, _ = promoters.extract(fa, gff, "tiny", cache_dir=tmp_path / "cache", **SETTINGS)
        expected = alt_proms.set_index("gene_id").at[gene, "sequence"]
        assert apply(seqs[gene], Edit(row["offset"], row["promoter_ref"], row["promoter_alt"])) == expected


def test_every_unscored_variant_gets_a_status(tmp_path):
    lines = [("chr1", 26, "ok", CHR1[25], "ACGT".replace(CHR1[25], "")[0]),
             ("chr1", 50, "far", CHR1[49], "ACGT".replace(CHR1[49], "")[0]),
             ("chr1", 25, "mismatch", "ACGT".replace(CHR1[24], "")[0], CHR1[24]),
             ("chr1", 28, "n_here", "A", "C"),
             ("chr1", 24, "n_alt", CHR1[23], "N"),
             ("chr9", 5, "nowhere", "A", "C"),
             ("chr1", 1000, "beyond", "A", "C"),
             ("chr1", 23, "multi", CHR1[22], ",".join("ACGT".replace(CHR1[22], "")[:2])),
             ("chr1", 23, "del", CHR1[22:24], CHR1[22]),
             ("chr1", 23, "sym", CHR1[22], "<DEL>"),
             ("chr1", 23, "mono", CHR1[22], ".")]
    loc, _ = _located(tmp_path, lines)
    status = dict(zip(loc["id"], loc["status"]))
    assert status == {"ok": "scored", "far": "outside_promoters", "mismatch": "ref_mismatch",
                      "n_here": "n_allele", "n_alt": "n_allele", "nowhere": "unknown_contig",
                      "beyond": "outside_contig", "multi": "multiallelic", "del": "indel",
                      "sym": "symbolic", "mono": "no_alt"}
    note = loc.set_index("id")["note"]
    assert note["mismatch"] == f"VCF ref {lines[2][3]}, genome {CHR1[24]}"
    assert (loc["gene_id"] != "").sum() == 1  # only the scored variant names a gene
    counts = V.summary(loc)
    assert counts["variants"] == len(lines) and counts["scored"] == 1 and counts["n_allele"] == 2
    split, _ = _located(tmp_path, lines[7:8], split_multiallelic=True)
    assert list(split["status"]) == ["scored"] * 4  # two ALTs, each in both promoters
    assert list(split["gene_id"]) == ["M", "P", "M", "P"] and split["alt"].nunique() == 2
    assert split["note"].str.contains("split from a 2-allele record").all()


def test_contig_names_that_differ_by_chr_prefix_are_explained(tmp_path):
    found = V.read_vcf(_vcf(tmp_path, [("1", 5, ".", "A", "C"), ("2", 7, ".", "G", "T")]))
    with pytest.raises(ValueError, match=r"variants name 1, 2, the genome holds chr1, chr2; "
                                         r"they differ by a 'chr' prefix"):
        V.check_contigs(found, ["chr1", "chr2"])
    with pytest.raises(ValueError, match="naming scheme"):
        V.check_contigs(found, ["NC_003070.9"])
    V.check_contigs(found, ["2", "chr1"])  # one contig in common is enough


@pytest.mark.parametrize("body, message", [
    ("chr1\tfoo\t.\tA\tC\t.\t.\t.\n", r"record 1 \(line 3: 'chr1\\tfoo"),
    ("chr1\t5\t.\tA\tC\t.\t.\t.\nchr1\t6\t.\tA\tC\t.\t.\t.\nchr1\t7\n", r"record 3 \(line 5"),
    ("chr1\t5\t.\tA\tU\t.\t.\t.\n", r"record 1 \(line 3.*'U' is not made of the letters ACGTN"),
])
def test_a_malformed_vcf_is_named_with_its_line(tmp_path, body, message):
    path = tmp_path / "bad.vcf"
    path.write_text(HEADER + body)
    with pytest.raises(ValueError, match=f"VCF {re.escape(str(path))}: .*{message}"):
        V.read_vcf(path)


def test_a_file_that_is_no_vcf_is_named(tmp_path):
    path = tmp_path / "junk.vcf"
    path.write_text("hello world\n")
    with pytest.raises(ValueError, match=re.escape(str(path))):
        V.read_vcf(path)
    with pytest.raises(FileNotFoundError):
        V.read_vcf(tmp_path / "absent.vcf")


def test_table_input_and_its_errors(tmp_path):
    good = tmp_path / "v.tsv"
    good.write_text("chrom\tpos\tref\talt\tid\nchr1\t23\tc\tG\tx1\n\nchr2\t4\tT\tA,C\t\n")
    found = V.read_table(good)
    assert list(found["id"]) == ["x1", "chr2:4:T>A,C"] and list(found["ref"]) == ["C", "T"]
    assert list(found["status"]) == ["", "multiallelic"] and found["pos"].dtype == np.int64
    for text, message in [("chrom\tpos\tref\nchr1\t3\tA\n", r"columns \['alt'\] are missing"),
                          ("chrom\tpos\tref\talt\nchr1\t3\tA\tC\nchr1\t4.5\tA\tC\n",
                           r"line 3: position '4.5' is not a positive integer"),
                          ("chrom\tpos\tref\talt\nchr1\t3\tA\tX\n", r"line 2: allele 'X'"),
                          ("chrom\tpos\tref\talt\nchr1\t3\n", r"line 2: 2 fields, the header has 4"),
                          ("chrom\tpos\tref\talt\nchr1\t3\tA\tC\tX\n", r"line 2: 5 fields")]:
        bad = tmp_path / "bad.tsv"
        bad.write_text(text)
        with pytest.raises(ValueError, match=f"variant table {re.escape(str(bad))}.*{message}"):
            V.read_table(bad)


def test_write_vcf_round_trips_plain_and_bgzipped(tmp_path):
    table = pd.DataFrame({"chrom": ["chr2", "chr1"], "pos": [4, 9], "ref": ["T", "G"],
                          "alt": ["A", "C"], "id": ["b", "a"], "class": ["site", "random"]})
    for name in ("s.vcf", "s.vcf.gz"):
        path = V.write_vcf(table, tmp_path / name, {"chr1": 60, "chr2": 40})
        back = V.read_vcf(path)
        assert list(back["id"]) == ["a", "b"] and list(back["pos"]) == [9, 4]
    assert (tmp_path / "s.vcf.gz").read_bytes()[:2] == b"\x1f\x8b"
    assert "##contig=<ID=chr2,length=40>" in (tmp_path / "s.vcf").read_text()


def test_simulated_variants_break_sites_and_map_back(tmp_path):
    from cornlib import motifs

    fa, gff = _genome(tmp_path)
    proms, _ = promoters.extract(fa, gff, "tiny", cache_dir=tmp_path / "cache", **SETTINGS)
    proms = proms[proms["gene_id"] == "M"].reset_index(drop=True)  # no N in M's promoter
    motif = next(m for m in motifs.load_plant_motifs() if m.matrix_id == "MA1055.3")
    card = {"drivers": [{"matrix_id": "MA1055.3", "length": motif.length}],
            "background": {b: 0.25 for b in "ACGT"}}
    truth = pd.DataFrame({"gene_id": ["M", "M"], "motif": ["MA1055.3"] * 2,
                          "role": ["driver", "core"], "position": [-9, -10], "strand": ["-", "+"],
                          "contribution": [-0.7, 0.2]})
    sim = V.simulated_variants(proms, truth, card, n_per_class=5, seed=0)
    site, random = sim[sim["class"] == "site"], sim[sim["class"] == "random"]
    assert len(site) == 1  # the core role is not asked
    assert 1 <= site["offset"].iat[0] < 1 + motif.length
    assert site["contribution"].tolist() == [-0.7] and random["contribution"].isna().all()
    # the sites cover offsets 0..8 of the 10: random variants only at the one base left
    assert random["offset"].tolist() == [9] and sim.attrs["genes_without_room"] == 0
    seq = proms["sequence"].iat[0]
    mutant = apply(seq, Edit(int(site["offset"].iat[0]), seq[site["offset"].iat[0]],
                             reverse_complement(site["alt"].iat[0])))  # M is on -, like the VCF alt
    pwm = motif.log_odds()
    score = lambda s: sum(pwm[k, "ACGT".index(b)] for k, b in enumerate(reverse_complement(s[1:9])))  # noqa: E731
    assert score(mutant) < score(seq) - 2  # the site is broken (its strand is -)
    handle = genome.open_fasta(fa, tmp_path / "cache")
    vcf = V.write_vcf(sim, tmp_path / "sim.vcf", genome.chrom_sizes(handle))
    loc = V.locate(V.read_vcf(vcf), proms, handle)
    back = loc.merge(sim, on="id", suffixes=("", "_sim"))
    assert len(back) == len(sim) and (back["status"] == "scored").all()
    assert (back["gene_id"] == back["gene_id_sim"]).all() and (back["offset"] == back["offset_sim"]).all()
    assert (back["tss_offset"] == back["tss_offset_sim"]).all()
    assert (back["promoter_ref"] == [seq[o] for o in back["offset"]]).all()


def test_random_variants_stay_outside_every_true_site(tmp_path):
    fa, gff = _genome(tmp_path)
    proms, _ = promoters.extract(fa, gff, "tiny", cache_dir=tmp_path / "cache", **SETTINGS)
    card = {"drivers": [{"matrix_id": "X", "length": 3}, {"matrix_id": "Y", "length": 20}],
            "background": {b: 0.25 for b in "ACGT"}}
    truth = pd.DataFrame({"gene_id": ["M", "M", "M", "P"], "motif": ["X", "X", "X", "Y"],
                          "role": ["driver", "driver", "core", "driver"],
                          "position": [-8, -3, -10, -15], "strand": ["+", "-", "+", "+"]})
    sim = V.simulated_variants(proms, truth, card, n_per_class=20, seed=1)
    random = sim[sim["class"] == "random"]
    assert len(random) and set(random["gene_id"]) == {"M"}  # P is one site end to end
    assert sim.attrs["genes_without_room"] == 1
    tss = dict(zip(proms["gene_id"], tss_index(proms)))
    seqs = proms.set_index("gene_id")["sequence"]
    for gene, offset in random[["gene_id", "offset"]].itertuples(index=False):
        inside = V.true_site_mask(seqs[gene], truth[truth["gene_id"] == gene],
                                  {"X": 3, "Y": 20}, tss[gene])
        assert not inside[offset]
    assert sorted(random["offset"]) == [5, 6]  # M (TSS at 10): sites [0, 5) and [7, 10)
    with pytest.raises(ValueError, match="'Z'.*extent is unknown"):
        V.true_site_mask(seqs["M"], truth.assign(motif="Z"), {"X": 3}, tss["M"])


def test_cli_scores_a_vcf_against_the_embedded_genome(model_dir, tmp_path, capsys):
    files = embedded.locate("athaliana")
    fa = genome.open_fasta(files.fasta)
    proms, _ = promoters.extract(files.fasta, files.gff, "athaliana", **SETTINGS)
    plus, minus = (proms[proms["strand"] == s].iloc[5] for s in "+-")
    rows = []
    for gene, k in ((plus, 3), (minus, 6)):
        pos0 = gene["start"] + k if gene["strand"] == "+" else gene["end"] - 1 - k
        ref = genome.fetch(fa, gene["chrom"], pos0, pos0 + 1).upper()
        rows.append((gene["chrom"], pos0 + 1, f"v_{gene['gene_id']}", ref, "ACGT".replace(ref, "")[0]))
    rows += [(rows[0][0], rows[0][1], "wrong_ref", "ACGT".replace(rows[0][3], "")[0], rows[0][3]),
             ("Chr1", 100, "tair_name", "A", "C")]
    out = tmp_path / "effects.tsv"
    code = cli.main(["variants", str(model_dir), "--vcf", str(_vcf(tmp_path, rows)), "--fasta",
                     str(files.fasta), "--gff", str(files.gff), "-o", str(out), "--no-progress"])
    assert code == 0
    err = capsys.readouterr().err
    assert "4 variants (2 scored, 1 ref_mismatch, 1 unknown_contig)" in err
    table = pd.read_csv(out, sep="\t", keep_default_na=False, na_values=[""])
    assert list(table.columns[:10]) == ["id", "chrom", "pos", "ref", "alt", "status", "note", "gene_id",
                                        "strand", "tss_offset"]
    assert list(table.columns[10:]) == [f"{k}_{t}" for k in ("ref", "alt", "delta") for t in TISSUES]
    scored = table[table["status"] == "scored"].set_index("id")
    pred = predictor.load(model_dir)
    for gene, k in ((plus, 3), (minus, 6)):
        row = scored.loc[f"v_{gene['gene_id']}"]
        assert row["gene_id"] == gene["gene_id"] and row["strand"] == gene["strand"]
        assert row["tss_offset"] == k - gene["length"]
        alt = row["alt"] if gene["strand"] == "+" else reverse_complement(row["alt"])
        mutant = gene["sequence"][:k] + alt + gene["sequence"][k + 1:]
        want = pred.predict([gene["sequence"], mutant], progress=False).to_numpy()
        got = row[[f"{k_}_{t}" for k_ in ("ref", "alt") for t in TISSUES]].to_numpy(float)
        assert np.allclose(got, want.reshape(-1), rtol=1e-5, atol=1e-5)
        assert np.allclose(row[[f"delta_{t}" for t in TISSUES]].to_numpy(float), want[1] - want[0],
                           atol=1e-5)
    rest = table[table["status"] != "scored"]
    assert rest[[c for c in table.columns if c.startswith("delta_")]].isna().all().all()
    assert "genome" in rest.set_index("id").at["wrong_ref", "note"]


def test_cli_errors_write_nothing_and_keep_an_old_output(model_dir, tmp_path, capsys):
    fa, gff = _genome(tmp_path)
    out = tmp_path / "out.tsv"
    base = ["variants", str(model_dir), "--fasta", str(fa), "--gff", str(gff), "-o", str(out)]
    assert cli.main(base + ["--vcf", str(_vcf(tmp_path, [("1", 3, ".", "A", "C")]))]) == 2
    assert "cornlib variants: error: no variant lies on a contig" in capsys.readouterr().err
    assert not out.exists()
    out.write_text("old\n")
    bad = tmp_path / "bad.tsv"
    bad.write_text("chrom\tpos\tref\talt\nchr1\tx\tA\tC\n")
    assert cli.main(base + ["--table", str(bad)]) == 2
    assert "line 2" in capsys.readouterr().err and out.read_text() == "old\n"
    assert cli.main(base) == 2 and "either --vcf" in capsys.readouterr().err
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".out")] == []


def test_a_plain_gzip_vcf_is_read(tmp_path):
    import gzip

    comp = str.maketrans("ACGT", "TGCA")
    plain = _vcf(tmp_path, [("chr1", 26, "v1", CHR1[25], CHR1[25].translate(comp))])
    packed = tmp_path / "my.vcf.gz"
    packed.write_bytes(gzip.compress(plain.read_bytes()))  # gzip -c my.vcf > my.vcf.gz
    assert V.read_vcf(packed).equals(V.read_vcf(plain))
    bad = tmp_path / "bad.vcf.gz"
    bad.write_bytes(gzip.compress((HEADER + "chr1\tfoo\t.\tA\tC\t.\t.\t.\n").encode()))
    with pytest.raises(ValueError, match=rf"VCF {re.escape(str(bad))}: record 1"):
        V.read_vcf(bad)


def test_a_vcf_without_its_fileformat_line_is_named(tmp_path):
    path = tmp_path / "v.vcf"
    path.write_text(HEADER.split("\n", 1)[1] + "chr1\t5\t.\tA\tC\t.\t.\t.\n")
    with pytest.raises(ValueError, match=rf"VCF {re.escape(str(path))}: the first line is "
                                         r"'#CHROM.*not '##fileformat=VCFv4.x'.*--table"):
        V.read_vcf(path)


def test_cli_says_one_variant_and_warns_without_promoter_settings(tmp_path, capsys):
    path = tmp_path / "bare"
    config = models.PromoterCNNConfig(
        seq_length=64, n_targets=2, channels=[4], kernel_sizes=[5], pool_sizes=[1],
        hidden_size=8, target_names=TISSUES, target_mean=[1.0, 2.0], target_std=[1.0, 1.0])
    training.save_model(models.PromoterCNN(config), path)
    fa, gff = _genome(tmp_path)
    comp = str.maketrans("ACGT", "TGCA")
    vcf = _vcf(tmp_path, [("chr1", 26, "v1", CHR1[25], CHR1[25].translate(comp))])
    out = tmp_path / "o.tsv"
    assert cli.main(["variants", str(path), "--vcf", str(vcf), "--fasta", str(fa), "--gff",
                     str(gff), "-o", str(out), "--no-progress"]) == 0
    err = capsys.readouterr().err
    assert "cornlib variants: warning: the model records no promoter settings" in err
    assert "cornlib variants: 1 variant (" in err and "; 1 row ->" in err
