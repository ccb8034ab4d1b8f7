"""Fine-tuning recipes side by side, each trained until early stopping on valid, over seeds.

    .venv/bin/python benchmarks/finetune_recipes.py --run-dir runs/small
    .venv/bin/python benchmarks/finetune_recipes.py --run-dir runs/small --seeds 3 \\
        --only "hybrid, random init" "hybrid, random init, pool 32" florabert

Every recipe trains on one run directory's train genes, once per seed (``--seeds N``: seeds
0..N-1; the seed draws the new weights, the batch order, dropout and the strand flips), until
early stopping on ``valid`` ends it (``--patience`` evaluations, one per epoch, without a better
valid R²). ``--max-epochs`` is a cap a run should not reach and ``--seconds`` an optional
safety budget; a run ended by either is marked "not converged" in the table. The seeds of a
recipe run side by side, one process each, on ``--cores`` cores
(:func:`cornlib.training.seeds.run_seeds`).

The table gives per recipe the mean best valid R² (mean over the simulated tissues) over its
seeds with their standard deviation and range, the mean best epoch and epochs run, how many runs
early stopping ended, the seconds per run, and the difference to ``--reference`` (always run):
the mean of the per-seed differences (same seed, both recipes) with a Student-t interval over
seeds. With 3 seeds the interval has 2 degrees of freedom (t = 4.30), so only large differences
exclude zero. The table is printed and written to ``--out`` (markdown) beside two CSV files
(the summary and every run) with the git commit, the machine, the date and the load average.

The run directory needs chapters 01–05 (promoters, split, targets, corpus, tokenizer) and, for
``florabert``, chapter 06's ``pretrain/model``. Recipes that start from a pretrained encoder
pretrain it here first, once for all seeds (its time is in the note, not the seconds per run).
Settings are compared on ``valid`` only: the test genes are never read.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import functools
import json
import math
import os
import platform
import re
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

#: Recipe name → (architecture overrides, fine-tuning overrides, pretrained?). Two keys of the
#: fine-tuning overrides belong to the benchmark: ``pretrain_steps`` (instead of
#: ``--pretrain-steps``) and ``init: "stem"`` (keep only the pretrained convolution stem; the
#: transformer layers start from random weights).
FLAT = {"head_epochs": None, "layer_decay": 1.0}
RECIPES: dict[str, tuple[dict, dict, bool]] = {
    "hybrid": ({}, {}, True),
    "hybrid, random init": ({}, FLAT, False),
    "hybrid, random init, pool 32": ({"pool": 32}, FLAT, False),
    "hybrid, flat LR, no head epoch": ({}, FLAT, True),
    "hybrid, flat LR, no head epoch, pool 32": ({"pool": 32}, FLAT, True),
    "hybrid, no strand aug.": ({}, {"rc": 0.0}, True),
    "hybrid, one group per epoch": ({}, {"unfreeze_every": 1, "head_epochs": None,
                                         "layer_decay": 0.7}, True),
    "hybrid, stem only pretrained": ({}, {"init": "stem", "head_epochs": None}, True),
    "hybrid, 4x pretraining": ({}, {"pretrain_steps": 1200}, True),
    "hybrid, probe": ({}, {"unfreeze_every": 0, "learning_rate": 3e-3}, True),
    "hybrid, no stem max": ({"pool_stem": False}, {}, True),
    "hybrid, wide (128)": ({"hidden_size": 128, "intermediate_size": 256}, {}, True),
    "hybrid, pool 8, 64 filters": ({"pool": 8, "stem_channels": 64,
                                    "intermediate_size": 256}, {}, True),
    "florabert": ({}, {}, True),
}
#: The small profile's settings (profiles/small.yml, chapter 07).
BASE_ARCH = dict(seq_length=1000, stem_channels=32, stem_kernel=15, pool=16, hidden_size=64,
                 num_hidden_layers=2, num_attention_heads=4, intermediate_size=128)
BASE_TUNE = dict(learning_rate=2e-3, weight_decay=0.05, layer_decay=0.9, unfreeze_every=None,
                 head_epochs=1, rc=0.5, batch_size=64)
#: FloraBERT's fine-tuning (its BPE RoBERTa of chapter 06 with a mean-pool head).
FLORABERT_TUNE = dict(learning_rate=5e-4, weight_decay=0.05, layer_decay=0.9, head_epochs=1)
#: ``stats["stopped_by"]`` → the table's words; runs not ended by early stopping did not
#: converge.
STOPPED = {"early stopping": "early stopping", "epochs": "epoch cap", "steps": "step cap",
           "time budget": "time budget"}


def select(only: list[str] | None, reference: str) -> list[str]:
    """The recipes ``--only`` names (by prefix, all by default), the reference among them.

    Raises:
        ValueError: an unknown reference or a prefix that names no recipe.
    """
    if reference not in RECIPES:
        raise ValueError(f"--reference {reference!r} is not a recipe; known: {list(RECIPES)}")
    for o in only or []:
        if not any(n.startswith(o) for n in RECIPES):
            raise ValueError(f"--only {o!r} names no recipe; known: {list(RECIPES)}")
    names = [n for n in RECIPES if not only or any(n.startswith(o) for o in only)]
    return names if reference in names else [reference, *names]


def t_interval(values, level: float = 0.95) -> tuple[float, float, float]:
    """``(mean, low, high)`` of ``values`` with a Student-t interval on ``n - 1`` degrees of
    freedom (low and high are NaN for fewer than two values)."""
    import numpy as np
    from scipy import stats

    v = np.asarray(values, dtype=float)
    mean = float(v.mean()) if len(v) else math.nan
    if len(v) < 2:
        return mean, math.nan, math.nan
    half = float(stats.t.ppf(0.5 + level / 2, len(v) - 1) * v.std(ddof=1) / math.sqrt(len(v)))
    return mean, mean - half, mean + half


def stopped_words(reasons) -> str:
    """How a recipe's runs ended, e.g. ``early stopping 2, epoch cap 1 (not converged)``."""
    counts: dict[str, int] = {}
    for r in reasons:
        counts[STOPPED.get(r, str(r))] = counts.get(STOPPED.get(r, str(r)), 0) + 1
    words = ", ".join(f"{k} {v}" for k, v in counts.items())
    if "time budget" in counts:
        return words + " (stopped by time budget, not converged)"
    if set(counts) - {"early stopping"}:
        return words + " (not converged)"
    return words


