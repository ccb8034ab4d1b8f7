"""Pretraining throughput: cornlib's masked-LM step vs a naive Hugging Face setup, same model+data.

cornlib: ``cornlib.training.pretrain.pretrain``'s path — ``CornBertForMaskedLM`` (vocabulary projection on
masked tokens only), batches padded to their longest member (multiple of 8) and grouped by length.
Naive: ``transformers.RobertaForMaskedLM`` of the same size, every batch padded to ``max_length``,
random batches. Both run through ``transformers.Trainer`` with the same optimiser, batch size,
precision (fp32 on CPU, bf16 on a GPU that has it) and SDPA attention, in one process, alternating
rounds. It prints real (non-pad) tokens per second, their ratio, and model FLOP/s as a fraction of
a measured fp32 matmul peak (on CUDA: bf16 against the measured bf16 peak and the card's spec).

Usage (repository root)::

    .venv/bin/python benchmarks/pretrain_throughput.py                 # small profile's model
    .venv/bin/python benchmarks/pretrain_throughput.py --profile full --steps 30
    .venv/bin/python benchmarks/pretrain_throughput.py --run-dir runs/small   # real corpus

Without ``--run-dir`` (or when it holds no corpus) the data are random promoter-like sequences
with the length spread of trimmed promoters (100 bp to 1 kb) and a BPE tokenizer trained on them.

Model FLOPs count only useful work: the encoder on real tokens (attention on each sequence's real
length) and the output layer on masked tokens, forward + backward (3× the forward matmuls). The
same count is used for both setups, so the MFU ratio equals the token ratio; "executed" FLOP/s
adds what each setup really computes (padding, and the output layer on every position for naive).
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

# nominal dense bf16 tensor-core peaks (FLOP/s) of cards we may meet
CARD_PEAKS = {"H100 80GB HBM3": 989e12, "H100 SXM": 989e12, "H100 PCIe": 756e12, "H100": 989e12,
              "H200": 989e12, "A100": 312e12, "L4": 121e12, "A10": 125e12}


def matmul_peak(device: str, dtype, n: int = 2048, repeats: int = 10) -> float:
    """Best FLOP/s of an ``n``×``n`` matmul over ``repeats`` tries (same threads as training)."""
    import torch

    a = torch.randn(n, n, device=device, dtype=dtype)
    b = torch.randn(n, n, device=device, dtype=dtype)
    best = 0.0
    for _ in range(repeats + 2):
        if device == "cuda":
            torch.cuda.synchronize()
        t = time.perf_counter()
        for _ in range(4 if device == "cpu" else 50):
            a @ b
        if device == "cuda":
            torch.cuda.synchronize()
        dt = time.perf_counter() - t
        best = max(best, (4 if device == "cpu" else 50) * 2 * n ** 3 / dt)
    return best


def synthetic(n: int, seed: int):
    """Random promoter-like sequences (100 bp to 1 kb, skewed long) and a BPE tokenizer on them."""
    from cornlib import tokenize

    rng = np.random.default_rng(seed)
    lengths = np.where(rng.random(n) < 0.6, 1000, rng.integers(100, 1000, n))
    probs = [0.32, 0.18, 0.18, 0.32]  # AT-rich, like plant promoters
    seqs = ["".join(rng.choice(list("ACGT"), int(k), p=probs)) for k in lengths]
    return seqs, tokenize.train_bpe(seqs[:2000], vocab_size=5000, model_max_length=256)


def load_data(args):
    """Sequences and tokenizer: the run directory's corpus if there is one, else synthetic."""
    if args.run_dir and (Path(args.run_dir) / "corpus.parquet").exists():
        from cornlib.training import pretrain

        corpus, tok = pretrain.load_inputs(args.run_dir)
        seqs = corpus["sequence"].sample(min(args.examples, len(corpus)),
                                         random_state=args.seed).tolist()
        return seqs, tok, f"corpus of {args.run_dir}"
    seqs, tok = synthetic(args.examples, args.seed)
    return seqs, tok, "synthetic promoter-like sequences"


