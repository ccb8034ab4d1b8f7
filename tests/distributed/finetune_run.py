"""Fine-tune a tiny hybrid on a planted motif; run alone or under torchrun (see
tests/test_distributed.py). Writes ``result.json`` (rank 0) into the folder given."""

import json
import sys
from pathlib import Path

import numpy as np
import torch

from cornlib import models, sequence, training
from cornlib.training import finetune as F


def data(n=512, seed=0):
    rng = np.random.default_rng(seed)
    seqs, y = [], []
    for _ in range(n):
        s = list(rng.choice(list("ACGT"), 64))
        k = int(rng.integers(0, 3))
        for j in range(k):
            s[8 + 20 * j: 14 + 20 * j] = "TATAAA"
        seqs.append("".join(s))
        y.append([k + rng.normal(0, 0.1)])
    return sequence.encode_fixed(seqs, length=64), np.asarray(y, np.float32)


def main(out: str, batch_size: int) -> None:
    codes, y = data()
    config = models.CornHybridConfig(
        seq_length=64, stem_channels=8, stem_kernel=7, pool=8, hidden_size=16,
        num_hidden_layers=1, num_attention_heads=2, intermediate_size=32, n_targets=1,
        head_dropout=0.0, target_names=["a"], target_mean=[1.0], target_std=[0.8])
    torch.manual_seed(0)
    model = models.CornHybridForRegression(config)
    res = F.finetune(model, training.ArrayDataset(codes[:384], y[:384]),
                     training.ArrayDataset(codes[384:], y[384:]), out, target_names=["a"],
                     epochs=16, batch_size=batch_size, learning_rate=3e-3, patience=None,
                     device="cpu", seed=0)
    if int(__import__("os").environ.get("RANK", "0")) == 0:
        Path(out, "result.json").write_text(json.dumps(res.stats))


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))
