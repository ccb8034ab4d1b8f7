"""FASTA files of many short records (promoters): read whole, with errors that name the line."""

from __future__ import annotations

import gzip
import os
from pathlib import Path


def read(path: str | os.PathLike) -> tuple[list[str], list[str]]:
    """Record names (the header's first word) and sequences of a FASTA file (plain or gzip).

    Sequences are returned as written (their letters are checked by the caller, e.g.
    :func:`cornlib.sequence.normalize_all`, which names the record and position).

    Raises:
        FileNotFoundError: no such file.
        ValueError: the file holds no record, text before the first header, an empty name,
            a record without sequence, or a name used twice (naming the file and the line).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no FASTA file at {path}")
    with open(path, "rb") as fh:
        packed = fh.read(2) == b"\x1f\x8b"
    opener = gzip.open if packed else open
    names: list[str] = []
    seqs: list[list[str]] = []
    where: dict[str, int] = {}
    try:
        with opener(path, "rt") as fh:
            for lineno, line in enumerate(fh, 1):
                line = line.strip()
                if not line:
                    continue
                if line.startswith(">"):
                    name = line[1:].split(maxsplit=1)[0] if line[1:].strip() else ""
                    if not name:
                        raise ValueError(f"{path}:{lineno}: a FASTA header without a name")
                    if name in where:
                        raise ValueError(f"{path}:{lineno}: record name {name!r} is used "
                                         f"twice (first on line {where[name]})")
                    if names and not seqs[-1]:
                        raise ValueError(f"{path}: record {names[-1]!r} (line "
                                         f"{where[names[-1]]}) has no sequence")
                    where[name] = lineno
                    names.append(name)
                    seqs.append([])
                elif not names:
                    raise ValueError(f"{path}:{lineno}: sequence before the first '>' header "
                                     "(is this a FASTA file?)")
                else:
                    seqs[-1].append(line)
    except (EOFError, gzip.BadGzipFile, UnicodeDecodeError) as err:
        raise ValueError(f"{path}: cannot read it as FASTA ({err}); is it truncated?") from err
    if not names:
        raise ValueError(f"{path} holds no FASTA record")
    if not seqs[-1]:
        raise ValueError(f"{path}: record {names[-1]!r} (line {where[names[-1]]}) has no "
                         "sequence")
    return names, ["".join(s) for s in seqs]