def summarise(runs, reference: str, level: float = 0.95):
    """One row per recipe of ``runs`` (one row per run: ``recipe``, ``seed``,
    ``best_valid_r2``, ``best_epoch``, ``epochs_run``, ``stopped_by``, ``seconds``, ``note``).

    The difference to ``reference`` is the mean over the seeds both recipes ran of
    ``r2(recipe, seed) - r2(reference, seed)`` with its Student-t interval (``delta_n`` seeds).
    """
    import pandas as pd

    ref = runs[runs["recipe"] == reference].set_index("seed")["best_valid_r2"]
    rows = []
    for name, g in runs.groupby("recipe", sort=False):
        r2 = g["best_valid_r2"].astype(float)
        paired = g.set_index("seed")["best_valid_r2"].astype(float).sub(ref).dropna()
        delta, low, high = t_interval(paired, level) if len(paired) else (math.nan,) * 3
        notes = [n for n in dict.fromkeys(g["note"].fillna("")) if n]
        rows.append({
            "recipe": name, "seeds": len(g), "valid_r2_mean": r2.mean(),
            "valid_r2_sd": r2.std(ddof=1) if len(g) > 1 else math.nan,
            "valid_r2_min": r2.min(), "valid_r2_max": r2.max(),
            "best_epoch_mean": g["best_epoch"].astype(float).mean(),
            "epochs_run_mean": g["epochs_run"].astype(float).mean(),
            "early_stopped": int((g["stopped_by"] == "early stopping").sum()),
            "seconds_mean": g["seconds"].astype(float).mean(),
            "delta_mean": math.nan if name == reference else delta,
            "delta_low": math.nan if name == reference else low,
            "delta_high": math.nan if name == reference else high,
            "delta_n": 0 if name == reference else len(paired),
            "stopped": stopped_words(g["stopped_by"]), "note": "; ".join(notes)})
    return pd.DataFrame(rows)


def _f(x, digits=3, sign=False) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "—"
    return f"{x:+.{digits}f}" if sign else f"{x:.{digits}f}"


