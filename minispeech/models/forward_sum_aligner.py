"""A learned text-to-speech aligner: a soft alignment trained with the forward-sum loss, made hard by MAS.

ForwardSumAlignerConfig  frozen config; .preset("ci" | "cpu" | "gpu")
alignment_log_probs      queries (B, T_mel, D), keys (B, T_txt, D) -> log P(token | frame) (B, T_mel, T_txt)
beta_binomial_prior      log of a diagonal prior over tokens for each frame (B, T_mel, T_txt)
forward_sum_loss         -log of the sum over every monotonic alignment (CTC with a blank that is never used)
mas_durations            the best monotonic alignment of log-probabilities (dp.maximum_path) -> frames per token
ForwardSumAligner        forward(batch) -> AlignerOutput(loss, log_probs); log_probs(batch) -> the soft alignment alone;
                         durations(batch) -> (B, T_txt)

The idea (RAD-TTS's alignment framework, Badlani et al. 2022; Glow-TTS's MAS, Kim et al. 2020): encode
the tokens into keys and the mel frames into queries, and say frame t belongs to token n with
probability softmax over n of -temperature ||q_t - k_n||^2 (times a prior that favours the diagonal).
Training maximizes the likelihood of the mel summed over every monotonic alignment in which each token
gets at least one frame; that sum is CTC's forward algorithm (lesson 04) with the tokens as the target
and a blank that is given (almost) no probability, so torch's ctc_loss computes it. After training the
hard durations are the single best monotonic path through the same log-probabilities: monotonic
alignment search, dp.maximum_path.

    tokens (B, T_txt) -> embedding -> Conv1d(k=3), ReLU, Conv1d(k=1)              -> keys (B, T_txt, D)
    log-mel (B, T_mel, n_mels) -> normalize -> Conv1d(k=3), ReLU, 2 x Conv1d(k=1)  -> queries (B, T_mel, D)

The tokens it aligns are the ones that sound: lesson 08 drops the word-boundary tokens (always 0 frames
in the corpus) before aligning and gives them 0 frames. Shapes: B batch, T_txt tokens, T_mel frames,
D = attention_size. A batch is a dict with tokens, token_lengths, mel, mel_lengths (data.tts_collate's
names). Taught in lessons/08_fastspeech2.ipynb, section 2.
"""

from __future__ import annotations

import dataclasses
from typing import NamedTuple

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from minispeech import profiles
from minispeech.data.tts_tokens import TTS_SYMBOLS
from minispeech.dp.mas import maximum_path
from minispeech.dsp import MelConfig
from minispeech.nn.attention import padding_mask
from minispeech.nn.mel_normalization import MelNormalization
from minispeech.nn.tokens import check_token_batch

MASKED = -1e4  # the log-probability of a padding token: exp(-1e4) = 0 without an infinity in the gradients


@dataclasses.dataclass(frozen=True)
class ForwardSumAlignerConfig:
    mel: MelConfig = MelConfig()  # the front end the mels were computed with
    vocabulary_size: int = len(TTS_SYMBOLS)  # V
    embedding_size: int = 128
    attention_size: int = 80  # D: keys and queries meet here
    temperature: float = 0.0005  # scores are -temperature x squared distance (RAD-TTS's value)
    blank_log_prob: float = -1.0  # the blank's score before the softmax: the loss needs a blank, we never use it
    prior_width: float = 1.0  # ω of the beta-binomial prior; 0 switches the prior off

    def __post_init__(self) -> None:
        sizes = (self.vocabulary_size, self.embedding_size, self.attention_size)
        if min(sizes) < 1 or not self.temperature > 0 or self.prior_width < 0:
            raise ValueError(f"ForwardSumAlignerConfig: need sizes >= 1, temperature > 0 and prior_width >= 0, got "
                             f"sizes {sizes}, temperature {self.temperature}, prior_width {self.prior_width}")

    @classmethod
    def preset(cls, profile: str) -> ForwardSumAlignerConfig:
        """ci: seconds; cpu: minutes on 2 cores; gpu: RAD-TTS's sizes (512-wide embedding)."""
        presets = {"ci": cls(embedding_size=32, attention_size=16), "cpu": cls(), "gpu": cls(embedding_size=512)}
        return profiles.pick(presets, profile)


class AlignerOutput(NamedTuple):
    loss: torch.Tensor  # the forward-sum loss, averaged over the batch (per token, as CTC's "mean")
    log_probs: torch.Tensor  # (B, T_mel, T_txt): log P(token | frame), prior included, MASKED on padding tokens


