"""An attention encoder-decoder recognizer with a CTC head, trained on the joint CTC/attention loss.

TransformerASRConfig  frozen config; TransformerASRConfig.preset("ci" | "cpu" | "gpu")
TransformerASROutput  forward's result: .loss and its named parts
TransformerASR        encode, ctc_log_probs, decode (teacher forcing), decode_step (KV cache),
                      forward(batch) -> TransformerASROutput,
                      transcribe(features, lengths, beam_size=1, ctc_weight=0) -> list[Hypothesis],
                      n_best(features, lengths, beam_size) -> each utterance's finished hypotheses
                      (minispeech.decoding.beam_search, KV cache rows reordered per step) with
                      their attention and CTC log-probabilities (decoding.ctc_sequence_log_probs),
                      for decoding.rank
joint_loss            λ · CTC + (1 - λ) · label-smoothed cross-entropy (Watanabe et al., 2017)
decoder_targets       <bos> + y as decoder input, y + <eos> as target (padding ignored)
greedy_decode         batched argmax decoding, with or without the KV cache (same outputs)
artifact_path         where lesson 06 saves the trained model (one file per profile kind)
load_pretrained       the model lesson 06 trained, ready for inference (eval mode)

The pipeline, top to bottom (ESPnet's joint CTC/attention recognizer, small):
    log-mel (B, T_mel, n_mels) -> lesson 04's input pipeline and Conformer encoder (nn/asr_frontend,
    nn/encoder: warp, normalize, SpecAugment, strided Conv1d, sinusoidal positions, blocks) -> memory (B, T_out, C)
    memory -> Linear -> log-softmax: the CTC branch (blank = <pad> = 0)
    <bos> y_1 .. y_{S}  -> embedding * sqrt(C) + sinusoidal positions -> N pre-LN decoder layers
    (causal self-attention, cross-attention to memory, FFN) -> LayerNorm -> Linear: next characters,
    the last one <eos>.

Shapes   B batch, T_mel input frames, T_out encoder frames, S tokens, C = model_size channels,
         V characters (<pad> = 0 = CTC blank, <bos> = 1, <eos> = 2), K beam size.
Taught in lessons/06_transformer.ipynb.
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
from minispeech.nn.attention import padding_mask
from minispeech.nn.encoder import EncoderConfig, SpeechEncoder
from minispeech.nn.transformer import (
    KeyValueCache,
    SinusoidalPositionalEncoding,
    TransformerConfig,
    TransformerDecoderLayer,
)
from minispeech.text import characters

BLANK_ID, BOS_ID, EOS_ID = 0, 1, 2  # the characters() table: <pad> doubles as the CTC blank
IGNORE_INDEX = -100  # target positions the cross-entropy skips (padding after <eos>)
TRAIN_HINT = (
    "run lessons/06_transformer.ipynb (its training section trains and saves the recognizer)"
)
LayerCache = tuple[KeyValueCache, KeyValueCache]  # (self-attention, cross-attention) of one layer


@dataclasses.dataclass(frozen=True)
class TransformerASRConfig:
    mel: MelConfig = MelConfig()  # the front end the features were computed with
    augment: AugmentConfig = AugmentConfig()  # lesson 04's training-time warp and SpecAugment
    encoder: EncoderConfig = (
        EncoderConfig()
    )  # lesson 04's Conformer (kind="transformer": pre-LN layers)
    vocabulary_size: int = len(characters())  # V: <pad> = CTC blank, <bos>, <eos>, characters
    decoder_layers: int = 2
    decoder_heads: int = 4
    decoder_feedforward_size: int = 576
    decoder_dropout: float = 0.1
    ctc_weight: float = 0.3  # λ of the joint loss (ESPnet's mtlalpha)
    label_smoothing: float = 0.1  # on the attention cross-entropy
    max_output_length: int = 300  # decoding guard: at most this many characters
    max_tokens_per_frame: float = 0.7  # guard, per encoder frame (eSpeak: <= 0.56 at 43/s)

    def __post_init__(self) -> None:
        if self.encoder.model_size % self.decoder_heads:
            raise ValueError(f"TransformerASRConfig: encoder.model_size {self.encoder.model_size} must be a "
                             f"multiple of decoder_heads {self.decoder_heads}")  # fmt: skip
        if not 0.0 <= self.ctc_weight <= 1.0:
            raise ValueError(
                f"TransformerASRConfig: ctc_weight must be in [0, 1], got {self.ctc_weight}"
            )
        if self.decoder_layers < 1:
            raise ValueError(
                f"TransformerASRConfig: decoder_layers must be >= 1, got {self.decoder_layers}"
            )

    @classmethod
    def preset(cls, profile: str) -> TransformerASRConfig:
        """ci: trains in seconds; cpu: lesson 04's Conformer encoder + a 2-layer decoder (15 min on
        2 cores); gpu: lesson 04's gpu encoder + a 6-layer decoder (ESPnet-like sizes)."""
        presets = {
            "ci": lambda: cls(encoder=EncoderConfig(model_size=64, n_layers=2, n_heads=2, feedforward_size=128,
                                                    conv_kernel_size=7),
                              decoder_layers=1, decoder_heads=2, decoder_feedforward_size=128),
            "cpu": lambda: cls(),
            "gpu": lambda: cls(encoder=EncoderConfig(model_size=256, n_layers=12, n_heads=4, feedforward_size=1024,
                                                     conv_kernel_size=31),
                               augment=AugmentConfig(freq_mask_width=27, time_masks=10, time_mask_width=40),
                               decoder_layers=6, decoder_feedforward_size=2048),
        }  # fmt: skip
        return profiles.pick(presets, profile)()


