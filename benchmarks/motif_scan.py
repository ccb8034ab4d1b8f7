"""Motif scanning: cornlib.motifs.max_scores against Biopython's PSSM scorer, same motifs and sequences.

Usage::

    .venv/bin/python benchmarks/motif_scan.py                       # 300 promoters x 805 motifs
    .venv/bin/python benchmarks/motif_scan.py --genes 2000 --motifs 13

Promoters are extracted from the embedded A. thaliana genome (those without N, so both sides see
the same letters). cornlib scores every motif on both strands in one call; the reference loops in
Python over sequence x motif pairs and calls ``Bio.motifs`` ``PSSM.calculate`` (C) on each strand.
Prints both wall times, their ratio, and the largest score difference.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from cornlib import motifs
from cornlib.data import embedded, promoters


def reference(seqs: list[str], found: list[motifs.Motif]) -> np.ndarray:
    """Best score per sequence and motif, both strands, with Biopython."""
    from Bio.motifs.matrix import PositionSpecificScoringMatrix
    from Bio.Seq import Seq

    pssms = [PositionSpecificScoringMatrix(
        "ACGT", {b: list(m.log_odds()[:, i]) for i, b in enumerate("ACGT")}) for m in found]
    out = np.empty((len(seqs), len(found)))
    for i, s in enumerate(seqs):
        fwd, rev = Seq(s), Seq(s).reverse_complement()
        for j, p in enumerate(pssms):
            out[i, j] = max(np.max(p.calculate(fwd)), np.max(p.calculate(rev)))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--genes", type=int, default=300)
    ap.add_argument("--motifs", type=int, default=805)
    args = ap.parse_args()

    files = embedded.locate("athaliana")
    table, _ = promoters.extract(files.fasta, files.gff, "athaliana")
    seqs = [s for s in table["sequence"] if "N" not in s][: args.genes]
    found = motifs.load_plant_motifs()[: args.motifs]
    print(f"{len(seqs)} promoters ({sum(map(len, seqs)) / 1e6:.2f} Mb) x {len(found)} motifs, both strands")

    t = time.perf_counter()
    ours = motifs.max_scores(seqs, found)
    t_ours = time.perf_counter() - t
    t = time.perf_counter()
    ref = reference(seqs, found)
    t_ref = time.perf_counter() - t
    print(f"cornlib.motifs.max_scores  {t_ours:8.2f} s")
    print(f"Bio.motifs PSSM.calculate  {t_ref:8.2f} s   ({t_ref / t_ours:.1f}x slower)")
    print(f"largest |difference|       {np.nanmax(np.abs(ours - ref)):.2e} bits")


if __name__ == "__main__":
    main()
