"""A convolutional stem over one-hot bases feeding transformer layers (the Enformer-style design).

:class:`CornHybridConfig` (``model_type="cornlib-hybrid"``) holds every hyperparameter. Inputs are
base codes ``(B, L)`` (A=0, C=1, G=2, T=3, N/padding=4; :func:`cornlib.sequence.encode_fixed`,
TSS end aligned). The stem convolves the one-hot bases and max-pools them into bins of ``pool``
bases; each bin is a token for the transformer layers (learned positions, pre-layer norm). A bin
with no A, C, G or T (padding) is masked out of attention and pooling.

- :class:`CornHybridForMaskedLM` pretrains it: a share of bins is hidden (their bases zeroed and a
  mask channel set) and the model predicts every base of each hidden bin.
- :class:`CornHybridForRegression` predicts expression: the mean of the bins → dense → targets,
  z-scores learned and returned in target units (:mod:`cornlib.models.targets`). With
  ``rc_average`` the prediction is the mean over the sequence and its reverse complement.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import torch
from huggingface_hub.dataclasses import strict
from torch import nn
from transformers import PreTrainedConfig, PreTrainedModel
from transformers.modeling_outputs import MaskedLMOutput, SequenceClassifierOutput

from cornlib.models.targets import (
    expressed_threshold,
    masked_mse,
    mixed_loss,
    mixed_prediction,
    target_scaling,
)
from cornlib.sequence import N_CODE

MODEL_TYPE = "cornlib-hybrid"


@strict
class CornHybridConfig(PreTrainedConfig):
    """Hyperparameters of the hybrid models; the defaults are the small profile's.

    Args:
        seq_length: bases per input (inputs are padded/cropped to it, TSS end aligned).
        stem_channels, stem_kernel: filters and width of the convolution over one-hot bases.
        pool: bases per bin (the max-pool width); ``seq_length // pool`` bins are tokens.
        hidden_size, num_hidden_layers, num_attention_heads, intermediate_size: the encoder.
        hidden_dropout_prob, attention_probs_dropout_prob: dropout inside the encoder.
        head_dropout: dropout before the regression head's layers.
        pool_stem: the head also reads each stem filter's best match over the promoter (the
            CNN baseline's features) beside the mean of the encoder's bins.
        n_targets: outputs of the regressor.
        rc_average: predict the mean over both strands.
        loss: ``"mse"`` (z-score MSE) or ``"mixed"`` (FloraBERT's expressed / not expressed +
            level, :func:`cornlib.models.targets.mixed_loss`); ``expressed_tpm`` is its
            threshold in TPM, converted to the targets' units.
        target_names, target_mean, target_std, target_transform: see :mod:`cornlib.models.targets`.
        promoter_settings: how the training promoters were cut (see
            :func:`cornlib.data.promoters.extract`), so new genomes are cut the same way.
    """

    model_type = MODEL_TYPE

    seq_length: int = 1000
    stem_channels: int = 64
    stem_kernel: int = 15
    pool: int = 8
    hidden_size: int = 64
    num_hidden_layers: int = 2
    num_attention_heads: int = 4
    intermediate_size: int = 256
    # dropout inside the encoder is off by default: on CPU it cost more time than it saved in
    # regularisation (weight decay, head dropout, strand augmentation, early stopping remain)
    hidden_dropout_prob: float | int = 0.0
    attention_probs_dropout_prob: float | int = 0.0
    head_dropout: float | int = 0.2
    pool_stem: bool = True
    initializer_range: float = 0.02
    n_targets: int = 1
    rc_average: bool = False
    loss: str = "mse"
    expressed_tpm: float = 1.0
    target_names: list[str] | tuple[str, ...] | None = None
    target_mean: list[float] | tuple[float, ...] | None = None
    target_std: list[float] | tuple[float, ...] | None = None
    target_transform: str | None = None
    promoter_settings: dict | None = None

    @property
    def n_bins(self) -> int:
        """Tokens the encoder sees."""
        return int(self.seq_length) // int(self.pool)

    def check_architecture(self) -> None:
        """Raise ``ValueError`` for sizes that cannot build a model."""
        if self.n_bins < 1:
            raise ValueError(f"seq_length={self.seq_length} is shorter than one bin of "
                             f"{self.pool} bases")
        if self.hidden_size % self.num_attention_heads:
            raise ValueError(f"hidden_size {self.hidden_size} is not divisible by "
                             f"{self.num_attention_heads} attention heads")
        if self.loss not in ("mse", "mixed"):
            raise ValueError(f"loss must be 'mse' or 'mixed', not {self.loss!r}")
        for name in ("target_names", "target_mean", "target_std"):
            value = getattr(self, name)
            if value is not None and len(value) != self.n_targets:
                raise ValueError(f"{name} has {len(value)} entries for n_targets="
                                 f"{self.n_targets}")


def reverse_complement_codes(codes: torch.Tensor) -> torch.Tensor:
    """Base codes ``(B, L)`` of the reverse complement (N and padding stay code 4)."""
    flipped = codes.flip(-1)
    return torch.where(flipped < N_CODE, 3 - flipped, flipped)


def codes_from_one_hot(one_hot: torch.Tensor) -> torch.Tensor:
    """Base codes ``(B, L)`` of a one-hot ``(B, L, 4)`` (all-zero rows become N)."""
    return torch.where(one_hot.sum(-1) > 0, one_hot.argmax(-1), torch.full_like(
        one_hot[..., 0], N_CODE, dtype=torch.long))


class CornHybridPreTrainedModel(PreTrainedModel):
    """Base class: config class, weight prefix (``hybrid.``) and initialisation."""

    config: CornHybridConfig
    config_class = CornHybridConfig
    base_model_prefix = "hybrid"
    main_input_name = "input_ids"

    def _init_weights(self, module: nn.Module) -> None:
        """PyTorch's default for the stem; truncated normal for dense and embeddings."""
        if module is getattr(getattr(self, "hybrid", self), "conv", None):
            module.reset_parameters()
        elif isinstance(module, nn.Linear):
            nn.init.trunc_normal_(module.weight, std=self.config.initializer_range)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, nn.Embedding):
            nn.init.trunc_normal_(module.weight, std=self.config.initializer_range)
        elif isinstance(module, nn.LayerNorm):
            nn.init.ones_(module.weight)
            nn.init.zeros_(module.bias)


