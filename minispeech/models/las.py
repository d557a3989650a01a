"""Listen, Attend and Spell (Chan et al., 2016): a character recognizer with an attention decoder.

LASConfig        frozen config; LASConfig.preset("ci" | "cpu" | "gpu")
Listener         log-mels -> encoder states: conv front end, then pyramidal BiLSTMs (+ CTC head)
DecoderState     the speller's recurrent state between steps (a NamedTuple of tensors)
Speller          one step: previous character + state -> next-character logits + new state
LAS              forward(features, lengths, tokens, token_lengths, sampling_probability)
targets_with_eos decoder targets: the characters, then <eos>, then <pad>
greedy_decode    the most probable character at every step, until <eos> or the length guard
beam_search      beam_size hypotheses per utterance, ranked by length-normalized log-probability
artifact_path    where lesson 05 saves the trained model (one file per profile kind)
load_pretrained  the model lesson 05 trained, ready for inference (eval mode)

The pipeline, top to bottom:
    log-mel (B, T_mel, n_mels) -> [training: warp frequencies] -> normalize each utterance
    -> [training: SpecAugment] -> 2 x Conv1d stride 2 -> BiLSTM (T_mel / 4, 21.5 frames per
    second; an auxiliary CTC head reads this layer) -> (listener_layers - 1) x [stack pairs of
    frames, BiLSTM] -> encoder (B, T_enc, 2 * listener_size), T_enc = T_mel / 2^(listener_layers + 1).
    Speller, one step per character: LSTMCell([embed(previous character), previous context])
    -> attention (location-sensitive or content-only) over the encoder -> context
    -> tanh(Linear([state, context])) -> Linear -> logits over characters.
Decoding starts from <bos> and stops at <eos>; a length guard, max_length_ratio characters per
encoder frame, stops a decoder that never emits <eos>.

Shapes   B batch, T_mel input frames, T_enc encoder frames, S characters (+1 with <bos>/<eos>),
         C = 2 * listener_size encoder channels, V characters (<pad> = 0, <bos> = 1, <eos> = 2).
Taught in lessons/05_attention.ipynb, sections 4-6.
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from minispeech.dsp import MelConfig
from minispeech.models.ctc_asr import (
    frame_mask,
    normalize_features,
    spec_augment_batch,
    warp_frequencies,
)
from minispeech.nn.attention import AdditiveAttention, AttentionConfig, LocationSensitiveAttention
from minispeech.text import characters

# The characters() table's reserved ids; PAD_ID is also the auxiliary CTC head's blank.
PAD_ID, BOS_ID, EOS_ID = 0, 1, 2
ATTENTION_KINDS = ("location", "content")
TRAIN_HINT = "run lessons/05_attention.ipynb (section 4 trains and saves the recognizer)"


@dataclasses.dataclass(frozen=True)
class LASConfig:
    mel: MelConfig = MelConfig()  # the front end the features were computed with
    vocabulary_size: int = len(characters())  # V
    conv_channels: int = 128  # the two stride-2 convolutions before the first BiLSTM
    listener_size: int = 192  # hidden units per direction of each BiLSTM
    listener_layers: int = 2  # the first at T_mel / 4; each further one halves time (pyramid)
    embedding_size: int = 64  # of the previous character
    decoder_size: int = 256  # the speller's LSTMCell
    attention: str = "location"  # "location" (Chorowski et al., 2015) or "content" (Bahdanau)
    attention_size: int = 128
    location_filters: int = 16
    location_kernel_size: int = 15  # odd; in encoder frames
    dropout: float = 0.1  # on the speller's output layer and between listener layers
    ctc_weight: float = 0.3  # auxiliary CTC loss on the first listener layer (Kim et al., 2017)
    max_length_ratio: float = 3.0  # decoding guard: at most this many characters per T_enc frame
    warp_range: float = 0.15  # training-time augmentations, as in lesson 04 (ctc_asr)
    freq_masks: int = 2
    freq_mask_width: int = 10
    time_masks: int = 2
    time_mask_width: int = 10

    def __post_init__(self) -> None:
        if self.attention not in ATTENTION_KINDS:
            raise ValueError(
                f"LASConfig: attention must be one of {ATTENTION_KINDS}, got {self.attention!r}"
            )
        if self.listener_layers < 1:
            raise ValueError(f"LASConfig: listener_layers must be >= 1, got {self.listener_layers}")
        if self.max_length_ratio <= 0:
            raise ValueError(
                f"LASConfig: max_length_ratio must be positive, got {self.max_length_ratio}"
            )

    @property
    def time_reduction(self) -> int:
        """T_mel / T_enc: 4 from the two strided convolutions, 2 per further listener layer."""
        return 2 ** (self.listener_layers + 1)

    @classmethod
    def preset(cls, profile: str) -> LASConfig:
        """ci: trains in seconds; cpu: lesson 05's bar in 15 minutes on 2 cores;
        gpu: a 12 GB card and LibriSpeech-scale data (about 15 M parameters)."""
        presets = {
            "ci": cls(conv_channels=64, listener_size=64, listener_layers=2, embedding_size=32,
                      decoder_size=96, attention_size=64, location_filters=8, location_kernel_size=7),
            "cpu": cls(),
            "gpu": cls(conv_channels=256, listener_size=384, listener_layers=3, embedding_size=128,
                       decoder_size=768, attention_size=256, location_filters=32, location_kernel_size=31,
                       dropout=0.2, freq_mask_width=27, time_masks=10, time_mask_width=40),
        }  # fmt: skip
        if profile not in presets:
            raise ValueError(
                f"LASConfig.preset: unknown profile {profile!r}; choose one of {sorted(presets)}"
            )
        return presets[profile]


def _run_lstm(lstm: nn.LSTM, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """A bidirectional LSTM over the real frames only: the backward direction starts at each
    utterance's own end, not in its padding. x (B, T, C_in) -> (B, T, 2H), zeros on padding."""
    packed = nn.utils.rnn.pack_padded_sequence(
        x, lengths.cpu(), batch_first=True, enforce_sorted=False
    )
    output, _ = lstm(packed)
    output, _ = nn.utils.rnn.pad_packed_sequence(output, batch_first=True, total_length=x.shape[1])
    return output  # (B, T, 2H)


