"""The TTS corpus: one eSpeak voice, ~3,300 sentences, exact phoneme durations, pitch and energy.

build_tts_corpus   synthesize, then precompute every target; same seed -> same bytes
tts_corpus         the corpus folder, built on first use (or a clear error naming the command)
load_tts_split     one split's arrays, memory-mapped, with its manifest rows (TTSSplit)
TTSCorpusConfig    how many sentences: preset "full" (lessons) or "small" (tests, seconds)
plan_tts_jobs      the sentences (none from the tiny corpus; commas, questions, exclamations)
tts_targets        one utterance's tokens, durations, log-mel, f0, energy
check_sample_rate  a model's MelConfig against the corpus's (SampleRateMismatchError)

The voice is tts_tokens.TTS_SPEAKER (us_m1, en-us+m1), a training voice of the tiny corpus,
so the lesson-04/06 recognizers have heard it. Tokens and the duration rounding rule: tts_tokens.

Layout (<root>/tts, per split train/valid/test): <split>.jsonl (the tiny corpus's row format
plus "symbols" and "n_frames"); <split>/*.npy, every utterance concatenated, memory-mappable:
    mel (ΣT_mel, n_mels) float32 log-mel; f0 (ΣT_mel,) float32 Hz, 0 where unvoiced;
    voiced (ΣT_mel,) bool; energy (ΣT_mel,) float32 RMS; frame_offsets (N + 1,) int64;
    tokens (ΣP,) int16; durations (ΣP,) int32 frames; phoneme_f0 (ΣP,) float32 (mean over
    the phoneme's voiced frames, 0 if none); phoneme_energy (ΣP,) float32; token_offsets (N + 1,)
stats.json: normalization statistics of the train split; corpus.json: config, MelConfig,
counts, symbols. Build with `python -m minispeech.data tts`. Taught in lessons/07 (section 1).
"""

from __future__ import annotations

import json
import random
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np

from minispeech.data.corpus import (
    CorpusConfig,
    Job,
    default_data_root,
    find_or_build,
    finish_build,
    start_build,
    synthesize_chunk,
    synthesize_in_chunks,
    write_summary,
)
from minispeech.data.tts_tokens import (
    TTS_SPEAKER,
    TTS_SYMBOLS,
    DurationMismatchError,
    PhonemeAlignmentError,
    SampleRateMismatchError,
    TTSDataError,
    align_tokens,
    encode_text,
    phonemize_slots,
    symbol_ids,
)
from minispeech.dsp import MelConfig

TTS_CORPUS_NAME = "tts"
TTS_CORPUS_VERSION = 1
TTS_BUILD_COMMAND = "python -m minispeech.data tts"
TTS_SPLITS = ("train", "valid", "test")
YIN_FMIN, YIN_FMAX = 60.0, 400.0  # Hz: the voice speaks at about 70-120 Hz (stats.json)
# eSpeak's voices have jitter ("roughness"): at YIN's usual 0.1 only ~1 voiced frame in 6 passes;
# at 0.3 YIN voices ~2/3 of what librosa.pyin does, 96-98 % within 50 cents, no octave errors.
YIN_THRESHOLD = 0.3


# --------------------------------------------------------------------------------------------
# Sentences and the build
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TTSCorpusConfig:
    """How many sentences of the one voice. `full` is the lesson corpus; `small` is for tests."""

    seed: int = 4321
    train: int = 3000
    valid: int = 100
    test: int = 200
    variety: float = 0.3  # share of sentences given a lead-in comma, a tag question or a "!"

    @classmethod
    def preset(cls, name: str) -> TTSCorpusConfig:
        presets = {"full": cls(), "small": cls(train=24, valid=4, test=8)}
        if name not in presets:
            raise ValueError(f"unknown TTS corpus size {name!r}: choose one of {sorted(presets)}")
        return presets[name]


_LEAD_INS = ("Well, ", "Oh, ", "Yes, ", "No, ", "Actually, ", "Look, ", "So, ", "Honestly, ")
_LOWERCASE_STARTS = {
    "The", "A", "An", "My", "Our", "Your", "His", "Her", "Their", "This", "That", "Some", "Every",
    "What", "Why", "How", "Where", "When", "Who", "Which", "Is", "Are", "Do", "Does", "Did", "Can",
    "Will", "It", "We", "They", "She", "He", "You", "There", "Please",
}  # fmt: skip


