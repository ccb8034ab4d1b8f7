"""Hugging Face model classes: a RoBERTa masked LM on promoter tokens and a mean-pool regressor.

Both share one config class, :class:`CornBertConfig` (``model_type="cornbert"``); importing
:mod:`cornlib.models` registers them with ``AutoConfig`` / ``AutoModelForMaskedLM`` /
``AutoModelForSequenceClassification`` / ``AutoModel``. Attention runs through PyTorch SDPA.
Token ids follow the tokenizer of :mod:`cornlib.tokenize` (RoBERTa's order: ``<s>`` 0, ``<pad>`` 1,
``</s>`` 2, ``<unk>`` 3, ``<mask>`` 4). RoBERTa numbers positions from ``pad_token_id + 1``, so a
model that reads ``max_length`` tokens needs ``max_position_embeddings = max_length + pad + 1``.
"""

from __future__ import annotations

import os
from typing import Any

import torch
from huggingface_hub.dataclasses import strict
from torch import nn
from transformers import RobertaConfig
from transformers.modeling_outputs import MaskedLMOutput, SequenceClassifierOutput
from transformers.models.roberta.modeling_roberta import (
    RobertaForMaskedLM,
    RobertaModel,
    RobertaPreTrainedModel,
)

from cornlib.models.targets import masked_mse, target_scaling

MODEL_TYPE = "cornbert"
ATTN_IMPLEMENTATION = "sdpa"
# Config fields that must agree between a checkpoint and the model or tokenizer it meets.
SHAPE_KEYS = ("vocab_size", "hidden_size", "num_hidden_layers", "num_attention_heads",
              "intermediate_size", "max_position_embeddings", "pad_token_id")


@strict
class CornBertConfig(RobertaConfig):
    """Every hyperparameter of cornlib's RoBERTa; the defaults are the small profile's model.

    Arguments not listed here are ``RobertaConfig``'s.

    Args:
        sparse_mlm_head: when ``labels`` are given, run the vocabulary projection only on the
            masked positions (about 15 % of tokens) and return logits of shape ``(n_masked, V)``
            instead of ``(B, L, V)``. Without labels the logits are always ``(B, L, V)``.
        mask_token_id: id of ``<mask>`` (recorded so a checkpoint names its tokenizer's ids).
        target_names: the regressor's outputs (tissues), one per label.
        target_mean, target_std: per-target training mean and standard deviation; the network
            predicts z-scores and returns ``z * std + mean`` (the loss is taken on z-scores).
        target_transform: the units of the targets (``"log1p"`` for log(TPM + 1)).
        promoter_settings: how the training promoters were cut (``upstream``, ``downstream``,
            ``trim_neighbours``, ...; :func:`cornlib.data.promoters.extract`), so a new genome's
            promoters can be cut the same way.
    """

    model_type = MODEL_TYPE

    vocab_size: int = 5005
    hidden_size: int = 128
    num_hidden_layers: int = 2
    num_attention_heads: int = 4
    intermediate_size: int = 512
    hidden_act: str = "gelu"
    hidden_dropout_prob: float | int = 0.1
    attention_probs_dropout_prob: float | int = 0.1
    max_position_embeddings: int = 258
    type_vocab_size: int = 1
    initializer_range: float = 0.02
    layer_norm_eps: float = 1e-5
    pad_token_id: int | None = 1
    bos_token_id: int | None = 0
    eos_token_id: int | list[int] | None = 2
    mask_token_id: int | None = 4
    classifier_dropout: float | int | None = None
    sparse_mlm_head: bool = True
    target_names: list[str] | tuple[str, ...] | None = None
    target_mean: list[float] | tuple[float, ...] | None = None
    target_std: list[float] | tuple[float, ...] | None = None
    target_transform: str | None = None
    promoter_settings: dict | None = None

    @property
    def max_tokens(self) -> int:
        """The longest token sequence (specials included) the position table holds."""
        return self.max_position_embeddings - (self.pad_token_id or 0) - 1


