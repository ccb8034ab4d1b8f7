"""Dinucleotide-preserving sequence shuffles (Altschul–Erikson, as a random Eulerian walk)."""

from __future__ import annotations

from collections import Counter
from typing import Sequence

import numpy as np
import pandas as pd


def _last_exits(counts: np.ndarray, last: int, rng: np.random.Generator) -> np.ndarray:
    """A random arborescence towards ``last``: for each other letter, the target of its last exit.

    Wilson's loop-erased random walk on one sequence's letter graph (``counts[u, v]`` = number
    of ``uv`` dinucleotides), stepping to ``v`` with probability ``counts[u, v] / outdegree(u)``.
    This draws the last-exit edges with the probabilities of the Altschul–Erikson / Kandel et
    al. rejection scheme. Returns ``nxt`` (A,), -1 where a letter has no exit or is ``last``.
    """
    cum = np.cumsum(counts, axis=1)  # A, A
    deg = cum[:, -1]
    nxt = np.full(len(counts), -1, dtype=np.int64)
    in_tree = {last}
    for v in np.flatnonzero(deg):
        u = int(v)
        while u not in in_tree:
            nxt[u] = int(np.searchsorted(cum[u], rng.random() * deg[u], side="right"))
            u = int(nxt[u])
        u = int(v)
        while u not in in_tree:
            in_tree.add(u)
            u = int(nxt[u])
    nxt[last] = -1
    return nxt


def _walk(firsts: np.ndarray, lens: np.ndarray, flat: np.ndarray, start: np.ndarray,
          n_letters: int) -> np.ndarray:
    """Walk every sequence's Eulerian path at once, one position per numpy step.

    ``flat[start[i * n_letters + v] + j]`` is the ``j``-th exit of letter ``v`` in sequence ``i``.
    Returns a (n, max_len) array of letter codes; row ``i`` is valid in its first ``lens[i]``.
    """
    n = len(firsts)
    out = np.zeros((n, int(lens.max(initial=1))), dtype=np.int64)
    out[:, 0] = firsts
    base = np.arange(n) * n_letters
    pos = np.zeros(n * n_letters, dtype=np.int64)
    u = firsts.astype(np.int64)
    for t in range(out.shape[1] - 1):
        active = t < lens - 1
        slot = base + u
        idx = np.where(active, start[slot] + pos[slot], 0)
        pos[slot] += active
        u = np.where(active, flat[idx], u)
        out[:, t + 1] = u
    return out


def _as_bytes(seqs: Sequence[str]) -> list[np.ndarray]:
    """Each sequence as a uint8 array; a clear error for non-strings and non-ASCII."""
    if isinstance(seqs, str):
        raise ValueError("pass a list of sequences, not one string")
    out = []
    for i, s in enumerate(seqs):
        try:
            out.append(np.frombuffer(s.encode("ascii"), dtype=np.uint8))
        except (UnicodeEncodeError, AttributeError):
            raise ValueError(f"sequence {i} is not an ASCII string") from None
    return out


def dinucleotide_shuffle(seqs: Sequence[str], seed: int) -> list[str]:
    """Shuffle each sequence keeping its dinucleotide counts exactly (Altschul & Erikson 1985).

    Each sequence is a walk through the multigraph of its letters (one edge per dinucleotide);
    a random Eulerian path of that graph, drawn by the Kandel et al. (1996) method, is a uniform
    random sequence with the same first letter, last letter and dinucleotide counts (so also
    the same mononucleotide counts). Letters are kept as they are (case, N). All sequences are
    shuffled together (vectorised over sequences), from one generator.

    Args:
        seqs: strings (ASCII).
        seed: seed of the random generator.

    Returns:
        New list of shuffled strings, same lengths as ``seqs``.
    """
    arrays = _as_bytes(seqs)
    rng = np.random.default_rng(seed)
    long = [i for i, a in enumerate(arrays) if len(a) >= 3]  # shorter ones have one arrangement
    out = list(seqs)
    if not long:
        return out
    # Letters → codes 0..A-1; every dinucleotide is an edge src → dst of its sequence's graph.
    lens = np.array([len(arrays[i]) for i in long], dtype=np.int64)
    ends = np.cumsum(lens)
    letters = np.concatenate([arrays[i] for i in long])
    alphabet = np.flatnonzero(np.bincount(letters, minlength=256)).astype(np.uint8)
    lut = np.zeros(256, dtype=np.uint8)
    lut[alphabet] = np.arange(len(alphabet))
    codes = lut[letters]
    A, n = len(alphabet), len(long)
    edge = np.ones(len(codes) - 1, dtype=bool)
    edge[ends[:-1] - 1] = False  # the last letter of a sequence starts no edge
    src, dst = codes[:-1][edge], codes[1:][edge]
    sid = np.repeat(np.arange(n, dtype=np.int64), lens - 1)
    group = sid * A + src  # one letter of one sequence
    counts = np.bincount(group * A + dst, minlength=n * A * A).reshape(n, A, A)
    # 1. Each sequence's last-exit tree.
    nxt = np.stack([_last_exits(counts[i], int(codes[ends[i] - 1]), rng) for i in range(n)])
    # 2. Exits in random order, each letter's last-exit edge (one copy) placed last.
    key = rng.random(len(src))
    cand = np.flatnonzero(dst == nxt[sid, src])
    _, first = np.unique(group[cand], return_index=True)
    key[cand[first]] = 2.0
    order = np.argsort(group + key / 4.0)  # by group, then key (key / 4 < 1 keeps groups apart)
    group = group[order]
    begin = np.flatnonzero(np.r_[True, group[1:] != group[:-1]])  # first edge of each group
    start = np.zeros(n * A, dtype=np.int64)
    start[group[begin]] = begin
    # 3. Walk all Eulerian paths from the first letters.
    walked = alphabet[_walk(codes[ends - lens], lens, dst[order], start, A)]
    for row, i in enumerate(long):
        out[i] = walked[row, : lens[row]].tobytes().decode("ascii")
    return out


def dinucleotide_counts(seq: str) -> Counter:
    """Counts of overlapping dinucleotides in one sequence."""
    return Counter(seq[i: i + 2] for i in range(len(seq) - 1))


def check_preserved(original: Sequence[str], shuffled: Sequence[str]) -> pd.DataFrame:
    """Per-sequence check of a shuffle: identical dinucleotide counts, and how much changed.

    Returns:
        DataFrame with ``same_dinucleotides`` (bool: same length and the same multiset of
        overlapping letter pairs) and ``identity`` (fraction of positions with the same letter)
        per sequence.
    """
    a, b = _as_bytes(original), _as_bytes(shuffled)
    if len(a) != len(b):
        raise ValueError(f"{len(a)} original vs {len(b)} shuffled sequences")
    same = np.zeros(len(a), dtype=bool)
    ident = np.full(len(a), np.nan)
    for i, (x, y) in enumerate(zip(a, b)):
        if len(x) != len(y):
            continue
        px = np.sort(x[:-1].astype(np.int32) * 256 + x[1:])
        py = np.sort(y[:-1].astype(np.int32) * 256 + y[1:])
        same[i] = np.array_equal(px, py)
        ident[i] = float(np.mean(x == y)) if len(x) else np.nan
    return pd.DataFrame({"same_dinucleotides": same, "identity": ident})
