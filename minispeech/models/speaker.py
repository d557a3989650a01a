"""A d-vector speaker encoder (Wan et al., 2018, "Generalized end-to-end loss for speaker verification").

SpeakerEncoderConfig  frozen: the log-mel front end, LSTM sizes, the embedding size, the training window;
                      .preset("ci" | "cpu" | "gpu")
SpeakerEncoder        log-mels (B, T_mel, n_mels) -> unit-length embeddings (B, E): an LSTM stack, its last
                      frame's output projected to E and L2-normalized; embed(waveform) averages the
                      embeddings of overlapping windows of one utterance (the d-vector) and normalizes again
ge2e_similarity       embeddings (N speakers, M utterances, E) -> the scaled cosine similarity matrix
                      (N, M, N) of every utterance to every speaker's centroid, its own centroid without itself
ge2e_loss             the softmax GE2E loss: cross-entropy of each utterance against its own speaker
equal_error_rate      scores and same/different labels -> (EER, threshold): where false accepts = false rejects
artifact_path, load_pretrained  where lesson 12 saves the encoder; it, in eval mode

GE2E. For utterance i of speaker j with embedding e_ji, and centroids
    c_k = mean_m e_km           (another speaker k != j: all M utterances)
    c_j^(-i) = (sum_m e_jm - e_ji) / (M - 1)   (its own speaker: without itself, the paper's Eq. 8)
    S_ji,k = w cos(e_ji, c) + b,   w > 0 (kept positive by clamping at 1e-6), initialized w = 10, b = -5
    L = sum_ji [ -S_ji,j + log sum_k exp(S_ji,k) ]     (softmax variant, Eq. 6; averaged here over the N M rows)
The loss pulls each utterance toward its own speaker's centroid and away from the nearest others; w and b are
learnt with the encoder. EER: accept a pair when its score >= threshold; the false-accept rate (different-speaker
pairs accepted) falls and the false-reject rate (same-speaker pairs rejected) rises with the threshold; the EER is
where they cross (linearly interpolated between the two thresholds that bracket the crossing).
Shapes   B batch, T_mel frames, n_mels bands, H LSTM size, E embedding size, N speakers x M utterances.
Taught in lessons/12_valle.ipynb (the similarity matrix is an exercise there); used to score speaker
similarity of codec resyntheses (lesson 11) and of VALL-E's zero-shot voices (lesson 12).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from minispeech import checkpoint, profiles
from minispeech.dsp import MelConfig
from minispeech.nn.features import LogMel

TRAIN_HINT = "run lessons/12_valle.ipynb (its speaker-encoder section trains and saves it)"


@dataclasses.dataclass(frozen=True)
class SpeakerEncoderConfig:
    mel: MelConfig = MelConfig()  # 80 bands at 22,050 Hz, hop 256: the corpus's
    hidden_size: int = 256  # H: every LSTM layer's size
    layers: int = 3  # the paper's 3 x 768 with 256 projections is the gpu preset
    embedding_size: int = 256  # E
    window_frames: int = 140  # training windows and embed()'s windows: 140 frames = 1.6 s at hop 256
    hop_frames: int = 70  # embed(): windows every 70 frames (50 % overlap), as in the paper

    def __post_init__(self) -> None:
        sizes = (self.hidden_size, self.layers, self.embedding_size, self.window_frames, self.hop_frames)
        if min(sizes) < 1:
            raise ValueError(f"SpeakerEncoderConfig: every size must be >= 1, got (hidden_size, layers, "
                             f"embedding_size, window_frames, hop_frames) = {sizes}")  # fmt: skip

    @classmethod
    def preset(cls, profile: str) -> SpeakerEncoderConfig:
        """ci: seconds (1 x 32, E = 16); cpu: 2 x 128, E = 64 (about 0.25 M parameters); gpu: the paper's
        3 x 768 with E = 256."""
        presets = {
            "ci": cls(hidden_size=32, layers=1, embedding_size=16, window_frames=40, hop_frames=20),
            "cpu": cls(hidden_size=128, layers=2, embedding_size=64),
            "gpu": cls(hidden_size=768, layers=3, embedding_size=256),
        }
        return profiles.pick(presets, profile)


class SpeakerEncoder(nn.Module):
    """An LSTM over log-mel frames; the last frame's state, projected and normalized, is the embedding."""

    def __init__(self, config: SpeakerEncoderConfig) -> None:
        super().__init__()
        self.config = config
        self.log_mel = LogMel(config.mel)  # non-persistent buffers: not in the checkpoint
        self.lstm = nn.LSTM(config.mel.n_mels, config.hidden_size, num_layers=config.layers, batch_first=True)
        self.projection = nn.Linear(config.hidden_size, config.embedding_size)
        self.ge2e_weight = nn.Parameter(torch.tensor(10.0))  # w of GE2E's similarity
        self.ge2e_bias = nn.Parameter(torch.tensor(-5.0))  # b

    def forward(self, mels: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        """mels (B, T_mel, n_mels), lengths (B,) or None (all T_mel) -> embeddings (B, E), unit length."""
        if mels.dim() != 3 or mels.shape[2] != self.config.mel.n_mels:
            raise ValueError(f"SpeakerEncoder: mels must be (B, T_mel, {self.config.mel.n_mels}), got "
                             f"{tuple(mels.shape)}")  # fmt: skip
        outputs, _ = self.lstm(mels)  # (B, T_mel, H)
        if lengths is None:
            last = outputs[:, -1]  # (B, H)
        else:
            last = outputs[torch.arange(len(mels), device=mels.device), lengths.to(mels.device) - 1]  # (B, H)
        return F.normalize(self.projection(last), dim=-1)  # (B, E)

    @torch.no_grad()
    def embed(self, waveform: np.ndarray | torch.Tensor, sample_rate: int | None = None) -> np.ndarray:
        """One utterance (T_wav,) at config.mel.sample_rate -> its d-vector (E,) float32: the mean of the
        embeddings of windows of window_frames every hop_frames (one window when shorter), normalized. An
        utterance shorter than the STFT's padding (n_fft / 2 samples) is padded with zeros first."""
        expected = self.config.mel.sample_rate
        if sample_rate is not None and sample_rate != expected:
            raise ValueError(f"SpeakerEncoder.embed: the encoder works at {expected} Hz, got {sample_rate} Hz; "
                             f"resample first: minispeech.audio.resample(waveform, {sample_rate}, {expected})")  # fmt: skip
        waveform = torch.as_tensor(np.asarray(waveform, dtype=np.float32))
        if waveform.dim() != 1 or waveform.numel() == 0 or not torch.isfinite(waveform).all():
            raise ValueError(f"SpeakerEncoder.embed: need one non-empty, finite waveform (T_wav,), got shape "
                             f"{tuple(waveform.shape)}")  # fmt: skip
        device = self.projection.weight.device
        shortest = self.config.mel.n_fft // 2 + 1  # the STFT's reflect padding needs more samples than n_fft / 2
        waveform = F.pad(waveform, (0, max(0, shortest - len(waveform))))  # a very short input: zeros after it
        mel = self.log_mel(waveform.to(device)).T  # (T_mel, n_mels)
        size, hop = self.config.window_frames, self.config.hop_frames
        starts = range(0, max(1, len(mel) - size + 1), hop)
        windows = torch.stack([mel[start : start + size] for start in starts]) if len(mel) >= size else mel[None]
        return F.normalize(self(windows).mean(0), dim=0).cpu().numpy()  # (E,)


def ge2e_similarity(embeddings: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
    """embeddings (N, M, E), N >= 2 speakers x M >= 2 utterances -> S (N, M, N): S[j, i, k] = w cos(e_ji, c_k)
    + b, with c_j for k = j computed without e_ji (module doc). w is clamped at 1e-6 (kept positive)."""
    speakers, utterances, _ = embeddings.shape
    if speakers < 2 or utterances < 2:
        raise ValueError(f"ge2e_similarity: need at least 2 speakers x 2 utterances, got {speakers} x {utterances}")
    totals = embeddings.sum(dim=1)  # (N, E)
    centroids = totals / utterances  # (N, E)
    exclusive = (totals[:, None, :] - embeddings) / (utterances - 1)  # (N, M, E): own centroid without itself
    cosine = F.normalize(embeddings, dim=-1) @ F.normalize(centroids, dim=-1).T  # (N, M, N)
    own = F.cosine_similarity(embeddings, exclusive, dim=-1)  # (N, M)
    same_speaker = torch.eye(speakers, dtype=torch.bool, device=embeddings.device)[:, None, :]  # (N, 1, N)
    cosine = torch.where(same_speaker, own[:, :, None], cosine)
    return weight.clamp(min=1e-6) * cosine + bias


def ge2e_loss(similarity: torch.Tensor) -> torch.Tensor:
    """S (N, M, N) -> the softmax GE2E loss, the mean over the N M utterances of -S_ji,j + logsumexp_k S_ji,k."""
    speakers, utterances, _ = similarity.shape
    targets = torch.arange(speakers, device=similarity.device).repeat_interleave(utterances)  # (N M,)
    return F.cross_entropy(similarity.reshape(speakers * utterances, speakers), targets)


def equal_error_rate(scores: np.ndarray, same_speaker: np.ndarray) -> tuple[float, float]:
    """scores (P,) of P trial pairs, same_speaker (P,) bool -> (EER in [0, 1], the threshold there).

    A pair is accepted when score >= threshold. Over the thresholds at every score, the false-accept
    rate FAR (different-speaker pairs accepted) falls and the false-reject rate FRR (same-speaker pairs
    rejected) rises; the EER is where they meet, interpolated linearly between the neighbouring thresholds.
    """
    scores, same_speaker = np.asarray(scores, dtype=np.float64), np.asarray(same_speaker, dtype=bool)
    if scores.shape != same_speaker.shape or scores.ndim != 1:
        raise ValueError(f"equal_error_rate: need scores and same_speaker of one shape (P,), got {scores.shape} "
                         f"and {same_speaker.shape}")  # fmt: skip
    if same_speaker.all() or not same_speaker.any():
        raise ValueError("equal_error_rate: need both same-speaker and different-speaker pairs")
    thresholds = np.concatenate([np.unique(scores), [np.inf]])  # ascending; +inf accepts nothing
    accepted = scores[None, :] >= thresholds[:, None]  # (thresholds, P)
    false_accept = (accepted & ~same_speaker).sum(1) / (~same_speaker).sum()  # falls with the threshold
    false_reject = (~accepted & same_speaker).sum(1) / same_speaker.sum()  # rises
    gap = false_accept - false_reject  # from >= 0 (threshold at the lowest score) to <= 0 (+inf)
    index = int(np.argmax(gap <= 0))  # the first threshold where FRR has caught up with FAR
    if index == 0 or gap[index] == 0:
        return float((false_accept[index] + false_reject[index]) / 2), float(thresholds[index])
    fraction = gap[index - 1] / (gap[index - 1] - gap[index])  # where the straight line between them crosses 0
    eer = false_accept[index - 1] + fraction * (false_accept[index] - false_accept[index - 1])
    high = thresholds[index] if np.isfinite(thresholds[index]) else thresholds[index - 1]
    return float(eer), float(thresholds[index - 1] + fraction * (high - thresholds[index - 1]))


def artifact_path(kind: str = "cpu") -> Path:
    """data/artifacts/speaker_encoder.pt for cpu/gpu runs, speaker_encoder_ci.pt for the ci run."""
    return checkpoint.artifact_path("speaker_encoder", kind)


def load_pretrained(path: str | Path | None = None, device: str | torch.device = "cpu") -> SpeakerEncoder:
    """The speaker encoder lesson 12 trained, in eval mode; FileNotFoundError naming lesson 12 when absent."""
    return checkpoint.load_pretrained("speaker_encoder", SpeakerEncoder, SpeakerEncoderConfig, TRAIN_HINT,
                                      path=path, device=device)  # fmt: skip