def _with_variety(sentence: str, rng: random.Random) -> str:
    """Commas, questions and exclamations that change prosody, added deterministically."""
    choice = rng.random()
    if choice < 0.5:  # a lead-in: "Well, the cat sat."
        first, _, rest = sentence.partition(" ")
        first = first.lower() if first in _LOWERCASE_STARTS else first
        return rng.choice(_LEAD_INS) + first + (" " + rest if rest else "")
    if choice < 0.8 and sentence.endswith("."):  # a tag question
        return sentence[:-1] + rng.choice((", right?", ", isn't it?", ", don't you think?"))
    if sentence.endswith("."):
        return sentence[:-1] + "!"
    return sentence


def plan_tts_jobs(config: TTSCorpusConfig) -> list[Job]:
    """Every utterance in a fixed order: sentences of no tiny-corpus split, split disjointly."""
    from minispeech.data.corpus import plan_jobs
    from minispeech.data.sentences import generate_sentences

    tiny_sentences = {text for _, _, text, _ in plan_jobs(CorpusConfig())}
    counts = {"train": config.train, "valid": config.valid, "test": config.test}
    wanted = sum(counts.values())
    candidates = generate_sentences(wanted + len(tiny_sentences) + 100, seed=config.seed)
    sentences = [sentence for sentence in candidates if sentence not in tiny_sentences][:wanted]
    rng = random.Random(config.seed)
    sentences = [_with_variety(s, rng) if rng.random() < config.variety else s for s in sentences]
    jobs: list[Job] = []
    start = 0
    for split, count in counts.items():
        for index, text in enumerate(sentences[start : start + count]):
            jobs.append((split, f"{split}_{index:05d}", text, TTS_SPEAKER))
        start += count
    return jobs


def tts_targets(row: dict, folder: str, mel: MelConfig) -> dict:
    """Every target of one synthesized row: tokens, durations, log-mel, f0, energy (module doc)."""
    import soundfile

    from minispeech.dsp import energy, log_mel, yin
    from minispeech.text import normalize

    waveform, sample_rate = soundfile.read(Path(folder) / row["audio"], dtype="float32")
    if sample_rate != mel.sample_rate:
        raise SampleRateMismatchError(
            f"{row['audio']}: {sample_rate} Hz audio, but the MelConfig expects "
            f"{mel.sample_rate} Hz"
        )
    spoken = normalize(row["text"])
    symbols, durations = align_tokens(
        spoken,
        phonemize_slots(spoken, row["voice"]),
        row["alignment"]["phonemes"],
        len(waveform),
        mel.hop_length,
    )
    if symbols != encode_text(row["text"], row["voice"])[0]:
        raise PhonemeAlignmentError(f"{row['id']}: the stored tokens differ from encode_text's")
    features = log_mel(waveform, mel).T.astype(np.float32)  # (T_mel, n_mels)
    f0, voiced = yin(
        waveform, mel.sample_rate, YIN_FMIN, YIN_FMAX, mel.win_length, mel.hop_length, YIN_THRESHOLD
    )
    frame_energy = energy(waveform, mel.win_length, mel.hop_length)  # (T_mel,)
    if not len(features) == len(f0) == len(frame_energy) == int(durations.sum()):
        raise DurationMismatchError(
            f"{row['id']}: {len(features)} mel frames, {len(f0)} f0 frames, "
            f"durations sum to {durations.sum()}"
        )
    phoneme_f0, phoneme_energy = phoneme_averages(f0, voiced, frame_energy, durations)
    return {
        "symbols": symbols,
        "tokens": np.asarray(symbol_ids(symbols), np.int16),
        "durations": durations,
        "mel": features,
        "f0": f0.astype(np.float32),
        "voiced": voiced,
        "energy": frame_energy.astype(np.float32),
        "phoneme_f0": phoneme_f0,
        "phoneme_energy": phoneme_energy,
    }


