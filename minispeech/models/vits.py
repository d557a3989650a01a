"""VITS (Kim et al., 2021): text -> waveform in one model, a conditional VAE with a flow prior and a GAN decoder.

VITSConfig          frozen: MelConfig, the decoder's GeneratorConfig, the FlowConfig, the DiscriminatorConfig,
                    text and posterior encoder sizes, inter_channels (the latent), segment_frames, loss
                    weights; .preset("ci" | "cpu" | "gpu")
TextEncoder         tokens -> hidden (B, C, T_txt) and the prior's mean and log-std (B, inter, T_txt)
PosteriorEncoder    linear spectrogram -> a sample z of q(z | x) and its mean and log-std (B, inter, T_mel)
alignment_log_likelihood  log N(f(z)_t | mean_i, std_i) for every token i and frame t (B, T_txt, T_mel)
monotonic_alignment the best monotonic path through it (dp.maximum_path), without gradient
path_from_durations durations (B, T_txt) -> the 0/1 path (B, T_txt, T_mel) they describe
durations_from_log  predicted log-durations -> int frames per token (ceil, length_scale, 0 on padding)
kl_loss             the reparameterized KL estimate between q(z | x) and the flowed prior
DurationPredictor   2 x (conv, ReLU, LayerNorm, dropout) -> 1x1 conv: log-duration per token (the
                    stochastic one is nn/stochastic_duration.StochasticDurationPredictor)
random_segment_starts, slice_segments  the decoder's random windows, and the waveform under them
VITS                forward(batch) -> VITSOutput (loss parts + what the GAN step needs); synthesize(tokens,
                    token_lengths, noise_scale, length_scale) -> SynthesisOutput; discriminate(waveform)
warm_start_decoder  copy lesson 09's HiFi-GAN generator into the decoder (same layout required)
artifact_path, load_pretrained  where lesson 10 saves the trained model; it, in eval mode

Training (the paper's Fig. 1a): the posterior encoder reads the linear spectrogram and samples z; the
flow f maps z to z_p = f(z) (volume preserving: mean-only couplings, log|det| = 0); MAS finds the
monotonic path of tokens over frames that maximizes log N(z_p | mean, std) of the text prior; the prior
is expanded along the path and the KL term pulls q(z | x) and the flowed prior together; a random
window of segment_frames latent frames is decoded by the HiFi-GAN generator (nn/generator, with
inter_channels input channels) and compared with the waveform under it (45 x mel L1, plus the GAN
losses from discriminate, which the lesson's loop adds: adversarial + 2 x feature matching); the
duration predictor learns log(d) of MAS's durations (d >= 1 frame for every token) from the detached
text hidden, MSE over the real tokens. Inference (Fig. 1b): durations = ceil(exp(log d) x length_scale),
the prior expanded by the path those durations make, z_p = mean + eps x std x noise_scale, z = f^-1(z_p),
waveform = generator(z).
Durations  both predictors train side by side on MAS's durations, each on the detached text hidden:
         the deterministic one (log d, MSE) and the stochastic one (nn/stochastic_duration, a flow trained
         by variational dequantization); synthesize(stochastic=...) picks one.
Departures  no speaker embedding (gin_channels = 0) and no blank tokens between phonemes (the
         paper's add_blank); the text encoder is nn/transformer's pre-LN layer with RoPE (the paper:
         post-LN with windowed relative positions) and its conv FFN has kernels (3, 1) (the paper:
         (3, 3)); the stochastic duration predictor's couplings are affine, not splines (its module
         doc); the discriminators are nn/'s MPD + MSD with one scale
         in every preset (the authors' code: 5 periods + the raw-scale discriminator); the mel loss
         compares log-mels recomputed from both waveform windows (like HiFiGAN.mel_l1).
Shapes   B batch, T_txt tokens, T_mel frames (T_wav // hop + 1 with center=True, like the corpus's mels),
         T_wav samples, C = hidden_channels, inter = inter_channels, S = segment_frames, V vocabulary.
         Conv stacks (B, C, T); masks are bool keep-masks (B, T) unless a (B, 1, T) float mask is named.
A batch  data.tts_collate's with with_waveform=True: tokens, token_lengths, waveform, waveform_lengths.
Taught in lessons/10_vits.ipynb.
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from minispeech import checkpoint, profiles
from minispeech.data.tts_tokens import TTS_SYMBOLS
from minispeech.dp.mas import maximum_path_torch
from minispeech.dsp import MelConfig
from minispeech.nn.attention import padding_mask
from minispeech.nn.discriminators import (
    DiscriminatorConfig,
    DiscriminatorOutput,
    MultiPeriodDiscriminator,
    MultiScaleDiscriminator,
)
from minispeech.nn.features import LogMel
from minispeech.nn.flows import FlowConfig, ResidualCouplingBlock
from minispeech.nn.generator import Generator, GeneratorConfig, copy_generator
from minispeech.nn.stochastic_duration import StochasticDurationConfig, StochasticDurationPredictor
from minispeech.nn.tokens import check_token_batch
from minispeech.nn.transformer import TransformerConfig, TransformerEncoderLayer
from minispeech.nn.wavenet import WaveNet, WaveNetConfig

TRAIN_HINT = "run lessons/10_vits.ipynb (its training section trains and saves the model)"
BATCH_KEYS = ("tokens", "token_lengths", "waveform", "waveform_lengths")
V1_GENERATOR = GeneratorConfig(n_mels=192)  # HiFi-GAN V1 reading 192 latent channels (the paper's decoder)
V3_GENERATOR = GeneratorConfig(upsample_rates=(8, 8, 4), upsample_kernel_sizes=(16, 16, 8),
                               upsample_initial_channels=256, resblock=2, resblock_kernel_sizes=(3, 5, 7),
                               resblock_dilations=((1, 2), (2, 6), (3, 12)))  # fmt: skip


@dataclasses.dataclass(frozen=True)
class VITSConfig:
    mel: MelConfig = MelConfig()  # n_fft, hop, window of the linear spectrogram; the mel loss's front end
    generator: GeneratorConfig = V1_GENERATOR  # the decoder; its n_mels = inter_channels (latent in, not mels)
    flow: FlowConfig = FlowConfig()  # its channels = inter_channels
    discriminator: DiscriminatorConfig = DiscriminatorConfig(scales=1)
    stochastic_duration: StochasticDurationConfig = StochasticDurationConfig()  # its in_channels = hidden_channels
    vocabulary_size: int = len(TTS_SYMBOLS)  # V
    inter_channels: int = 192  # the latent z: posterior output, prior, flow, decoder input
    hidden_channels: int = 192  # C of the text encoder
    text_encoder_layers: int = 6
    n_heads: int = 2
    filter_channels: int = 768  # the text encoder's conv FFN
    text_kernel_size: int = 3  # odd; the conv FFN's first kernel
    dropout: float = 0.1  # text encoder
    posterior_channels: int = 192  # the posterior encoder's WaveNet
    posterior_kernel_size: int = 5  # odd
    posterior_layers: int = 16
    duration_channels: int = 256
    duration_kernel_size: int = 3  # odd
    duration_dropout: float = 0.5
    segment_frames: int = 32  # latent frames decoded per item in training (32 x 256 = 8,192 samples)
    mel_loss_weight: float = 45.0  # the paper's lambda_mel
    kl_loss_weight: float = 1.0
    feature_matching_weight: float = 2.0  # used by the lesson's GAN step
    duration_loss_weight: float = 1.0
    stochastic_duration_loss_weight: float = 1.0
    max_frames: int = 1000  # the synthesis guard: an utterance is cut there

    def __post_init__(self) -> None:
        kernels = (self.text_kernel_size, self.posterior_kernel_size, self.duration_kernel_size)
        sizes = (self.vocabulary_size, self.inter_channels, self.text_encoder_layers, self.posterior_channels,
                 self.posterior_layers, self.duration_channels, self.segment_frames, self.max_frames)  # fmt: skip
        weights = (self.mel_loss_weight, self.kl_loss_weight, self.feature_matching_weight, self.duration_loss_weight,
                   self.stochastic_duration_loss_weight)  # fmt: skip
        rules = [  # (holds, what must hold, the values it is about)
            (self.generator.n_mels == self.inter_channels == self.flow.channels, "generator.n_mels and "
             "flow.channels equal to inter_channels (the decoder and the flow read the latent)",
             (self.generator.n_mels, self.flow.channels, self.inter_channels)),
            (self.generator.hop_length == self.mel.hop_length, "prod(generator.upsample_rates) = "
             "mel.hop_length (one latent frame per hop)", (self.generator.hop_length, self.mel.hop_length)),
            (self.stochastic_duration.in_channels == self.hidden_channels, "stochastic_duration.in_channels = "
             "hidden_channels (it reads the text hidden)", (self.stochastic_duration.in_channels, self.hidden_channels)),
            (self.flow.gin_channels == 0, "flow.gin_channels = 0 (no speaker embedding yet)", self.flow.gin_channels),
            (all(k > 0 and k % 2 for k in kernels), "odd text, posterior and duration kernel sizes", kernels),
            (self.hidden_channels % self.n_heads == 0 and (self.hidden_channels // self.n_heads) % 2 == 0,
             "hidden_channels a multiple of n_heads with an even head size (RoPE)",
             (self.hidden_channels, self.n_heads)),
            (min(sizes) >= 1, "sizes and counts >= 1", sizes),
            (0 <= self.dropout < 1 and 0 <= self.duration_dropout < 1, "dropouts in [0, 1)",
             (self.dropout, self.duration_dropout)),
            (min(weights) >= 0, "loss weights >= 0", weights),
            (self.segment_frames * self.mel.hop_length > self.mel.n_fft // 2, "segment_frames * mel.hop_length > "
             "mel.n_fft // 2 (the mel loss reflect-pads each window)", (self.segment_frames, self.mel.n_fft)),
        ]  # fmt: skip
        for holds, rule, values in rules:
            if not holds:
                raise ValueError(f"VITSConfig: need {rule}, got {values}")

    @classmethod
    def preset(cls, profile: str) -> VITSConfig:
        """ci: seconds (0.04 M generator-side parameters); cpu: 128 hidden channels, an 80-channel latent,
        3 text layers, 8 posterior layers, 4 couplings, HiFi-GAN V3's layout at 128 channels: the decoder is
        exactly lesson 09's cpu vocoder (80 input channels), so warm_start_decoder can copy it (about 6 M
        in all), for ~20 minutes on 2 cores; gpu: the paper's sizes (192 hidden and latent, 6 layers,
        2 heads, 768 filters, 16 posterior layers, V1 decoder, the stochastic duration predictor):
        34.8 M generator-side parameters, where the paper's ~36 M also hold a kernel-3 second FFN
        convolution in every text layer."""
        presets = {
            "ci": cls(generator=dataclasses.replace(V3_GENERATOR, n_mels=8, upsample_initial_channels=16,
                                                    resblock_kernel_sizes=(3,), resblock_dilations=((1, 2),)),
                      flow=FlowConfig(channels=8, hidden_channels=16, wavenet_layers=2, n_flows=2),
                      discriminator=DiscriminatorConfig(periods=(2, 3), period_channels=(4, 8, 8), scales=1,
                                                        scale_channels=(4, 4, 8, 8, 8, 8, 8),
                                                        scale_groups=(1, 2, 2, 2, 2, 2, 1)),
                      inter_channels=8, hidden_channels=16, text_encoder_layers=1, filter_channels=32,
                      posterior_channels=16, posterior_layers=2, duration_channels=16, segment_frames=8,
                      max_frames=400, stochastic_duration=StochasticDurationConfig(in_channels=16, filter_channels=16,
                                                                                   conv_layers=2, n_flows=2)),
            "cpu": cls(generator=dataclasses.replace(V3_GENERATOR, n_mels=80, upsample_initial_channels=128),
                       flow=FlowConfig(channels=80, hidden_channels=128),
                       discriminator=DiscriminatorConfig(period_channels=(8, 16, 64, 128, 128), scales=1,
                                                         scale_channels=(16, 16, 32, 64, 128, 128, 128),
                                                         scale_groups=(1, 4, 4, 4, 4, 4, 1)),
                       inter_channels=80, hidden_channels=128, text_encoder_layers=3, filter_channels=512,
                       posterior_channels=128, posterior_layers=8, duration_channels=128,
                       stochastic_duration=StochasticDurationConfig(in_channels=128, filter_channels=64)),
            "gpu": cls(),
        }  # fmt: skip
        return profiles.pick(presets, profile)


def frame_count(waveform_lengths: torch.Tensor, mel: MelConfig) -> torch.Tensor:
    """Samples (B,) -> STFT frames (B,): T_wav // hop + 1 with center=True, as the corpus's mels."""
    if mel.center:
        return waveform_lengths // mel.hop_length + 1
    return (waveform_lengths - mel.n_fft).clamp(min=0) // mel.hop_length + 1


