"""Normalizing flows for VITS (Kim et al., 2021): affine coupling layers after RealNVP (Dinh et al., 2017).

FlowConfig             frozen sizes: channels (even), the WaveNet inside each coupling, n_flows, gin_channels,
                       mean_only
ResidualCouplingLayer  y1 = m(x0) + x1 * exp(log_s(x0)), x0 passed through; mean-only (log_s = 0) by default
Flip                   reverses the channel order, so that the next coupling changes the other half
ResidualCouplingBlock  n_flows x [coupling, Flip]: forward -> (y, log-determinant), reverse=True -> x

A flow is an invertible map z = f(x). By the change of variables,
    log p(x) = log p(z) + log |det dz/dx|,
so a flow whose inverse and log-determinant are cheap both scores x under a simple density of z and
samples x = f^-1(z). VITS maps its posterior latent through f to meet the text-conditioned prior
N(μ, σ) of the prior encoder, and at inference runs f^-1 on a sample of that prior.

One coupling layer, with x0, x1 the two channel halves (B, C/2, T) of x:
    h          = WaveNet(pre(x0))                 pre: 1x1 conv C/2 -> hidden_channels
    m, log_s   = post(h)                          1x1 conv to C/2 (mean only: log_s = 0) or C channels
    forward    y1 = m + x1 * exp(log_s),   y = (x0, y1),   log|det dy/dx| = sum over c, t of log_s
    reverse    x1 = (y1 - m) * exp(-log_s)        m and log_s depend only on x0 = y0, so they are known
The Jacobian is block-triangular (x0 passes through; y1 depends on x1 only elementwise), so its
determinant is the product of its diagonal, exp(log_s): a mean-only coupling has log|det| = 0, a
volume-preserving flow, which is VITS' choice. No neural network is ever inverted, so the WaveNet may
be any network, as long as it has no dropout (forward and reverse must compute the same m and log_s).
post starts at zero (weights and bias): m = 0 and log_s = 0, so a new coupling is the identity on the
real frames. It is a plain convolution: weight norm of an all-zero weight would divide by zero.
Padding: m and log_s are zero past the mask and y1 is multiplied by it; x0 passes through as it came.
A zero-padded input therefore gives a zero-padded output, the real frames never see the padded ones
(the WaveNet masks every layer), and the log-determinant counts real frames only.
Shapes   B batch, C channels (even), T frames: x (B, C, T), mask (B, 1, T) keep-mask (bool or 0/1),
         g (B, gin_channels, 1) or None, log-determinant (B,).
Taught in lessons/10_vits.ipynb (exercise 10.1 is the coupling layer's forward and inverse).
"""

from __future__ import annotations

import dataclasses

import torch
from torch import nn

from minispeech.nn.wavenet import WaveNet, WaveNetConfig, check_masked_input


@dataclasses.dataclass(frozen=True)
class FlowConfig:
    channels: int = 192  # C of the latent, split into two halves: even (VITS' inter_channels)
    hidden_channels: int = 192  # the WaveNet's width inside every coupling layer
    kernel_size: int = 5  # the WaveNet's kernel, odd
    dilation_rate: int = 1
    wavenet_layers: int = 4
    n_flows: int = 4  # coupling layers, each followed by a Flip
    gin_channels: int = 0  # a global conditioning vector (speaker embedding) for every coupling; 0 = none
    mean_only: bool = True  # VITS: volume preserving, log-determinant 0; False adds a log-scale

    def __post_init__(self) -> None:
        rules = [
            (self.channels >= 2 and self.channels % 2 == 0,
             "channels even and >= 2 (the coupling splits them into two halves)", self.channels),
            (self.hidden_channels >= 1, "hidden_channels >= 1", self.hidden_channels),
            (self.kernel_size >= 1 and self.kernel_size % 2 == 1, "an odd kernel_size", self.kernel_size),
            (self.dilation_rate >= 1, "dilation_rate >= 1", self.dilation_rate),
            (self.wavenet_layers >= 1, "wavenet_layers >= 1", self.wavenet_layers),
            (self.n_flows >= 1, "n_flows >= 1", self.n_flows),
            (self.gin_channels >= 0, "gin_channels >= 0 (0 = no conditioning)", self.gin_channels),
            (isinstance(self.mean_only, bool), "mean_only True or False", self.mean_only),
        ]  # fmt: skip
        for holds, rule, value in rules:
            if not holds:
                raise ValueError(f"FlowConfig: need {rule}, got {value!r}")

    @property
    def wavenet(self) -> WaveNetConfig:
        """The WaveNet of each coupling layer: no dropout, which would make reverse differ from forward."""
        return WaveNetConfig(channels=self.hidden_channels, kernel_size=self.kernel_size,
                             dilation_rate=self.dilation_rate, layers=self.wavenet_layers,
                             gin_channels=self.gin_channels, dropout=0.0)  # fmt: skip


