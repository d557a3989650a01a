"""A character CTC speech recognizer: log-mels in, per-frame character log-probabilities out.

CTCASRConfig        frozen config; CTCASRConfig.preset("ci" | "cpu" | "gpu")
CTCASR              forward(features, lengths) -> (log_probs, out_lengths)
frame_mask          (B, T) True on real frames, False on padding
normalize_features  per-utterance mean/variance normalization over the unpadded frames
warp_frequencies    vocal-tract length perturbation of log-mels (training-time augmentation)
spec_augment_batch  SpecAugment frequency and time masks on a padded batch (torch, vectorized)
artifact_path       where lesson 04 saves the trained model (one file per profile kind)
load_pretrained     the model lesson 04 trained, ready for inference (eval mode)

The pipeline, top to bottom (a small Conformer, Gulati et al., 2020):
    log-mel (B, T_mel, n_mels) -> [training: warp the frequency axis] -> normalize each
    utterance (speaker/channel independence) -> [training: SpecAugment masks]
    -> strided 1-D convolutions (time / subsampling)
    -> + sinusoidal positions -> Conformer blocks -> linear -> log-softmax over characters.

Shapes   B batch, T_mel input frames, T_out = ceil(T_mel / subsampling) output frames,
         C = model_size channels, H heads, D = C / H head size, V characters (blank = id 0).
Taught in lessons/04_ctc.ipynb, section 5.
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from minispeech.dsp import MelConfig
from minispeech.text import characters

BLANK_ID = 0  # the characters() table's <pad> id doubles as the CTC blank
TRAIN_HINT = "run lessons/04_ctc.ipynb (section 5 trains and saves the recognizer)"


@dataclasses.dataclass(frozen=True)
class CTCASRConfig:
    mel: MelConfig = MelConfig()  # the front end the features were computed with
    vocabulary_size: int = len(characters())  # V, blank included
    subsampling: int = 2  # 1, 2 or 4: T_out = ceil(T_mel / subsampling)
    model_size: int = 144  # C
    n_layers: int = 4
    n_heads: int = 4  # H; D = C / H
    feedforward_size: int = 384
    conv_kernel_size: int = 15  # depthwise convolution of each Conformer block (odd)
    dropout: float = 0.0  # SpecAugment and frequency warping regularize enough for short runs
    warp_range: float = 0.15  # training only: frequencies x U(1 - r, 1 + r), a new vocal tract
    freq_masks: int = 2  # SpecAugment, applied in training mode only
    freq_mask_width: int = 10  # mel bands
    time_masks: int = 2
    time_mask_width: int = 10  # frames (at T_mel rate); also at most 10 % of an utterance

    def __post_init__(self) -> None:
        if self.subsampling not in (1, 2, 4):
            raise ValueError(f"CTCASRConfig: subsampling must be 1, 2 or 4, got {self.subsampling}")
        if self.model_size % self.n_heads:
            raise ValueError(f"CTCASRConfig: model_size {self.model_size} must be a multiple of "
                             f"n_heads {self.n_heads}")  # fmt: skip
        if self.conv_kernel_size % 2 == 0:
            raise ValueError(f"CTCASRConfig: conv_kernel_size must be odd, got {self.conv_kernel_size}")

    @classmethod
    def preset(cls, profile: str) -> CTCASRConfig:
        """ci: trains in seconds; cpu: reaches lesson 04's bar in 10 minutes on 2 cores;
        gpu: a 12 GB card and LibriSpeech-scale data (18 M parameters)."""
        presets = {
            "ci": cls(model_size=64, n_layers=2, n_heads=2, feedforward_size=128, conv_kernel_size=7),
            "cpu": cls(),
            "gpu": cls(model_size=256, n_layers=12, n_heads=4, feedforward_size=1024,
                       conv_kernel_size=31, freq_mask_width=27, time_masks=10, time_mask_width=40),
        }  # fmt: skip
        if profile not in presets:
            raise ValueError(f"CTCASRConfig.preset: unknown profile {profile!r}; choose one of {sorted(presets)}")
        return presets[profile]


def frame_mask(lengths: torch.Tensor, max_length: int) -> torch.Tensor:
    """(B, T) bool, True on the real frames of each utterance and False on its padding."""
    return torch.arange(max_length, device=lengths.device)[None, :] < lengths[:, None]


def normalize_features(features: torch.Tensor, lengths: torch.Tensor, eps: float = 1e-5) -> torch.Tensor:
    """Per-utterance, per-band mean/variance normalization over the real frames; padding -> 0.

    A voice's pitch and vocal tract shift the log-mel levels of every band; removing each
    utterance's mean and scale makes unseen voices look more like the training ones.
    features (B, T_mel, n_mels), lengths (B,) -> (B, T_mel, n_mels).
    """
    mask = frame_mask(lengths, features.shape[1])[:, :, None].to(features.dtype)  # (B, T_mel, 1)
    count = mask.sum(dim=1, keepdim=True).clamp_min(1.0)  # (B, 1, 1)
    mean = (features * mask).sum(dim=1, keepdim=True) / count  # (B, 1, n_mels)
    variance = (((features - mean) * mask) ** 2).sum(dim=1, keepdim=True) / count
    return (features - mean) / torch.sqrt(variance + eps) * mask


def warp_frequencies(features: torch.Tensor, config: CTCASRConfig) -> torch.Tensor:
    """Log-mels (B, T_mel, n_mels) as if each speaker's vocal tract were a random factor
    α ~ U(1 - warp_range, 1 + warp_range) shorter or longer (VTLP, Jaitly and Hinton, 2013).

    A longer tract scales every formant frequency down: band i (centre f_i Hz) of the output
    reads the input at frequency α f_i, interpolating linearly between neighbouring bands.
    """
    from minispeech.dsp import hz_to_mel, mel_frequencies

    mel, (batch_size, n_frames, n_mels) = config.mel, features.shape
    centres_hz = mel_frequencies(n_mels + 2, mel.fmin, mel.fmax)[1:-1]  # (n_mels,) band centres
    centre_mels = hz_to_mel(centres_hz)  # evenly spaced on the mel scale
    alpha = 1.0 + config.warp_range * (2.0 * torch.rand(batch_size, 1) - 1.0)  # (B, 1)
    source_hz = np.minimum(centres_hz[None, :] * alpha.numpy(), mel.fmax)  # (B, n_mels)
    source = (hz_to_mel(source_hz) - centre_mels[0]) / (centre_mels[1] - centre_mels[0])
    source = torch.from_numpy(source).to(features).clamp(0.0, n_mels - 1.0)  # fractional band
    below = source.floor().long().clamp(max=n_mels - 2)  # (B, n_mels)
    weight = (source - below)[:, None, :]  # (B, 1, n_mels)
    index = below[:, None, :].expand(-1, n_frames, -1)  # (B, T_mel, n_mels)
    return torch.gather(features, 2, index) * (1 - weight) + torch.gather(features, 2, index + 1) * weight


def spec_augment_batch(features: torch.Tensor, lengths: torch.Tensor, config: CTCASRConfig) -> torch.Tensor:
    """Zero random bands and frame spans of normalized features (B, T_mel, n_mels); a copy.

    Each utterance gets config.freq_masks bands of width ~ U{0..freq_mask_width} and
    config.time_masks spans of width ~ U{0..min(time_mask_width, 10 % of its length)}
    (Park et al., 2019, without time warping). Uses torch's global random generator.
    """
    batch_size, n_frames, n_mels = features.shape
    keep = torch.ones_like(features, dtype=torch.bool)
    for n_masks, max_width, size, limit in [
        (config.freq_masks, torch.full_like(lengths, config.freq_mask_width), n_mels, None),
        (config.time_masks, (lengths // 10).clamp(max=config.time_mask_width), n_frames, lengths),
    ]:
        positions = torch.arange(size, device=features.device)  # (size,)
        for _ in range(n_masks):
            width = (torch.rand(batch_size, device=features.device) * (max_width + 1)).long()  # (B,)
            room = (limit if limit is not None else torch.full_like(lengths, size)) - width  # (B,)
            start = (torch.rand(batch_size, device=features.device) * room.clamp_min(0)).long()
            masked = (positions[None, :] >= start[:, None]) & (positions[None, :] < (start + width)[:, None])
            keep &= ~(masked[:, None, :] if limit is None else masked[:, :, None])  # (B, T, n_mels)
    return features * keep


class ConvSubsampling(nn.Module):
    """log2(subsampling) strided 1-D convolutions (kernel 5, stride 2) with GELU, or one
    unstrided one: (B, T_mel, n_mels) -> (B, T_out, C); padding frames stay zero."""

    def __init__(self, config: CTCASRConfig) -> None:
        super().__init__()
        strides = [2] * int(math.log2(config.subsampling)) or [1]
        channels = [config.mel.n_mels] + [config.model_size] * len(strides)
        self.convs = nn.ModuleList(
            nn.Conv1d(channels[i], channels[i + 1], kernel_size=5, stride=stride, padding=2)
            for i, stride in enumerate(strides)
        )

    def forward(self, x: torch.Tensor, lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = x.transpose(1, 2)  # (B, n_mels, T_mel): convolutions want channels first
        for conv in self.convs:
            lengths = (lengths - 1) // conv.stride[0] + 1  # ceil(T / stride)
            x = F.gelu(conv(x))  # (B, C, T / stride)
            x = x * frame_mask(lengths, x.shape[2])[:, None, :]  # the next kernel must see zeros
        return x.transpose(1, 2), lengths  # (B, T_out, C)


def sinusoidal_positions(n_positions: int, size: int) -> torch.Tensor:
    """(n_positions, size): sin on even channels, cos on odd (Vaswani et al., 2017, Sec. 3.5)."""
    position = torch.arange(n_positions, dtype=torch.float32)[:, None]  # (T, 1)
    frequency = torch.exp(torch.arange(0, size, 2, dtype=torch.float32) * (-math.log(10000.0) / size))
    table = torch.zeros(n_positions, size)
    table[:, 0::2] = torch.sin(position * frequency)
    table[:, 1::2] = torch.cos(position * frequency)
    return table


class FeedForward(nn.Module):
    """LayerNorm -> Linear(C, F) -> SiLU -> dropout -> Linear(F, C) -> dropout."""

    def __init__(self, config: CTCASRConfig) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.LayerNorm(config.model_size),
            nn.Linear(config.model_size, config.feedforward_size), nn.SiLU(), nn.Dropout(config.dropout),
            nn.Linear(config.feedforward_size, config.model_size), nn.Dropout(config.dropout),
        )  # fmt: skip

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class SelfAttention(nn.Module):
    """LayerNorm -> multi-head self-attention over the real frames -> dropout. Lesson 06 builds it."""

    def __init__(self, config: CTCASRConfig) -> None:
        super().__init__()
        self.n_heads, self.dropout = config.n_heads, config.dropout
        self.norm = nn.LayerNorm(config.model_size)
        self.query_key_value = nn.Linear(config.model_size, 3 * config.model_size)
        self.output = nn.Linear(config.model_size, config.model_size)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        batch_size, n_frames, size = x.shape
        qkv = self.query_key_value(self.norm(x))  # (B, T, 3C)
        qkv = qkv.view(batch_size, n_frames, 3, self.n_heads, size // self.n_heads)  # (B, T, 3, H, D)
        query, key, value = qkv.permute(2, 0, 3, 1, 4)  # each (B, H, T, D)
        attended = F.scaled_dot_product_attention(
            query, key, value, attn_mask=mask[:, None, None, :],  # (B, 1, 1, T): keys to attend
            dropout_p=self.dropout if self.training else 0.0,
        )  # (B, H, T, D)
        attended = attended.transpose(1, 2).reshape(batch_size, n_frames, size)  # (B, T, C)
        return F.dropout(self.output(attended), self.dropout, self.training)


class ConvolutionModule(nn.Module):
    """LayerNorm -> pointwise (linear) + GLU -> depthwise conv -> LayerNorm -> SiLU -> pointwise.

    The Conformer's local pattern detector. LayerNorm replaces the paper's BatchNorm so that
    padding and batch composition never change an utterance's output.
    """

    def __init__(self, config: CTCASRConfig) -> None:
        super().__init__()
        size = config.model_size
        self.norm = nn.LayerNorm(size)
        self.pointwise_in = nn.Linear(size, 2 * size)  # a kernel-1 convolution
        self.depthwise = nn.Conv1d(size, size, config.conv_kernel_size,
                                   padding=config.conv_kernel_size // 2, groups=size)  # fmt: skip
        self.depthwise_norm = nn.LayerNorm(size)
        self.pointwise_out = nn.Linear(size, size)
        self.dropout = nn.Dropout(config.dropout)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        y = F.glu(self.pointwise_in(self.norm(x)), dim=-1)  # (B, T, 2C) -> (B, T, C)
        y = y * mask[:, :, None]  # padding must read as zeros, as after an utterance's end
        y = self.depthwise(y.transpose(1, 2)).transpose(1, 2)  # (B, C, T) -> (B, T, C)
        y = self.pointwise_out(F.silu(self.depthwise_norm(y)))  # (B, T, C)
        return self.dropout(y)


class ConformerBlock(nn.Module):
    """x + FFN/2, + self-attention, + convolution, + FFN/2, then LayerNorm (Gulati et al., Eq. 1)."""

    def __init__(self, config: CTCASRConfig) -> None:
        super().__init__()
        self.feedforward_in = FeedForward(config)
        self.attention = SelfAttention(config)
        self.convolution = ConvolutionModule(config)
        self.feedforward_out = FeedForward(config)
        self.norm = nn.LayerNorm(config.model_size)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        x = x + 0.5 * self.feedforward_in(x)
        x = x + self.attention(x, mask)
        x = x + self.convolution(x, mask)
        x = x + 0.5 * self.feedforward_out(x)
        return self.norm(x)


class CTCASR(nn.Module):
    """Log-mel frames -> per-frame log-probabilities over characters (blank = id 0), for CTC."""

    def __init__(self, config: CTCASRConfig) -> None:
        super().__init__()
        self.config = config
        self.subsampling = ConvSubsampling(config)
        self.blocks = nn.ModuleList(ConformerBlock(config) for _ in range(config.n_layers))
        self.classifier = nn.Linear(config.model_size, config.vocabulary_size)
        self.dropout = nn.Dropout(config.dropout)

    def output_lengths(self, lengths: torch.Tensor) -> torch.Tensor:
        """T_out for input lengths T_mel: ceil(T_mel / subsampling) (each stride-2 conv halves)."""
        for conv in self.subsampling.convs:
            lengths = (lengths - 1) // conv.stride[0] + 1
        return lengths

    def forward(self, features: torch.Tensor, lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """features (B, T_mel, n_mels) log-mels, lengths (B,) real frames of each.

        Returns log_probs (B, T_out, V) (log-softmax over V) and out_lengths (B,). Frames at
        or after out_lengths[b] are padding: ignore them. In training mode SpecAugment masks
        the input; in eval mode the output of an utterance does not depend on its batch.
        """
        if features.dim() != 3 or features.shape[2] != self.config.mel.n_mels:
            raise ValueError(f"CTCASR: features must be (B, T_mel, n_mels = {self.config.mel.n_mels}) log-mels, "
                             f"got shape {tuple(features.shape)}")  # fmt: skip
        lengths = lengths.to(features.device)
        if self.training and self.config.warp_range > 0:
            features = warp_frequencies(features, self.config)
        x = normalize_features(features, lengths)  # (B, T_mel, n_mels)
        if self.training:
            x = spec_augment_batch(x, lengths, self.config)
        x, out_lengths = self.subsampling(x, lengths)  # (B, T_out, C)
        positions = sinusoidal_positions(x.shape[1], x.shape[2]).to(x)  # (T_out, C)
        x = self.dropout(x + positions[None])
        mask = frame_mask(out_lengths, x.shape[1])  # (B, T_out)
        for block in self.blocks:
            x = block(x, mask)
        return F.log_softmax(self.classifier(x), dim=-1), out_lengths  # (B, T_out, V)


def artifact_path(kind: str = "cpu") -> Path:
    """data/artifacts/ctc_asr.pt for cpu/gpu runs, ctc_asr_ci.pt for the ci run (train.artifact_path)."""
    from minispeech.train import artifact_path as artifact_path_for

    return artifact_path_for("ctc_asr", kind)


def load_pretrained(path: str | Path | None = None, device: str | torch.device = "cpu") -> CTCASR:
    """The recognizer lesson 04 trained, in eval mode, built from the config in its checkpoint.

    path=None takes the cpu/gpu run's artifact if it exists, else the ci run's; raises
    FileNotFoundError naming lesson 04 when neither exists.
    """
    from minispeech.train import load_trained

    return load_trained("ctc_asr", CTCASR, CTCASRConfig, TRAIN_HINT, path=path, device=device)
