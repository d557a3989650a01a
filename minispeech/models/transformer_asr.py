"""An attention encoder-decoder recognizer with a CTC head, trained on the joint CTC/attention loss.

TransformerASRConfig  frozen config; TransformerASRConfig.preset("ci" | "cpu" | "gpu")
TransformerASR        encode, ctc_log_probs, decode (teacher forcing), decode_step (KV cache),
                      forward(features, lengths, tokens, token_lengths) -> named losses
joint_loss            λ · CTC + (1 - λ) · label-smoothed cross-entropy (Watanabe et al., 2017)
decoder_targets       <bos> + y as decoder input, y + <eos> as target (padding ignored)
greedy_decode         batched argmax decoding, with or without the KV cache (same outputs)
n_best                beam search for one utterance: K hypotheses batched, KV cache reordered per
                      step; each finished hypothesis with its attention and CTC scores
rank                  order the n-best by attention score per token, or by CTC rescoring
beam_search           the best of n_best by rank (optionally CTC-rescored: joint decoding)
artifact_path         where lesson 06 saves the trained model (one file per profile kind)
load_pretrained       the model lesson 06 trained, ready for inference (eval mode)

The pipeline, top to bottom (ESPnet's joint CTC/attention recognizer, small):
    log-mel (B, T_mel, n_mels) -> lesson 04's input pipeline and Conformer encoder
    (warp, normalize, SpecAugment, strided Conv1d, sinusoidal positions, blocks) -> memory (B, T_out, C)
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

import torch
import torch.nn.functional as F
from torch import nn

from minispeech.models import ctc_asr
from minispeech.models.ctc_asr import (
    CTCASRConfig,
    frame_mask,
    normalize_features,
    spec_augment_batch,
    warp_frequencies,
)
from minispeech.nn.transformer import (
    KeyValueCache,
    SinusoidalPositionalEncoding,
    TransformerConfig,
    TransformerDecoderLayer,
    TransformerEncoderLayer,
)

BLANK_ID, BOS_ID, EOS_ID = 0, 1, 2  # the characters() table: <pad> doubles as the CTC blank
IGNORE_INDEX = -100  # target positions the cross-entropy skips (padding after <eos>)
TRAIN_HINT = (
    "run lessons/06_transformer.ipynb (its training section trains and saves the recognizer)"
)
LayerCache = tuple[KeyValueCache, KeyValueCache]  # (self-attention, cross-attention) of one layer


@dataclasses.dataclass(frozen=True)
class TransformerASRConfig:
    encoder: CTCASRConfig = CTCASRConfig()  # lesson 04's front end, augmentation and encoder sizes
    encoder_kind: str = (
        "conformer"  # "conformer" (lesson 04's blocks) or "transformer" (pre-LN layers)
    )
    decoder_layers: int = 2
    decoder_heads: int = 4
    decoder_feedforward_size: int = 576
    decoder_dropout: float = 0.1
    ctc_weight: float = 0.3  # λ of the joint loss (ESPnet's mtlalpha)
    label_smoothing: float = 0.1  # on the attention cross-entropy
    max_output_length: int = 300  # decoding guard: at most this many characters
    max_tokens_per_frame: float = 0.7  # guard, per encoder frame (eSpeak: <= 0.56 at 43/s)

    def __post_init__(self) -> None:
        if self.encoder_kind not in ("conformer", "transformer"):
            raise ValueError(f"TransformerASRConfig: encoder_kind must be 'conformer' or 'transformer', "
                             f"got {self.encoder_kind!r}")  # fmt: skip
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
            "ci": lambda: cls(encoder=CTCASRConfig.preset("ci"), decoder_layers=1, decoder_heads=2,
                              decoder_feedforward_size=128),
            "cpu": lambda: cls(encoder=CTCASRConfig.preset("cpu")),
            "gpu": lambda: cls(encoder=CTCASRConfig.preset("gpu"), decoder_layers=6,
                               decoder_feedforward_size=2048),
        }  # fmt: skip
        if profile not in presets:
            raise ValueError(
                f"TransformerASRConfig.preset: unknown profile {profile!r}; choose one of {sorted(presets)}"
            )
        return presets[profile]()


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
) -> dict[str, torch.Tensor]:
    """λ · CTC + (1 - λ) · CE. ctc_log_probs (B, T_out, V), out_lengths (B,), logits (B, S + 1, V)
    from decoder inputs <bos> y, tokens (B, S) y padded, token_lengths (B,).

    CTC is the mean over the batch of -log p(y | x) / |y| (torch's "mean"); the cross-entropy is the
    mean over the real target tokens (<eos> included), with label smoothing. Returns {"loss",
    "ctc_loss", "attention_loss", "accuracy"} (accuracy: argmax = target, teacher-forced).
    """
    ctc = F.ctc_loss(ctc_log_probs.float().transpose(0, 1), tokens, out_lengths, token_lengths,
                     blank=BLANK_ID, zero_infinity=True)  # fmt: skip
    _, targets = decoder_targets(tokens, token_lengths)  # (B, S + 1)
    attention = F.cross_entropy(logits.float().transpose(1, 2), targets, ignore_index=IGNORE_INDEX,
                                label_smoothing=label_smoothing)  # fmt: skip
    real = targets != IGNORE_INDEX
    accuracy = ((logits.argmax(-1) == targets) & real).sum() / real.sum().clamp_min(1)
    loss = ctc_weight * ctc + (1.0 - ctc_weight) * attention
    return {
        "loss": loss,
        "ctc_loss": ctc,
        "attention_loss": attention,
        "accuracy": accuracy.detach(),
    }


class TransformerASR(nn.Module):
    """Log-mel frames -> characters: a Conformer (or Transformer) encoder, a CTC head on it, and an
    autoregressive Transformer decoder attending to it."""

    def __init__(self, config: TransformerASRConfig) -> None:
        super().__init__()
        self.config = config
        encoder, size = config.encoder, config.encoder.model_size
        self.subsampling = ctc_asr.ConvSubsampling(encoder)
        if config.encoder_kind == "conformer":
            self.encoder_blocks = nn.ModuleList(
                ctc_asr.ConformerBlock(encoder) for _ in range(encoder.n_layers)
            )
            self.encoder_norm = nn.Identity()  # each Conformer block ends with a LayerNorm
        else:
            layer_config = TransformerConfig(
                size, encoder.n_heads, encoder.feedforward_size, encoder.dropout
            )
            self.encoder_blocks = nn.ModuleList(
                TransformerEncoderLayer(layer_config) for _ in range(encoder.n_layers)
            )
            self.encoder_norm = nn.LayerNorm(size)  # pre-LN stacks need a final norm
        self.encoder_dropout = nn.Dropout(encoder.dropout)
        self.ctc_head = nn.Linear(size, encoder.vocabulary_size)
        decoder_config = TransformerConfig(size, config.decoder_heads, config.decoder_feedforward_size,
                                           config.decoder_dropout)  # fmt: skip
        self.embedding = nn.Embedding(encoder.vocabulary_size, size)
        nn.init.normal_(
            self.embedding.weight, std=size**-0.5
        )  # x sqrt(C) in decode: unit scale, like the positions
        self.positions = SinusoidalPositionalEncoding(size)
        self.decoder_dropout = nn.Dropout(config.decoder_dropout)
        self.decoder_layers = nn.ModuleList(TransformerDecoderLayer(decoder_config)
                                            for _ in range(config.decoder_layers))  # fmt: skip
        self.decoder_norm = nn.LayerNorm(size)
        self.classifier = nn.Linear(size, encoder.vocabulary_size)

    # --- encoder and CTC branch -------------------------------------------------------------
    def encode(
        self, features: torch.Tensor, lengths: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """features (B, T_mel, n_mels) log-mels, lengths (B,) -> memory (B, T_out, C), out_lengths (B,).

        Lesson 04's pipeline: training-mode warping and SpecAugment, per-utterance normalization,
        subsampling, sinusoidal positions, encoder blocks. Padding frames of memory are zeroed.
        """
        n_mels = self.config.encoder.mel.n_mels
        if features.dim() != 3 or features.shape[2] != n_mels:
            raise ValueError(f"TransformerASR: features must be (B, T_mel, n_mels = {n_mels}) log-mels, "
                             f"got shape {tuple(features.shape)}")  # fmt: skip
        lengths = lengths.to(features.device)
        if self.training and self.config.encoder.warp_range > 0:
            features = warp_frequencies(features, self.config.encoder)
        x = normalize_features(features, lengths)  # (B, T_mel, n_mels)
        if self.training:
            x = spec_augment_batch(x, lengths, self.config.encoder)
        x, out_lengths = self.subsampling(x, lengths)  # (B, T_out, C)
        x = self.encoder_dropout(
            x + ctc_asr.sinusoidal_positions(x.shape[1], x.shape[2]).to(x)[None]
        )
        mask = frame_mask(out_lengths, x.shape[1])  # (B, T_out)
        for block in self.encoder_blocks:
            x = block(x, mask)
        return self.encoder_norm(x) * mask[:, :, None], out_lengths

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
        memory_mask = frame_mask(memory_lengths.to(memory.device), memory.shape[1])  # (B, T_out)
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

    def forward(
        self,
        features: torch.Tensor,
        lengths: torch.Tensor,
        tokens: torch.Tensor,
        token_lengths: torch.Tensor,
    ) -> dict[str, torch.Tensor]:
        """features (B, T_mel, n_mels), lengths (B,), tokens (B, S) padded characters (no <bos>/<eos>),
        token_lengths (B,) -> joint_loss's dict {"loss", "ctc_loss", "attention_loss", "accuracy"}."""
        memory, out_lengths = self.encode(features, lengths)
        tokens, token_lengths = tokens.to(memory.device), token_lengths.to(memory.device)
        inputs, _ = decoder_targets(tokens, token_lengths)
        logits = self.decode(inputs, memory, out_lengths)  # (B, S + 1, V)
        return joint_loss(self.ctc_log_probs(memory), out_lengths, logits, tokens, token_lengths,
                          self.config.ctc_weight, self.config.label_smoothing)  # fmt: skip

    def max_length(self, out_length: int) -> int:
        """The decoding guard: characters allowed for an utterance of out_length encoder frames."""
        by_frames = int(math.ceil(self.config.max_tokens_per_frame * out_length)) + 1
        return max(1, min(self.config.max_output_length, by_frames))


def _reorder(cache: list[LayerCache], order: torch.Tensor) -> None:
    """Keep rows `order` (K',) of every cached key/value tensor (B, H, T, D), in place."""
    for layer_cache in cache:
        for part in layer_cache:
            if part.keys is not None:
                part.keys, part.values = (
                    part.keys.index_select(0, order),
                    part.values.index_select(0, order),
                )


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


def ctc_sequence_log_probs(
    ctc_log_probs: torch.Tensor, out_length: int, hypotheses: list[list[int]]
) -> torch.Tensor:
    """log p_CTC(y | x) (K,) of each hypothesis y under one utterance's ctc_log_probs (T_out, V)."""
    count = len(hypotheses)
    lengths = torch.tensor([len(h) for h in hypotheses])
    targets = torch.zeros(count, max(1, int(lengths.max())), dtype=torch.long)
    for index, hypothesis in enumerate(hypotheses):
        targets[index, : len(hypothesis)] = torch.tensor(hypothesis, dtype=torch.long)
    log_probs = (
        ctc_log_probs[:out_length, None, :].float().cpu().expand(-1, count, -1)
    )  # (T_out, K, V)
    negative = F.ctc_loss(log_probs, targets, torch.full((count,), out_length), lengths,
                          blank=BLANK_ID, reduction="none", zero_infinity=False)  # fmt: skip
    return -negative  # -inf where a hypothesis cannot fit in T_out frames


@dataclasses.dataclass
class Hypothesis:
    tokens: list[int]  # character ids, without <bos> and <eos>
    attention_score: float  # log p_att(tokens, <eos> | x); without <eos> if the length guard cut it
    ctc_score: float  # log p_CTC(tokens | x), all alignments summed; -inf if it cannot fit


@torch.no_grad()
def n_best(
    model: TransformerASR, features: torch.Tensor, beam_size: int = 4, use_cache: bool = True
) -> list[Hypothesis]:
    """Beam search for ONE utterance, features (T_mel, n_mels) -> its finished hypotheses.

    The K hypotheses are a batch of K rows; each step scores K x V extensions by the sum of
    attention log-probabilities, keeps the best K, and reorders the KV cache rows to follow them.
    A hypothesis that emits <eos> is finished and leaves the beam, which the next step refills
    to K from the live ones; the search stops once K hypotheses have finished or at
    model.max_length(T_out). Each finished one also gets its CTC score, for rank(..., ctc_weight).
    """
    if features.dim() != 2:
        raise ValueError(
            f"beam_search: features must be one utterance (T_mel, n_mels), got {tuple(features.shape)}"
        )
    if beam_size < 1:
        raise ValueError(f"beam_search: beam_size must be >= 1, got {beam_size}")
    device = next(model.parameters()).device
    memory, out_lengths = model.encode(
        features[None].to(device), torch.tensor([features.shape[0]], device=device)
    )
    out_length, limit = int(out_lengths[0]), model.max_length(int(out_lengths[0]))
    prefixes = torch.full((1, 1), BOS_ID, dtype=torch.long, device=device)  # (K, S), K = 1 at first
    scores = torch.zeros(1, device=device)  # (K,) summed attention log-probabilities
    cache = model.new_cache() if use_cache else None
    finished: list[tuple[list[int], float]] = []
    for step in range(limit):
        count = prefixes.shape[0]
        log_probs = model.decode_step(
            prefixes, memory.expand(count, -1, -1), out_lengths.expand(count), cache
        )
        candidates = (scores[:, None] + log_probs).flatten()  # (K * V,)
        best_scores, best = candidates.topk(min(beam_size, candidates.numel()))
        rows, tokens = best // log_probs.shape[1], best % log_probs.shape[1]
        ended = (tokens == EOS_ID) | (step + 1 >= limit)
        for row, token, score, end in zip(
            rows.tolist(), tokens.tolist(), best_scores.tolist(), ended.tolist(), strict=True
        ):
            if end:
                hypothesis = prefixes[row, 1:].tolist() + ([] if token == EOS_ID else [token])
                finished.append((hypothesis, score))
        alive = ~ended
        if len(finished) >= beam_size or not bool(alive.any()):
            break
        rows, tokens, scores = rows[alive], tokens[alive], best_scores[alive]
        prefixes = torch.cat([prefixes[rows], tokens[:, None]], dim=1)
        if cache is not None:
            _reorder(cache, rows)
    hypotheses = [tokens for tokens, _ in finished]
    ctc_scores = ctc_sequence_log_probs(model.ctc_log_probs(memory)[0], out_length, hypotheses)
    return [
        Hypothesis(tokens, score, float(ctc))
        for (tokens, score), ctc in zip(finished, ctc_scores.tolist(), strict=True)
    ]


def rank(hypotheses: list[Hypothesis], ctc_weight: float = 0.0) -> list[tuple[Hypothesis, float]]:
    """(hypothesis, score) best first. ctc_weight w = 0: the attention log-probability per token
    (<eos> counted), else (1 - w) log p_att + w log p_CTC: CTC rescoring of the n-best, a cheap
    form of ESPnet's joint decoding (Watanabe et al., 2017, score every prefix with CTC)."""
    if ctc_weight > 0:
        scores = [
            (1 - ctc_weight) * h.attention_score + ctc_weight * h.ctc_score for h in hypotheses
        ]
    else:
        scores = [h.attention_score / (len(h.tokens) + 1.0) for h in hypotheses]
    order = sorted(range(len(hypotheses)), key=lambda i: scores[i], reverse=True)
    return [(hypotheses[i], scores[i]) for i in order]


def beam_search(
    model: TransformerASR,
    features: torch.Tensor,
    beam_size: int = 4,
    ctc_weight: float = 0.0,
    use_cache: bool = True,
) -> list[int]:
    """The best hypothesis of n_best(model, features, beam_size) by rank(..., ctc_weight):
    one utterance (T_mel, n_mels) -> character ids (no <bos>/<eos>)."""
    return rank(n_best(model, features, beam_size, use_cache), ctc_weight)[0][0].tokens


def artifact_path(kind: str = "cpu") -> Path:
    """data/artifacts/transformer_asr.pt for cpu/gpu runs, transformer_asr_ci.pt for the ci run."""
    from minispeech.train import artifact_path as artifact_path_for

    return artifact_path_for("transformer_asr", kind)


def load_pretrained(path: str | Path | None = None, device: str | torch.device = "cpu") -> TransformerASR:
    """The recognizer lesson 06 trained, in eval mode, built from the config in its checkpoint.

    path=None takes the cpu/gpu run's artifact if it exists, else the ci run's; raises
    FileNotFoundError naming lesson 06 when neither exists.
    """
    from minispeech.train import load_trained

    return load_trained("transformer_asr", TransformerASR, TransformerASRConfig, TRAIN_HINT, path=path, device=device)