class ResidualCouplingLayer(nn.Module):
    """Affine coupling of the second channel half on the first.

    forward: x (B, C, T), mask (B, 1, T), g (B, gin_channels, 1) or None -> (y (B, C, T), log|det| (B,))
    reverse=True: y -> x (B, C, T), the exact inverse on the real frames.
    Lesson 10, exercise 10.1.
    """

    def __init__(self, config: FlowConfig) -> None:
        super().__init__()
        self.config = config
        half = config.channels // 2
        self.pre = nn.Conv1d(half, config.hidden_channels, 1)
        self.wavenet = WaveNet(config.wavenet)
        self.post = nn.Conv1d(config.hidden_channels, half if config.mean_only else 2 * half, 1)
        nn.init.zeros_(self.post.weight)  # starts as the identity
        nn.init.zeros_(self.post.bias)

    def shift_and_log_scale(self, x0: torch.Tensor, mask: torch.Tensor,
                            g: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:  # fmt: skip
        """m, log_s (B, C/2, T) each, zero past the mask, from the first half x0 (B, C/2, T) alone."""
        hidden = self.pre(x0) * mask  # (B, hidden, T)
        hidden = self.wavenet(hidden, mask, g)  # (B, hidden, T)
        statistics = self.post(hidden) * mask  # (B, C/2, T) mean only, else (B, C, T)
        if self.config.mean_only:
            return statistics, torch.zeros_like(statistics)
        shift, log_scale = statistics.chunk(2, dim=1)  # 2 x (B, C/2, T): m and log_s
        return shift, log_scale

    def forward(self, x: torch.Tensor, mask: torch.Tensor, g: torch.Tensor | None = None,
                reverse: bool = False) -> tuple[torch.Tensor, torch.Tensor] | torch.Tensor:  # fmt: skip
        mask = check_masked_input("ResidualCouplingLayer", x, mask, self.config.channels)  # (B, 1, T)
        x0, x1 = x.chunk(2, dim=1)  # 2 x (B, C/2, T)
        shift, log_scale = self.shift_and_log_scale(x0, mask, g)
        if reverse:
            x1 = (x1 - shift) * torch.exp(-log_scale) * mask
            return torch.cat([x0, x1], dim=1)  # (B, C, T)
        y1 = shift + x1 * torch.exp(log_scale) * mask
        log_determinant = log_scale.sum(dim=(1, 2))  # (B,); log_scale is already zero past the mask
        return torch.cat([x0, y1], dim=1), log_determinant  # (B, C, T), (B,)


class Flip(nn.Module):
    """x (B, C, T) -> x with its channels in reverse order; log|det| = 0, and Flip is its own inverse.

    forward returns (y, zeros (B,)) like a coupling layer; reverse=True returns y alone. mask and g are
    accepted (and ignored) so that a block can call every flow the same way. Lesson 10.
    """

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None, g: torch.Tensor | None = None,
                reverse: bool = False) -> tuple[torch.Tensor, torch.Tensor] | torch.Tensor:  # fmt: skip
        if x.dim() != 3:
            raise ValueError(f"Flip: x must be (B, C, T), got shape {tuple(x.shape)}")
        flipped = torch.flip(x, dims=(1,))  # (B, C, T)
        if reverse:
            return flipped
        return flipped, x.new_zeros(x.shape[0])  # (B, C, T), (B,)


class ResidualCouplingBlock(nn.Module):
    """VITS' flow f: n_flows x [ResidualCouplingLayer, Flip].

    forward: x (B, C, T), mask (B, 1, T), g (B, gin_channels, 1) or None -> (f(x) (B, C, T), log|det| (B,)),
             the log-determinant summed over the layers (0 when mean_only).
    reverse=True: f(x) -> x, the layers run backwards, each inverted.
    Taught in lessons/10_vits.ipynb.
    """

    def __init__(self, config: FlowConfig) -> None:
        super().__init__()
        self.config = config
        self.flows = nn.ModuleList()
        for _ in range(config.n_flows):
            self.flows.extend([ResidualCouplingLayer(config), Flip()])

    def forward(self, x: torch.Tensor, mask: torch.Tensor, g: torch.Tensor | None = None,
                reverse: bool = False) -> tuple[torch.Tensor, torch.Tensor] | torch.Tensor:  # fmt: skip
        check_masked_input("ResidualCouplingBlock", x, mask, self.config.channels)
        if reverse:
            for flow in reversed(self.flows):
                x = flow(x, mask, g, reverse=True)
            return x
        log_determinant = x.new_zeros(x.shape[0])  # (B,)
        for flow in self.flows:
            x, flow_log_determinant = flow(x, mask, g)
            log_determinant = log_determinant + flow_log_determinant
        return x, log_determinant
