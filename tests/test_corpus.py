"""The pretraining corpus: sources, held-out clusters, genome windows, validation and overlap."""

import numpy as np
import pandas as pd
import pytest

from cornlib import CornlibWarning, corpus


@pytest.fixture()
def promoters():
    rng = np.random.default_rng(0)
    seqs = ["".join(rng.choice(list("ACGT"), 50)) for _ in range(8)]
    return pd.DataFrame({"gene_id": [f"g{i}" for i in range(8)],
                         "species": ["sp1"] * 4 + ["sp2"] * 4, "sequence": seqs})


@pytest.fixture()
def split():
    # g0/g1 share cluster 0 (g1 is test); g2 is valid alone; g3 and g4 share a train-only cluster
    return pd.DataFrame({"gene_id": [f"g{i}" for i in range(8)],
                         "species": ["sp1"] * 4 + ["sp2"] * 4,
                         "cluster_id": [0, 0, 1, 2, 2, 3, 4, 5],
                         "split": ["train", "test", "valid", "train", "train", "train", "test",
                                   "train"],
                         "fold": [0, -1, -1, 1, 1, 0, -1, 1]})


def test_build_excludes_valid_test_and_their_cluster_mates(promoters, split):
    out = corpus.build(promoters, split)
    assert sorted(out["seq_id"]) == ["g3", "g4", "g5", "g7"]
    reasons = corpus.eval_exclusion(split).set_index("gene_id")["reason"]
    assert reasons["g0"] == "cluster mate" and reasons["g1"] == "test"


def test_build_keeps_evaluation_promoters_when_asked_and_overlap_reports_them(promoters, split):
    out = corpus.build(promoters, split, exclude_eval=False)
    assert len(out) == 8
    report = corpus.overlap(out, promoters, split)
    assert report["test"] == {"genes": 2, "genes_in_corpus": 2, "cluster_in_corpus": 2,
                              "exact_sequence_in_corpus": 2}
    assert corpus.overlap(corpus.build(promoters, split), promoters, split)["test"][
        "genes_in_corpus"] == 0


def test_overlap_finds_a_test_sequence_copied_under_another_id(promoters, split):
    prom = promoters.copy()
    prom.loc[prom["gene_id"] == "g7", "sequence"] = corpus.reverse_complement(
        prom.loc[prom["gene_id"] == "g6", "sequence"].iloc[0])
    report = corpus.overlap(corpus.build(prom, split), prom, split)
    assert report["test"]["genes_in_corpus"] == 0
    assert report["test"]["exact_sequence_in_corpus"] == 1


def test_build_normalizes_soft_masked_and_iupac_letters(promoters, split):
    prom = promoters.assign(sequence=promoters["sequence"].str.lower())
    prom.loc[3, "sequence"] = "acgRYt"
    out = corpus.build(prom, split).set_index("seq_id")
    assert out.loc["g3", "sequence"] == "ACGNNT"
    assert out["sequence"].str.fullmatch("[ACGTN]+").all()


def test_build_leaves_the_callers_table_alone(promoters, split):
    before = promoters.copy()
    corpus.build(promoters.assign(sequence=promoters["sequence"].str.lower()), split)
    corpus.build(promoters, split)
    pd.testing.assert_frame_equal(promoters, before)


@pytest.mark.parametrize("bad,match", [("", "'g2' is empty"), ("ACGZ", "'g2' has 'Z'")])
def test_bad_promoter_sequences_name_the_gene(promoters, split, bad, match):
    prom = promoters.copy()
    prom.loc[2, "sequence"] = bad
    with pytest.raises(ValueError, match=match):
        corpus.build(prom, split, exclude_eval=False)


def test_repeated_gene_ids_are_an_error(promoters):
    with pytest.raises(ValueError, match="repeats gene_id 'g0'"):
        corpus.from_promoters(pd.concat([promoters, promoters.head(1)]))


def test_exclusion_without_a_split_says_what_to_do(promoters):
    with pytest.raises(ValueError, match="split.parquet"):
        corpus.build(promoters)


def test_promoters_missing_from_the_split_warn(promoters, split):
    with pytest.warns(CornlibWarning, match="not in the split"):
        out = corpus.build(promoters, split[split["gene_id"] != "g7"])
    assert "g7" in set(out["seq_id"])


