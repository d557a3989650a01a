"""VALL-E (Wang et al., 2023) at laptop size: text-to-speech as language modelling over codec tokens.

VALLEConfig        frozen: the codec's codebooks (K x V), the Transformers' sizes, the generation guards;
                   .preset("ci" | "cpu" | "gpu")
ARBatch, ar_batch  phonemes, prompt and target first-codebook codes -> the autoregressive model's inputs,
                   segments, positions, labels and attention mask (one sequence per row, padded at the end)
ar_attention_mask  the prefix mask across the three segments (exercise in lesson 12)
filter_logits      top-k and top-p (nucleus) filtering of logits (exercise in lesson 12)
sample_logits      temperature, then filter_logits, then one draw (temperature 0: the argmax)
AutoregressiveModel     a decoder-only Transformer over [phonemes ; <bos> prompt ; target] predicting the
                   target's first codebook and an end token; KV-cache generation with guards
NonAutoregressiveModel  predicts codebook k of the target at once from the phonemes, the prompt's K codebooks
                   and the target's codebooks < k, with a stage embedding (exercise: the stage input)
VALLE              both, saved together; generate(tokens, prompt_codes) -> codes (K, N) and what stopped it
synthesize         text + a prompt waveform + a codec -> a waveform in the prompt's voice (named errors)
artifact_path, load_pretrained  where lesson 12 saves the model; it, in eval mode

The autoregressive (AR) sequence of one utterance, T phonemes, P prompt frames, N target frames:
    position  0 .. T-1        T        T+1 .. T+P       T+P+1 .. T+P+N
    token     p_1 .. p_T    <bos>     a_1 .. a_P       b_1 .. b_N           (a, b: first-codebook codes)
    segment   text          prompt    prompt           target
    label     -             (b_1 if P = 0)   ... a_P -> b_1,  b_i -> b_{i+1},  b_N -> <end>
Each position predicts the next audio token; only the target's tokens and <end> are learnt (the prompt is given).
Phoneme positions count from 0 in the text, audio positions from 0 at <bos>; a segment embedding (text, prompt,
target) tells them apart. Mask (prefix language model): a text position reads every text position; an audio
position reads every text position and the audio positions up to itself; nothing reads padding
(a padding position reads only itself).
Audio ids: 0..V-1 codes, V = <end>, V+1 = <bos>; the AR head predicts V+1 classes (codes and <end>).

The non-autoregressive (NAR) model, stage k = 1..K-1 (codebook k+1 in the paper's 1-based count):
    [phonemes ; prompt frames ; target frames], prompt frame = sum over all K codebooks of e_c(code),
    target frame = sum over codebooks c < k of e_c(code), plus the stage embedding s_k everywhere;
    bidirectional attention (padding masked); the stage's head predicts codebook k at every target frame.
Generation: the AR model samples the first codebook until <end> (or a guard), then K-1 NAR passes fill the rest.
Guards: a generation stops at max_frames_per_phoneme x T frames ("length") or when one code repeats
max_repeats times in a row ("repetition"); the lesson counts how often each fires.
Shapes   B batch, L padded sequence length, C model_size, T phonemes, P prompt frames, N target frames,
         K codebooks, V codes per codebook.
Departures  the paper's 12-layer, 1024-wide Transformers trained on 60,000 hours; ours train for minutes on
         eSpeak's voices. VALL-E's NAR reads the prompt through its own segment like here; its text and audio
         positions are sinusoidal like here; it samples the AR with top-p (here: any of temperature/top-k/top-p).
Taught in lessons/12_valle.ipynb.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from minispeech import checkpoint, profiles
from minispeech.nn.transformer import (
    KeyValueCache,
    SinusoidalPositionalEncoding,
    TransformerConfig,
    TransformerEncoderLayer,
)

TRAIN_HINT = "run lessons/12_valle.ipynb (its training section trains and saves VALL-E)"
TEXT, PROMPT, TARGET, PAD = 0, 1, 2, 3  # segment ids
IGNORE = -100  # labels that take no part in the loss (F.cross_entropy's ignore_index)


@dataclasses.dataclass(frozen=True)
class VALLEConfig:
    n_phonemes: int = 124  # the TTS token table's size, len(data.tts_tokens.TTS_SYMBOLS)
    codebook_size: int = 256  # V: the codec's
    n_codebooks: int = 8  # K: the codec's
    model_size: int = 256  # C
    n_heads: int = 4
    feedforward_size: int = 1024
    ar_layers: int = 4
    nar_layers: int = 4
    dropout: float = 0.1
    max_frames_per_phoneme: float = 20.0  # the length guard: at most this many frames per phoneme
    max_repeats: int = 40  # the repetition guard: one code this many times in a row stops generation

    def __post_init__(self) -> None:
        sizes = (self.n_phonemes, self.codebook_size, self.n_codebooks, self.ar_layers, self.nar_layers,
                 self.max_repeats)  # fmt: skip
        if min(sizes) < 1 or self.codebook_size < 2 or self.n_codebooks < 2:
            raise ValueError(f"VALLEConfig: need sizes >= 1, codebook_size >= 2 and n_codebooks >= 2 (the NAR "
                             f"model fills codebooks 2..K), got {sizes}")  # fmt: skip
        if self.model_size % self.n_heads or not 0 <= self.dropout < 1 or self.max_frames_per_phoneme <= 0:
            raise ValueError(f"VALLEConfig: need model_size a multiple of n_heads, dropout in [0, 1) and "
                             f"max_frames_per_phoneme > 0, got {self.model_size}, {self.n_heads}, {self.dropout}, "
                             f"{self.max_frames_per_phoneme}")  # fmt: skip

    @property
    def end_id(self) -> int:
        return self.codebook_size

    @property
    def bos_id(self) -> int:
        return self.codebook_size + 1

    def transformer(self) -> TransformerConfig:
        return TransformerConfig(model_size=self.model_size, n_heads=self.n_heads,
                                 feedforward_size=self.feedforward_size, dropout=self.dropout)  # fmt: skip

    @classmethod
    def preset(cls, profile: str, n_phonemes: int = 124, codebook_size: int = 256, n_codebooks: int = 8) -> VALLEConfig:
        """ci: seconds (C = 32, one layer each); cpu: C = 128, 3 + 3 layers (about 1.0 M parameters: C = 256
        with 4 + 4 layers, 7.5 M, took 10 s a step of 16 utterances on 2 cores); gpu: C = 512, 8 heads, 12 + 12
        layers. The codebooks follow the codec (lesson 11's preset)."""
        codec = {"n_phonemes": n_phonemes, "codebook_size": codebook_size, "n_codebooks": n_codebooks}
        presets = {
            "ci": cls(model_size=32, n_heads=2, feedforward_size=64, ar_layers=1, nar_layers=1, **codec),
            "cpu": cls(model_size=128, n_heads=4, feedforward_size=512, ar_layers=3, nar_layers=3, **codec),
            "gpu": cls(model_size=512, n_heads=8, feedforward_size=2048, ar_layers=12, nar_layers=12, **codec),
        }
        return profiles.pick(presets, profile)


# --- the autoregressive sequence -----------------------------------------------------------------


class ARBatch(NamedTuple):
    text: torch.Tensor  # (B, L) phoneme ids on text positions, 0 elsewhere
    audio: torch.Tensor  # (B, L) audio ids (codes, <bos>) on audio positions, 0 elsewhere
    segments: torch.Tensor  # (B, L) TEXT, PROMPT, TARGET or PAD
    positions: torch.Tensor  # (B, L) position within the text, or within the audio (0 at <bos>)
    labels: torch.Tensor  # (B, L) the next audio token to predict, IGNORE where nothing is learnt
    mask: torch.Tensor  # (B, L, L) bool keep: query position reads key position
    lengths: torch.Tensor  # (B,) real positions (T + 1 + P + N)

    def to(self, device: torch.device | str) -> ARBatch:
        """Every tensor on `device`."""
        return ARBatch(*(tensor.to(device) for tensor in self))


def ar_attention_mask(text_lengths: torch.Tensor, audio_lengths: torch.Tensor, length: int) -> torch.Tensor:
    """text_lengths (B,) T, audio_lengths (B,) 1 + P + N -> (B, L, L) keep, L = length: the prefix mask.

    A text position reads every text position; an audio position reads every text position and the audio
    positions up to itself; padding (past T + 1 + P + N) is read by no one and reads only itself (a row
    with no key at all would make the attention's softmax 0 / 0). Lesson 12.
    """
    index = torch.arange(length, device=text_lengths.device)  # (L,)
    text = index[None, :] < text_lengths[:, None]  # (B, L)
    real = index[None, :] < (text_lengths + audio_lengths)[:, None]  # (B, L)
    audio = real & ~text
    causal = index[None, :, None] >= index[None, None, :]  # (1, L, L): key <= query
    reads_text = real[:, :, None] & text[:, None, :]  # any real query reads the text
    reads_audio = audio[:, :, None] & audio[:, None, :] & causal  # audio reads earlier audio
    padding_itself = ~real[:, :, None] & torch.eye(length, dtype=torch.bool, device=index.device)  # no empty row
    return reads_text | reads_audio | padding_itself


def ar_batch(phonemes: list[torch.Tensor], prompts: list[torch.Tensor], targets: list[torch.Tensor],
             config: VALLEConfig) -> ARBatch:  # fmt: skip
    """One row per utterance: phonemes (T,), prompt first-codebook codes (P,) (P may be 0), target codes (N,)
    (N may be 0 at generation) -> ARBatch (module doc for the layout). Rows are padded at the end."""
    if not (len(phonemes) == len(prompts) == len(targets)) or not phonemes:
        raise ValueError(f"ar_batch: need as many phoneme, prompt and target sequences (at least one), got "
                         f"{len(phonemes)}, {len(prompts)}, {len(targets)}")  # fmt: skip
    lengths = [len(p) + 1 + len(a) + len(b) for p, a, b in zip(phonemes, prompts, targets, strict=True)]
    batch_size, length = len(phonemes), max(lengths)
    text = torch.zeros(batch_size, length, dtype=torch.int64)
    audio = torch.zeros(batch_size, length, dtype=torch.int64)
    segments = torch.full((batch_size, length), PAD, dtype=torch.int64)
    positions = torch.zeros(batch_size, length, dtype=torch.int64)
    labels = torch.full((batch_size, length), IGNORE, dtype=torch.int64)
    for row, (phoneme_ids, prompt, target) in enumerate(zip(phonemes, prompts, targets, strict=True)):
        n_text, n_prompt, n_target = len(phoneme_ids), len(prompt), len(target)
        if n_text == 0:
            raise ValueError(f"ar_batch: row {row} has no phonemes; VALL-E needs text to speak")
        text[row, :n_text] = phoneme_ids
        segments[row, :n_text] = TEXT
        positions[row, :n_text] = torch.arange(n_text)
        sequence = torch.cat([torch.tensor([config.bos_id]), prompt.long(), target.long()])  # (1 + P + N,)
        start = n_text
        audio[row, start : start + len(sequence)] = sequence
        segments[row, start : start + 1 + n_prompt] = PROMPT
        segments[row, start + 1 + n_prompt : start + len(sequence)] = TARGET
        positions[row, start : start + len(sequence)] = torch.arange(len(sequence))
        # the last prompt position (<bos> when P = 0) predicts b_1, ..., b_N predicts <end>
        next_tokens = torch.cat([target.long(), torch.tensor([config.end_id])])  # (N + 1,)
        first = start + n_prompt  # the position of a_P (or of <bos>)
        labels[row, first : first + n_target + 1] = next_tokens
    lengths_tensor = torch.tensor(lengths)
    text_lengths = torch.tensor([len(p) for p in phonemes])
    mask = ar_attention_mask(text_lengths, lengths_tensor - text_lengths, length)
    return ARBatch(text, audio, segments, positions, labels, mask, lengths_tensor)


# --- sampling -----------------------------------------------------------------------------------


def filter_logits(logits: torch.Tensor, top_k: int | None = None, top_p: float | None = None) -> torch.Tensor:
    """logits (B, V) -> the same with -inf outside the allowed ids. Lesson 12.

    top_k keeps the k largest (ties at the k-th value kept); top_p keeps the smallest set of most likely ids
    whose probabilities (softmax of these logits, after top_k) sum to at least p: an id stays when the
    probability ranked strictly above it sums to less than p, so the most likely id always stays.
    """
    if top_k is not None and top_k < logits.shape[-1]:
        kth = torch.topk(logits, top_k, dim=-1).values[:, -1:]  # (B, 1)
        logits = logits.masked_fill(logits < kth, float("-inf"))
    if top_p is not None and top_p < 1:
        sorted_logits, order = torch.sort(logits, dim=-1, descending=True)
        probabilities = sorted_logits.softmax(dim=-1)
        before = probabilities.cumsum(dim=-1) - probabilities  # mass of the ids ranked above each one
        drop = torch.zeros_like(before, dtype=torch.bool).scatter(-1, order, before >= top_p)
        logits = logits.masked_fill(drop, float("-inf"))
    return logits


def sample_logits(logits: torch.Tensor, temperature: float = 1.0, top_k: int | None = None,
                  top_p: float | None = None, generator: torch.Generator | None = None) -> torch.Tensor:  # fmt: skip
    """logits (B, V) -> sampled ids (B,) int64: temperature 0 takes the argmax; otherwise the logits are
    divided by the temperature, filtered (filter_logits: top_k, then top_p) and one id is drawn."""
    if logits.dim() != 2:
        raise ValueError(f"sample_logits: logits must be (B, V), got {tuple(logits.shape)}")
    if temperature < 0 or (top_k is not None and top_k < 1) or (top_p is not None and not 0 < top_p <= 1):
        raise ValueError(f"sample_logits: need temperature >= 0, top_k >= 1 and top_p in (0, 1], got "
                         f"{temperature}, {top_k}, {top_p}")  # fmt: skip
    if temperature == 0:
        return logits.argmax(dim=-1)
    filtered = filter_logits(logits.float() / temperature, top_k, top_p)
    return torch.multinomial(filtered.softmax(dim=-1), 1, generator=generator)[:, 0]


# --- the models ---------------------------------------------------------------------------------


class GenerationResult(NamedTuple):
    codes: torch.Tensor  # (K, N) int64: the generated target's codes, every codebook
    stopped_by: str  # "end" (the model said so), "length" or "repetition" (a guard)
    ar_seconds: float  # time in the autoregressive loop
    nar_seconds: float  # time in the K - 1 non-autoregressive passes


class AutoregressiveModel(nn.Module):
    """[phonemes ; <bos> prompt ; target] -> logits (B, L, V + 1) of the next first-codebook token or <end>."""

    def __init__(self, config: VALLEConfig) -> None:
        super().__init__()
        self.config = config
        self.text_embedding = nn.Embedding(config.n_phonemes, config.model_size)
        self.audio_embedding = nn.Embedding(config.codebook_size + 2, config.model_size)  # codes, <end>, <bos>
        self.segment_embedding = nn.Embedding(4, config.model_size)
        self.positions = SinusoidalPositionalEncoding(config.model_size)
        self.layers = nn.ModuleList(TransformerEncoderLayer(config.transformer()) for _ in range(config.ar_layers))
        self.norm = nn.LayerNorm(config.model_size)
        self.head = nn.Linear(config.model_size, config.codebook_size + 1)

    def embed(self, text: torch.Tensor, audio: torch.Tensor, segments: torch.Tensor,
              positions: torch.Tensor) -> torch.Tensor:  # fmt: skip
        """(B, L) each -> (B, L, C): the text or the audio embedding, its segment's position, the segment."""
        is_text = (segments == TEXT)[:, :, None]
        tokens = torch.where(is_text, self.text_embedding(text), self.audio_embedding(audio))  # (B, L, C)
        table = self.positions.table(int(positions.max()) + 1, device=text.device)  # (max + 1, C)
        return tokens + table[positions] + self.segment_embedding(segments)

    def forward(self, batch: ARBatch, caches: list[KeyValueCache] | None = None,
                key_mask: torch.Tensor | None = None) -> torch.Tensor:  # fmt: skip
        """-> logits (B, L, V + 1). With caches (one per layer, updated in place), batch holds only the new
        positions and batch.mask covers the cached ones too (B, L_new, L_cached + L_new)."""
        x = self.embed(batch.text, batch.audio, batch.segments, batch.positions)  # (B, L, C)
        for index, layer in enumerate(self.layers):
            x = layer(x, key_mask, attention_mask=batch.mask, cache=None if caches is None else caches[index])
        return self.head(self.norm(x))

    def loss(self, batch: ARBatch) -> torch.Tensor:
        """Cross-entropy of the target's tokens and <end> (the labelled positions)."""
        logits = self(batch)  # (B, L, V + 1)
        return F.cross_entropy(logits.transpose(1, 2), batch.labels, ignore_index=IGNORE)

    @torch.no_grad()
    def generate(self, phonemes: torch.Tensor, prompt: torch.Tensor, temperature: float = 1.0,
                 top_k: int | None = None, top_p: float | None = None, generator: torch.Generator | None = None,
                 use_cache: bool = True) -> tuple[torch.Tensor, str]:  # fmt: skip
        """phonemes (T,), prompt (P,) first-codebook codes -> (target codes (N,), what stopped it).

        With use_cache the prefix runs once and each new token is one position through the cached layers;
        without, the whole sequence is recomputed at every step (the same numbers, the test of the cache).
        """
        config = self.config
        longest = max(1, int(config.max_frames_per_phoneme * len(phonemes)))
        target: list[int] = []
        caches = [KeyValueCache() for _ in self.layers] if use_cache else None
        batch = ar_batch([phonemes.cpu()], [prompt.cpu()], [torch.zeros(0, dtype=torch.int64)], config)
        logits = self(batch.to(phonemes.device), caches)[:, -1]  # (1, V + 1): the prediction after the prompt
        while True:
            token = int(sample_logits(logits, temperature, top_k, top_p, generator)[0])
            if token == config.end_id:
                return torch.tensor(target, dtype=torch.int64), "end"
            target.append(token)
            if len(target) >= config.max_repeats and len(set(target[-config.max_repeats :])) == 1:
                return torch.tensor(target, dtype=torch.int64), "repetition"
            if len(target) >= longest:
                return torch.tensor(target, dtype=torch.int64), "length"
            if caches is None:
                batch = ar_batch([phonemes.cpu()], [prompt.cpu()], [torch.tensor(target)], config)
                logits = self(batch.to(phonemes.device))[:, -1]
                continue
            length = len(phonemes) + 1 + len(prompt) + len(target)
            step = ARBatch(text=torch.zeros(1, 1, dtype=torch.int64), audio=torch.tensor([[token]]),
                           segments=torch.tensor([[TARGET]]), positions=torch.tensor([[length - 1 - len(phonemes)]]),
                           labels=torch.full((1, 1), IGNORE), mask=torch.ones(1, 1, length, dtype=torch.bool),
                           lengths=torch.tensor([length]))  # fmt: skip
            logits = self(step.to(phonemes.device), caches)[:, -1]


class NonAutoregressiveModel(nn.Module):
    """Stage k = 1..K-1: [phonemes ; prompt (all K codebooks) ; target (codebooks < k)] -> logits (B, N, V)
    of the target's codebook k."""

    def __init__(self, config: VALLEConfig) -> None:
        super().__init__()
        self.config = config
        self.text_embedding = nn.Embedding(config.n_phonemes, config.model_size)
        self.code_embeddings = nn.ModuleList(nn.Embedding(config.codebook_size, config.model_size)
                                             for _ in range(config.n_codebooks))  # fmt: skip
        self.stage_embedding = nn.Embedding(config.n_codebooks, config.model_size)  # stages 1..K-1 used
        self.segment_embedding = nn.Embedding(4, config.model_size)
        self.positions = SinusoidalPositionalEncoding(config.model_size)
        self.layers = nn.ModuleList(TransformerEncoderLayer(config.transformer()) for _ in range(config.nar_layers))
        self.norm = nn.LayerNorm(config.model_size)
        self.heads = nn.ModuleList(nn.Linear(config.model_size, config.codebook_size)
                                   for _ in range(config.n_codebooks - 1))  # fmt: skip

    def stage_input(self, codes: torch.Tensor, stage: int) -> torch.Tensor:
        """codes (B, K', N) -> (B, N, C): the sum of the embeddings of codebooks 0..stage-1 (codebook c through
        its own table). The prompt uses stage = K (all of them). Lesson 12."""
        return sum(self.code_embeddings[c](codes[:, c]) for c in range(stage))

    def forward(self, phonemes: torch.Tensor, phoneme_lengths: torch.Tensor, prompt: torch.Tensor,
                prompt_lengths: torch.Tensor, target: torch.Tensor, target_lengths: torch.Tensor,
                stage: int) -> torch.Tensor:  # fmt: skip
        """phonemes (B, T), prompt (B, K, P), target (B, >= stage, N) codes, each with its lengths (B,),
        stage in 1..K-1 -> logits (B, N, V) of the target's codebook `stage`."""
        config = self.config
        if not 1 <= stage < config.n_codebooks:
            raise ValueError(f"NonAutoregressiveModel: stage must lie in 1..{config.n_codebooks - 1}, got {stage}")
        segments = [(self.text_embedding(phonemes), phoneme_lengths, TEXT),
                     (self.stage_input(prompt, config.n_codebooks), prompt_lengths, PROMPT),
                     (self.stage_input(target, stage), target_lengths, TARGET)]  # fmt: skip
        parts, keeps = [], []
        for embedded, lengths, segment in segments:
            length = embedded.shape[1]
            keep = torch.arange(length, device=embedded.device)[None] < lengths[:, None]  # (B, length)
            table = self.positions.table(max(length, 1), device=embedded.device)[:length]  # (length, C)
            segment_vector = self.segment_embedding.weight[segment]  # (C,)
            parts.append(embedded + table + segment_vector)
            keeps.append(keep)
        x = torch.cat(parts, dim=1) + self.stage_embedding.weight[stage]  # (B, T + P + N, C)
        key_mask = torch.cat(keeps, dim=1)  # (B, T + P + N)
        for layer in self.layers:
            x = layer(x, key_mask)
        target_frames = target.shape[2]
        return self.heads[stage - 1](self.norm(x[:, x.shape[1] - target_frames :]))  # (B, N, V)

    def loss(self, phonemes, phoneme_lengths, prompt, prompt_lengths, target, target_lengths, stage) -> torch.Tensor:
        """Cross-entropy of the target's codebook `stage` at its real frames."""
        logits = self(phonemes, phoneme_lengths, prompt, prompt_lengths, target, target_lengths, stage)
        keep = torch.arange(target.shape[2], device=target.device)[None] < target_lengths[:, None]
        labels = target[:, stage].masked_fill(~keep, IGNORE)  # (B, N)
        return F.cross_entropy(logits.transpose(1, 2), labels, ignore_index=IGNORE)


class VALLE(nn.Module):
    """The AR and NAR models, saved together."""

    def __init__(self, config: VALLEConfig) -> None:
        super().__init__()
        self.config = config
        self.autoregressive = AutoregressiveModel(config)
        self.non_autoregressive = NonAutoregressiveModel(config)

    @torch.no_grad()
    def generate(self, phonemes: torch.Tensor, prompt_codes: torch.Tensor, temperature: float = 1.0,
                 top_k: int | None = None, top_p: float | None = None,
                 generator: torch.Generator | None = None) -> GenerationResult:  # fmt: skip
        """phonemes (T,) TTS token ids, prompt_codes (K, P) the prompt's codec codes -> GenerationResult."""
        import time

        config = self.config
        if prompt_codes.dim() != 2 or prompt_codes.shape[0] != config.n_codebooks:
            raise ValueError(f"VALLE.generate: prompt_codes must be (K = {config.n_codebooks}, P), as the codec's "
                             f"encode gives for one waveform, got {tuple(prompt_codes.shape)}")  # fmt: skip
        if phonemes.dim() != 1 or len(phonemes) == 0:
            raise ValueError(f"VALLE.generate: phonemes must be a non-empty (T,) tensor, got {tuple(phonemes.shape)}")
        start = time.perf_counter()
        first, stopped_by = self.autoregressive.generate(phonemes, prompt_codes[0], temperature, top_k, top_p,
                                                         generator)  # fmt: skip
        ar_seconds = time.perf_counter() - start
        start = time.perf_counter()
        codes = torch.zeros(config.n_codebooks, len(first), dtype=torch.int64, device=phonemes.device)
        codes[0] = first
        if len(first) > 0:
            lengths = lambda n: torch.tensor([n], device=phonemes.device)  # noqa: E731
            for stage in range(1, config.n_codebooks):
                logits = self.non_autoregressive(phonemes[None], lengths(len(phonemes)), prompt_codes[None],
                                                 lengths(prompt_codes.shape[1]), codes[None, :stage],
                                                 lengths(len(first)), stage)  # (1, N, V)
                codes[stage] = logits[0].argmax(dim=-1)  # greedy, as the paper's NAR
        return GenerationResult(codes, stopped_by, ar_seconds, time.perf_counter() - start)


MINIMUM_PROMPT_SECONDS = 0.5


@torch.no_grad()
def synthesize(model: VALLE, codec_model: nn.Module, text: str, prompt_waveform: np.ndarray, sample_rate: int,
               temperature: float = 1.0, top_k: int | None = None, top_p: float | None = None,
               generator: torch.Generator | None = None) -> tuple[np.ndarray, GenerationResult]:  # fmt: skip
    """text + a prompt recording (T_wav,) at sample_rate -> (waveform in the prompt's voice, GenerationResult).

    The prompt must be at the codec's rate and at least MINIMUM_PROMPT_SECONDS long; the text must give at
    least one phoneme (data.encode_text). Named ValueErrors otherwise.
    """
    from minispeech.data.tts_tokens import encode_text

    expected = codec_model.config.sample_rate
    if sample_rate != expected:
        raise ValueError(f"valle.synthesize: the prompt is at {sample_rate} Hz but the codec works at {expected} Hz; "
                         f"resample it: minispeech.audio.resample(prompt, {sample_rate}, {expected})")  # fmt: skip
    prompt = np.asarray(prompt_waveform, dtype=np.float32)
    if prompt.ndim != 1 or len(prompt) < MINIMUM_PROMPT_SECONDS * expected:
        seconds = len(prompt) / expected if prompt.ndim == 1 else float("nan")
        raise ValueError(f"valle.synthesize: the voice prompt must be one waveform of at least "
                         f"{MINIMUM_PROMPT_SECONDS} s ({int(MINIMUM_PROMPT_SECONDS * expected)} samples), got shape "
                         f"{prompt.shape} ({seconds:.2f} s); record or cut a longer one (3 s is typical)")  # fmt: skip
    if not text or not text.strip():
        raise ValueError("valle.synthesize: the text is empty; give a sentence to speak")
    _, token_ids = encode_text(text)
    if not token_ids:
        raise ValueError(f"valle.synthesize: {text!r} gives no phonemes; give words eSpeak can speak")
    device = next(model.parameters()).device
    prompt_codes = codec_model.encode(torch.from_numpy(prompt)[None].to(device))[0]  # (K, P)
    result = model.generate(torch.tensor(token_ids, device=device), prompt_codes, temperature, top_k, top_p, generator)
    if result.codes.shape[1] == 0:
        return np.zeros(0, np.float32), result
    return codec_model.decode(result.codes[None])[0].cpu().numpy(), result


def artifact_path(kind: str = "cpu") -> Path:
    """data/artifacts/valle.pt for cpu/gpu runs, valle_ci.pt for the ci run."""
    return checkpoint.artifact_path("valle", kind)


def load_pretrained(path: str | Path | None = None, device: str | torch.device = "cpu") -> VALLE:
    """The VALL-E lesson 12 trained, in eval mode; FileNotFoundError naming lesson 12 when absent."""
    return checkpoint.load_pretrained("valle", VALLE, VALLEConfig, TRAIN_HINT, path=path, device=device)
