"""A neural audio codec (SoundStream, Zeghidour et al., 2021; EnCodec, Défossez et al., 2022) at laptop size.

CodecConfig     frozen: sample rate, the encoder's channels, strides and residual units, the latent size, the
                residual quantizer's config, the decoder's GeneratorConfig, the MelConfig of the mel loss, the
                discriminators for a later GAN phase, the training segment, loss weights; .bitrate(n);
                .preset("ci" | "cpu" | "gpu")
ResidualUnit    x + conv_1x1(ELU(conv_k,d(ELU(x)))): a dilated convolution with a skip
EncoderBlock    residual units (dilations 1, 3, 9), then a strided convolution: C -> 2C channels, T -> T / s
Encoder         waveform (B, T_wav) -> latent (B, D, T_frames), T_frames = T_wav / hop
Codec           encoder -> ResidualVectorQuantizer (nn/quantize.py) -> decoder (nn/generator's HiFi-GAN
                generator reading D latent channels instead of mels); forward(waveform) -> CodecOutput
                (reconstruction, codes, every loss named, codebook usage); latent(waveform) -> the encoder's
                output; encode(waveform) -> codes;
                decode(codes) -> waveform; discriminate(waveform) for the GAN phase
warm_start_decoder  copy lesson 09's HiFi-GAN generator into the decoder (the cpu presets' layouts match)
artifact_path, load_pretrained  where lesson 11 saves the trained codec; it, in eval mode

The pipeline: waveform (B, T_wav) --pad--> (B, T_frames * hop) --encoder--> latent (B, D, T_frames)
--RVQ, K codebooks--> codes (B, K, T_frames), and the sum of their code vectors (B, D, T_frames)
--decoder--> (B, T_frames * hop) --crop--> (B, T_wav). The encoder's stride product is the hop, and the
decoder's upsampling product must equal it (checked), so each frame becomes exactly hop samples again.
Lengths  any T_wav >= 1: the waveform is padded with zeros at its end up to the next multiple of the hop,
         T_frames = ceil(T_wav / hop); forward crops the reconstruction back to T_wav, decode(codes, length)
         crops when given a length, else returns all T_frames * hop samples.
A strided convolution of kernel 2s, stride s and padding ceil(s / 2) maps a length that s divides to
exactly length / s, so with the padding above every stage divides evenly.
Bitrate  K log2(V) bits per frame x frame rate (sample_rate / hop), nn.quantize.bitrate:
         ci   4 codebooks x 16 codes (4 bits) x 86.13 Hz (22,050 / 256) = 1.38 kbps
         cpu  8 codebooks x 256 codes (8 bits) x 86.13 Hz = 5.51 kbps (0.69 kbps per codebook)
         gpu  8 codebooks x 1024 codes (10 bits) x 75 Hz (24,000 / 320) = 6.0 kbps, EnCodec's 6 kbps
         cpu uses 256-code books, not 1024: 10 bits x 8 x 86 Hz = 6.9 kbps would break the 6 kbps budget, and
         a 15-minute run sees too few frames per batch to keep 1024 codes alive.
Losses   forward: stft_loss_weight x multi-resolution STFT (nn/gan_losses) + mel_loss_weight x mean |log-mel
         difference| (nn.LogMel, like HiFiGAN.mel_l1) + the quantizer's commitment loss (its β is
         config.quantizer.quantizer.commitment_weight, so it enters with weight 1, as nn/quantize says)
         + the codebook loss (0 with EMA codebooks, which move by EMA, never by gradient).
         The GAN phase (adversarial + feature_matching_weight x feature matching, discriminators on the
         detached reconstruction) is the lesson's loop, as in lesson 09; discriminate() gives the scores.
Departures  non-causal convolutions and no LSTM in the encoder (SoundStream/EnCodec: causal, EnCodec adds
         an LSTM); the decoder is lesson 09's generator, not a mirror of the encoder; the RVQ has no
         input/output projections (code size = latent size D); no time-domain L1 and one mel resolution.
Shapes   B batch, T_wav samples, C channels, D latent size (= code size), K codebooks in the model, Q codebooks
         used (1..K), V codes per codebook, T_frames = ceil(T_wav / hop). Conv stacks (B, C, T).
Taught in lessons/11_codec.ipynb.
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils import parametrizations

from minispeech import checkpoint, profiles
from minispeech.dsp import MelConfig
from minispeech.nn.discriminators import (
    DiscriminatorConfig,
    DiscriminatorOutput,
    MultiPeriodDiscriminator,
    MultiScaleDiscriminator,
)
from minispeech.nn.features import LogMel
from minispeech.nn.gan_losses import STFT_RESOLUTIONS, multi_resolution_stft_loss
from minispeech.nn.generator import Generator, GeneratorConfig, copy_generator
from minispeech.nn.quantize import (
    QuantizerConfig,
    ResidualQuantizerConfig,
    ResidualVectorQuantizer,
    bitrate,
)

TRAIN_HINT = "run lessons/11_codec.ipynb (its training section trains and saves the codec)"
PRE_POST_KERNEL_SIZE = 7  # the encoder's first and last convolution (SEANet's)
# HiFi-GAN V3's layout at 128 channels reading 80 latent channels: lesson 09's cpu generator exactly
V3_DECODER = GeneratorConfig(n_mels=80, upsample_rates=(8, 8, 4), upsample_kernel_sizes=(16, 16, 8),
                             upsample_initial_channels=128, resblock=2, resblock_kernel_sizes=(3, 5, 7),
                             resblock_dilations=((1, 2), (2, 6), (3, 12)))  # fmt: skip
# HiFi-GAN's cpu-preset discriminators: the paper's layout, 8x narrower
SMALL_DISCRIMINATORS = DiscriminatorConfig(period_channels=(8, 16, 64, 128, 128),
                                           scale_channels=(16, 16, 32, 64, 128, 128, 128),
                                           scale_groups=(1, 4, 4, 4, 4, 4, 1))  # fmt: skip


@dataclasses.dataclass(frozen=True)
class CodecConfig:
    sample_rate: int = 22050  # Hz; waveforms at another rate must be resampled first
    encoder_channels: int = 16  # C after the first convolution; every strided convolution doubles it
    encoder_strides: tuple[int, ...] = (4, 4, 4, 4)  # product = hop (256: 86.13 frames/s at 22,050 Hz)
    residual_kernel_size: int = 7  # the dilated convolution of each residual unit (odd)
    residual_dilations: tuple[int, ...] = (1, 3, 9)  # one residual unit per dilation, before every stride
    latent_dim: int = 80  # D: the encoder's output channels = the code size = the decoder's input channels
    quantizer: ResidualQuantizerConfig = ResidualQuantizerConfig(
        QuantizerConfig(dim=80, codebook_size=256), n_quantizers=8, quantizer_dropout=0.5)  # fmt: skip
    decoder: GeneratorConfig = V3_DECODER  # its n_mels = latent_dim, its upsampling product = the hop
    mel: MelConfig = MelConfig()  # the mel loss's front end; mel.sample_rate = sample_rate
    discriminators: bool = True  # build MPD + MSD for the GAN phase (they take no part in forward)
    discriminator: DiscriminatorConfig = SMALL_DISCRIMINATORS
    segment_samples: int = 8192  # training windows: 32 frames at hop 256
    stft_loss_weight: float = 1.0
    mel_loss_weight: float = 45.0  # HiFi-GAN's lambda_mel (lesson 09's warm-up: STFT + 45 x mel L1)
    feature_matching_weight: float = 2.0  # HiFi-GAN's lambda_fm, for the lesson's GAN phase

    def __post_init__(self) -> None:
        hop, strides = self.hop_length, self.encoder_strides
        weights = (self.stft_loss_weight, self.mel_loss_weight, self.feature_matching_weight)
        rules = [  # (holds, what must hold, the values it is about)
            (len(strides) >= 1 and min(strides) >= 2, "encoder_strides >= 2 (stride 1 needs no stage)", strides),
            (self.decoder.hop_length == hop, "prod(decoder.upsample_rates) = prod(encoder_strides) (one hop per "
             "frame both ways)", (self.decoder.upsample_rates, strides)),
            (self.decoder.n_mels == self.latent_dim == self.quantizer.quantizer.dim, "decoder.n_mels and "
             "quantizer.quantizer.dim equal to latent_dim (the decoder and the codes read the latent)",
             (self.decoder.n_mels, self.quantizer.quantizer.dim, self.latent_dim)),
            (self.mel.sample_rate == self.sample_rate, "mel.sample_rate = sample_rate",
             (self.mel.sample_rate, self.sample_rate)),
            (min(self.encoder_channels, self.latent_dim) >= 1, "encoder_channels and latent_dim >= 1",
             (self.encoder_channels, self.latent_dim)),
            (self.residual_kernel_size % 2 == 1, "an odd residual_kernel_size", self.residual_kernel_size),
            (len(self.residual_dilations) >= 1 and min(self.residual_dilations) >= 1, "residual_dilations >= 1",
             self.residual_dilations),
            (self.segment_samples % hop == 0 and self.segment_samples >= shortest_training_input(self.mel),
             f"segment_samples a multiple of the hop ({hop}) and >= {shortest_training_input(self.mel)} (the "
             "longest STFT of the losses)", self.segment_samples),
            (min(weights) >= 0, "loss weights >= 0", weights),
        ]  # fmt: skip
        for holds, rule, values in rules:
            if not holds:
                raise ValueError(f"CodecConfig: need {rule}, got {values}")

    @property
    def hop_length(self) -> int:
        """Samples per frame: the product of the encoder's strides."""
        return math.prod(self.encoder_strides)

    @property
    def frame_rate(self) -> float:
        """Frames (code vectors per codebook) per second: sample_rate / hop."""
        return self.sample_rate / self.hop_length

    def bitrate(self, n_quantizers: int | None = None) -> float:
        """Bits per second of the codes with the first n_quantizers codebooks (all K for None)."""
        total = self.quantizer.n_quantizers
        n_quantizers = total if n_quantizers is None else n_quantizers
        if not 1 <= n_quantizers <= total:
            raise ValueError(f"CodecConfig.bitrate: n_quantizers must lie in [1, {total}], got {n_quantizers}")
        return bitrate(n_quantizers, self.quantizer.quantizer.codebook_size, self.frame_rate)

    @classmethod
    def preset(cls, profile: str) -> CodecConfig:
        """ci: seconds (4 codebooks of 16 codes, 1.4 kbps; lesson 09's ci generator as the decoder); cpu: the defaults, 8 x 256 codes
        = 5.5 kbps at 22,050 Hz, a 1.0 M encoder with an 80-channel latent and, as the decoder, lesson 09's cpu
        generator (HiFi-GAN V3's layout at 128 channels, 0.40 M; warm_start_decoder copies it), about 0.35 s
        per step of 8 x 8,192 samples on 2 cores; gpu: 24 kHz, EnCodec's strides
        (2, 4, 5, 8) = 320 (75 Hz), 8 x 1024 codes = 6 kbps, a 5.1 M encoder and a V1-sized decoder (14 M)."""
        quantizer = ResidualQuantizerConfig(QuantizerConfig(dim=128, codebook_size=1024), n_quantizers=8,
                                            quantizer_dropout=0.5)  # fmt: skip
        presets = {
            "ci": cls(encoder_channels=4, residual_dilations=(1, 3), latent_dim=80,
                      quantizer=ResidualQuantizerConfig(QuantizerConfig(dim=80, codebook_size=16, kmeans_iterations=2),
                                                        n_quantizers=4, quantizer_dropout=0.5),
                      decoder=dataclasses.replace(V3_DECODER, upsample_initial_channels=16,
                                                  resblock_kernel_sizes=(3,), resblock_dilations=((1, 2),)),
                      discriminator=DiscriminatorConfig(periods=(2, 3), period_channels=(4, 8, 8), scales=1,
                                                        scale_channels=(4, 4, 8, 8, 8, 8, 8),
                                                        scale_groups=(1, 2, 2, 2, 2, 2, 1)),
                      segment_samples=4096),
            "cpu": cls(),
            "gpu": cls(sample_rate=24000, encoder_channels=32, encoder_strides=(2, 4, 5, 8), latent_dim=128,
                       quantizer=quantizer, mel=MelConfig(sample_rate=24000, fmax=12000.0),
                       decoder=GeneratorConfig(n_mels=128, upsample_rates=(8, 5, 4, 2),
                                               upsample_kernel_sizes=(16, 11, 8, 4)),
                       discriminator=DiscriminatorConfig(), segment_samples=24000),
        }  # fmt: skip
        return profiles.pick(presets, profile)


