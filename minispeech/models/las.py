"""Listen, Attend and Spell (Chan et al., 2016): a character recognizer with an attention decoder.

LASConfig        frozen config; LASConfig.preset("ci" | "cpu" | "gpu")
Listener         log-mels -> encoder states: conv front end, then pyramidal BiLSTMs (+ CTC head)
DecoderState     the speller's recurrent state between steps (a NamedTuple of tensors)
Speller          one step: previous character + state -> next-character logits + new state
targets_with_eos decoder targets: the characters, then <eos>, then <pad>
LASOutput        forward's result: .loss and the named parts it was computed from
LAS              forward(batch, sampling_probability) -> LASOutput;
                 transcribe(features, lengths, beam_size=1, ...) -> list[Hypothesis]: greedy (the
                 most probable character at every step) or minispeech.decoding.beam_search, until
                 <eos> or the length guard
artifact_path    where lesson 05 saves the trained model (one file per profile kind)
load_pretrained  the model lesson 05 trained, ready for inference (eval mode)

The pipeline, top to bottom:
    log-mel (B, T_mel, n_mels) -> nn/asr_frontend.ASRFrontEnd ([training: warp frequencies],
    normalize each utterance, [training: SpecAugment]) -> 2 x Conv1d stride 2 -> BiLSTM (T_mel / 4, 21.5 frames per
    second; an auxiliary CTC head reads this layer) -> (listener_layers - 1) x [stack pairs of
    frames, BiLSTM] -> encoder (B, T_enc, 2 * listener_size), T_enc = T_mel / 2^(listener_layers + 1).
    Speller, one step per character: LSTMCell([embed(previous character), previous context])
    -> attention (location-sensitive or content-only) over the encoder -> context
    -> tanh(Linear([state, context])) -> Linear -> logits over characters.
Decoding starts from <bos> and stops at <eos>; a length guard, max_length_ratio characters per
encoder frame, stops a decoder that never emits <eos>.

Shapes   B batch, T_mel input frames, T_enc encoder frames, S characters (+1 with <bos>/<eos>),
         C = 2 * listener_size encoder channels, V characters (<pad> = 0, <bos> = 1, <eos> = 2).
A batch is what minispeech.data.collate makes: "features", "feature_lengths", "tokens", "token_lengths".
Taught in lessons/05_attention.ipynb, sections 4-6.
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from minispeech import checkpoint, decoding, profiles
from minispeech.decoding import Hypothesis
from minispeech.dsp import MelConfig
from minispeech.nn.asr_frontend import ASRFrontEnd, AugmentConfig
from minispeech.nn.attention import (
    AdditiveAttention,
    AttentionConfig,
    LocationSensitiveAttention,
    padding_mask,
)
from minispeech.nn.encoder import StridedConvSubsampling
from minispeech.nn.recurrent import packed_lstm
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
    label_smoothing: float = 0.1  # on the attention cross-entropy
    max_length_ratio: float = 3.0  # decoding guard: at most this many characters per T_enc frame
    augment: AugmentConfig = AugmentConfig()  # training-time augmentations, as in lesson 04

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
                       dropout=0.2, augment=AugmentConfig(freq_mask_width=27, time_masks=10, time_mask_width=40)),
        }  # fmt: skip
        return profiles.pick(presets, profile)


class Listener(nn.Module):
    """Log-mels -> encoder states (B, T_enc, C), and CTC log-probabilities from the first layer.

    Pyramidal BiLSTM (Chan et al., 2016, Eq. 5): before each layer after the first, frames 2i and
    2i + 1 are concatenated, halving T: the decoder attends over fewer, richer frames.
    """

    def __init__(self, config: LASConfig) -> None:
        super().__init__()
        self.config = config
        self.front_end = ASRFrontEnd(config.mel, config.augment)
        self.subsampling = StridedConvSubsampling(config.mel.n_mels, config.conv_channels, factor=4)
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
        lengths = lengths.to(features.device)
        x = self.front_end(features, lengths)  # (B, T_mel, n_mels), padding zero
        x, lengths = self.subsampling(x, lengths)  # (B, T_mel / 4, conv_channels)
        x = packed_lstm(self.layers[0], x, lengths)  # (B, T_mel / 4, 2H)
        ctc_log_probs = F.log_softmax(self.ctc_head(x), dim=-1)  # (B, T_mel / 4, V)
        ctc_lengths = lengths
        for layer in self.layers[1:]:
            if x.shape[1] % 2:
                x = F.pad(x, (0, 0, 0, 1))  # one zero frame so that pairs tile the sequence
            batch_size, n_frames, channels = x.shape
            x = x.reshape(batch_size, n_frames // 2, 2 * channels)  # (B, T / 2, 4H): 2i, 2i+1
            lengths = (lengths - 1) // 2 + 1  # ceil(T / 2)
            x = packed_lstm(layer, self.dropout(x), lengths)  # (B, T / 2, 2H)
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
    loss: torch.Tensor  # (1 - ctc_weight) attention_loss + ctc_weight ctc_loss
    attention_loss: (
        torch.Tensor
    )  # label-smoothed cross-entropy per target character (<eos> included)
    ctc_loss: torch.Tensor  # the auxiliary CTC head's loss (torch's "mean")
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
        encoder_mask = padding_mask(encoder_lengths, encoder.shape[1])
        return encoder, encoder_lengths, projected_keys, encoder_mask, ctc_log_probs, ctc_lengths

    def forward(self, batch: dict, sampling_probability: float = 0.0) -> LASOutput:
        """A collated batch (features (B, T_mel, n_mels), tokens (B, S) without <bos>/<eos>, and
        their lengths) -> the loss and its parts.

        The decoder reads <bos> + tokens (teacher forcing) and predicts tokens + <eos>. With
        sampling_probability p > 0 (scheduled sampling, Bengio et al., 2015), each previous
        character is, with probability p, replaced by one sampled from the model's own prediction.
        """
        device = self.speller.classifier.weight.device
        encoder, encoder_lengths, projected_keys, encoder_mask, ctc_log_probs, ctc_lengths = (
            self.encode(batch["features"].to(device), batch["feature_lengths"].to(device))
        )
        tokens, token_lengths = batch["tokens"].to(device), batch["token_lengths"].to(device)
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
        logits = torch.stack(all_logits, 1)  # (B, S + 1, V)
        attention_loss = F.cross_entropy(
            logits.float().transpose(1, 2),  # (B, V, S + 1)
            targets_with_eos(tokens, token_lengths),
            ignore_index=PAD_ID,
            label_smoothing=self.config.label_smoothing,
        )
        ctc_loss = F.ctc_loss(
            ctc_log_probs.float().transpose(0, 1),
            tokens,
            ctc_lengths,
            token_lengths,
            blank=PAD_ID,
            zero_infinity=True,
        )  # a few fast utterances have too few frames
        loss = (1 - self.config.ctc_weight) * attention_loss + self.config.ctc_weight * ctc_loss
        return LASOutput(loss, attention_loss, ctc_loss, logits, torch.stack(all_weights, 1), encoder_lengths,
                         ctc_log_probs, ctc_lengths)  # fmt: skip

    @torch.no_grad()
    def transcribe(
        self,
        features: torch.Tensor,
        lengths: torch.Tensor,
        beam_size: int = 1,
        length_penalty: float = 1.0,
        max_length_ratio: float | None = None,
    ) -> list[Hypothesis]:
        """features (B, T_mel, n_mels), lengths (B,) -> one Hypothesis per utterance, with its
        attention weights (steps, T_enc) and whether it stopped on <eos>.

        beam_size 1: greedy, batched; else decoding.beam_search per utterance, ranked by
        log P / (length + 1)^length_penalty. The guard allows max_length_ratio (default
        config.max_length_ratio) characters per encoder frame. Eval mode; the mode is restored.
        """
        was_training = self.training
        self.eval()
        device = self.speller.classifier.weight.device
        encoded = self.encode(features.to(device), lengths.to(device))
        if beam_size == 1:
            hypotheses = _greedy(self, *encoded[:4], max_length_ratio)
        else:
            hypotheses = [_beam_one(self, *encoded[:4], b, beam_size, length_penalty, max_length_ratio)
                          for b in range(len(features))]  # fmt: skip
        self.train(was_training)
        return hypotheses


def _max_steps(encoder_length: int, config: LASConfig, max_length_ratio: float | None) -> int:
    return math.ceil((max_length_ratio or config.max_length_ratio) * encoder_length) + 1  # + <eos>


def _greedy(
    model: LAS,
    encoder,
    encoder_lengths,
    projected_keys,
    encoder_mask,
    max_length_ratio: float | None,
) -> list[Hypothesis]:
    """The argmax character at every step, for a batch, until each row emits <eos> or reaches
    its length guard. encoder (B, T_enc, C) and the rest as LAS.encode returns them."""
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
    tokens, log_probs = torch.stack(tokens, 1).cpu(), torch.stack(log_probs, 1).cpu()  # (B, steps)
    weights = torch.stack(weights, 1).cpu().numpy()  # (B, steps, T_enc)
    hypotheses = []
    for b, limit in enumerate(limits):
        row = tokens[b, :limit].tolist()
        stopped = EOS_ID in row
        n_steps = row.index(EOS_ID) + 1 if stopped else len(row)
        log_prob = float(log_probs[b, :n_steps].sum())
        hypotheses.append(Hypothesis(row[: n_steps - stopped], log_prob, log_prob, stopped,
                                     attention_weights=weights[b, :n_steps, : int(encoder_lengths[b])]))  # fmt: skip
    return hypotheses


def _beam_one(
    model: LAS,
    encoder,
    encoder_lengths,
    projected_keys,
    encoder_mask,
    b: int,
    beam_size: int,
    length_penalty: float,
    max_length_ratio: float | None,
) -> Hypothesis:
    """decoding.beam_search over the speller for utterance b; the live beams form the batch."""
    n_frames = int(encoder_lengths[b])
    encoder, keys, mask = (
        encoder[b : b + 1, :n_frames],
        projected_keys[b : b + 1, :n_frames],
        encoder_mask[b : b + 1, :n_frames],
    )

    def step(previous: torch.Tensor, state: DecoderState) -> tuple[torch.Tensor, DecoderState]:
        n_beams = len(previous)
        logits, state = model.speller.step(previous.to(encoder.device), state, encoder.expand(n_beams, -1, -1),
                                           keys.expand(n_beams, -1, -1), mask.expand(n_beams, -1))  # fmt: skip
        return F.log_softmax(logits.float(), dim=-1), state  # (beams, V)

    def select(state: DecoderState, rows: torch.Tensor) -> DecoderState:
        return state.select(rows.to(encoder.device))

    hypotheses = decoding.beam_search(
        step, select, model.speller.initial_state(encoder), beam_size,
        _max_steps(n_frames, model.config, max_length_ratio), BOS_ID, EOS_ID, length_penalty,
        weights_of=lambda state: state.weights,
    )  # fmt: skip
    return decoding.best(hypotheses)


def artifact_path(kind: str = "cpu") -> Path:
    """data/artifacts/las.pt for cpu/gpu runs, las_ci.pt for the ci run."""
    return checkpoint.artifact_path("las", kind)


def load_pretrained(path: str | Path | None = None, device: str | torch.device = "cpu") -> LAS:
    """The recognizer lesson 05 trained, in eval mode, built from the config in its checkpoint.

    path=None takes the cpu/gpu run's artifact if it exists, else the ci run's; raises
    FileNotFoundError naming lesson 05 when neither exists.
    """
    return checkpoint.load_pretrained("las", LAS, LASConfig, TRAIN_HINT, path=path, device=device)
