"""One perturbation signature for in-silico mutagenesis, k-mer flips and variant effects.

Every method builds mutant strings from reference sequences and scores them here, through any
:class:`cornlib.models.predictor.Predictor` (the fine-tuned transformer, the CNN, a scikit-learn
baseline), in the spirit of tangermeme: inputs are checked first, mutants are new strings (the
references are never modified), references are predicted once, and mutants in large batches.
Because mutants go through the predictor as strings, a model that reads BPE tokens re-tokenises
every mutant (one base change can change the segmentation around it): nothing here assumes
that a mutant has the reference's tokens.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from cornlib.sequence import mutate


@dataclass(frozen=True)
class Effects:
    """Predictions for references and their mutants.

    Attributes:
        reference: ``(n_references, n_targets)`` predictions of the references.
        mutant: ``(n_mutants, n_targets)`` predictions of the mutants.
        owner: ``(n_mutants,)`` index of each mutant's reference.
        targets: the target (tissue) names.
    """

    reference: np.ndarray
    mutant: np.ndarray
    owner: np.ndarray
    targets: list[str]

    @property
    def delta(self) -> np.ndarray:
        """Mutant minus its reference, ``(n_mutants, n_targets)``."""
        return self.mutant - self.reference[self.owner]


def _check_owner(owner: Sequence[int], n_mutants: int, n_refs: int) -> np.ndarray:
    owner = np.asarray(owner, dtype=np.int64).reshape(-1)
    if len(owner) != n_mutants:
        raise ValueError(f"{n_mutants} mutants but {len(owner)} owner indices")
    if len(owner) and (owner.min() < 0 or owner.max() >= n_refs):
        bad = owner[(owner < 0) | (owner >= n_refs)][0]
        raise ValueError(f"owner index {bad} does not name one of the {n_refs} references")
    return owner


def score(predictor, references: Sequence[str], mutants: Sequence[str], owner: Sequence[int], *,
          batch_size: int = 256, device: str = "auto", progress: bool | None = None) -> Effects:
    """Predict ``references`` and ``mutants`` (``owner[i]``: the reference of mutant ``i``).

    Raises:
        ValueError: no references, an owner index out of range, or a non-DNA letter (naming
            the reference or mutant).
    """
    references = list(references)
    if not references:
        raise ValueError("no reference sequences")
    mutants = list(mutants)
    owner = _check_owner(owner, len(mutants), len(references))
    kw: dict[str, Any] = dict(batch_size=batch_size, device=device)
    ref = predictor.predict(references, [f"reference {i}" for i in range(len(references))],
                            progress=False, **kw).to_numpy(np.float32)
    if mutants:
        mut = predictor.predict(mutants, [f"mutant {i}" for i in range(len(mutants))],
                                progress=progress, **kw).to_numpy(np.float32)
    else:
        mut = np.zeros((0, ref.shape[1]), np.float32)
    return Effects(ref, mut, owner, list(predictor.targets))


def apply_edits(references: Sequence[str], owner: Sequence[int],
                edits: Sequence[mutate.Edit]) -> list[str]:
    """Mutant strings: ``edits[i]`` applied to ``references[owner[i]]`` (copies)."""
    owner = _check_owner(owner, len(edits), len(references))
    out = []
    for i, (o, e) in enumerate(zip(owner, edits)):
        try:
            out.append(mutate.apply(references[o], e))
        except ValueError as err:
            raise ValueError(f"edit {i} of reference {o}: {err}") from None
    return out


def score_edits(predictor, references: Sequence[str], owner: Sequence[int],
                edits: Sequence[mutate.Edit], **kw: Any) -> Effects:
    """:func:`score` of ``edits`` (substitutions, insertions, deletions) of the references."""
    return score(predictor, references, apply_edits(references, owner, edits), owner, **kw)
