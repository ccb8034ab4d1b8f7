"""Prediction throughput: ``cornlib.models.predictor`` (length-sorted batches, no gradients)
against a naive loop (one sequence at a time, padded to the model's full width), same model,
same sequences; prints sequences per second and whether the predictions agree.

    .venv/bin/python benchmarks/predict_speed.py runs/small/finetune/pretrained/model
    .venv/bin/python benchmarks/predict_speed.py MODEL_DIR --n 2000 --batch-size 128

Without a model folder it builds an untrained hybrid of the small profile's size (speed does
not depend on the weights).
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")


def sequences(n: int, seed: int = 0) -> list[str]:
    """Promoter-like lengths (100–1000 bp, most at 1000) of random DNA."""
    rng = np.random.default_rng(seed)
    lengths = np.where(rng.random(n) < 0.5, 1000, rng.integers(100, 1000, n))
    return ["".join(rng.choice(list("ACGT"), int(k))) for k in lengths]


def naive(model, seqs: list[str]) -> np.ndarray:
    """One sequence per forward pass, padded to the model's full width, gradients on."""
    import torch

    width = model.config.seq_length
    out = []
    for s in seqs:
        codes = torch.full((1, width), 4, dtype=torch.long)
        tail = [("ACGT".index(c) if c in "ACGT" else 4) for c in s[-width:]]
        codes[0, width - len(tail):] = torch.tensor(tail)
        out.append(model(codes).logits.detach().numpy()[0])
    return np.asarray(out)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("model", nargs="?", help="a saved regressor folder")
    p.add_argument("--n", type=int, default=512)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args(argv)

    import torch

    from cornlib import models
    from cornlib.models import predictor

    torch.set_num_threads(args.threads)
    if args.model:
        pred = predictor.load(args.model)
    else:
        pred = predictor.from_model(models.CornHybridForRegression(
            models.CornHybridConfig(n_targets=10)).eval())
    seqs = sequences(args.n)
    t0 = time.perf_counter()
    ours = pred.predict(seqs, batch_size=args.batch_size, progress=False).to_numpy()
    t_ours = time.perf_counter() - t0
    k = min(len(seqs), 128)
    t0 = time.perf_counter()
    ref = naive(pred.model.eval(), seqs[:k])
    t_naive = (time.perf_counter() - t0) * len(seqs) / k
    same = np.allclose(ours[:k], ref, rtol=1e-3, atol=1e-4)
    print(f"cornlib predictor  {len(seqs) / t_ours:8.1f} sequences/s "
          f"(batch {args.batch_size}, {args.threads} thread(s))")
    print(f"naive loop         {len(seqs) / t_naive:8.1f} sequences/s "
          f"(timed on {k}, one at a time)")
    print(f"speed-up {t_naive / t_ours:.1f}x; predictions agree: {same}; "
          f"load average {os.getloadavg()[0]:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