class Meter:
    """Forward pre-hook + callback: per-step timestamps and batch shapes of the timed steps."""

    def __init__(self, warmup: int, device: str):
        self.warmup, self.device = warmup, device
        self.batches: list[tuple[int, int, list[int], int]] = []
        self.times: list[float] = []

    def hook(self, module, args, kwargs):
        if module.training:
            ids, mask, labels = kwargs["input_ids"], kwargs["attention_mask"], kwargs["labels"]
            self.batches.append((ids.shape[0], ids.shape[1], mask.sum(1).tolist(),
                                 int((labels != -100).sum())))

    def callback(self):
        from transformers import TrainerCallback

        meter = self

        class Clock(TrainerCallback):
            def on_step_end(self, args, state, control, **kwargs):
                if meter.device == "cuda":
                    import torch

                    torch.cuda.synchronize()
                meter.times.append(time.perf_counter())

        return Clock()

    def steps(self) -> list[tuple[float, tuple]]:
        """(seconds, batch shape) of each timed step (the steps after the warm-up)."""
        t = self.times[self.warmup - 1:]
        batches = self.batches[self.warmup:self.warmup + len(t) - 1]
        return [(b - a, batch) for a, b, batch in zip(t[:-1], t[1:], batches)]


def flops(batches, cfg, *, executed: str | None = None) -> float:
    """Forward+backward FLOPs of the batches (useful work, or what ``executed`` setup computes)."""
    h, i, v = cfg.hidden_size, cfg.intermediate_size, cfg.vocab_size
    n_layers = cfg.num_hidden_layers
    per_token = 6 * n_layers * (4 * h * h + 2 * h * i)
    head = 6 * (h * h + h * v)
    total = 0.0
    for b, width, real, masked in batches:
        if executed is None:
            total += per_token * sum(real) + 6 * n_layers * sum(2 * n * n * h for n in real)
            total += head * masked
        else:
            total += per_token * b * width + 6 * n_layers * b * 2 * width * width * h
            total += head * (b * width if executed == "naive" else masked)
    return total


def run_setup(name: str, seqs, tok, args, device: str, meter: Meter):
    """Train ``args.steps + args.warmup`` steps of one setup; return the meter."""
    import torch
    import transformers

    from cornlib import models
    from cornlib import training as train
    from cornlib.training import pretrain

    ids = pretrain.tokenize(seqs, tok, args.max_length)
    cfg = models.config_for_tokenizer(tok, max_length=args.max_length, layers=args.layers,
                                      hidden=args.hidden, heads=args.heads,
                                      intermediate=args.intermediate, dropout=args.dropout)
    steps = args.steps + args.warmup
    out = tempfile.mkdtemp(prefix=f"bench_{name}_")
    common = dict(device=device, seed=args.seed, max_steps=steps,
                  per_device_train_batch_size=args.batch_size, learning_rate=5e-4,
                  warmup_steps=0, save_strategy="no", logging_strategy="no",
                  disable_tqdm=True, remove_unused_columns=False)
    if name == "cornlib":
        model = models.new_mlm(cfg, seed=args.seed)
        targs = train.training_arguments(out, train_sampling_strategy="group_by_length", **common)
        trainer = train.make_trainer(model, targs, train.MaskedLMDataset(ids, seed=args.seed),
                                     data_collator=train.MaskingCollator(tok, args.mlm_probability),
                                     callbacks=[meter.callback()])
    else:
        rcfg = transformers.RobertaConfig(**{k: v for k, v in cfg.to_dict().items()
                                             if k in transformers.RobertaConfig().to_dict()
                                             and k not in ("model_type", "architectures")})
        transformers.set_seed(args.seed)
        model = transformers.RobertaForMaskedLM._from_config(rcfg, attn_implementation="sdpa")
        targs = train.training_arguments(out, **common)
        trainer = transformers.Trainer(model=model, args=targs,
                                       train_dataset=[{"input_ids": x} for x in ids],
                                       data_collator=train.padded_collator(
                                           tok, args.max_length, args.mlm_probability),
                                       callbacks=[meter.callback()])
        trainer.remove_callback(transformers.PrinterCallback)
    handle = model.register_forward_pre_hook(meter.hook, with_kwargs=True)
    try:
        trainer.train()
    finally:
        handle.remove()
    del trainer, model
    if device == "cuda":
        torch.cuda.empty_cache()
    return meter


