"""Promoter extraction end to end: cornlib against FloraBERT's bedtools pipeline, same inputs.

Usage::

    .venv/bin/python benchmarks/promoters.py                  # every annotated embedded genome
    .venv/bin/python benchmarks/promoters.py --species athaliana --repeat 5

Both sides start from the same files: the package's gzip GFF3 and a plain, indexed copy of the
FASTA in the cache (made once, before timing, and reported separately: bedtools cannot read
compressed FASTA). cornlib times ``cornlib.data.promoters.extract`` (GFF3 parsing included) with
the settings that reproduce the pipeline (every gene, clipped windows kept, letters and case as
in the FASTA); bedtools times ``gzip -cd | awk | flank | subtract | awk | getfasta``. Each side
runs ``--repeat`` times; the best wall time and CPU time (process, or children for bedtools) are
printed, with their ratio and whether every sequence is identical.
"""

from __future__ import annotations

import argparse
import resource
import shutil
import subprocess
import sys
import tempfile
import time

from cornlib.data import bedtools, embedded, genome, gff, promoters

SAME_JOB = dict(biotypes=None, edge_policy="flag", min_length=0, max_n_fraction=1.0,
                soft_mask="keep", iupac="keep", trim_neighbours=True, downstream=0)


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def time_cornlib(files, upstream: int, cache_dir: str | None, repeat: int, **params):
    """Best (wall, cpu) seconds of ``extract`` over ``repeat`` runs, and the last table."""
    best_wall = best_cpu = float("inf")
    for _ in range(repeat):
        gff.clear_cache()  # time the annotation parse too
        w, c = time.perf_counter(), time.process_time()
        table, _ = promoters.extract(files.fasta, files.gff, files.species, upstream=upstream,
                                     cache_dir=cache_dir, **params)
        best_wall = min(best_wall, time.perf_counter() - w)
        best_cpu = min(best_cpu, time.process_time() - c)
    return best_wall, best_cpu, table


def time_bedtools(files, upstream: int, cache_dir: str | None, repeat: int):
    """Best (wall, cpu) seconds of the bedtools pipeline over ``repeat`` runs, and its table."""
    plain = genome.prepare_fasta(files.fasta, cache_dir)
    best_wall = best_cpu = float("inf")
    for _ in range(repeat):
        with tempfile.TemporaryDirectory(prefix="bench-bedtools-") as work:
            cmd = bedtools.bedtools_command(plain, files.gff, upstream, work)
            w, c = time.perf_counter(), _children_cpu()
            res = subprocess.run(["bash", "-c", cmd], capture_output=True, text=True, check=True)
            best_wall = min(best_wall, time.perf_counter() - w)
            best_cpu = min(best_cpu, _children_cpu() - c)
    return best_wall, best_cpu, bedtools.parse_getfasta(res.stdout)


def compare(ours, ref) -> str:
    """``identical (n)`` or a short description of the first differences."""
    m = ref.merge(ours, on="gene_id", how="outer", suffixes=("_bt", ""), indicator=True)
    only = (m["_merge"] != "both").sum()
    both = m[m["_merge"] == "both"]
    same = ((both["sequence_bt"] == both["sequence"]) & (both["start_bt"] == both["start"])
            & (both["end_bt"] == both["end"])).sum()
    if only == 0 and same == len(both):
        return f"identical ({same} sequences)"
    return f"DIFFERENT: {same}/{len(both)} shared genes identical, {only} genes in one output only"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--species", nargs="+", default=embedded.annotated(),
                        help="embedded genome keys (default: every annotated one)")
    parser.add_argument("--upstream", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--cache-dir", default=None, help="FASTA cache (default: the user cache)")
    args = parser.parse_args(argv)
    if shutil.which("bedtools") is None:
        print("bedtools is not on PATH: timing cornlib only", file=sys.stderr)

    print(f"{'species':10s} {'genes':>6s} {'cornlib wall/cpu s':>19s} {'bedtools wall/cpu s':>20s} "
          f"{'ratio wall/cpu':>15s}  sequences")
    for key in args.species:
        files = embedded.locate(key)
        t = time.perf_counter()
        genome.prepare_fasta(files.fasta, args.cache_dir)  # one-off: decompress + index
        prep = time.perf_counter() - t
        cw, cc, ours = time_cornlib(files, args.upstream, args.cache_dir, args.repeat, **SAME_JOB)
        dw, dc, _ = time_cornlib(files, args.upstream, args.cache_dir, args.repeat)
        line = f"{key:10s} {len(ours):6d} {cw:9.2f}/{cc:<9.2f}"
        if shutil.which("bedtools"):
            bw, bc, ref = time_bedtools(files, args.upstream, args.cache_dir, args.repeat)
            line += f" {bw:10.2f}/{bc:<9.2f} {bw / cw:7.2f}/{bc / cc:<7.2f}  {compare(ours, ref)}"
        print(line)
        print(f"{'':10s} cornlib with the library defaults (protein-coding, filters): "
              f"{dw:.2f} s wall, {dc:.2f} s cpu; FASTA cache check/make: {prep:.2f} s")
    print("ratio > 1: cornlib is faster. Best of", args.repeat, "runs each.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
