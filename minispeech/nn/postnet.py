"""The convolutional postnet of Tacotron 2 (Shen et al., 2018, Sec. 2.3), shared by the TTS models.

PostnetConfig  frozen sizes: n_mels, channels, layers, kernel_size, dropout
Postnet        mel (B, T_mel, n_mels), mel_lengths (B,) -> a residual (B, T_mel, n_mels) to add to mel

A stack of 1-D convolutions over time (n_mels -> channels -> ... -> n_mels), each with BatchNorm,
tanh on all but the last, and dropout. It sees a whole predicted mel at once and sharpens it
(the decoder's frames are blurry averages under an MSE/L1 loss). Frames past each length are zeroed
before every convolution, so frames after an utterance's end cannot leak into its last real frames.
The module layout (layers.i = Conv1d, BatchNorm1d, Tanh or Identity, Dropout) is the one
models/tacotron2.py's Postnet has, so the two load each other's weights.
Shapes   B batch, T_mel frames; convolutions run on (B, C, T_mel).
Taught in lessons/07_tacotron2.ipynb; FastSpeech 2 (lessons/08) has it behind use_postnet.
"""

from __future__ import annotations

import dataclasses

import torch
from torch import nn

from minispeech.nn.attention import padding_mask


@dataclasses.dataclass(frozen=True)
class PostnetConfig:
    n_mels: int = 80
    channels: int = 512
    layers: int = 5  # >= 2: n_mels -> channels, ..., channels -> n_mels
    kernel_size: int = 5  # odd, so that a convolution keeps T_mel
    dropout: float = 0.5

    def __post_init__(self) -> None:
        if self.kernel_size < 1 or self.kernel_size % 2 == 0:
            raise ValueError(f"PostnetConfig: kernel_size must be odd, got {self.kernel_size}")
        if self.layers < 2 or self.n_mels < 1 or self.channels < 1:
            raise ValueError(f"PostnetConfig: need layers >= 2, n_mels >= 1, channels >= 1, got "
                             f"{(self.layers, self.n_mels, self.channels)}")  # fmt: skip
        if not 0 <= self.dropout < 1:
            raise ValueError(f"PostnetConfig: dropout must be in [0, 1), got {self.dropout}")


class Postnet(nn.Module):
    """mel (B, T_mel, n_mels), mel_lengths (B,) -> residual (B, T_mel, n_mels), zeros past each length."""

    def __init__(self, config: PostnetConfig) -> None:
        super().__init__()
        n_mels, kernel_size, n_layers = config.n_mels, config.kernel_size, config.layers
        sizes = [n_mels] + [config.channels] * (n_layers - 1) + [n_mels]
        self.layers = nn.ModuleList(
            nn.Sequential(
                nn.Conv1d(in_size, out_size, kernel_size, padding=kernel_size // 2), nn.BatchNorm1d(out_size),
                nn.Tanh() if index < n_layers - 1 else nn.Identity(), nn.Dropout(config.dropout),
            )  # fmt: skip
            for index, (in_size, out_size) in enumerate(zip(sizes[:-1], sizes[1:], strict=True))
        )

    def forward(self, mel: torch.Tensor, mel_lengths: torch.Tensor) -> torch.Tensor:
        keep = padding_mask(mel_lengths, mel.shape[1])[:, None, :]  # (B, 1, T_mel)
        x = mel.transpose(1, 2) * keep  # (B, n_mels, T_mel)
        for layer in self.layers:
            x = layer(x) * keep  # (B, channels or n_mels, T_mel)
        return x.transpose(1, 2)  # (B, T_mel, n_mels)
