"""torch Datasets over a JSONL manifest, padding collate, and length-bucketed batching.

SpeechDataset        one utterance -> waveform or log-mel (cached on disk), token ids, text
collate              pad a list of items into a batch with lengths
LengthBucketSampler  batches of similar length (less padding), shuffled per epoch, seeded
WaveformSegments     random fixed-length windows of manifest rows' waveforms (codec training)
feature_cache_path   where log-mels for a manifest and MelConfig are cached

Shapes   features (T_mel, n_mels) per item, (B, T_mel, n_mels) per batch; waveform (T_wav,);
         tokens (S,) per item, (B, S) per batch padded with the table's pad id.
Taught in lessons/00_setup_data_text.ipynb, section 4.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch

from minispeech.audio import load
from minispeech.data.augment import WaveformAugmentConfig, apply_augmentation, draw_augmentation
from minispeech.data.manifest import read_manifest
from minispeech.dsp import MelConfig, log_mel
from minispeech.text import characters, phonemes

TOKEN_KINDS = ("characters", "phonemes")
FEATURE_KINDS = ("log_mel", "waveform")


def feature_cache_path(manifest: str | Path, config: MelConfig) -> Path:
    """`<corpus>/features/<config hash>/<manifest stem>.npy`: one array for a whole manifest."""
    manifest = Path(manifest)
    key = hashlib.sha1(json.dumps(asdict(config), sort_keys=True).encode()).hexdigest()[:10]
    return manifest.parent / "features" / key / f"{manifest.stem}.npy"


def compute_features(rows: list[dict], config: MelConfig, progress: bool = True) -> list[np.ndarray]:
    """Log-mels (T_mel, n_mels) float32 of every row's audio, resampled to config.sample_rate."""
    from tqdm.auto import tqdm

    features = []
    for row in tqdm(rows, desc="log-mel features", unit="utt", disable=not progress):
        waveform, _ = load(row["audio"], sr=config.sample_rate)
        features.append(log_mel(waveform, config).T.astype(np.float32))  # (T_mel, n_mels)
    return features


def load_or_compute_features(
    manifest: str | Path, rows: list[dict], config: MelConfig, progress: bool = True
) -> list[np.ndarray]:
    """Cached log-mels for a manifest: computed once, then memory-mapped from disk.

    The cache holds all utterances concatenated along time plus their start offsets. It is
    written one utterance at a time (LibriSpeech's 100 h would not fit in memory twice),
    renamed into place atomically, and recomputed if it does not match the manifest.
    """
    from tqdm.auto import tqdm

    path = feature_cache_path(manifest, config)
    offsets_path = path.with_suffix(".offsets.npy")
    if path.is_file() and offsets_path.is_file():
        offsets = np.load(offsets_path)
        if len(offsets) == len(rows) + 1:
            stacked = np.load(path, mmap_mode="r")
            return [stacked[offsets[i] : offsets[i + 1]] for i in range(len(rows))]
    path.parent.mkdir(parents=True, exist_ok=True)
    raw_path = path.with_name(path.stem + f".{os.getpid()}.tmp.raw")  # float32 frames, appended
    offsets = [0]
    try:
        with open(raw_path, "wb") as raw:
            for row in tqdm(rows, desc="log-mel features", unit="utt", disable=not progress):
                waveform, _ = load(row["audio"], sr=config.sample_rate)
                feature = np.ascontiguousarray(log_mel(waveform, config).T, dtype=np.float32)  # (T_mel, n_mels)
                raw.write(feature.tobytes())
                offsets.append(offsets[-1] + len(feature))
        frames = np.memmap(raw_path, dtype=np.float32, mode="r", shape=(offsets[-1], config.n_mels))
        temporary = path.with_name(path.stem + f".{os.getpid()}.tmp.npy")
        stacked = np.lib.format.open_memmap(temporary, mode="w+", dtype=np.float32, shape=frames.shape)
        for start in range(0, len(frames), 1_000_000):  # copy in chunks of a million frames
            stacked[start : start + 1_000_000] = frames[start : start + 1_000_000]
        stacked.flush()
        del stacked, frames
        os.replace(temporary, path)
        temporary_offsets = offsets_path.with_name(offsets_path.stem + f".{os.getpid()}.tmp.npy")
        np.save(temporary_offsets, np.asarray(offsets, dtype=np.int64))
        os.replace(temporary_offsets, offsets_path)
    finally:
        raw_path.unlink(missing_ok=True)
        for leftover in path.parent.glob(f"*.{os.getpid()}.tmp.npy"):
            leftover.unlink(missing_ok=True)
    stacked = np.load(path, mmap_mode="r")
    return [stacked[offsets[i] : offsets[i + 1]] for i in range(len(rows))]


