"""Edits of DNA strings at 0-based positions: substitutions, insertions, deletions.

Every function returns new strings and checks its positions first, so a mutant always has a
stated origin (tangermeme's rule: validate, then compute on copies).
"""

from __future__ import annotations

from dataclasses import dataclass

from cornlib.sequence.alphabet import BASES, normalize


@dataclass(frozen=True)
class Edit:
    """One edit of a sequence.

    Attributes:
        position: 0-based position of the first base touched.
        ref: the bases replaced or deleted (``""`` for an insertion).
        alt: the bases put there (``""`` for a deletion).
    """

    position: int
    ref: str
    alt: str

    @property
    def kind(self) -> str:
        """``"substitution"``, ``"insertion"`` or ``"deletion"``."""
        if not self.ref:
            return "insertion"
        return "deletion" if not self.alt else "substitution"


def _check_position(seq: str, position: int, span: int = 0) -> None:
    if not isinstance(position, (int,)) or isinstance(position, bool):
        raise ValueError(f"position must be an integer, not {position!r}")
    if position < 0 or position + span > len(seq):
        raise ValueError(f"position {position} (+{span} bases) lies outside a sequence of "
                         f"{len(seq)} bases")


def apply(seq: str, edit: Edit) -> str:
    """``seq`` with ``edit`` applied.

    Raises:
        ValueError: the position is outside ``seq``, or ``edit.ref`` is not what ``seq`` holds.
    """
    _check_position(seq, edit.position, len(edit.ref))
    found = seq[edit.position: edit.position + len(edit.ref)]
    if found.upper() != edit.ref.upper():
        raise ValueError(f"the reference at position {edit.position} is {found!r}, not "
                         f"{edit.ref!r}")
    alt = normalize(edit.alt, "alt") if edit.alt else ""
    return seq[:edit.position] + alt + seq[edit.position + len(edit.ref):]


def substitute(seq: str, position: int, alt: str) -> str:
    """Replace the bases from ``position`` on with ``alt`` (same length)."""
    _check_position(seq, position, len(alt))
    return apply(seq, Edit(position, seq[position: position + len(alt)], alt))


def insert(seq: str, position: int, bases: str) -> str:
    """Insert ``bases`` before ``position`` (``len(seq)`` appends)."""
    _check_position(seq, position)
    return apply(seq, Edit(position, "", bases))


def delete(seq: str, position: int, length: int = 1) -> str:
    """Delete ``length`` bases from ``position`` on."""
    _check_position(seq, position, length)
    return apply(seq, Edit(position, seq[position: position + length], ""))


def substitutions(seq: str, positions: range | list[int] | None = None) -> list[Edit]:
    """Every single-base substitution of ``seq`` (3 per position; N positions get 4).

    Args:
        positions: the positions to mutate (default: all).
    """
    out = []
    for p in range(len(seq)) if positions is None else positions:
        _check_position(seq, p, 1)
        ref = seq[p]
        out.extend(Edit(p, ref, b) for b in BASES if b != ref.upper())
    return out
