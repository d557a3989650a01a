"""The losses a GAN vocoder trains with (HiFi-GAN, Kong et al., 2020, Sec. 2.4; Parallel WaveGAN).

discriminator_loss       LSGAN: sum over sub-discriminators of mean((1 - D(x))^2) + mean(D(G(s))^2)
generator_adversarial_loss  LSGAN: sum over sub-discriminators of mean((1 - D(G(s)))^2)
feature_matching_loss    sum over sub-discriminators and layers of mean |D_i(x) - D_i(G(s))|
multi_resolution_stft_loss  spectral convergence + log-magnitude L1, averaged over STFT resolutions
STFT_RESOLUTIONS         (n_fft, hop_length, win_length) of Parallel WaveGAN's three resolutions

Least squares (Mao et al., 2017) instead of the original cross-entropy GAN: the gradient does not
vanish when the discriminator is confident, which is what made GAN vocoders train stably. The paper's
weights, lambda_fm = 2 and lambda_mel = 45, live in models/hifigan.py's config, not here.
The multi-resolution STFT loss needs no discriminator, so it is the cheap warm-up on a CPU: it
teaches the generator the magnitude spectrum at three time-frequency trade-offs at once.
Shapes   scores: lists of (B, N_i); features: lists (one per sub-discriminator) of lists of tensors;
         waveforms (B, T_wav).
Taught in lessons/09_hifigan.ipynb (exercise 9.3 writes the first three).
"""

from __future__ import annotations

import torch

STFT_RESOLUTIONS = ((1024, 120, 600), (2048, 240, 1200), (512, 50, 240))  # (n_fft, hop, window)
MAGNITUDE_FLOOR = 1e-7  # keeps log and the division away from zero in silence


def discriminator_loss(real_scores: list[torch.Tensor], generated_scores: list[torch.Tensor]) -> torch.Tensor:
    """Push real scores to 1 and generated ones to 0: sum_i mean((1 - r_i)^2) + mean(g_i^2)."""
    return sum(torch.mean((1 - real) ** 2) + torch.mean(generated**2)
               for real, generated in zip(real_scores, generated_scores, strict=True))  # fmt: skip


def generator_adversarial_loss(generated_scores: list[torch.Tensor]) -> torch.Tensor:
    """Make the discriminators score generated audio as real: sum_i mean((1 - g_i)^2)."""
    return sum(torch.mean((1 - generated) ** 2) for generated in generated_scores)


def feature_matching_loss(real_features: list[list[torch.Tensor]],
                          generated_features: list[list[torch.Tensor]]) -> torch.Tensor:  # fmt: skip
    """sum over sub-discriminators i and layers l of mean |real_il - generated_il|.

    The real features are targets: detach them (or compute them under no_grad) before calling.
    """
    return sum(torch.mean(torch.abs(real - generated))
               for real_layers, generated_layers in zip(real_features, generated_features, strict=True)
               for real, generated in zip(real_layers, generated_layers, strict=True))  # fmt: skip


def _magnitude(waveform: torch.Tensor, n_fft: int, hop_length: int, win_length: int) -> torch.Tensor:
    window = torch.hann_window(win_length, device=waveform.device)
    spectrum = torch.stft(waveform, n_fft, hop_length, win_length, window, return_complex=True)
    return spectrum.abs().clamp(min=MAGNITUDE_FLOOR)  # (B, n_fft / 2 + 1, frames)


def multi_resolution_stft_loss(generated: torch.Tensor, real: torch.Tensor,
                               resolutions=STFT_RESOLUTIONS) -> torch.Tensor:  # fmt: skip
    """generated, real (B, T_wav) -> scalar: mean over resolutions of
    spectral convergence || |S| - |S^| ||_F / || |S| ||_F  plus  mean | log |S| - log |S^| |."""
    if generated.shape != real.shape or generated.dim() != 2:
        raise ValueError(f"multi_resolution_stft_loss: generated and real must both be (B, T_wav), got "
                         f"{tuple(generated.shape)} and {tuple(real.shape)}")  # fmt: skip
    longest = max(n_fft for n_fft, _, _ in resolutions)
    if real.shape[1] <= longest // 2:
        raise ValueError(f"multi_resolution_stft_loss: {real.shape[1]} samples is too short for the {longest}-point "
                         f"STFT (it needs more than {longest // 2}); train on longer segments")  # fmt: skip
    total = 0.0
    for n_fft, hop_length, win_length in resolutions:
        generated_magnitude = _magnitude(generated, n_fft, hop_length, win_length)
        real_magnitude = _magnitude(real, n_fft, hop_length, win_length)
        convergence = torch.linalg.norm(real_magnitude - generated_magnitude) / torch.linalg.norm(real_magnitude)
        log_magnitude = torch.mean(torch.abs(torch.log(real_magnitude) - torch.log(generated_magnitude)))
        total = total + convergence + log_magnitude
    return total / len(resolutions)