class SpeechDataset(torch.utils.data.Dataset):
    """Utterances of one manifest as tensors.

    features: "log_mel" (cached on disk next to the manifest) or "waveform"
    tokens:   "characters" (of normalized_text) or "phonemes" (eSpeak IPA)
    with_waveform: also load the waveform beside the log-mels (vocoders need both); frame t of
              the features is centred on sample t * hop_length of the waveform (center=True).
    waveform_augment: speed, room, noise, telephone (minispeech/data/augment.py; off by default).
              When on, each item's waveform is augmented and its log-mels computed on the fly
              (the cache is not used for items, only for lengths()); the draw depends on
              (augment_seed, epoch, index) only: call set_epoch(n) each epoch, as for the sampler.
              precompute_augmentations(K) computes the draws of K epochs once, in parallel, and
              reuses them (epoch e reads draw e % K): training never waits for augmentation.
    Each item: {"features" (T_mel, n_mels) and/or "waveform" (T_wav,), "tokens" (S,), "text",
    "speaker", "speaker_id", "index"}. Features are time first, (T_mel, n_mels), the layout every
    model takes; minispeech.dsp.log_mel returns (n_mels, T_mel) and the dataset transposes it.
    """

    def __init__(
        self,
        manifest: str | Path,
        features: str = "log_mel",
        tokens: str = "characters",
        mel_config: MelConfig | None = None,
        max_items: int | None = None,
        progress: bool = True,
        with_waveform: bool = False,
        waveform_augment: WaveformAugmentConfig | None = None,
        augment_seed: int = 0,
    ) -> None:
        if features not in FEATURE_KINDS:
            raise ValueError(f"features must be one of {FEATURE_KINDS}, got {features!r}")
        if tokens not in TOKEN_KINDS:
            raise ValueError(f"tokens must be one of {TOKEN_KINDS}, got {tokens!r}")
        self.manifest = Path(manifest)
        self.rows = read_manifest(manifest)[:max_items]
        if not self.rows:
            raise ValueError(f"{manifest}: the manifest has no utterances")
        self.feature_kind = features
        self.with_waveform = with_waveform or features == "waveform"
        self.token_kind = tokens
        self.waveform_augment = waveform_augment or WaveformAugmentConfig()
        self.augment_seed, self.epoch = augment_seed, 0
        self.augmented: list[list[np.ndarray]] | None = None  # precompute_augmentations() fills it
        self.mel_config = mel_config or MelConfig()
        self.symbols = characters() if tokens == "characters" else phonemes()
        self.speakers = sorted({row["speaker"] for row in self.rows})
        self.token_ids = [self._encode(row) for row in self.rows]
        self.features = None
        if features == "log_mel":
            if max_items is None:
                self.features = load_or_compute_features(
                    manifest, self.rows, self.mel_config, progress=progress
                )
            else:  # a subset: compute without touching the whole-manifest cache
                self.features = compute_features(self.rows, self.mel_config, progress=progress)

    def _encode(self, row: dict) -> list[int]:
        text = row["phonemes"] if self.token_kind == "phonemes" else row.get("normalized_text")
        if text is None:
            from minispeech.text import normalize

            text = normalize(row["text"])
        try:
            return self.symbols.encode(text)
        except ValueError as error:
            raise ValueError(f"{self.manifest}: utterance {row.get('id', row['audio'])}: {error}") from None

    def __len__(self) -> int:
        return len(self.rows)

    def lengths(self) -> list[int]:
        """Length of each item in frames (log_mel) or samples (waveform), for bucketing."""
        if self.features is not None:
            return [len(feature) for feature in self.features]
        return [round(row["duration"] * row["sample_rate"]) for row in self.rows]

    def set_epoch(self, epoch: int) -> None:
        """A new, reproducible draw of waveform augmentations for every item."""
        self.epoch = epoch

    def _augmented_waveform(self, index: int) -> np.ndarray:
        """Item index's waveform (T_wav',) through the augmentations drawn for (seed, epoch, index)."""
        return augmented_waveform(self.rows, index, self.mel_config.sample_rate, self.waveform_augment,
                                  (self.augment_seed, self.epoch, index))  # fmt: skip

    def precompute_augmentations(self, epochs: int, workers: int | None = None, progress: bool = True) -> None:
        """Draw and compute the augmented log-mels of epochs 0 .. epochs-1 now, in `workers` processes
        (default: all cores), and reuse them from then on: epoch e reads the draws of epoch e % epochs.

        On-the-fly augmentation costs about 15 ms per utterance (augment + log-mel), as long as a
        training step on 2 cores; precomputed, a step never waits for it. Kaldi's speed perturbation
        is the same idea with 3 fixed copies (0.9x, 1.0x, 1.1x); here each copy is a full random draw.
        Memory: epochs x the clean features, stored as float16.
        """
        if not self.waveform_augment.enabled or self.features is None:
            raise ValueError("precompute_augmentations: needs log-mel features and a waveform_augment config "
                             "with an augmentation switched on")  # fmt: skip
        if epochs < 1:
            raise ValueError(f"precompute_augmentations: epochs must be >= 1, got {epochs}")
        import concurrent.futures
        import multiprocessing

        from tqdm.auto import tqdm

        workers = workers or os.cpu_count() or 1
        chunks = [range(start, min(start + 100, len(self))) for start in range(0, len(self), 100)]
        tasks = [(self.rows, list(chunk), self.mel_config, self.waveform_augment, self.augment_seed, epoch)
                 for epoch in range(epochs) for chunk in chunks]  # fmt: skip
        computed: list[list[np.ndarray]] = []
        bar = tqdm(total=epochs * len(self), desc="augmenting", unit="utt", disable=not progress)
        context = multiprocessing.get_context("spawn")  # safe beside torch's threads, on every OS
        with concurrent.futures.ProcessPoolExecutor(workers, mp_context=context) as pool:
            for features in pool.map(_augmented_features, tasks):
                computed.extend(features)
                bar.update(len(features))
        bar.close()
        self.augmented = [computed[epoch * len(self) : (epoch + 1) * len(self)] for epoch in range(epochs)]

    def __getitem__(self, index: int) -> dict:
        row = self.rows[index]
        item = {
            "tokens": torch.tensor(self.token_ids[index], dtype=torch.long),
            "text": row.get("normalized_text", row["text"]),
            "speaker": row["speaker"],
            "speaker_id": self.speakers.index(row["speaker"]),
            "index": index,
        }
        if self.augmented is not None and not self.with_waveform:  # precomputed draws, reused cyclically
            features = self.augmented[self.epoch % len(self.augmented)][index]
            item["features"] = torch.from_numpy(features.astype(np.float32))  # (T_mel, n_mels)
        elif self.waveform_augment.enabled:  # augment the waveform, then compute its log-mels
            waveform = self._augmented_waveform(index)
            if self.features is not None:
                features = np.ascontiguousarray(log_mel(waveform, self.mel_config).T, dtype=np.float32)
                item["features"] = torch.from_numpy(features)  # (T_mel, n_mels)
        elif self.features is not None:
            item["features"] = torch.from_numpy(np.array(self.features[index]))  # (T_mel, n_mels)
        if self.with_waveform:
            if not self.waveform_augment.enabled:  # else the augmented one above
                waveform, _ = load(row["audio"], sr=self.mel_config.sample_rate)
            item["waveform"] = torch.from_numpy(waveform)  # (T_wav,)
        return item


