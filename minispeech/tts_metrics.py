"""How good is synthesized speech? The measurement kit every TTS lesson (07-12) reports.

mel_cepstrum               c0..cN of a log-mel: the cepstrum of the mel-warped log spectrum
mel_cepstral_distortion    MCD in dB over the DTW path of the two utterances (c0 excluded)
f0_track                   YIN f0 and voicing on the mel frames of a MelConfig
f0_errors                  F0 RMSE in cents over frames voiced in both, and the voicing error
log_spectral_distance      LSD in dB between two magnitude spectrograms
duration_errors            per-phoneme duration error in ms against the truth, total-length ratio
real_time_factor           compute seconds / audio seconds, warm-up excluded, threads stated
speaker_similarity         cosine of speaker embeddings (lesson 12's speaker encoder fills it)
intelligibility            CER/WER of the project's own recognizer (lesson 06's, else lesson 04's)
load_judge                 that recognizer, or FileNotFoundError naming the lesson to run

The table, figure and listening grid built on these are in minispeech.tts_report.

Conventions. Spectral inputs are frequency first like every dsp transform: log-mel
(n_mels, T_mel) from dsp.log_mel (natural log of the magnitude mel), magnitudes (n_freqs,
T_mel). Two utterances of different lengths are compared along a DTW path (L, 2) of frame
pairs (reference frame, synthesized frame), the one mel_cepstral_distortion returns; pass it
to f0_errors and log_spectral_distance so that every number is measured on the same pairs.

MCD scale. eSpeak-era papers compute mel-cepstra with SPTK (all-pass warping); we take the
DCT of our log-mel instead, scaled so that a log spectrum c0 + 2 Σ c_d cos(d ω) gives back
c_d (the real cepstrum on the mel axis), then MCD = 10 √2 / ln 10 · ||Δc_1..N||₂ per frame
pair, averaged over the path. The numbers land in the usual range (a few dB) and compare
across this project's systems; they are not bit-comparable with SPTK-based tables.

This module imports only NumPy at import time (the recognizer and torch load inside
intelligibility). Taught in lessons/07_tacotron2.ipynb (section 1) and used by lessons 08-12.
"""

from __future__ import annotations

import math
import os
import sys
import time
from collections.abc import Callable, Sequence
from typing import NamedTuple

import numpy as np

from minispeech.dsp import MelConfig

MCD_CONSTANT = 10.0 * math.sqrt(2.0) / math.log(10.0)  # dB per neper of cepstral distance, ≈ 6.14
DEFAULT_CEPSTRAL_ORDER = 24  # c1..c24, SPTK's usual order for 22 kHz speech


class MCDResult(NamedTuple):
    mcd_db: float  # mean over the path of 10 √2 / ln10 · ||c_ref - c_syn|| (c1..cN)
    path: np.ndarray  # (L, 2) int64 frame pairs (reference, synthesized), start to end
    frame_distortions_db: np.ndarray  # (L,) the distortion of each pair


class F0Result(NamedTuple):
    rmse_cents: float  # over pairs voiced in both; nan when no pair is
    voicing_error: float  # fraction of pairs whose voiced flags differ
    n_voiced_pairs: int  # pairs voiced in both (the RMSE's support)


class DurationResult(NamedTuple):
    mean_absolute_ms: float  # mean over phonemes of |predicted - reference| in ms
    errors_ms: np.ndarray  # (N,) signed predicted - reference per phoneme, ms
    total_length_ratio: float  # sum(predicted) / sum(reference): > 1 speaks too slowly


class RTFResult(NamedTuple):
    real_time_factor: float  # compute seconds / audio seconds: < 1 is faster than real time
    compute_seconds: float  # wall clock of the timed calls (warm-up excluded)
    audio_seconds: float  # audio those calls produced
    threads: str  # what the timing ran on, e.g. "torch threads 2 of 2 cores"


