"""Smoke tests of the benchmarks in ``benchmarks/`` (tiny sizes; no timing thresholds)."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

from cornlib.paths import REPO_ROOT


@pytest.mark.slow
def test_train_throughput_quick():
    """train_throughput.py --quick prints its table: both models, both setups, each thread
    count, positive rates and fractions of a positive measured peak."""
    out = subprocess.run(
        [sys.executable, str(REPO_ROOT / "benchmarks" / "train_throughput.py"), "--quick",
         "--threads", "1", "2"],
        check=True, capture_output=True, text=True, timeout=600,
        env={**os.environ, "HF_HUB_OFFLINE": "1", "TQDM_DISABLE": "1"}).stdout
    assert "random base codes" in out
    assert "FlopCounterMode" in out
    peaks = re.findall(r"fp32 matmul peak, (\d) thread\(s\): ([\d.]+) GFLOP/s", out)
    assert {t for t, _ in peaks} == {"1", "2"}
    assert all(float(v) > 0 for _, v in peaks)
    assert any(line.split() == ["model", "threads", "setup", "steps", "batch", "seconds",
                                "seq/s", "GFLOP/s", "%", "of", "peak", "vs", "plain"]
               for line in out.splitlines())
    rows = [line.split() for line in out.splitlines()
            if line.split()[:1] in (["hybrid"], ["cnn"]) and len(line.split()) == 10]
    seen = {(r[0], r[1], r[2]) for r in rows}
    assert seen == {(m, t, s) for m in ("hybrid", "cnn") for t in ("1", "2")
                    for s in ("plain", "driver")}
    for r in rows:
        seq_s, gflop_s, share, ratio = (float(x) for x in r[6:10])
        assert seq_s > 0 and gflop_s > 0 and share > 0 and ratio > 0
    mflop = dict(re.findall(r"^(hybrid|cnn): ([\d.]+) MFLOP per sequence", out, re.M))
    assert set(mflop) == {"hybrid", "cnn"} and all(float(v) > 0 for v in mflop.values())