class CornBertPreTrainedModel(RobertaPreTrainedModel):
    """Base class: config class, weight prefix (``roberta.``) and init shared by cornlib heads."""

    config: CornBertConfig
    config_class = CornBertConfig
    base_model_prefix = "roberta"


class CornBertModel(RobertaModel):
    """The bare encoder (no pooler): ``last_hidden_state`` of shape ``(B, L, H)``."""

    config: CornBertConfig
    config_class = CornBertConfig

    def __init__(self, config: CornBertConfig, add_pooling_layer: bool = False):
        super().__init__(config, add_pooling_layer=add_pooling_layer)


class CornBertForMaskedLM(RobertaForMaskedLM):
    """RoBERTa masked LM whose vocabulary projection skips unmasked tokens during training.

    With ``labels`` (``-100`` = not a target) and ``config.sparse_mlm_head``, ``logits`` has shape
    ``(n_masked, V)`` in the row-major order of ``labels != -100``; otherwise ``(B, L, V)``.
    The loss is the mean cross-entropy over masked tokens, or their sum divided by
    ``num_items_in_batch`` when the ``Trainer`` passes it (exact with gradient accumulation).
    """

    config: CornBertConfig
    config_class = CornBertConfig

    def forward(self, input_ids: torch.Tensor | None = None,
                attention_mask: torch.Tensor | None = None,
                token_type_ids: torch.Tensor | None = None,
                position_ids: torch.Tensor | None = None,
                inputs_embeds: torch.Tensor | None = None,
                labels: torch.Tensor | None = None,
                num_items_in_batch: torch.Tensor | int | None = None,
                **kwargs: Any) -> MaskedLMOutput:
        out = self.roberta(input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids,
                           position_ids=position_ids, inputs_embeds=inputs_embeds,
                           return_dict=True, **kwargs)
        hidden = out.last_hidden_state  # B, L, H
        if labels is None:
            return MaskedLMOutput(logits=self.lm_head(hidden), hidden_states=out.hidden_states,
                                  attentions=out.attentions)
        labels = labels.to(hidden.device)
        if self.config.sparse_mlm_head:
            targets = labels != -100  # B, L
            logits = self.lm_head(hidden[targets])  # M, V
            flat_labels = labels[targets]  # M
        else:
            logits = self.lm_head(hidden)  # B, L, V
            flat_labels = labels.reshape(-1)
        loss = _masked_lm_loss(logits.reshape(-1, logits.shape[-1]), flat_labels,
                               num_items_in_batch)
        return MaskedLMOutput(loss=loss, logits=logits, hidden_states=out.hidden_states,
                              attentions=out.attentions)


def _masked_lm_loss(logits: torch.Tensor, labels: torch.Tensor,
                    num_items_in_batch: torch.Tensor | int | None) -> torch.Tensor:
    """Cross-entropy over targets (``labels != -100``); ``logits`` (N, V), ``labels`` (N,)."""
    total = nn.functional.cross_entropy(logits.float(), labels, ignore_index=-100,
                                        reduction="sum")
    if num_items_in_batch is not None:
        return total / num_items_in_batch
    return total / (labels != -100).sum().clamp(min=1)


