"""FastSpeech 2 (Ren et al., 2021): phonemes -> log-mel frames in one parallel pass, no attention.

FastSpeech2Config  frozen config; .preset("ci" | "cpu" | "gpu"); .with_statistics(a TTS corpus folder or
                   its stats.json dict) sets the pitch and energy scales
length_regulate    hidden (B, T_txt, C), durations (B, T_txt) -> (B, T_mel, C): row k repeated d_k times
scale_durations    durations / speed, rounded half up: the integer frames length_regulate uses
durations_from_alignment  frame labels (T_mel,) or hard paths (T_txt, T_mel) -> frames per token
bucketize          pitch and energy -> bucket indices for their embeddings
pitch_targets, energy_targets  the corpus's phoneme_f0 (Hz) and phoneme_energy -> normalized targets
VariancePredictor  2 x (Conv1d, ReLU, LayerNorm, dropout) -> Linear: one value per token
VarianceAdaptor    duration, pitch and energy predictors; pitch and energy embeddings added to the hidden
FastSpeech2        forward(batch) -> FastSpeech2Output (.loss and its named parts; the true durations,
                   pitch, energy); synthesize(tokens, token_lengths, speed, pitch_shift_semitones,
                   energy_scale) -> SynthesisOutput (the predicted ones)
artifact_path, load_pretrained  where lesson 08 saves the trained model; it, in eval mode

The pipeline: tokens (B, T_txt) -> embedding + positions -> encoder FFT blocks -> hidden (B, T_txt, C)
-> variance adaptor (log-duration, pitch, energy predicted per token; pitch, then energy, bucketed,
embedded, added to hidden) -> length regulator (true durations in training, predicted at inference)
-> (B, T_mel, C) + positions -> decoder FFT blocks -> Linear -> mel [-> mel + Postnet(mel)].
FFT block = self-attention + a conv feed-forward (kernel 9, then 1): nn/transformer's encoder layer
with feedforward_kernel_size = 9, pre-LN with a final LayerNorm (the paper's is post-LN; pre-LN is
the block nn/ gives every model, and trains without a warm-up).
PHONEME-level variances (as in FastPitch; the paper predicts per frame): one pitch and one energy per
token, the corpus's phoneme_f0 (mean over the token's voiced frames, 0 if none) and phoneme_energy,
predicted and embedded on T_txt positions, before the length regulator.
Targets  duration log(d + 1); pitch (ln f0 - log_f0_mean) / log_f0_std, and 0 (the mean) for an
         unvoiced token, kept in the loss so that the embedding hears the same kind of value in
         training and at inference; energy (energy - energy_mean) / energy_std. MSE over real tokens.
         n_bins buckets, uniform in log-F0 (log-spaced in Hz, as in the paper) and in energy between
         the config's min and max; values outside fall in the end buckets.
Scale    mel bands are normalized inside, (log-mel - mean) / std (set_mel_statistics; buffers saved with
         the weights); the mel loss (L1, as in the paper) lives there. Mels in and out are log-mels.
Shapes   B batch, T_txt tokens, T_mel frames, C = model_size channels, V tokens (<pad> = 0). A batch is
         data.tts_collate's: tokens, token_lengths, durations, phoneme_f0, phoneme_energy, mel, mel_lengths.
Taught in lessons/08_fastspeech2.ipynb.
"""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from minispeech import checkpoint, profiles
from minispeech.data.tts import TTS_BUILD_COMMAND
from minispeech.data.tts_tokens import TTS_SYMBOLS
from minispeech.dsp import MelConfig
from minispeech.nn.attention import padding_mask
from minispeech.nn.mel_normalization import MelNormalization
from minispeech.nn.postnet import Postnet, PostnetConfig
from minispeech.nn.tokens import check_token_batch
from minispeech.nn.transformer import (
    SinusoidalPositionalEncoding,
    TransformerConfig,
    TransformerEncoderLayer,
)

TRAIN_HINT = "run lessons/08_fastspeech2.ipynb (its training section trains and saves the model)"
SEMITONE = math.log(2) / 12  # one semitone in natural-log F0
BATCH_KEYS = ("tokens", "token_lengths", "durations", "phoneme_f0", "phoneme_energy", "mel", "mel_lengths")
STATISTICS = ("mean", "std", "min", "max")  # the moments stats.json gives for each quantity


