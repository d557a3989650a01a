"""VITS' stochastic duration predictor: a normalizing flow over phoneme durations (Kim et al., 2021, §2.2.2).

StochasticDurationConfig      frozen sizes: in_channels (the text hidden), filter_channels, kernel_size,
                              conv_layers, n_flows, dropout
DilatedDepthSeparableStack    the conditioning network ("DDSConv"): residual dilated depthwise convolutions
ElementwiseAffine             y = m + exp(log_s) * x per channel, learned m and log_s; log|det| = sum log_s
ConditionedCoupling           affine coupling of channel 1 on channel 0 and a per-token condition h
LogFlow                       y = log(x): the first flow on the durations (they are positive)
StochasticDurationPredictor   negative_log_likelihood(hidden, mask, durations) -> (B,) an upper bound on
                              -log p(d | text); sample(hidden, mask, noise_scale) -> log-durations (B, T)

Why a flow. A deterministic predictor regresses log d with an MSE: it learns the average duration of each
phoneme in context and always says it the same way. VITS instead models the distribution p(d | text)
with a flow, so sampling gives a different, plausible rhythm every time (noise_scale = 0 gives the flow's
mode-like middle). Two problems stand in the way, and the paper's two tricks solve them:
  durations are integers   a continuous density on integers is degenerate (it can grow without bound on
                           each integer). Variational dequantization: d - u with u in (0, 1) drawn from a
                           learned q(u | d, text) is continuous, and E_q[log p(d - u) - log q(u)] <= log P(d).
  d is one number a token  a coupling layer needs two channels to split. Variational data augmentation: a
                           second channel nu ~ q(nu | d, text) rides along, and the same bound holds for the
                           pair (d - u, nu).
Both u and nu come from one posterior flow: e ~ N(0, I) (B, 2, T), run through posterior flows conditioned
on the text and on d, then u = sigmoid(first channel), nu = the second. Then
    log q   = log N(e; 0, I) - log|det| of the posterior flows - sum log sigmoid'(z_u)
    z       = flows(log(d - u), nu)        (LogFlow on the first channel, then the main flows)
    -log p  = -log N(z; 0, I) - log|det| of the main flows and the LogFlow
    loss    = (-log p + log q) summed over real tokens, a Monte-Carlo upper bound on -log P(d | text).
Sampling: z ~ N(0, I) x noise_scale, the main flows inverted; the first channel is log d.
The predictor reads the text hidden DETACHED, like VITS' deterministic one: its loss trains it alone.
Departures  the paper's couplings are neural rational-quadratic splines (ConvFlow); ours are affine
         couplings (RealNVP), simpler and monotone by construction; the same DDSConv conditioning, the same
         dequantization and augmentation. No speaker conditioning.
Shapes   B batch, T tokens, C = in_channels, F = filter_channels; mask (B, 1, T) 0/1 keep-mask; durations
         (B, T) frames >= 1 on real tokens (MAS's), any value on padding.
Taught in lessons/10_vits.ipynb, section 5.
"""

from __future__ import annotations

import dataclasses
import math

import torch
import torch.nn.functional as F
from torch import nn

from minispeech.nn.flows import Flip

LOG_FLOOR = 1e-5  # LogFlow clamps its input here: d - u > 0 in theory, rounding aside


@dataclasses.dataclass(frozen=True)
class StochasticDurationConfig:
    in_channels: int = 192  # C of the text encoder's hidden
    filter_channels: int = 192  # F: the conditioning network's and every coupling's width
    kernel_size: int = 3  # odd; layer i of a DDSConv stack dilates by kernel_size ** i
    conv_layers: int = 3  # layers of each DDSConv stack
    n_flows: int = 4  # couplings of the main flow (the posterior flow has as many)
    dropout: float = 0.5  # in the text-conditioning stack only (never inside a flow)

    def __post_init__(self) -> None:
        sizes = (self.in_channels, self.filter_channels, self.conv_layers, self.n_flows)
        if min(sizes) < 1 or self.kernel_size < 1 or self.kernel_size % 2 == 0 or not 0 <= self.dropout < 1:
            raise ValueError(f"StochasticDurationConfig: need sizes >= 1, an odd kernel_size and dropout in "
                             f"[0, 1), got {sizes}, kernel {self.kernel_size}, dropout {self.dropout}")  # fmt: skip