def _genomes():
    rng = np.random.default_rng(3)
    chrom = "".join(rng.choice(list("acgt"), 3000)) + "N" * 2000 + "".join(rng.choice(list("ACGT"), 3000))
    return {"toy": {"c1": chrom, "c2": "".join(rng.choice(list("ACGT"), 500))}}


def test_genome_windows_are_seeded_filtered_and_stranded():
    genomes = _genomes()
    a = corpus.genome_windows(genomes, 40, 200, seed=5, max_n_fraction=0.1)
    b = corpus.genome_windows(genomes, 40, 200, seed=5, max_n_fraction=0.1)
    pd.testing.assert_frame_equal(a, b)
    assert len(a) == 40 and a["sequence"].str.len().eq(200).all()
    assert (a["sequence"].str.count("N") <= 20).all()
    assert set(a["source"]) == {"genome_window"} and set(a["species"]) == {"toy"}
    for sid, seq in zip(a["seq_id"], a["sequence"]):
        _, chrom, rest = sid.split(":")
        start, end = map(int, rest[:-3].split("-"))
        ref = genomes["toy"][chrom][start:end].upper()
        assert seq == (corpus.reverse_complement(ref) if rest.endswith("(-)") else ref)
    assert {sid[-2] for sid in a["seq_id"]} == {"+", "-"}
    assert not corpus.genome_windows(genomes, 40, 200, seed=6).equals(a)


def test_genome_windows_warn_when_too_few_pass_the_n_filter():
    genomes = {"nn": {"c": "N" * 1000}}
    with pytest.warns(CornlibWarning, match="only 0 of 5"):
        out = corpus.genome_windows(genomes, 5, 100, seed=0, max_n_fraction=0.1, max_tries=3)
    assert len(out) == 0


def test_windows_join_the_corpus(promoters, split):
    win = corpus.genome_windows(_genomes(), 5, 100, seed=0).assign(similar_to=None)
    out = corpus.build(promoters, split, windows=win)
    assert out["source"].value_counts().to_dict() == {"promoter": 4, "genome_window": 5}


def test_unscreened_windows_warn_when_excluding(promoters, split):
    win = corpus.genome_windows(_genomes(), 5, 100, seed=0)
    with pytest.warns(CornlibWarning, match="screen_windows"):
        corpus.build(promoters, split, windows=win)


def test_screen_windows_drops_a_window_holding_a_test_promoter(split):
    rng = np.random.default_rng(11)
    seqs = ["".join(rng.choice(list("ACGT"), 300)) for _ in range(8)]
    prom = pd.DataFrame({"gene_id": [f"g{i}" for i in range(8)], "species": "sp",
                         "sequence": seqs})
    copy = "".join(rng.choice(list("ACGT"), 100)) + corpus.reverse_complement(seqs[6]) + \
        "".join(rng.choice(list("ACGT"), 100))
    other = "".join(rng.choice(list("ACGT"), 500))
    win = pd.DataFrame({"seq_id": ["w1", "w2"], "species": "toy", "source": "genome_window",
                        "sequence": [copy, other]})
    screened = corpus.screen_windows(win, prom, split, threads=1)
    assert screened["similar_to"].tolist() == ["g6", None]
    assert "similar_to" not in win.columns
    kept = corpus.build(prom, split, windows=screened)
    assert "w1" not in set(kept["seq_id"]) and "w2" in set(kept["seq_id"])
    assert {"w1", "w2"} <= set(corpus.build(prom, split, exclude_eval=False, windows=screened)["seq_id"])


def test_write_and_read_round_trip(promoters, split, tmp_path):
    out = corpus.build(promoters, split)
    corpus.write(tmp_path / "corpus.parquet", out)
    pd.testing.assert_frame_equal(corpus.read(tmp_path / "corpus.parquet"), out)


def test_read_missing_corpus_says_how_to_make_it(tmp_path):
    with pytest.raises(FileNotFoundError, match="05_tokenizer"):
        corpus.read(tmp_path / "corpus.parquet")


def test_validate_rejects_unnormalized_and_empty_sequences(promoters, split):
    out = corpus.build(promoters, split)
    with pytest.raises(ValueError, match="'g3' of the corpus is not normalized"):
        corpus.validate(out.assign(sequence=out["sequence"].str.lower()))
    with pytest.raises(ValueError, match="'g3' is empty"):
        corpus.validate(out.assign(sequence=[""] * len(out)))
    with pytest.raises(ValueError, match="no sequences"):
        corpus.validate(out.head(0))
