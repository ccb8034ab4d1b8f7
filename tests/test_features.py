"""cornlib.features and cornlib.sequence: k-mer counts, the length policy, core elements, shuffles."""

import itertools
from collections import Counter

import numpy as np
import pytest

from cornlib import features, sequence
from cornlib.sequence import shuffle


def _random_seqs(n, lo, hi, seed, alphabet="ACGT"):
    rng = np.random.default_rng(seed)
    return ["".join(rng.choice(list(alphabet), size=int(rng.integers(lo, hi + 1)))) for _ in range(n)]


def test_kmer_counts_equal_naive_counts_and_skip_n():
    seqs = ["ACGTNACGTAAC", "TTTAC", "acgtac", "NNNN"]
    for k in (1, 2, 3):
        X = features.kmer_counts(seqs, k).toarray()
        names = features.kmer_names(k)
        for i, s in enumerate(seqs):
            s = s.upper()
            ref = Counter(s[j:j + k] for j in range(len(s) - k + 1) if "N" not in s[j:j + k])
            assert {n: X[i, c] for c, n in enumerate(names) if X[i, c]} == dict(ref)


def test_kmer_windows_do_not_cross_sequence_boundaries():
    X = features.kmer_counts(["AAA", "CCC"], 2, sparse=False)
    names = features.kmer_names(2)
    assert X[0, names.index("AC")] == 0 and X[0, names.index("AA")] == 2
    assert X.sum() == 4


def test_canonical_kmers_merge_reverse_complements():
    comp = str.maketrans("ACGT", "TGCA")
    X = features.kmer_counts(["AAAC", "GTTT"], 3, canonical=True).toarray()
    assert np.array_equal(X[0], X[1])  # GTTT is the reverse complement of AAAC
    names = features.kmer_names(3, canonical=True)
    assert len(names) == 32
    assert all(n <= n.translate(comp)[::-1] for n in names)


def test_spectrum_frequencies_sum_to_one_per_k_and_match_blocks():
    seqs = _random_seqs(20, 30, 80, seed=1)
    X = features.kmer_spectrum(seqs, 3)
    widths = [4, 16, 64]
    assert X.shape == (20, sum(widths))
    assert len(features.kmer_spectrum_names(3)) == X.shape[1]
    for lo, hi in zip(np.cumsum([0] + widths[:-1]), np.cumsum(widths)):
        assert np.allclose(X[:, lo:hi].sum(axis=1), 1.0, atol=1e-5)
    S = features.kmer_spectrum(seqs, 3, sparse=True)
    assert np.allclose(S.toarray(), X)


def test_unequal_lengths_need_a_declared_policy():
    seqs = ["ACGTACGT", "ACG"]
    with pytest.raises(ValueError, match="unequal lengths"):
        features.kmer_spectrum(seqs, 2, normalise=False)
    with pytest.raises(ValueError, match="unequal lengths"):
        sequence.encode_fixed(seqs)
    assert features.kmer_spectrum(seqs, 2).shape == (2, 20)  # frequencies: fine


def test_encode_fixed_keeps_the_tss_end_and_pads_with_n():
    codes = sequence.encode_fixed(["ACGTT", "GA"], length=4)
    assert codes.tolist() == [[1, 2, 3, 3], [4, 4, 2, 0]]
    start = sequence.encode_fixed(["ACGTT", "GA"], length=4, align="start")
    assert start.tolist() == [[0, 1, 2, 3], [2, 0, 4, 4]]


def test_composition_is_length_normalised():
    comp = features.composition(["AACN", "GGGGTTTT"])
    assert np.allclose(comp[0], [0.5, 0.25, 0, 0, 0.25])
    assert np.allclose(comp.sum(axis=1), 1.0)


def test_core_elements_count_tata_near_the_tss_only():
    far = "TATAAAAG" + "C" * 200
    near = "C" * 200 + "TATAAAAG" + "C" * 20
    table = features.core_promoter_elements([far, near], proximal=50)
    assert table["tata_proximal"].tolist() == [0, 1]
    assert table["tata_per_kb"].iloc[0] == pytest.approx(1000 / len(far))
    assert table.loc[1, "ypatch_proximal"] >= 1  # a run of C near the TSS


def test_bad_sequences_are_rejected():
    with pytest.raises(ValueError, match="list of sequences"):
        features.composition("ACGT")
    with pytest.raises(ValueError, match="sequence 1 is empty"):
        features.kmer_counts(["ACGT", ""], 2)
    with pytest.raises(ValueError, match="k must lie"):
        features.kmer_counts(["ACGT"], 0)


def _dinucs(s):
    return Counter(a + b for a, b in zip(s, s[1:]))


def test_dinucleotide_shuffle_preserves_counts_exactly():
    seqs = _random_seqs(50, 3, 300, seed=2, alphabet="ACGTN") + ["AAAAAAA", "ACACACAC", "AT", "G"]
    out = shuffle.dinucleotide_shuffle(seqs, seed=0)
    for a, b in zip(seqs, out):
        assert _dinucs(a) == _dinucs(b)
        assert len(a) == len(b) and a[:1] == b[:1] and a[-1:] == b[-1:]
    assert shuffle.check_preserved(seqs, out)["same_dinucleotides"].all()


def test_dinucleotide_shuffle_is_seeded_and_actually_shuffles():
    seqs = _random_seqs(20, 200, 200, seed=3)
    a = shuffle.dinucleotide_shuffle(seqs, seed=1)
    assert a == shuffle.dinucleotide_shuffle(seqs, seed=1)
    assert a != shuffle.dinucleotide_shuffle(seqs, seed=2)
    assert shuffle.check_preserved(seqs, a)["identity"].mean() < 0.5


def test_dinucleotide_shuffle_samples_every_eulerian_sequence():
    # AACAB-like toy: every sequence with the dinucleotides of "ACAGAT" starting A, ending T
    seq = "ACAGAT"
    target = _dinucs(seq)
    valid = {"".join(p) for p in itertools.permutations(seq)
             if p[0] == "A" and p[-1] == "T" and _dinucs("".join(p)) == target}
    seen = Counter(shuffle.dinucleotide_shuffle([seq] * 600, seed=4))
    assert set(seen) == valid  # ACAGAT and AGACAT
    assert min(seen.values()) > 600 / len(valid) * 0.7  # roughly uniform
