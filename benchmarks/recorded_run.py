"""A recorded longer run: chapters 07–08 (or others) on a longer profile, on top of a run
directory that already holds the earlier chapters, with its tables committed for the book.

    .venv/bin/python benchmarks/recorded_run.py --profile long --from runs/small \\
        --only 07 08 --out benchmarks/results/long

It copies ``--from`` (a run directory whose chapters before ``--only`` are done, e.g. the small
book's) to the profile's run directory, runs ``python -m cornlib.run --profile P --only ...``
there, and writes the tables chapter 08 shows as a recorded run
(:func:`cornlib.evaluate.recorded.export`: ``runs.csv``, ``results.csv``, ``differences.csv``,
``cross_species.csv`` and ``meta.json`` with the commit, the machine, the date, the load and the
wall time). Commit the output folder; the book reads it, never recomputes it.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))


def main(argv=None) -> int:
    from finetune_recipes import provenance

    from cornlib import profiles
    from cornlib.evaluate import recorded

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--profile", default="long")
    p.add_argument("--from", dest="source", default=None,
                   help="run directory holding the chapters before --only (copied first)")
    p.add_argument("--only", nargs="+", default=["07", "08"])
    p.add_argument("--out", default=None, help="default: benchmarks/results/<profile>")
    args = p.parse_args(argv)
    settings = profiles.load(args.profile)
    run_dir = ROOT / settings["run_dir"]
    if args.source:
        if run_dir.exists():
            shutil.rmtree(run_dir)
        shutil.copytree(ROOT / args.source, run_dir, symlinks=True)
    command = [sys.executable, "-m", "cornlib.run", "--profile", args.profile, "--only",
               *args.only]
    load0 = os.getloadavg()[0]
    t0 = time.perf_counter()
    subprocess.run(command, cwd=ROOT, check=True,
                   env={**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"})
    seconds = time.perf_counter() - t0
    meta = provenance(args.profile, seconds, command[1:], load0, **{"from": args.source})
    out = ROOT / (args.out or f"benchmarks/results/{args.profile}")
    for path in recorded.export(run_dir, out, meta):
        print(path.relative_to(ROOT))
    print(f"{args.profile}: {seconds / 60:.1f} minutes")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