class HybridOutput(NamedTuple):
    """The encoder's output: ``hidden`` (B, n_bins, H), ``mask`` (B, n_bins; real bins) and
    ``stem_max`` (B, stem_channels; each stem filter's best match over the promoter)."""

    hidden: torch.Tensor
    mask: torch.Tensor
    stem_max: torch.Tensor


class CornHybridModel(CornHybridPreTrainedModel):
    """Stem + encoder: codes ``(B, L)`` → :class:`HybridOutput`."""

    def __init__(self, config: CornHybridConfig):
        super().__init__(config)
        config.check_architecture()
        # the stem convolution as a matrix product over unfolded windows: on CPU, PyTorch's
        # Conv1d backward on 5 input channels was 20x slower than this
        self.conv = nn.Linear(5 * config.stem_kernel, config.stem_channels)
        self.pool = nn.MaxPool1d(config.pool)
        self.proj = nn.Linear(config.stem_channels, config.hidden_size)
        self.positions = nn.Embedding(config.n_bins, config.hidden_size)
        self.dropout = nn.Dropout(float(config.hidden_dropout_prob))
        self.layers = nn.ModuleList([EncoderLayer(config)
                                     for _ in range(config.num_hidden_layers)])
        self.norm = nn.LayerNorm(config.hidden_size)
        self.post_init()

    def bins(self, input_ids: torch.Tensor) -> torch.Tensor:
        """``True`` for bins that hold at least one A, C, G or T, shape ``(B, n_bins)``."""
        n, p = self.config.n_bins, self.config.pool
        real = (input_ids[:, -n * p:] < N_CODE).reshape(len(input_ids), n, p)
        return real.any(-1)

    def forward(self, input_ids: torch.Tensor | None = None,
                hidden_bins: torch.Tensor | None = None, one_hot: torch.Tensor | None = None
                ) -> "HybridOutput":
        """Encode base codes (or a float ``one_hot`` (B, L, 4) in A, C, G, T order, all zeros
        for N: what gradient attributions differentiate); ``hidden_bins`` (B, n_bins) bool
        hides those bins' bases."""
        if one_hot is not None:
            input_ids = codes_from_one_hot(one_hot)
        if input_ids.shape[-1] != self.config.seq_length:
            raise ValueError(f"input_ids have length {input_ids.shape[-1]}, the model reads "
                             f"{self.config.seq_length}; pad/crop with "
                             "cornlib.sequence.encode_fixed")
        dtype = self.proj.weight.dtype
        if one_hot is None:
            table = torch.eye(N_CODE + 1, 5, device=input_ids.device, dtype=dtype)[:, :5]
            table[N_CODE] = 0
            x = nn.functional.embedding(input_ids.long().clamp(0, N_CODE), table)  # B, L, 5
        else:
            x = nn.functional.pad(one_hot.to(dtype), (0, 1))
        n, p = self.config.n_bins, self.config.pool
        x = x[:, -n * p:]
        if hidden_bins is not None:
            hide = hidden_bins.repeat_interleave(p, dim=1)  # B, n*p
            x = x.masked_fill(hide[..., None], 0.0)
            x[..., 4] = hide.to(dtype)
        k = self.config.stem_kernel
        x = nn.functional.pad(x, (0, 0, (k - 1) // 2, k // 2))  # "same" padding along L
        windows = x.unfold(1, k, 1).reshape(len(x), n * p, 5 * k)  # B, L, 5k
        h = self.pool(torch.relu(self.conv(windows)).transpose(1, 2)).transpose(1, 2)  # B, n, C
        stem_max = h.amax(1)  # B, C: each filter's best match over the promoter
        h = self.proj(h) + self.positions.weight[None, :n]
        h = self.dropout(h)
        mask = self.bins(input_ids)
        if hidden_bins is not None:
            mask = mask | hidden_bins
        attend = mask[:, None, None, :]  # B, 1, 1, n: keys that may be attended to
        for layer in self.layers:
            h = layer(h, attend)
        return HybridOutput(self.norm(h), mask, stem_max)


class EncoderLayer(nn.Module):
    """Pre-norm transformer layer on PyTorch's fused scaled-dot-product attention.

    (``nn.TransformerEncoderLayer`` ran its attention 10× slower on CPU in training mode.)
    """

    def __init__(self, config: CornHybridConfig):
        super().__init__()
        h, self.heads = config.hidden_size, config.num_attention_heads
        self.norm1, self.norm2 = nn.LayerNorm(h), nn.LayerNorm(h)
        self.qkv = nn.Linear(h, 3 * h)
        self.out = nn.Linear(h, h)
        self.ff = nn.Sequential(nn.Linear(h, config.intermediate_size), nn.GELU(),
                                nn.Linear(config.intermediate_size, h))
        self.dropout = nn.Dropout(float(config.hidden_dropout_prob))
        self.attn_dropout = float(config.attention_probs_dropout_prob)

    def forward(self, x: torch.Tensor, attend: torch.Tensor) -> torch.Tensor:
        """``x`` (B, n, H); ``attend`` (B, 1, 1, n) bool, ``True`` for real bins."""
        b, n, h = x.shape
        q, k, v = self.qkv(self.norm1(x)).view(b, n, 3, self.heads, h // self.heads).unbind(2)
        a = nn.functional.scaled_dot_product_attention(
            q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2), attn_mask=attend,
            dropout_p=self.attn_dropout if self.training else 0.0)  # B, heads, n, d
        x = x + self.dropout(self.out(a.transpose(1, 2).reshape(b, n, h)))
        return x + self.dropout(self.ff(self.norm2(x)))


class CornHybridForMaskedLM(CornHybridPreTrainedModel):
    """Masked-bin pretraining: predict the ``pool`` bases of each hidden bin.

    ``hidden_bins`` (B, n_bins) bool names the hidden bins; the loss is the cross-entropy over
    their A/C/G/T bases (N and padding are not targets). ``logits`` has shape
    ``(n_hidden, pool, 4)``. ``labels``, when given, are the true base codes (by default the
    inputs themselves).
    """

    def __init__(self, config: CornHybridConfig):
        super().__init__(config)
        self.hybrid = CornHybridModel(config)
        self.head = nn.Linear(config.hidden_size, config.pool * 4)
        self.post_init()

    def forward(self, input_ids: torch.Tensor, hidden_bins: torch.Tensor | None = None,
                labels: torch.Tensor | None = None, **kwargs: Any) -> MaskedLMOutput:
        if hidden_bins is None:
            raise ValueError("CornHybridForMaskedLM needs hidden_bins (the bins to predict)")
        h = self.hybrid(input_ids, hidden_bins).hidden
        n, p = self.config.n_bins, self.config.pool
        logits = self.head(h[hidden_bins]).reshape(-1, p, 4)  # M, p, 4
        source = input_ids if labels is None else labels
        truth = source[:, -n * p:].reshape(len(source), n, p)[hidden_bins].long()
        target = torch.where(truth < N_CODE, truth, torch.full_like(truth, -100))
        loss = nn.functional.cross_entropy(logits.reshape(-1, 4).float(), target.reshape(-1),
                                           ignore_index=-100)
        return MaskedLMOutput(loss=loss, logits=logits)


class CornHybridForRegression(CornHybridPreTrainedModel):
    """Hybrid encoder → mean over real bins → dense → ``n_targets`` values in target units."""

    def __init__(self, config: CornHybridConfig):
        super().__init__(config)
        self.hybrid = CornHybridModel(config)
        width = config.hidden_size + (config.stem_channels if config.pool_stem else 0)
        self.head = nn.Sequential(nn.Dropout(float(config.head_dropout)),
                                  nn.Linear(width, config.hidden_size), nn.GELU(),
                                  nn.Dropout(float(config.head_dropout)),
                                  nn.Linear(config.hidden_size, config.n_targets
                                            * (2 if config.loss == "mixed" else 1)))
        self.post_init()

    def embed(self, input_ids: torch.Tensor | None = None,
              one_hot: torch.Tensor | None = None) -> torch.Tensor:
        """What the head reads per sequence: the mean of the encoder's real bins ``(B, H)``,
        with each stem filter's maximum appended when ``config.pool_stem``."""
        out = self.hybrid(input_ids, one_hot=one_hot)
        w = out.mask.unsqueeze(-1).to(out.hidden.dtype)
        mean = (out.hidden * w).sum(1) / w.sum(1).clamp(min=1.0)
        if self.config.pool_stem:
            return torch.cat([mean, out.stem_max], dim=1)
        return mean

    def forward(self, input_ids: torch.Tensor | None = None, labels: torch.Tensor | None = None,
                one_hot: torch.Tensor | None = None, **kwargs: Any) -> SequenceClassifierOutput:
        """Predict from base codes, or from a float ``one_hot`` (B, L, 4) (for gradients)."""
        out = self.head(self.embed(input_ids, one_hot))  # B, T (or 2T: level, expressed logit)
        if self.config.rc_average and not self.training:
            rc = (self.embed(reverse_complement_codes(input_ids)) if one_hot is None
                  else self.embed(one_hot=one_hot.flip(1, 2)))
            out = (out + self.head(rc)) / 2
        if self.config.loss == "mixed":
            z, logit = out.chunk(2, dim=-1)
            mean, std = target_scaling(self.config, z)
            thr = expressed_threshold(self.config.expressed_tpm, self.config.target_transform)
            loss = None if labels is None else mixed_loss(
                z, logit, labels.to(z.dtype).reshape(z.shape), mean, std, thr)
            return SequenceClassifierOutput(loss=loss,
                                            logits=mixed_prediction(z, logit, mean, std))
        mean, std = target_scaling(self.config, out)
        loss = None
        if labels is not None:
            loss = masked_mse(out, (labels.to(out.dtype).reshape(out.shape) - mean) / std)
        return SequenceClassifierOutput(loss=loss, logits=out * std + mean)


def register() -> None:
    """Register the hybrid classes with ``AutoConfig`` / ``AutoModel`` /
    ``AutoModelForMaskedLM`` / ``AutoModelForSequenceClassification`` (repeatable)."""
    from transformers import (
        AutoConfig,
        AutoModel,
        AutoModelForMaskedLM,
        AutoModelForSequenceClassification,
    )

    AutoConfig.register(MODEL_TYPE, CornHybridConfig, exist_ok=True)
    AutoModel.register(CornHybridConfig, CornHybridModel, exist_ok=True)
    AutoModelForMaskedLM.register(CornHybridConfig, CornHybridForMaskedLM, exist_ok=True)
    AutoModelForSequenceClassification.register(CornHybridConfig, CornHybridForRegression,
                                                exist_ok=True)


def flops_per_sequence(config: CornHybridConfig) -> float:
    """Approximate forward FLOPs for one sequence (2 × multiply-adds of stem and encoder)."""
    n, h = config.n_bins, config.hidden_size
    stem = 2 * config.seq_length * 5 * config.stem_channels * config.stem_kernel
    per_layer = 2 * n * (4 * h * h + 2 * h * config.intermediate_size) + 4 * n * n * h
    return float(stem + config.num_hidden_layers * per_layer + 2 * n * config.stem_channels * h)


def regressor(config: CornHybridConfig, seed: int = 0, **fields: Any) -> CornHybridForRegression:
    """A freshly initialised regressor of ``config``'s architecture with ``fields`` changed
    (``n_targets``, ``target_names``, ...), weights drawn from a generator seeded by ``seed``."""
    import copy

    config = copy.deepcopy(config)
    for key, value in fields.items():
        setattr(config, key, value)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return CornHybridForRegression(config)