def display(summary, reference: str, level: float = 0.95):
    """The summary as the printed table (strings)."""
    import pandas as pd

    pct = f"{level:.0%}"
    rows = []
    for r in summary.itertuples():
        delta = ("reference" if r.recipe == reference else
                 f"{_f(r.delta_mean, sign=True)} [{_f(r.delta_low, sign=True)}, "
                 f"{_f(r.delta_high, sign=True)}] (n={r.delta_n})")
        rows.append({
            "recipe": r.recipe, "seeds": str(r.seeds),
            "valid R² mean": _f(r.valid_r2_mean), "sd": _f(r.valid_r2_sd),
            "min–max": f"{_f(r.valid_r2_min)}–{_f(r.valid_r2_max)}",
            "best epoch": _f(r.best_epoch_mean, 1), "epochs run": _f(r.epochs_run_mean, 1),
            "early-stopped": f"{r.early_stopped}/{r.seeds}",
            "s per run": _f(r.seconds_mean, 0),
            f"Δ vs reference [{pct} t-interval]": delta,
            "stopped by": r.stopped, "note": r.note})
    return pd.DataFrame(rows)


def markdown(table) -> str:
    """``table`` (strings) as a markdown table."""
    cols = list(table.columns)
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    lines += ["| " + " | ".join(str(v) for v in row) + " |" for row in table.to_numpy()]
    return "\n".join(lines)


def machine() -> dict:
    """The git commit, the CPU model and cores, the GPU if any, and the date (UTC)."""
    root = Path(__file__).resolve().parents[1]

    def git(*cmd):
        try:
            return subprocess.run(["git", "-C", str(root), *cmd], capture_output=True,
                                  text=True, timeout=30).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            return ""

    sha = git("rev-parse", "--short", "HEAD") or "unknown"
    if git("status", "--porcelain", "--untracked-files=no"):
        sha += " + uncommitted changes"
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    out = {"git": sha, "cpu": cpu, "cores": os.cpu_count(),
           "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")}
    try:
        import torch

        if torch.cuda.is_available():
            out["gpu"] = torch.cuda.get_device_name(0)
    except ImportError:
        pass
    return out


def provenance(profile: str, seconds: float, command, load_start: float, **extra) -> dict:
    """:func:`machine` with the rest of what a committed record says about where it came from
    (:data:`cornlib.evaluate.recorded.META_KEYS`: the profile, the wall time, the command as
    ``python ...``), the 1-minute load average at ``load_start`` and now, and ``extra``."""
    return {**machine(), "profile": profile, "seconds": round(seconds, 1),
            "command": " ".join(["python", *map(str, command)]), **extra,
            "load_start": load_start, "load_end": os.getloadavg()[0]}


def pretrain_hybrid(run_dir: Path, arch: dict, steps: int, threads: int | None, out: Path):
    from cornlib import corpus, models, sequence
    from cornlib.training import bins

    seqs = corpus.read(run_dir / "corpus.parquet")["sequence"].tolist()
    codes = sequence.encode_fixed(seqs, length=arch["seq_length"])
    t0 = time.perf_counter()
    bins.pretrain(codes, None, models.CornHybridConfig(**arch), out, max_steps=steps,
                  threads=threads)
    return out / "model", time.perf_counter() - t0


