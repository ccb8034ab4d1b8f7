"""DNA tokenizers: the letter policy, BPE training, offline save/load, segmentation statistics."""

import numpy as np
import pandas as pd
import pytest

from cornlib import sequence, tokenize


def _random_dna(n, length, seed):
    rng = np.random.default_rng(seed)
    # a few repeated "motifs" give BPE something to merge
    motifs = ["TATAAA", "CACGTG", "GGGCCC", "AAAAAAAA"]
    out = []
    for _ in range(n):
        parts, size = [], 0
        while size < length:
            piece = motifs[rng.integers(len(motifs))] if rng.random() < 0.3 else \
                "".join(rng.choice(list("ACGT"), 5))
            parts.append(piece)
            size += len(piece)
        out.append("".join(parts)[:length])
    return out


@pytest.fixture(scope="module")
def seqs():
    return _random_dna(120, 300, seed=1)


@pytest.fixture(scope="module")
def bpe(seqs):
    return tokenize.train_bpe(seqs, vocab_size=60, min_frequency=2, model_max_length=128)


def test_normalize_uppercases_soft_masked_bases():
    assert sequence.normalize("acgtNn") == "ACGTNN"


def test_normalize_turns_iupac_codes_into_n():
    assert sequence.normalize("ARYSWKMBDHVry") == "A" + "N" * 12


@pytest.mark.parametrize("bad,pos", [("ACGU", 3), ("AC-GT", 2), ("ACG T", 3), ("AC1", 2)])
def test_normalize_rejects_non_dna_naming_id_and_position(bad, pos):
    with pytest.raises(ValueError, match=rf"'gene7'.*position {pos}"):
        sequence.normalize(bad, "gene7")


@pytest.mark.parametrize("bad", ["", None, 5])
def test_normalize_rejects_empty_and_non_strings(bad):
    with pytest.raises(ValueError, match="'g1'"):
        sequence.normalize(bad, "g1")


def test_kmers_overlap_and_count():
    toks = tokenize.kmers("ACGTACGTAC", k=6)
    assert len(toks) == 10 - 6 + 1
    assert all(len(t) == 6 for t in toks)
    assert toks[1] == "CGTACG"


def test_bpe_has_specials_with_roberta_ids(bpe):
    ids = [bpe.convert_tokens_to_ids(t) for t in tokenize.SPECIAL_TOKENS]
    assert ids == [0, 1, 2, 3, 4]
    assert (bpe.bos_token_id, bpe.pad_token_id, bpe.eos_token_id, bpe.unk_token_id,
            bpe.mask_token_id) == (0, 1, 2, 3, 4)


def test_bpe_vocabulary_is_vocab_size_plus_specials(bpe):
    assert len(bpe) == 60 + len(tokenize.SPECIAL_TOKENS)


def test_bpe_wraps_sequence_in_s_and_eos(bpe, seqs):
    ids = bpe(seqs[0])["input_ids"]
    assert ids[0] == bpe.bos_token_id and ids[-1] == bpe.eos_token_id
    assert bpe.pad_token_id not in ids and bpe.unk_token_id not in ids


def test_bpe_segments_concatenate_back_to_the_sequence(bpe, seqs):
    segs = tokenize.segment(seqs[:5], "bpe", bpe)
    assert ["".join(t) for t in segs] == seqs[:5]
    assert max(len(t) for s in segs for t in s) > 1, "BPE learned no merges"


def test_round_trip_with_autotokenizer_offline_encodes_identically(bpe, seqs, tmp_path,
                                                                   monkeypatch):
    from transformers import AutoTokenizer

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    out = tokenize.save(bpe, tmp_path / "tokenizer")
    assert {p.name for p in out.iterdir()} >= set(tokenize.TOKENIZER_FILES)
    back = AutoTokenizer.from_pretrained(out)
    assert back(seqs[:4])["input_ids"] == bpe(seqs[:4])["input_ids"]
    assert back.mask_token == "<mask>" and back.pad_token_id == 1
    assert back.model_max_length == 128


def test_saved_tokenizer_applies_the_letter_policy(bpe, tmp_path):
    back = tokenize.load(tokenize.save(bpe, tmp_path / "tok"))
    assert back("acgtryACGT")["input_ids"] == back("ACGTNNACGT")["input_ids"]


def test_save_replaces_an_existing_tokenizer(bpe, seqs, tmp_path):
    other = tokenize.train_bpe(seqs, vocab_size=20)
    tokenize.save(other, tmp_path / "tok")
    tokenize.save(bpe, tmp_path / "tok")
    assert len(tokenize.load(tmp_path / "tok")) == len(bpe)
    assert [p.name for p in tmp_path.iterdir()] == ["tok"], "temporary directories left behind"


def test_load_missing_directory_says_how_to_make_it(tmp_path):
    with pytest.raises(FileNotFoundError, match="05_tokenizer"):
        tokenize.load(tmp_path / "nope")