class TextEncoder(nn.Module):
    """tokens (B, T_txt), token_lengths (B,) -> hidden (B, C, T_txt), prior_mean and prior_log_std
    (B, inter, T_txt) (the prior's μ_θ and log σ_θ), all zero on padding, and mask (B, T_txt)."""

    def __init__(self, config: VITSConfig) -> None:
        super().__init__()
        self.config = config
        size = config.hidden_channels
        self.embedding = nn.Embedding(config.vocabulary_size, size)
        nn.init.normal_(self.embedding.weight, 0.0, size**-0.5)  # x sqrt(C) below: unit-variance inputs
        layer = TransformerConfig(model_size=size, n_heads=config.n_heads, feedforward_size=config.filter_channels,
                                  dropout=config.dropout, rotary=True,
                                  feedforward_kernel_size=config.text_kernel_size)  # fmt: skip
        self.layers = nn.ModuleList(TransformerEncoderLayer(layer) for _ in range(config.text_encoder_layers))
        self.norm = nn.LayerNorm(size)  # pre-LN layers leave their sum unnormalized
        self.projection = nn.Conv1d(size, 2 * config.inter_channels, 1)

    def forward(self, tokens: torch.Tensor, token_lengths: torch.Tensor) -> tuple[torch.Tensor, ...]:
        mask = padding_mask(token_lengths, tokens.shape[1])  # (B, T_txt)
        x = self.embedding(tokens) * math.sqrt(self.config.hidden_channels)  # (B, T_txt, C)
        for layer in self.layers:
            x = layer(x, mask)  # (B, T_txt, C)
        hidden = (self.norm(x) * mask[:, :, None]).transpose(1, 2)  # (B, C, T_txt)
        statistics = self.projection(hidden) * mask[:, None, :]  # (B, 2 inter, T_txt)
        prior_mean, prior_log_std = statistics.chunk(2, dim=1)  # 2 x (B, inter, T_txt)
        return hidden, prior_mean, prior_log_std, mask


