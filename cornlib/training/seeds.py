"""Several training runs of one recipe that differ only in their seed, on the machine's cores.

A comparison between models holds only if it outlasts another seed, so the book trains each
compared model several times. On a CPU one run uses two threads poorly (about 1.2–1.5× one
thread's speed, ``benchmarks/train_throughput.py``), so :func:`run_seeds` runs the seeds side by
side, one process each, with the cores shared out among them; on a GPU, or with one worker, they
run one after the other in this process.
"""

from __future__ import annotations

import os
from typing import Callable, Sequence

from cornlib.training.driver import TrainResult


def seed_list(seed: int, n_seeds: int) -> list[int]:
    """The seeds of ``n_seeds`` runs starting at ``seed``: ``seed, seed + 1, ...``."""
    if n_seeds < 1:
        raise ValueError(f"n_seeds must be at least 1, got {n_seeds}")
    return [int(seed) + i for i in range(int(n_seeds))]


def plan(n_runs: int, *, device: str = "cpu", cores: int | None = None,
         threads: int | None = None) -> tuple[int, int | None]:
    """``(workers, threads per run)`` for ``n_runs`` runs.

    On a CPU every run gets a worker, up to twice the cores (``os.cpu_count()`` by default):
    fewer runs than cores share the cores out (``threads`` caps each run); more runs than cores
    take one thread each and the operating system shares the cores among them, which keeps every
    core busy until the last run ends (three runs on two cores finish together instead of the
    third running alone). On a GPU: one worker, the run's own thread setting.
    """
    from cornlib.runtime import resolve_device

    if resolve_device(device) != "cpu":
        return 1, threads
    cores = int(cores or os.cpu_count() or 1)
    workers = max(1, min(n_runs, 2 * cores))
    each = max(1, cores // workers)
    return workers, each if threads is None else max(1, min(threads, each))


def _child(train: Callable[[int, int | None], TrainResult], seed: int, threads: int | None):
    os.environ.setdefault("TQDM_DISABLE", "1")
    return train(seed, threads)


def run_seeds(train: Callable[[int, int | None], TrainResult], seeds: Sequence[int], *,
              device: str = "cpu", cores: int | None = None, threads: int | None = None
              ) -> dict[int, TrainResult]:
    """Call ``train(seed, threads)`` for every seed and return ``{seed: result}`` in order.

    ``train`` builds its model from the seed and trains it through :func:`cornlib.training.run`
    (each run writes its own folder). With more than one worker (:func:`plan`) the calls run in
    separate processes (``joblib``'s loky backend, which pickles closures), each with
    ``threads`` torch threads; an exception in a run is raised here.
    """
    seeds = [int(s) for s in seeds]
    if len(set(seeds)) != len(seeds):
        raise ValueError(f"seeds repeat: {seeds}")
    workers, each = plan(len(seeds), device=device, cores=cores, threads=threads)
    if workers == 1:
        return {s: train(s, each) for s in seeds}
    from joblib import Parallel, delayed

    results = Parallel(n_jobs=workers, backend="loky")(
        delayed(_child)(train, s, each) for s in seeds)
    return dict(zip(seeds, results))


def keep_best(results: dict[int, TrainResult], out_dir: str | os.PathLike) -> int:
    """Copy the model of the seed with the best valid R² to ``out_dir / "model"`` and record
    every seed's run in ``out_dir / "seeds.json"``; return that seed.

    The copy is the one model later chapters read (interpretation, variant effects, ``cornlib
    predict``): a choice made on ``valid``. Scores over seeds come from every run.
    """
    import json
    import shutil
    from pathlib import Path

    out_dir = Path(out_dir)
    runs = {s: r.stats for s, r in results.items()}
    missing = [s for s, st in runs.items() if "best_valid_r2" not in st]
    if missing:
        raise ValueError(f"the runs of seeds {missing} scored no valid R²; train with targets")
    best = max(runs, key=lambda s: runs[s]["best_valid_r2"])
    shutil.rmtree(out_dir / "model", ignore_errors=True)
    shutil.copytree(Path(results[best].output_dir) / "model", out_dir / "model")
    record = {"chosen_seed": best, "criterion": "best mean valid R² over the targets",
              "runs": {str(s): {k: st.get(k) for k in ("best_valid_r2", "best_epoch",
                                                       "epochs_run", "stopped_by", "seconds")}
                       for s, st in runs.items()}}
    (out_dir / "seeds.json").write_text(json.dumps(record, indent=1))
    return best