def alignment_log_probs(queries: torch.Tensor, keys: torch.Tensor, token_mask: torch.Tensor,
                        temperature: float, log_prior: torch.Tensor | None = None) -> torch.Tensor:  # fmt: skip
    """queries (B, T_mel, D), keys (B, T_txt, D), token_mask (B, T_txt) bool -> (B, T_mel, T_txt).

    score[b, t, n] = -temperature ||queries[b, t] - keys[b, n]||^2, a log-softmax over the real tokens
    n of each frame, plus log_prior (B, T_mel, T_txt) when given; padding tokens get MASKED. The
    squared distance is expanded as |q|^2 - 2 q.k + |k|^2: no (B, T_mel, T_txt, D) tensor. Exercise 8.4.
    """
    distance = (queries.square().sum(-1)[:, :, None] - 2 * queries @ keys.transpose(1, 2)
                + keys.square().sum(-1)[:, None, :])  # (B, T_mel, T_txt)  # fmt: skip
    scores = (-temperature * distance).masked_fill(~token_mask[:, None, :], MASKED)
    log_probs = scores.log_softmax(-1)  # (B, T_mel, T_txt)
    if log_prior is not None:
        log_probs = log_probs + log_prior
    return log_probs.masked_fill(~token_mask[:, None, :], MASKED)


def beta_binomial_prior(mel_lengths: torch.Tensor, token_lengths: torch.Tensor, n_frames: int, n_tokens: int,
                        width: float = 1.0) -> torch.Tensor:  # fmt: skip
    """(B, T_mel, T_txt) log-prior: frame t of T is on token n of N with BetaBinomial(n; N - 1, α, β),
    α = width (t + 1), β = width (T - t): a bump that travels down the diagonal (RAD-TTS, Sec. 3.2).
    0 outside the real (frame, token) rectangle."""
    device = mel_lengths.device
    t = torch.arange(n_frames, device=device, dtype=torch.float64)[None, :, None]  # (1, T_mel, 1)
    n = torch.arange(n_tokens, device=device, dtype=torch.float64)[None, None, :]  # (1, 1, T_txt)
    frames = mel_lengths.double()[:, None, None]  # (B, 1, 1)
    last = token_lengths.double()[:, None, None] - 1  # (B, 1, 1): N - 1
    alpha, beta = width * (t + 1), (width * (frames - t)).clamp_min(1e-3)  # (B, T_mel, 1)
    k = torch.minimum(n, last)  # (B, 1, T_txt): keeps padding tokens finite
    log_choose = torch.lgamma(last + 1) - torch.lgamma(k + 1) - torch.lgamma(last - k + 1)

    def log_beta(x, y):
        return torch.lgamma(x) + torch.lgamma(y) - torch.lgamma(x + y)

    log_prior = log_choose + log_beta(k + alpha, last - k + beta) - log_beta(alpha, beta)  # (B, T_mel, T_txt)
    real = padding_mask(mel_lengths, n_frames)[:, :, None] & padding_mask(token_lengths, n_tokens)[:, None, :]
    return torch.where(real, log_prior, 0.0).float()


def forward_sum_loss(log_probs: torch.Tensor, mel_lengths: torch.Tensor, token_lengths: torch.Tensor,
                     blank_log_prob: float = -1.0) -> torch.Tensor:  # fmt: skip
    """-log sum over monotonic alignments (every token >= 1 frame, in order) of prod_t P(token | frame t),
    per token, averaged over the batch. log_probs (B, T_mel, T_txt), MASKED on padding tokens.

    CTC (lesson 04) with target 1, 2, ..., T_txt: column 0, the blank, gets blank_log_prob before a
    second log-softmax, so that every path of tokens alone is a CTC path."""
    batch_size, _, n_tokens = log_probs.shape
    with_blank = F.pad(log_probs, (1, 0), value=blank_log_prob).log_softmax(-1)  # (B, T_mel, 1 + T_txt)
    targets = torch.arange(1, n_tokens + 1, device=log_probs.device).expand(batch_size, n_tokens)  # (B, T_txt)
    return F.ctc_loss(with_blank.transpose(0, 1).float(), targets, mel_lengths, token_lengths, blank=0,
                      reduction="mean", zero_infinity=True)  # fmt: skip