class PosteriorEncoder(nn.Module):
    """spectrogram (B, n_freqs, T_mel), frame_mask (B, T_mel) -> z, posterior_mean, posterior_log_std
    (B, inter, T_mel), zero past each length; z = mean + eps * exp(log_std), eps ~ N(0, I): q(z | x)."""

    def __init__(self, config: VITSConfig) -> None:
        super().__init__()
        channels = config.posterior_channels
        self.pre = nn.Conv1d(config.mel.n_freqs, channels, 1)
        self.wavenet = WaveNet(WaveNetConfig(channels=channels, kernel_size=config.posterior_kernel_size,
                                             layers=config.posterior_layers))  # fmt: skip
        self.projection = nn.Conv1d(channels, 2 * config.inter_channels, 1)

    def forward(self, spectrogram: torch.Tensor, frame_mask: torch.Tensor) -> tuple[torch.Tensor, ...]:
        keep = frame_mask[:, None, :].to(spectrogram.dtype)  # (B, 1, T_mel)
        hidden = self.wavenet(self.pre(spectrogram) * keep, keep)  # (B, channels, T_mel)
        statistics = self.projection(hidden) * keep  # (B, 2 inter, T_mel)
        mean, log_std = statistics.chunk(2, dim=1)  # 2 x (B, inter, T_mel)
        z = (mean + torch.randn_like(mean) * torch.exp(log_std)) * keep  # the reparameterization trick
        return z, mean, log_std