def shortest_training_input(mel: MelConfig) -> int:
    """The fewest samples forward accepts: the 2048-point STFT of the loss reflect-pads by 1024 (and the mel
    loss by mel.n_fft // 2), which needs more samples than that."""
    return max(max(n_fft for n_fft, _, _ in STFT_RESOLUTIONS), mel.n_fft) // 2 + 1


def _conv(in_channels: int, out_channels: int, kernel_size: int, stride: int = 1, dilation: int = 1) -> nn.Conv1d:
    """A weight-normed Conv1d (as nn/generator's). Stride 1: 'same' padding for an odd kernel. Stride s with
    kernel 2s: padding ceil(s / 2), which maps a length that s divides to exactly length / s."""
    padding = dilation * (kernel_size - 1) // 2 if stride == 1 else (stride + 1) // 2
    conv = nn.Conv1d(in_channels, out_channels, kernel_size, stride=stride, dilation=dilation, padding=padding)
    return parametrizations.weight_norm(conv)


class ResidualUnit(nn.Module):
    """x (B, C, T) -> (B, C, T): x + conv_1x1(ELU(conv_k,d(ELU(x)))), SoundStream's residual unit."""

    def __init__(self, channels: int, kernel_size: int, dilation: int) -> None:
        super().__init__()
        self.dilated = _conv(channels, channels, kernel_size, dilation=dilation)
        self.pointwise = _conv(channels, channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.pointwise(F.elu(self.dilated(F.elu(x))))


class EncoderBlock(nn.Module):
    """x (B, C, T) -> (B, 2C, T / s): residual units with growing dilations, ELU, a strided convolution."""

    def __init__(self, channels: int, stride: int, config: CodecConfig) -> None:
        super().__init__()
        self.units = nn.ModuleList(ResidualUnit(channels, config.residual_kernel_size, dilation)
                                   for dilation in config.residual_dilations)  # fmt: skip
        self.downsample = _conv(channels, 2 * channels, 2 * stride, stride=stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for unit in self.units:
            x = unit(x)  # (B, C, T)
        return self.downsample(F.elu(x))  # (B, 2C, T / s)


class Encoder(nn.Module):
    """waveform (B, T_wav), T_wav a multiple of the hop -> latent (B, D, T_wav / hop). Lesson 11."""

    def __init__(self, config: CodecConfig) -> None:
        super().__init__()
        channels = config.encoder_channels
        self.conv_pre = _conv(1, channels, PRE_POST_KERNEL_SIZE)
        self.blocks = nn.ModuleList()
        for stride in config.encoder_strides:
            self.blocks.append(EncoderBlock(channels, stride, config))
            channels *= 2
        self.conv_post = _conv(channels, config.latent_dim, PRE_POST_KERNEL_SIZE)

    def forward(self, waveform: torch.Tensor) -> torch.Tensor:
        x = self.conv_pre(waveform.unsqueeze(1))  # (B, C, T_wav)
        for block in self.blocks:
            x = block(x)  # (B, 2C, T / s)
        return self.conv_post(F.elu(x))  # (B, D, T_frames)


class CodecOutput(NamedTuple):
    reconstructed: torch.Tensor  # (B, T_wav), cropped to the input's length
    codes: torch.Tensor  # (B, Q, T_frames) int64
    commitment_loss: torch.Tensor  # () the quantizer's, β included, summed over the stages
    codebook_loss: torch.Tensor  # () 0 with EMA codebooks
    stft_loss: torch.Tensor  # () multi-resolution STFT (spectral convergence + log-magnitude L1)
    mel_loss: torch.Tensor  # () mean |log-mel(reconstructed) - log-mel(waveform)|
    loss: torch.Tensor  # () the weighted sum the codec trains on (no adversarial terms)
    perplexities: torch.Tensor  # (Q,) each codebook's usage perplexity in this batch, 1..V
    used_fractions: torch.Tensor  # (Q,) each codebook's share of codes used in this batch


class Codec(nn.Module):
    """Encoder, residual vector quantizer and decoder (and the GAN phase's discriminators), saved together."""

    def __init__(self, config: CodecConfig) -> None:
        super().__init__()
        self.config = config
        self.encoder = Encoder(config)
        self.quantizer = ResidualVectorQuantizer(config.quantizer)
        self.decoder = Generator(config.decoder)
        self.log_mel = LogMel(config.mel)  # for the mel loss; its buffers are not saved
        if config.discriminators:
            self.period_discriminator = MultiPeriodDiscriminator(config.discriminator)
            self.scale_discriminator = MultiScaleDiscriminator(config.discriminator)

    def _checked_waveform(self, where: str, waveform: torch.Tensor, sample_rate: int | None,
                          shortest: int = 1) -> torch.Tensor:  # fmt: skip
        """Named errors for what the codec cannot read; the waveform in the encoder's dtype and device."""
        expected = self.config.sample_rate
        if sample_rate is not None and sample_rate != expected:
            raise ValueError(f"{where}: this codec works at {expected} Hz, got audio at {sample_rate} Hz; resample "
                             f"it first: minispeech.audio.resample(waveform, {sample_rate}, {expected})")  # fmt: skip
        if not torch.is_tensor(waveform) or not waveform.is_floating_point():
            got = waveform.dtype if torch.is_tensor(waveform) else type(waveform).__name__
            raise ValueError(f"{where}: waveform must be a float tensor of samples in [-1, 1], got {got}; convert "
                             "16-bit PCM with waveform.float() / 32768")  # fmt: skip
        if waveform.dim() == 1:
            raise ValueError(f"{where}: waveform must be (B, T_wav), got one waveform of shape "
                             f"{tuple(waveform.shape)}; add the batch axis: waveform.unsqueeze(0)")  # fmt: skip
        if waveform.dim() != 2:
            raise ValueError(f"{where}: waveform must be (B, T_wav) mono samples, got shape {tuple(waveform.shape)}")
        if waveform.numel() == 0:
            raise ValueError(f"{where}: waveform is empty (shape {tuple(waveform.shape)}); there is nothing to code")
        if not torch.isfinite(waveform).all():
            raise ValueError(f"{where}: waveform contains NaN or infinite samples; check the audio file or the "
                             "model that made it")  # fmt: skip
        if waveform.shape[1] < shortest:
            raise ValueError(f"{where}: forward trains on at least {shortest} samples (its STFT losses), got "
                             f"{waveform.shape[1]}; train on segments of config.segment_samples, and use "
                             "encode/decode for shorter audio")  # fmt: skip
        return waveform.to(self.encoder.conv_pre.bias)

    def latent(self, waveform: torch.Tensor) -> torch.Tensor:
        """waveform (B, T_wav) -> the encoder's latent (B, D, ceil(T_wav / hop)) before quantization (what
        the codebooks see), the waveform zero-padded at its end. The input is not checked: forward and encode
        check it."""
        hop = self.config.hop_length
        padded = F.pad(waveform, (0, -waveform.shape[1] % hop))  # (B, T_frames * hop)
        return self.encoder(padded)  # (B, D, T_frames)

    def forward(self, waveform: torch.Tensor, n_quantizers: int | None = None,
                sample_rate: int | None = None) -> CodecOutput:  # fmt: skip
        """waveform (B, T_wav) -> CodecOutput, T_wav >= shortest_training_input. n_quantizers None uses all K
        codebooks (in training, quantizer dropout may use fewer); 1..K uses the first n. In training mode
        the quantizer initializes and updates its codebooks (EMA, dead-code restarts)."""
        config = self.config
        waveform = self._checked_waveform("Codec", waveform, sample_rate, shortest_training_input(config.mel))
        quantized = self.quantizer(self.latent(waveform), n_quantizers=n_quantizers)
        reconstructed = self.decoder(quantized.quantized)[:, : waveform.shape[1]]  # (B, T_wav)
        stft_loss = multi_resolution_stft_loss(reconstructed, waveform)
        mel_loss = torch.mean(torch.abs(self.log_mel(reconstructed) - self.log_mel(waveform)))
        loss = (config.stft_loss_weight * stft_loss + config.mel_loss_weight * mel_loss
                + quantized.commitment_loss + quantized.codebook_loss)  # fmt: skip
        return CodecOutput(reconstructed, quantized.codes, quantized.commitment_loss, quantized.codebook_loss,
                           stft_loss, mel_loss, loss, quantized.perplexities, quantized.used_fractions)  # fmt: skip

    @torch.no_grad()
    def encode(self, waveform: torch.Tensor, n_quantizers: int | None = None,
               sample_rate: int | None = None) -> torch.Tensor:  # fmt: skip
        """waveform (B, T_wav), any T_wav >= 1 -> codes (B, Q, ceil(T_wav / hop)) int64, Q = n_quantizers (K
        for None). Never changes the codebooks, in either mode."""
        waveform = self._checked_waveform("Codec.encode", waveform, sample_rate)
        return self.quantizer.encode(self.latent(waveform), n_quantizers)  # (B, Q, T_frames)

    @torch.no_grad()
    def decode(self, codes: torch.Tensor, length: int | None = None) -> torch.Tensor:
        """codes (B, Q, T_frames), 1 <= Q <= K, entries in [0, V) -> waveform (B, T_frames * hop) in [-1, 1],
        or its first `length` samples (the input's length, to undo encode's padding)."""
        self._check_codes(codes)
        waveform = self.decoder(self.quantizer.decode(codes.to(torch.int64)))  # (B, T_frames * hop)
        return waveform if length is None else waveform[:, :length]

    def _check_codes(self, codes: torch.Tensor) -> None:
        total, size = self.config.quantizer.n_quantizers, self.config.quantizer.quantizer.codebook_size
        if not torch.is_tensor(codes) or codes.dim() != 3 or codes.is_floating_point() or codes.is_complex():
            shape = tuple(codes.shape) if torch.is_tensor(codes) else type(codes).__name__
            raise ValueError(f"Codec.decode: codes must be a (B, Q, T_frames) integer tensor, as encode returns, "
                             f"got {shape}")  # fmt: skip
        if not 1 <= codes.shape[1] <= total or codes.shape[0] == 0 or codes.shape[2] == 0:
            raise ValueError(f"Codec.decode: codes must hold 1..{total} codebooks and at least one frame, got shape "
                             f"{tuple(codes.shape)}")  # fmt: skip
        if codes.min() < 0 or codes.max() >= size:
            raise ValueError(f"Codec.decode: codes out of range: each codebook holds codes 0..{size - 1}, got "
                             f"values in [{int(codes.min())}, {int(codes.max())}]")  # fmt: skip

    def discriminate(self, waveform: torch.Tensor) -> DiscriminatorOutput:
        """waveform (B, T_wav) -> the period discriminators' scores and features, then the scale ones'."""
        if not self.config.discriminators:
            raise ValueError("Codec.discriminate: this codec has no discriminators (config.discriminators is "
                             "False); build it with discriminators=True for the GAN phase")  # fmt: skip
        periods, scales = self.period_discriminator(waveform), self.scale_discriminator(waveform)
        return DiscriminatorOutput(periods.scores + scales.scores, periods.features + scales.features)

    def codec_parameters(self) -> list[nn.Parameter]:
        """Encoder, decoder (and gradient-learnt codebooks): the first optimizer's parameters."""
        return [*self.encoder.parameters(), *self.quantizer.parameters(), *self.decoder.parameters()]

    def discriminator_parameters(self) -> list[nn.Parameter]:
        """The GAN phase's second optimizer's parameters; [] without discriminators."""
        if not self.config.discriminators:
            return []
        return [*self.period_discriminator.parameters(), *self.scale_discriminator.parameters()]


def warm_start_decoder(model: Codec, vocoder: nn.Module) -> None:
    """Copy a trained HiFi-GAN's generator (models/hifigan.HiFiGAN, lesson 09) into the codec's decoder.

    The two must have the same layout, the vocoder's n_mels equal to the latent size (the cpu presets' 80);
    otherwise a ValueError names the fields that differ. The decoder then starts out turning log-mel-like
    latents into speech, so the budget goes to the encoder and the codebooks (lesson 10 does the same).
    """
    copy_generator(model.decoder, vocoder.generator, "codec.warm_start_decoder")


def artifact_path(kind: str = "cpu") -> Path:
    """data/artifacts/codec.pt for cpu/gpu runs, codec_ci.pt for the ci run."""
    return checkpoint.artifact_path("codec", kind)


def load_pretrained(path: str | Path | None = None, device: str | torch.device = "cpu") -> Codec:
    """The codec lesson 11 trained, in eval mode, built from the config in its checkpoint.

    path=None takes the cpu/gpu run's artifact if it exists, else the ci run's; raises FileNotFoundError
    naming lesson 11 when neither exists.
    """
    return checkpoint.load_pretrained("codec", Codec, CodecConfig, TRAIN_HINT, path=path, device=device)