class IntelligibilityResult(NamedTuple):
    cer: float
    wer: float
    hypotheses: list[str]  # the recognizer's transcripts, punctuation removed
    references: list[str]  # normalize(text), punctuation removed
    recognizer: str  # which model judged, e.g. "TransformerASR (lesson 06)"


# --------------------------------------------------------------------------------------------
# Spectral distances
# --------------------------------------------------------------------------------------------


def _check_features(features: np.ndarray, name: str, caller: str) -> np.ndarray:
    features = np.asarray(features, dtype=np.float64)
    if features.ndim != 2 or features.shape[0] == 0 or features.shape[1] == 0:
        raise ValueError(
            f"{caller}: {name} must be a non-empty (n_bins, T_mel) array, frequency first "
            f"like dsp.log_mel, got shape {features.shape}; a model's (T_mel, n_mels) needs .T"
        )
    if not np.isfinite(features).all():
        raise ValueError(f"{caller}: {name} contains NaN or inf; check the model output")
    return features


def mel_cepstrum(
    log_mel_features: np.ndarray, n_coefficients: int = DEFAULT_CEPSTRAL_ORDER
) -> np.ndarray:
    """Mel-cepstra c0..c_n (n_coefficients + 1, T_mel) of a natural-log mel (n_mels, T_mel).

    c_d = DCT-II(log-mel)_d / (2 n_mels) (the unnormalized DCT): if the log spectrum on the
    mel axis is c0 + 2 Σ_d c_d cos(d ω), this gives c_d back. Lesson 07.
    """
    from minispeech.dsp import dct

    features = _check_features(log_mel_features, "log_mel_features", "mel_cepstrum")
    n_mels = features.shape[0]
    if not 1 <= n_coefficients < n_mels:
        raise ValueError(
            f"mel_cepstrum: n_coefficients must be in [1, n_mels - 1 = {n_mels - 1}], "
            f"got {n_coefficients}"
        )
    return dct(features, n=n_coefficients + 1, axis=0, norm=None) / (2.0 * n_mels)


def mel_cepstral_distortion(
    reference_log_mel: np.ndarray,
    synthesized_log_mel: np.ndarray,
    n_coefficients: int = DEFAULT_CEPSTRAL_ORDER,
    align: str = "dtw",
) -> MCDResult:
    """MCD in dB between two log-mels (n_mels, T_ref) and (n_mels, T_syn), c0 excluded.

    align="dtw": the frames are paired along minispeech.dp.dtw's cheapest path through the
    Euclidean cepstral distances (lengths may differ); align="none": frame t with frame t
    (lengths must be equal). 0 on identical input; symmetric up to DTW ties. Lesson 07.
    """
    from minispeech.dp import dtw

    if align not in ("dtw", "none"):
        raise ValueError(f"mel_cepstral_distortion: align must be 'dtw' or 'none', got {align!r}")
    reference = _check_features(reference_log_mel, "reference_log_mel", "mel_cepstral_distortion")
    synthesized = _check_features(
        synthesized_log_mel, "synthesized_log_mel", "mel_cepstral_distortion"
    )
    if reference.shape[0] != synthesized.shape[0]:
        raise ValueError(
            f"mel_cepstral_distortion: the log-mels have {reference.shape[0]} and "
            f"{synthesized.shape[0]} mel bands; compute both with the same MelConfig"
        )
    reference_cepstra = mel_cepstrum(reference, n_coefficients)[1:]  # (N, T_ref), c0 dropped
    synthesized_cepstra = mel_cepstrum(synthesized, n_coefficients)[1:]  # (N, T_syn)
    if align == "none":
        if reference.shape[1] != synthesized.shape[1]:
            raise ValueError(
                f"mel_cepstral_distortion: align='none' needs equal lengths, got "
                f"{reference.shape[1]} and {synthesized.shape[1]} frames; use align='dtw'"
            )
        path = np.repeat(np.arange(reference.shape[1], dtype=np.int64)[:, None], 2, axis=1)
    else:
        difference = (
            reference_cepstra.T[:, None, :] - synthesized_cepstra.T[None, :, :]
        )  # (T_ref, T_syn, N)
        _, path = dtw(np.sqrt((difference**2).sum(axis=-1)))  # path (L, 2)
    pair_difference = (
        reference_cepstra[:, path[:, 0]] - synthesized_cepstra[:, path[:, 1]]
    )  # (N, L)
    frame_distortions = MCD_CONSTANT * np.sqrt((pair_difference**2).sum(axis=0))  # (L,)
    return MCDResult(float(frame_distortions.mean()), path, frame_distortions)


