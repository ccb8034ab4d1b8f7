"""A small 1-D CNN on one-hot promoter DNA (Washburn 2019 / DeepCRE style) as a Hugging Face model.

:class:`PromoterCNNConfig` (``model_type="cornlib-promoter-cnn"``) holds every hyperparameter;
:class:`PromoterCNN` reads base codes (A=0, C=1, G=2, T=3, N/padding=4; see
:func:`cornlib.sequence.encode_fixed`), one-hot encodes them (N → all zeros), runs blocks of
convolution → ReLU → max-pool → dropout, takes each filter's maximum over the promoter (or
flattens the positions, as DeepCRE does) and regresses one value per target. Outputs are in
target units: the config stores each target's training mean and standard deviation, the network
predicts z-scores, and the MSE loss is taken on z-scores (NaN labels masked out) so every target
weighs the same. Importing :mod:`cornlib.models` registers the classes with ``AutoConfig`` /
``AutoModel`` / ``AutoModelForSequenceClassification``.
"""

from __future__ import annotations

import torch
from huggingface_hub.dataclasses import strict
from torch import nn
from transformers import PreTrainedConfig, PreTrainedModel
from transformers.modeling_outputs import SequenceClassifierOutput

from cornlib.models.targets import masked_mse, target_scaling

MODEL_TYPE = "cornlib-promoter-cnn"


class ConvBlock(nn.Module):
    """Convolution (``same`` padding) → ReLU → max-pool → dropout, on ``(B, C, L)`` tensors.

    Positions left over by the pool are dropped.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, pool_size: int,
                 dropout: float):
        super().__init__()
        self.conv = nn.Conv1d(in_channels, out_channels, int(kernel_size), padding="same")
        # a width-1 pool changes nothing but costs a fifth of a training step
        self.pool = nn.MaxPool1d(int(pool_size)) if int(pool_size) > 1 else nn.Identity()
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, C_in, L)`` → ``(B, C_out, L // pool)``."""
        return self.dropout(self.pool(torch.relu(self.conv(x))))


@strict
class PromoterCNNConfig(PreTrainedConfig):
    """Hyperparameters of :class:`PromoterCNN`; the defaults are the small profile's.

    Args:
        seq_length: bases per input (inputs are padded/cropped to it, TSS end aligned).
        n_targets: outputs per sequence.
        channels: filters of each convolution block.
        kernel_sizes: kernel width of each block (same length as ``channels``).
        pool_sizes: max-pool width after each block (same length as ``channels``).
        global_pool: ``"max"``: each filter's maximum over all positions goes to the dense layer
            (a learned motif scan, position-free; trains in a few CPU epochs); ``"flatten"``:
            every pooled position does (DeepCRE; positions relative to the TSS count, but on
            the small profile it did not start learning within 5 epochs).
        hidden_size: width of the dense layer after flattening.
        hidden_activation: ``"relu"`` or ``"gelu"``, the dense layer's activation. The pooled
            features are positive and nearly equal across promoters at first, so a ReLU unit
            can be dead for every input; with some seeds all of them die and the network
            predicts the mean for good (on the small profile, one seed in three). GELU units
            never die. ``"relu"`` is the default so that earlier model folders load unchanged;
            :func:`cornlib.baselines.fit_cnn` trains with ``"gelu"``.
        dropout: dropout after each block and the dense layer.
        target_names: one name per output.
        target_mean, target_std: per-target training mean and standard deviation (outputs are
            ``z * std + mean``).
        target_transform: the units of the targets (``"log1p"`` for log(TPM + 1)).
        promoter_settings: how the training promoters were cut (``upstream``, ``downstream``,
            ``trim_neighbours``, ...; :func:`cornlib.data.promoters.extract`), so a new genome's
            promoters can be cut the same way.
    """

    model_type = MODEL_TYPE

    seq_length: int = 1000
    n_targets: int = 1
    channels: list[int] | tuple[int, ...] = (32,)
    kernel_sizes: list[int] | tuple[int, ...] = (15,)
    pool_sizes: list[int] | tuple[int, ...] = (1,)
    global_pool: str = "max"
    hidden_size: int = 64
    hidden_activation: str = "relu"
    dropout: float | int = 0.2
    target_names: list[str] | tuple[str, ...] | None = None
    target_mean: list[float] | tuple[float, ...] | None = None
    target_std: list[float] | tuple[float, ...] | None = None
    target_transform: str | None = None
    promoter_settings: dict | None = None

    def check_architecture(self) -> None:
        """Check that block lists agree, the pooled length stays positive and targets match."""
        if not (len(self.channels) == len(self.kernel_sizes) == len(self.pool_sizes) >= 1):
            raise ValueError("channels, kernel_sizes and pool_sizes need one entry per block (got "
                             f"{len(self.channels)}, {len(self.kernel_sizes)}, {len(self.pool_sizes)})")
        if self.hidden_activation not in ("relu", "gelu"):
            raise ValueError(f"hidden_activation must be 'relu' or 'gelu', not "
                             f"{self.hidden_activation!r}")
        if self.global_pool not in ("max", "flatten"):
            raise ValueError(f"global_pool must be 'max' or 'flatten', not {self.global_pool!r}")
        if self.flat_length() < 1:
            raise ValueError(f"seq_length={self.seq_length} is too short for pools {list(self.pool_sizes)}")
        for name in ("target_names", "target_mean", "target_std"):
            value = getattr(self, name)
            if value is not None and len(value) != self.n_targets:
                raise ValueError(f"{name} has {len(value)} entries for n_targets={self.n_targets}")
        if self.target_std is not None and min(self.target_std) <= 0:
            raise ValueError("target_std must be positive (a constant target cannot be learned)")

    def flat_length(self) -> int:
        """Positions left after every pooling step."""
        n = int(self.seq_length)
        for p in self.pool_sizes:
            n //= int(p)
        return n


