"""Variant scoring throughput: ``cornlib.variants.score`` (each promoter predicted once, every
mutant in length-sorted batches through ``cornlib.interpret.perturb.score_edits``) against a naive
loop (``predictor.predict([ref])`` and ``predictor.predict([alt])`` per variant), same model, same
variants; prints variants per second side by side and whether the predictions agree.

    .venv/bin/python benchmarks/variant_speed.py                       # both small-profile models
    .venv/bin/python benchmarks/variant_speed.py MODEL_DIR --n 300 --device cuda

The variants are :func:`cornlib.variants.simulated_variants` of the small run (half in true
driver sites, half random), mapped back onto the A. thaliana promoters with
:func:`cornlib.variants.locate` (every one must land on the base it was drawn from).
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np
import pandas as pd

os.environ.setdefault("HF_HUB_OFFLINE", "1")
RUN = Path("runs/small")
MODELS = [RUN / "finetune/random_init/model", RUN / "baselines/cnn/tissues/model"]


def located_variants(n: int, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``n`` simulated variants of the small run located on the A. thaliana promoters."""
    from cornlib import variants
    from cornlib.data import embedded

    proms = pd.read_parquet(RUN / "promoters.parquet")
    proms = proms[proms["species"] == "athaliana"].reset_index(drop=True)
    sim = variants.simulated_variants(proms, pd.read_parquet(RUN / "targets/truth_sites.parquet"),
                                      json.loads((RUN / "targets/card.json").read_text()),
                                      n_per_class=n // 2, seed=seed)
    found = sim[["id", "chrom", "pos", "ref", "alt"]].assign(status="", note="")
    loc = variants.locate(found, proms, embedded.locate("athaliana").fasta)
    own = loc.merge(sim, on="id", suffixes=("", "_sim")).query("gene_id == gene_id_sim")
    assert len(own) == len(sim) and (own["offset"] == own["offset_sim"]).all(), "round trip failed"
    return loc, proms


def naive(pred, located: pd.DataFrame, proms: pd.DataFrame, device: str) -> np.ndarray:
    """One ``predict`` call for the reference and one for the mutant of every (variant, gene)."""
    seqs = proms.set_index("gene_id")["sequence"]
    out = []
    for gene, k, alt in located[["gene_id", "offset", "promoter_alt"]].itertuples(index=False):
        ref = seqs[gene]
        r = pred.predict([ref], device=device, progress=False).to_numpy()[0]
        a = pred.predict([ref[:k] + alt + ref[k + 1:]], device=device, progress=False).to_numpy()[0]
        out.append(np.concatenate([r, a, a - r]))
    return np.asarray(out)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("models", nargs="*", help="saved model folders (default: the small run's)")
    p.add_argument("--n", type=int, default=300, help="variants (half site, half random)")
    p.add_argument("--naive-n", type=int, default=100, help="variants the naive loop is timed on")
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--device", default="cpu", choices=["cpu", "cuda", "auto"])
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args(argv)

    import torch

    from cornlib import variants
    from cornlib.models import predictor

    torch.set_num_threads(args.threads)
    located, proms = located_variants(args.n)
    rows = located[located["status"] == "scored"]
    print(f"{len(located)} (variant, gene) rows of {args.n} variants, {rows['gene_id'].nunique()} "
          f"promoters; device {args.device}, {args.threads} thread(s), batch {args.batch_size}")
    for folder in args.models or [m for m in MODELS if m.is_dir()]:
        pred = predictor.load(folder)
        pred.predict([proms["sequence"].iat[0]], device=args.device, progress=False)  # warm-up
        t0 = time.perf_counter()
        table = variants.score(pred, rows, proms, batch_size=args.batch_size, device=args.device,
                               progress=False)
        t_ours = time.perf_counter() - t0
        k = min(args.naive_n, len(rows))
        t0 = time.perf_counter()
        ref = naive(pred, rows.iloc[:k], proms, args.device)
        t_naive = (time.perf_counter() - t0) * len(rows) / k
        ours = table.iloc[:k, -3 * len(pred.targets):].to_numpy(float)
        same = np.allclose(ours, ref, rtol=1e-3, atol=1e-4)
        name = f"{pred.model.__class__.__name__} ({folder})"
        print(f"{name}\n  batched score_edits {len(rows) / t_ours:8.1f} (variant, gene) pairs/s"
              f"\n  naive loop          {len(rows) / t_naive:8.1f} (variant, gene) pairs/s (timed on {k})"
              f"\n  speed-up {t_naive / t_ours:.1f}x; predictions agree: {same} "
              f"(max |diff| {np.abs(ours - ref).max():.2g}); load average {os.getloadavg()[0]:.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