def _pairs(
    path: np.ndarray | None, n_reference: int, n_synthesized: int, caller: str
) -> np.ndarray:
    """Frame pairs (L, 2): `path` checked against the lengths, or the diagonal for equal lengths."""
    if path is None:
        if n_reference != n_synthesized:
            raise ValueError(
                f"{caller}: {n_reference} reference frames vs {n_synthesized} synthesized ones; "
                f"pass path=mel_cepstral_distortion(...).path to pair them"
            )
        return np.repeat(np.arange(n_reference, dtype=np.int64)[:, None], 2, axis=1)
    path = np.asarray(path)
    if path.ndim != 2 or path.shape[1] != 2 or path.shape[0] == 0:
        raise ValueError(f"{caller}: path must be (L, 2) frame pairs, got shape {path.shape}")
    if path[:, 0].max() >= n_reference or path[:, 1].max() >= n_synthesized or path.min() < 0:
        raise ValueError(
            f"{caller}: path indexes frames outside the tracks ({n_reference} and "
            f"{n_synthesized} frames); compute it from the same two utterances"
        )
    return path.astype(np.int64)


def log_spectral_distance(
    reference_magnitude: np.ndarray,
    synthesized_magnitude: np.ndarray,
    path: np.ndarray | None = None,
    floor_db: float = 80.0,
) -> float:
    """LSD in dB: mean over frame pairs of sqrt(mean_k (20 log10(|S_k| / |Ŝ_k|))²).

    Magnitude spectrograms (n_freqs, T) (np.abs(dsp.stft(x)), or mels). Both are floored at
    floor_db below the reference's peak (like power_to_db's top_db), so that eSpeak's exact
    digital silence against a vocoder's faint noise counts as at most floor_db. Lesson 09.
    """
    caller = "log_spectral_distance"
    reference = _check_features(reference_magnitude, "reference_magnitude", caller)
    synthesized = _check_features(synthesized_magnitude, "synthesized_magnitude", caller)
    if (reference < 0).any() or (synthesized < 0).any():
        raise ValueError(f"{caller}: pass magnitudes (np.abs of an STFT), not log values")
    if reference.shape[0] != synthesized.shape[0]:
        raise ValueError(
            f"{caller}: {reference.shape[0]} vs {synthesized.shape[0]} frequency "
            f"bins; use the same n_fft for both"
        )
    pairs = _pairs(path, reference.shape[1], synthesized.shape[1], caller)
    floor = max(reference.max() * 10.0 ** (-floor_db / 20.0), np.finfo(np.float64).tiny)
    reference_db = 20.0 * np.log10(np.maximum(reference[:, pairs[:, 0]], floor))  # (K, L)
    synthesized_db = 20.0 * np.log10(np.maximum(synthesized[:, pairs[:, 1]], floor))
    return float(np.sqrt(((reference_db - synthesized_db) ** 2).mean(axis=0)).mean())


# --------------------------------------------------------------------------------------------
# Pitch and durations
# --------------------------------------------------------------------------------------------


