"""Training throughput of the small profile's hybrid transformer and CNN: cornlib's driver
against a plain PyTorch loop, as a fraction of the machine's fp32 matmul peak.

For each model and thread count, in one process:

- **driver**: :func:`cornlib.training.run` with a :class:`~cornlib.training.Recipe` of
  ``--steps`` steps, no evaluation, no checkpoints (the path every chapter trains through);
- **plain**: a hand-written loop on the same model, data, batch size and number of steps:
  AdamW (fused, as the driver's), gradient clipping at 1.0 (the driver's default), batches
  sliced from one tensor of random order.

Both are timed from the end of their first step to the end of their last (the driver: by a
callback at ``on_step_end``, so data loading, logging and every callback of the steps count);
each runs ``--rounds`` times, alternating which goes first, and the best round counts (other
jobs on a shared machine only ever slow a round down). The driver's fixed cost (building the
Trainer, the first step, saving the model and the history) is printed apart.

Model FLOPs are counted by ``torch.utils.flop_counter.FlopCounterMode`` over one forward +
backward of one batch (matmuls and convolutions; not element-wise work or the optimiser),
divided by the batch size; it does not count PyTorch's CPU flash attention, so the hybrid's
attention products are added by formula (:func:`attention_flops`). The fp32 peak is the best
GFLOP/s of ``torch.mm`` on 2048x2048 float32 matrices with the same thread count, measured
before and after each round in the same process; the fractions use the best of those.

The data are random base codes and random targets: throughput does not depend on them.

Usage (repository root)::

    .venv/bin/python benchmarks/train_throughput.py                 # 1 and 2 threads, ~3 min
    .venv/bin/python benchmarks/train_throughput.py --threads 2 --steps 60
    .venv/bin/python benchmarks/train_throughput.py --quick         # tiny sizes, a smoke test
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import numpy as np  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

#: Columns of the printed table.
COLUMNS = ("model", "threads", "setup", "steps", "batch", "seconds", "seq/s", "GFLOP/s",
           "% of peak", "vs plain")


def matmul_peak(threads: int, n: int = 2048, repeats: int = 5) -> float:
    """Best FLOP/s of ``torch.mm`` on ``n``×``n`` float32 matrices with ``threads`` threads."""
    import torch

    from cornlib.runtime import limit_threads

    with limit_threads(threads, torch=True):
        a, b = torch.randn(n, n), torch.randn(n, n)
        out = torch.empty(n, n)
        torch.mm(a, b, out=out)
        best = 0.0
        for _ in range(repeats):
            t = time.perf_counter()
            torch.mm(a, b, out=out)
            best = max(best, 2 * n ** 3 / (time.perf_counter() - t))
    return best


def build(kind: str, prof: dict, seq_length: int, n_targets: int, seed: int):
    """A fresh model of the small profile's settings: the fine-tuned hybrid of
    ``07_finetune`` (random initial weights) or the baseline CNN of ``04_baselines``."""
    from cornlib.models import cnn, hybrid

    targets = dict(n_targets=n_targets, target_names=[f"t{i}" for i in range(n_targets)],
                   target_mean=[0.0] * n_targets, target_std=[1.0] * n_targets)
    if kind == "hybrid":
        config = hybrid.CornHybridConfig(
            seq_length=seq_length, stem_channels=prof["hybrid_channels"],
            stem_kernel=prof["hybrid_kernel"], pool=prof["hybrid_pool"],
            hidden_size=prof["hybrid_hidden"], num_hidden_layers=prof["hybrid_layers"],
            num_attention_heads=prof["hybrid_heads"],
            intermediate_size=prof["hybrid_intermediate"])
        return hybrid.regressor(config, seed=seed, head_dropout=prof["hybrid_head_dropout"],
                                loss=prof["finetune_loss"], **targets)
    config = cnn.PromoterCNNConfig(
        seq_length=seq_length, channels=list(prof["cnn_channels"]),
        kernel_sizes=list(prof["cnn_kernel_sizes"]), pool_sizes=list(prof["cnn_pool_sizes"]),
        global_pool=prof["cnn_global_pool"], **targets)
    from cornlib.training import seeded

    with seeded(seed):
        return cnn.PromoterCNN(config)


def settings(kind: str, prof: dict) -> dict:
    """Batch size, learning rate and weight decay of the model's training in the book."""
    if kind == "hybrid":
        return {"batch_size": prof["finetune_batch_size"], "learning_rate": prof["finetune_lr"],
                "weight_decay": prof["finetune_weight_decay"]}
    return {"batch_size": prof["cnn_batch_size"], "learning_rate": prof["cnn_learning_rate"],
            "weight_decay": 1e-4}