def alignment_log_likelihood(z_p: torch.Tensor, prior_mean: torch.Tensor, prior_log_std: torch.Tensor,
                             text_mask: torch.Tensor, frame_mask: torch.Tensor) -> torch.Tensor:  # fmt: skip
    """z_p (B, inter, T_mel) = f(z), prior_mean and prior_log_std (B, inter, T_txt), text_mask (B, T_txt),
    frame_mask (B, T_mel) -> (B, T_txt, T_mel): log N(z_p[:, :, t]; mean_i, diag(std_i^2)), 0 off the masks.

    Summed over channels c, with precision p = exp(-2 log_std), the square expands into three matrix
    products, so no (B, T_txt, T_mel, inter) tensor is ever built:
        sum_c [-0.5 log 2π - log_std - 0.5 p (z - mean)^2]
      = sum_c [-0.5 log 2π - log_std - 0.5 p mean^2]  +  (p mean)^T z  -  0.5 p^T z^2
    Lesson 10, exercise 10.2.
    """
    precision = torch.exp(-2 * prior_log_std)  # (B, inter, T_txt): 1 / std^2
    per_token = torch.sum(-0.5 * math.log(2 * math.pi) - prior_log_std - 0.5 * precision * prior_mean**2, dim=1)
    linear = torch.matmul((precision * prior_mean).transpose(1, 2), z_p)  # (B, T_txt, inter) @ (B, inter, T_mel)
    quadratic = torch.matmul(precision.transpose(1, 2), z_p**2)  # (B, T_txt, T_mel)
    log_likelihood = per_token[:, :, None] + linear - 0.5 * quadratic  # (B, T_txt, T_mel)
    return log_likelihood.masked_fill(~(text_mask[:, :, None] & frame_mask[:, None, :]), 0.0)