@dataclasses.dataclass(frozen=True)
class FastSpeech2Config:
    mel: MelConfig = MelConfig()  # the front end the target mels were computed with
    vocabulary_size: int = len(TTS_SYMBOLS)  # V
    model_size: int = 256  # C: encoder, adaptor and decoder channels
    encoder_layers: int = 4
    decoder_layers: int = 4
    n_heads: int = 2
    feedforward_size: int = 1024  # filters of the FFT blocks' conv feed-forward
    encoder_kernel_size: int = 9  # odd; the conv FFN's first kernel (its second is 1)
    decoder_kernel_size: int = 9  # odd
    dropout: float = 0.2  # FFT blocks
    variance_size: int = 256  # filters of the variance predictors
    variance_kernel_size: int = 3  # odd
    variance_dropout: float = 0.5
    n_bins: int = 256  # pitch and energy buckets, each with an embedding
    # Defaults: the TTS corpus's stats.json ("log_f0_voiced", "phoneme_energy"); see with_statistics
    log_f0_mean: float = 4.535  # natural log of Hz (93 Hz)
    log_f0_std: float = 0.096
    log_f0_min: float = 4.18  # 65 Hz
    log_f0_max: float = 6.0  # 403 Hz
    energy_mean: float = 0.050  # RMS amplitude (dsp.energy), averaged over a token's frames
    energy_std: float = 0.040
    energy_min: float = 0.0
    energy_max: float = 0.18
    duration_loss_weight: float = 1.0
    use_postnet: bool = False  # the paper has none; nn/postnet's (Tacotron 2's) when True
    postnet_channels: int = 512
    postnet_layers: int = 5
    postnet_kernel_size: int = 5  # odd
    postnet_dropout: float = 0.5
    max_frames: int = 1000  # the synthesis guard: an utterance is cut there (11.6 s at 86 frames/s)

    def __post_init__(self) -> None:
        kernels = (self.encoder_kernel_size, self.decoder_kernel_size, self.variance_kernel_size,
                   self.postnet_kernel_size)  # fmt: skip
        counts = (self.vocabulary_size, self.encoder_layers, self.decoder_layers, self.max_frames)
        dropouts = (self.dropout, self.variance_dropout, self.postnet_dropout)
        ranges = ((self.log_f0_min, self.log_f0_max), (self.energy_min, self.energy_max))
        rules = [  # (holds, what must hold, the values it is about)
            (all(k > 0 and k % 2 for k in kernels), "encoder_kernel_size, decoder_kernel_size, "
             "variance_kernel_size, postnet_kernel_size must be odd", kernels),
            (self.model_size % (2 * self.n_heads) == 0, "model_size must be a multiple of 2 n_heads (whole "
             "heads, and even for the sinusoidal positions)", (self.model_size, self.n_heads)),
            (min(counts) >= 1, "vocabulary_size, encoder_layers, decoder_layers, max_frames must be >= 1",
             counts),
            (min(self.n_bins, self.postnet_layers) >= 2, "n_bins and postnet_layers must be >= 2",
             (self.n_bins, self.postnet_layers)),
            (all(0 <= p < 1 for p in dropouts), "dropout, variance_dropout, postnet_dropout must be in "
             "[0, 1)", dropouts),
            (min(self.log_f0_std, self.energy_std) > 0 and all(low < high for low, high in ranges),
             "log_f0_std, energy_std must be > 0, log_f0_min < log_f0_max, energy_min < energy_max",
             (self.log_f0_std, self.energy_std, ranges)),
            (self.duration_loss_weight >= 0, "duration_loss_weight must be >= 0", self.duration_loss_weight),
        ]  # fmt: skip
        for holds, rule, values in rules:
            if not holds:
                raise ValueError(f"FastSpeech2Config: {rule}, got {values}")

    @classmethod
    def preset(cls, profile: str) -> FastSpeech2Config:
        """ci: trains in seconds (0.08 M parameters); cpu: 3.3 M parameters (128 channels, 2 + 2
        blocks), sized for about 15 minutes on 2 cores; gpu: the paper's sizes (256 channels, 4 + 4
        blocks, 2 heads, 1024 filters; 24 M parameters)."""
        presets = {
            "ci": cls(model_size=32, encoder_layers=1, decoder_layers=1, feedforward_size=64,
                      variance_size=32, n_bins=32, postnet_channels=32, max_frames=400),
            "cpu": cls(model_size=128, encoder_layers=2, decoder_layers=2, feedforward_size=512,
                       variance_size=128, postnet_channels=256),
            "gpu": cls(),
        }  # fmt: skip
        return profiles.pick(presets, profile)

    def with_statistics(self, statistics: dict | str | Path) -> FastSpeech2Config:
        """This config with a TTS corpus's pitch and energy scales; statistics is the corpus folder or
        the dict of its stats.json. log_f0_* come from "log_f0_voiced" (the voiced frames' natural-log
        F0), energy_* from "phoneme_energy" (the per-token energies the model predicts)."""
        if not isinstance(statistics, dict):
            path = Path(statistics) / "stats.json"
            if not path.is_file():
                raise FileNotFoundError(f"{path}: no statistics; build the TTS corpus with `{TTS_BUILD_COMMAND}`")
            statistics = json.loads(path.read_text())
        try:
            changes = {f"{field}_{key}": float(statistics[name][key]) for field, name in
                       (("log_f0", "log_f0_voiced"), ("energy", "phoneme_energy")) for key in STATISTICS}
        except KeyError as error:
            raise ValueError(f"FastSpeech2Config.with_statistics: the statistics lack {error}; pass the TTS "
                             f"corpus's stats.json (rebuild it with `{TTS_BUILD_COMMAND}`)") from None
        return dataclasses.replace(self, **changes)  # fmt: skip


