"""Tests of the grouping evidence beyond promoter similarity: genome windows that share DNA,
proteins mapped to genes, protein families, and the audit that counts them."""

import gzip

import numpy as np
import pandas as pd
import pytest

from cornlib import CornlibWarning
from cornlib import split as S

AMINO = list("ACDEFGHIKLMNPQRSTVWY")


def random_dna(rng, n):
    return "".join(rng.choice(list("ACGT"), size=n))


def random_protein(rng, n):
    return "M" + "".join(rng.choice(AMINO, size=n - 1))


def mutate_protein(rng, seq, fraction):
    s = list(seq)
    for i in rng.choice(np.arange(1, len(s)), size=int(fraction * len(s)), replace=False):
        s[i] = rng.choice([a for a in AMINO if a != s[i]])
    return "".join(s)


def windows_table(rows):
    """A promoter table from ``(gene_id, species, chrom, start, end)``, random sequences."""
    rng = np.random.default_rng(len(rows))
    out = pd.DataFrame(rows, columns=["gene_id", "species", "chrom", "start", "end"])
    out["sequence"] = [random_dna(rng, e - s) for s, e in zip(out["start"], out["end"])]
    return out


# --- genome windows ------------------------------------------------------------------------------

def test_shared_dna_counts_bases_and_ignores_touching_windows():
    prom = windows_table([("a", "s", "c", 0, 60), ("b", "s", "c", 50, 100),
                          ("c", "s", "c", 100, 200), ("d", "s", "c", 300, 400),
                          ("e", "s", "c", 400, 500), ("f", "s", "c", 399, 401),
                          ("g", "t", "c", 0, 1000), ("h", "s", "c2", 0, 1000)])
    assert list(S.blocks(prom)) == [0, 0, 1, 2, 2, 2, 3, 4]
    shared = S.shared_dna(prom, ["b", "d", "g", "c"], ["a", "c", "e", "f"]).set_index("gene_id")
    assert shared.loc["b"].tolist() == [1, 10, 10]      # a: [0, 60) ∩ [50, 100)
    assert shared.loc["d"].tolist() == [1, 1, 1]        # f: 1 bp; e only touches
    assert shared.loc["g"].tolist() == [0, 0, 0]        # another species
    assert shared.loc["c"].tolist() == [0, 0, 0]        # never compared with itself
    with pytest.raises(ValueError, match="'zz' is not in the promoter table"):
        S.shared_dna(prom, ["zz"], ["a"])


def test_overlapping_windows_end_in_one_group():
    prom = windows_table([("left", "s", "c", 0, 1000), ("right", "s", "c", 201, 1201),
                          ("touch", "s", "c", 1201, 2000), ("far", "s", "c", 5000, 6000),
                          ("other_chrom", "s", "c9", 500, 1500)])
    groups = S.cluster(prom, threads=1).set_index("gene_id")
    assert groups.loc["left", "cluster_id"] == groups.loc["right", "cluster_id"]
    assert groups.loc["left", "promoter_cluster"] != groups.loc["right", "promoter_cluster"]
    assert groups.loc["left", "dna_group"] == groups.loc["right", "dna_group"]
    assert groups["cluster_id"].nunique() == 4          # touch, far, other_chrom stay apart
    apart = S.cluster(prom, windows=False, threads=1)
    assert apart["cluster_id"].nunique() == 5
    with pytest.raises(ValueError, match="start"):
        S.cluster(prom.drop(columns="start"), threads=1)


# --- proteins to genes ---------------------------------------------------------------------------

@pytest.fixture()
def protein_files(tmp_path):
    rng = np.random.default_rng(3)
    cds = {"P1": "ATG" + random_dna(rng, 297), "P2": "ATG" + random_dna(rng, 297)}
    pseudo = "ATGGCT" + "TAA" + "GGC" * 30 + "TAG"
    prot = tmp_path / "proteins.faa.gz"
    with gzip.open(prot, "wt") as fh:
        fh.write(f">P1 some protein [Species one]\n{S.translate(cds['P1'])}*\n")
        fh.write(f">P2 isoform\n{S.translate(cds['P2'])}\n")
        fh.write(">P9 lost protein\nMKV\n")                      # no CDS maps it
        fh.write(">E1_P001 pep chromosome:x:1:2:3:1 gene:G5 transcript:E1_T001\nMSTLK\n")
    cds_file = tmp_path / "cds.fna"
    cds_file.write_text(
        f">lcl|c_cds_P1_1 [locus_tag=G1] [protein_id=P1] [gbkey=CDS]\n{cds['P1']}\n"
        f">lcl|c_cds_P2_2 [gene=ABC] [locus_tag=G2] [protein_id=P2] [gbkey=CDS]\n{cds['P2']}\n"
        f">lcl|c_cds_G3_3 [locus_tag=G3] [pseudo=true] [gbkey=CDS]\n{pseudo}\n")
    return {"proteins": prot, "cds": cds_file}