class MeanPool(nn.Module):
    """FloraBERT's head: masked mean over non-pad tokens → dense → tanh → linear.

    Input ``hidden`` (B, L, H) and ``attention_mask`` (B, L, 1 = real token); output (B, K) with
    ``K = config.num_labels``.
    """

    def __init__(self, config: CornBertConfig):
        super().__init__()
        p = config.classifier_dropout
        self.dropout = nn.Dropout(config.hidden_dropout_prob if p is None else p)
        self.dense = nn.Linear(config.hidden_size, config.hidden_size)
        self.out_proj = nn.Linear(config.hidden_size, config.num_labels)

    def forward(self, hidden: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        weights = attention_mask.unsqueeze(-1).to(hidden.dtype)  # B, L, 1
        pooled = (hidden * weights).sum(1) / weights.sum(1).clamp(min=1.0)  # B, H
        x = torch.tanh(self.dense(self.dropout(pooled)))  # B, H
        return self.out_proj(self.dropout(x))  # B, K


class CornBertForRegression(CornBertPreTrainedModel):
    """Encoder + :class:`MeanPool`: ``num_labels`` regression targets per sequence.

    Load from a pretrained masked LM with
    ``CornBertForRegression.from_pretrained(mlm_dir, num_labels=k)`` (the ``lm_head`` is dropped and
    the head is freshly initialised). Outputs are in target units when the config records
    ``target_mean``/``target_std``. ``labels`` (B, K) float give an MSE loss on z-scores over the
    labels that are not NaN (a missing tissue is masked out).
    """

    def __init__(self, config: CornBertConfig):
        super().__init__(config)
        self.roberta = RobertaModel(config, add_pooling_layer=False)
        self.head = MeanPool(config)
        self.post_init()

    def forward(self, input_ids: torch.Tensor | None = None,
                attention_mask: torch.Tensor | None = None,
                labels: torch.Tensor | None = None,
                **kwargs: Any) -> SequenceClassifierOutput:
        kwargs.pop("num_items_in_batch", None)
        if attention_mask is None:
            if input_ids is None:
                raise ValueError("CornBertForRegression needs input_ids or an attention_mask")
            attention_mask = (input_ids != self.config.pad_token_id).long()  # B, L
        out = self.roberta(input_ids, attention_mask=attention_mask, return_dict=True, **kwargs)
        z = self.head(out.last_hidden_state, attention_mask)  # B, K
        mean, std = target_scaling(self.config, z)
        loss = None
        if labels is not None:
            loss = masked_mse(z, (labels.to(z.device, z.dtype).reshape(z.shape) - mean) / std)
        return SequenceClassifierOutput(loss=loss, logits=z * std + mean,
                                        hidden_states=out.hidden_states,
                                        attentions=out.attentions)


def register() -> None:
    """Register the cornlib classes with the ``Auto*`` factories (safe to call repeatedly)."""
    from transformers import (
        AutoConfig,
        AutoModel,
        AutoModelForMaskedLM,
        AutoModelForSequenceClassification,
    )

    AutoConfig.register(MODEL_TYPE, CornBertConfig, exist_ok=True)
    AutoModel.register(CornBertConfig, CornBertModel, exist_ok=True)
    AutoModelForMaskedLM.register(CornBertConfig, CornBertForMaskedLM, exist_ok=True)
    AutoModelForSequenceClassification.register(CornBertConfig, CornBertForRegression,
                                                exist_ok=True)


def config_for_tokenizer(tokenizer, *, max_length: int = 256, layers: int = 2, hidden: int = 128,
                         heads: int = 4, intermediate: int | None = None, dropout: float = 0.1,
                         **kwargs: Any) -> CornBertConfig:
    """A :class:`CornBertConfig` whose vocabulary and special ids match ``tokenizer``.

    Args:
        tokenizer: a loaded Hugging Face tokenizer (``<pad>``, ``<mask>``, ``<s>``, ``</s>`` set).
        max_length: longest input in tokens, ``<s>`` and ``</s>`` included.
        layers, hidden, heads: encoder depth, width and attention heads (``hidden % heads == 0``).
        intermediate: feed-forward width; ``None`` means ``4 * hidden``.
        dropout: hidden and attention dropout.
        **kwargs: any other ``CornBertConfig`` field.

    Raises:
        ValueError: a size that cannot build a model, or a tokenizer without the specials.
    """
    for name, value in dict(max_length=max_length, layers=layers, hidden=hidden,
                            heads=heads).items():
        if not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value!r}")
    if hidden % heads:
        raise ValueError(f"hidden size {hidden} is not divisible by {heads} attention heads; "
                         "choose mlm_hidden as a multiple of mlm_heads")
    missing = [t for t in ("pad_token_id", "mask_token_id", "bos_token_id", "eos_token_id")
               if getattr(tokenizer, t, None) is None]
    if missing:
        raise ValueError(f"the tokenizer has no {', '.join(missing)}; rebuild it with the "
                         "specials <s> </s> <pad> <unk> <mask> (cornlib.tokenize.train_bpe)")
    pad = tokenizer.pad_token_id
    return CornBertConfig(vocab_size=len(tokenizer), hidden_size=hidden, num_hidden_layers=layers,
                          num_attention_heads=heads,
                          intermediate_size=intermediate or 4 * hidden,
                          hidden_dropout_prob=dropout, attention_probs_dropout_prob=dropout,
                          max_position_embeddings=max_length + pad + 1, pad_token_id=pad,
                          bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
                          mask_token_id=tokenizer.mask_token_id, **kwargs)


