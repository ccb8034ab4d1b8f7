"""Examples and batches: arrays of inputs and labels, token ids for masked-LM training, and
the masking collator."""

from __future__ import annotations

from typing import Any

import numpy as np

from cornlib.training.trainer import derive_seed


class ArrayDataset:
    """Map-style dataset of fixed-width inputs (n, L) and float labels (n, T) for the Trainer
    (``labels=None``: inputs only, e.g. for masked pretraining)."""

    def __init__(self, inputs: np.ndarray, labels: np.ndarray | None = None):
        if labels is not None and len(inputs) != len(labels):
            raise ValueError(f"{len(inputs)} inputs but {len(labels)} label rows")
        self.inputs = inputs
        self.labels = None if labels is None else np.asarray(labels, dtype=np.float32)

    def __len__(self) -> int:
        return len(self.inputs)

    def __getitem__(self, i: int) -> dict[str, Any]:
        import torch

        item = {"input_ids": torch.from_numpy(np.asarray(self.inputs[i], dtype=np.int64))}
        if self.labels is not None:
            item["labels"] = torch.from_numpy(self.labels[i])
        return item


class MaskedLMDataset:
    """Tokenized examples for masked-LM training, each masked afresh (but reproducibly) per epoch.

    Item ``i`` is ``{"input_ids": [...], "mask_seed": derive_seed(seed, epoch, i)}``; the
    ``Trainer`` (through accelerate) calls :meth:`set_epoch` at each epoch, and
    :class:`MaskingCollator` draws the masks from ``mask_seed``. So the masks depend only on
    ``(seed, epoch, example)``, not on how many batches ran before: a run resumed from a checkpoint
    masks every batch exactly as the uninterrupted run does.

    Args:
        input_ids: one list of token ids per example (specials included).
        seed: the run's seed.
    """

    def __init__(self, input_ids: list[list[int]], seed: int = 0):
        self.input_ids = input_ids
        self.seed = seed
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """Use the masks of epoch ``epoch`` from now on."""
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return len(self.input_ids)

    def __getitem__(self, i: int) -> dict[str, Any]:
        return {"input_ids": self.input_ids[i], "mask_seed": derive_seed(self.seed, self.epoch, i)}

    @property
    def lengths(self) -> list[int]:
        """Tokens per example (for length grouping)."""
        return [len(x) for x in self.input_ids]


class MaskingCollator:
    """Batch tokenized examples for the masked LM, padding each batch only to its longest example.

    Three kinds of example (dicts with ``input_ids``, a list of ints):

    * with ``mask_seed`` (from :class:`MaskedLMDataset`): masked by
      ``DataCollatorForLanguageModeling``'s rule (``mlm_probability`` of the non-special tokens;
      of those ``mask_replace_prob`` (80 %) become ``<mask>``, ``random_replace_prob`` (10 %) a
      random non-special token, the rest stay), drawing from a generator seeded with
      ``mask_seed``, so masks are reproducible and resumable;
    * with ``labels`` (a fixed held-out masking, :func:`cornlib.training.pretrain.mask_fixed`): only padded,
      labels with ``-100``;
    * with neither: masked with torch's global RNG (the plain Hugging Face behaviour).

    A batch is padded to its longest example rounded up to ``pad_to_multiple_of``.
    Returns ``input_ids``, ``attention_mask``, ``labels``, each ``(B, L)``.
    """

    def __init__(self, tokenizer, mlm_probability: float = 0.15,
                 pad_to_multiple_of: int | None = 8, mask_replace_prob: float = 0.8,
                 random_replace_prob: float = 0.1):
        import torch
        from transformers import DataCollatorForLanguageModeling, DataCollatorForTokenClassification

        if not 0.0 < mlm_probability < 1.0:
            raise ValueError(f"mlm_probability must be in (0, 1), got {mlm_probability}")
        if tokenizer.mask_token is None or tokenizer.pad_token is None:
            raise ValueError("masked-LM batches need a tokenizer with <mask> and <pad> tokens")
        self.tokenizer = tokenizer
        self.mlm_probability = mlm_probability
        self.masking = DataCollatorForLanguageModeling(
            tokenizer, mlm_probability=mlm_probability, pad_to_multiple_of=pad_to_multiple_of,
            mask_replace_prob=mask_replace_prob, random_replace_prob=random_replace_prob)
        self.padding = DataCollatorForTokenClassification(
            tokenizer, pad_to_multiple_of=pad_to_multiple_of)
        special = sorted(set(tokenizer.all_special_ids) - {tokenizer.mask_token_id})
        self.special = torch.tensor(special, dtype=torch.long)
        self.plain = torch.tensor(sorted(set(range(len(tokenizer)))
                                         - set(tokenizer.all_special_ids)), dtype=torch.long)

    def __call__(self, examples: list[dict[str, Any]]) -> dict[str, Any]:
        # transformers' collators note on the tokenizer which warnings they silenced; the
        # tokenizer is the caller's, so it is left as it was found
        notes = getattr(self.tokenizer, "deprecation_warnings", None)
        kept = dict(notes) if notes is not None else None
        try:
            return self._collate(examples)
        finally:
            if notes is not None:
                notes.clear()
                notes.update(kept)

    def _collate(self, examples: list[dict[str, Any]]) -> dict[str, Any]:
        if "labels" in examples[0]:
            return dict(self.padding([{k: ex[k] for k in ("input_ids", "labels")}
                                      for ex in examples]))
        if "mask_seed" not in examples[0]:
            batch = dict(self.masking([{"input_ids": ex["input_ids"]} for ex in examples]))
            self._plain_replacements(batch["input_ids"], batch["labels"], None)
            return batch
        return dict(self.padding([self._mask(ex["input_ids"], ex["mask_seed"])
                                  for ex in examples]))

    def _mask(self, input_ids: list[int], seed: int) -> dict[str, list[int]]:
        """Mask one example with a generator seeded by ``seed``."""
        import torch

        generator = torch.Generator().manual_seed(seed)
        self.masking.generator = generator
        try:
            inputs, labels = self.masking.torch_mask_tokens(torch.tensor([input_ids]))  # 1, L
        finally:
            self.masking.generator = None
        self._plain_replacements(inputs, labels, generator)
        return {"input_ids": inputs[0].tolist(), "labels": labels[0].tolist()}

    def _plain_replacements(self, inputs, labels, generator) -> None:
        """Redraw, from the non-special tokens, every random replacement that drew a special
        token other than ``<mask>`` (``DataCollatorForLanguageModeling`` draws from the whole
        vocabulary; fairseq's RoBERTa does not): a target never shows ``<pad>``, ``<s>``... .
        Draws nothing more when no replacement hit a special token."""
        import torch

        bad = (labels != -100) & torch.isin(inputs, self.special)
        if bad.any():
            pick = torch.randint(len(self.plain), (int(bad.sum()),), generator=generator)
            inputs[bad] = self.plain[pick]


def padded_collator(tokenizer, max_length: int, mlm_probability: float = 0.15):
    """The naive reference for the benchmark: every batch padded to ``max_length``
    (:class:`cornlib.training.hf.PadToMaxLength`)."""
    from cornlib.training.hf import PadToMaxLength

    return PadToMaxLength(tokenizer, max_length, mlm_probability=mlm_probability)
