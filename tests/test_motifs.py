"""cornlib.motifs: JASPAR loading, log-odds, thresholds and the vectorised scanners."""

import itertools

import numpy as np
import pytest

from cornlib import motifs

COMPLEMENT = str.maketrans("ACGTN", "TGCAN")


def random_motif(rng, length, matrix_id):
    counts = rng.dirichlet(np.full(4, 0.5), size=length) * 20
    return motifs.Motif(matrix_id, matrix_id, "", counts)


def naive_best(seq, motif, background):
    """Best score over windows and strands by explicit loops (N scores the column mean)."""
    lo = motif.log_odds(background)
    cols = {b: lo[:, i] for i, b in enumerate("ACGT")}
    best = -np.inf
    for s in (seq.upper(), seq.upper().translate(COMPLEMENT)[::-1]):
        for i in range(len(s) - motif.length + 1):
            window = s[i:i + motif.length]
            total = sum(cols[b][k] if b in cols else lo[k].mean() for k, b in enumerate(window))
            best = max(best, total)
    return best if np.isfinite(best) else np.nan


def test_load_plant_motifs_gives_the_805_jaspar2024_core_plant_matrices():
    found = motifs.load_plant_motifs()
    assert len(found) == 805
    assert len({m.matrix_id for m in found}) == 805
    assert all(m.counts.ndim == 2 and m.counts.shape[1] == 4 and (m.counts >= 0).all() for m in found)
    table = motifs.motif_table(found)
    assert table["information_content"].between(0, 2 * table["length"]).all()


def test_load_plant_motifs_rejects_a_release_pyjaspar_does_not_ship():
    with pytest.raises(ValueError, match="not shipped"):
        motifs.load_plant_motifs("JASPAR1999")


def test_log_odds_come_from_probabilities_that_sum_to_one():
    m = motifs.from_consensus("TATAWAWR", "x", "tata")
    bg = [0.3, 0.2, 0.2, 0.3]
    p = m.probabilities(bg)
    np.testing.assert_allclose(p.sum(axis=1), 1.0)
    np.testing.assert_allclose(m.log_odds(bg), np.log2(p / np.array(bg)))
    assert p[0, 3] > 0.8 and p[4, 0] == pytest.approx(p[4, 3])  # T; W = A or T


@pytest.mark.parametrize("n_motifs", [3, 20], ids=["lookup-kernel", "blas-kernel"])
def test_max_scores_match_a_naive_scan(n_motifs):
    rng = np.random.default_rng(1)
    found = [random_motif(rng, int(rng.integers(9, 13)), f"m{i}") for i in range(n_motifs)]
    seqs = ["".join(rng.choice(list("ACGT"), size=int(n))) for n in rng.integers(20, 120, size=6)]
    seqs += ["ACGTNNNNacgtTTGACNNACG", "ACG"]  # N, lower case, and shorter than every motif
    bg = [0.3, 0.2, 0.2, 0.3]
    got = motifs.max_scores(seqs, found, background=bg)
    want = np.array([[naive_best(s, m, bg) for m in found] for s in seqs])
    assert got.shape == (len(seqs), n_motifs)
    np.testing.assert_allclose(got, want, atol=13 * motifs.RESOLUTION / 2)  # rounded columns
    assert np.isnan(got[-1]).all()


def test_max_scores_by_strand_take_the_reverse_complement():
    rng = np.random.default_rng(2)
    m = random_motif(rng, 8, "m")
    seqs = ["".join(rng.choice(list("ACGT"), size=60)) for _ in range(5)]
    rc = [s.translate(COMPLEMENT)[::-1] for s in seqs]
    np.testing.assert_allclose(motifs.max_scores(seqs, [m], strands="-"),
                               motifs.max_scores(rc, [m], strands="+"), rtol=1e-5)


def test_scan_finds_planted_sites_on_both_strands_relative_to_the_tss():
    rng = np.random.default_rng(3)
    m = motifs.from_consensus("TGACGTCATG", "site", "site", n_sites=100)
    site, rc_site = "TGACGTCATG", "CATGACGTCA"
    background = "".join(rng.choice(list("AT"), size=200))  # cannot hold the GC-rich site
    plus = background[:150] + site + background[160:]
    minus = background[:40] + rc_site + background[50:]
    hits = motifs.scan([plus, minus, background], [m], pvalue=1e-5, ids=["p", "m", "none"], tss_index=200)
    assert hits[["gene_id", "start", "position", "strand"]].values.tolist() == [
        ["p", 150, -50, "+"], ["m", 40, -160, "-"]]
    assert (hits["motif"] == "site").all()


