"""HiFi-GAN's discriminators (Kong et al., 2020, Sec. 2.2-2.3): a waveform -> realness scores + features.

DiscriminatorConfig        frozen sizes of both: periods, channels, the scale discriminators' groups
period_reshape             waveform (B, T_wav) -> (B, 1, ceil(T_wav / p), p), reflect-padded at the end
PeriodDiscriminator        2-D convolutions over (time / p, p) with kernels (k, 1): sees every p-th sample
MultiPeriodDiscriminator   one PeriodDiscriminator per period (2, 3, 5, 7, 11 in the paper)
ScaleDiscriminator         1-D grouped, strided convolutions over the waveform (MelGAN's)
MultiScaleDiscriminator    three ScaleDiscriminators on the raw, x2- and x4-average-pooled waveform;
                           spectral norm on the first, weight norm on the others, as in the paper
DiscriminatorOutput        scores: one (B, N_i) tensor per sub-discriminator; features: one list of
                           intermediate activations per sub-discriminator (for feature matching)

Why periods: speech is periodic; a period discriminator with kernel (k, 1) compares samples that are
p apart, so it judges the periodic structure for every phase at once. Periods are primes so that
their views overlap as little as possible. Why scales: the MPD never sees consecutive samples; the
MSD judges smoothed versions of the whole waveform, i.e. the envelope and the low band.
Shapes   B batch, T_wav samples, p period; period convs (B, C, T_wav / p, p), scale convs (B, C, T).
Taught in lessons/09_hifigan.ipynb (exercise 9.2 is period_reshape); reused by VITS and the codec.
"""

from __future__ import annotations

import dataclasses
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils import parametrizations

LEAKY_RELU_SLOPE = 0.1
PERIOD_KERNEL_SIZE, PERIOD_STRIDE = 5, 3  # kernel (5, 1), stride (3, 1) along time / p
SCALE_KERNEL_SIZES = (15, 41, 41, 41, 41, 41, 5)  # MelGAN's layer sizes, one per scale channel entry
SCALE_STRIDES = (1, 2, 2, 4, 4, 1, 1)
POST_KERNEL_SIZE = 3  # the last convolution of both, to one channel of scores


@dataclasses.dataclass(frozen=True)
class DiscriminatorConfig:
    periods: tuple[int, ...] = (2, 3, 5, 7, 11)
    period_channels: tuple[int, ...] = (32, 128, 512, 1024, 1024)  # the last layer keeps its stride 1
    scales: int = 3  # ScaleDiscriminators; scale s sees the waveform average-pooled s times by 2
    scale_channels: tuple[int, ...] = (128, 128, 256, 512, 1024, 1024, 1024)  # one per SCALE_KERNEL_SIZES
    scale_groups: tuple[int, ...] = (1, 4, 16, 16, 16, 16, 1)

    def __post_init__(self) -> None:
        n_scale_layers = len(SCALE_KERNEL_SIZES)
        rules = [
            (len(self.periods) >= 1 and min(self.periods) >= 1, "periods >= 1", self.periods),
            (len(self.period_channels) >= 2 and min(self.period_channels) >= 1, "at least two period "
             "channel counts", self.period_channels),
            (self.scales >= 0, "scales >= 0", self.scales),
            (len(self.scale_channels) == len(self.scale_groups) == n_scale_layers,
             f"{n_scale_layers} scale channel counts and groups", (self.scale_channels, self.scale_groups)),
            (all(c % g == 0 for c, g in zip(self.scale_channels, self.scale_groups, strict=False))
             and all(c % g == 0 for c, g in zip((1,) + self.scale_channels[:-1], self.scale_groups, strict=False)),
             "each scale layer's input and output channels divisible by its groups",
             (self.scale_channels, self.scale_groups)),
        ]  # fmt: skip
        for holds, rule, values in rules:
            if not holds:
                raise ValueError(f"DiscriminatorConfig: need {rule}, got {values}")


class DiscriminatorOutput(NamedTuple):
    scores: list[torch.Tensor]  # per sub-discriminator (B, N_i): real -> 1, generated -> 0 (LSGAN)
    features: list[list[torch.Tensor]]  # per sub-discriminator, its activations after every layer