@torch.no_grad()
def monotonic_alignment(log_likelihood: torch.Tensor, text_mask: torch.Tensor,
                        frame_mask: torch.Tensor) -> torch.Tensor:  # fmt: skip
    """log_likelihood (B, T_txt, T_mel) -> the 0/1 path (B, T_txt, T_mel, its dtype) of monotonic alignment
    search: every real frame to one token, tokens in order, each token >= 1 frame; no gradient flows
    (the path is a constant for the losses). Its row sums path.sum(-1) are the durations."""
    mask = text_mask[:, :, None] & frame_mask[:, None, :]  # (B, T_txt, T_mel)
    return maximum_path_torch(log_likelihood, mask.to(log_likelihood.dtype))


def path_from_durations(durations: torch.Tensor, n_frames: int) -> torch.Tensor:
    """durations (B, T_txt) int frames -> float path (B, T_txt, T_mel = n_frames): token i covers the
    frames [d_0 + ... + d_{i-1}, d_0 + ... + d_i). prior (B, C, T_txt) @ path expands the prior."""
    ends = durations.cumsum(1)  # (B, T_txt)
    frames = torch.arange(n_frames, device=durations.device)  # (T_mel,)
    inside = (frames >= (ends - durations)[:, :, None]) & (frames < ends[:, :, None])  # (B, T_txt, T_mel)
    return inside.float()


def durations_from_log(log_duration: torch.Tensor, text_mask: torch.Tensor, length_scale: float = 1.0) -> torch.Tensor:
    """log_duration (B, T_txt) predicted log-frames, text_mask (B, T_txt) -> int64 frames (B, T_txt):
    ceil(exp(log d) x length_scale) on the real tokens (>= 1 each: ceil of a positive number), 0 on
    padding. length_scale > 1 speaks slower. Lesson 10, exercise 10.4 (with path_from_durations)."""
    frames = torch.ceil(torch.exp(log_duration) * length_scale).clamp(min=1)  # (B, T_txt)
    return frames.long() * text_mask


