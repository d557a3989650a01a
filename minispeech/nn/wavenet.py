"""The non-causal WaveNet stack ("WN") of Glow-TTS and VITS (after van den Oord et al., 2016).

WaveNetConfig       frozen sizes: channels, odd kernel_size, dilation_rate, layers, gin_channels, dropout
WaveNet             x (B, C, T), mask (B, 1, T), g (B, gin_channels, 1) or None -> (B, C, T)
check_masked_input  named errors for a (B, C, T) tensor and its (B, 1, T) keep-mask (flows.py uses it too)
check_conditioning  named errors for the global conditioning vector g

Layer i, with dilation d_i = dilation_rate ** i:
    a, b       = halves of conv_{k, d_i}(x) + cond_i(g)     a dilated conv to 2C channels; cond_i is 1x1
    z          = tanh(a) * sigmoid(b)                        the gated activation unit
    res, skip  = halves of res_skip_i(z)                     1x1 to 2C; the last layer makes only skip (C)
    x          = (x + res) * mask;   out = out + skip
and the result is out * mask. Unlike the autoregressive WaveNet vocoder, the convolutions are
non-causal ('same' padding d (k - 1) / 2): a flow or a posterior encoder sees the whole utterance
at once. The receptive field is 1 + (k - 1) * sum_i d_i frames (WaveNetConfig.receptive_field).
g (a speaker embedding, say) is one vector per utterance, broadcast over time and added before
every gate. The input is masked on entry and the residual stream after every layer, so padded
frames stay zero and cannot reach real frames through the next kernel; the output is zero past the
mask. Weight normalization (torch.nn.utils.parametrizations.weight_norm) on every convolution, as
VITS; nn/generator.remove_weight_norm folds it for inference. Dropout acts on the gated activations.
Shapes   B batch, C channels, T frames; masks are keep-masks (bool, or 0/1 floats) of shape (B, 1, T).
Taught in lessons/10_vits.ipynb (the posterior encoder and every coupling layer of the flow run on it).
"""

from __future__ import annotations

import dataclasses

import torch
from torch import nn
from torch.nn.utils import parametrizations


@dataclasses.dataclass(frozen=True)
class WaveNetConfig:
    channels: int = 192  # C, kept by every layer (VITS' hidden size)
    kernel_size: int = 5  # odd, so that every convolution keeps T
    dilation_rate: int = 1  # layer i dilates by dilation_rate ** i (VITS: 1 in the flow and the posterior)
    layers: int = 4  # 4 in each coupling layer of VITS' flow, 16 in its posterior encoder
    gin_channels: int = 0  # size of the global conditioning vector g; 0 = unconditioned
    dropout: float = 0.0  # on the gated activations; must stay 0 inside a flow (see flows.py)

    def __post_init__(self) -> None:
        rules = [
            (self.channels >= 1, "channels >= 1", self.channels),
            (self.kernel_size >= 1 and self.kernel_size % 2 == 1,
             "an odd kernel_size, so that 'same' padding keeps T", self.kernel_size),
            (self.dilation_rate >= 1, "dilation_rate >= 1", self.dilation_rate),
            (self.layers >= 1, "layers >= 1", self.layers),
            (self.gin_channels >= 0, "gin_channels >= 0 (0 = no conditioning)", self.gin_channels),
            (0 <= self.dropout < 1, "dropout in [0, 1)", self.dropout),
        ]  # fmt: skip
        for holds, rule, value in rules:
            if not holds:
                raise ValueError(f"WaveNetConfig: need {rule}, got {value}")

    @property
    def dilations(self) -> tuple[int, ...]:
        return tuple(self.dilation_rate**index for index in range(self.layers))

    @property
    def receptive_field(self) -> int:
        """How many input frames one output frame sees: 1 + (k - 1) * sum of the dilations."""
        return 1 + (self.kernel_size - 1) * sum(self.dilations)