def augmented_waveform(
    rows: list[dict], index: int, sample_rate: int, config: WaveformAugmentConfig, seed: tuple
) -> np.ndarray:
    """rows[index]'s waveform (T_wav',) at sample_rate through the augmentations drawn from `seed`
    (babble noise mixes in other rows' audio)."""
    rng = np.random.default_rng(seed)
    draw = draw_augmentation(config, rng)
    offsets = rng.integers(1, len(rows), draw.babble_talkers) if draw.babble_talkers else []
    others = [(index + offset) % len(rows) for offset in offsets]  # babble: other utterances
    talkers = [load(rows[other]["audio"], sr=sample_rate)[0] for other in others]
    waveform, _ = load(rows[index]["audio"], sr=sample_rate)
    return apply_augmentation(waveform, sample_rate, draw, config, rng, talkers)


def _augmented_features(task: tuple) -> list[np.ndarray]:
    """One chunk of SpeechDataset.precompute_augmentations, in a worker process: float16 log-mels."""
    rows, indices, mel_config, config, seed, epoch = task
    return [log_mel(augmented_waveform(rows, i, mel_config.sample_rate, config, (seed, epoch, i)), mel_config)
            .T.astype(np.float16) for i in indices]  # fmt: skip


def pad_sequences(sequences: list[torch.Tensor], value: float = 0.0) -> torch.Tensor:
    """Stack (T_i, ...) tensors into (B, T_max, ...), padding the end with `value`."""
    longest = max(len(sequence) for sequence in sequences)
    shape = (len(sequences), longest, *sequences[0].shape[1:])
    batch = sequences[0].new_full(shape, value)
    for i, sequence in enumerate(sequences):
        batch[i, : len(sequence)] = sequence
    return batch


