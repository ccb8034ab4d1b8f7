"""Tests of cornlib.split: clustering on both strands, cluster assignment, leakage audits."""

import stat

import numpy as np
import pandas as pd
import pytest

from cornlib import CornlibWarning, sequence
from cornlib import split as S


def random_dna(rng, n):
    return "".join(rng.choice(list("ACGT"), size=n))


def mutate(rng, seq, fraction):
    """Substitute ``fraction`` of the positions (each by a different base)."""
    s = list(seq)
    for i in rng.choice(len(s), size=int(fraction * len(s)), replace=False):
        s[i] = rng.choice([b for b in "ACGT" if b != s[i]])
    return "".join(s)


def table(seqs, species="sp1"):
    """A promoter table whose windows lie 10 kb apart (no shared DNA)."""
    start = 10_000 * np.arange(len(seqs))
    return pd.DataFrame({"gene_id": list(seqs), "species": species, "chrom": "chr1",
                         "start": start, "end": start + [len(v) for v in seqs.values()],
                         "sequence": list(seqs.values())})


def fake_clusters(n_clusters=400, seed=0):
    """A cluster table without sequences: two species, two chromosomes, sizes 1..12."""
    rng = np.random.default_rng(seed)
    sizes = np.minimum(rng.geometric(0.5, n_clusters), 12)
    cid = np.repeat(np.arange(n_clusters), sizes)
    n = len(cid)
    return pd.DataFrame({"gene_id": [f"g{i}" for i in range(n)],
                         "species": np.where(np.arange(n) % 3 == 0, "sp2", "sp1"),
                         "chrom": np.where(np.arange(n) % 2 == 0, "c1", "c2"),
                         "cluster_id": cid})


# --- clustering (MMseqs2) ---------------------------------------------------------------------

@pytest.fixture(scope="module")
def synthetic():
    rng = np.random.default_rng(7)
    base = {f"u{i}": random_dna(rng, 600) for i in range(12)}
    seqs = dict(base)
    seqs["rc_of_u0"] = sequence.reverse_complement(base["u0"])
    seqs["rc_mut_u1"] = sequence.reverse_complement(mutate(rng, base["u1"], 0.08))
    seqs["inside_u2"] = base["u2"][150:350]                          # 200 bp inside 600 bp
    seqs["rc_inside_u3"] = sequence.reverse_complement(base["u3"][300:500])
    seqs["half_u4"] = base["u4"][:300] + random_dna(rng, 300)        # 50 % overlap: apart
    return seqs


@pytest.fixture(scope="module")
def synthetic_clusters(synthetic):
    return S.cluster(table(synthetic), 0.8, 0.8, threads=1).set_index("gene_id")["cluster_id"]


def test_reverse_complement_duplicates_share_a_cluster(synthetic_clusters):
    c = synthetic_clusters
    assert c["rc_of_u0"] == c["u0"]
    assert c["rc_mut_u1"] == c["u1"]


def test_contained_short_promoter_joins_its_container(synthetic_clusters):
    c = synthetic_clusters
    assert c["inside_u2"] == c["u2"]
    assert c["rc_inside_u3"] == c["u3"]


def test_unrelated_and_half_overlapping_promoters_stay_apart(synthetic_clusters):
    c = synthetic_clusters
    assert c[[f"u{i}" for i in range(12)]].nunique() == 12
    assert c["half_u4"] != c["u4"]


def test_cluster_table_columns_and_representative(synthetic):
    out = S.cluster(table(synthetic), refine=False, threads=1)
    assert list(out["gene_id"]) == list(synthetic)
    assert {"promoter_cluster", "dna_group", "family_id", "linclust_id"} <= set(out.columns)
    assert (out["family_id"] == -1).all()
    u2 = out[out["cluster_id"] == out.loc[out["gene_id"] == "u2", "cluster_id"].iat[0]]
    assert set(u2["representative"]) == {"u2"}            # the longest member
    assert (u2["cluster_size"] == 2).all()