class Listener(nn.Module):
    """Log-mels -> encoder states (B, T_enc, C), and CTC log-probabilities from the first layer.

    Pyramidal BiLSTM (Chan et al., 2016, Eq. 5): before each layer after the first, frames 2i and
    2i + 1 are concatenated, halving T: the decoder attends over fewer, richer frames.
    """

    def __init__(self, config: LASConfig) -> None:
        super().__init__()
        self.config = config
        self.convs = nn.ModuleList([
            nn.Conv1d(config.mel.n_mels, config.conv_channels, kernel_size=5, stride=2, padding=2),
            nn.Conv1d(config.conv_channels, config.conv_channels, kernel_size=5, stride=2, padding=2),
        ])  # fmt: skip
        size = config.listener_size
        pyramid_sizes = [4 * size] * (config.listener_layers - 1)  # 2 stacked frames x 2H each
        input_sizes = [config.conv_channels] + pyramid_sizes
        self.layers = nn.ModuleList(
            nn.LSTM(input_size, size, batch_first=True, bidirectional=True)
            for input_size in input_sizes
        )
        self.ctc_head = nn.Linear(2 * size, config.vocabulary_size)
        self.dropout = nn.Dropout(config.dropout)

    def forward(self, features: torch.Tensor, lengths: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """features (B, T_mel, n_mels), lengths (B,) -> encoder (B, T_enc, C), encoder_lengths (B,),
        ctc_log_probs (B, T_mel / 4, V), ctc_lengths (B,)."""
        if features.dim() != 3 or features.shape[2] != self.config.mel.n_mels:
            raise ValueError(f"LAS: features must be (B, T_mel, n_mels = {self.config.mel.n_mels}) log-mels, "
                             f"got shape {tuple(features.shape)}")  # fmt: skip
        lengths = lengths.to(features.device)
        if self.training and self.config.warp_range > 0:
            features = warp_frequencies(features, self.config)
        x = normalize_features(features, lengths)  # (B, T_mel, n_mels), padding zero
        if self.training:
            x = spec_augment_batch(x, lengths, self.config)
        x = x.transpose(1, 2)  # (B, n_mels, T_mel): convolutions want channels first
        for conv in self.convs:
            lengths = (lengths - 1) // 2 + 1  # ceil(T / 2)
            x = F.gelu(conv(x))  # (B, conv_channels, T / 2)
            x = x * frame_mask(lengths, x.shape[2])[:, None, :]  # the next kernel must see zeros
        x = _run_lstm(self.layers[0], x.transpose(1, 2), lengths)  # (B, T_mel / 4, 2H)
        ctc_log_probs = F.log_softmax(self.ctc_head(x), dim=-1)  # (B, T_mel / 4, V)
        ctc_lengths = lengths
        for layer in self.layers[1:]:
            if x.shape[1] % 2:
                x = F.pad(x, (0, 0, 0, 1))  # one zero frame so that pairs tile the sequence
            batch_size, n_frames, channels = x.shape
            x = x.reshape(batch_size, n_frames // 2, 2 * channels)  # (B, T / 2, 4H): 2i, 2i+1
            lengths = (lengths - 1) // 2 + 1  # ceil(T / 2)
            x = _run_lstm(layer, self.dropout(x), lengths)  # (B, T / 2, 2H)
        return x, lengths, ctc_log_probs, ctc_lengths


class DecoderState(NamedTuple):
    """The speller's state after a step; every field is a tensor with batch first."""

    hidden: torch.Tensor  # (B, decoder_size): the LSTMCell's h, also the attention query
    cell: torch.Tensor  # (B, decoder_size): the LSTMCell's c
    context: torch.Tensor  # (B, C): the attended encoder summary, fed to the next step
    cumulative_weights: torch.Tensor  # (B, T_enc): the sum of all attention weights so far
    weights: torch.Tensor  # (B, T_enc): this step's attention weights

    def select(self, index: torch.Tensor) -> DecoderState:
        """The states of rows index (e.g. the surviving beams), in that order."""
        return DecoderState(*(field[index] for field in self))


class Speller(nn.Module):
    """The attention decoder, one character per step (Chan et al., 2016, Eq. 6-8)."""

    def __init__(self, config: LASConfig) -> None:
        super().__init__()
        self.config = config
        encoder_size = 2 * config.listener_size  # C
        self.embedding = nn.Embedding(config.vocabulary_size, config.embedding_size)
        self.cell = nn.LSTMCell(config.embedding_size + encoder_size, config.decoder_size)
        attention_config = AttentionConfig(
            query_size=config.decoder_size, key_size=encoder_size, attention_size=config.attention_size,
            location_filters=config.location_filters, location_kernel_size=config.location_kernel_size,
        )  # fmt: skip
        attention_class = (
            LocationSensitiveAttention if config.attention == "location" else AdditiveAttention
        )
        self.attention = attention_class(attention_config)
        self.output_hidden = nn.Linear(config.decoder_size + encoder_size, config.decoder_size)
        self.classifier = nn.Linear(config.decoder_size, config.vocabulary_size)
        self.dropout = nn.Dropout(config.dropout)

    def initial_state(self, encoder: torch.Tensor) -> DecoderState:
        """All zeros: no history, an empty context, no attention yet. encoder (B, T_enc, C)."""
        batch_size, n_frames, encoder_size = encoder.shape
        zeros = encoder.new_zeros(batch_size, self.config.decoder_size)
        no_weights = encoder.new_zeros(batch_size, n_frames)
        return DecoderState(
            zeros, zeros, encoder.new_zeros(batch_size, encoder_size), no_weights, no_weights
        )

    def attend(
        self,
        query: torch.Tensor,
        encoder: torch.Tensor,
        cumulative_weights: torch.Tensor,
        encoder_mask: torch.Tensor,
        projected_keys: torch.Tensor,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """context (B, C) and weights (B, T_enc) of the attention, whichever kind it is."""
        if isinstance(self.attention, LocationSensitiveAttention):
            return self.attention(
                query, encoder, encoder, cumulative_weights, encoder_mask, projected_keys
            )
        return self.attention(query, encoder, encoder, encoder_mask, projected_keys)

    def step(
        self,
        previous_tokens: torch.Tensor,
        state: DecoderState,
        encoder: torch.Tensor,
        projected_keys: torch.Tensor,
        encoder_mask: torch.Tensor,
    ) -> tuple[torch.Tensor, DecoderState]:
        """One decoder step. previous_tokens (B,) ids, encoder (B, T_enc, C), projected_keys
        (B, T_enc, attention_size) from self.attention.project_keys(encoder), encoder_mask
        (B, T_enc) keep. Returns logits (B, V) of the next character and the new state."""
        embedded = self.embedding(previous_tokens)  # (B, embedding_size)
        hidden, cell = self.cell(
            torch.cat([embedded, state.context], dim=-1), (state.hidden, state.cell)
        )
        context, weights = self.attend(
            hidden, encoder, state.cumulative_weights, encoder_mask, projected_keys
        )
        features = self.dropout(torch.cat([hidden, context], dim=-1))  # (B, decoder_size + C)
        logits = self.classifier(torch.tanh(self.output_hidden(features)))  # (B, V)
        return logits, DecoderState(
            hidden, cell, context, state.cumulative_weights + weights, weights
        )


class LASOutput(NamedTuple):
    logits: torch.Tensor  # (B, S + 1, V): predictions of characters 1..S and <eos>
    attention_weights: torch.Tensor  # (B, S + 1, T_enc)
    encoder_lengths: torch.Tensor  # (B,)
    ctc_log_probs: torch.Tensor  # (B, T_mel / 4, V): the auxiliary head, blank = <pad> = 0
    ctc_lengths: torch.Tensor  # (B,)


def targets_with_eos(tokens: torch.Tensor, token_lengths: torch.Tensor) -> torch.Tensor:
    """tokens (B, S) padded with <pad> -> (B, S + 1): each row's characters, <eos>, then <pad>."""
    targets = F.pad(tokens, (0, 1), value=PAD_ID)  # (B, S + 1)
    targets[torch.arange(len(tokens)), token_lengths.to(tokens.device)] = EOS_ID
    return targets


class LAS(nn.Module):
    """Listener + Speller. Training: teacher forcing, optionally with scheduled sampling."""

    def __init__(self, config: LASConfig) -> None:
        super().__init__()
        self.config = config
        self.listener = Listener(config)
        self.speller = Speller(config)

    def encode(self, features: torch.Tensor, lengths: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """See Listener.forward; also returns projected_keys (B, T_enc, attention_size) and the
        encoder mask (B, T_enc), which every decoder step reuses."""
        encoder, encoder_lengths, ctc_log_probs, ctc_lengths = self.listener(features, lengths)
        projected_keys = self.speller.attention.project_keys(encoder)
        encoder_mask = frame_mask(encoder_lengths, encoder.shape[1])
        return encoder, encoder_lengths, projected_keys, encoder_mask, ctc_log_probs, ctc_lengths

    def forward(
        self,
        features: torch.Tensor,
        lengths: torch.Tensor,
        tokens: torch.Tensor,
        token_lengths: torch.Tensor,
        sampling_probability: float = 0.0,
    ) -> LASOutput:
        """features (B, T_mel, n_mels), lengths (B,), tokens (B, S) without <bos>/<eos>.

        The decoder reads <bos> + tokens (teacher forcing) and predicts tokens + <eos>. With
        sampling_probability p > 0 (scheduled sampling, Bengio et al., 2015), each previous
        character is, with probability p, replaced by one sampled from the model's own prediction.
        """
        encoder, encoder_lengths, projected_keys, encoder_mask, ctc_log_probs, ctc_lengths = (
            self.encode(features, lengths)
        )
        tokens = tokens.to(encoder.device)
        inputs = F.pad(tokens, (1, 0), value=BOS_ID)  # (B, S + 1): <bos> + characters
        state = self.speller.initial_state(encoder)
        all_logits, all_weights = [], []
        for step in range(inputs.shape[1]):
            previous = inputs[:, step]  # (B,)
            if step > 0 and sampling_probability > 0:
                sampled = torch.multinomial(F.softmax(all_logits[-1].detach().float(), dim=-1), 1)[
                    :, 0
                ]
                own = torch.rand(len(previous), device=previous.device) < sampling_probability
                previous = torch.where(own, sampled, previous)
            logits, state = self.speller.step(
                previous, state, encoder, projected_keys, encoder_mask
            )
            all_logits.append(logits)
            all_weights.append(state.weights)
        return LASOutput(torch.stack(all_logits, 1), torch.stack(all_weights, 1), encoder_lengths,
                         ctc_log_probs, ctc_lengths)  # fmt: skip


@dataclasses.dataclass
class Hypothesis:
    tokens: list[int]  # character ids, without <bos> and <eos>
    score: float  # log-probability (beam search: its length-normalized ranking score)
    stopped: bool  # True if the decoder emitted <eos>; False if the length guard cut it off
    weights: np.ndarray  # (steps, T_enc) attention weights of each decoder step


def _max_steps(encoder_length: int, config: LASConfig, max_length_ratio: float | None) -> int:
    return math.ceil((max_length_ratio or config.max_length_ratio) * encoder_length) + 1  # + <eos>


@torch.no_grad()
def greedy_decode(
    model: LAS, features: torch.Tensor, lengths: torch.Tensor, max_length_ratio: float | None = None
) -> list[Hypothesis]:
    """The argmax character at every step, for a batch, until each row emits <eos> or reaches
    max_length_ratio (default config.max_length_ratio) characters per encoder frame."""
    was_training = model.training
    model.eval()
    encoder, encoder_lengths, projected_keys, encoder_mask, _, _ = model.encode(features, lengths)
    limits = [_max_steps(int(n), model.config, max_length_ratio) for n in encoder_lengths]
    state = model.speller.initial_state(encoder)
    previous = torch.full((len(encoder),), BOS_ID, dtype=torch.long, device=encoder.device)
    tokens, log_probs, weights = [], [], []
    finished = torch.zeros(len(encoder), dtype=torch.bool, device=encoder.device)
    for _ in range(max(limits)):
        logits, state = model.speller.step(previous, state, encoder, projected_keys, encoder_mask)
        step_log_probs = F.log_softmax(logits.float(), dim=-1)  # (B, V)
        previous = step_log_probs.argmax(-1)  # (B,)
        tokens.append(previous)
        log_probs.append(step_log_probs.gather(1, previous[:, None])[:, 0])
        weights.append(state.weights.float())
        finished |= previous == EOS_ID
        if bool(finished.all()):
            break
    model.train(was_training)
    tokens, log_probs = torch.stack(tokens, 1).cpu(), torch.stack(log_probs, 1).cpu()  # (B, steps)
    weights = torch.stack(weights, 1).cpu().numpy()  # (B, steps, T_enc)
    hypotheses = []
    for b, limit in enumerate(limits):
        row = tokens[b, :limit].tolist()
        stopped = EOS_ID in row
        n_steps = row.index(EOS_ID) + 1 if stopped else len(row)
        hypotheses.append(Hypothesis(row[: n_steps - stopped], float(log_probs[b, :n_steps].sum()), stopped,
                                     weights[b, :n_steps, : int(encoder_lengths[b])]))  # fmt: skip
    return hypotheses


@torch.no_grad()
def beam_search(
    model: LAS,
    features: torch.Tensor,
    lengths: torch.Tensor,
    beam_size: int = 8,
    length_penalty: float = 1.0,
    max_length_ratio: float | None = None,
) -> list[Hypothesis]:
    """The best hypothesis of a beam search for each utterance of the batch.

    Finished hypotheses (those that emitted <eos>) are ranked by log P / (length + 1)^length_penalty
    (<eos> counted): with length_penalty = 0 the plain log-probability, which favours stopping
    early, since every extra character can only lower it. The search ends when beam_size
    hypotheses have finished or at the length guard; if none finished, the best unfinished one
    is returned with stopped=False.
    """
    if beam_size < 1:
        raise ValueError(f"beam_search: beam_size must be >= 1, got {beam_size}")
    was_training = model.training
    model.eval()
    encoder, encoder_lengths, projected_keys, encoder_mask, _, _ = model.encode(features, lengths)
    results = []
    for b in range(len(encoder)):
        n_frames = int(encoder_lengths[b])
        one = (
            encoder[b : b + 1, :n_frames],
            projected_keys[b : b + 1, :n_frames],
            encoder_mask[b : b + 1, :n_frames],
        )
        results.append(_beam_search_one(model, *one, beam_size, length_penalty,
                                        _max_steps(n_frames, model.config, max_length_ratio)))  # fmt: skip
    model.train(was_training)
    return results


def _beam_search_one(
    model: LAS,
    encoder: torch.Tensor,
    projected_keys: torch.Tensor,
    encoder_mask: torch.Tensor,
    beam_size: int,
    length_penalty: float,
    max_steps: int,
) -> Hypothesis:
    """Beam search for one utterance; the live beams form the batch. encoder (1, T_enc, C)."""
    state = model.speller.initial_state(encoder)
    previous = torch.full((1,), BOS_ID, dtype=torch.long, device=encoder.device)
    scores = torch.zeros(1, device=encoder.device)  # (beams,) log P of each live prefix
    prefixes: list[list[int]] = [[]]
    histories: list[list[np.ndarray]] = [[]]
    finished: list[Hypothesis] = []
    for _ in range(max_steps):
        n_beams = len(prefixes)
        logits, state = model.speller.step(previous, state, encoder.expand(n_beams, -1, -1),
                                           projected_keys.expand(n_beams, -1, -1),
                                           encoder_mask.expand(n_beams, -1))  # fmt: skip
        log_probs = F.log_softmax(logits.float(), dim=-1)  # (beams, V)
        candidates = (scores[:, None] + log_probs).flatten()  # (beams * V,)
        top_scores, top_indices = candidates.topk(min(2 * beam_size, len(candidates)))
        weights = state.weights.float().cpu().numpy()  # (beams, T_enc)
        keep_beams, keep_tokens, keep_scores = [], [], []
        for rank, (score, index) in enumerate(
            zip(top_scores.tolist(), top_indices.tolist(), strict=True)
        ):
            beam, token = divmod(index, model.config.vocabulary_size)
            if token == EOS_ID:
                if rank < beam_size:  # an <eos> outside the best beam_size candidates is not taken
                    normalized = score / (len(prefixes[beam]) + 1) ** length_penalty
                    history = np.stack(histories[beam] + [weights[beam]])
                    finished.append(Hypothesis(prefixes[beam], normalized, True, history))
            elif len(keep_beams) < beam_size:
                keep_beams.append(beam)
                keep_tokens.append(token)
                keep_scores.append(score)
        if len(finished) >= beam_size or not keep_beams:
            break
        index = torch.tensor(keep_beams, device=encoder.device)
        state = state.select(index)
        previous = torch.tensor(keep_tokens, device=encoder.device)
        scores = torch.tensor(keep_scores, device=encoder.device)
        histories = [histories[beam] + [weights[beam]] for beam in keep_beams]
        prefixes = [
            prefixes[beam] + [token] for beam, token in zip(keep_beams, keep_tokens, strict=True)
        ]
    if finished:
        return max(finished, key=lambda hypothesis: hypothesis.score)
    best = int(scores.argmax())
    return Hypothesis(prefixes[best], float(scores[best]) / len(prefixes[best]) ** length_penalty, False,
                      np.stack(histories[best]))  # fmt: skip


def artifact_path(kind: str = "cpu") -> Path:
    """data/artifacts/las.pt for cpu/gpu runs, las_ci.pt for the ci run (train.artifact_path)."""
    from minispeech.train import artifact_path as artifact_path_for

    return artifact_path_for("las", kind)


def load_pretrained(path: str | Path | None = None, device: str | torch.device = "cpu") -> LAS:
    """The recognizer lesson 05 trained, in eval mode, built from the config in its checkpoint.

    path=None takes the cpu/gpu run's artifact if it exists, else the ci run's; raises
    FileNotFoundError naming lesson 05 when neither exists.
    """
    from minispeech.train import load_trained

    return load_trained("las", LAS, LASConfig, TRAIN_HINT, path=path, device=device)
