"""Fine-tuning recipes side by side: each trains for the same wall-clock budget on one run
directory's train genes and prints its best valid R² (mean over the simulated tissues).

    .venv/bin/python benchmarks/finetune_recipes.py --run-dir runs/small --seconds 150
    .venv/bin/python benchmarks/finetune_recipes.py --run-dir runs/small --only hybrid florabert

The run directory needs chapters 01–05 (promoters, split, targets, corpus, tokenizer); recipes
that start from a pretrained encoder pretrain it here first (its time is printed separately and
not charged to the fine-tuning budget). Settings are compared on ``valid`` only: the test genes
are never read. Record the machine and its load with the table.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

#: Recipe name → (architecture overrides, fine-tuning overrides, pretrained?). Two keys of the
#: fine-tuning overrides belong to the benchmark: ``pretrain_steps`` (instead of
#: ``--pretrain-steps``) and ``init: "stem"`` (keep only the pretrained convolution stem; the
#: transformer layers start from random weights).
RECIPES: dict[str, tuple[dict, dict, bool]] = {
    "hybrid": ({}, {}, True),
    "hybrid, random init": ({}, {"head_epochs": None, "layer_decay": 1.0}, False),
    "hybrid, flat LR, no head epoch": ({}, {"head_epochs": None, "layer_decay": 1.0}, True),
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
                 head_epochs=1, rc=0.5, batch_size=64, patience=4)


def pretrain_hybrid(run_dir: Path, arch: dict, steps: int, threads: int, out: Path):
    from cornlib import corpus, models, sequence
    from cornlib.training import bins

    seqs = corpus.read(run_dir / "corpus.parquet")["sequence"].tolist()
    codes = sequence.encode_fixed(seqs, length=arch["seq_length"])
    t0 = time.perf_counter()
    bins.pretrain(codes, None, models.CornHybridConfig(**arch), out, max_steps=steps,
                  threads=threads)
    return out / "model", time.perf_counter() - t0


def hybrid_run(name, data, run_dir, arch_over, tune_over, pretrained, args, cache):
    from cornlib.models import CornHybridConfig, encoders, hybrid
    from cornlib.training import finetune as F

    arch = {**BASE_ARCH, **arch_over}
    tune = {**BASE_TUNE, **tune_over}
    fields = {**F.target_fields(data), "n_targets": len(data.tissues)}
    sets = F.code_datasets(data, arch["seq_length"])
    note = ""
    if pretrained:
        steps = tune.get("pretrain_steps", args.pretrain_steps)
        key = json.dumps([arch, steps], sort_keys=True)
        if key not in cache:
            cache[key] = pretrain_hybrid(run_dir, arch, steps, args.threads,
                                         Path(args.work) / f"pre_{len(cache)}")
        path, secs = cache[key]
        model, _ = encoders.regressor_from_mlm(path, **fields,
                                               pool_stem=arch.get("pool_stem", True))
        note = f"pretrained {steps} steps in {secs:.0f} s"
        if tune.get("init") == "stem":
            fresh = hybrid.regressor(model.config)
            fresh.hybrid.conv.load_state_dict(model.hybrid.conv.state_dict())
            model, note = fresh, note + ", stem kept"
    else:
        model = hybrid.regressor(CornHybridConfig(**arch), **fields)
    rc = tune.pop("rc")
    tune.pop("init", None), tune.pop("pretrain_steps", None)
    res = F.finetune(model, sets["train"], sets["valid"], Path(args.work) / name,
                     target_names=data.tissues, max_seconds=args.seconds, epochs=100,
                     threads=args.threads, data_collator=F.StrandCollator(rc, 0), **tune)
    return res.stats, note


def florabert_run(data, run_dir, args):
    """FloraBERT's design: the BPE RoBERTa of chapter 06, fine-tuned with its mean-pool head."""
    import numpy as np
    import torch

    from cornlib import tokenize
    from cornlib.models import encoders
    from cornlib.training import finetune as F

    model_dir = run_dir / "pretrain" / "model"
    if not model_dir.is_dir():
        return None, "no pretrain/model in the run directory (run chapter 06)"
    tok = tokenize.load(model_dir)
    fields = F.target_fields(data)
    model, _ = encoders.regressor_from_mlm(model_dir, n_targets=len(data.tissues), **fields)
    length = model.config.max_tokens

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

    tok.truncation_side = "left"  # keep the TSS end
    res = F.finetune(model, Tokens("train"), Tokens("valid"), Path(args.work) / "florabert",
                     target_names=data.tissues, max_seconds=args.seconds, epochs=100,
                     learning_rate=5e-4, weight_decay=0.05, layer_decay=0.9, head_epochs=1,
                     patience=4, threads=args.threads, data_collator=collate)
    return res.stats, f"BPE vocabulary {len(tok)}, {length} tokens"


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--run-dir", default="runs/small")
    p.add_argument("--seconds", type=float, default=150, help="fine-tuning budget per recipe")
    p.add_argument("--pretrain-steps", type=int, default=300)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--only", nargs="+", help="recipe names (prefixes) to run")
    p.add_argument("--work", default="/tmp/cornlib_recipes", help="scratch folder")
    args = p.parse_args(argv)

    from cornlib import dataset

    run_dir = Path(args.run_dir)
    data = dataset.load(run_dir)
    names = [n for n in RECIPES if not args.only or any(n.startswith(o) for o in args.only)]
    cache: dict = {}
    rows = []
    for name in names:
        t0 = time.perf_counter()
        if name == "florabert":
            stats, note = florabert_run(data, run_dir, args)
        else:
            stats, note = hybrid_run(name, data, run_dir, *RECIPES[name], args, cache)
        if stats is None:
            print(f"{name:28s} skipped: {note}", flush=True)
            continue
        rows.append((name, stats, note))
        print(f"{name:28s} valid R² {stats['best_valid_r2']:.3f}  epochs "
              f"{stats['epochs_run']:.1f}  ({stats['stopped_by']}, "
              f"{time.perf_counter() - t0:.0f} s)  {note}", flush=True)
    print(f"\nbudget {args.seconds:.0f} s per recipe, {args.threads} thread(s), "
          f"load average {os.getloadavg()[0]:.1f}, run dir {run_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