def mas_durations(log_probs: torch.Tensor, mel_lengths: torch.Tensor, token_lengths: torch.Tensor) -> torch.Tensor:
    """The monotonic path through log_probs (B, T_mel, T_txt) with the largest sum (dp.maximum_path,
    each token >= 1 frame) -> int64 frames per token (B, T_txt), summing to mel_lengths, 0 on padding."""
    n_frames, n_tokens = log_probs.shape[1:]
    if (mel_lengths < token_lengths).any():
        b = int((mel_lengths < token_lengths).nonzero()[0])
        raise ValueError(f"mas_durations: utterance {b} has {int(token_lengths[b])} tokens but only "
                         f"{int(mel_lengths[b])} frames; every token needs at least one frame")
    mask = padding_mask(token_lengths, n_tokens)[:, :, None] & padding_mask(mel_lengths, n_frames)[:, None, :]
    values = log_probs.detach().transpose(1, 2).double().cpu().numpy()  # (B, T_txt, T_mel)
    path = maximum_path(values, mask.cpu().numpy().astype(np.float64))  # (B, T_txt, T_mel) 0/1
    return torch.from_numpy(path.sum(-1).astype(np.int64)).to(log_probs.device)  # (B, T_txt)


class ForwardSumAligner(MelNormalization, nn.Module):
    """Keys from the tokens, queries from the mel frames, a soft alignment between them (module doc)."""

    def __init__(self, config: ForwardSumAlignerConfig) -> None:
        super().__init__()
        self.config = config
        size, n_mels = config.embedding_size, config.mel.n_mels
        self.embedding = nn.Embedding(config.vocabulary_size, size)
        self.key_encoder = nn.Sequential(nn.Conv1d(size, 2 * size, 3, padding=1), nn.ReLU(),
                                         nn.Conv1d(2 * size, config.attention_size, 1))  # fmt: skip
        self.query_encoder = nn.Sequential(nn.Conv1d(n_mels, 2 * n_mels, 3, padding=1), nn.ReLU(),
                                           nn.Conv1d(2 * n_mels, n_mels, 1), nn.ReLU(),
                                           nn.Conv1d(n_mels, config.attention_size, 1))  # fmt: skip
        self.register_mel_statistics(n_mels)

    def forward(self, batch: dict) -> AlignerOutput:
        """A tts_collate batch -> AlignerOutput: the forward-sum loss and the soft alignment."""
        log_probs = self.log_probs(batch)  # (B, T_mel, T_txt)
        device = log_probs.device
        loss = forward_sum_loss(log_probs, batch["mel_lengths"].to(device), batch["token_lengths"].to(device),
                                self.config.blank_log_prob)  # fmt: skip
        return AlignerOutput(loss, log_probs)

    def log_probs(self, batch: dict) -> torch.Tensor:
        """A tts_collate batch -> the soft alignment log P(token | frame) (B, T_mel, T_txt), padding masked."""
        device = self.embedding.weight.device
        tokens, token_lengths, mel, mel_lengths = (batch[key].to(device) for key in
                                                   ("tokens", "token_lengths", "mel", "mel_lengths"))  # fmt: skip
        check_token_batch(tokens, token_lengths, self.config.vocabulary_size, "ForwardSumAligner")
        if (mel_lengths < token_lengths).any():
            raise ValueError("ForwardSumAligner: every utterance needs at least as many frames as "
                             f"tokens, got token lengths {token_lengths.tolist()} and mel lengths {mel_lengths.tolist()}")
        token_mask, frame_mask = padding_mask(token_lengths, tokens.shape[1]), padding_mask(mel_lengths, mel.shape[1])
        embedded = self.embedding(tokens) * token_mask[:, :, None]  # (B, T_txt, E)
        keys = self.key_encoder(embedded.transpose(1, 2)).transpose(1, 2)  # (B, T_txt, D)
        frames = self.normalize(mel.float()) * frame_mask[:, :, None]  # (B, T_mel, n_mels)
        queries = self.query_encoder(frames.transpose(1, 2)).transpose(1, 2)  # (B, T_mel, D)
        prior = None
        if self.config.prior_width > 0:
            prior = beta_binomial_prior(mel_lengths, token_lengths, mel.shape[1], tokens.shape[1],
                                        self.config.prior_width)  # (B, T_mel, T_txt)  # fmt: skip
        return alignment_log_probs(queries, keys, token_mask, self.config.temperature, prior)

    @torch.no_grad()
    def durations(self, batch: dict) -> torch.Tensor:
        """Hard durations (B, T_txt) int64 for a batch: MAS through the soft alignment (eval mode)."""
        was_training = self.training
        self.eval()
        log_probs = self.log_probs(batch)  # no loss: MAS needs only the alignment
        self.train(was_training)
        return mas_durations(log_probs, batch["mel_lengths"], batch["token_lengths"])