def flops_per_sequence(model, codes: np.ndarray, labels: np.ndarray) -> dict[str, float]:
    """FLOPs of one forward + backward per sequence, by operator, counted by
    ``FlopCounterMode``."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    model.train()
    ids, y = torch.from_numpy(codes), torch.from_numpy(labels)
    counter = FlopCounterMode(display=False)
    with counter:
        model(input_ids=ids, labels=y).loss.backward()
    model.zero_grad(set_to_none=True)
    return {str(op): n / len(codes) for op, n in counter.get_flop_counts()["Global"].items()}


def attention_flops(config) -> float:
    """Forward + backward FLOPs per sequence of the hybrid's attention products (``QKᵀ`` and
    ``AV``: 4 n² h a layer forward, 3× with the backward), which ``FlopCounterMode`` does not
    count for PyTorch's CPU flash attention."""
    n, h = config.n_bins, config.hidden_size
    return 3.0 * config.num_hidden_layers * 4 * n * n * h


def plain_loop(model, codes: np.ndarray, labels: np.ndarray, *, steps: int, batch_size: int,
               learning_rate: float, weight_decay: float, threads: int, seed: int
               ) -> list[float]:
    """Train ``steps`` steps by hand; return the clock after each step."""
    import torch

    from cornlib.runtime import limit_threads

    ids, y = torch.from_numpy(codes), torch.from_numpy(labels)
    g = torch.Generator().manual_seed(seed)
    clock = []
    with limit_threads(threads, torch=True):
        model.train()
        opt = torch.optim.AdamW(model.parameters(), lr=learning_rate, weight_decay=weight_decay,
                                fused=True)
        order = torch.randperm(len(ids), generator=g)
        for step in range(steps):
            start = (step * batch_size) % max(1, len(ids) - batch_size + 1)
            pick = order[start:start + batch_size]
            loss = model(input_ids=ids[pick], labels=y[pick]).loss
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            opt.zero_grad(set_to_none=True)
            clock.append(time.perf_counter())
    return clock


def step_clock(clock: list[float]):
    """A ``TrainerCallback`` appending the clock to ``clock`` at the end of every step."""
    from transformers import TrainerCallback

    class StepClock(TrainerCallback):
        def on_step_end(self, args, state, control, **kwargs):
            clock.append(time.perf_counter())

    return StepClock()


def rate(clock: list[float], batch_size: int) -> float:
    """Sequences per second between the end of the first step and the end of the last."""
    return (len(clock) - 1) * batch_size / (clock[-1] - clock[0])


