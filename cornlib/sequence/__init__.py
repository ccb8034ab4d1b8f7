"""DNA sequences: the alphabet and letter policy, integer and one-hot codes, reverse complement,
dinucleotide shuffles and edits. Every module that reads bases goes through here."""

from cornlib.sequence.alphabet import (
    ALPHABET,
    BASES,
    CODES,
    COMPLEMENT,
    IUPAC,
    IUPAC_AMBIGUITY,
    N_CODE,
    check_sequences,
    decode,
    encode,
    encode_fixed,
    encode_padded,
    lengths,
    normalize,
    normalize_all,
    one_hot,
    reverse_complement,
)
from cornlib.sequence.mutate import Edit, apply, delete, insert, substitute, substitutions
from cornlib.sequence.shuffle import check_preserved, dinucleotide_counts, dinucleotide_shuffle

__all__ = ["ALPHABET", "BASES", "CODES", "COMPLEMENT", "IUPAC", "IUPAC_AMBIGUITY", "N_CODE",
           "check_sequences", "decode", "encode", "encode_fixed", "encode_padded", "lengths",
           "normalize", "normalize_all", "one_hot", "reverse_complement", "Edit", "apply",
           "delete", "insert", "substitute", "substitutions", "check_preserved",
           "dinucleotide_counts", "dinucleotide_shuffle"]