class PromoterCNN(PreTrainedModel):
    """Convolutional regressor: ``input_ids`` (B, L) base codes → ``logits`` (B, n_targets)."""

    config_class = PromoterCNNConfig
    base_model_prefix = "cnn"
    main_input_name = "input_ids"

    def __init__(self, config: PromoterCNNConfig):
        super().__init__(config)
        config.check_architecture()
        blocks, c_in = [], 4
        for c, k, p in zip(config.channels, config.kernel_sizes, config.pool_sizes):
            blocks.append(ConvBlock(c_in, int(c), int(k), int(p), float(config.dropout)))
            c_in = int(c)
        self.blocks = nn.Sequential(*blocks)
        width = c_in if config.global_pool == "max" else c_in * config.flat_length()
        act = {"relu": nn.ReLU, "gelu": nn.GELU}[config.hidden_activation]
        self.head = nn.Sequential(nn.Flatten(), nn.Linear(width, config.hidden_size),
                                  act(), nn.Dropout(float(config.dropout)),
                                  nn.Linear(config.hidden_size, config.n_targets))
        self.post_init()

    def _init_weights(self, module: nn.Module) -> None:
        """PyTorch's default initialisation for every dense or convolution layer.

        (He-normal weights made the max-pooled activations so large that a planted 8-mer was
        barely learned in 8 epochs; the default scale learns it in 3.)
        """
        if isinstance(module, (nn.Linear, nn.Conv1d)):
            module.reset_parameters()

    def one_hot(self, input_ids: torch.Tensor) -> torch.Tensor:
        """Base codes (B, L) → one-hot (B, 4, L) float; code 4 (N, padding) is all zeros."""
        table = torch.eye(5, 4, device=input_ids.device, dtype=self.head[1].weight.dtype)
        return nn.functional.embedding(input_ids.long().clamp(0, 4), table).transpose(1, 2)

    def forward(self, input_ids: torch.Tensor | None = None, labels: torch.Tensor | None = None,
                one_hot: torch.Tensor | None = None, **kwargs) -> SequenceClassifierOutput:
        """Predict targets from base codes, or from a float ``one_hot`` (B, L, 4) in A, C, G, T
        order (for gradients); the loss (MSE on z-scores) only when ``labels`` (B, n_targets)
        are given."""
        x = self.one_hot(input_ids) if one_hot is None else one_hot.transpose(1, 2)
        if x.shape[-1] != self.config.seq_length:
            raise ValueError(f"input_ids have length {x.shape[-1]}, the model reads "
                             f"{self.config.seq_length}; pad/crop with cornlib.sequence.encode_fixed")
        h = self.blocks(x.to(self.head[1].weight.dtype))  # B, C, L'
        if self.config.global_pool == "max":
            h = h.amax(dim=2)  # B, C
        z = self.head(h)  # B, T
        mean, std = target_scaling(self.config, z)  # T, T
        loss = None
        if labels is not None:
            loss = masked_mse(z, (labels.to(z.dtype).reshape(z.shape) - mean) / std)
        return SequenceClassifierOutput(loss=loss, logits=z * std + mean)


def register() -> None:
    """Make ``AutoConfig`` / ``AutoModel`` / ``AutoModelForSequenceClassification`` load saved
    CNNs (safe to call more than once)."""
    from transformers import AutoConfig, AutoModel, AutoModelForSequenceClassification

    AutoConfig.register(MODEL_TYPE, PromoterCNNConfig, exist_ok=True)
    AutoModel.register(PromoterCNNConfig, PromoterCNN, exist_ok=True)
    AutoModelForSequenceClassification.register(PromoterCNNConfig, PromoterCNN, exist_ok=True)