def test_search_reports_reverse_strand_and_coverage(synthetic):
    q = {"q": synthetic["rc_inside_u3"]}
    hits = S.search(q, {"t": synthetic["u3"]}, threads=1)
    assert len(hits) == 1
    h = hits.iloc[0]
    assert h["strand"] == "-" and h["identity"] == pytest.approx(1.0)
    assert h["query_cov"] == pytest.approx(1.0, abs=0.01)
    assert h["target_cov"] == pytest.approx(200 / 600, abs=0.01)


def test_mmseqs_failure_raises_with_its_output(tmp_path, monkeypatch):
    fake = tmp_path / "mmseqs"
    fake.write_text("#!/bin/sh\necho 'segfault in prefilter' >&2\nexit 3\n")
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("MMSEQS2_PATH", str(fake))
    with pytest.raises(S.MMseqsError, match="segfault in prefilter"):
        S.linclust(["ACGT" * 50, "TTGA" * 50], threads=1)


def test_bad_sequences_raise_naming_the_gene():
    with pytest.raises(ValueError, match="g2"):
        S.as_sequences({"g1": "ACGT", "g2": "ACGU"})
    with pytest.raises(ValueError, match="more than once"):
        S.as_sequences(pd.Series(["ACGT", "ACGA"], index=["g1", "g1"]))


# --- assignment --------------------------------------------------------------------------------

def test_assign_keeps_clusters_whole_and_respects_fractions():
    clusters = fake_clusters()
    fractions = {"train": 0.7, "valid": 0.1, "test": 0.2}
    out = S.assign(clusters, fractions, seed=3, n_folds=4)
    S.validate(out)
    assert (out.groupby("cluster_id")["split"].nunique() == 1).all()
    counts = out["split"].value_counts()
    for name, f in fractions.items():
        assert abs(counts[name] - f * len(out)) <= 12     # within one cluster of the target
    folds = out.loc[out["split"] == "train"]
    assert (folds.groupby("cluster_id")["fold"].nunique() == 1).all()
    assert set(folds["fold"]) == {0, 1, 2, 3}
    assert (out.loc[out["split"] != "train", "fold"] == -1).all()


def test_fractions_hold_with_large_groups():
    """Family-sized groups (up to 80 promoters) still land within one group of each target."""
    rng = np.random.default_rng(4)
    sizes = np.r_[np.minimum(rng.geometric(0.4, 3000), 20), [80, 60, 60, 40]]
    clusters = pd.DataFrame({"gene_id": [f"g{i}" for i in range(sizes.sum())], "species": "sp",
                             "cluster_id": np.repeat(np.arange(len(sizes)), sizes)})
    out = S.assign(clusters, None, seed=0, n_folds=5)
    counts = out["split"].value_counts()
    for name, f in S.DEFAULT_FRACTIONS.items():
        assert abs(counts[name] - f * len(out)) <= 80
    assert S.fold_sizes(out)["promoters"].std() < 80


def test_assign_is_seeded():
    clusters = fake_clusters()
    a = S.assign(clusters, None, seed=1, n_folds=3)
    b = S.assign(clusters, None, seed=1, n_folds=3)
    c = S.assign(clusters, None, seed=2, n_folds=3)
    pd.testing.assert_frame_equal(a, b)
    assert not a["split"].equals(c["split"])


def test_species_holdout_makes_the_test_set():
    clusters = fake_clusters()
    with pytest.warns(CornlibWarning, match="share a cluster"):
        out = S.assign(clusters, None, seed=0, holdout="species:sp2")
    assert (out.loc[out["species"] == "sp2", "split"] == "test").all()
    held = set(out.loc[out["species"] == "sp2", "cluster_id"])
    assert set(out.loc[out["split"] == "test", "cluster_id"]) == held
    rest = out[out["split"] != "test"]["split"].value_counts()
    assert rest["train"] / (rest["train"] + rest["valid"]) == pytest.approx(8 / 9, abs=0.03)


