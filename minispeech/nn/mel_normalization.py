"""Per-band log-mel normalization kept inside a model, saved with its weights.

MelNormalization  a mixin for an nn.Module: buffers mel_mean and mel_std (n_mels,), set from the
                  training corpus with set_mel_statistics(*data.mel_statistics(corpus));
                  normalize(log_mel) -> the model's scale; denormalize(mel, mel_lengths) -> log-mels

Why: raw log-mels put the silent floor (log 1e-5 = -11.5) far from everything else, so a loss on them
is mostly about silence; with every band at mean 0 and std 1 the loss weighs all bands alike. The
statistics are buffers (saved and loaded with the weights, moved by .to(device)), so a model's
inputs and outputs stay log-mels. Used by Tacotron 2 (lesson 07), FastSpeech 2 and the forward-sum
aligner (lesson 08); lesson 07, section 3 measures what it changes.
"""

from __future__ import annotations

import torch

from minispeech.nn.attention import padding_mask


class MelNormalization:
    """Mix into an nn.Module (before nn.Module) and call self.register_mel_statistics(n_mels) in __init__."""

    mel_mean: torch.Tensor  # (n_mels,) per-band mean of the training log-mels (0 until set)
    mel_std: torch.Tensor  # (n_mels,) per-band standard deviation (1 until set)

    def register_mel_statistics(self, n_mels: int) -> None:
        self.register_buffer("mel_mean", torch.zeros(n_mels))  # (n_mels,)
        self.register_buffer("mel_std", torch.ones(n_mels))  # (n_mels,)

    def set_mel_statistics(self, mean, std) -> None:
        """Per-band mean and std (n_mels,) of the training log-mels, e.g. the corpus's stats.json
        "mel_mean" and "mel_std" (data.mel_statistics): the model's internal scale."""
        mean, std = torch.as_tensor(mean, dtype=torch.float32), torch.as_tensor(std, dtype=torch.float32)
        if mean.shape != self.mel_mean.shape or std.shape != self.mel_std.shape or not (std > 0).all():
            raise ValueError(f"{type(self).__name__}.set_mel_statistics: need mean and std of shape "
                             f"({len(self.mel_mean)},) with std > 0, got {tuple(mean.shape)} and "
                             f"{tuple(std.shape)}")  # fmt: skip
        self.mel_mean.copy_(mean)
        self.mel_std.copy_(std)

    def normalize(self, mel: torch.Tensor) -> torch.Tensor:
        """log-mel (..., n_mels) -> the model's scale (..., n_mels)."""
        return (mel - self.mel_mean) / self.mel_std

    def denormalize(self, mel: torch.Tensor, mel_lengths: torch.Tensor) -> torch.Tensor:
        """The model's scale (B, T_mel, n_mels) -> log-mel, zeros past mel_lengths (B,)."""
        keep = padding_mask(mel_lengths, mel.shape[1])[:, :, None]  # (B, T_mel, 1)
        return (mel * self.mel_std + self.mel_mean) * keep
