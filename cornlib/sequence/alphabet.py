"""The DNA alphabet, the letter policy and the integer codes every module uses (one table).

Codes: ``A=0, C=1, G=2, T=3``, anything else ``N_CODE=4`` (N, IUPAC ambiguity, padding unless a
separate pad code is asked for). One-hot vectors put N at all zeros.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

#: The four bases, in code order.
BASES = "ACGT"
#: The letters a normalized sequence may hold.
ALPHABET = "ACGTN"
#: IUPAC ambiguity codes (upper case) that :func:`normalize` turns into ``N``.
IUPAC_AMBIGUITY = "RYSWKMBDHV"
#: The bases each IUPAC letter stands for.
IUPAC: dict[str, str] = {"A": "A", "C": "C", "G": "G", "T": "T", "R": "AG", "Y": "CT",
                         "S": "CG", "W": "AT", "K": "GT", "M": "AC", "B": "CGT", "D": "AGT",
                         "H": "ACT", "V": "ACG", "N": "ACGT"}
#: The code of N (and of every letter that is not A, C, G or T).
N_CODE = 4

#: Byte → base code (upper and lower case).
CODES = np.full(256, N_CODE, dtype=np.uint8)
for _i, _b in enumerate(BASES):
    CODES[ord(_b)] = _i
    CODES[ord(_b.lower())] = _i
#: ``bytes.translate`` table of the complement (IUPAC codes and case kept).
COMPLEMENT = bytes.maketrans(b"ACGTRYSWKMBDHVNacgtryswkmbdhvn", b"TGCAYRSWMKVHDBNtgcayrswmkvhdbn")

_TO_N = str.maketrans({c: "N" for c in IUPAC_AMBIGUITY})
_NOT_DNA = re.compile(f"[^{ALPHABET}]")


def normalize(seq: str, seq_id: Any = None) -> str:
    """Apply the letter policy to one sequence: upper-case, IUPAC codes → ``N``, else an error.

    Args:
        seq: a DNA sequence (any case).
        seq_id: the sequence's name, quoted in error messages.

    Returns:
        The sequence over ``ACGTN``, same length as ``seq``.

    Raises:
        ValueError: ``seq`` is not a string, is empty, or holds a letter that is not DNA
            (the message names ``seq_id``, the 0-based position and the letter).
    """
    name = f"sequence {seq_id!r}" if seq_id is not None else "a sequence"
    if not isinstance(seq, str):
        raise ValueError(f"{name} is a {type(seq).__name__}, not a string of DNA letters")
    if not seq:
        raise ValueError(f"{name} is empty; drop it or fix the source table")
    out = seq.upper().translate(_TO_N)
    bad = _NOT_DNA.search(out)
    if bad:
        pos = bad.start()
        raise ValueError(f"{name} has {seq[pos]!r} at 0-based position {pos}, which is not a DNA "
                         f"letter (allowed: ACGT, lowercase soft-masking, IUPAC codes "
                         f"{IUPAC_AMBIGUITY}/N); fix or drop it")
    return out


def normalize_all(seqs: Iterable[str], seq_ids: Iterable[Any] | None = None) -> list[str]:
    """:func:`normalize` every sequence; ``seq_ids`` (same order) name them in errors."""
    seqs = list(seqs)
    ids = list(seq_ids) if seq_ids is not None else list(range(len(seqs)))
    if len(ids) != len(seqs):
        raise ValueError(f"{len(seqs)} sequences but {len(ids)} ids")
    return [normalize(s, i) for s, i in zip(seqs, ids)]


def reverse_complement(seq: str) -> str:
    """Reverse complement of a DNA string (IUPAC codes and case kept)."""
    return seq.encode("ascii").translate(COMPLEMENT)[::-1].decode("ascii")


def check_sequences(seqs: Sequence[str]) -> list[str]:
    """A non-empty list of non-empty strings (one string alone is refused)."""
    if isinstance(seqs, str):
        raise ValueError("pass a list of sequences, not one string")
    seqs = list(seqs)
    if not seqs:
        raise ValueError("no sequences given")
    for i, s in enumerate(seqs):
        if not isinstance(s, str) or not s:
            raise ValueError(f"sequence {i} is empty or not a string ({type(s).__name__})")
    return seqs


def lengths(seqs: Sequence[str]) -> np.ndarray:
    """Lengths of the sequences, shape (n,)."""
    return np.fromiter((len(s) for s in seqs), dtype=np.int64, count=len(seqs))


def _ascii(text: str) -> bytes:
    try:
        return text.encode("ascii")
    except UnicodeEncodeError as err:
        raise ValueError(f"sequences must be ASCII DNA letters: {err}") from None


def encode(seqs: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """Concatenated base codes and the start offset of each sequence.

    Returns:
        ``codes`` of shape (total_length,) uint8 and ``offsets`` of shape (n + 1,): sequence ``i``
        is ``codes[offsets[i]:offsets[i + 1]]``.
    """
    seqs = check_sequences(seqs)
    codes = CODES[np.frombuffer(_ascii("".join(seqs)), dtype=np.uint8)]
    offsets = np.zeros(len(seqs) + 1, dtype=np.int64)
    np.cumsum(lengths(seqs), out=offsets[1:])
    return codes, offsets


def encode_padded(seqs: Sequence[str], pad_code: int = N_CODE) -> tuple[np.ndarray, np.ndarray]:
    """Base codes right-padded to the longest sequence with ``pad_code``.

    Returns:
        codes ``(n, max_len)`` uint8 and lengths ``(n,)`` int64 (empty strings allowed).
    """
    if isinstance(seqs, str):
        raise ValueError("sequences must be a list of strings, not one string")
    seqs = list(seqs)
    for i, s in enumerate(seqs):
        if not isinstance(s, str):
            raise ValueError(f"sequence {i} is {type(s).__name__}, not str")
    lens = lengths(seqs)
    width = int(lens.max(initial=0))
    out = np.full((len(seqs), width), pad_code, dtype=np.uint8)
    if width:
        raw = _ascii("".join(s.ljust(width, "\0") for s in seqs))
        out[:] = CODES[np.frombuffer(raw, dtype=np.uint8)].reshape(len(seqs), width)
        out[np.arange(width)[None, :] >= lens[:, None]] = pad_code
    return out, lens


def encode_fixed(seqs: Sequence[str], length: int | None = None, align: str = "end") -> np.ndarray:
    """Base codes in a fixed-size array, shape (n, length), uint8 (4 = N or padding).

    Args:
        seqs: DNA strings.
        length: output width. ``None`` requires equal lengths. Longer sequences are cropped and
            shorter ones padded with code 4, keeping the ``align`` end in place.
        align: ``"end"`` (keep the 3'/TSS end aligned, the default for promoters) or ``"start"``.

    Raises:
        ValueError: unequal lengths with ``length=None``, or a bad ``align``.
    """
    if align not in {"end", "start"}:
        raise ValueError(f"align must be 'end' or 'start', not {align!r}")
    codes, offsets = encode(seqs)
    lens = np.diff(offsets)
    if length is None:
        if lens.min() != lens.max():
            raise ValueError(f"sequences have unequal lengths ({lens.min()}..{lens.max()} bp); pass "
                             "length= to pad/crop them to one width (TSS end aligned)")
        return codes.reshape(len(lens), int(lens[0])).copy()
    if length < 1:
        raise ValueError(f"length must be positive, got {length}")
    out = np.full((len(lens), length), N_CODE, dtype=np.uint8)
    for i, (lo, n) in enumerate(zip(offsets[:-1], lens)):
        m = min(n, length)
        if align == "end":
            out[i, length - m:] = codes[lo + n - m: lo + n]
        else:
            out[i, :m] = codes[lo: lo + m]
    return out


def one_hot(codes: np.ndarray) -> np.ndarray:
    """Base codes ``(..., L)`` → one-hot ``(..., L, 4)`` float32; N (code ≥ 4) is all zeros."""
    table = np.eye(N_CODE + 1, N_CODE, dtype=np.float32)
    return table[np.minimum(np.asarray(codes), N_CODE)]


def decode(codes: np.ndarray) -> str:
    """Base codes ``(L,)`` → a string over ``ACGTN``."""
    letters = np.frombuffer((BASES + "N").encode("ascii"), dtype=np.uint8)
    return letters[np.minimum(np.asarray(codes), N_CODE)].tobytes().decode("ascii")
