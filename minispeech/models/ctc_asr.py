"""A character CTC speech recognizer: log-mels in, per-frame character log-probabilities out.

CTCASRConfig     frozen config; CTCASRConfig.preset("ci" | "cpu" | "gpu")
CTCASROutput     forward's result: .loss and the named parts it was computed from
CTCASR           forward(batch) -> CTCASROutput (training); log_probs(features, lengths);
                 transcribe(features, lengths, beam_size=1, lm=None) -> list[Hypothesis]
artifact_path    where lesson 04 saves the trained model (one file per profile kind)
load_pretrained  the model lesson 04 trained, ready for inference (eval mode)

The pipeline, top to bottom (a small Conformer, Gulati et al., 2020), all of it from nn/:
    log-mel (B, T_mel, n_mels) -> ASRFrontEnd: [training: warp the frequency axis] -> normalize
    each utterance (speaker/channel independence) -> [training: SpecAugment masks]
    -> SpeechEncoder: strided 1-D convolutions (time / subsampling) -> + sinusoidal positions
    -> Conformer blocks -> Linear -> log-softmax over characters.

Shapes   B batch, T_mel input frames, T_out = ceil(T_mel / subsampling) output frames,
         C = model_size channels, S characters, V characters in the table (blank = id 0).
A batch is what minispeech.data.collate makes: "features" (B, T_mel, n_mels), "feature_lengths"
(B,), "tokens" (B, S), "token_lengths" (B,).
Taught in lessons/04_ctc.ipynb, section 5.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from minispeech import checkpoint, profiles
from minispeech.decoding import Hypothesis, greedy_decode, prefix_beam_search
from minispeech.dsp import MelConfig
from minispeech.nn.asr_frontend import ASRFrontEnd, AugmentConfig
from minispeech.nn.encoder import EncoderConfig, SpeechEncoder
from minispeech.text import characters

BLANK_ID = 0  # the characters() table's <pad> id doubles as the CTC blank
TRAIN_HINT = "run lessons/04_ctc.ipynb (section 5 trains and saves the recognizer)"


@dataclasses.dataclass(frozen=True)
class CTCASRConfig:
    mel: MelConfig = MelConfig()  # the front end the features were computed with
    augment: AugmentConfig = AugmentConfig()  # training-time warp and SpecAugment
    encoder: EncoderConfig = EncoderConfig()  # a 4-layer, 144-wide Conformer at T_mel / 2
    vocabulary_size: int = len(characters())  # V, blank included

    @classmethod
    def preset(cls, profile: str) -> CTCASRConfig:
        """ci: trains in seconds; cpu: reaches lesson 04's bar in 10 minutes on 2 cores;
        gpu: a 12 GB card and LibriSpeech-scale data (18 M parameters)."""
        presets = {
            "ci": lambda: cls(encoder=EncoderConfig(model_size=64, n_layers=2, n_heads=2, feedforward_size=128,
                                                    conv_kernel_size=7)),
            "cpu": lambda: cls(),
            "gpu": lambda: cls(encoder=EncoderConfig(model_size=256, n_layers=12, n_heads=4, feedforward_size=1024,
                                                     conv_kernel_size=31),
                               augment=AugmentConfig(freq_mask_width=27, time_masks=10, time_mask_width=40)),
        }  # fmt: skip
        return profiles.pick(presets, profile)()


class CTCASROutput(NamedTuple):
    loss: torch.Tensor  # scalar: mean over the batch of -log p(y | x) / |y| (torch's "mean")
    log_probs: torch.Tensor  # (B, T_out, V) log-softmax over characters
    lengths: torch.Tensor  # (B,) T_out of each utterance; later frames are padding


class CTCASR(nn.Module):
    """Log-mel frames -> per-frame log-probabilities over characters (blank = id 0), for CTC."""

    def __init__(self, config: CTCASRConfig) -> None:
        super().__init__()
        self.config = config
        self.front_end = ASRFrontEnd(config.mel, config.augment)
        self.encoder = SpeechEncoder(config.mel.n_mels, config.encoder)
        self.classifier = nn.Linear(config.encoder.model_size, config.vocabulary_size)

    def output_lengths(self, lengths: torch.Tensor) -> torch.Tensor:
        """T_out for input lengths T_mel: ceil(T_mel / subsampling)."""
        return self.encoder.output_lengths(lengths)

    def log_probs(
        self, features: torch.Tensor, lengths: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """features (B, T_mel, n_mels) log-mels, lengths (B,) real frames of each.

        Returns log_probs (B, T_out, V) (log-softmax over V) and out_lengths (B,). Frames at
        or after out_lengths[b] are padding: ignore them. In training mode the front end
        augments the input; in eval mode an utterance's output does not depend on its batch.
        """
        device = self.classifier.weight.device
        features, lengths = features.to(device), lengths.to(device)
        memory, out_lengths = self.encoder(
            self.front_end(features, lengths), lengths
        )  # (B, T_out, C)
        return F.log_softmax(self.classifier(memory), dim=-1), out_lengths  # (B, T_out, V)

    def forward(self, batch: dict) -> CTCASROutput:
        """The CTC loss of a collated batch (see the module docstring), with its parts."""
        log_probs, out_lengths = self.log_probs(batch["features"], batch["feature_lengths"])
        tokens, token_lengths = (
            batch["tokens"].to(log_probs.device),
            batch["token_lengths"].to(log_probs.device),
        )
        loss = F.ctc_loss(
            log_probs.float().transpose(0, 1),  # torch wants (T_out, B, V)
            tokens,
            out_lengths,
            token_lengths,
            blank=BLANK_ID,
            zero_infinity=True,
        )  # an utterance too fast for its frames is skipped, not inf
        return CTCASROutput(loss, log_probs, out_lengths)  # fmt: skip

    @torch.no_grad()
    def transcribe(
        self,
        features: torch.Tensor,
        lengths: torch.Tensor,
        beam_size: int = 1,
        lm=None,
        lm_weight: float = 0.5,
        insertion_bonus: float = 0.0,
    ) -> list[Hypothesis]:
        """features (B, T_mel, n_mels), lengths (B,) -> one Hypothesis per utterance.

        beam_size 1: greedy (best path; score = its log-probability); else prefix beam search
        with an optional character LM (minispeech.decoding.CharNgramLM; score None).
        Runs in eval mode and restores the previous mode.
        """
        was_training = self.training
        self.eval()
        log_probs, out_lengths = self.log_probs(features, lengths)
        self.train(was_training)
        hypotheses = []
        for frames, n_frames in zip(
            log_probs.float().cpu().numpy(), out_lengths.tolist(), strict=True
        ):
            frames = frames[:n_frames]  # (T_out, V)
            if beam_size == 1:
                score = float(frames.max(axis=1).sum())
                hypotheses.append(Hypothesis(greedy_decode(frames, blank=BLANK_ID), score))
            else:
                labels = prefix_beam_search(frames, beam_size=beam_size, blank=BLANK_ID, lm=lm,
                                            lm_weight=lm_weight, insertion_bonus=insertion_bonus)  # fmt: skip
                hypotheses.append(Hypothesis(labels))
        return hypotheses


def artifact_path(kind: str = "cpu") -> Path:
    """data/artifacts/ctc_asr.pt for cpu/gpu runs, ctc_asr_ci.pt for the ci run."""
    return checkpoint.artifact_path("ctc_asr", kind)


def load_pretrained(path: str | Path | None = None, device: str | torch.device = "cpu") -> CTCASR:
    """The recognizer lesson 04 trained, in eval mode, built from the config in its checkpoint.

    path=None takes the cpu/gpu run's artifact if it exists, else the ci run's; raises
    FileNotFoundError naming lesson 04 when neither exists.
    """
    return checkpoint.load_pretrained(
        "ctc_asr", CTCASR, CTCASRConfig, TRAIN_HINT, path=path, device=device
    )