def main(argv=None) -> int:
    import torch

    from cornlib import models, profiles
    from cornlib import training as train

    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--profile", default="small", help="take the model size from this profile")
    p.add_argument("--run-dir", default=None, help="use this run's corpus.parquet and tokenizer/")
    p.add_argument("--steps", type=int, default=8, help="timed steps per round")
    p.add_argument("--warmup", type=int, default=3, help="untimed steps per round")
    p.add_argument("--rounds", type=int, default=4, help="alternating rounds of both setups")
    p.add_argument("--examples", type=int, default=4000)
    p.add_argument("--batch-size", type=int, default=None)
    p.add_argument("--device", default="auto")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)

    prof = profiles.load(args.profile)
    args.layers, args.hidden = prof["mlm_layers"], prof["mlm_hidden"]
    args.heads, args.intermediate = prof["mlm_heads"], prof["mlm_intermediate"]
    args.dropout, args.max_length = prof["mlm_dropout"], prof["max_length"]
    args.mlm_probability = prof["mlm_probability"]
    args.batch_size = args.batch_size or prof["pretrain_batch_size"]
    device = train.resolve_device(args.device)
    seqs, tok, source = load_data(args)

    if device == "cuda":
        name = torch.cuda.get_device_name()
        dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        peak = matmul_peak("cuda", dtype, n=8192)
        card = next((v for k, v in CARD_PEAKS.items() if k in name), None)
        machine = f"{name}, {str(dtype).split('.')[-1]} autocast"
    else:
        name = f"CPU, {torch.get_num_threads()} threads"
        dtype = torch.float32
        peak = matmul_peak("cpu", dtype)
        card = None
        machine = f"{name}, fp32"
    print(f"device: {machine}; data: {source}, {len(seqs)} sequences; model: "
          f"{args.layers} layers, hidden {args.hidden}, {args.heads} heads, ffn "
          f"{args.intermediate}, max_length {args.max_length}, batch {args.batch_size}")
    print(f"measured matmul peak: {peak / 1e9:.1f} GFLOP/s"
          + (f"; card spec {card / 1e12:.0f} TFLOP/s" if card else ""))

    cfg = models.config_for_tokenizer(tok, max_length=args.max_length, layers=args.layers,
                                      hidden=args.hidden, heads=args.heads,
                                      intermediate=args.intermediate)
    steps: dict[str, list] = {"cornlib": [], "naive": []}
    peaks = [peak]
    for r in range(args.rounds):
        for name_ in ("naive", "cornlib") if r % 2 else ("cornlib", "naive"):
            timed = run_setup(name_, seqs, tok, args, device, Meter(args.warmup, device)).steps()
            steps[name_] += timed
            peaks.append(matmul_peak(device, dtype, n=8192 if device == "cuda" else 2048,
                                     repeats=3))
            sec = sum(t for t, _ in timed)
            real = sum(sum(b[2]) for _, b in timed)
            print(f"  round {r + 1} {name_:8s}: {real / sec:9.0f} real tokens/s "
                  f"({len(timed)} steps, {sec:.1f} s); matmul peak now {peaks[-1] / 1e9:.1f} "
                  f"GFLOP/s")
    peak = max(peaks)
    print(f"peak used for the fractions: the best matmul measured, {peak / 1e9:.1f} GFLOP/s; "
          f"rates are medians over the {args.rounds * args.steps} timed steps of each setup")
    rates = {}
    for name_, timed in steps.items():
        tok_s = np.median([sum(b[2]) / t for t, b in timed])
        useful = np.median([flops([b], cfg) / t for t, b in timed])
        executed = np.median([flops([b], cfg, executed=name_) / t for t, b in timed])
        rates[name_] = tok_s
        line = (f"{name_:8s}: {tok_s:9.0f} real tokens/s | model {useful / 1e9:7.2f} GFLOP/s = "
                f"{useful / peak:6.1%} of peak | executed {executed / 1e9:7.2f} GFLOP/s = "
                f"{executed / peak:6.1%}")
        if card:
            line += f" | MFU vs card spec {useful / card:6.1%}"
        print(line)
    print(f"ratio cornlib / naive (real tokens/s): {rates['cornlib'] / rates['naive']:.2f}x "
          f"(goal >= 1.5x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