class TransformerASROutput(NamedTuple):
    loss: torch.Tensor  # λ ctc_loss + (1 - λ) attention_loss
    ctc_loss: torch.Tensor  # of the encoder's CTC head (torch's "mean")
    attention_loss: torch.Tensor  # label-smoothed cross-entropy per target token (<eos> included)
    accuracy: torch.Tensor  # teacher-forced next-token accuracy (no gradient)


def decoder_targets(
    tokens: torch.Tensor, token_lengths: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """tokens (B, S) padded, token_lengths (B,) -> decoder inputs (B, S + 1) = <bos> y (padding
    left as is: the causal mask hides it from real steps) and targets (B, S + 1) = y <eos>, with
    IGNORE_INDEX after <eos>."""
    batch_size, n_tokens = tokens.shape
    bos = torch.full((batch_size, 1), BOS_ID, dtype=tokens.dtype, device=tokens.device)
    inputs = torch.cat([bos, tokens], dim=1)  # (B, S + 1)
    targets = torch.cat([tokens, torch.zeros_like(bos)], dim=1)  # (B, S + 1)
    positions = torch.arange(n_tokens + 1, device=tokens.device)[None, :]  # (1, S + 1)
    targets = torch.where(positions == token_lengths[:, None], EOS_ID, targets)
    targets = torch.where(positions > token_lengths[:, None], IGNORE_INDEX, targets)
    return inputs, targets


def joint_loss(
    ctc_log_probs: torch.Tensor,
    out_lengths: torch.Tensor,
    logits: torch.Tensor,
    tokens: torch.Tensor,
    token_lengths: torch.Tensor,
    ctc_weight: float,
    label_smoothing: float,
) -> TransformerASROutput:
    """λ · CTC + (1 - λ) · CE. ctc_log_probs (B, T_out, V), out_lengths (B,), logits (B, S + 1, V)
    from decoder inputs <bos> y, tokens (B, S) y padded, token_lengths (B,).

    CTC is the mean over the batch of -log p(y | x) / |y| (torch's "mean"); the cross-entropy is the
    mean over the real target tokens (<eos> included), with label smoothing. Returns the loss,
    its two parts and the teacher-forced accuracy (argmax = target) as a TransformerASROutput.
    """
    ctc = F.ctc_loss(ctc_log_probs.float().transpose(0, 1), tokens, out_lengths, token_lengths,
                     blank=BLANK_ID, zero_infinity=True)  # fmt: skip
    _, targets = decoder_targets(tokens, token_lengths)  # (B, S + 1)
    attention = F.cross_entropy(logits.float().transpose(1, 2), targets, ignore_index=IGNORE_INDEX,
                                label_smoothing=label_smoothing)  # fmt: skip
    real = targets != IGNORE_INDEX
    accuracy = ((logits.argmax(-1) == targets) & real).sum() / real.sum().clamp_min(1)
    loss = ctc_weight * ctc + (1.0 - ctc_weight) * attention
    return TransformerASROutput(loss, ctc, attention, accuracy.detach())


class TransformerASR(nn.Module):
    """Log-mel frames -> characters: a Conformer (or Transformer) encoder, a CTC head on it, and an
    autoregressive Transformer decoder attending to it."""

    def __init__(self, config: TransformerASRConfig) -> None:
        super().__init__()
        self.config = config
        size, vocabulary_size = config.encoder.model_size, config.vocabulary_size
        self.front_end = ASRFrontEnd(config.mel, config.augment)
        self.encoder = SpeechEncoder(config.mel.n_mels, config.encoder)
        self.ctc_head = nn.Linear(size, vocabulary_size)
        decoder_config = TransformerConfig(size, config.decoder_heads, config.decoder_feedforward_size,
                                           config.decoder_dropout)  # fmt: skip
        self.embedding = nn.Embedding(vocabulary_size, size)
        nn.init.normal_(
            self.embedding.weight, std=size**-0.5
        )  # x sqrt(C) in decode: unit scale, like the positions
        self.positions = SinusoidalPositionalEncoding(size)
        self.decoder_dropout = nn.Dropout(config.decoder_dropout)
        self.decoder_layers = nn.ModuleList(TransformerDecoderLayer(decoder_config)
                                            for _ in range(config.decoder_layers))  # fmt: skip
        self.decoder_norm = nn.LayerNorm(size)
        self.classifier = nn.Linear(size, vocabulary_size)

    # --- encoder and CTC branch -------------------------------------------------------------
    def encode(
        self, features: torch.Tensor, lengths: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """features (B, T_mel, n_mels) log-mels, lengths (B,) -> memory (B, T_out, C), out_lengths (B,).

        Lesson 04's pipeline: training-mode warping and SpecAugment, per-utterance normalization,
        subsampling, sinusoidal positions, encoder blocks. Padding frames of memory are zeroed.
        """
        device = self.ctc_head.weight.device
        features, lengths = features.to(device), lengths.to(device)
        return self.encoder(self.front_end(features, lengths), lengths)

    def ctc_log_probs(self, memory: torch.Tensor) -> torch.Tensor:
        """memory (B, T_out, C) -> per-frame log-probabilities (B, T_out, V), blank = 0."""
        return F.log_softmax(self.ctc_head(memory), dim=-1)

    # --- decoder ----------------------------------------------------------------------------
    def new_cache(self) -> list[LayerCache]:
        """Empty KV caches, one (self, cross) pair per decoder layer, for one decoding run."""
        return [layer.new_cache() for layer in self.decoder_layers]

    def decode(
        self,
        tokens: torch.Tensor,
        memory: torch.Tensor,
        memory_lengths: torch.Tensor,
        cache: list[LayerCache] | None = None,
    ) -> torch.Tensor:
        """tokens (B, S) decoder inputs (<bos> first), memory (B, T_out, C), memory_lengths (B,)
        -> next-token logits (B, S, V), each from the tokens up to it (causal).

        With cache (from new_cache(), updated in place) pass only the NEW tokens: earlier steps'
        keys and values come from the cache and positions continue after them.
        """
        offset = 0 if cache is None else cache[0][0].length
        x = self.positions(
            self.embedding(tokens) * math.sqrt(memory.shape[-1]), offset
        )  # (B, S, C)
        x = self.decoder_dropout(x)
        memory_mask = padding_mask(memory_lengths.to(memory.device), memory.shape[1])  # (B, T_out)
        for index, layer in enumerate(self.decoder_layers):
            x = layer(x, memory, memory_mask, cache=None if cache is None else cache[index])
        return self.classifier(self.decoder_norm(x))  # (B, S, V)

    def decode_step(
        self,
        prefixes: torch.Tensor,
        memory: torch.Tensor,
        memory_lengths: torch.Tensor,
        cache: list[LayerCache] | None = None,
    ) -> torch.Tensor:
        """Log-probabilities (B, V) of the token after each prefix (B, S).

        With a cache, only the last token is run (the cache holds the others' keys/values);
        without, the whole prefix is recomputed. Both give the same numbers.
        """
        if cache is None:
            logits = self.decode(prefixes, memory, memory_lengths)[:, -1]
        else:
            logits = self.decode(prefixes[:, cache[0][0].length :], memory, memory_lengths, cache)[
                :, -1
            ]
        return F.log_softmax(logits.float(), dim=-1)  # (B, V)

    def forward(self, batch: dict) -> TransformerASROutput:
        """A collated batch: features (B, T_mel, n_mels), tokens (B, S) padded characters (no
        <bos>/<eos>) and their lengths -> joint_loss's TransformerASROutput (.loss and parts)."""
        memory, out_lengths = self.encode(batch["features"], batch["feature_lengths"])
        tokens, token_lengths = (
            batch["tokens"].to(memory.device),
            batch["token_lengths"].to(memory.device),
        )
        inputs, _ = decoder_targets(tokens, token_lengths)
        logits = self.decode(inputs, memory, out_lengths)  # (B, S + 1, V)
        return joint_loss(self.ctc_log_probs(memory), out_lengths, logits, tokens, token_lengths,
                          self.config.ctc_weight, self.config.label_smoothing)  # fmt: skip

    def max_length(self, out_length: int) -> int:
        """The decoding guard: characters allowed for an utterance of out_length encoder frames."""
        by_frames = int(math.ceil(self.config.max_tokens_per_frame * out_length)) + 1
        return max(1, min(self.config.max_output_length, by_frames))

    @torch.no_grad()
    def transcribe(
        self,
        features: torch.Tensor,
        lengths: torch.Tensor,
        beam_size: int = 1,
        ctc_weight: float = 0.0,
    ) -> list[Hypothesis]:
        """features (B, T_mel, n_mels), lengths (B,) -> one Hypothesis per utterance.

        beam_size 1: greedy_decode (KV cache); else the best of n_best by decoding.rank, with
        ctc_weight > 0 rescoring the n-best by the CTC head (joint decoding). Eval mode.
        """
        was_training = self.training
        self.eval()
        if beam_size == 1:
            hypotheses = [Hypothesis(tokens) for tokens in greedy_decode(self, features, lengths)]
        else:
            hypotheses = [decoding.rank(n_best, ctc_weight)[0][0]
                          for n_best in self.n_best(features, lengths, beam_size)]  # fmt: skip
        self.train(was_training)
        return hypotheses

    @torch.no_grad()
    def n_best(
        self,
        features: torch.Tensor,
        lengths: torch.Tensor,
        beam_size: int = 4,
        use_cache: bool = True,
    ) -> list[list[Hypothesis]]:
        """Beam search (decoding.beam_search) per utterance of the batch -> its finished hypotheses,
        each with log_prob (attention) and ctc_log_prob (the CTC head), for decoding.rank.

        The K live hypotheses of one utterance are a batch of K decoder rows; the KV cache rows
        are reordered to follow the surviving beams at every step. Eval mode.
        """
        was_training = self.training
        self.eval()
        memory, out_lengths = self.encode(features, lengths)
        ctc_log_probs = self.ctc_log_probs(memory)  # (B, T_out, V)
        results = []
        for b, out_length in enumerate(out_lengths.tolist()):
            hypotheses = self._beam_one(memory[b : b + 1, :out_length], beam_size, use_cache)
            ctc_scores = decoding.ctc_sequence_log_probs(
                ctc_log_probs[b], out_length, [h.tokens for h in hypotheses]
            )
            for hypothesis, ctc_score in zip(hypotheses, ctc_scores.tolist(), strict=True):
                hypothesis.ctc_log_prob = ctc_score
            results.append(hypotheses)
        self.train(was_training)
        return results

    def _beam_one(self, memory: torch.Tensor, beam_size: int, use_cache: bool) -> list[Hypothesis]:
        """decoding.beam_search for one utterance's memory (1, T_out, C); the state of the K live
        beams is (their prefixes (K, S) with <bos>, the KV cache with K rows or None)."""
        memory_length = torch.tensor([memory.shape[1]], device=memory.device)

        def step(previous: torch.Tensor, state: tuple) -> tuple[torch.Tensor, tuple]:
            prefixes, cache = state
            prefixes = torch.cat(
                [prefixes, previous[:, None].to(prefixes.device)], dim=1
            )  # (K, S + 1)
            count = len(prefixes)
            log_probs = self.decode_step(
                prefixes, memory.expand(count, -1, -1), memory_length.expand(count), cache
            )  # (K, V)
            return log_probs, (prefixes, cache)

        def select(state: tuple, rows: torch.Tensor) -> tuple:
            prefixes, cache = state
            rows = rows.to(prefixes.device)
            if cache is not None:
                for layer_cache in cache:  # (self, cross) per layer: keep the surviving beams' rows
                    for part in layer_cache:
                        part.select(rows)
            return prefixes[rows], cache

        start = (
            torch.zeros(1, 0, dtype=torch.long, device=memory.device),
            self.new_cache() if use_cache else None,
        )
        limit = self.max_length(memory.shape[1])
        return decoding.beam_search(step, select, start, beam_size, limit, BOS_ID, EOS_ID)


@torch.no_grad()
def greedy_decode(
    model: TransformerASR, features: torch.Tensor, lengths: torch.Tensor, use_cache: bool = True
) -> list[list[int]]:
    """Argmax decoding of a batch: features (B, T_mel, n_mels), lengths (B,) -> B lists of
    character ids (no <bos>/<eos>). Stops a row at <eos> or at model.max_length(T_out)."""
    memory, out_lengths = model.encode(features, lengths)
    batch_size, device = memory.shape[0], memory.device
    limits = torch.tensor([model.max_length(int(n)) for n in out_lengths], device=device)  # (B,)
    prefixes = torch.full((batch_size, 1), BOS_ID, dtype=torch.long, device=device)
    finished = torch.zeros(batch_size, dtype=torch.bool, device=device)
    cache = model.new_cache() if use_cache else None
    for step in range(int(limits.max())):
        next_tokens = model.decode_step(prefixes, memory, out_lengths, cache).argmax(-1)  # (B,)
        next_tokens = torch.where(finished, EOS_ID, next_tokens)
        prefixes = torch.cat([prefixes, next_tokens[:, None]], dim=1)
        finished |= (next_tokens == EOS_ID) | (step + 1 >= limits)
        if bool(finished.all()):
            break
    outputs = []
    for row, limit in zip(prefixes[:, 1:].tolist(), limits.tolist(), strict=True):
        row = row[:limit]
        outputs.append(row[: row.index(EOS_ID)] if EOS_ID in row else row)
    return outputs


def artifact_path(kind: str = "cpu") -> Path:
    """data/artifacts/transformer_asr.pt for cpu/gpu runs, transformer_asr_ci.pt for the ci run."""
    return checkpoint.artifact_path("transformer_asr", kind)


def load_pretrained(
    path: str | Path | None = None, device: str | torch.device = "cpu"
) -> TransformerASR:
    """The recognizer lesson 06 trained, in eval mode, built from the config in its checkpoint.

    path=None takes the cpu/gpu run's artifact if it exists, else the ci run's; raises
    FileNotFoundError naming lesson 06 when neither exists.
    """
    return checkpoint.load_pretrained(
        "transformer_asr",
        TransformerASR,
        TransformerASRConfig,
        TRAIN_HINT,
        path=path,
        device=device,
    )