def collate(items: list[dict], pad_id: int = 0) -> dict:
    """Pad a list of SpeechDataset items into a batch; lengths say where padding starts.

    Returns {"features" (B, T_mel, n_mels) and "feature_lengths" (B,)} and/or {"waveform"
    (B, T_wav) and "waveform_lengths" (B,)}, plus "tokens" (B, S), "token_lengths" (B,),
    "speaker_ids" (B,), "texts", "speakers", "indices".
    """
    batch = {
        "tokens": pad_sequences([item["tokens"] for item in items], value=pad_id),
        "token_lengths": torch.tensor([len(item["tokens"]) for item in items]),
        "speaker_ids": torch.tensor([item["speaker_id"] for item in items]),
        "texts": [item["text"] for item in items],
        "speakers": [item["speaker"] for item in items],
        "indices": [item["index"] for item in items],
    }
    for key in ("features", "waveform"):
        if key in items[0]:
            batch[key] = pad_sequences([item[key] for item in items])
            length_key = "feature_lengths" if key == "features" else "waveform_lengths"
            batch[length_key] = torch.tensor([len(item[key]) for item in items])
    return batch


class LengthBucketSampler(torch.utils.data.Sampler):
    """Batches of indices with similar lengths: sort within shuffled pools, then shuffle batches.

    A batch holds at most `batch_size` items and, if `max_total_length` is given, at most
    that many frames (or samples) counted as batch_size x longest item.
    Call set_epoch(n) before each epoch for a different, reproducible order.
    """

    def __init__(
        self,
        lengths: list[int],
        batch_size: int,
        max_total_length: int | None = None,
        shuffle: bool = True,
        seed: int = 0,
        pool_factor: int = 50,
    ) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        self.lengths = list(lengths)
        self.batch_size = batch_size
        self.max_total_length = max_total_length
        self.shuffle = shuffle
        self.seed = seed
        self.pool_size = batch_size * pool_factor
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def _batches(self) -> list[list[int]]:
        generator = random.Random(self.seed + self.epoch)
        indices = list(range(len(self.lengths)))
        if self.shuffle:
            generator.shuffle(indices)
        batches = []
        for start in range(0, len(indices), self.pool_size):
            pool = sorted(indices[start : start + self.pool_size], key=lambda i: self.lengths[i])
            batch: list[int] = []
            for index in pool:
                longest = max([self.lengths[i] for i in batch] + [self.lengths[index]])
                too_long = (
                    self.max_total_length is not None
                    and batch
                    and longest * (len(batch) + 1) > self.max_total_length
                )
                if len(batch) == self.batch_size or too_long:
                    batches.append(batch)
                    batch = []
                batch.append(index)
            if batch:
                batches.append(batch)
        if self.shuffle:
            generator.shuffle(batches)
        return batches

    def __iter__(self):
        return iter(self._batches())

    def __len__(self) -> int:
        return len(self._batches())


class WaveformSegments(torch.utils.data.Dataset):
    """Random windows of segment_samples samples from the waveforms of manifest rows, for models that
    train on audio alone (lesson 11's codec).

    rows: manifest rows (read_manifest), loaded at sample_rate (resampled when a file's rate differs).
    Item i: {"waveform_segment" (segment_samples,) float32, "speaker", "index"}: a window of utterance i
    starting at a random sample, zero-padded at its end when the utterance is shorter. The start depends on
    (seed, epoch, i) only: call set_epoch(n) each epoch for new windows; the same epoch gives the same ones.
    The default collate stacks items into {"waveform_segment" (B, segment_samples), ...}.
    """

    def __init__(self, rows: list[dict], sample_rate: int, segment_samples: int, seed: int = 0) -> None:
        if not rows:
            raise ValueError("WaveformSegments: rows is empty; pass manifest rows (read_manifest(path))")
        if segment_samples < 1:
            raise ValueError(f"WaveformSegments: segment_samples must be >= 1, got {segment_samples}")
        self.rows, self.sample_rate, self.segment_samples = list(rows), sample_rate, segment_samples
        self.seed, self.epoch = seed, 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, index: int) -> dict:
        row = self.rows[index]
        waveform, _ = load(row["audio"], sr=self.sample_rate)  # (T_wav,)
        spare = len(waveform) - self.segment_samples
        start = int(np.random.default_rng((self.seed, self.epoch, index)).integers(spare + 1)) if spare > 0 else 0
        segment = np.zeros(self.segment_samples, np.float32)
        window = waveform[start : start + self.segment_samples]
        segment[: len(window)] = window
        return {"waveform_segment": torch.from_numpy(segment), "speaker": row["speaker"], "index": index}
