"""The HiFi-GAN generator (Kong et al., 2020, Sec. 2.1): log-mel frames -> waveform samples.

GeneratorConfig  frozen sizes: upsampling rates and kernels, channels, ResBlock type, MRF kernels and
                 dilations; V1 / V2 / V3 of the paper are presets of models/hifigan.py
ResBlock1        per dilation d: x + conv_1(lrelu(conv_d(lrelu(x))))  (two convolutions, V1 and V2)
ResBlock2        per dilation d: x + conv_d(lrelu(x))                  (one convolution, V3)
MultiReceptiveFieldFusion  the MRF: the mean of ResBlocks with different kernel sizes, run side by side
Generator        mel (B, n_mels, T_mel) -> waveform (B, T_mel * hop_length) in [-1, 1]
remove_weight_norm  fold every weight-norm parametrization into a plain weight (for inference)
copy_generator   load one generator's weights into another of the same layout (warm starts, lessons 10 and 11)

The pipeline: conv_pre (n_mels -> C) -> [LeakyReLU -> ConvTranspose1d (x u_i, C -> C / 2) -> MRF] per
stage -> LeakyReLU -> conv_post (-> 1 channel) -> tanh. The product of the upsampling rates is the hop
length, so every mel frame becomes exactly hop_length samples. A transposed convolution of kernel k and
stride u with padding (k - u) / 2 multiplies the length by u exactly; (k - u) must be even.
MRF: the paper sums the ResBlocks' outputs; the authors' code divides that sum by their number. We do
the same (the mean), which keeps the activations' scale independent of how many kernels there are.
Weight normalization (torch.nn.utils.parametrizations.weight_norm) on every convolution, as in the
paper; remove_weight_norm gives the same outputs with plain weights.
Shapes   B batch, C channels, T_mel frames, T_wav = T_mel * hop_length samples; convolutions (B, C, T).
Taught in lessons/09_hifigan.ipynb; VITS (lesson 10) and the codec (lesson 11) reuse the generator.
"""

from __future__ import annotations

import dataclasses
import math

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils import parametrizations, parametrize

LEAKY_RELU_SLOPE = 0.1  # every LeakyReLU inside the generator (the paper's code)
FINAL_LEAKY_RELU_SLOPE = 0.01  # the one before conv_post: torch's default slope, as the authors' code
PRE_POST_KERNEL_SIZE = 7  # conv_pre and conv_post
INIT_STD = 0.01  # N(0, 0.01) initial weights of the upsampling and ResBlock convolutions


@dataclasses.dataclass(frozen=True)
class GeneratorConfig:
    n_mels: int = 80
    upsample_rates: tuple[int, ...] = (8, 8, 2, 2)  # product = hop_length
    upsample_kernel_sizes: tuple[int, ...] = (16, 16, 4, 4)  # k_u; (k_u - u) even
    upsample_initial_channels: int = 512  # h_u: channels after conv_pre, halved by every stage
    resblock: int = 1  # 1 = ResBlock1 (two convolutions per dilation), 2 = ResBlock2 (one)
    resblock_kernel_sizes: tuple[int, ...] = (3, 7, 11)  # k_r: one ResBlock per kernel size, odd
    resblock_dilations: tuple[tuple[int, ...], ...] = ((1, 3, 5), (1, 3, 5), (1, 3, 5))  # D_r

    def __post_init__(self) -> None:
        # checkpoints store tuples as lists: make nested ones tuples again so configs compare equal
        object.__setattr__(self, "resblock_dilations", tuple(tuple(d) for d in self.resblock_dilations))
        rates, kernels = self.upsample_rates, self.upsample_kernel_sizes
        rules = [
            (len(rates) == len(kernels) >= 1, "one upsample kernel size per rate", (rates, kernels)),
            (all(k >= u >= 1 and (k - u) % 2 == 0 for u, k in zip(rates, kernels, strict=False)),
             "each upsample kernel size k >= rate u with (k - u) even", (rates, kernels)),
            (self.upsample_initial_channels % 2 ** len(rates) == 0,
             "upsample_initial_channels divisible by 2 ** len(upsample_rates)", self.upsample_initial_channels),
            (self.resblock in (1, 2), "resblock must be 1 or 2", self.resblock),
            (len(self.resblock_kernel_sizes) == len(self.resblock_dilations) >= 1,
             "one dilation list per ResBlock kernel size", (self.resblock_kernel_sizes, self.resblock_dilations)),
            (all(k % 2 == 1 for k in self.resblock_kernel_sizes), "ResBlock kernel sizes odd",
             self.resblock_kernel_sizes),
            (all(len(d) >= 1 and min(d) >= 1 for d in self.resblock_dilations), "dilations >= 1",
             self.resblock_dilations),
            (self.n_mels >= 1, "n_mels >= 1", self.n_mels),
        ]  # fmt: skip
        for holds, rule, values in rules:
            if not holds:
                raise ValueError(f"GeneratorConfig: need {rule}, got {values}")

    @property
    def hop_length(self) -> int:
        return math.prod(self.upsample_rates)


