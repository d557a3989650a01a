"""Speech encoders: subsample log-mel frames, then a stack of Conformer or Transformer blocks.

StridedConvSubsampling  log2(factor) stride-2 Conv1d + GELU (lessons 04, 05): T -> ceil(T / factor)
ConvSubsampling         two stride-2 Conv2d over (time, feature), ESPnet's: T -> ((T - 1) // 2 - 1) // 2
ConvolutionModule       LN, pointwise + GLU, depthwise conv, BatchNorm/LayerNorm, Swish, pointwise
ConformerBlock          FFN/2, MHSA, convolution module, FFN/2, LayerNorm (Gulati et al., 2020)
EncoderConfig           frozen sizes of a speech encoder (kind, width, depth, heads, subsampling)
SpeechEncoder           features (B, T_mel, F) -> memory (B, T_out, C): strided Conv1d subsampling,
                        sinusoidal positions, N Conformer blocks (or pre-LN Transformer layers)

Every recognizer's encoder is a SpeechEncoder (lesson 04's CTC model, lesson 06's joint
CTC/attention model); LAS (lesson 05) uses the StridedConvSubsampling front end before its BiLSTMs.
Masks are boolean keep-masks (True = real frame), see nn/attention.py.
Shapes   B batch, T_mel input frames, T_out output frames, F input features (n_mels),
         C = model_size channels.
Taught in lessons/04_ctc.ipynb (section 5) and lessons/06_transformer.ipynb (sections 7-8).
"""

from __future__ import annotations

import dataclasses
import math

import torch
import torch.nn.functional as F
from torch import nn

from minispeech.nn.attention import padding_mask
from minispeech.nn.transformer import (
    FeedForward,
    MultiHeadAttention,
    SinusoidalPositionalEncoding,
    TransformerConfig,
    TransformerEncoderLayer,
)

STRIDED_KERNEL = 5  # each stride-2 Conv1d of StridedConvSubsampling
SUBSAMPLING_KERNEL, SUBSAMPLING_STRIDE = 3, 2  # each of ConvSubsampling's two Conv2d
ENCODER_KINDS = ("conformer", "transformer")


