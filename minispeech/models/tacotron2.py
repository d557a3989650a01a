"""Tacotron 2 (Shen et al., 2018): phonemes -> log-mel frames with an attention decoder.

Tacotron2Config  frozen config; Tacotron2Config.preset("ci" | "cpu" | "gpu")
group_frames     (B, T_mel, n_mels) -> (B, S, r * n_mels): r frames per decoder step; ungroup_frames
                 undoes it
stop_targets     (B, S): 1 from the step holding each utterance's last real frame on
masked_mel_loss  MSE or L1 over the real frames only
Encoder, Prenet, Decoder  the blocks (the prenet's dropout stays on at inference); the postnet is
                 nn/postnet's
decoder_step     one step: the previous frame + DecoderState -> r frames, a stop logit, the new state
Tacotron2        forward(batch) -> Tacotron2Output (.loss and its named parts; teacher forcing);
                 synthesize(tokens, token_lengths) -> SynthesisOutput (each item stops on its own)
artifact_path, load_pretrained  where lesson 07 saves the trained model; it, in eval mode

The pipeline, top to bottom:
    tokens (B, T_txt) -> Encoder -> memory (B, T_txt, C). Decoder, one step per r frames:
    previous frame -> Prenet -> attention LSTMCell([prenet, previous context]) -> location-
    sensitive attention over memory (nn/attention, cumulative weights) -> context ->
    decoder LSTMCell([attention state, context]) -> Linear([state, context]): r frames and a
    stop logit. The steps' frames, ungrouped, are the mel; mel + Postnet(mel) the final mel.
Training feeds the real previous frame (teacher forcing); inference feeds the prediction back.

Shapes   B batch, T_txt tokens, T_mel frames, S = ceil(T_mel / r) decoder steps, r reduction
         factor, C = encoder_size memory channels, V tokens (<pad> = 0).
Tokens   phoneme ids of data.tts_tokens (TTS_SYMBOLS) by default; a character model sets
         vocabulary_size=len(minispeech.text.characters()). Mels are log-mels, time first, as
         data.tts_collate makes them: "tokens", "token_lengths", "mel", "mel_lengths".
Scale    inside, every mel band is normalized, (log-mel - mean) / std with the corpus's per-band
         statistics (set_mel_statistics; buffers, saved with the weights): the losses and the
         decoder's inputs and outputs live there, so that loud and quiet bands weigh alike and
         the silent floor (log 1e-5 = -11.5) does not dominate the squared error. Every mel
         going in or coming out (forward's and synthesize's) is a plain log-mel.
Taught in lessons/07_tacotron2.ipynb.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from minispeech import checkpoint, profiles
from minispeech.data.tts_tokens import TTS_SYMBOLS
from minispeech.dsp import MelConfig
from minispeech.nn.attention import (
    AttentionConfig,
    LocationSensitiveAttention,
    guided_attention_loss,
    padding_mask,
)
from minispeech.nn.mel_normalization import MelNormalization
from minispeech.nn.postnet import Postnet, PostnetConfig
from minispeech.nn.recurrent import packed_lstm
from minispeech.nn.tokens import check_token_batch

MEL_LOSSES = ("mse", "l1")
TRAIN_HINT = "run lessons/07_tacotron2.ipynb (its training section trains and saves the model)"


@dataclasses.dataclass(frozen=True)
class Tacotron2Config:
    mel: MelConfig = MelConfig()  # the front end the target mels were computed with
    vocabulary_size: int = len(TTS_SYMBOLS)  # V
    embedding_size: int = 512
    encoder_size: int = 512  # C: channels of the convolutions and of the BiLSTM (C / 2 a direction)
    encoder_layers: int = 3  # convolutions before the BiLSTM
    encoder_kernel_size: int = 5  # odd, so that a convolution keeps T_txt
    attention_size: int = 128
    location_filters: int = 32
    location_kernel_size: int = 31  # odd; in tokens
    prenet_size: int = 256
    decoder_size: int = 1024  # each of the two LSTMCells
    reduction_factor: int = 2  # r: frames predicted per decoder step
    postnet_channels: int = 512
    postnet_layers: int = 5
    postnet_kernel_size: int = 5  # odd
    dropout: float = 0.5  # encoder convolutions and postnet
    prenet_dropout: float = 0.5  # always on, in eval too (see Prenet); 0 only for tests
    decoder_dropout: float = 0.1  # on both LSTMCell outputs, in training (in place of zoneout)
    mel_loss: str = "mse"  # "mse" or "l1", before and after the postnet
    stop_positive_weight: float = 5.0  # one "stop" step per utterance against many "go on"
    guided_attention_weight: float = 1.0  # 0 disables the diagonal prior (Tachibana et al., 2017)
    guided_attention_sigma: float = 0.2
    max_decoder_steps: int = 1000  # the synthesis guard, in steps of r frames

    def __post_init__(self) -> None:
        kernels = (self.encoder_kernel_size, self.postnet_kernel_size)
        counts = (self.reduction_factor, self.encoder_layers, self.postnet_layers, self.max_decoder_steps)
        dropouts = (self.dropout, self.prenet_dropout, self.decoder_dropout)
        weights = (self.guided_attention_weight, self.guided_attention_sigma, self.stop_positive_weight)
        rules = [  # (holds, what must hold, the values it is about)
            (all(k > 0 and k % 2 for k in kernels), "encoder_kernel_size, postnet_kernel_size must be odd",
             kernels),
            (self.encoder_size % 2 == 0, "encoder_size must be even (C / 2 a BiLSTM direction)",
             self.encoder_size),
            (min(counts) >= 1, "reduction_factor, encoder_layers, postnet_layers, max_decoder_steps must be "
             ">= 1", counts),
            (all(0 <= p < 1 for p in dropouts), "dropout, prenet_dropout, decoder_dropout must be in [0, 1)",
             dropouts),
            (self.mel_loss in MEL_LOSSES, f"mel_loss must be one of {MEL_LOSSES}", repr(self.mel_loss)),
            (weights[0] >= 0 and min(weights[1:]) > 0, "guided_attention_weight must be >= 0, "
             "guided_attention_sigma and stop_positive_weight > 0", weights),
        ]  # fmt: skip
        for holds, rule, values in rules:
            if not holds:
                raise ValueError(f"Tacotron2Config: {rule}, got {values}")

    @classmethod
    def preset(cls, profile: str) -> Tacotron2Config:
        """ci: trains in seconds (0.2 M parameters); cpu: 5.4 M parameters, r = 3, a 32-unit prenet,
        guided-attention weight 10, L1 loss, dropout 0.1, sized for about 20 minutes of training on 2
        cores (lesson 07 measured each change); gpu: the paper's sizes with r = 2 (28 M parameters)."""
        presets = {
            "ci": cls(embedding_size=32, encoder_size=32, attention_size=32, location_filters=4,
                      location_kernel_size=7, prenet_size=32, decoder_size=64, reduction_factor=3,
                      postnet_channels=32, max_decoder_steps=200, guided_attention_weight=10.0, mel_loss="l1"),
            # a narrow prenet: the previous frame tells the decoder less, so it must read the text through
            # the attention, and free running (its own, blurrier frames) costs less; an underfit model
            # (minutes of training) needs little dropout
            "cpu": cls(embedding_size=256, encoder_size=256, location_filters=16, location_kernel_size=15,
                       prenet_size=32, decoder_size=384, reduction_factor=3, postnet_channels=256,
                       max_decoder_steps=400, guided_attention_weight=10.0, mel_loss="l1", dropout=0.1),
            "gpu": cls(guided_attention_weight=10.0, mel_loss="l1"),
        }  # fmt: skip
        return profiles.pick(presets, profile)


