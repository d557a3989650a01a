"""The recognizers' input pipeline: log-mels -> [warp] -> per-utterance normalization -> [SpecAugment].

AugmentConfig       frozen training-time augmentation settings (VTLP warp, SpecAugment masks)
normalize_features  per-utterance mean/variance normalization over the unpadded frames
warp_frequencies    vocal-tract length perturbation of log-mels (Jaitly and Hinton, 2013)
spec_augment_batch  SpecAugment frequency and time masks on a padded batch (Park et al., 2019)
ASRFrontEnd         the three in order, as a module: augmentation only in training mode

Every recognizer (CTC, LAS, Transformer) starts with an ASRFrontEnd, so an augmentation added
here is added to all of them. The NumPy twin of the masks, for one utterance, is
minispeech.dsp.spec_augment (lesson 02).
Shapes   features (B, T_mel, n_mels) log-mels, time first (the models' layout; the dsp functions
         and nn/features.LogMel give (n_mels, T_mel) — transpose once, in the data pipeline);
         lengths (B,) real frames of each utterance.
Taught in lessons/04_ctc.ipynb, section 5.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import torch
from torch import nn

from minispeech.dsp import MelConfig, hz_to_mel, mel_frequencies
from minispeech.nn.attention import padding_mask


@dataclasses.dataclass(frozen=True)
class AugmentConfig:
    warp_range: float = (
        0.15  # training only: frequencies x U(1 - r, 1 + r), a new vocal tract; 0 = off
    )
    freq_masks: int = 2  # SpecAugment, training mode only
    freq_mask_width: int = 10  # mel bands
    time_masks: int = 2
    time_mask_width: int = 10  # frames (at T_mel rate); also at most 10 % of an utterance

    def __post_init__(self) -> None:
        if not 0.0 <= self.warp_range < 1.0:
            raise ValueError(f"AugmentConfig: warp_range must be in [0, 1), got {self.warp_range}")
        for name in ("freq_masks", "freq_mask_width", "time_masks", "time_mask_width"):
            if getattr(self, name) < 0:
                raise ValueError(f"AugmentConfig: {name} must be >= 0, got {getattr(self, name)}")


def normalize_features(
    features: torch.Tensor, lengths: torch.Tensor, eps: float = 1e-5
) -> torch.Tensor:
    """Per-utterance, per-band mean/variance normalization over the real frames; padding -> 0.

    A voice's pitch and vocal tract shift the log-mel levels of every band; removing each
    utterance's mean and scale makes unseen voices look more like the training ones.
    features (B, T_mel, n_mels), lengths (B,) -> (B, T_mel, n_mels).
    """
    mask = padding_mask(lengths, features.shape[1])[:, :, None].to(features.dtype)  # (B, T_mel, 1)
    count = mask.sum(dim=1, keepdim=True).clamp_min(1.0)  # (B, 1, 1)
    mean = (features * mask).sum(dim=1, keepdim=True) / count  # (B, 1, n_mels)
    variance = (((features - mean) * mask) ** 2).sum(dim=1, keepdim=True) / count
    return (features - mean) / torch.sqrt(variance + eps) * mask


def warp_frequencies(features: torch.Tensor, mel: MelConfig, warp_range: float) -> torch.Tensor:
    """Log-mels (B, T_mel, n_mels) as if each speaker's vocal tract were a random factor
    α ~ U(1 - warp_range, 1 + warp_range) shorter or longer (VTLP, Jaitly and Hinton, 2013).

    A longer tract scales every formant frequency down: band i (centre f_i Hz) of the output
    reads the input at frequency α f_i, interpolating linearly between neighbouring bands.
    Uses torch's global random generator.
    """
    batch_size, n_frames, n_mels = features.shape
    centres_hz = mel_frequencies(n_mels + 2, mel.fmin, mel.fmax)[1:-1]  # (n_mels,) band centres
    centre_mels = hz_to_mel(centres_hz)  # evenly spaced on the mel scale
    alpha = 1.0 + warp_range * (2.0 * torch.rand(batch_size, 1) - 1.0)  # (B, 1)
    source_hz = np.minimum(centres_hz[None, :] * alpha.numpy(), mel.fmax)  # (B, n_mels)
    source = (hz_to_mel(source_hz) - centre_mels[0]) / (centre_mels[1] - centre_mels[0])
    source = torch.from_numpy(source).to(features).clamp(0.0, n_mels - 1.0)  # fractional band
    below = source.floor().long().clamp(max=n_mels - 2)  # (B, n_mels)
    weight = (source - below)[:, None, :]  # (B, 1, n_mels)
    index = below[:, None, :].expand(-1, n_frames, -1)  # (B, T_mel, n_mels)
    return (
        torch.gather(features, 2, index) * (1 - weight)
        + torch.gather(features, 2, index + 1) * weight
    )


def spec_augment_batch(
    features: torch.Tensor, lengths: torch.Tensor, augment: AugmentConfig
) -> torch.Tensor:
    """Zero random bands and frame spans of normalized features (B, T_mel, n_mels); a copy.

    Each utterance gets augment.freq_masks bands of width ~ U{0..freq_mask_width} and
    augment.time_masks spans of width ~ U{0..min(time_mask_width, 10 % of its length)}
    (Park et al., 2019, without time warping). Uses torch's global random generator.
    """
    batch_size, n_frames, n_mels = features.shape
    keep = torch.ones_like(features, dtype=torch.bool)
    for n_masks, max_width, size, limit in [
        (augment.freq_masks, torch.full_like(lengths, augment.freq_mask_width), n_mels, None),
        (augment.time_masks, (lengths // 10).clamp(max=augment.time_mask_width), n_frames, lengths),
    ]:
        positions = torch.arange(size, device=features.device)  # (size,)
        for _ in range(n_masks):
            width = (
                torch.rand(batch_size, device=features.device) * (max_width + 1)
            ).long()  # (B,)
            room = (limit if limit is not None else torch.full_like(lengths, size)) - width  # (B,)
            start = (torch.rand(batch_size, device=features.device) * room.clamp_min(0)).long()
            masked = (positions[None, :] >= start[:, None]) & (
                positions[None, :] < (start + width)[:, None]
            )
            keep &= ~(masked[:, None, :] if limit is None else masked[:, :, None])  # (B, T, n_mels)
    return features * keep


class ASRFrontEnd(nn.Module):
    """Log-mels (B, T_mel, n_mels) -> normalized, and in training mode augmented, features.

    Training: warp frequencies (if warp_range > 0) -> normalize each utterance -> SpecAugment.
    Eval: normalize only, so an utterance's features do not depend on its batch. No parameters.
    """

    def __init__(self, mel: MelConfig, augment: AugmentConfig) -> None:
        super().__init__()
        self.mel, self.augment = mel, augment

    def forward(self, features: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """features (B, T_mel, n_mels), lengths (B,) on features' device -> (B, T_mel, n_mels)."""
        if features.dim() != 3 or features.shape[2] != self.mel.n_mels:
            raise ValueError(f"features must be (B, T_mel, n_mels = {self.mel.n_mels}) log-mels, time first, "
                             f"got shape {tuple(features.shape)}; minispeech.dsp.log_mel gives (n_mels, T_mel): "
                             "transpose it (SpeechDataset and collate already do)")  # fmt: skip
        if self.training and self.augment.warp_range > 0:
            features = warp_frequencies(features, self.mel, self.augment.warp_range)
        x = normalize_features(features, lengths)  # (B, T_mel, n_mels)
        if self.training:
            x = spec_augment_batch(x, lengths, self.augment)
        return x