def test_scan_and_max_scores_agree_on_which_sequences_hold_a_hit():
    rng = np.random.default_rng(4)
    found = [random_motif(rng, 8, f"m{i}") for i in range(4)]
    seqs = ["".join(rng.choice(list("ACGT"), size=300)) for _ in range(40)]
    hits = motifs.scan(seqs, found, pvalue=1e-3)
    best = motifs.max_scores(seqs, found)
    thr = np.array([motifs.score_threshold(m.log_odds(), 1e-3) for m in found])
    for j, m in enumerate(found):
        with_hit = set(hits.loc[hits["motif"] == m.matrix_id, "gene_id"])
        assert with_hit == set(np.flatnonzero(best[:, j] >= thr[j]))


def enumerate_scores(lo, bg):
    """Score of every word of length ``len(lo)`` in the scanners' units (whole multiples of
    RESOLUTION: integers, so no float rounding), and its probability."""
    steps = np.round(lo / motifs.RESOLUTION).astype(np.int64)
    words = np.array(list(itertools.product(range(4), repeat=lo.shape[0])))
    return steps[np.arange(lo.shape[0]), words].sum(axis=1), np.prod(bg[words], axis=1)


@pytest.mark.parametrize("motif", [
    random_motif(np.random.default_rng(5), 6, "random"),
    motifs.from_consensus("TATAWAWR", "tata", "tata"),  # few distinct scores
], ids=["random", "consensus"])
def test_score_threshold_is_exact_against_enumeration_of_every_sequence(motif):
    bg = np.array([0.34, 0.16, 0.16, 0.34])
    lo = motif.log_odds(bg)
    scores, probs = enumerate_scores(lo, bg)
    values = np.unique(scores)
    for p in (1e-4, 1e-3, 1e-2, 0.1):
        thr = motifs.score_threshold(lo, p, bg) / motifs.RESOLUTION
        assert probs[scores >= thr].sum() <= p
        lower = values[values < thr]
        if len(lower):  # one reachable score lower would exceed p
            assert probs[scores >= lower[-1]].sum() > p


def test_scan_uses_the_threshold_scores_it_reports():
    m = motifs.from_consensus("TATAWAWR", "tata", "tata")
    seqs = ["GGGTATAAATAGGG", "GGGTATATAAGGGG", "GGGGGGGGGGGGGG"]
    hits = motifs.scan(seqs, [m], pvalue=1e-3)
    thr = motifs.score_threshold(m.log_odds(), 1e-3)
    assert set(hits["gene_id"]) == {0, 1} and (hits["score"] >= thr).all()


def test_encode_pads_and_maps_letters():
    codes, lengths = motifs.encode(["ACGTN", "ac", ""])
    assert lengths.tolist() == [5, 2, 0]
    assert codes.tolist() == [[0, 1, 2, 3, 4], [0, 1, 5, 5, 5], [5, 5, 5, 5, 5]]


def test_base_composition_counts_only_acgt():
    np.testing.assert_allclose(motifs.base_composition(["AACG", "TNNN"]), [0.4, 0.2, 0.2, 0.2])


@pytest.mark.parametrize("call, message", [
    (lambda m: motifs.max_scores("ACGT", [m]), "list of strings"),
    (lambda m: motifs.max_scores(["ACGT"], []), "no motifs"),
    (lambda m: motifs.max_scores(["ACGT"], ["MA0001.1"]), "not cornlib.motifs.Motif"),
    (lambda m: motifs.max_scores(["ACGT"], [m], background=[1, 0, 0, 0]), "background"),
    (lambda m: motifs.max_scores(["ACGT"], [m], strands="up"), "strands"),
    (lambda m: motifs.scan(["ACGT"], [m], pvalue=0), "pvalue"),
    (lambda m: motifs.scan(["ACGT"], [m], ids=["a", "b"]), "ids has 2"),
    (lambda m: motifs.from_consensus("TAXA", "x", "x"), "IUPAC"),
])
def test_bad_input_is_a_clear_value_error(call, message):
    m = motifs.from_consensus("ACGT", "x", "x")
    with pytest.raises(ValueError, match=message):
        call(m)