def _conv(in_channels: int, out_channels: int, kernel_size: int, dilation: int = 1) -> nn.Conv1d:
    """A weight-normed Conv1d that keeps the length: 'same' padding for an odd kernel."""
    conv = nn.Conv1d(in_channels, out_channels, kernel_size, dilation=dilation,
                     padding=dilation * (kernel_size - 1) // 2)  # fmt: skip
    nn.init.normal_(conv.weight, 0.0, INIT_STD)
    return parametrizations.weight_norm(conv)


class ResBlock1(nn.Module):
    """x (B, C, T) -> (B, C, T): for each dilation d, x = x + conv_1(lrelu(conv_d(lrelu(x))))."""

    def __init__(self, channels: int, kernel_size: int, dilations: tuple[int, ...]) -> None:
        super().__init__()
        self.dilated = nn.ModuleList(_conv(channels, channels, kernel_size, d) for d in dilations)
        self.plain = nn.ModuleList(_conv(channels, channels, kernel_size) for _ in dilations)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for dilated, plain in zip(self.dilated, self.plain, strict=True):
            residual = dilated(F.leaky_relu(x, LEAKY_RELU_SLOPE))
            x = x + plain(F.leaky_relu(residual, LEAKY_RELU_SLOPE))
        return x


class ResBlock2(nn.Module):
    """x (B, C, T) -> (B, C, T): for each dilation d, x = x + conv_d(lrelu(x))."""

    def __init__(self, channels: int, kernel_size: int, dilations: tuple[int, ...]) -> None:
        super().__init__()
        self.dilated = nn.ModuleList(_conv(channels, channels, kernel_size, d) for d in dilations)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for dilated in self.dilated:
            x = x + dilated(F.leaky_relu(x, LEAKY_RELU_SLOPE))
        return x


class MultiReceptiveFieldFusion(nn.Module):
    """x (B, C, T) -> (B, C, T): the mean of one ResBlock per (kernel size, dilations) pair.

    Small kernels and dilations see a few samples (a pitch period's fine shape), large ones tens of
    milliseconds; averaging them lets one stage model patterns of every length. Lesson 09, exercise 9.1.
    """

    def __init__(self, channels: int, config: GeneratorConfig) -> None:
        super().__init__()
        block = ResBlock1 if config.resblock == 1 else ResBlock2
        self.resblocks = nn.ModuleList(
            block(channels, kernel_size, dilations)
            for kernel_size, dilations in zip(config.resblock_kernel_sizes, config.resblock_dilations, strict=True)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return sum(resblock(x) for resblock in self.resblocks) / len(self.resblocks)


class Generator(nn.Module):
    """mel (B, n_mels, T_mel) log-mel, frequency first -> waveform (B, T_mel * hop_length) in [-1, 1]."""

    def __init__(self, config: GeneratorConfig) -> None:
        super().__init__()
        self.config = config
        channels = config.upsample_initial_channels
        self.conv_pre = parametrizations.weight_norm(
            nn.Conv1d(config.n_mels, channels, PRE_POST_KERNEL_SIZE, padding=PRE_POST_KERNEL_SIZE // 2)
        )
        self.upsamples = nn.ModuleList()
        self.fusions = nn.ModuleList()
        for rate, kernel_size in zip(config.upsample_rates, config.upsample_kernel_sizes, strict=True):
            upsample = nn.ConvTranspose1d(channels, channels // 2, kernel_size, stride=rate,
                                          padding=(kernel_size - rate) // 2)  # fmt: skip
            nn.init.normal_(upsample.weight, 0.0, INIT_STD)
            self.upsamples.append(parametrizations.weight_norm(upsample))
            channels //= 2
            self.fusions.append(MultiReceptiveFieldFusion(channels, config))
        self.conv_post = parametrizations.weight_norm(
            nn.Conv1d(channels, 1, PRE_POST_KERNEL_SIZE, padding=PRE_POST_KERNEL_SIZE // 2)
        )

    def forward(self, mel: torch.Tensor) -> torch.Tensor:
        x = self.conv_pre(mel)  # (B, C, T_mel)
        for upsample, fusion in zip(self.upsamples, self.fusions, strict=True):
            x = upsample(F.leaky_relu(x, LEAKY_RELU_SLOPE))  # (B, C / 2, T * u)
            x = fusion(x)
        x = self.conv_post(F.leaky_relu(x, FINAL_LEAKY_RELU_SLOPE))  # (B, 1, T_wav)
        return torch.tanh(x).squeeze(1)  # (B, T_wav)


def remove_weight_norm(module: nn.Module) -> nn.Module:
    """Replace every weight-norm parametrization under `module` by its current weight, in place.

    The outputs do not change (tested); inference skips recomputing g * v / |v| at every call.
    """
    with torch.enable_grad():  # under no_grad, torch would leave the weights as buffers, not parameters
        for child in module.modules():
            if parametrize.is_parametrized(child, "weight"):
                parametrize.remove_parametrizations(child, "weight", leave_parametrized=True)
    return module


def copy_generator(target: Generator, source: Generator, where: str) -> None:
    """Copy `source`'s weights into `target` (a trained vocoder's generator into a new model's decoder).

    Both must have the same GeneratorConfig; otherwise a ValueError, prefixed with `where`, names every
    field that differs (source's value vs target's).
    """
    ours, theirs = target.config, source.config
    different = [field.name for field in dataclasses.fields(ours) if getattr(ours, field.name) != getattr(theirs, field.name)]
    if different:
        raise ValueError(f"{where}: the vocoder's generator differs from this decoder in "
                         + ", ".join(f"{name} ({getattr(theirs, name)} vs {getattr(ours, name)})" for name in different)
                         + "; train both with matching presets (the cpu presets match)")  # fmt: skip
    target.load_state_dict(source.state_dict())