def phoneme_averages(
    f0: np.ndarray, voiced: np.ndarray, frame_energy: np.ndarray, durations: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Frame-level f0, voiced, energy (T_mel,) and durations (T_txt,) summing to T_mel -> each
    token's mean F0 over its voiced frames (0 if none) and mean energy (0 for 0 frames), float32
    (T_txt,) each: the corpus's phoneme_f0 and phoneme_energy, or the same under other durations
    (lesson 08 recomputes them for durations found by an aligner)."""
    durations = np.asarray(durations, np.int64)
    if durations.ndim != 1 or (durations < 0).any() or durations.sum() != len(f0):
        raise DurationMismatchError(
            f"phoneme_averages: durations (>= 0) must sum to the {len(f0)} frames, got sum "
            f"{durations.sum()} of shape {durations.shape}"
        )
    starts = np.concatenate([[0], np.cumsum(durations)[:-1]])
    phoneme_f0 = np.zeros(len(durations), np.float32)
    phoneme_energy = np.zeros(len(durations), np.float32)
    for index, (start, length) in enumerate(zip(starts, durations, strict=True)):
        span = slice(start, start + length)
        if length > 0:
            phoneme_energy[index] = frame_energy[span].mean()
            if voiced[span].any():
                phoneme_f0[index] = f0[span][voiced[span]].mean()
    return phoneme_f0, phoneme_energy


def synthesize_tts_chunk(
    jobs: list[Job], folder: str, seed: int, mel: dict
) -> list[tuple[dict, dict]]:
    """Synthesize a chunk like the tiny corpus (fresh process), then compute its targets."""
    rows = synthesize_chunk(jobs, folder, seed)
    config = MelConfig.from_dict(mel)
    return [(row, tts_targets(row, folder, config)) for row in rows]


FRAME_ARRAYS = ("mel", "f0", "voiced", "energy")
TOKEN_ARRAYS = ("tokens", "durations", "phoneme_f0", "phoneme_energy")


def _write_split(folder: Path, split: str, results: list[tuple[dict, dict]]) -> None:
    from minispeech.data.manifest import write_manifest

    (folder / split).mkdir()
    for names, offsets_name, length_of in (
        (FRAME_ARRAYS, "frame_offsets", lambda t: len(t["mel"])),
        (TOKEN_ARRAYS, "token_offsets", lambda t: len(t["tokens"])),
    ):
        lengths = [length_of(targets) for _, targets in results]
        np.save(
            folder / split / f"{offsets_name}.npy",
            np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64),
        )
        for name in names:
            np.save(
                folder / split / f"{name}.npy",
                np.concatenate([targets[name] for _, targets in results]),
            )
    rows = [
        dict(row, symbols=targets["symbols"], n_frames=len(targets["mel"]))
        for row, targets in results
    ]
    write_manifest(folder / f"{split}.jsonl", rows)


def _statistics(folder: Path) -> dict:
    """Normalization statistics of the train split (FastSpeech 2 normalizes pitch and energy)."""
    split = load_tts_split(folder, "train")
    voiced_f0 = np.asarray(split.f0[split.voiced], np.float64)

    def moments(values: np.ndarray) -> dict:
        values = np.asarray(values, np.float64)
        statistics = {
            "mean": values.mean(),
            "std": values.std(),
            "min": values.min(),
            "max": values.max(),
        }
        return {name: float(value) for name, value in statistics.items()}

    mel = split.mel  # (ΣT_mel, n_mels), memory-mapped; statistics accumulate in float64
    return {
        "mel_mean": [round(value, 6) for value in mel.mean(axis=0, dtype=np.float64).tolist()],
        "mel_std": [round(value, 6) for value in mel.std(axis=0, dtype=np.float64).tolist()],
        "f0_voiced_hz": moments(voiced_f0),
        "log_f0_voiced": moments(np.log(voiced_f0)),
        "energy": moments(split.energy),
        "phoneme_f0_voiced_hz": moments(split.phoneme_f0[split.phoneme_f0 > 0]),
        "phoneme_energy": moments(split.phoneme_energy),
        "frames": int(len(mel)),
        "hours": round(len(mel) / (3600 * MelConfig().frames_per_second), 3),
    }


def build_tts_corpus(
    out: str | Path | None = None,
    config: TTSCorpusConfig | None = None,
    workers: int | None = None,
    progress: bool = True,
    mel: MelConfig | None = None,
) -> Path:
    """Build the TTS corpus into `out` (default: default_data_root()/tts) and return its path.

    Like build_tiny_corpus: into `<out>.partial`, renamed at the end; a complete corpus with
    the same config is left as it is; chunks in fresh processes make the bytes reproducible.
    """
    config = config or TTSCorpusConfig()
    mel = mel or MelConfig()
    out = Path(out) if out is not None else default_data_root() / TTS_CORPUS_NAME
    info = {
        "name": TTS_CORPUS_NAME,
        "version": TTS_CORPUS_VERSION,
        "config": asdict(config),
        "mel": mel.to_dict(),
    }
    partial = start_build(out, info, TTS_CORPUS_VERSION)
    if partial is None:
        return out
    results = synthesize_in_chunks(synthesize_tts_chunk, plan_tts_jobs(config), partial, config.seed, workers,
                                   progress, mel.to_dict())  # fmt: skip
    for split in TTS_SPLITS:
        _write_split(partial, split, [result for result in results if result[0]["split"] == split])
    summary = dict(info)
    summary["counts"] = {
        split: sum(row["split"] == split for row, _ in results) for split in TTS_SPLITS
    }
    summary["speaker"] = asdict(TTS_SPEAKER)
    summary["symbols"] = list(TTS_SYMBOLS)
    write_summary(partial, summary)  # _statistics reads the split layout from it
    (partial / "stats.json").write_text(
        json.dumps(_statistics(partial), indent=1, sort_keys=True) + "\n"
    )
    return finish_build(partial, out)


def tts_corpus(root: str | Path | None = None, build_if_missing: bool = True) -> Path:
    """The TTS corpus folder, building it (a few minutes on 2 cores) if it is missing.

    With build_if_missing=False a missing corpus raises FileNotFoundError naming the command.
    """
    folder = Path(root) if root is not None else default_data_root() / TTS_CORPUS_NAME
    return find_or_build(folder, TTS_CORPUS_VERSION, build_tts_corpus, "TTS corpus", TTS_BUILD_COMMAND, build_if_missing)


def mel_statistics(folder: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """The per-band mean and std (n_mels,) float32 of the train split's log-mels, from the
    corpus's stats.json: the scale the TTS models normalize their mels to."""
    path = Path(folder) / "stats.json"
    if not path.exists():
        raise FileNotFoundError(f"{path}: no statistics; rebuild the TTS corpus with `{TTS_BUILD_COMMAND}`")
    statistics = json.loads(path.read_text())
    return np.array(statistics["mel_mean"], np.float32), np.array(statistics["mel_std"], np.float32)


class TTSSplit(NamedTuple):
    """One split: manifest rows and memory-mapped arrays (module doc); utterance i spans
    frame_offsets[i]:frame_offsets[i + 1] of the frame arrays, token_offsets likewise."""

    rows: list[dict]
    mel_config: MelConfig
    mel: np.ndarray
    f0: np.ndarray
    voiced: np.ndarray
    energy: np.ndarray
    frame_offsets: np.ndarray
    tokens: np.ndarray
    durations: np.ndarray
    phoneme_f0: np.ndarray
    phoneme_energy: np.ndarray
    token_offsets: np.ndarray


def load_tts_split(folder: str | Path, split: str) -> TTSSplit:
    """Read a split of a built TTS corpus; the arrays are memory-mapped (read-only)."""
    from minispeech.data.manifest import read_manifest

    folder = Path(folder)
    if split not in TTS_SPLITS:
        raise ValueError(f"load_tts_split: split must be one of {TTS_SPLITS}, got {split!r}")
    if not (folder / "corpus.json").is_file():
        raise FileNotFoundError(
            f"no TTS corpus at {folder}: build it with `{TTS_BUILD_COMMAND} --out {folder}`"
        )
    info = json.loads((folder / "corpus.json").read_text())
    arrays = {
        name: np.load(folder / split / f"{name}.npy", mmap_mode="r")
        for name in (*FRAME_ARRAYS, "frame_offsets", *TOKEN_ARRAYS, "token_offsets")
    }
    return TTSSplit(
        rows=read_manifest(folder / f"{split}.jsonl"),
        mel_config=MelConfig.from_dict(info["mel"]),
        **arrays,
    )


def check_sample_rate(
    corpus_mel: MelConfig, model_mel: MelConfig, model_name: str = "the model"
) -> None:
    """SampleRateMismatchError (or TTSDataError) unless a model's MelConfig equals the corpus's."""
    if corpus_mel.sample_rate != model_mel.sample_rate:
        raise SampleRateMismatchError(
            f"{model_name} works at {model_mel.sample_rate} Hz but the corpus at "
            f"{corpus_mel.sample_rate} Hz; build the model with the corpus's MelConfig "
            f"(load_tts_split(...).mel_config) or rebuild the corpus with "
            f"mel=MelConfig(sample_rate=...)"
        )
    if corpus_mel != model_mel:
        raise TTSDataError(
            f"{model_name}'s MelConfig {model_mel} differs from the corpus's {corpus_mel}; "
            f"use the corpus's (load_tts_split(...).mel_config)"
        )