def test_chromosome_holdout_and_bad_specs():
    clusters = fake_clusters()
    with pytest.warns(CornlibWarning):
        out = S.assign(clusters, None, seed=0, holdout="chrom:sp1:c1")
    named = (out["species"] == "sp1") & (clusters["chrom"] == "c1")
    assert (out.loc[named, "split"] == "test").all()
    with pytest.raises(ValueError, match="no promoter of species"):
        S.assign(clusters, None, seed=0, holdout="species:nope")
    with pytest.raises(ValueError, match="chromosomes"):
        S.assign(clusters, None, seed=0, holdout="chrom:sp1:c9")
    with pytest.raises(ValueError, match="not understood"):
        S.assign(clusters, None, seed=0, holdout="sp1")


def test_empty_split_or_fold_raises():
    tiny = pd.DataFrame({"gene_id": ["a", "b", "c"], "species": "sp", "cluster_id": [0, 1, 2]})
    with pytest.raises(ValueError, match="got no promoter"):
        S.assign(tiny, None, seed=0)
    with pytest.raises(ValueError, match="fold .* is empty"):
        S.assign(fake_clusters(20), None, seed=0, n_folds=50)
    bad = S.assign(fake_clusters(), None, seed=0, n_folds=3)
    bad.loc[bad["fold"] == 1, "fold"] = 2
    with pytest.raises(ValueError, match="fold 1 is empty"):
        S.validate(bad)
    with pytest.raises(ValueError, match="sum to"):
        S.assign(fake_clusters(), {"train": 0.8, "valid": 0.3, "test": 0.1}, seed=0)


def test_random_split_ignores_clusters():
    clusters = fake_clusters()
    out = S.random_split(clusters, None, seed=0, n_folds=2)
    assert (out["cluster_id"] == clusters["cluster_id"]).all()
    assert (out.groupby("cluster_id")["split"].nunique() > 1).any()
    with pytest.raises(ValueError, match="spans several splits"):
        S.validate(out)


# --- audits ------------------------------------------------------------------------------------

def test_duplicates_counts_exact_and_reverse_complement_copies():
    a, b = "AAAACCCGGT" * 20, "ACGTTTGCAA" * 20
    prom = table({"x1": a, "x2": a, "y1": b, "y2": sequence.reverse_complement(b), "z": "GATTACA" * 30})
    split = pd.DataFrame({"gene_id": ["x1", "x2", "y1", "y2", "z"], "species": "sp1",
                          "cluster_id": [0, 0, 1, 1, 2],
                          "split": ["train", "test", "train", "valid", "test"], "fold": -1})
    d = S.duplicates(prom, split).set_index("gene_id")
    assert set(d.index) == {"x1", "x2", "y1", "y2"}
    assert d.loc["x2", "exact_elsewhere"] == 1 and d.loc["x2", "rc_elsewhere"] == 0
    assert d.loc["y2", "rc_elsewhere"] == 1 and d.loc["y2", "exact_elsewhere"] == 0


def test_corpus_overlap_finds_exact_and_contained_copies(synthetic):
    rng = np.random.default_rng(11)
    test = {"t0": synthetic["u5"], "t1": synthetic["u6"], "t2": synthetic["u7"],
            "t3": synthetic["u8"]}
    corpus = {"c0": synthetic["u5"], "c1": sequence.reverse_complement(synthetic["u6"]),
              "c2": synthetic["u7"][100:400], "c3": random_dna(rng, 600),
              "t3": random_dna(rng, 600)}   # the same id as a test sequence is no match
    r = S.corpus_overlap(corpus, test, threads=1)
    assert r["test_exact_in_corpus"] == 2 and r["corpus_exact_in_test"] == 2
    assert r["test_similar_in_corpus"] == 3 and r["corpus_similar_to_test"] == 3
    assert S.corpus_overlap(corpus, test, similarity=False)["test_similar_in_corpus"] is None