def test_proteins_map_to_genes_and_unmatched_ones_are_counted(protein_files):
    prot = S.read_proteins({"sp": protein_files}).set_index("protein_id")
    assert prot.loc["P1", "gene_id"] == "G1" and prot.loc["P2", "gene_id"] == "G2"
    assert prot.loc["E1_P001", "gene_id"] == "G5"                  # Ensembl header
    assert prot.loc["P9", "gene_id"] == ""
    pseudo = prot.loc["lcl|c_cds_G3_3"]                            # no protein_id: the CDS id
    assert pseudo["gene_id"] == "G3" and pseudo["origin"] == "translated"
    assert pseudo["sequence"] == "MAX" + "G" * 30                  # internal stop as X
    assert not prot.loc["P1", "sequence"].endswith("*")
    promoters = pd.DataFrame({"gene_id": ["G1", "G3", "G4"], "species": "sp"})
    table, report = S.gene_proteins(prot.reset_index(), promoters)
    assert list(table["gene_id"]) == ["G1", "G3"]
    row = report.set_index("species").loc["sp"]
    assert row["proteins"] == 5 and row["translated"] == 1 and row["without_gene"] == 1
    assert row["gene_not_in_promoters"] == 2                       # P2 (G2) and G5
    assert row["genes_not_in_promoters"] == 2
    assert row["genes_with_protein"] == 2 and row["genes_without_protein"] == 1


def test_proteins_naming_no_promoter_gene_raise_with_examples(protein_files):
    prot = S.read_proteins({"sp": protein_files})
    promoters = pd.DataFrame({"gene_id": ["AT1G01010"], "species": "sp"})
    with pytest.raises(ValueError, match="none of the 5 proteins of 'sp'.*AT1G01010"):
        S.gene_proteins(prot, promoters)


def test_longest_protein_stands_for_its_gene():
    prot = pd.DataFrame({"species": "sp", "protein_id": ["a", "b", "c"],
                         "gene_id": ["G1", "G1", "G2"], "origin": "protein",
                         "length": [3, 5, 4], "sequence": ["MKV", "MKVLA", "MSTV"]})
    table, _ = S.gene_proteins(prot, pd.DataFrame({"gene_id": ["G2", "G1"], "species": "sp"}))
    assert list(table["gene_id"]) == ["G2", "G1"] and list(table["protein_id"]) == ["c", "b"]


def test_protein_sources_resolve_and_explain(tmp_path):
    with pytest.warns(CornlibWarning, match=r"no protein source for species \['nowhere'\]"):
        found = S.resolve_sources(None, ["athaliana", "nowhere"])
    assert set(found) == {"athaliana"} and set(found["athaliana"]) == {"proteins", "cds"}
    with pytest.raises(ValueError, match="does not hold"):
        S.resolve_sources({"zmays": "x.fa"}, ["athaliana"])
    with pytest.raises(FileNotFoundError, match="missing.fa"):
        S.resolve_sources({"athaliana": str(tmp_path / "missing.fa")}, ["athaliana"])
    with pytest.raises(ValueError, match="'proteins' and/or 'cds'"):
        S.resolve_sources({"athaliana": {"pep": "x"}}, ["athaliana"])


# --- families --------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def family_case():
    """Genes a/b: one protein family, unrelated promoters; c: another protein; d: no protein."""
    rng = np.random.default_rng(5)
    base = random_protein(rng, 300)
    prom = windows_table([("a", "s1", "c", 0, 600), ("b", "s2", "c", 0, 600),
                          ("c", "s1", "c", 5000, 5600), ("d", "s1", "c", 9000, 9600)])
    prot = pd.DataFrame({"gene_id": ["a", "b", "c"], "species": ["s1", "s2", "s1"],
                         "protein_id": ["pa", "pb", "pc"],
                         "sequence": [base, mutate_protein(rng, base, 0.3),
                                      random_protein(rng, 300)]})
    return prom, prot, S.gene_families(prot, 0.5, 0.8, threads=1)


def test_a_protein_family_joins_genes_with_dissimilar_promoters(family_case):
    prom, prot, fam = family_case
    f = fam.set_index("gene_id")
    assert f.loc["a", "family_id"] == f.loc["b", "family_id"] != f.loc["c", "family_id"]
    assert f.loc["a", "family_size"] == 2 and f.loc["a", "family_species"] == 2
    groups = S.cluster(prom, families=fam, threads=1).set_index("gene_id")
    assert groups.loc["a", "cluster_id"] == groups.loc["b", "cluster_id"]
    assert groups.loc["a", "promoter_cluster"] != groups.loc["b", "promoter_cluster"]
    assert groups.loc["d", "family_id"] == -1 and groups["cluster_id"].nunique() == 3
    steps = S.evidence(groups)["groups"].tolist()
    assert steps == [4, 4, 3]
    assert S.cluster_summary(groups)["families"] == 2
    strict = S.gene_families(prot, 0.9, 0.8, threads=1).set_index("gene_id")   # 70 % identical
    assert strict.loc["a", "family_id"] != strict.loc["b", "family_id"]


def test_bad_proteins_raise_naming_the_protein():
    with pytest.raises(ValueError, match="'x'.*'1'"):
        S.protein_search(pd.Series({"x": "MK1V"}), pd.Series({"y": "MKV"}), threads=1)


# --- the audit at several thresholds -------------------------------------------------------------