def group_frames(mel: torch.Tensor, r: int) -> torch.Tensor:
    """mel (B, T_mel, n_mels) -> (B, ceil(T_mel / r), r * n_mels): step s holds frames
    s r, ..., s r + r - 1 side by side; T_mel is zero-padded up to a multiple of r first."""
    batch_size, n_frames, n_mels = mel.shape
    mel = F.pad(mel, (0, 0, 0, -n_frames % r))  # (B, S * r, n_mels)
    return mel.reshape(batch_size, -1, r * n_mels)  # (B, S, r * n_mels)


def ungroup_frames(grouped: torch.Tensor, r: int) -> torch.Tensor:
    """grouped (B, S, r * n_mels) -> (B, S * r, n_mels), the inverse of group_frames (the
    padding frames stay: cut to [:, :T_mel] to get the original back)."""
    batch_size, n_steps, width = grouped.shape
    return grouped.reshape(batch_size, n_steps * r, width // r)  # (B, S * r, n_mels)


def stop_targets(mel_lengths: torch.Tensor, n_steps: int, r: int) -> torch.Tensor:
    """mel_lengths (B,) -> (B, n_steps) float: 0 while the utterance goes on, 1 from the step
    holding its last real frame, (mel_lengths - 1) // r, on."""
    last_steps = (mel_lengths - 1).div(r, rounding_mode="floor")  # (B,)
    steps = torch.arange(n_steps, device=mel_lengths.device)  # (S,)
    return (steps[None, :] >= last_steps[:, None]).float()  # (B, S)


def masked_mel_loss(
    prediction: torch.Tensor, target: torch.Tensor, mel_lengths: torch.Tensor, kind: str
) -> torch.Tensor:
    """Mean squared ("mse") or absolute ("l1") error over the real frames (B, T_mel, n_mels) only."""
    keep = padding_mask(mel_lengths, target.shape[1])[:, :, None]  # (B, T_mel, 1)
    difference = prediction.float() - target.float()  # (B, T_mel, n_mels)
    error = difference.square() if kind == "mse" else difference.abs()
    return (error * keep).sum() / (keep.sum() * target.shape[2]).clamp_min(1)


class Encoder(nn.Module):
    """tokens (B, T_txt), lengths (B,) -> memory (B, T_txt, C), zeros on padding (Sec. 2.2)."""

    def __init__(self, config: Tacotron2Config) -> None:
        super().__init__()
        size, kernel_size = config.encoder_size, config.encoder_kernel_size
        self.embedding = nn.Embedding(config.vocabulary_size, config.embedding_size)
        sizes = [config.embedding_size] + [size] * config.encoder_layers
        self.convolutions = nn.ModuleList(
            nn.Sequential(
                nn.Conv1d(in_size, out_size, kernel_size, padding=kernel_size // 2),
                nn.BatchNorm1d(out_size), nn.ReLU(), nn.Dropout(config.dropout),
            )  # fmt: skip
            for in_size, out_size in zip(sizes[:-1], sizes[1:], strict=True)
        )
        self.lstm = nn.LSTM(size, size // 2, batch_first=True, bidirectional=True)

    def forward(self, tokens: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        keep = padding_mask(lengths, tokens.shape[1])[:, None, :]  # (B, 1, T_txt)
        x = self.embedding(tokens).transpose(1, 2) * keep  # (B, embedding_size, T_txt)
        for convolution in self.convolutions:
            x = convolution(x) * keep  # (B, C, T_txt); padding zero, as for an utterance alone
        return packed_lstm(self.lstm, x.transpose(1, 2), lengths)  # (B, T_txt, C)


class Prenet(nn.Module):
    """The previous frame (B, n_mels) -> (B, prenet_size) through 2 x (Linear, ReLU, dropout).

    The dropout stays on at inference (Sec. 2.3). It is the model's only source of noise:
    trained with it, the decoder learns to lean on the attention context rather than copy the
    previous frame; without it at inference, the inputs leave the training distribution and
    the decoder degenerates (repeated or blurred frames, an attention that stalls).
    """

    def __init__(self, input_size: int, size: int, dropout: float) -> None:
        super().__init__()
        self.layers = nn.ModuleList([nn.Linear(input_size, size), nn.Linear(size, size)])
        self.dropout = dropout

    def forward(self, frame: torch.Tensor) -> torch.Tensor:
        for layer in self.layers:
            frame = F.dropout(F.relu(layer(frame)), self.dropout, training=True)  # on in eval too
        return frame  # (B, prenet_size)


class DecoderState(NamedTuple):
    """The decoder's state after a step; every field is a tensor with batch first."""

    attention_hidden: torch.Tensor  # (B, decoder_size): the attention LSTMCell's h, the query
    attention_cell: torch.Tensor  # (B, decoder_size)
    decoder_hidden: torch.Tensor  # (B, decoder_size): the decoder LSTMCell's h
    decoder_cell: torch.Tensor  # (B, decoder_size)
    context: torch.Tensor  # (B, C): the attended memory, fed to the next step
    cumulative_weights: torch.Tensor  # (B, T_txt): the sum of all attention weights so far
    weights: torch.Tensor  # (B, T_txt): this step's attention weights


class Decoder(nn.Module):
    """The modules decoder_step uses (Sec. 2.3); the attention LSTMCell is the paper's first
    decoder layer, the decoder LSTMCell its second."""

    def __init__(self, config: Tacotron2Config) -> None:
        super().__init__()
        self.config = config
        n_mels, memory_size = config.mel.n_mels, config.encoder_size
        self.prenet = Prenet(n_mels, config.prenet_size, config.prenet_dropout)
        self.attention_rnn = nn.LSTMCell(config.prenet_size + memory_size, config.decoder_size)
        self.attention = LocationSensitiveAttention(AttentionConfig(
            query_size=config.decoder_size, key_size=memory_size, attention_size=config.attention_size,
            location_filters=config.location_filters, location_kernel_size=config.location_kernel_size,
        ))  # fmt: skip
        self.decoder_rnn = nn.LSTMCell(config.decoder_size + memory_size, config.decoder_size)
        self.frame_projection = nn.Linear(config.decoder_size + memory_size, config.reduction_factor * n_mels)
        self.stop_projection = nn.Linear(config.decoder_size + memory_size, 1)

    def initial_state(self, memory: torch.Tensor) -> DecoderState:
        """All zeros: no history, an empty context, no attention yet. memory (B, T_txt, C)."""
        batch_size, n_tokens, memory_size = memory.shape
        zeros = memory.new_zeros(batch_size, self.config.decoder_size)
        no_weights = memory.new_zeros(batch_size, n_tokens)
        return DecoderState(zeros, zeros, zeros, zeros, memory.new_zeros(batch_size, memory_size),
                            no_weights, no_weights)  # fmt: skip


def decoder_step(
    decoder: Decoder,
    previous_frame: torch.Tensor,
    state: DecoderState,
    memory: torch.Tensor,
    projected_keys: torch.Tensor,
    memory_mask: torch.Tensor,
) -> tuple[torch.Tensor, torch.Tensor, DecoderState]:
    """One decoder step. previous_frame (B, n_mels): the last of the previous step's r frames
    (zeros, the <go> frame, at the first step); memory (B, T_txt, C); projected_keys
    (B, T_txt, attention_size) from decoder.attention.project_keys(memory); memory_mask
    (B, T_txt) keep. Returns frames (B, r * n_mels), stop_logit (B,) and the new state."""
    p, training = decoder.config.decoder_dropout, decoder.training
    prenet_output = decoder.prenet(previous_frame)  # (B, prenet_size)
    attention_hidden, attention_cell = decoder.attention_rnn(
        torch.cat([prenet_output, state.context], dim=-1), (state.attention_hidden, state.attention_cell)
    )
    attention_hidden = F.dropout(attention_hidden, p, training)  # (B, decoder_size)
    context, weights = decoder.attention(attention_hidden, memory, memory, state.cumulative_weights,
                                         memory_mask, projected_keys)  # (B, C), (B, T_txt)  # fmt: skip
    decoder_hidden, decoder_cell = decoder.decoder_rnn(
        torch.cat([attention_hidden, context], dim=-1), (state.decoder_hidden, state.decoder_cell)
    )
    decoder_hidden = F.dropout(decoder_hidden, p, training)  # (B, decoder_size)
    features = torch.cat([decoder_hidden, context], dim=-1)  # (B, decoder_size + C)
    frames = decoder.frame_projection(features)  # (B, r * n_mels)
    stop_logit = decoder.stop_projection(features)[:, 0]  # (B,)
    return frames, stop_logit, DecoderState(attention_hidden, attention_cell, decoder_hidden, decoder_cell,
                                            context, state.cumulative_weights + weights, weights)  # fmt: skip


class Tacotron2Output(NamedTuple):
    loss: torch.Tensor  # mel_loss + postnet_loss + stop_loss + guided_attention_weight guided_loss
    mel_loss: torch.Tensor  # the decoder's mel against the target (MSE or L1, normalized), real frames only
    postnet_loss: torch.Tensor  # the same after the postnet
    stop_loss: torch.Tensor  # BCE of the stop logits (positive weight), real steps only
    guided_loss: torch.Tensor  # guided_attention_loss of the alignments (computed even at weight 0)
    mel: torch.Tensor  # (B, T_mel, n_mels): the decoder's frames as log-mels, zeros past each length
    mel_postnet: torch.Tensor  # (B, T_mel, n_mels): mel + Postnet(mel), as log-mels
    stop_logits: torch.Tensor  # (B, S)
    alignments: torch.Tensor  # (B, S, T_txt): the attention weights of every step


class SynthesisOutput(NamedTuple):
    mel: torch.Tensor  # (B, T_mel, n_mels): after the postnet, zeros past each length
    mel_lengths: torch.Tensor  # (B,): r x the steps up to and including the stop step
    alignments: torch.Tensor  # (B, S, T_txt): zeros after each item's last step
    hit_guard: torch.Tensor  # (B,) bool: the item never stopped and was cut at max_steps


class Tacotron2(MelNormalization, nn.Module):
    """Encoder + attention decoder + postnet. Training: teacher forcing; synthesis: free running."""

    def __init__(self, config: Tacotron2Config) -> None:
        super().__init__()
        self.config = config
        self.encoder = Encoder(config)
        self.decoder = Decoder(config)
        self.postnet = Postnet(PostnetConfig(config.mel.n_mels, config.postnet_channels, config.postnet_layers,
                                             config.postnet_kernel_size, config.dropout))  # fmt: skip
        self.register_mel_statistics(config.mel.n_mels)  # mel_mean, mel_std: set_mel_statistics

    def encode(self, tokens: torch.Tensor, token_lengths: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """tokens (B, T_txt), token_lengths (B,) -> memory (B, T_txt, C), projected_keys
        (B, T_txt, attention_size) and memory_mask (B, T_txt), which every decoder step reuses."""
        check_token_batch(tokens, token_lengths, self.config.vocabulary_size, "Tacotron2")
        device = self.decoder.frame_projection.weight.device
        tokens, token_lengths = tokens.to(device), token_lengths.to(device)
        memory = self.encoder(tokens, token_lengths)  # (B, T_txt, C)
        memory_mask = padding_mask(token_lengths, tokens.shape[1])  # (B, T_txt)
        return memory, self.decoder.attention.project_keys(memory), memory_mask

    def _check_mel(self, mel: torch.Tensor, mel_lengths: torch.Tensor) -> None:
        n_mels = self.config.mel.n_mels
        if mel.dim() != 3 or mel.shape[2] != n_mels:
            raise ValueError(f"Tacotron2: mel must be (B, T_mel, n_mels = {n_mels}) log-mels, time "
                             f"first, got {tuple(mel.shape)}; transpose a (n_mels, T_mel) log_mel, or "
                             "build the model with config.mel equal to the corpus's MelConfig")  # fmt: skip
        if (mel_lengths < 1).any():
            raise ValueError("Tacotron2: an utterance has mel length 0; drop it before batching")

    def decode(self, previous_frames: torch.Tensor, memory: torch.Tensor, projected_keys: torch.Tensor,
               memory_mask: torch.Tensor, own_frame_probability: float = 0.0) -> tuple[torch.Tensor, ...]:  # fmt: skip
        """Teacher forcing: previous_frames (B, S, n_mels), the input of every step ->
        frames (B, S, r * n_mels), stop_logits (B, S), alignments (B, S, T_txt).

        Scheduled sampling (Bengio et al., 2015): with own_frame_probability p, each item's step
        reads the model's own last frame of the step before (detached) instead of the true one,
        so that training also visits the states free running leads to (exposure bias)."""
        state = self.decoder.initial_state(memory)
        frames, stop_logits, alignments = [], [], []
        n_mels = previous_frames.shape[2]
        for step in range(previous_frames.shape[1]):
            previous_frame = previous_frames[:, step]  # (B, n_mels)
            if own_frame_probability > 0 and step > 0:
                own = torch.rand(len(previous_frame), 1, device=previous_frame.device) < own_frame_probability
                previous_frame = torch.where(own, frames[-1][:, -n_mels:].detach(), previous_frame)
            step_frames, stop_logit, state = decoder_step(
                self.decoder, previous_frame, state, memory, projected_keys, memory_mask
            )
            frames.append(step_frames)
            stop_logits.append(stop_logit)
            alignments.append(state.weights)
        return torch.stack(frames, 1), torch.stack(stop_logits, 1), torch.stack(alignments, 1)

    def frames_to_mel(
        self, frames: torch.Tensor, mel_lengths: torch.Tensor, n_frames: int
    ) -> tuple[torch.Tensor, ...]:
        """frames (B, S, r * n_mels) -> mel and mel + Postnet(mel), each (B, n_frames, n_mels)
        with zeros past mel_lengths (B,)."""
        mel = ungroup_frames(frames, self.config.reduction_factor)[:, :n_frames]  # (B, T_mel, n_mels)
        mel = mel * padding_mask(mel_lengths, n_frames)[:, :, None]  # (B, T_mel, n_mels)
        return mel, mel + self.postnet(mel, mel_lengths)

    def forward(self, batch: dict, own_frame_probability: float = 0.0) -> Tacotron2Output:
        """A tts_collate batch (tokens (B, T_txt), token_lengths (B,), mel (B, T_mel, n_mels),
        mel_lengths (B,)) -> the loss and its parts. Step s reads target frame s r - 1, the last
        of step s - 1's (the <go> frame, zeros, at s = 0), and predicts frames s r .. s r + r - 1;
        with own_frame_probability > 0 it sometimes reads its own instead (decode)."""
        config, r = self.config, self.config.reduction_factor
        device = self.decoder.frame_projection.weight.device
        mel, mel_lengths = batch["mel"].to(device), batch["mel_lengths"].to(device)
        self._check_mel(mel, mel_lengths)
        memory, projected_keys, memory_mask = self.encode(batch["tokens"], batch["token_lengths"])
        mel = self.normalize(mel) * padding_mask(mel_lengths, mel.shape[1])[:, :, None]  # (B, T_mel, n_mels)
        grouped = group_frames(mel, r)  # (B, S, r * n_mels)
        previous_frames = F.pad(grouped[:, :-1, -config.mel.n_mels :], (0, 0, 1, 0))  # (B, S, n_mels)
        frames, stop_logits, alignments = self.decode(previous_frames, memory, projected_keys, memory_mask,
                                                      own_frame_probability)  # fmt: skip
        mel_before, mel_after = self.frames_to_mel(frames, mel_lengths, mel.shape[1])
        n_steps = (mel_lengths + r - 1).div(r, rounding_mode="floor")  # (B,) ceil(T_mel / r)
        real_steps = padding_mask(n_steps, grouped.shape[1])  # (B, S)
        stop_loss = F.binary_cross_entropy_with_logits(
            stop_logits.float(), stop_targets(mel_lengths, grouped.shape[1], r), reduction="none",
            pos_weight=torch.tensor(config.stop_positive_weight, device=device),
        )  # fmt: skip
        stop_loss = (stop_loss * real_steps).sum() / real_steps.sum()
        mel_loss = masked_mel_loss(mel_before, mel, mel_lengths, config.mel_loss)
        postnet_loss = masked_mel_loss(mel_after, mel, mel_lengths, config.mel_loss)
        guided_loss = guided_attention_loss(alignments.float(), n_steps, memory_mask.sum(1),
                                            config.guided_attention_sigma)  # fmt: skip
        loss = mel_loss + postnet_loss + stop_loss + config.guided_attention_weight * guided_loss
        return Tacotron2Output(loss, mel_loss, postnet_loss, stop_loss, guided_loss,
                               self.denormalize(mel_before, mel_lengths), self.denormalize(mel_after, mel_lengths),
                               stop_logits, alignments)  # fmt: skip

    @torch.no_grad()
    def synthesize(self, tokens: torch.Tensor, token_lengths: torch.Tensor, max_steps: int | None = None,
                   stop_threshold: float = 0.5) -> SynthesisOutput:  # fmt: skip
        """tokens (B, T_txt), token_lengths (B,) -> SynthesisOutput, each step fed its own last frame.

        Each item stops at its first step whose stop probability exceeds stop_threshold (that
        step's r frames are kept); one that never does is cut at max_steps (default
        config.max_decoder_steps) and flagged in hit_guard. Items that stopped ride along until
        all have, but their later frames are zeroed before the postnet, so they change nothing.
        Eval mode (the prenet dropout stays on: seed torch for repeatable audio); the mode is restored.
        """
        max_steps = self.config.max_decoder_steps if max_steps is None else max_steps
        if max_steps < 1:
            raise ValueError(f"Tacotron2.synthesize: max_steps must be >= 1, got {max_steps}")
        check_token_batch(tokens, token_lengths, self.config.vocabulary_size, "Tacotron2")  # before leaving training mode
        was_training = self.training
        self.eval()
        memory, projected_keys, memory_mask = self.encode(tokens, token_lengths)
        batch_size, n_mels = len(memory), self.config.mel.n_mels
        previous_frame = memory.new_zeros(batch_size, n_mels)  # the <go> frame
        state = self.decoder.initial_state(memory)
        stopped = torch.zeros(batch_size, dtype=torch.bool, device=memory.device)
        n_steps = torch.full((batch_size,), max_steps, device=memory.device)  # (B,) until stopped
        frames, alignments = [], []
        for step in range(max_steps):
            step_frames, stop_logit, state = decoder_step(
                self.decoder, previous_frame, state, memory, projected_keys, memory_mask
            )
            frames.append(step_frames)
            alignments.append(state.weights)
            stops_now = ~stopped & (torch.sigmoid(stop_logit.float()) > stop_threshold)  # (B,)
            n_steps[stops_now] = step + 1
            stopped |= stops_now
            if bool(stopped.all()):
                break
            previous_frame = step_frames[:, -n_mels:]  # (B, n_mels): the last of the r frames
        mel_lengths = n_steps * self.config.reduction_factor  # (B,)
        frames = torch.stack(frames, 1)  # (B, S, r * n_mels)
        _, mel = self.frames_to_mel(frames, mel_lengths, int(mel_lengths.max()))  # (B, T_mel, n_mels)
        mel = self.denormalize(mel, mel_lengths)  # (B, T_mel, n_mels) log-mel
        alignments = torch.stack(alignments, 1) * padding_mask(n_steps, frames.shape[1])[:, :, None]
        self.train(was_training)
        return SynthesisOutput(mel, mel_lengths, alignments, ~stopped)


def artifact_path(kind: str = "cpu") -> Path:
    """data/artifacts/tacotron2.pt for cpu/gpu runs, tacotron2_ci.pt for the ci run."""
    return checkpoint.artifact_path("tacotron2", kind)


def load_pretrained(path: str | Path | None = None, device: str | torch.device = "cpu") -> Tacotron2:
    """The model lesson 07 trained, in eval mode, built from the config in its checkpoint.

    path=None takes the cpu/gpu run's artifact if it exists, else the ci run's; raises
    FileNotFoundError naming lesson 07 when neither exists.
    """
    return checkpoint.load_pretrained(
        "tacotron2", Tacotron2, Tacotron2Config, TRAIN_HINT, path=path, device=device
    )