def size_summary(config: CornBertConfig) -> dict[str, int]:
    """Layers, widths and parameter counts of the masked LM a config builds (nothing allocated).

    ``parameters`` counts the tied input/output embedding once; ``embedding_parameters`` is the
    token and position tables.
    """
    with torch.device("meta"):
        model = CornBertForMaskedLM(config)
    emb = model.roberta.embeddings
    return {"layers": config.num_hidden_layers, "hidden": config.hidden_size,
            "heads": config.num_attention_heads, "intermediate": config.intermediate_size,
            "vocab_size": config.vocab_size, "max_length": config.max_tokens,
            "parameters": sum(p.numel() for p in model.parameters()),
            "embedding_parameters": sum(p.numel() for p in emb.parameters())}


def new_mlm(config: CornBertConfig, seed: int = 0) -> CornBertForMaskedLM:
    """A freshly initialised masked LM (weights drawn from a generator seeded with ``seed``)."""
    import transformers

    transformers.set_seed(seed)
    return CornBertForMaskedLM._from_config(config, attn_implementation=ATTN_IMPLEMENTATION)


def check_compatible(found: Any, expected: Any, *, where: str | os.PathLike,
                     keys: tuple[str, ...] = SHAPE_KEYS) -> None:
    """Raise ``ValueError`` naming every field in ``keys`` where two configs disagree.

    Args:
        found: the config read from ``where`` (a checkpoint).
        expected: the config (or mapping) the caller needs.
        where: the checkpoint path, for the message.
    """
    def get(cfg: Any, k: str) -> Any:
        return cfg.get(k) if isinstance(cfg, dict) else getattr(cfg, k, None)

    diffs = [f"{k}: checkpoint {get(found, k)!r} vs expected {get(expected, k)!r}"
             for k in keys if get(expected, k) is not None and get(found, k) != get(expected, k)]
    if diffs:
        raise ValueError(f"the checkpoint {where} was made with another model config ("
                         + "; ".join(diffs) + "). Use a checkpoint of this config, or a fresh "
                         "output directory.")


def load_mlm(path: str | os.PathLike, tokenizer=None) -> CornBertForMaskedLM:
    """Load a saved cornlib masked LM, checking it matches ``tokenizer`` when one is given.

    Raises:
        FileNotFoundError: ``path`` holds no ``config.json`` or no weights.
        ValueError: the checkpoint is not a CornBERT masked LM (naming what it is), or its
            vocabulary / special ids differ from the tokenizer's.
    """
    from cornlib.models import kinds

    register()
    kinds.read_config(path, accept=("CornBertForMaskedLM",), wanted="a CornBERT masked LM",
                      advice="a folder written by masked-LM pretraining with "
                             "model.save_pretrained (e.g. <run_dir>/pretrain/model)")
    config = CornBertConfig.from_pretrained(path)
    if tokenizer is not None:
        want = {"vocab_size": len(tokenizer), "pad_token_id": tokenizer.pad_token_id,
                "mask_token_id": tokenizer.mask_token_id}
        check_compatible(config, want, where=path, keys=tuple(want))
    return CornBertForMaskedLM.from_pretrained(path, attn_implementation=ATTN_IMPLEMENTATION)
