"""HiFi-GAN (Kong et al., 2020): a GAN vocoder, log-mel frames -> waveform, faster than real time on a CPU.

HiFiGANConfig   frozen: the MelConfig, the generator's and the discriminators' sizes, loss weights, the
                training segment; .preset("ci" | "cpu" | "gpu"), .variant("V1" | "V2" | "V3") (the paper's)
HiFiGAN         generator + multi-period + multi-scale discriminators; forward(mel) -> waveform;
                discriminate(waveform) -> DiscriminatorOutput (both discriminators' lists joined);
                mel_l1(generated, real) (the paper's mel loss); vocode(mel) -> numpy waveform
artifact_path, load_pretrained  where lesson 09 saves the trained model; it, in eval mode

The blocks live in nn/ because VITS (lesson 10) and the codec (lesson 11) reuse them: nn/generator.py
(the generator, MRF), nn/discriminators.py (MPD, MSD), nn/gan_losses.py (LSGAN, feature matching,
multi-resolution STFT). The training step (two optimizers, every loss named) is lesson content.
Losses   generator: adversarial + 2 x feature matching + 45 x mel L1 (the paper's lambda_fm, lambda_mel);
         warm-up without discriminators: multi-resolution STFT + 45 x mel L1.
         discriminators: LSGAN on real vs generated (detached) audio.
Mel      the input is the library's log-mel (minispeech.dsp.log_mel, MelConfig), time first like every
         model's: (B, T_mel, n_mels); no normalization (a vocoder reads the acoustic model's log-mels).
         mel_l1 compares log-mels recomputed from both waveforms with nn.LogMel (same MelConfig).
Shapes   B batch, T_mel frames, T_wav = T_mel * hop_length samples.
Taught in lessons/09_hifigan.ipynb.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import torch
from torch import nn

from minispeech import checkpoint, profiles
from minispeech.dsp import MelConfig
from minispeech.nn.discriminators import (
    DiscriminatorConfig,
    DiscriminatorOutput,
    MultiPeriodDiscriminator,
    MultiScaleDiscriminator,
)
from minispeech.nn.features import LogMel
from minispeech.nn.generator import Generator, GeneratorConfig

TRAIN_HINT = "run lessons/09_hifigan.ipynb (its training section saves the vocoder)"
V3_GENERATOR = GeneratorConfig(upsample_rates=(8, 8, 4), upsample_kernel_sizes=(16, 16, 8),
                               upsample_initial_channels=256, resblock=2, resblock_kernel_sizes=(3, 5, 7),
                               resblock_dilations=((1, 2), (2, 6), (3, 12)))  # fmt: skip


@dataclasses.dataclass(frozen=True)
class HiFiGANConfig:
    mel: MelConfig = dataclasses.field(default_factory=MelConfig)
    generator: GeneratorConfig = dataclasses.field(default_factory=GeneratorConfig)
    discriminator: DiscriminatorConfig = dataclasses.field(default_factory=DiscriminatorConfig)
    segment_frames: int = 32  # training windows of 32 frames = 8,192 samples at hop 256 (the paper's)
    mel_loss_weight: float = 45.0  # lambda_mel
    feature_matching_weight: float = 2.0  # lambda_fm

    def __post_init__(self) -> None:
        if self.generator.n_mels != self.mel.n_mels or self.generator.hop_length != self.mel.hop_length:
            raise ValueError(
                f"HiFiGANConfig: the generator must take mel.n_mels = {self.mel.n_mels} bands and upsample "
                f"by mel.hop_length = {self.mel.hop_length}; got n_mels {self.generator.n_mels} and "
                f"prod(upsample_rates) = {self.generator.hop_length}"
            )
        if self.segment_frames < 1 or min(self.mel_loss_weight, self.feature_matching_weight) < 0:
            raise ValueError(f"HiFiGANConfig: need segment_frames >= 1 and loss weights >= 0, got "
                             f"{(self.segment_frames, self.mel_loss_weight, self.feature_matching_weight)}")  # fmt: skip

    @classmethod
    def variant(cls, name: str) -> HiFiGANConfig:
        """The paper's generators with its discriminators: V1 (512 channels, ResBlock1, 14 M generator
        parameters), V2 (128 channels, 0.9 M), V3 (256 channels, ResBlock2, three stages, 1.5 M)."""
        generators = {"V1": GeneratorConfig(), "V2": GeneratorConfig(upsample_initial_channels=128),
                      "V3": V3_GENERATOR}  # fmt: skip
        if name not in generators:
            raise ValueError(f"HiFiGANConfig.variant: unknown {name!r}; choose one of {sorted(generators)}")
        return cls(generator=generators[name])

    @classmethod
    def preset(cls, profile: str) -> HiFiGANConfig:
        """ci: seconds (tiny generator and discriminators); cpu: V3's layout at 128 channels with
        discriminators 8x narrower, sized for about 15 minutes on 2 cores; gpu: V1."""
        presets = {
            "ci": cls(generator=dataclasses.replace(V3_GENERATOR, upsample_initial_channels=16,
                                                    resblock_kernel_sizes=(3,), resblock_dilations=((1, 2),)),
                      discriminator=DiscriminatorConfig(periods=(2, 3), period_channels=(4, 8, 8), scales=2,
                                                        scale_channels=(4, 4, 8, 8, 8, 8, 8),
                                                        scale_groups=(1, 2, 2, 2, 2, 2, 1)),
                      segment_frames=16),
            "cpu": cls(generator=dataclasses.replace(V3_GENERATOR, upsample_initial_channels=128),
                       discriminator=DiscriminatorConfig(period_channels=(8, 16, 64, 128, 128),
                                                         scale_channels=(16, 16, 32, 64, 128, 128, 128),
                                                         scale_groups=(1, 4, 4, 4, 4, 4, 1))),
            "gpu": cls.variant("V1"),
        }  # fmt: skip
        return profiles.pick(presets, profile)


class HiFiGAN(nn.Module):
    """The generator and both discriminators of one vocoder, saved and loaded together."""

    def __init__(self, config: HiFiGANConfig) -> None:
        super().__init__()
        self.config = config
        self.generator = Generator(config.generator)
        self.period_discriminator = MultiPeriodDiscriminator(config.discriminator)
        self.scale_discriminator = MultiScaleDiscriminator(config.discriminator)
        self.log_mel = LogMel(config.mel)  # for mel_l1; its buffers are not saved

    def _check_mel(self, mel: torch.Tensor) -> None:
        n_mels = self.config.mel.n_mels
        if not torch.is_tensor(mel) or mel.dim() != 3 or mel.shape[2] != n_mels:
            shape = tuple(mel.shape) if torch.is_tensor(mel) else type(mel).__name__
            raise ValueError(f"HiFiGAN: mel must be a (B, T_mel, n_mels = {n_mels}) log-mel tensor, time first, "
                             f"got {shape}; compute it with this vocoder's MelConfig (dsp.log_mel(...).T)")  # fmt: skip
        if mel.shape[1] == 0:
            raise ValueError("HiFiGAN: mel has 0 frames; there is nothing to vocode")
        if not torch.isfinite(mel).all():
            raise ValueError("HiFiGAN: mel contains NaN or infinite values; check the acoustic model's output "
                             "(a log-mel is finite: log(max(mel, log_floor)))")  # fmt: skip

    def forward(self, mel: torch.Tensor) -> torch.Tensor:
        """mel (B, T_mel, n_mels) log-mel -> waveform (B, T_mel * hop_length) in [-1, 1]."""
        self._check_mel(mel)
        return self.generator(mel.transpose(1, 2))  # (B, n_mels, T_mel) in, (B, T_wav) out

    def discriminate(self, waveform: torch.Tensor) -> DiscriminatorOutput:
        """waveform (B, T_wav) -> the period discriminators' scores and features, then the scale ones'."""
        periods, scales = self.period_discriminator(waveform), self.scale_discriminator(waveform)
        return DiscriminatorOutput(periods.scores + scales.scores, periods.features + scales.features)

    def mel_l1(self, generated: torch.Tensor, real: torch.Tensor) -> torch.Tensor:
        """generated, real (B, T_wav) -> mean |log-mel(generated) - log-mel(real)| (the paper's L_mel)."""
        return torch.mean(torch.abs(self.log_mel(generated) - self.log_mel(real)))

    @torch.no_grad()
    def vocode(self, mel: np.ndarray | torch.Tensor, length: int | None = None) -> np.ndarray:
        """One log-mel (T_mel, n_mels), time first -> float32 waveform (T_mel * hop_length,), or its
        first `length` samples, computed without gradients."""
        mel = torch.as_tensor(np.asarray(mel, dtype=np.float32) if not torch.is_tensor(mel) else mel)
        if mel.dim() != 2:
            raise ValueError(f"HiFiGAN.vocode: mel must be one (T_mel, n_mels) log-mel, got shape {tuple(mel.shape)}")
        device = next(self.generator.parameters()).device
        waveform = self(mel.float().unsqueeze(0).to(device))[0].cpu().numpy()  # (T_wav,)
        return waveform[:length] if length is not None else waveform


def artifact_path(kind: str = "cpu") -> Path:
    """data/artifacts/hifigan.pt for cpu/gpu runs, hifigan_ci.pt for the ci run."""
    return checkpoint.artifact_path("hifigan", kind)


def load_pretrained(path: str | Path | None = None, device: str | torch.device = "cpu") -> HiFiGAN:
    """The vocoder lesson 09 trained, in eval mode, built from the config in its checkpoint.

    path=None takes the cpu/gpu run's artifact if it exists, else the ci run's; raises
    FileNotFoundError naming lesson 09 when neither exists.
    """
    return checkpoint.load_pretrained("hifigan", HiFiGAN, HiFiGANConfig, TRAIN_HINT, path=path, device=device)