def _check_durations(durations: torch.Tensor, where: str) -> None:
    problems = [(durations < 0, "negative")]
    if durations.is_floating_point():
        problems.insert(0, (~torch.isfinite(durations), "NaN or infinite"))
    for bad, problem in problems:
        if bad.any():
            index = tuple(int(i) for i in bad.nonzero()[0])
            raise ValueError(f"{where}: durations must be finite frame counts >= 0; durations{list(index)} = "
                             f"{float(durations[index])} is {problem}")  # fmt: skip


def scale_durations(durations: torch.Tensor, speed: float = 1.0) -> torch.Tensor:
    """durations (B, T_txt) frames, int or float -> int64 (B, T_txt), floor(d / speed + 1/2).

    speed > 1 is faster (fewer frames), speed < 1 slower. Rounding is half up (2.5 -> 3), in
    float64; a token can round to 0 frames and is then skipped, as zero durations in the corpus are.
    """
    _check_durations(durations, "scale_durations")
    if not (math.isfinite(speed) and speed > 0):
        raise ValueError(f"scale_durations: speed must be a finite number > 0 (2.0 = twice as fast), got {speed}")
    return torch.floor(durations.double() / speed + 0.5).long()


def length_regulate(
    hidden: torch.Tensor, durations: torch.Tensor, speed: float = 1.0, max_length: int | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """hidden (B, T_txt, C), durations (B, T_txt) -> expanded (B, T_mel, C), mel_lengths (B,).

    Row k of item b is repeated d_k times, d = scale_durations(durations, speed) (0 drops the row);
    mel_lengths = d.sum(1), so padding tokens must have duration 0. T_mel = max_length (>= the longest
    total) or the longest total; zeros past each length. Frame t takes the first token whose
    cumulative duration exceeds t: a search over the cumulative sums and one gather, no loop.
    Lesson 08, section 1.
    """
    if hidden.dim() != 3 or durations.shape != hidden.shape[:2] or hidden.shape[1] == 0:
        raise ValueError(f"length_regulate: need hidden (B, T_txt, C) and durations (B, T_txt), T_txt >= 1, got "
                         f"{tuple(hidden.shape)} and {tuple(durations.shape)}")  # fmt: skip
    durations = scale_durations(durations.to(hidden.device), speed)  # (B, T_txt) int64
    batch_size, n_tokens, channels = hidden.shape
    ends = durations.cumsum(1)  # (B, T_txt): the frame after each token's last
    mel_lengths = ends[:, -1]  # (B,)
    longest = int(mel_lengths.max()) if batch_size else 0
    if max_length is not None and max_length < longest:
        raise ValueError(f"length_regulate: max_length {max_length} is shorter than the longest total {longest}")
    n_frames = longest if max_length is None else max_length
    frames = torch.arange(n_frames, device=hidden.device).expand(batch_size, n_frames).contiguous()  # (B, T_mel)
    token_of_frame = torch.searchsorted(ends, frames, right=True).clamp(max=n_tokens - 1)  # (B, T_mel)
    expanded = hidden.gather(1, token_of_frame[:, :, None].expand(-1, -1, channels))  # (B, T_mel, C)
    return expanded * padding_mask(mel_lengths, n_frames)[:, :, None], mel_lengths


def durations_from_alignment(alignment, n_tokens: int | None = None) -> torch.Tensor:
    """A hard alignment (NumPy or torch) -> int64 frames per token, summing to the frames it covers.

    (T_mel,) frame labels: each frame's token index, nondecreasing (a CTC forced alignment mapped to
        token positions, Tacotron 2's weights.argmax(-1)) -> (n_tokens,) counts; n_tokens defaults
        to the last label + 1.
    (T_txt, T_mel) or (B, T_txt, T_mel) 0/1 paths as dp.maximum_path returns them, at most one 1 a
        frame (padded frames all 0) -> (T_txt,) or (B, T_txt) row sums; n_tokens is not used.
    Lesson 08, section 2.
    """
    alignment = torch.as_tensor(alignment)
    if alignment.dim() == 1:
        labels = alignment.long()
        limit = n_tokens if n_tokens is not None else int(labels.max()) + 1 if len(labels) else 0
        if len(labels) and (labels.min() < 0 or labels.max() >= limit):
            raise ValueError(f"durations_from_alignment: frame labels must be token indices in [0, {limit}), got "
                             f"values from {int(labels.min())} to {int(labels.max())}")  # fmt: skip
        back = (labels[1:] < labels[:-1]).nonzero()  # (n, 1): the frames just before a decrease
        if len(back):
            frame = int(back[0]) + 1
            before, after = int(labels[frame - 1]), int(labels[frame])
            raise ValueError(f"durations_from_alignment: frame labels must not decrease (a monotonic alignment); "
                             f"frame {frame} goes back from token {before} to {after}")
        return torch.bincount(labels, minlength=limit)  # (n_tokens,)
    if alignment.dim() not in (2, 3) or not ((alignment == 0) | (alignment == 1)).all():
        raise ValueError(f"durations_from_alignment: need frame labels (T_mel,) or 0/1 paths (T_txt, T_mel) or "
                         f"(B, T_txt, T_mel), got shape {tuple(alignment.shape)}, values {alignment.unique()[:4]}"
                         "; for soft attention weights (T_mel, T_txt) pass the frame labels weights.argmax(-1)")
    if (alignment.sum(-2) > 1).any():
        raise ValueError("durations_from_alignment: a frame goes to more than one token (a column of the path "
                         "holds several 1s); a path is (T_txt, T_mel), text first, as dp.maximum_path's")
    return alignment.sum(-1).long()  # (T_txt,) or (B, T_txt)


def bucketize(values: torch.Tensor, boundaries: torch.Tensor) -> torch.Tensor:
    """values (...) -> int64 bucket indices (...) in [0, len(boundaries)]: how many boundaries lie below
    the value (boundaries[i - 1] < value <= boundaries[i] gives i); values outside the boundaries land
    in the two end buckets. Lesson 08, section 3."""
    return torch.bucketize(values.contiguous(), boundaries)


def pitch_targets(phoneme_f0: torch.Tensor, config: FastSpeech2Config) -> torch.Tensor:
    """phoneme_f0 (B, T_txt) Hz, 0 = unvoiced -> normalized log-F0 (B, T_txt), 0 (the mean) if unvoiced."""
    log_f0 = torch.log(phoneme_f0.clamp_min(1.0))  # the clamp keeps the log of unvoiced zeros finite
    return torch.where(phoneme_f0 > 0, (log_f0 - config.log_f0_mean) / config.log_f0_std, 0.0)


def energy_targets(phoneme_energy: torch.Tensor, config: FastSpeech2Config) -> torch.Tensor:
    """phoneme_energy (B, T_txt) RMS -> normalized energy (B, T_txt)."""
    return (phoneme_energy - config.energy_mean) / config.energy_std


class VariancePredictor(nn.Module):
    """hidden (B, T_txt, C), mask (B, T_txt) keep -> (B, T_txt), one value per token, 0 on padding:
    2 x (Conv1d, ReLU, LayerNorm, dropout), then Linear (Sec. 2.3). Padding reads as zeros."""

    def __init__(self, config: FastSpeech2Config) -> None:
        super().__init__()
        size, kernel_size = config.variance_size, config.variance_kernel_size
        self.convolutions = nn.ModuleList(nn.Conv1d(in_size, size, kernel_size, padding=kernel_size // 2)
                                          for in_size in (config.model_size, size))  # fmt: skip
        self.norms = nn.ModuleList(nn.LayerNorm(size) for _ in range(2))
        self.dropout = nn.Dropout(config.variance_dropout)
        self.projection = nn.Linear(size, 1)

    def forward(self, hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        x = hidden
        for convolution, norm in zip(self.convolutions, self.norms, strict=True):
            x = convolution((x * mask[:, :, None]).transpose(1, 2))  # (B, C, T_txt) -> (B, size, T_txt)
            x = self.dropout(norm(F.relu(x).transpose(1, 2)))  # (B, T_txt, size)
        return self.projection(x)[:, :, 0] * mask  # (B, T_txt)


class VariancePrediction(NamedTuple):
    """The adaptor's predictions, (B, T_txt) each, in the losses' scale (module doc), 0 on padding."""

    log_duration: torch.Tensor  # log(d + 1)
    pitch: torch.Tensor  # normalized log-F0 (with the pitch shift at inference)
    energy: torch.Tensor  # normalized energy (with the energy scale at inference)


class VarianceAdaptor(nn.Module):
    """Duration, pitch and energy predictors, pitch and energy embeddings (Sec. 2.3), per token.

    forward(hidden (B, T_txt, C), mask (B, T_txt), pitch_target, energy_target (B, T_txt) normalized,
    or None) -> hidden + the embeddings (B, T_txt, C), VariancePrediction. Duration and pitch are
    predicted from the encoder's hidden, energy from the hidden with the pitch embedding added. A
    given target is what gets embedded (teacher forcing); without one, the prediction after the
    control: + pitch_shift_semitones (a pitch scale s is 12 log2 s semitones), energy x energy_scale
    on its RMS scale. The model applies the length regulator.
    """

    def __init__(self, config: FastSpeech2Config) -> None:
        super().__init__()
        self.config = config
        self.duration_predictor = VariancePredictor(config)
        self.pitch_predictor = VariancePredictor(config)
        self.energy_predictor = VariancePredictor(config)
        self.pitch_embedding = nn.Embedding(config.n_bins, config.model_size)
        self.energy_embedding = nn.Embedding(config.n_bins, config.model_size)
        # n_bins - 1 boundaries, evenly spaced from the config's min to its max in the normalized scale:
        # n_bins - 2 equal buckets between them, and one bucket below and one above
        pitch_range = (torch.tensor([config.log_f0_min, config.log_f0_max]) - config.log_f0_mean) / config.log_f0_std
        energy_range = energy_targets(torch.tensor([config.energy_min, config.energy_max]), config)  # (2,)
        self.register_buffer("pitch_boundaries", torch.linspace(*pitch_range, config.n_bins - 1), persistent=False)
        self.register_buffer("energy_boundaries", torch.linspace(*energy_range, config.n_bins - 1), persistent=False)

    def forward(self, hidden: torch.Tensor, mask: torch.Tensor, pitch_target: torch.Tensor | None = None,
                energy_target: torch.Tensor | None = None, pitch_shift_semitones: float = 0.0,
                energy_scale: float = 1.0) -> tuple[torch.Tensor, VariancePrediction]:  # fmt: skip
        config, keep = self.config, mask[:, :, None]  # (B, T_txt, 1)
        log_duration = self.duration_predictor(hidden, mask)  # (B, T_txt)
        pitch = self.pitch_predictor(hidden, mask)  # (B, T_txt)
        if pitch_target is None:
            pitch = pitch + pitch_shift_semitones * SEMITONE / config.log_f0_std * mask
        heard = pitch if pitch_target is None else pitch_target
        hidden = hidden + self.pitch_embedding(bucketize(heard, self.pitch_boundaries)) * keep  # (B, T_txt, C)
        energy = self.energy_predictor(hidden, mask)  # (B, T_txt)
        if energy_target is None:
            rms = (energy * config.energy_std + config.energy_mean) * energy_scale  # (B, T_txt)
            energy = energy_targets(rms, config) * mask
        heard = energy if energy_target is None else energy_target
        hidden = hidden + self.energy_embedding(bucketize(heard, self.energy_boundaries)) * keep  # (B, T_txt, C)
        return hidden, VariancePrediction(log_duration, pitch, energy)


class FastSpeech2Output(NamedTuple):
    loss: torch.Tensor  # mel + postnet + duration_loss_weight duration + pitch + energy losses
    mel_loss: torch.Tensor  # L1 of the decoder's mel, normalized, real frames only
    postnet_loss: torch.Tensor  # the same after the postnet (0 without one)
    duration_loss: torch.Tensor  # MSE of log(d + 1), real tokens only
    pitch_loss: torch.Tensor  # MSE of the normalized log-F0, real tokens only
    energy_loss: torch.Tensor  # MSE of the normalized energy, real tokens only
    mel: torch.Tensor  # (B, T_mel, n_mels): the decoder's mel as log-mels, zeros past each length
    mel_postnet: torch.Tensor  # (B, T_mel, n_mels): after the postnet (= mel without one), log-mels
    predictions: VariancePrediction  # (B, T_txt) each, in the losses' scale


class SynthesisOutput(NamedTuple):
    mel: torch.Tensor  # (B, T_mel, n_mels): log-mels (after the postnet if any), zeros past each length
    mel_lengths: torch.Tensor  # (B,): durations.sum(1)
    durations: torch.Tensor  # (B, T_txt) int64 frames per token (speed, rounding and guard applied)
    log_f0: torch.Tensor  # (B, T_txt): predicted ln F0 (Hz) per token, shift included, 0 on padding
    energy: torch.Tensor  # (B, T_txt): predicted RMS energy per token, scale included, 0 on padding
    hit_guard: torch.Tensor  # (B,) bool: the durations summed past max_frames and were cut there


class FastSpeech2(MelNormalization, nn.Module):
    """Encoder FFT blocks + variance adaptor + length regulator + decoder FFT blocks (+ postnet)."""

    def __init__(self, config: FastSpeech2Config) -> None:
        super().__init__()
        self.config = config
        size = config.model_size

        def blocks(n_layers: int, kernel_size: int) -> nn.ModuleList:
            layer = TransformerConfig(model_size=size, n_heads=config.n_heads, dropout=config.dropout,
                                      feedforward_size=config.feedforward_size,
                                      feedforward_kernel_size=kernel_size)  # fmt: skip
            return nn.ModuleList(TransformerEncoderLayer(layer) for _ in range(n_layers))

        self.embedding = nn.Embedding(config.vocabulary_size, size)
        self.positions = SinusoidalPositionalEncoding(size)
        self.encoder_layers = blocks(config.encoder_layers, config.encoder_kernel_size)
        self.encoder_norm = nn.LayerNorm(size)  # pre-LN blocks leave their sum unnormalized
        self.variance_adaptor = VarianceAdaptor(config)
        self.decoder_layers = blocks(config.decoder_layers, config.decoder_kernel_size)
        self.decoder_norm = nn.LayerNorm(size)
        self.mel_projection = nn.Linear(size, config.mel.n_mels)
        self.postnet = Postnet(PostnetConfig(config.mel.n_mels, config.postnet_channels, config.postnet_layers,
                                             config.postnet_kernel_size, config.postnet_dropout)
                               ) if config.use_postnet else None  # fmt: skip
        self.register_mel_statistics(config.mel.n_mels)  # mel_mean, mel_std: set_mel_statistics

    def _check_batch(self, batch: dict) -> None:
        missing = [key for key in BATCH_KEYS if key not in batch]
        if missing:
            raise ValueError(f"FastSpeech2: the batch lacks {missing}; make it with data.tts_collate (TTSDataset)")
        check_token_batch(batch["tokens"], batch["token_lengths"], self.config.vocabulary_size, "FastSpeech2")
        mel, mel_lengths, durations = batch["mel"], batch["mel_lengths"], batch["durations"]
        n_mels = self.config.mel.n_mels
        if mel.dim() != 3 or mel.shape[2] != n_mels:
            raise ValueError(f"FastSpeech2: mel must be (B, T_mel, n_mels = {n_mels}) log-mels, time first, got "
                             f"{tuple(mel.shape)}; transpose a (n_mels, T_mel) log_mel, or build the model with "
                             "config.mel equal to the corpus's MelConfig")  # fmt: skip
        if durations.shape != batch["tokens"].shape:
            raise ValueError(f"FastSpeech2: durations must be (B, T_txt) like tokens "
                             f"{tuple(batch['tokens'].shape)}, got {tuple(durations.shape)}")  # fmt: skip
        _check_durations(durations, "FastSpeech2")
        totals = (durations * padding_mask(batch["token_lengths"], durations.shape[1])).sum(1)  # (B,)
        wrong = (mel_lengths < 1) | (mel_lengths > mel.shape[1]) | (totals != mel_lengths)  # (B,)
        if wrong.any():
            b = int(wrong.nonzero()[0])
            raise ValueError(f"FastSpeech2: utterance {b} has mel length {int(mel_lengths[b])} (of {mel.shape[1]} "
                             f"frames) and durations summing to {int(totals[b])}; they must agree and be >= 1 "
                             "(durations_from_alignment gives durations that sum to the frames)")  # fmt: skip

    @staticmethod
    def _blocks(x: torch.Tensor, mask: torch.Tensor, layers: nn.ModuleList, norm: nn.LayerNorm) -> torch.Tensor:
        for layer in layers:
            x = layer(x, mask)  # (B, T, C); padding is masked as keys and zeroed before the convolutions
        return norm(x) * mask[:, :, None]  # (B, T, C)

    def encode(self, tokens: torch.Tensor, token_lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """tokens (B, T_txt), token_lengths (B,) -> hidden (B, T_txt, C), zeros on padding, and mask (B, T_txt)."""
        mask = padding_mask(token_lengths, tokens.shape[1])  # (B, T_txt)
        hidden = self.positions(self.embedding(tokens))  # (B, T_txt, C)
        return self._blocks(hidden, mask, self.encoder_layers, self.encoder_norm), mask

    def decode(self, expanded: torch.Tensor, mel_lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """expanded (B, T_mel, C), mel_lengths (B,) -> mel and mel after the postnet (= mel without one),
        (B, T_mel, n_mels) each, in the normalized scale, zeros past each length."""
        mask = padding_mask(mel_lengths, expanded.shape[1])  # (B, T_mel)
        hidden = self._blocks(self.positions(expanded), mask, self.decoder_layers, self.decoder_norm)
        mel = self.mel_projection(hidden) * mask[:, :, None]  # (B, T_mel, n_mels)
        return mel, mel if self.postnet is None else mel + self.postnet(mel, mel_lengths)

    def forward(self, batch: dict) -> FastSpeech2Output:
        """A tts_collate batch (module doc) -> the loss and its parts, the true durations, pitch and
        energy fed to the length regulator and the embeddings (teacher forcing)."""
        self._check_batch(batch)
        config, device = self.config, self.mel_projection.weight.device
        tokens, token_lengths, durations, phoneme_f0, phoneme_energy, mel, mel_lengths = (
            batch[key].to(device) for key in BATCH_KEYS)  # fmt: skip
        hidden, token_mask = self.encode(tokens, token_lengths)
        durations = durations * token_mask  # (B, T_txt)
        pitch = pitch_targets(phoneme_f0, config) * token_mask  # (B, T_txt)
        energy = energy_targets(phoneme_energy, config) * token_mask  # (B, T_txt)
        hidden, predictions = self.variance_adaptor(hidden, token_mask, pitch, energy)
        expanded, _ = length_regulate(hidden, durations, max_length=mel.shape[1])  # (B, T_mel, C)
        mel_before, mel_after = self.decode(expanded, mel_lengths)
        frame_mask, target = padding_mask(mel_lengths, mel.shape[1]), self.normalize(mel.float())  # (B, T_mel)
        mel_loss = (mel_before - target)[frame_mask].abs().mean()
        postnet_loss = (mel_after - target)[frame_mask].abs().mean() if self.postnet is not None else 0 * mel_loss
        duration_loss = (predictions.log_duration - torch.log1p(durations.float()))[token_mask].square().mean()
        pitch_loss = (predictions.pitch - pitch)[token_mask].square().mean()
        energy_loss = (predictions.energy - energy)[token_mask].square().mean()
        loss = mel_loss + postnet_loss + config.duration_loss_weight * duration_loss + pitch_loss + energy_loss
        mel_before, mel_after = self.denormalize(mel_before, mel_lengths), self.denormalize(mel_after, mel_lengths)
        return FastSpeech2Output(loss, mel_loss, postnet_loss, duration_loss, pitch_loss, energy_loss, mel_before,
                                 mel_after, predictions)  # fmt: skip

    @torch.no_grad()
    def synthesize(self, tokens: torch.Tensor, token_lengths: torch.Tensor, speed: float = 1.0,
                   pitch_shift_semitones: float = 0.0, energy_scale: float = 1.0,
                   max_frames: int | None = None) -> SynthesisOutput:  # fmt: skip
        """tokens (B, T_txt), token_lengths (B,) -> SynthesisOutput from the predicted durations, pitch
        and energy, in eval mode (the mode is restored).

        speed > 1 is faster (durations / speed, rounded half up: scale_durations); pitch_shift_semitones
        moves every token's predicted log-F0 (+12: an octave up); energy_scale multiplies the predicted
        energies. The guard: an utterance's frames stop at max_frames (default config.max_frames; its
        last tokens lose theirs) and hit_guard flags it; one whose durations all round to 0 gets one
        frame, on its first token, so that no mel is empty.
        """
        max_frames = self.config.max_frames if max_frames is None else max_frames
        controls = (speed, pitch_shift_semitones, energy_scale)
        if not (all(map(math.isfinite, controls)) and speed > 0 and energy_scale >= 0 and max_frames >= 1):
            raise ValueError(f"FastSpeech2.synthesize: need finite speed > 0, pitch_shift_semitones, energy_scale "
                             f">= 0 and max_frames >= 1, got {controls} and {max_frames}")  # fmt: skip
        check_token_batch(tokens, token_lengths, self.config.vocabulary_size, "FastSpeech2")  # before leaving training mode
        was_training, device, config = self.training, self.mel_projection.weight.device, self.config
        self.eval()
        hidden, token_mask = self.encode(tokens.to(device), token_lengths.to(device))
        hidden, predictions = self.variance_adaptor(
            hidden, token_mask, pitch_shift_semitones=pitch_shift_semitones, energy_scale=energy_scale
        )
        frames = predictions.log_duration.exp().sub(1).clamp(0, max_frames) * token_mask  # (B, T_txt) float
        durations = scale_durations(frames, speed)  # (B, T_txt) int64
        ends = durations.cumsum(1).clamp(max=max_frames)  # (B, T_txt): the guard cuts at max_frames
        hit_guard = durations.sum(1) > max_frames  # (B,)
        durations = torch.diff(ends, dim=1, prepend=torch.zeros_like(ends[:, :1]))  # (B, T_txt)
        durations[:, 0] += (ends[:, -1] == 0).long()  # an utterance with no frame at all gets one
        expanded, mel_lengths = length_regulate(hidden, durations)  # (B, T_mel, C), (B,)
        _, mel = self.decode(expanded, mel_lengths)
        log_f0 = (predictions.pitch * config.log_f0_std + config.log_f0_mean) * token_mask  # (B, T_txt)
        energy = (predictions.energy * config.energy_std + config.energy_mean) * token_mask  # (B, T_txt)
        self.train(was_training)
        mel = self.denormalize(mel, mel_lengths)  # (B, T_mel, n_mels) log-mel
        return SynthesisOutput(mel, mel_lengths, durations, log_f0, energy, hit_guard)


def artifact_path(kind: str = "cpu") -> Path:
    """data/artifacts/fastspeech2.pt for cpu/gpu runs, fastspeech2_ci.pt for the ci run."""
    return checkpoint.artifact_path("fastspeech2", kind)


def load_pretrained(path: str | Path | None = None, device: str | torch.device = "cpu") -> FastSpeech2:
    """The model lesson 08 trained, in eval mode, built from the config in its checkpoint.

    path=None takes the cpu/gpu run's artifact if it exists, else the ci run's; raises
    FileNotFoundError naming lesson 08 when neither exists.
    """
    return checkpoint.load_pretrained(
        "fastspeech2", FastSpeech2, FastSpeech2Config, TRAIN_HINT, path=path, device=device
    )
