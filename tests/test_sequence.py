"""cornlib.sequence: one alphabet table, codes, one-hot, reverse complement and edits."""

import numpy as np
import pytest

from cornlib import sequence


def test_codes_share_one_table():
    codes, offsets = sequence.encode(["ACGTN", "acgtr"])
    assert codes.tolist() == [0, 1, 2, 3, 4, 0, 1, 2, 3, 4]
    assert offsets.tolist() == [0, 5, 10]
    padded, lengths = sequence.encode_padded(["AC", "GTA"], pad_code=5)
    assert padded.tolist() == [[0, 1, 5], [2, 3, 0]] and lengths.tolist() == [2, 3]
    assert sequence.decode(sequence.encode_fixed(["GATTACA"])[0]) == "GATTACA"


def test_one_hot_puts_n_at_zero():
    x = sequence.one_hot(sequence.encode_fixed(["ACGTN"]))
    assert x.shape == (1, 5, 4)
    np.testing.assert_array_equal(x[0, :4], np.eye(4))
    assert x[0, 4].sum() == 0


def test_reverse_complement_keeps_iupac_and_case():
    assert sequence.reverse_complement("AACGTtRN") == "NYaACGTT"


def test_normalize_names_the_bad_letter():
    assert sequence.normalize("acgtRY") == "ACGTNN"
    with pytest.raises(ValueError, match="'g7'.*'U' at 0-based position 2"):
        sequence.normalize("ACUG", "g7")


def test_edits_check_the_reference_and_positions():
    assert sequence.substitute("ACGT", 1, "T") == "ATGT"
    assert sequence.insert("ACGT", 4, "AA") == "ACGTAA"
    assert sequence.delete("ACGT", 0, 2) == "GT"
    assert sequence.apply("ACGT", sequence.Edit(2, "G", "")) == "ACT"
    with pytest.raises(ValueError, match="reference at position 1 is 'C', not 'G'"):
        sequence.apply("ACGT", sequence.Edit(1, "G", "A"))
    with pytest.raises(ValueError, match="outside a sequence of 4 bases"):
        sequence.substitute("ACGT", 4, "A")
    with pytest.raises(ValueError, match="not a DNA letter"):
        sequence.substitute("ACGT", 0, "X")


def test_substitutions_cover_every_other_base():
    edits = sequence.substitutions("AN")
    assert [(e.position, e.alt) for e in edits] == [(0, "C"), (0, "G"), (0, "T"), (1, "A"),
                                                   (1, "C"), (1, "G"), (1, "T")]
    assert {e.kind for e in edits} == {"substitution"}
    mutants = {sequence.apply("AN", e) for e in edits}
    assert len(mutants) == 7 and "AN" not in mutants