def kl_loss(z_p: torch.Tensor, posterior_log_std: torch.Tensor, prior_mean: torch.Tensor,
            prior_log_std: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:  # fmt: skip
    """The paper's reparameterized KL estimate, per real frame: z_p = f(z) (B, inter, T_mel); the
    posterior's log-std and the prior's mean and log-std expanded to frames, (B, inter, T_mel) each;
    mask (B, 1, T_mel) 0/1 ->
        sum over channels and frames of [log_std_p - log_std_q - 1/2 + 1/2 (z_p - mean_p)^2 exp(-2 log_std_p)]
        / mask.sum()
    log q(z | x) - log p(z_p) for one sample z, up to the flow's log|det| (0: mean-only couplings) and
    the Gaussians' shared constant; its mean over samples is KL(q || p). Lesson 10, exercise 10.3.
    """
    squared = (z_p - prior_mean) ** 2 * torch.exp(-2 * prior_log_std)  # (B, inter, T_mel)
    per_element = prior_log_std - posterior_log_std - 0.5 + 0.5 * squared  # (B, inter, T_mel)
    return torch.sum(per_element * mask) / torch.sum(mask)


class DurationPredictor(nn.Module):
    """hidden (B, C, T_txt), mask (B, T_txt) -> log-duration (B, T_txt), 0 on padding: 2 x (conv, ReLU,
    LayerNorm over channels, dropout) -> 1x1 conv. It reads the text hidden DETACHED: the duration loss
    trains the predictor, never the encoder. Trained on log(d) of MAS's durations (d >= 1). Lesson 10."""

    def __init__(self, config: VITSConfig) -> None:
        super().__init__()
        filters, kernel = config.duration_channels, config.duration_kernel_size
        sizes = (config.hidden_channels, filters, filters)
        self.convolutions = nn.ModuleList(nn.Conv1d(a, b, kernel, padding=kernel // 2)
                                          for a, b in zip(sizes[:-1], sizes[1:], strict=True))  # fmt: skip
        self.norms = nn.ModuleList(nn.LayerNorm(filters) for _ in range(2))
        self.dropout = nn.Dropout(config.duration_dropout)
        self.projection = nn.Conv1d(filters, 1, 1)

    def forward(self, hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        keep = mask[:, None, :].to(hidden.dtype)  # (B, 1, T_txt)
        x = hidden.detach()
        for convolution, norm in zip(self.convolutions, self.norms, strict=True):
            x = torch.relu(convolution(x * keep))  # (B, F, T_txt)
            x = self.dropout(norm(x.transpose(1, 2)).transpose(1, 2))  # (B, T_txt, F) normed -> (B, F, T_txt)
        return (self.projection(x * keep) * keep).squeeze(1)  # (B, 1, T_txt) -> (B, T_txt)


def random_segment_starts(frame_lengths: torch.Tensor, segment_frames: int) -> torch.Tensor:
    """frame_lengths (B,) -> int64 starts (B,), uniform in [0, max(length - S, 0)]: a window of S frames
    inside each utterance (from 0, running into the padding, when it is shorter than S)."""
    last_start = (frame_lengths - segment_frames).clamp(min=0)  # (B,)
    return (torch.rand(frame_lengths.shape, device=frame_lengths.device) * (last_start + 1)).long()


def slice_segments(x: torch.Tensor, starts: torch.Tensor, length: int) -> torch.Tensor:
    """x (B, C, T), starts (B,) -> (B, C, length): x[b, :, starts[b] : starts[b] + length], zeros past T.
    The waveform under latent frames [s, s + S) is slice_segments(waveform[:, None], s * hop, S * hop)."""
    short = int(starts.max()) + length - x.shape[2] if len(starts) else 0
    x = F.pad(x, (0, max(short, 0)))  # (B, C, >= max start + length)
    index = starts[:, None].to(x.device) + torch.arange(length, device=x.device)  # (B, length)
    return x.gather(2, index[:, None, :].expand(-1, x.shape[1], -1))  # (B, C, length)


class VITSOutput(NamedTuple):
    loss: torch.Tensor  # mel_loss_weight mel + kl_loss_weight kl + duration_loss_weight duration (no GAN terms)
    mel_loss: torch.Tensor  # mean |log-mel(generated) - log-mel(real)| over the windows
    kl_loss: torch.Tensor  # kl_loss(...) per real frame
    duration_loss: torch.Tensor  # MSE of log(d) over the real tokens, d = MAS's durations
    stochastic_duration_loss: torch.Tensor  # the stochastic predictor's bound on -log p(d | text) per real token
    generated: torch.Tensor  # (B, S * hop): the decoder's windows, for the discriminators
    real: torch.Tensor  # (B, S * hop): the waveform under them (zeros past each utterance)
    segment_starts: torch.Tensor  # (B,) int64: the windows' first latent frames
    path: torch.Tensor  # (B, T_txt, T_mel) 0/1: MAS's alignment; path.sum(-1) = durations


class SynthesisOutput(NamedTuple):
    waveform: torch.Tensor  # (B, T_wav) in [-1, 1], zeros past each length
    waveform_lengths: torch.Tensor  # (B,): durations.sum(1) * hop_length
    durations: torch.Tensor  # (B, T_txt) int64 frames per token (length_scale and guard applied)


class VITS(nn.Module):
    """Text encoder + posterior encoder + flow + duration predictor + decoder, and the discriminators."""

    def __init__(self, config: VITSConfig) -> None:
        super().__init__()
        self.config = config
        self.text_encoder = TextEncoder(config)
        self.posterior_encoder = PosteriorEncoder(config)
        self.flow = ResidualCouplingBlock(config.flow)
        self.duration_predictor = DurationPredictor(config)
        self.stochastic_duration_predictor = StochasticDurationPredictor(config.stochastic_duration)
        self.generator = Generator(config.generator)
        self.period_discriminator = MultiPeriodDiscriminator(config.discriminator)
        self.scale_discriminator = MultiScaleDiscriminator(config.discriminator)
        self.log_mel = LogMel(config.mel)  # the mel loss's front end and the posterior's |STFT|; buffers not saved

    def discriminator_parameters(self) -> list[nn.Parameter]:
        return [*self.period_discriminator.parameters(), *self.scale_discriminator.parameters()]

    def generator_side_parameters(self) -> list[nn.Parameter]:
        """Everything but the discriminators: what the generator-side optimizer steps."""
        discriminators = {id(p) for p in self.discriminator_parameters()}
        return [p for p in self.parameters() if id(p) not in discriminators]

    def _check_batch(self, batch: dict) -> tuple[torch.Tensor, ...]:
        missing = [key for key in BATCH_KEYS if key not in batch]
        if missing:
            raise ValueError(f"VITS: the batch lacks {missing}; VITS trains on waveforms: make the batch with "
                             "data.tts_collate from TTSDataset(..., with_waveform=True)")  # fmt: skip
        check_token_batch(batch["tokens"], batch["token_lengths"], self.config.vocabulary_size, "VITS")
        waveform, waveform_lengths = batch["waveform"], batch["waveform_lengths"]
        if waveform.dim() != 2 or not waveform.is_floating_point() or waveform_lengths.shape != waveform.shape[:1]:
            raise ValueError(f"VITS: waveform must be (B, T_wav) float samples with waveform_lengths (B,), got "
                             f"{tuple(waveform.shape)} {waveform.dtype} and {tuple(waveform_lengths.shape)}")
        if not torch.isfinite(waveform).all():
            raise ValueError("VITS: the waveform contains NaN or infinite samples; check the audio files")
        frames = frame_count(waveform_lengths, self.config.mel)  # (B,)
        short = (batch["token_lengths"] > frames) | (waveform_lengths > waveform.shape[1])
        if short.any():
            b = int(short.nonzero()[0])
            raise ValueError(f"VITS: utterance {b} has {int(batch['token_lengths'][b])} tokens but "
                             f"{int(frames[b])} frames ({int(waveform_lengths[b])} of {waveform.shape[1]} samples); "
                             "MAS gives every token >= 1 frame, so drop texts longer than their audio")
        device = self.generator.conv_post.bias.device
        return tuple(batch[key].to(device) for key in BATCH_KEYS)

    def forward(self, batch: dict) -> VITSOutput:
        """A tts_collate batch with waveforms (module doc) -> VITSOutput: the loss parts and the windows."""
        config, hop, segment = self.config, self.config.mel.hop_length, self.config.segment_frames
        tokens, token_lengths, waveform, waveform_lengths = self._check_batch(batch)
        hidden, prior_mean, prior_log_std, text_mask = self.text_encoder(tokens, token_lengths)
        spectrogram = self.log_mel.magnitude(waveform)  # (B, n_freqs, T_mel): the posterior's input, no log
        frame_lengths = frame_count(waveform_lengths, config.mel)  # (B,)
        frame_mask = padding_mask(frame_lengths, spectrogram.shape[2])  # (B, T_mel)
        z, _, posterior_log_std = self.posterior_encoder(spectrogram, frame_mask)
        keep = frame_mask[:, None, :].to(z.dtype)  # (B, 1, T_mel)
        z_p, _ = self.flow(z, keep)  # (B, inter, T_mel); log|det| = 0 (mean-only)
        with torch.no_grad():  # the path is a constant for the losses
            log_likelihood = alignment_log_likelihood(z_p, prior_mean, prior_log_std, text_mask, frame_mask)
            path = monotonic_alignment(log_likelihood, text_mask, frame_mask)  # (B, T_txt, T_mel)
        durations = path.sum(2)  # (B, T_txt) >= 1 on real tokens
        log_duration = self.duration_predictor(hidden, text_mask)  # (B, T_txt)
        duration_loss = (log_duration - torch.log(durations.clamp(min=1)))[text_mask].square().mean()
        text_keep = text_mask[:, None, :].to(z.dtype)  # (B, 1, T_txt)
        stochastic_bound = self.stochastic_duration_predictor.negative_log_likelihood(hidden, text_keep, durations)
        stochastic_duration_loss = stochastic_bound.sum() / text_keep.sum()  # (B,) -> per real token
        frame_prior_mean = torch.matmul(prior_mean, path)  # (B, inter, T_txt) @ (B, T_txt, T_mel)
        frame_prior_log_std = torch.matmul(prior_log_std, path)  # (B, inter, T_mel)
        kl = kl_loss(z_p, posterior_log_std, frame_prior_mean, frame_prior_log_std, keep)
        starts = random_segment_starts(frame_lengths, segment)  # (B,)
        generated = self.generator(slice_segments(z, starts, segment))  # (B, inter, S) -> (B, S * hop)
        real = slice_segments(waveform[:, None, :], starts * hop, segment * hop)[:, 0]  # (B, S * hop)
        mel_loss = torch.mean(torch.abs(self.log_mel(generated) - self.log_mel(real)))
        loss = (config.mel_loss_weight * mel_loss + config.kl_loss_weight * kl
                + config.duration_loss_weight * duration_loss
                + config.stochastic_duration_loss_weight * stochastic_duration_loss)  # fmt: skip
        return VITSOutput(loss, mel_loss, kl, duration_loss, stochastic_duration_loss, generated, real, starts, path)

    def discriminate(self, waveform: torch.Tensor) -> DiscriminatorOutput:
        """waveform (B, T_wav) -> the period discriminators' scores and features, then the scale ones'."""
        periods, scales = self.period_discriminator(waveform), self.scale_discriminator(waveform)
        return DiscriminatorOutput(periods.scores + scales.scores, periods.features + scales.features)

    @torch.no_grad()
    def synthesize(self, tokens: torch.Tensor, token_lengths: torch.Tensor, noise_scale: float = 0.667,
                   length_scale: float = 1.0, max_frames: int | None = None, stochastic: bool = False,
                   duration_noise_scale: float = 0.8) -> SynthesisOutput:  # fmt: skip
        """tokens (B, T_txt), token_lengths (B,) -> SynthesisOutput, in eval mode (the mode is restored).

        log d from the deterministic duration predictor, or with stochastic=True a sample of the
        stochastic one at duration_noise_scale (0: its noise-free path; the paper samples at 0.8);
        durations = ceil(exp(log d) x length_scale) (>= 1 a token; length_scale > 1 is slower); z_p is
        drawn from the expanded prior with its std x noise_scale (0: the mean), z = f^-1(z_p) is decoded.
        An utterance's frames stop at max_frames (default config.max_frames), its last tokens losing theirs.
        """
        max_frames = self.config.max_frames if max_frames is None else max_frames
        scales = (noise_scale, length_scale, duration_noise_scale)
        if not (all(math.isfinite(x) and x >= 0 for x in scales) and length_scale > 0 and max_frames >= 1):
            raise ValueError(f"VITS.synthesize: need noise_scale >= 0, length_scale > 0, duration_noise_scale >= 0 "
                             f"(finite) and max_frames >= 1, got {scales} and {max_frames}")  # fmt: skip
        check_token_batch(tokens, token_lengths, self.config.vocabulary_size, "VITS")
        was_training, device = self.training, self.generator.conv_post.bias.device
        self.eval()
        hidden, prior_mean, prior_log_std, text_mask = self.text_encoder(tokens.to(device), token_lengths.to(device))
        if stochastic:
            text_keep = text_mask[:, None, :].to(hidden.dtype)  # (B, 1, T_txt)
            log_duration = self.stochastic_duration_predictor.sample(hidden, text_keep, duration_noise_scale)
        else:
            log_duration = self.duration_predictor(hidden, text_mask)  # (B, T_txt)
        frames = durations_from_log(log_duration, text_mask, length_scale).clamp(max=max_frames)  # (B, T_txt)
        ends = frames.cumsum(1).clamp(max=max_frames)  # (B, T_txt): the guard
        durations = torch.diff(ends, dim=1, prepend=torch.zeros_like(ends[:, :1]))  # (B, T_txt)
        frame_lengths = ends[:, -1]  # (B,) >= 1
        path = path_from_durations(durations, int(frame_lengths.max()))  # (B, T_txt, T_mel)
        keep = padding_mask(frame_lengths, path.shape[2])[:, None, :].float()  # (B, 1, T_mel)
        frame_prior_mean = torch.matmul(prior_mean, path)  # (B, inter, T_mel)
        frame_prior_std = torch.exp(torch.matmul(prior_log_std, path))  # (B, inter, T_mel)
        z_p = (frame_prior_mean + torch.randn_like(frame_prior_mean) * frame_prior_std * noise_scale) * keep
        z = self.flow(z_p, keep, reverse=True)  # (B, inter, T_mel)
        waveform = self.generator(z * keep)  # (B, T_mel * hop)
        waveform_lengths = frame_lengths * self.config.mel.hop_length  # (B,)
        self.train(was_training)
        return SynthesisOutput(waveform * padding_mask(waveform_lengths, waveform.shape[1]), waveform_lengths,
                               durations)  # fmt: skip


def warm_start_decoder(model: VITS, vocoder: nn.Module) -> None:
    """Copy a trained HiFi-GAN's generator (models/hifigan.HiFiGAN, lesson 09) into model's decoder.

    The two must have the same layout, the vocoder's n_mels equal to the latent's inter_channels (the
    cpu preset's 80); otherwise a ValueError names the fields that differ. The vocoder read log-mels,
    so the posterior encoder starts out learning a latent that this decoder already turns into sound.
    """
    copy_generator(model.generator, vocoder.generator, "VITS.warm_start_decoder")


def artifact_path(kind: str = "cpu") -> Path:
    """data/artifacts/vits.pt for cpu/gpu runs, vits_ci.pt for the ci run."""
    return checkpoint.artifact_path("vits", kind)


def load_pretrained(path: str | Path | None = None, device: str | torch.device = "cpu") -> VITS:
    """The model lesson 10 trained, in eval mode, built from the config in its checkpoint.

    path=None takes the cpu/gpu run's artifact if it exists, else the ci run's; raises
    FileNotFoundError naming lesson 10 when neither exists.
    """
    return checkpoint.load_pretrained("vits", VITS, VITSConfig, TRAIN_HINT, path=path, device=device)