class DilatedDepthSeparableStack(nn.Module):
    """x (B, F, T), mask (B, 1, T) -> (B, F, T): layers of x <- x + dropout(GELU(LN(1x1(GELU(LN(depthwise
    dilated conv(x))))))), masked; layer i dilates by kernel_size ** i (the paper's DDSConv)."""

    def __init__(self, channels: int, kernel_size: int, layers: int, dropout: float = 0.0) -> None:
        super().__init__()
        dilations = [kernel_size**index for index in range(layers)]
        self.depthwise = nn.ModuleList(
            nn.Conv1d(channels, channels, kernel_size, groups=channels, dilation=d, padding=d * (kernel_size - 1) // 2)
            for d in dilations
        )
        self.pointwise = nn.ModuleList(nn.Conv1d(channels, channels, 1) for _ in dilations)
        self.norms_1 = nn.ModuleList(nn.LayerNorm(channels) for _ in dilations)
        self.norms_2 = nn.ModuleList(nn.LayerNorm(channels) for _ in dilations)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        layers = zip(self.depthwise, self.pointwise, self.norms_1, self.norms_2, strict=True)
        for depthwise, pointwise, norm_1, norm_2 in layers:
            y = depthwise(x * mask)  # (B, F, T)
            y = F.gelu(norm_1(y.transpose(1, 2)).transpose(1, 2))
            y = F.gelu(norm_2(pointwise(y).transpose(1, 2)).transpose(1, 2))
            x = x + self.dropout(y)
        return x * mask


class ElementwiseAffine(nn.Module):
    """x (B, channels, T) -> m + exp(log_s) * x on the real frames, m and log_s learned per channel (start 0)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.shift = nn.Parameter(torch.zeros(channels, 1))
        self.log_scale = nn.Parameter(torch.zeros(channels, 1))

    def forward(self, x: torch.Tensor, mask: torch.Tensor, h: torch.Tensor | None = None,
                reverse: bool = False) -> tuple[torch.Tensor, torch.Tensor] | torch.Tensor:  # fmt: skip
        if reverse:
            return (x - self.shift) * torch.exp(-self.log_scale) * mask
        y = (self.shift + torch.exp(self.log_scale) * x) * mask  # (B, channels, T)
        return y, torch.sum(self.log_scale * mask, dim=(1, 2))  # (B,)


class ConditionedCoupling(nn.Module):
    """Affine coupling on 2 channels: y1 = m + x1 exp(log_s), with m, log_s from x0 and the condition h
    (B, F, T); x0 passes through. The post convolution starts at zero: a new coupling is the identity."""

    def __init__(self, config: StochasticDurationConfig) -> None:
        super().__init__()
        size = config.filter_channels
        self.pre = nn.Conv1d(1, size, 1)
        self.stack = DilatedDepthSeparableStack(size, config.kernel_size, config.conv_layers, dropout=0.0)
        self.post = nn.Conv1d(size, 2, 1)
        nn.init.zeros_(self.post.weight)
        nn.init.zeros_(self.post.bias)

    def forward(self, x: torch.Tensor, mask: torch.Tensor, h: torch.Tensor,
                reverse: bool = False) -> tuple[torch.Tensor, torch.Tensor] | torch.Tensor:  # fmt: skip
        x0, x1 = x[:, :1], x[:, 1:]  # 2 x (B, 1, T)
        hidden = self.stack((self.pre(x0) + h) * mask, mask)  # (B, F, T)
        shift, log_scale = (self.post(hidden) * mask).chunk(2, dim=1)  # 2 x (B, 1, T)
        if reverse:
            return torch.cat([x0, (x1 - shift) * torch.exp(-log_scale) * mask], dim=1)
        y1 = (shift + x1 * torch.exp(log_scale)) * mask
        return torch.cat([x0, y1], dim=1), log_scale.sum(dim=(1, 2))  # (B, 2, T), (B,)


class LogFlow(nn.Module):
    """x (B, 1, T) > 0 -> log x, log|det| = -sum log x over the real tokens; reverse: exp."""

    def forward(self, x: torch.Tensor, mask: torch.Tensor, reverse: bool = False):
        if reverse:
            return torch.exp(x) * mask
        y = torch.log(x.clamp(min=LOG_FLOOR)) * mask  # (B, 1, T)
        return y, -torch.sum(y, dim=(1, 2))  # d log x / dx = 1 / x


def _flow_stack(config: StochasticDurationConfig) -> nn.ModuleList:
    """ElementwiseAffine, then n_flows x [ConditionedCoupling, Flip]."""
    flows = nn.ModuleList([ElementwiseAffine(2)])
    for _ in range(config.n_flows):
        flows.extend([ConditionedCoupling(config), Flip()])
    return flows


def _run_flows(flows: nn.ModuleList, z: torch.Tensor, mask: torch.Tensor,
               h: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:  # fmt: skip
    """z (B, 2, T) through every flow forward -> (z, the summed log|det| (B,))."""
    log_determinant = z.new_zeros(z.shape[0])
    for flow in flows:
        z, flow_log_determinant = flow(z, mask, h)  # Flip ignores mask and h
        log_determinant = log_determinant + flow_log_determinant
    return z, log_determinant


def _gaussian_log_density(z: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """sum over the real positions of log N(z; 0, 1): (B, 2, T) -> (B,)."""
    return torch.sum(-0.5 * (math.log(2 * math.pi) + z**2) * mask, dim=(1, 2))


class StochasticDurationPredictor(nn.Module):
    """p(d | text) as a flow, trained by variational dequantization and augmentation (module doc)."""

    def __init__(self, config: StochasticDurationConfig) -> None:
        super().__init__()
        self.config = config
        size = config.filter_channels
        self.pre = nn.Conv1d(config.in_channels, size, 1)
        self.condition = DilatedDepthSeparableStack(size, config.kernel_size, config.conv_layers, config.dropout)
        self.projection = nn.Conv1d(size, size, 1)
        self.flows = _flow_stack(config)  # the prior flow: (log(d - u), nu) -> N(0, I)
        self.log_flow = LogFlow()
        self.posterior_pre = nn.Conv1d(1, size, 1)  # reads d
        self.posterior_condition = DilatedDepthSeparableStack(size, config.kernel_size, config.conv_layers,
                                                              config.dropout)  # fmt: skip
        self.posterior_projection = nn.Conv1d(size, size, 1)
        self.posterior_flows = _flow_stack(config)  # N(0, I) -> (z_u, nu) given d and the text

    def _text_condition(self, hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """hidden (B, C, T), detached -> the condition h (B, F, T)."""
        h = self.condition(self.pre(hidden.detach()) * mask, mask)
        return self.projection(h) * mask

    def negative_log_likelihood(self, hidden: torch.Tensor, mask: torch.Tensor,
                                durations: torch.Tensor) -> torch.Tensor:  # fmt: skip
        """hidden (B, C, T), mask (B, 1, T), durations (B, T) frames (>= 1 on real tokens) -> (B,): one
        Monte-Carlo sample of -log p(d - u, nu) + log q(u, nu | d), summed over each sentence's tokens."""
        h = self._text_condition(hidden, mask)  # (B, F, T)
        d = durations.to(hidden.dtype)[:, None, :] * mask  # (B, 1, T)
        h_d = self.posterior_projection(self.posterior_condition(self.posterior_pre(d) * mask, mask)) * mask
        e = torch.randn(d.shape[0], 2, d.shape[2], dtype=d.dtype, device=d.device) * mask  # (B, 2, T)
        z_q, log_determinant_q = _run_flows(self.posterior_flows, e, mask, h + h_d)
        z_u, nu = z_q[:, :1], z_q[:, 1:]  # 2 x (B, 1, T)
        u = torch.sigmoid(z_u) * mask  # the dequantization noise, in (0, 1)
        log_determinant_q = log_determinant_q + torch.sum((F.logsigmoid(z_u) + F.logsigmoid(-z_u)) * mask, (1, 2))
        log_q = _gaussian_log_density(e, mask) - log_determinant_q  # (B,)
        log_d, log_determinant = self.log_flow((d - u) * mask, mask)  # (B, 1, T), (B,)
        z, flows_log_determinant = _run_flows(self.flows, torch.cat([log_d, nu], dim=1), mask, h)
        negative_log_p = -_gaussian_log_density(z, mask) - (log_determinant + flows_log_determinant)
        return negative_log_p + log_q  # (B,)

    def sample(self, hidden: torch.Tensor, mask: torch.Tensor, noise_scale: float = 0.8) -> torch.Tensor:
        """hidden (B, C, T), mask (B, 1, T) -> log-durations (B, T), 0 on padding: z ~ N(0, noise_scale^2),
        the main flows inverted, the first channel kept."""
        h = self._text_condition(hidden, mask)
        z = torch.randn(hidden.shape[0], 2, hidden.shape[2], dtype=hidden.dtype, device=hidden.device)
        z = z * noise_scale * mask  # (B, 2, T)
        for flow in reversed(self.flows):
            z = flow(z, mask, h, reverse=True)
        return z[:, 0] * mask[:, 0]  # (B, T): log d