@pytest.fixture(scope="module")
def real_slice():
    """The first 250 promoters of each embedded species (collinear, rich in orthologs)."""
    from cornlib.data import promoters, sources

    genomes = sources.resolve("embedded", ["athaliana", "aarenosa"])
    table, _ = promoters.extract_genomes(genomes)
    return table.groupby("species", sort=False).head(250).reset_index(drop=True)


@pytest.fixture(scope="module")
def real_families(real_slice):
    """The slice's genes, their embedded proteins, and the protein families."""
    found = S.resolve_sources(None, ["athaliana", "aarenosa"])
    gene_proteins, report = S.gene_proteins(S.read_proteins(found), real_slice)
    return gene_proteins, report, S.gene_families(gene_proteins)


def test_no_test_promoter_is_similar_to_a_training_promoter(real_slice, real_families):
    gene_proteins, report, families = real_families
    assert (report["genes_with_protein"] == 250).all()             # protein-coding genes
    assert (report["gene_not_in_promoters"] > 0).all()             # counted, not dropped
    clusters = S.cluster(real_slice, 0.8, 0.8, families=families)
    steps = S.evidence(clusters)["groups"]
    assert steps.is_monotonic_decreasing and steps.iloc[-1] < steps.iloc[0]
    fractions = {"train": 0.6, "valid": 0.1, "test": 0.3}
    split = S.assign(clusters, fractions, seed=0, n_folds=2)
    seqs = S.promoter_sequences(real_slice)
    train = seqs[split.loc[split["split"] == "train", "gene_id"]]
    test = seqs[split.loc[split["split"] == "test", "gene_id"]]
    hits = S.search(test, train)
    leaks = hits[(hits["identity"] >= 0.8) & (hits["query_cov"] >= 0.8)]
    assert leaks.empty, f"{leaks['query_id'].nunique()} test promoters leak:\n{leaks.head()}"
    contained = hits[(hits["identity"] >= 0.8) & (hits["target_cov"] >= 0.8)]
    assert contained.empty
    result = S.audit(real_slice, split, proteins=gene_proteins)
    report = result.summary
    assert report["leaks"] == 0 and report["clusters_across_splits"] == 0
    assert report["exact_duplicates_across_splits"] == report["rc_duplicates_across_splits"] == 0
    counts = S.audit_table({"ours": result})["ours"]
    assert counts.iloc[1] == 0                                       # 80/80
    assert counts.iloc[1] <= counts.iloc[2] <= counts.iloc[3]        # looser coverage, more
    assert counts.iloc[4] == 0 and counts.iloc[5] == 0              # shared DNA, family
    # the checks can fail: the same slice split gene by gene leaks on every count
    naive = S.audit(real_slice, S.random_split(clusters, fractions, seed=0, n_folds=2),
                    proteins=gene_proteins)
    assert (S.audit_table({"naive": naive})["naive"].iloc[1:] > 0).all()


def test_nearest_identity_figure_handles_splits_without_covering_hits():
    from cornlib.plots import distributions

    near = pd.DataFrame({"gene_id": ["a", "b"], "n_hits": [1, 0], "identity": [0.9, 0.0],
                         "coverage": [0.3, 0.0], "identity_at_coverage": [0.0, 0.0],
                         "similar": [False, False]})
    leaky = near.assign(identity_at_coverage=[0.95, 0.0], similar=[True, False])
    fig, axes = distributions.nearest_identity({"ours": near, "naive": leaky})
    labels = [t.get_text() for t in axes[0].get_legend().get_texts()]
    assert labels[0].startswith("ours: 0 of 2 leak") and labels[1].startswith("naive: 1 of 2")
    clusters = pd.DataFrame({"cluster_id": [0, 0, 1], "species": ["x", "y", "x"]})
    fig, ax = distributions.cluster_sizes(clusters)
    assert "2 clusters of 3 promoters" in ax.get_title()