def check_masked_input(where: str, x: torch.Tensor, mask: torch.Tensor, channels: int) -> torch.Tensor:
    """Raise a ValueError naming the problem unless x is (B, channels, T) float and mask (B, 1, T).

    Returns the mask in x's dtype, ready to multiply (a bool keep-mask becomes 0/1).
    """
    if x.dim() != 3 or x.shape[1] != channels:
        raise ValueError(f"{where}: x must be (B, C = {channels}, T), channels first, got shape "
                         f"{tuple(x.shape)}")  # fmt: skip
    if not x.is_floating_point():
        raise ValueError(f"{where}: x must hold floats, got dtype {x.dtype}")
    batch, _, frames = x.shape
    if tuple(mask.shape) != (batch, 1, frames):
        raise ValueError(f"{where}: mask must be (B, 1, T) = ({batch}, 1, {frames}) for x of shape "
                         f"{tuple(x.shape)}, got {tuple(mask.shape)}; build it as "
                         "padding_mask(lengths, T)[:, None, :]")  # fmt: skip
    return mask.to(x.dtype)


def check_conditioning(where: str, g: torch.Tensor | None, gin_channels: int, batch: int) -> None:
    """Raise a ValueError unless g matches gin_channels: None when 0, else (B, gin_channels, 1)."""
    if gin_channels == 0:
        if g is not None:
            raise ValueError(f"{where}: got a conditioning g of shape {tuple(g.shape)}, but it was built "
                             "with gin_channels = 0; set gin_channels in its config to condition on g")  # fmt: skip
        return
    if g is None:
        raise ValueError(f"{where}: built with gin_channels = {gin_channels}, so it needs g of shape "
                         f"(B, {gin_channels}, 1), e.g. speaker_embedding(speaker_ids)[:, :, None]")  # fmt: skip
    if tuple(g.shape) != (batch, gin_channels, 1):
        raise ValueError(f"{where}: g must be (B, gin_channels, 1) = ({batch}, {gin_channels}, 1), one "
                         f"vector per utterance, got {tuple(g.shape)}")  # fmt: skip


def _weight_normed_conv(in_channels: int, out_channels: int, kernel_size: int = 1, dilation: int = 1) -> nn.Module:
    """A weight-normed Conv1d with 'same' padding (odd kernel): T in, T out."""
    conv = nn.Conv1d(in_channels, out_channels, kernel_size, dilation=dilation,
                     padding=dilation * (kernel_size - 1) // 2)  # fmt: skip
    return parametrizations.weight_norm(conv)


class WaveNet(nn.Module):
    """x (B, C, T), mask (B, 1, T), g (B, gin_channels, 1) or None -> the summed skips (B, C, T), zero past the mask."""

    def __init__(self, config: WaveNetConfig) -> None:
        super().__init__()
        self.config = config
        channels, kernel_size = config.channels, config.kernel_size
        self.dilated = nn.ModuleList(
            _weight_normed_conv(channels, 2 * channels, kernel_size, dilation) for dilation in config.dilations
        )
        # one 1x1 projection of g per layer (VITS packs them into one convolution and slices: the same map)
        self.conditions = nn.ModuleList(
            _weight_normed_conv(config.gin_channels, 2 * channels) for _ in config.dilations
        ) if config.gin_channels > 0 else nn.ModuleList()  # fmt: skip
        # residual and skip halves; the last layer has no next layer to feed, so it makes only the skip
        self.res_skips = nn.ModuleList(
            _weight_normed_conv(channels, channels if index == config.layers - 1 else 2 * channels)
            for index in range(config.layers)
        )
        self.dropout = nn.Dropout(config.dropout)

    def forward(self, x: torch.Tensor, mask: torch.Tensor, g: torch.Tensor | None = None) -> torch.Tensor:
        mask = check_masked_input("WaveNet", x, mask, self.config.channels)  # (B, 1, T) in x's dtype
        check_conditioning("WaveNet", g, self.config.gin_channels, x.shape[0])
        x = x * mask  # whatever the padding holds, it must not reach the real frames
        output = torch.zeros_like(x)  # (B, C, T)
        for index, (dilated, res_skip) in enumerate(zip(self.dilated, self.res_skips, strict=True)):
            pre_activation = dilated(x)  # (B, 2C, T)
            if g is not None:
                pre_activation = pre_activation + self.conditions[index](g)  # + (B, 2C, 1), broadcast over T
            filter_half, gate_half = pre_activation.chunk(2, dim=1)  # 2 x (B, C, T)
            gated = self.dropout(torch.tanh(filter_half) * torch.sigmoid(gate_half))  # (B, C, T)
            projected = res_skip(gated)  # (B, 2C, T); the last layer (B, C, T)
            if index < self.config.layers - 1:
                residual, skip = projected.chunk(2, dim=1)  # 2 x (B, C, T)
                x = (x + residual) * mask
            else:
                skip = projected
            output = output + skip
        return output * mask