def prepare(name: str, run_dir: Path, args, cache: dict) -> tuple[dict, str | None]:
    """What one recipe's runs need (``spec``, passed to :func:`train_recipe`) and why it is
    skipped (``None``: it runs). Pretrained encoders are made here, once per architecture
    and pretraining length."""
    arch_over, tune_over, pretrained = RECIPES[name]
    arch = {**BASE_ARCH, **arch_over}
    spec = {"name": name, "run_dir": str(run_dir), "arch": arch,
            "tune": {**BASE_TUNE, **tune_over}, "encoder": None, "note": "",
            "out": str(Path(args.work) / re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")),
            "options": dict(epochs=args.max_epochs, patience=args.patience,
                            max_seconds=args.seconds, device=args.device)}
    if name == "florabert":
        model_dir = run_dir / "pretrain" / "model"
        if not model_dir.is_dir():
            return spec, "no pretrain/model in the run directory (run chapter 06)"
        spec["encoder"] = str(model_dir)
    elif pretrained:
        steps = spec["tune"].pop("pretrain_steps", args.pretrain_steps)
        key = json.dumps([arch, steps], sort_keys=True)
        if key not in cache:
            cache[key] = pretrain_hybrid(run_dir, arch, steps, args.threads or args.cores,
                                         Path(args.work) / f"pre_{len(cache)}")
        path, secs = cache[key]
        spec["encoder"] = str(path)
        spec["note"] = f"pretrained {steps} steps in {secs:.0f} s"
    return spec, None


def train_recipe(spec: dict, seed: int, threads: int | None):
    """One run of a recipe (:func:`prepare`'s ``spec``) with ``seed``: the fine-tuning
    result without its model (it goes back to the parent process)."""
    from cornlib import dataset

    data = dataset.load(Path(spec["run_dir"]))
    out = Path(spec["out"]) / f"seed_{seed}"
    if spec["name"] == "florabert":
        res = _florabert(data, spec, seed, threads, out)
    else:
        res = _hybrid(data, spec, seed, threads, out)
    return dataclasses.replace(res, model=None)


def _hybrid(data, spec, seed, threads, out):
    from cornlib.models import CornHybridConfig, hybrid
    from cornlib.training import finetune as F

    arch, tune = spec["arch"], dict(spec["tune"])
    fields = {**F.target_fields(data), "n_targets": len(data.tissues)}
    sets = F.code_datasets(data, arch["seq_length"])
    init = tune.pop("init", None)
    if spec["encoder"] is None:
        model = hybrid.regressor(CornHybridConfig(**arch), seed=seed, **fields)
    else:
        model = F.initial_model({**fields, "pool_stem": arch.get("pool_stem", True)},
                                encoder=spec["encoder"], seed=seed)
        if init == "stem":
            fresh = hybrid.regressor(model.config, seed=seed)
            fresh.hybrid.conv.load_state_dict(model.hybrid.conv.state_dict())
            model = fresh
    rc = tune.pop("rc")
    return F.finetune(model, sets["train"], sets["valid"], out, target_names=data.tissues,
                      threads=threads, seed=seed, data_collator=F.StrandCollator(rc, seed),
                      **spec["options"], **tune)


def _florabert(data, spec, seed, threads, out):
    """FloraBERT's design: the BPE RoBERTa of chapter 06, fine-tuned with its mean-pool head."""
    import numpy as np
    import torch

    from cornlib import tokenize
    from cornlib.models import encoders
    from cornlib.training import finetune as F
    from cornlib.training import seeded

    tok = tokenize.load(spec["encoder"])
    fields = F.target_fields(data)
    with seeded(seed):
        model, _ = encoders.regressor_from_mlm(spec["encoder"], n_targets=len(data.tissues),
                                               **fields)
    length = model.config.max_tokens
    tok.truncation_side = "left"  # keep the TSS end

    class Tokens(torch.utils.data.Dataset):
        def __init__(self, split):
            rows = data.table[data.table["split"] == split]
            enc = tok(rows["sequence"].tolist(), truncation=True, max_length=length)
            self.ids = enc["input_ids"]
            self.y = rows[data.tissues].to_numpy(np.float32)

        def __len__(self):
            return len(self.ids)

        def __getitem__(self, i):
            return {"input_ids": self.ids[i], "labels": self.y[i]}

    def collate(batch):
        pad = tok.pad({"input_ids": [b["input_ids"] for b in batch]}, return_tensors="pt")
        return {**pad, "labels": torch.tensor(np.stack([b["labels"] for b in batch]))}

    return F.finetune(model, Tokens("train"), Tokens("valid"), out, target_names=data.tissues,
                      threads=threads, seed=seed, data_collator=collate,
                      batch_size=BASE_TUNE["batch_size"], **spec["options"], **FLORABERT_TUNE)


def florabert_note(spec) -> str:
    from cornlib import tokenize

    tok = tokenize.load(spec["encoder"])
    return f"BPE vocabulary {len(tok):,}"


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--run-dir", default="runs/small")
    p.add_argument("--seeds", type=int, default=3, help="runs per recipe (seeds 0..N-1)")
    p.add_argument("--patience", type=int, default=3,
                   help="evaluations (epochs) without a better valid R² before stopping")
    p.add_argument("--max-epochs", type=int, default=60,
                   help="epoch cap (a run that reaches it did not converge)")
    p.add_argument("--seconds", type=float, default=None,
                   help="optional safety budget per run (runs it ends are not converged)")
    p.add_argument("--reference", default="hybrid, random init",
                   help="the recipe the others are compared with (always run)")
    p.add_argument("--pretrain-steps", type=int, default=300)
    p.add_argument("--cores", type=int, default=None,
                   help="cores shared by a recipe's seeds (default: all)")
    p.add_argument("--threads", type=int, default=None,
                   help="torch threads per run (default: the cores over the runs side by side)")
    p.add_argument("--device", default="auto", help="auto, cpu or cuda")
    p.add_argument("--only", nargs="+", help="recipe names (prefixes) to run")
    p.add_argument("--work", default="/tmp/cornlib_recipes", help="scratch folder")
    p.add_argument("--out", default="benchmarks/results/finetune_recipes.md",
                   help="the table (markdown; CSV beside it)")
    args = p.parse_args(argv)
    if args.seeds < 1 or args.patience < 1 or args.max_epochs < 1:
        p.error("--seeds, --patience and --max-epochs must be at least 1")

    import pandas as pd

    from cornlib.training.seeds import plan, run_seeds, seed_list

    try:
        names = select(args.only, args.reference)
    except ValueError as e:
        p.error(str(e))
    run_dir = Path(args.run_dir)
    seeds = seed_list(0, args.seeds)
    cores = args.cores or os.cpu_count()
    workers, each = plan(len(seeds), device=args.device, cores=cores, threads=args.threads)
    info = machine()
    load_start = os.getloadavg()
    print(f"{len(names)} recipe(s) × seeds {seeds}: {workers} run(s) side by side, "
          f"{each or 'default'} thread(s) each; patience {args.patience}, "
          f"max {args.max_epochs} epochs, time budget "
          f"{'none' if args.seconds is None else f'{args.seconds:.0f} s'}", flush=True)
    cache: dict = {}
    runs = []
    for name in names:
        spec, skipped = prepare(name, run_dir, args, cache)
        if skipped:
            if name == args.reference:
                p.error(f"the reference {name!r} cannot run: {skipped}")
            print(f"{name:40s} skipped: {skipped}", flush=True)
            continue
        note = florabert_note(spec) if name == "florabert" else spec["note"]
        t0 = time.perf_counter()
        results = run_seeds(functools.partial(train_recipe, spec), seeds, device=args.device,
                            cores=cores, threads=args.threads)
        for seed, res in results.items():
            s = res.stats
            runs.append({"recipe": name, "seed": seed, "best_valid_r2": s.get("best_valid_r2"),
                         "best_epoch": s.get("best_epoch"), "epochs_run": s["epochs_run"],
                         "stopped_by": s["stopped_by"], "seconds": s["seconds"],
                         "note": note})
            print(f"{name:40s} seed {seed}: valid R² {_f(s.get('best_valid_r2'))} at epoch "
                  f"{_f(s.get('best_epoch'), 0)} of {s['epochs_run']:.1f} "
                  f"({STOPPED.get(s['stopped_by'], s['stopped_by'])}, {s['seconds']:.0f} s)",
                  flush=True)
        print(f"{name:40s} {len(seeds)} run(s) in {time.perf_counter() - t0:.0f} s",
              flush=True)
    load_end = os.getloadavg()
    runs = pd.DataFrame(runs)
    summary = summarise(runs, args.reference)
    table = display(summary, args.reference)
    header = [
        f"git {info['git']}; {info['cpu']}, {info['cores']} cores"
        + (f", GPU {info['gpu']}" if "gpu" in info else "") + f"; {info['date']}",
        f"run dir {run_dir}; seeds {seeds}, {workers} side by side with "
        f"{each or 'default'} thread(s) each on {cores} core(s), device {args.device}; "
        f"patience {args.patience}, max {args.max_epochs} epochs, time budget "
        f"{'none' if args.seconds is None else f'{args.seconds:.0f} s'}",
        f"load average (1 min) {load_start[0]:.2f} at start, {load_end[0]:.2f} at end",
        f"Δ: mean over seeds of (recipe − {args.reference}) best valid R², Student-t "
        f"interval on n − 1 degrees of freedom (wide with few seeds)"]
    text = markdown(table)
    print("\n" + "\n".join(header) + "\n\n" + text)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("# Fine-tuning recipes (valid genes)\n\n"
                   + "".join(f"- {h}\n" for h in header) + "\n" + text + "\n\n## Every run\n\n"
                   + markdown(runs.astype(str)) + "\n")
    meta = {k: str(v) for k, v in info.items()} | {
        "run_dir": str(run_dir), "load_start": f"{load_start[0]:.2f}",
        "load_end": f"{load_end[0]:.2f}", "patience": args.patience,
        "max_epochs": args.max_epochs, "time_budget_s": args.seconds, "reference": args.reference}
    summary.assign(**meta).to_csv(out.with_suffix(".csv"), index=False)
    runs.assign(**meta).to_csv(out.with_name(out.stem + "_runs.csv"), index=False)
    print(f"\nwritten: {out}, {out.with_suffix('.csv')}, {out.stem}_runs.csv")
    return 0


if __name__ == "__main__":
    sys.exit(main())