def test_load_names_the_missing_file(bpe, tmp_path):
    out = tokenize.save(bpe, tmp_path / "tok")
    (out / "tokenizer.json").unlink()
    with pytest.raises(FileNotFoundError, match=r"lacks tokenizer\.json.*05_tokenizer"):
        tokenize.load(out)


def test_encode_rejects_non_dna_naming_the_sequence(bpe):
    with pytest.raises(ValueError, match="'bad_one'"):
        tokenize.encode(bpe, ["ACGT", "ACXT"], ["ok", "bad_one"])


def test_compare_counts_tokens_per_kb(bpe, seqs):
    table = tokenize.compare(seqs, bpe, k=6).set_index("scheme")
    assert table.loc["6-mer", "tokens_per_kb"] == pytest.approx((300 - 5) / 300 * 1000)
    assert table.loc["char", "tokens_per_kb"] == pytest.approx(1000)
    assert table.loc["BPE", "tokens_per_kb"] < 1000
    assert 0 < table.loc["BPE", "vocab_used_fraction"] <= 1


def test_token_length_table_counts_the_vocabulary(bpe, seqs):
    counts = tokenize.usage(seqs, bpe)
    table = tokenize.token_length_table(bpe, counts["BPE"])
    assert table["vocabulary"].sum() == len(bpe) - len(tokenize.SPECIAL_TOKENS)
    assert table["use"].sum() == sum(len(t) for t in tokenize.segment(seqs, "bpe", bpe))
    assert (table["use"] * table["length"]).sum() == sum(map(len, seqs))
    assert sum(counts["6-mer"].values()) == sum(len(s) - 5 for s in seqs)


def test_rank_frequency_ranks_within_each_scheme(bpe, seqs):
    ranks = tokenize.rank_frequency(tokenize.usage(seqs[:10], bpe))
    for _, group in ranks.groupby("scheme"):
        assert group["count"].is_monotonic_decreasing
        assert group["share"].sum() == pytest.approx(1.0)


def test_motif_alignment_finds_sites_that_are_tokens():
    rng = np.random.default_rng(0)
    segments, hits = {}, []
    for i in range(30):
        toks = ["".join(rng.choice(list("ACGT"), rng.integers(1, 6))) for _ in range(40)]
        pos = np.cumsum([0] + [len(t) for t in toks])
        segments[i] = toks
        for j in range(5, 35, 6):  # sites that are exactly tokens j..j+1
            hits.append((i, pos[j], pos[j + 2]))
    sites = tokenize.sites(pd.DataFrame(hits, columns=["seq_id", "start", "end"]))
    table = tokenize.motif_alignment(segments, sites, seed=0, n_shuffles=5).set_index("measure")
    assert table.loc["both edges", "observed"] == 1.0
    assert table.loc["both edges", "shuffled"] < 0.8


def test_motif_alignment_rejects_unknown_sequences():
    with pytest.raises(ValueError, match="no segmentation"):
        tokenize.motif_alignment({"a": ["ACGT"]},
                                 pd.DataFrame({"seq_id": ["b"], "start": [1], "end": [2]}))


def test_sites_take_ends_from_motif_lengths_and_merge_repeats():
    hits = pd.DataFrame({"gene_id": ["g", "g", "g"], "motif": ["M1", "M2", "M1"],
                         "start": [3, 3, 10], "strand": ["+", "-", "+"]})
    table = pd.DataFrame({"matrix_id": ["M1", "M2"], "name": ["Dof", "bZIP"], "length": [4, 4]})
    out = tokenize.sites(hits, table)
    assert out[["seq_id", "start", "end"]].values.tolist() == [["g", 3, 7], ["g", 10, 14]]
    assert out["motifs"].tolist() == ["Dof,bZIP", "Dof"]
    with pytest.raises(ValueError, match="motif_table"):
        tokenize.sites(hits)
    with pytest.raises(ValueError, match="lacks motifs"):
        tokenize.sites(hits, table.head(1))


def test_site_tokens_show_covering_tokens_and_boundaries():
    toks = ["AC", "GTA", "CCG", "T"]
    sites = pd.DataFrame({"seq_id": ["s", "s"], "start": [2, 3], "end": [5, 8]})
    out = tokenize.site_tokens(toks, sites)
    assert out["site"].tolist() == ["GTA", "TACCG"]
    assert out["tokens"].tolist() == ["GTA", "GTA|CCG"]
    assert out["start_on_boundary"].tolist() == [True, False]
    assert out["end_on_boundary"].tolist() == [True, True]


def test_show_segmentations_lists_every_scheme(bpe, seqs):
    text = tokenize.show_segmentations(seqs[0], bpe, k=6, start=100, end=160)
    assert "bases 100..160 (60 bp)" in text and "6-mer: 55 overlapping" in text
    bpe_line = text.splitlines()[3].strip()
    assert seqs[0][100:160] in bpe_line.replace("|", "")