def period_reshape(waveform: torch.Tensor, period: int) -> torch.Tensor:
    """waveform (B, T_wav) -> (B, 1, T_wav' / period, period), T_wav' = T_wav reflect-padded at the
    end up to a multiple of period. Column j of the result holds samples j, j + p, j + 2p, ...

    Lesson 09, exercise 9.2.
    """
    batch, length = waveform.shape
    remainder = length % period
    if remainder:
        waveform = F.pad(waveform.unsqueeze(1), (0, period - remainder), mode="reflect").squeeze(1)
        length = waveform.shape[1]
    return waveform.view(batch, 1, length // period, period)  # (B, 1, T_wav / p, p)


class PeriodDiscriminator(nn.Module):
    """waveform (B, T_wav) -> scores (B, N), features: the activations after every convolution."""

    def __init__(self, period: int, channels: tuple[int, ...]) -> None:
        super().__init__()
        self.period = period
        sizes = (1,) + tuple(channels)
        self.convolutions = nn.ModuleList()
        for index, (in_channels, out_channels) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
            stride = 1 if index == len(channels) - 1 else PERIOD_STRIDE
            conv = nn.Conv2d(in_channels, out_channels, (PERIOD_KERNEL_SIZE, 1), (stride, 1),
                             padding=(PERIOD_KERNEL_SIZE // 2, 0))  # fmt: skip
            self.convolutions.append(parametrizations.weight_norm(conv))
        self.conv_post = parametrizations.weight_norm(
            nn.Conv2d(sizes[-1], 1, (POST_KERNEL_SIZE, 1), padding=(POST_KERNEL_SIZE // 2, 0))
        )

    def forward(self, waveform: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        x = period_reshape(waveform, self.period)  # (B, 1, T_wav / p, p)
        features = []
        for conv in self.convolutions:
            x = F.leaky_relu(conv(x), LEAKY_RELU_SLOPE)  # (B, C, T', p)
            features.append(x)
        x = self.conv_post(x)  # (B, 1, T', p)
        features.append(x)
        return x.flatten(1), features  # (B, T' * p)


class MultiPeriodDiscriminator(nn.Module):
    """waveform (B, T_wav) -> DiscriminatorOutput with one entry per period."""

    def __init__(self, config: DiscriminatorConfig) -> None:
        super().__init__()
        self.discriminators = nn.ModuleList(PeriodDiscriminator(p, config.period_channels) for p in config.periods)

    def forward(self, waveform: torch.Tensor) -> DiscriminatorOutput:
        scores, features = zip(*(discriminator(waveform) for discriminator in self.discriminators), strict=True)
        return DiscriminatorOutput(list(scores), list(features))


class ScaleDiscriminator(nn.Module):
    """waveform (B, T_wav) -> scores (B, N), features; spectral_norm for the raw scale, else weight norm."""

    def __init__(self, config: DiscriminatorConfig, spectral_norm: bool = False) -> None:
        super().__init__()
        norm = parametrizations.spectral_norm if spectral_norm else parametrizations.weight_norm
        sizes = (1,) + config.scale_channels
        self.convolutions = nn.ModuleList(
            norm(nn.Conv1d(in_channels, out_channels, kernel_size, stride, groups=groups,
                           padding=kernel_size // 2))  # fmt: skip
            for in_channels, out_channels, kernel_size, stride, groups in zip(
                sizes[:-1], sizes[1:], SCALE_KERNEL_SIZES, SCALE_STRIDES, config.scale_groups, strict=True)
        )  # fmt: skip
        self.conv_post = norm(nn.Conv1d(sizes[-1], 1, POST_KERNEL_SIZE, padding=POST_KERNEL_SIZE // 2))

    def forward(self, waveform: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        x = waveform.unsqueeze(1)  # (B, 1, T_wav)
        features = []
        for conv in self.convolutions:
            x = F.leaky_relu(conv(x), LEAKY_RELU_SLOPE)  # (B, C, T')
            features.append(x)
        x = self.conv_post(x)  # (B, 1, T')
        features.append(x)
        return x.flatten(1), features  # (B, T')


class MultiScaleDiscriminator(nn.Module):
    """waveform (B, T_wav) -> DiscriminatorOutput with one entry per scale (raw, /2, /4, ...)."""

    def __init__(self, config: DiscriminatorConfig) -> None:
        super().__init__()
        self.discriminators = nn.ModuleList(
            ScaleDiscriminator(config, spectral_norm=(index == 0)) for index in range(config.scales)
        )
        self.pool = nn.AvgPool1d(4, 2, padding=2)  # the paper's x2 downsampling between scales

    def forward(self, waveform: torch.Tensor) -> DiscriminatorOutput:
        scores, features = [], []
        for index, discriminator in enumerate(self.discriminators):
            if index > 0:
                waveform = self.pool(waveform.unsqueeze(1)).squeeze(1)  # (B, T_wav / 2 ** index)
            score, feature = discriminator(waveform)
            scores.append(score)
            features.append(feature)
        return DiscriminatorOutput(scores, features)