@pytest.fixture(scope="module")
def audit_case():
    """One training promoter X and test promoters sharing 100 %, ~58 %, ~33 % and 0 % of it."""
    rng = np.random.default_rng(9)
    x = random_dna(rng, 600)
    rows = [("train_x", x, 0), ("train_y", random_dna(rng, 600), 10_000),
            ("t_full", x[:300] + "A" + x[301:], 20_000),
            ("t_half", x[:350] + random_dna(rng, 250), 30_000),
            ("t_third", random_dna(rng, 400) + x[400:], 40_000),
            ("t_none", random_dna(rng, 600), 10_300)]     # shares 300 bp of train_y's window
    prom = pd.DataFrame({"gene_id": [r[0] for r in rows], "species": "sp", "chrom": "c",
                         "start": [r[2] for r in rows],
                         "end": [r[2] + len(r[1]) for r in rows],
                         "sequence": [r[1] for r in rows]})
    split = pd.DataFrame({"gene_id": prom["gene_id"], "species": "sp",
                          "cluster_id": range(len(prom)),
                          "split": ["train", "train", "test", "test", "test", "test"],
                          "fold": [0, 0, -1, -1, -1, -1]})
    base = random_protein(rng, 200)
    prot = pd.DataFrame({"gene_id": ["train_x", "train_y", "t_none", "t_half"],
                         "species": "sp", "protein_id": ["p1", "p2", "p3", "p4"],
                         "sequence": [base, random_protein(rng, 200),
                                      mutate_protein(rng, base, 0.2), random_protein(rng, 250)]})
    return prom, split, prot


def test_audit_table_counts_each_threshold(audit_case):
    prom, split, prot = audit_case
    result = S.audit(prom, split, proteins=prot, threads=1)
    near = result.nearest.set_index("gene_id")
    assert near["similar_cov80"].to_dict() == {"t_full": True, "t_half": False,
                                               "t_third": False, "t_none": False}
    assert near["similar_cov50"].sum() == 2 and near["similar_cov30"].sum() == 3
    assert near.loc["t_none", "shared_bp"] == 300
    assert near.loc["t_none", "family_match"] == "train_x"
    assert result.summary["family_pairs_across_splits"] == 1
    assert result.summary["shared_dna_bp"] == 300
    table = S.audit_table({"ours": result})
    assert table["ours"].tolist() == [4, 1, 2, 3, 1, 1]
    assert table.index[0] == "test promoters" and "shorter promoter" in table.index[1]
    assert result.residual() == 3
    assert S.split_name(result) == "homology- and family-aware"
    glued = S.glue_values(result, "ours")
    assert glued["ours_cov50"] == 2 and glued["ours_shared_bp"] == 300
    assert glued["ours_family"] == 1 and glued["ours_test"] == 4
    percent = S.audit_table({"ours": result}, percent=True)["ours"]
    assert percent.iloc[2] == pytest.approx(50.0)
    assert "same protein family" in S.leakage_statement(result)


def test_a_clean_audit_may_be_called_leakage_free(audit_case):
    prom, split, prot = audit_case
    clean = split[split["gene_id"].isin(["train_x", "t_none"])].reset_index(drop=True)
    result = S.audit(prom, clean, threads=1)
    assert result.residual() == 0
    assert S.split_name(result, families=False) == "leakage-free"
    assert S.split_name(result) == "homology- and family-aware"   # the family check was not run


def test_cross_species_audit_holds_one_species_out(family_case):
    prom, prot, fam = family_case
    groups = S.cluster(prom, families=fam, threads=1)
    result = S.cross_species(prom, groups, "s2", proteins=prot, threads=1)
    assert result.summary["holdout"] == "species:s2"
    assert result.summary["test_promoters"] == 1
    assert result.summary["group_mates_elsewhere"] == 1           # a, b's family mate
    assert S.glue_values(result, "x")["x_family"] == 1
    with pytest.raises(ValueError, match="another species"):
        S.cross_species(prom, groups, "nope", threads=1)


def test_neighbour_correlation_scores_the_nearest_training_promoter():
    rng = np.random.default_rng(2)
    genes = [f"g{i}" for i in range(40)]
    values = rng.normal(size=(40, 2))
    targets = pd.DataFrame({"gene_id": genes, "t1": values[:, 0], "t2": values[:, 1]})
    near = pd.DataFrame({"gene_id": genes[:20], "match_id": genes[20:]})
    copied = targets.copy()
    copied.iloc[:20, 1:] = values[20:]                     # each test gene as its neighbour
    same = S.Audit(nearest=near, duplicates=pd.DataFrame())
    lonely = S.Audit(nearest=near.assign(match_id=""), duplicates=pd.DataFrame())
    table = S.neighbour_correlation({"copy": same, "none": lonely}, copied)
    assert table.loc["copy", "pairs"] == 20 and table.loc["copy", "mean_r"] == pytest.approx(1)
    assert table.loc["none", "pairs"] == 0 and np.isnan(table.loc["none", "mean_r"])
    assert abs(S.neighbour_correlation({"x": same}, targets).loc["x", "mean_r"]) < 0.5
