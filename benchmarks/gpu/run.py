"""The GPU profile's model stages in one call: pretrain the FloraBERT-size hybrid encoder,
fine-tune it for every simulated tissue, score it on the test genes, and report model FLOP
utilisation (MFU) and the share of the noise ceiling reached.

Prepare the data stages on a CPU machine (chapters 01–05 of the small or gpu profile), carry
the run directory to the GPU box and run this script there; it needs only torch, transformers,
pandas, pyarrow, scikit-learn and this repository (no papermill, no registry):

    python -m cornlib.run --profile gpu --only 01 02 03 04 05      # on the CPU machine
    python benchmarks/gpu/run.py --run-dir runs/gpu                 # on the GPU machine
    python benchmarks/gpu/run.py --run-dir runs/small --dry-run     # anywhere: tiny, CPU

It prints one line per stage and writes ``<run-dir>/gpu/metrics.json`` and a copy named by
date and git SHA under ``benchmarks/results/`` (the figures the book shows as a recorded run).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))  # the repository, when cornlib is not installed

#: Dense bf16 peak FLOP/s of known cards (vendor figures, no sparsity).
PEAK_BF16 = {"H200": 989e12, "H100": 989e12, "A100": 312e12, "L40S": 362e12}


def peak_flops(device_name: str) -> float | None:
    """The bf16 peak of a card named like ``NVIDIA H200`` (``None`` if unknown)."""
    for key, value in PEAK_BF16.items():
        if key in device_name:
            return value
    return None


def profile_values(path: Path) -> dict:
    import yaml

    return yaml.safe_load(path.read_text())


def git_sha() -> str | None:
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, text=True,
                              capture_output=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--run-dir", required=True, help="a run directory with chapters 01–05")
    p.add_argument("--profile", default=str(ROOT / "profiles" / "gpu.yml"))
    p.add_argument("--dry-run", action="store_true", help="tiny model, few steps, CPU")
    p.add_argument("--finetune-seconds", type=float, default=None)
    args = p.parse_args(argv)

    import pandas as pd
    import torch

    from cornlib import corpus, dataset, models, sequence
    from cornlib.evaluate import metrics
    from cornlib.evaluate.predictions import long_predictions
    from cornlib.models import encoders, predictor
    from cornlib.models.hybrid import flops_per_sequence
    from cornlib.training import bins
    from cornlib.training import finetune as F

    prof = profile_values(Path(args.profile))
    run_dir = Path(args.run_dir)
    out = run_dir / "gpu"
    cuda = torch.cuda.is_available() and not args.dry_run
    device = "cuda" if cuda else "cpu"
    name = torch.cuda.get_device_name(0) if cuda else "cpu"
    arch = dict(seq_length=prof["hybrid_seq_length"], stem_channels=prof["hybrid_channels"],
                stem_kernel=prof["hybrid_kernel"], pool=prof["hybrid_pool"],
                hidden_size=prof["hybrid_hidden"], num_hidden_layers=prof["hybrid_layers"],
                num_attention_heads=prof["hybrid_heads"],
                intermediate_size=prof["hybrid_intermediate"])
    steps, batch = prof["hybrid_pretrain_steps"], prof["finetune_batch_size"]
    budget = args.finetune_seconds or prof["finetune_seconds"]
    if args.dry_run:
        arch.update(stem_channels=8, hidden_size=16, num_hidden_layers=1,
                    num_attention_heads=2, intermediate_size=32)
        steps, batch, budget = 4, 16, 10
    config = models.CornHybridConfig(**arch)
    print(f"[gpu] {name}; hybrid {arch}", flush=True)

    t_all = time.perf_counter()
    data = dataset.load(run_dir)
    seqs = corpus.read(run_dir / "corpus.parquet")["sequence"].tolist()
    codes = sequence.encode_fixed(seqs, length=config.seq_length)
    torch.backends.cuda.matmul.allow_tf32 = True
    pre = bins.pretrain(codes, codes[:256], config, out / "pretrain", max_steps=steps,
                        batch_size=batch, learning_rate=prof["hybrid_pretrain_lr"],
                        device=device, logging_steps=max(1, steps // 10),
                        eval_steps=max(1, steps // 2))
    seq_s = pre.stats["sequences_per_second"]
    flops = 3 * flops_per_sequence(config) * seq_s  # forward + backward ≈ 3 × forward
    peak = peak_flops(name) if cuda else None
    mfu = flops / peak if peak else None
    print(f"[gpu] pretraining: {pre.stats} -> {flops / 1e12:.1f} TFLOP/s, MFU "
          f"{'n/a' if mfu is None else f'{mfu:.1%}'}", flush=True)

    sets = F.code_datasets(data, config.seq_length)
    fields = F.target_fields(data)
    model, report = encoders.regressor_from_mlm(out / "pretrain" / "model",
                                                n_targets=len(data.tissues), **fields)
    tuned = F.finetune(model, sets["train"], sets["valid"], out / "finetune",
                       target_names=data.tissues, epochs=prof["finetune_epochs"],
                       batch_size=batch, learning_rate=prof["finetune_lr"],
                       weight_decay=prof["finetune_weight_decay"],
                       layer_decay=prof["finetune_layer_decay"],
                       unfreeze_every=prof["finetune_unfreeze_every"],
                       head_epochs=prof.get("finetune_head_epochs"),
                       patience=prof["finetune_patience"], max_seconds=budget, device=device,
                       data_collator=F.StrandCollator(prof["finetune_rc"], 0))
    print(f"[gpu] fine-tuning: {tuned.stats}", flush=True)
    if int(os.environ.get("RANK", "0")) != 0:  # under torchrun, rank 0 evaluates and writes
        return 0

    pred = long_predictions(predictor.load(out / "finetune" / "model"), data, "test",
                            name="transformer (gpu)", device=device)
    signal_path = run_dir / "targets" / "signal.parquet"
    signal = pd.read_parquet(signal_path) if signal_path.exists() else None
    results = metrics.evaluate_predictions(
        pred, overall_targets=data.tissues, n_bootstrap=200, seed=0,
        groups=data.table.set_index("gene_id")["cluster_id"], signal=signal,
        ceiling=None if signal is not None else data.ceiling)
    pick = results.set_index(["target", "metric"])
    record = {
        "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "git_sha": git_sha(), "device": name, "dry_run": args.dry_run,
        "torch": torch.__version__, "architecture": arch,
        "parameters": int(sum(p.numel() for p in pre.model.parameters())),
        "pretrain": pre.stats, "train_tflops": round(flops / 1e12, 2),
        "peak_bf16_tflops": None if peak is None else peak / 1e12, "mfu": mfu,
        "finetune": tuned.stats, "load_report": report,
        "test_pearson_r2": float(pick.loc[("overall", "pearson_r2"), "value"]),
        "test_pearson_r2_ci": [float(pick.loc[("overall", "pearson_r2"), c])
                               for c in ("ci_low", "ci_high")],
        "share_of_ceiling_r2": (float(pick.loc[("overall", "r2_of_ceiling"), "value"])
                                if ("overall", "r2_of_ceiling") in pick.index else None),
        "seconds_total": round(time.perf_counter() - t_all, 1),
    }
    out.mkdir(parents=True, exist_ok=True)
    (out / "metrics.json").write_text(json.dumps(record, indent=2, default=float))
    if not args.dry_run:
        results_dir = ROOT / "benchmarks" / "results"
        results_dir.mkdir(exist_ok=True)
        stamp = f"gpu-{record['date'][:10]}-{record['git_sha'] or 'nogit'}.json"
        (results_dir / stamp).write_text(json.dumps(record, indent=2, default=float))
    print(json.dumps({k: record[k] for k in ("device", "mfu", "test_pearson_r2",
                                             "share_of_ceiling_r2", "seconds_total")},
                     default=float), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
