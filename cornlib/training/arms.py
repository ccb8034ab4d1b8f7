"""Which fine-tuning runs (arms) chapter 07 trains, and what it says about the ones it leaves out.

The pretrained arm and the probe answer "does pretraining help?" only when the pretraining
learned more than composition (:func:`cornlib.evaluate.hidden_bins.passes`); cross-species runs
only when a profile can afford them converged. A run folder left from an earlier build of the
same run directory would be read by the next chapter as if it were current, so arms that are
not trained are removed (:func:`clear_runs`).
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Sequence

import pandas as pd

#: The arms of the pretraining ablation (folders under ``finetune/``).
ABLATION_RUNS = ("pretrained", "probe")


def ablation_note(passed: bool, ablation: bool | str) -> str:
    """Why the ablation runs or not, from the pretraining test and the ``ablation`` setting
    (``"auto"``: run it exactly when the test passed)."""
    if ablation == "auto":
        if passed:
            return ("So the ablation runs: the pretrained encoder, fine-tuned and as a frozen "
                    "probe, each with the seeds of the arm from random weights.")
        return ("So the ablation is not run: an encoder that predicts hidden bases no better "
                "than composition has nothing to give fine-tuning that random weights lack, "
                "and asking whether it helps would only measure seed noise.")
    if ablation not in (True, False):
        raise ValueError(f"ablation must be 'auto', True or False, not {ablation!r}")
    if ablation:
        return ("The ablation runs because `ablation = True` asks for it, whatever the test "
                "above says.")
    if passed:
        return ("So the question is worth asking, but its answer costs more than this profile "
                "affords: the pretrained encoder fine-tuned and as a frozen probe, each trained "
                "to convergence with every seed, triples the training of this chapter. This "
                "profile leaves it out (`ablation = False`); the recorded longer run (profile "
                "`long`) trains it, and the next chapter shows its numbers beside these.")
    return ("The ablation is switched off (`ablation = False`), and the test gives no reason to "
            "run it.")


def clear_runs(finetune_dir: str | os.PathLike, runs: Sequence[str]) -> list[str]:
    """Remove the folders ``finetune_dir / run`` of arms this build does not train; return the
    names removed."""
    removed = []
    for run in runs:
        folder = Path(finetune_dir) / run
        if folder.exists():
            shutil.rmtree(folder)
            removed.append(run)
    return removed


def chosen_seed(run_folder: str | os.PathLike) -> int:
    """The seed whose model a seeded run keeps (``seeds.json``,
    :func:`cornlib.training.seeds.keep_best`)."""
    path = Path(run_folder) / "seeds.json"
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing: {Path(run_folder).name} was not trained "
                                "with several seeds (cornlib.training.finetune.finetune_seeds)")
    return int(json.loads(path.read_text())["chosen_seed"])


def cross_species_runs(species: Sequence[str]) -> list[str]:
    """The cross-species run folders for these species (``from_<species>``; none for one)."""
    names = sorted(set(species))
    return [f"from_{s}" for s in names] if len(names) > 1 else []


def cross_species_note(enabled: bool, species: Sequence[str]) -> str:
    """What the chapter says about cross-species runs."""
    from cornlib.data.answer_key import cross_species_note as one_species

    names = sorted(set(species))
    if len(names) < 2:
        return one_species(names)
    if not enabled:
        return ("Cross-species runs are not trained in this profile (`cross_species = False`): "
                "trained to convergence in both directions they cost about as much again as "
                "the arm above, beyond the small profile's budget, and runs cut short learn "
                "nothing that could carry over. The full and GPU profiles train them.")
    return ("Both directions were trained until early stopping on their own species' valid "
            "genes ended them; the next chapter tests each on the other species.")


def convergence_sentence(table: pd.DataFrame) -> str:
    """Which runs of :func:`cornlib.training.finetune.runs_table` (rows named by run)
    converged, in one sentence: a run converged when early stopping on ``valid`` ended it (its
    best epoch lies before its last); a run stopped by its epochs or its time budget had not
    shown a plateau."""
    stopped = table["stopped_by"].astype(str)
    open_ = [str(name) for name, how in stopped.items() if how != "early stopping"]
    if not open_:
        return "Every run was ended by early stopping on valid: each passed its best epoch."
    return (f"{len(open_)} of {len(table)} runs ({'; '.join(open_)}) were ended by their epochs "
            "or their time budget, not by early stopping on valid: their histories show no "
            "plateau, so their scores are those of models still learning, not of converged ones.")


def describe_schedule(head_epochs: int | None, layer_decay: float,
                      unfreeze_every: int | None) -> str:
    """The fine-tuning schedule in words, for a chapter's text."""
    parts = []
    if head_epochs:
        parts.append(f"for the first {head_epochs} epoch(s) only the head has gradients")
    if unfreeze_every:
        parts.append(f"then one more layer group is unfrozen every {unfreeze_every} epoch(s), "
                     "top down")
    elif head_epochs:
        parts.append("then every layer group trains")
    else:
        parts.append("every layer group trains from the first step")
    parts.append(f"each at {layer_decay:g} times the learning rate of the group above it"
                 if layer_decay != 1 else "all at one learning rate")
    return ", ".join(parts)


#: Folder prefix of the ablation's extra pretraining lengths (``pretrained_<steps>``).
LENGTH_PREFIX = "pretrained_"


def length_runs(finetune_dir: str | os.PathLike) -> list[str]:
    """The ``pretrained_<steps>`` arms in ``finetune_dir``, by number of steps."""
    found = [p.name for p in Path(finetune_dir).glob(f"{LENGTH_PREFIX}*")
             if p.is_dir() and p.name[len(LENGTH_PREFIX):].isdigit()]
    return sorted(found, key=lambda name: int(name[len(LENGTH_PREFIX):]))


def trend_table(gates: dict[int, pd.DataFrame], runs: dict[int, dict]) -> pd.DataFrame:
    """One row per pretraining length: the pretraining's bits per base against composition and
    the Markov chain on held-out clusters (:func:`cornlib.evaluate.hidden_bins.score`'s
    differences) and the mean (and sd) over seeds of its fine-tuned arm's best valid R².

    Args:
        gates: steps → the interval table of that pretraining.
        runs: steps → ``{seed: TrainResult}`` of the arm fine-tuned from it.
    """
    import numpy as np

    rows = []
    for steps in sorted(gates):
        gate = gates[steps].set_index("metric")
        r2 = np.array([r.stats["best_valid_r2"] for r in runs[steps].values()])
        rows.append({"pretraining steps": steps,
                     "vs composition (bits/base)": float(gate.loc["model_minus_composition",
                                                                  "value"]),
                     "vs Markov (bits/base)": float(gate.loc["model_minus_markov", "value"]),
                     "passes": bool((gate["verdict"].dropna() == "better").all()),
                     "valid R² (mean of seeds)": float(r2.mean()),
                     "sd": float(r2.std(ddof=1)) if len(r2) > 1 else float("nan")})
    return pd.DataFrame(rows)