class StridedConvSubsampling(nn.Module):
    """log2(factor) strided 1-D convolutions (kernel 5, stride 2) with GELU, or one unstrided one
    when factor == 1: (B, T, F) -> (B, ceil(T / factor), channels); padding frames stay zero."""

    def __init__(self, input_size: int, channels: int, factor: int) -> None:
        super().__init__()
        if factor not in (1, 2, 4, 8):
            raise ValueError(f"StridedConvSubsampling: factor must be 1, 2, 4 or 8, got {factor}")
        strides = [2] * int(math.log2(factor)) or [1]
        sizes = [input_size] + [channels] * len(strides)
        self.convs = nn.ModuleList(
            nn.Conv1d(
                sizes[i], sizes[i + 1], STRIDED_KERNEL, stride=stride, padding=STRIDED_KERNEL // 2
            )
            for i, stride in enumerate(strides)
        )

    def output_lengths(self, lengths: torch.Tensor) -> torch.Tensor:
        """ceil(T / stride) after each convolution."""
        for conv in self.convs:
            lengths = (lengths - 1) // conv.stride[0] + 1
        return lengths

    def forward(self, x: torch.Tensor, lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """x (B, T, F), lengths (B,) -> (B, T_out, channels) and T_out per utterance (B,)."""
        x = x * padding_mask(lengths, x.shape[1])[:, :, None]  # the first kernel must see zeros too
        x = x.transpose(1, 2)  # (B, F, T): convolutions want channels first
        for conv in self.convs:
            lengths = (lengths - 1) // conv.stride[0] + 1  # ceil(T / stride)
            x = F.gelu(conv(x))  # (B, channels, T / stride)
            x = x * padding_mask(lengths, x.shape[2])[:, None, :]  # the next kernel must see zeros
        return x.transpose(1, 2), lengths  # (B, T_out, channels)


class ConvSubsampling(nn.Module):
    """Two Conv2d (kernel 3, stride 2, no padding) + ReLU over (time, feature), then Linear to C.

    (B, T, F) -> (B, ((T - 1) // 2 - 1) // 2, C): about 4 times fewer frames (ESPnet's
    Conv2dSubsampling). Needs T >= 7. Output frames inside the new lengths see only real
    input frames, so padding does not change them. Lesson 06, section 7.
    """

    def __init__(self, input_size: int, config: TransformerConfig) -> None:
        super().__init__()
        channels, kernel, stride = config.model_size, SUBSAMPLING_KERNEL, SUBSAMPLING_STRIDE
        self.convs = nn.Sequential(
            nn.Conv2d(1, channels, kernel, stride), nn.ReLU(),
            nn.Conv2d(channels, channels, kernel, stride), nn.ReLU(),
        )  # fmt: skip
        reduced_features = self.output_lengths(torch.tensor(input_size)).item()
        if reduced_features < 1:
            raise ValueError(f"ConvSubsampling: input_size must be at least 7, got {input_size}")
        self.projection = nn.Linear(channels * reduced_features, config.model_size)

    @staticmethod
    def output_lengths(lengths: torch.Tensor) -> torch.Tensor:
        """(T - kernel) // stride + 1 twice, = ((T - 1) // 2 - 1) // 2; 0 for T < 7."""
        for _ in range(2):
            lengths = (
                torch.div(lengths - SUBSAMPLING_KERNEL, SUBSAMPLING_STRIDE, rounding_mode="floor")
                + 1
            )
        return lengths.clamp_min(0)

    def forward(self, x: torch.Tensor, lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """x (B, T, F), lengths (B,) -> (B, T_out, C) and new lengths (B,)."""
        if x.dim() != 3 or x.shape[1] < 7:
            raise ValueError(
                f"ConvSubsampling: x must be (B, T >= 7, F), got shape {tuple(x.shape)}"
            )
        y = self.convs(x[:, None])  # (B, 1, T, F) -> (B, C, T_out, F_out)
        batch_size, channels, n_frames, n_features = y.shape
        y = y.transpose(1, 2).reshape(
            batch_size, n_frames, channels * n_features
        )  # (B, T_out, C * F_out)
        return self.projection(y), self.output_lengths(lengths)


class ConvolutionModule(nn.Module):
    """LN -> pointwise to 2C -> GLU -> depthwise conv -> BatchNorm or LayerNorm -> Swish
    -> pointwise -> dropout (Gulati et al., Fig. 2). The pointwise convolutions (kernel 1) are
    written as Linear layers on (B, T, C): the same operation, and faster on a CPU.

    conv_norm="layer" replaces the paper's BatchNorm so that padding and batch composition never
    change an utterance's output, in training too (the recognizers use it). Lesson 06, section 8.
    """

    def __init__(self, config: TransformerConfig) -> None:
        super().__init__()
        size, kernel = config.model_size, config.conv_kernel_size
        self.norm = nn.LayerNorm(size)
        self.pointwise_in = nn.Linear(size, 2 * size)  # a kernel-1 convolution
        self.depthwise = nn.Conv1d(size, size, kernel, padding=kernel // 2, groups=size)
        self.depthwise_norm = (
            nn.BatchNorm1d(size) if config.conv_norm == "batch" else nn.LayerNorm(size)
        )
        self.pointwise_out = nn.Linear(size, size)
        self.dropout = nn.Dropout(config.dropout)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """x (B, T, C), mask (B, T) keep or None -> (B, T, C)."""
        y = F.glu(self.pointwise_in(self.norm(x)), dim=-1)  # (B, T, 2C) -> (B, T, C)
        if mask is not None:
            y = y * mask[:, :, None]  # padding must read as zeros, as after an utterance's end
        y = self.depthwise(y.transpose(1, 2))  # (B, C, T): convolutions want channels first
        if isinstance(self.depthwise_norm, nn.LayerNorm):
            y = self.depthwise_norm(y.transpose(1, 2))  # (B, T, C), normalized over C
        else:
            y = self.depthwise_norm(y).transpose(1, 2)  # eval mode: running statistics; (B, T, C)
        return self.dropout(self.pointwise_out(F.silu(y)))  # (B, T, C)


class ConformerBlock(nn.Module):
    """x + FFN/2, + MHSA, + convolution module, + FFN/2, then LayerNorm (Gulati et al., Eq. 1).

    Each sub-module is pre-LN; the feed-forward modules use Swish. Lesson 06, section 8.
    """

    def __init__(self, config: TransformerConfig) -> None:
        super().__init__()
        self.feedforward_in_norm = nn.LayerNorm(config.model_size)
        self.feedforward_in = FeedForward(config, activation=nn.SiLU)
        self.attention_norm = nn.LayerNorm(config.model_size)
        self.attention = MultiHeadAttention(
            config.model_size, config.n_heads, config.dropout, config.rotary
        )
        self.convolution = ConvolutionModule(config)
        self.feedforward_out_norm = nn.LayerNorm(config.model_size)
        self.feedforward_out = FeedForward(config, activation=nn.SiLU)
        self.final_norm = nn.LayerNorm(config.model_size)
        self.dropout = nn.Dropout(config.dropout)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """x (B, T, C), mask (B, T) keep (real frames) or None -> (B, T, C).

        In eval mode, outputs at real frames do not depend on the padding.
        """
        x = x + 0.5 * self.dropout(self.feedforward_in(self.feedforward_in_norm(x)))
        attended, _ = self.attention(self.attention_norm(x), key_mask=mask, need_weights=False)
        x = x + self.dropout(attended)
        x = x + self.convolution(x, mask)
        x = x + 0.5 * self.dropout(self.feedforward_out(self.feedforward_out_norm(x)))
        return self.final_norm(x)


@dataclasses.dataclass(frozen=True)
class EncoderConfig:
    kind: str = "conformer"  # "conformer" (blocks above) or "transformer" (pre-LN layers)
    model_size: int = 144  # C
    n_layers: int = 4
    n_heads: int = 4  # H; D = C / H
    feedforward_size: int = 384
    conv_kernel_size: int = 15  # depthwise convolution of each Conformer block (odd)
    dropout: float = 0.0  # SpecAugment and frequency warping regularize enough for short runs
    subsampling: int = 2  # 1, 2 or 4: T_out = ceil(T_mel / subsampling)

    def __post_init__(self) -> None:
        if self.kind not in ENCODER_KINDS:
            raise ValueError(
                f"EncoderConfig: kind must be one of {ENCODER_KINDS}, got {self.kind!r}"
            )
        if self.subsampling not in (1, 2, 4):
            raise ValueError(
                f"EncoderConfig: subsampling must be 1, 2 or 4, got {self.subsampling}"
            )
        if self.n_layers < 1:
            raise ValueError(f"EncoderConfig: n_layers must be >= 1, got {self.n_layers}")
        self.layer_config()  # checks the head split and the kernel size

    def layer_config(self) -> TransformerConfig:
        """The TransformerConfig of each block (LayerNorm in the convolution module)."""
        return TransformerConfig(self.model_size, self.n_heads, self.feedforward_size, self.dropout,
                                 conv_kernel_size=self.conv_kernel_size, conv_norm="layer")  # fmt: skip


class SpeechEncoder(nn.Module):
    """(B, T_mel, F) normalized features -> memory (B, T_out, C) and T_out per utterance.

    StridedConvSubsampling -> + sinusoidal positions -> dropout -> N Conformer blocks (or pre-LN
    Transformer layers + a final LayerNorm). Padding frames of the output are zero, and in eval
    mode an utterance's output does not depend on the rest of its batch.
    """

    def __init__(self, input_size: int, config: EncoderConfig) -> None:
        super().__init__()
        self.config = config
        layer_config = config.layer_config()
        self.subsampling = StridedConvSubsampling(input_size, config.model_size, config.subsampling)
        self.positions = SinusoidalPositionalEncoding(config.model_size)
        self.dropout = nn.Dropout(config.dropout)
        block = ConformerBlock if config.kind == "conformer" else TransformerEncoderLayer
        self.blocks = nn.ModuleList(block(layer_config) for _ in range(config.n_layers))
        # each Conformer block ends with a LayerNorm; a pre-LN Transformer stack needs a final one
        self.final_norm = (
            nn.LayerNorm(config.model_size) if config.kind == "transformer" else nn.Identity()
        )

    def output_lengths(self, lengths: torch.Tensor) -> torch.Tensor:
        """T_out for input lengths T_mel: ceil(T_mel / subsampling)."""
        return self.subsampling.output_lengths(lengths)

    def forward(
        self, features: torch.Tensor, lengths: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """features (B, T_mel, F), lengths (B,) -> memory (B, T_out, C), out_lengths (B,)."""
        x, out_lengths = self.subsampling(features, lengths)  # (B, T_out, C)
        x = self.dropout(self.positions(x))
        mask = padding_mask(out_lengths, x.shape[1])  # (B, T_out)
        for block in self.blocks:
            x = block(x, mask)
        return self.final_norm(x) * mask[:, :, None], out_lengths
