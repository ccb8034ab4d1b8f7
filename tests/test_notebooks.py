"""Every notebook of the book runs, in _toc.yml order, through the papermill driver (tiny profile).

The run directory is the session fixture ``tiny_run_dir`` (conftest.py), which
tests/test_rendered.py reads afterwards, so the notebooks run once."""

import pytest

from cornlib import profiles, run

NOTEBOOKS = run.notebooks()
_failed: list[str] = []


@pytest.mark.notebooks
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs(path, tiny_run_dir):
    if _failed:
        pytest.skip(f"an earlier notebook failed ({_failed[0]}), and this one reads its outputs")
    params = profiles.load("tiny")
    try:
        entry = run.run_notebook(path, tiny_run_dir, params, progress=False, timeout=1200)
    except Exception:
        _failed.append(path.stem)
        raise
    assert entry["status"] == "ok"
    assert (tiny_run_dir / f"{path.stem}.ipynb").exists()


@pytest.mark.notebooks
def test_gpu_script_dry_run(tiny_run_dir):
    """benchmarks/gpu/run.py runs its stages on the tiny run directory (tiny model, CPU)."""
    import json
    import subprocess
    import sys

    from cornlib.paths import REPO_ROOT

    if _failed:
        pytest.skip(f"an earlier notebook failed ({_failed[0]})")
    subprocess.run([sys.executable, str(REPO_ROOT / "benchmarks" / "gpu" / "run.py"),
                    "--run-dir", str(tiny_run_dir), "--dry-run"], check=True, timeout=900,
                   capture_output=True)
    record = json.loads((tiny_run_dir / "gpu" / "metrics.json").read_text())
    assert record["dry_run"] and record["pretrain"]["steps"] == 4
    assert record["finetune"]["best_valid_r2"] is not None
    assert -1 <= record["test_pearson_r2"] <= 1