def f0_track(
    waveform: np.ndarray,
    config: MelConfig,
    fmin: float = 60.0,
    fmax: float = 500.0,
    threshold: float = 0.3,
) -> tuple[np.ndarray, np.ndarray]:
    """f0 (T_mel,) in Hz (0 where unvoiced) and voiced (T_mel,) by dsp.yin, on config's frames.

    Frame t is centred on sample t * config.hop_length, like the log-mel's frame t. The
    threshold is 0.3, not YIN's usual 0.1: eSpeak's voices have jitter, and at 0.1 only about
    one voiced frame in six passes (measured against librosa.pyin: at 0.3, 96-98 % of the
    frames agree within 50 cents, no octave errors). Lesson 07.
    """
    from minispeech.audio import validate
    from minispeech.dsp import yin

    waveform = validate(waveform, "f0_track: waveform")
    return yin(
        waveform.astype(np.float64), config.sample_rate, fmin, fmax,
        frame_length=config.win_length, hop_length=config.hop_length, threshold=threshold,
    )  # fmt: skip


def f0_errors(
    reference_f0: np.ndarray,
    reference_voiced: np.ndarray,
    synthesized_f0: np.ndarray,
    synthesized_voiced: np.ndarray,
    path: np.ndarray | None = None,
) -> F0Result:
    """F0 RMSE in cents, 1200 log2(f_syn / f_ref), over pairs voiced in both, and the voicing error.

    The voicing error is the fraction of pairs whose voiced flags disagree (either way).
    Tracks from f0_track; `path` pairs frames of different lengths (see the module doc).
    Lesson 08.
    """
    reference_f0 = np.asarray(reference_f0, dtype=np.float64)
    synthesized_f0 = np.asarray(synthesized_f0, dtype=np.float64)
    reference_voiced = np.asarray(reference_voiced, dtype=bool)
    synthesized_voiced = np.asarray(synthesized_voiced, dtype=bool)
    if (
        reference_f0.shape != reference_voiced.shape
        or synthesized_f0.shape != synthesized_voiced.shape
    ):
        raise ValueError(
            "f0_errors: each f0 track and its voiced flags must have the same shape (T,)"
        )
    pairs = _pairs(path, reference_f0.size, synthesized_f0.size, "f0_errors")
    voiced_reference = reference_voiced[pairs[:, 0]]
    voiced_synthesized = synthesized_voiced[pairs[:, 1]]
    both = voiced_reference & voiced_synthesized
    f0_reference = reference_f0[pairs[:, 0]][both]
    f0_synthesized = synthesized_f0[pairs[:, 1]][both]
    if (f0_reference <= 0).any() or (f0_synthesized <= 0).any():
        raise ValueError(
            "f0_errors: a frame flagged voiced has f0 <= 0; pass the flags yin returned"
        )
    cents = 1200.0 * np.log2(f0_synthesized / f0_reference)
    rmse = float(np.sqrt(np.mean(cents**2))) if both.any() else float("nan")
    return F0Result(rmse, float(np.mean(voiced_reference != voiced_synthesized)), int(both.sum()))


def duration_errors(
    reference_frames: Sequence[float], predicted_frames: Sequence[float], config: MelConfig
) -> DurationResult:
    """Per-phoneme duration error in ms against the truth (eSpeak's), and the total-length ratio.

    Durations in mel frames (one entry per phoneme, the same phonemes in both); a frame is
    config.hop_length / config.sample_rate seconds (11.6 ms by default). Lesson 08.
    """
    reference = np.asarray(reference_frames, dtype=np.float64)
    predicted = np.asarray(predicted_frames, dtype=np.float64)
    if reference.ndim != 1 or reference.shape != predicted.shape or reference.size == 0:
        raise ValueError(
            f"duration_errors: need two non-empty (N,) duration vectors over the same phonemes, "
            f"got shapes {reference.shape} and {predicted.shape}"
        )
    if reference.sum() <= 0:
        raise ValueError("duration_errors: the reference durations sum to 0 frames")
    milliseconds_per_frame = 1000.0 * config.hop_length / config.sample_rate
    errors = (predicted - reference) * milliseconds_per_frame
    return DurationResult(
        float(np.abs(errors).mean()), errors, float(predicted.sum() / reference.sum())
    )


