"""torch Dataset over one split of the TTS corpus (tts.py), and its padding collate.

TTSDataset    one utterance -> tokens, durations, mel, f0, voiced, energy, phoneme-level f0 and
              energy; optionally its waveform, or a random mel segment with the waveform segment
              under it (vocoder training)
tts_collate   pad a list of items into a batch with lengths; batch with data.LengthBucketSampler
              over dataset.lengths()

Shapes   per item: tokens, durations, phoneme_f0, phoneme_energy (T_txt,); mel (T_mel, n_mels),
         time first like every model input; f0, voiced, energy (T_mel,); waveform (T_wav,).
         Segments: mel_segment (S, n_mels) and waveform_segment (S * hop_length,).
         per batch: (B, T_txt), (B, T_mel, n_mels), (B, T_mel), (B, T_wav), with *_lengths (B,).
Everything is sliced from the corpus's memory-mapped arrays: an item costs a copy, no DSP.
Taught in lessons/07_tacotron2.ipynb (section 1); used by lessons 08-10.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from minispeech.data.dataset import pad_sequences
from minispeech.data.tts import check_sample_rate, load_tts_split
from minispeech.data.tts_tokens import SampleRateMismatchError
from minispeech.dsp import MelConfig


class TTSDataset(torch.utils.data.Dataset):
    """Utterances of one TTS corpus split as tensors (module doc for the item's keys).

    mel_config: the model's front end; must equal the corpus's (SampleRateMismatchError or
        TTSDataError otherwise). None takes the corpus's (`dataset.mel_config`).
    with_waveform: also load the waveform; frame t of the mel is centred on sample
        t * hop_length of it (center=True).
    segment_frames: return a random segment of that many frames (mel_segment) and the
        samples [start * hop_length, (start + S) * hop_length) under it (waveform_segment),
        zero-padded past the end (mel padded with log(log_floor), silence). The start is
        drawn from (seed, epoch, index): call set_epoch(n) for new segments each epoch.
    """

    def __init__(
        self,
        folder: str | Path,
        split: str = "train",
        mel_config: MelConfig | None = None,
        with_waveform: bool = False,
        segment_frames: int | None = None,
        seed: int = 0,
    ) -> None:
        self.folder = Path(folder)
        self.data = load_tts_split(self.folder, split)
        self.mel_config = self.data.mel_config
        if mel_config is not None:
            check_sample_rate(self.mel_config, mel_config, "the mel_config given to TTSDataset")
        if segment_frames is not None and segment_frames < 1:
            raise ValueError(
                f"TTSDataset: segment_frames must be a positive number of frames, "
                f"got {segment_frames}"
            )
        self.with_waveform = with_waveform
        self.segment_frames = segment_frames
        self.seed = seed
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.data.rows)

    def lengths(self) -> list[int]:
        """T_mel of every utterance, for data.LengthBucketSampler."""
        return np.diff(self.data.frame_offsets).tolist()

    def _waveform(self, row: dict) -> np.ndarray:
        import soundfile

        # read_manifest already joined the row's relative path to the manifest's folder
        waveform, sample_rate = soundfile.read(row["audio"], dtype="float32")
        if sample_rate != self.mel_config.sample_rate:
            raise SampleRateMismatchError(
                f"{row['audio']}: {sample_rate} Hz, but the corpus's MelConfig says "
                f"{self.mel_config.sample_rate} Hz; rebuild the corpus"
            )
        return waveform

    def __getitem__(self, index: int) -> dict:
        data, row = self.data, self.data.rows[index]
        frames = slice(int(data.frame_offsets[index]), int(data.frame_offsets[index + 1]))
        tokens = slice(int(data.token_offsets[index]), int(data.token_offsets[index + 1]))
        item = {
            "tokens": torch.from_numpy(data.tokens[tokens].astype(np.int64)),
            "durations": torch.from_numpy(data.durations[tokens].astype(np.int64)),
            "phoneme_f0": torch.from_numpy(np.array(data.phoneme_f0[tokens])),
            "phoneme_energy": torch.from_numpy(np.array(data.phoneme_energy[tokens])),
            "mel": torch.from_numpy(np.array(data.mel[frames])),  # (T_mel, n_mels)
            "f0": torch.from_numpy(np.array(data.f0[frames])),
            "voiced": torch.from_numpy(np.array(data.voiced[frames])),
            "energy": torch.from_numpy(np.array(data.energy[frames])),
            "text": row["text"],
            "index": index,
        }
        if self.segment_frames is not None:
            item.update(self._segment(item["mel"], self._waveform(row), index))
        elif self.with_waveform:
            item["waveform"] = torch.from_numpy(self._waveform(row))
        return item

    def _segment(self, mel: torch.Tensor, waveform: np.ndarray, index: int) -> dict:
        """A random window of segment_frames frames and the waveform samples under it."""
        hop, length = self.mel_config.hop_length, self.segment_frames
        rng = np.random.default_rng((self.seed, self.epoch, index))
        start = int(rng.integers(0, max(1, len(mel) - length + 1)))
        mel_segment = torch.full((length, mel.shape[1]), float(np.log(self.mel_config.log_floor)))
        piece = mel[start : start + length]  # (<= S, n_mels)
        mel_segment[: len(piece)] = piece
        waveform_segment = torch.zeros(length * hop)
        samples = torch.from_numpy(waveform[start * hop : (start + length) * hop])
        waveform_segment[: len(samples)] = samples
        return {
            "mel_segment": mel_segment,
            "waveform_segment": waveform_segment,
            "segment_start": start,
        }


def tts_collate(items: list[dict]) -> dict:
    """Pad TTSDataset items into a batch (zeros past each length; token pad id 0 = <pad>).

    Returns tokens, durations, phoneme_f0, phoneme_energy (B, T_txt) + token_lengths (B,);
    mel (B, T_mel, n_mels), f0, voiced, energy (B, T_mel) + mel_lengths (B,); waveform
    (B, T_wav) + waveform_lengths when loaded; mel_segment (B, S, n_mels), waveform_segment
    (B, S * hop) and segment_starts (B,) when segmented; texts and indices.
    """
    batch = {"token_lengths": torch.tensor([len(item["tokens"]) for item in items])}
    for key in ("tokens", "durations", "phoneme_f0", "phoneme_energy"):
        batch[key] = pad_sequences([item[key] for item in items])
    batch["mel_lengths"] = torch.tensor([len(item["mel"]) for item in items])
    for key in ("mel", "f0", "voiced", "energy"):
        batch[key] = pad_sequences([item[key] for item in items])
    if "waveform" in items[0]:
        batch["waveform"] = pad_sequences([item["waveform"] for item in items])
        batch["waveform_lengths"] = torch.tensor([len(item["waveform"]) for item in items])
    if "mel_segment" in items[0]:
        batch["mel_segment"] = torch.stack([item["mel_segment"] for item in items])
        batch["waveform_segment"] = torch.stack([item["waveform_segment"] for item in items])
        batch["segment_starts"] = torch.tensor([item["segment_start"] for item in items])
    batch["texts"] = [item["text"] for item in items]
    batch["indices"] = torch.tensor([item["index"] for item in items])
    return batch