def driver(model, codes: np.ndarray, labels: np.ndarray, out_dir: Path, *, steps: int,
           batch_size: int, learning_rate: float, weight_decay: float, threads: int,
           seed: int) -> tuple[list[float], float]:
    """Train ``steps`` steps with :func:`cornlib.training.run`; return the clock after each
    step and the seconds of the whole call."""
    from cornlib import training

    clock: list[float] = []
    recipe = training.Recipe(
        max_steps=steps, batch_size=batch_size, learning_rate=learning_rate,
        weight_decay=weight_decay, scheduler="constant", evaluate=None,
        log=max(1, steps // 4), checkpoint=None, seed=seed, device="cpu", threads=threads,
        callbacks=[step_clock(clock)])
    t0 = time.perf_counter()
    training.run(model, training.ArrayDataset(codes, labels), None, recipe, out_dir)
    return clock, time.perf_counter() - t0


def machine() -> str:
    """``nproc``, the CPU model and the load average, in words."""
    model = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    return f"{os.cpu_count()} CPUs ({model}); load average {load}"


def main(argv=None) -> int:
    import pandas as pd
    import torch

    from cornlib import profiles
    from cornlib.models import hybrid

    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--profile", default="small", help="take the models' settings from it")
    p.add_argument("--models", nargs="+", default=["hybrid", "cnn"],
                   choices=["hybrid", "cnn"])
    p.add_argument("--threads", nargs="+", type=int, default=[1, 2])
    p.add_argument("--steps", type=int, default=None,
                   help="steps per run, the first untimed (default: 16 hybrid, 24 CNN)")
    p.add_argument("--batch-size", type=int, default=None,
                   help="default: the profile's (finetune_batch_size, cnn_batch_size)")
    p.add_argument("--seq-length", type=int, default=None,
                   help="default: the profile's (hybrid_seq_length, cnn_seq_length)")
    p.add_argument("--warmup", type=int, default=3, help="untimed plain steps per run")
    p.add_argument("--rounds", type=int, default=2,
                   help="runs of each setup per model and thread count (the best counts)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--quick", action="store_true",
                   help="tiny sizes (3 steps, batch 4, 256 bases): a smoke test")
    args = p.parse_args(argv)
    if args.quick:
        args.steps, args.batch_size = args.steps or 3, args.batch_size or 4
        args.seq_length, args.warmup = args.seq_length or 256, min(args.warmup, 1)
        args.rounds = 1

    prof = profiles.load(args.profile)
    n_targets = int(prof["n_tissues"])
    print(f"machine: {machine()}; torch {torch.__version__}")
    print("data: random base codes and random targets (throughput does not depend on them)")
    print("FLOPs: torch.utils.flop_counter.FlopCounterMode, one forward + backward of one "
          "batch, per sequence (+ the hybrid's attention products by formula); peak: best "
          "torch.mm 2048x2048 float32 at the same threads")

    rows, peaks, notes, fixed = [], {t: [] for t in args.threads}, [], {}
    rng = np.random.default_rng(args.seed)
    with tempfile.TemporaryDirectory(prefix="train_throughput_") as tmp:
        for kind in args.models:
            opts = settings(kind, prof)
            if args.batch_size:
                opts["batch_size"] = args.batch_size
            steps = args.steps or (16 if kind == "hybrid" else 24)
            length = args.seq_length or int(prof["hybrid_seq_length" if kind == "hybrid"
                                                 else "cnn_seq_length"])
            n = opts["batch_size"] * (steps + args.warmup)
            codes = rng.integers(0, 4, size=(n, length)).astype(np.int64)
            labels = rng.normal(size=(n, n_targets)).astype(np.float32)
            model = build(kind, prof, length, n_targets, args.seed)
            counted = flops_per_sequence(model, codes[:opts["batch_size"]],
                                         labels[:opts["batch_size"]])
            flops = sum(counted.values())
            note = (f"{kind}: {flops / 1e6:.1f} MFLOP per sequence (forward + backward) by "
                    "FlopCounterMode (" + ", ".join(f"{op} {v / 1e6:.1f}"
                                                     for op, v in counted.items()) + ")")
            if kind == "hybrid":
                if not any("attention" in op for op in counted):
                    extra = attention_flops(model.config)
                    flops += extra
                    note += (f" + {extra / 1e6:.1f} of attention products (not counted by it "
                             f"on CPU; 3 x 4 n^2 h a layer) = {flops / 1e6:.1f}")
                note += (f"; for comparison 3 x hybrid.flops_per_sequence = "
                         f"{3 * hybrid.flops_per_sequence(model.config) / 1e6:.1f}")
            notes.append(note)
            for threads in args.threads:
                peaks[threads].append(matmul_peak(threads))
                warm = build(kind, prof, length, n_targets, args.seed)
                plain_loop(warm, codes, labels, steps=args.warmup, threads=threads,
                           seed=args.seed, **opts)
                clocks: dict[str, list] = {"plain": [], "driver": []}
                for r in range(args.rounds):
                    for setup in ("plain", "driver") if r % 2 == 0 else ("driver", "plain"):
                        model = build(kind, prof, length, n_targets, args.seed)
                        if setup == "plain":
                            clocks[setup].append(plain_loop(
                                model, codes, labels, steps=steps, threads=threads,
                                seed=args.seed, **opts))
                            continue
                        clock, whole = driver(model, codes, labels,
                                              Path(tmp) / f"{kind}_{threads}_{r}",
                                              steps=steps, threads=threads, seed=args.seed,
                                              **opts)
                        clocks[setup].append(clock)
                        steady = (clock[-1] - clock[0]) / (len(clock) - 1)
                        fixed.setdefault((kind, threads), []).append(whole - steady * steps)
                    peaks[threads].append(matmul_peak(threads))
                for setup in ("plain", "driver"):
                    times = max(clocks[setup], key=lambda c: rate(c, opts["batch_size"]))
                    rows.append({"model": kind, "threads": threads, "setup": setup,
                                 "steps": len(times) - 1, "batch": opts["batch_size"],
                                 "seconds": times[-1] - times[0],
                                 "seq/s": rate(times, opts["batch_size"]), "flops": flops})
    best = {t: max(v) for t, v in peaks.items()}
    for t in args.threads:
        print(f"fp32 matmul peak, {t} thread(s): {best[t] / 1e9:.1f} GFLOP/s (best of "
              + ", ".join(f"{x / 1e9:.1f}" for x in peaks[t]) + ")")
    for note in notes:
        print(note)
    print(f"rates: the best of {args.rounds} round(s) of each setup (rounds alternate which "
          "setup goes first); steps: timed steps per round (the first step is not timed)")
    for (kind, threads), extra in fixed.items():
        print(f"{kind}, {threads} thread(s): the driver's fixed cost (its whole call less "
              "its steps at its timed rate: the Trainer, the first step, saving): "
              + ", ".join(f"{x:.2f}" for x in extra) + " s")
    table = pd.DataFrame(rows)
    table["GFLOP/s"] = table["seq/s"] * table["flops"] / 1e9
    table["% of peak"] = 100 * table["GFLOP/s"] * 1e9 / table["threads"].map(best)
    plain = table[table["setup"] == "plain"].set_index(["model", "threads"])["seq/s"]
    table["vs plain"] = [r["seq/s"] / plain[(r["model"], r["threads"])]
                         for _, r in table.iterrows()]
    table = table[list(COLUMNS)]
    print()
    formats = {"seconds": "{:.2f}", "seq/s": "{:.0f}", "GFLOP/s": "{:.2f}",
               "% of peak": "{:.2f}", "vs plain": "{:.2f}"}
    print(table.to_string(index=False, formatters={k: v.format for k, v in formats.items()}))
    for kind in args.models:
        for setup in ("plain", "driver"):
            rates = table[(table["model"] == kind) & (table["setup"] == setup)].set_index(
                "threads")["seq/s"]
            if 1 in rates.index and 2 in rates.index:
                print(f"{kind}, {setup}: 2 threads / 1 thread = {rates[2] / rates[1]:.2f}x")
    print(f"load average after the run: {', '.join(f'{x:.2f}' for x in os.getloadavg())}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