# --------------------------------------------------------------------------------------------
# Speed, speaker, intelligibility
# --------------------------------------------------------------------------------------------


def _threads_description() -> str:
    cores = os.cpu_count() or 1
    if "torch" not in sys.modules:  # do not import torch just to ask
        return f"NumPy (no torch loaded), {cores} cores"
    import torch

    if torch.cuda.is_available() and torch.cuda.is_initialized():
        return f"CUDA {torch.cuda.get_device_name()}, torch threads {torch.get_num_threads()}"
    return f"torch threads {torch.get_num_threads()} of {cores} cores"


def _synchronize() -> None:
    """Wait for queued GPU work, so the wall clock includes it."""
    if "torch" in sys.modules:
        import torch

        if torch.cuda.is_available() and torch.cuda.is_initialized():
            torch.cuda.synchronize()


def real_time_factor(
    synthesize: Callable[[object], np.ndarray],
    inputs: Sequence[object],
    sample_rate: int,
    warmup: int = 1,
    repeats: int = 1,
) -> RTFResult:
    """Wall-clock seconds to synthesize `inputs` divided by the seconds of audio produced.

    synthesize(input) -> waveform (T_wav,) (NumPy array or tensor). The first `warmup`
    inputs are synthesized once first and not timed (lazy initialization, compilation,
    caches); then every input is timed with time.perf_counter, GPU work synchronized.
    repeats > 1 times each input that many times and keeps its fastest run (timeit's rule:
    the fastest run is the one other processes disturbed least; on a shared machine single
    runs of a few milliseconds vary by tens of percent). The result states the threads it ran
    on: an RTF means nothing without them. Lesson 08.
    """
    inputs = list(inputs)
    if not inputs:
        raise ValueError("real_time_factor: inputs is empty; pass the sentences to synthesize")
    if repeats < 1:
        raise ValueError(f"real_time_factor: repeats must be >= 1, got {repeats}")
    for item in inputs[:warmup]:
        synthesize(item)
    _synchronize()
    compute_seconds, audio_samples = 0.0, 0
    for item in inputs:
        runs = []  # (seconds, samples) of each run of this input
        for _ in range(repeats):
            start = time.perf_counter()
            waveform = synthesize(item)
            _synchronize()
            runs.append((time.perf_counter() - start, int(np.shape(waveform)[-1])))
        seconds, samples = min(runs)
        compute_seconds += seconds
        audio_samples += samples
    if audio_samples == 0:
        raise ValueError("real_time_factor: synthesize returned no samples; check the model")
    audio_seconds = audio_samples / sample_rate
    return RTFResult(
        compute_seconds / audio_seconds, compute_seconds, audio_seconds, _threads_description()
    )


def speaker_similarity(
    reference: np.ndarray,
    synthesized: np.ndarray,
    encoder: Callable[[np.ndarray], np.ndarray] | None = None,
) -> float | np.ndarray:
    """Cosine similarity of speaker embeddings (D,) or (N, D) pairs: 1 same direction, 0 unrelated.

    With `encoder` (waveform -> embedding (D,), e.g. lesson 12's speaker encoder) the two
    arguments are waveforms and are embedded first. Lesson 12.
    """
    if encoder is not None:
        reference, synthesized = encoder(reference), encoder(synthesized)
    a = np.asarray(reference, dtype=np.float64)
    b = np.asarray(synthesized, dtype=np.float64)
    if a.shape != b.shape or a.ndim not in (1, 2) or a.shape[-1] == 0:
        raise ValueError(
            f"speaker_similarity: need two embeddings of the same shape (D,) or (N, D), "
            f"got {a.shape} and {b.shape}"
        )
    norms = np.linalg.norm(a, axis=-1) * np.linalg.norm(b, axis=-1)
    if (norms == 0).any():
        raise ValueError("speaker_similarity: an embedding is all zeros, so it has no direction")
    similarity = (a * b).sum(axis=-1) / norms
    return float(similarity) if similarity.ndim == 0 else similarity


_RECOGNIZER_LESSONS = {"CTCASR": "lesson 04", "LAS": "lesson 05", "TransformerASR": "lesson 06"}


def _spoken_words(text: str) -> str:
    """Lowercase words without punctuation, single spaces: what CER/WER compare."""
    kept = "".join(
        character if character.isalnum() or character in " '" else " " for character in text.lower()
    )
    return " ".join(kept.split())


def load_judge():
    """The project's recognizer: lesson 06's Transformer if trained, else lesson 04's CTC model.

    A model from a cpu/gpu run (artifact_path(name)) of either lesson comes before any ci run's
    (artifact_path(name, "ci")): a ci model trained for seconds cannot judge anything. Raises
    FileNotFoundError naming the lessons to run when no artifact exists.
    """
    from minispeech.models import ctc_asr, transformer_asr

    candidates = [(module, module.artifact_path(kind)) for kind in ("cpu", "ci") for module in (transformer_asr, ctc_asr)]
    for module, path in candidates:
        if path.is_file():
            return module.load_pretrained(path)
    raise FileNotFoundError(
        "intelligibility needs a trained recognizer and found none: run "
        "lessons/06_transformer.ipynb (saves transformer_asr.pt) or lessons/04_ctc.ipynb "
        f"(saves ctc_asr.pt) first; looked in {transformer_asr.artifact_path().parent}"
    )


def intelligibility(
    waveforms: Sequence[np.ndarray],
    texts: Sequence[str],
    recognizer=None,
    sample_rate: int | None = None,
    batch_size: int = 8,
) -> IntelligibilityResult:
    """CER and WER of a recognizer's transcripts of `waveforms` against `texts`.

    recognizer: any model with .config.mel and transcribe(features (B, T_mel, n_mels),
    lengths (B,)) -> list[Hypothesis] over minispeech.text.characters(); None loads
    load_judge(). waveforms at `sample_rate` (default: the recognizer's) are resampled to the
    recognizer's. References are normalize(text); both sides are lowercased and compared
    without punctuation. Report it beside the same recognizer on eSpeak's own audio and on
    Griffin-Lim of the true mel: the ceiling and the vocoder floor. Lesson 07.
    """
    import torch

    from minispeech.audio import resample, validate
    from minispeech.data.dataset import pad_sequences
    from minispeech.dsp import log_mel
    from minispeech.metrics import cer, wer
    from minispeech.text import characters, normalize

    waveforms, texts = list(waveforms), list(texts)
    if len(waveforms) != len(texts) or not texts:
        raise ValueError(
            f"intelligibility: got {len(waveforms)} waveforms and {len(texts)} texts; pass one "
            f"text per waveform (at least one)"
        )
    if recognizer is None:
        recognizer = load_judge()
    mel_config = recognizer.config.mel
    sample_rate = mel_config.sample_rate if sample_rate is None else sample_rate
    table = characters()
    hypotheses: list[str] = []
    for start in range(0, len(waveforms), batch_size):
        features = []
        for index in range(start, min(start + batch_size, len(waveforms))):
            waveform = validate(waveforms[index], f"intelligibility: waveforms[{index}]").astype(
                np.float32
            )
            if sample_rate != mel_config.sample_rate:
                waveform = resample(waveform, sample_rate, mel_config.sample_rate)
            features.append(torch.from_numpy(log_mel(waveform, mel_config).T.astype(np.float32)))
        lengths = torch.tensor([len(feature) for feature in features])
        for hypothesis in recognizer.transcribe(pad_sequences(features), lengths):
            hypotheses.append(_spoken_words(table.decode(hypothesis.tokens)))
    references = [_spoken_words(normalize(text)) for text in texts]
    model = type(recognizer).__name__
    name = f"{model} ({_RECOGNIZER_LESSONS[model]})" if model in _RECOGNIZER_LESSONS else model
    return IntelligibilityResult(
        cer(references, hypotheses), wer(references, hypotheses), hypotheses, references, name
    )
