"""Audio files and waveforms: load, save, resample, loudness, silence trimming, validation.

AudioError      the one error this module raises (a ValueError) for a bad file or array
load            read a file with soundfile -> (float32 waveform, sample rate); optional resampling
save            write a waveform atomically (16-bit PCM WAV by default); refuses NaN and clipping
resample        polyphase resampling (scipy.signal.resample_poly), up/down reduced by their gcd
peak_normalize  scale so the largest |sample| equals `peak`
rms_db          loudness as root-mean-square level in dB relative to full scale (dBFS)
rms_normalize   scale to a target RMS level in dBFS
trim_silence    cut leading/trailing frames quieter than `top_db` below the loudest frame
validate        check a waveform is a non-empty, finite, 1-D float array (used by all of the above)

Shapes   waveform (T_wav,) mono; (C, T_wav) multi-channel, channels first. Samples are floats in
[-1, 1] (full scale).
Taught in lessons/00_setup_data_text.ipynb, section 2.
"""

from __future__ import annotations

import math
import os
import tempfile
from pathlib import Path

import numpy as np

SILENCE_FLOOR = 1e-10  # amplitude floor for dB conversions: silence reads as -200 dBFS, not -inf
FLOAT_SUBTYPES = ("FLOAT", "DOUBLE")


class AudioError(ValueError):
    """A bad audio file or waveform. The message names the file or argument, the problem, the fix."""


def validate(
    waveform: np.ndarray, name: str = "waveform", allow_channels: bool = False
) -> np.ndarray:
    """Return `waveform` as an array after checking it is float, non-empty and finite.

    Mono is (T_wav,); with allow_channels=True a (C, T_wav) array is accepted too.
    Raises AudioError naming `name` and the fix.

    Taught in lessons/00_setup_data_text.ipynb, section 2.
    """
    array = np.asarray(waveform)
    allowed_dims = (1, 2) if allow_channels else (1,)
    if array.ndim not in allowed_dims:
        expected = "(T,) or (channels, T)" if allow_channels else "1-D (T,)"
        raise AudioError(
            f"{name}: expected a {expected} array, got shape {array.shape}. "
            f"Average the channels (x.mean(axis=0)) or squeeze extra axes."
        )
    if not np.issubdtype(array.dtype, np.floating):
        raise AudioError(
            f"{name}: expected floating-point samples in [-1, 1], got dtype {array.dtype}. "
            f"Convert integer PCM with x.astype(np.float32) / 32768 (for 16-bit)."
        )
    if array.shape[-1] == 0:
        raise AudioError(f"{name}: the waveform has no samples. Check where it was cut or loaded.")
    finite = np.isfinite(array)
    if not finite.all():
        bad_count = int(array.size - finite.sum())
        first_bad = int(np.flatnonzero(~finite.reshape(-1))[0])
        raise AudioError(
            f"{name}: {bad_count} sample(s) are NaN or infinite (first at flat index {first_bad}). "
            f"Find the step that produced them (division by zero, log of 0, an unstable model)."
        )
    return array


def load(
    path: str | Path,
    sr: int | None = None,
    mono: bool = True,
    expected_sr: int | None = None,
) -> tuple[np.ndarray, int]:
    """Read an audio file -> (waveform float32, sample rate).

    sr           resample to this rate when the file's rate differs (polyphase)
    mono         True averages channels to (T_wav,); False returns (C, T_wav)
    expected_sr  instead of resampling, require the file to be at this rate

    Raises AudioError, naming the file, for a missing file, a directory, an empty file, a file
    soundfile cannot decode, zero samples, NaN/inf samples, or a rate other than expected_sr.

    Taught in lessons/00_setup_data_text.ipynb, section 2.
    """
    import soundfile

    path = Path(path)
    if sr is not None and expected_sr is not None:
        raise AudioError(
            f"{path}: pass either sr= (resample to that rate) or expected_sr= (require that rate), "
            f"not both."
        )
    for argument_name, rate in (("sr", sr), ("expected_sr", expected_sr)):
        if rate is not None and (not isinstance(rate, (int, np.integer)) or rate <= 0):
            raise AudioError(f"{path}: {argument_name}={rate!r} must be a positive integer (Hz).")
    _check_is_nonempty_file(path)
    try:
        samples, file_sr = soundfile.read(path, dtype="float32", always_2d=True)  # (T_wav, C)
    except (soundfile.SoundFileError, RuntimeError, TypeError) as error:
        raise AudioError(
            f"{path}: not a readable audio file ({error}). It may be truncated, corrupt, or not "
            f"audio at all; re-download or re-create it (soundfile reads WAV, FLAC, OGG, MP3)."
        ) from None
    waveform = samples.T  # (C, T_wav)
    if waveform.shape[1] == 0:
        raise AudioError(
            f"{path}: the file holds no samples (a valid header with zero frames). "
            f"Re-create it or drop it from the manifest."
        )
    if not np.isfinite(waveform).all():
        bad_count = int(np.size(waveform) - np.isfinite(waveform).sum())
        raise AudioError(
            f"{path}: {bad_count} sample(s) are NaN or infinite. The file was written from a broken "
            f"array; re-create it (minispeech.audio.save refuses such arrays)."
        )
    if expected_sr is not None and file_sr != expected_sr:
        raise AudioError(
            f"{path}: sample rate is {file_sr} Hz but {expected_sr} Hz was expected. "
            f"Pass sr={expected_sr} to resample it while loading."
        )
    if mono:
        waveform = waveform.mean(axis=0)  # (T_wav,)
    if sr is not None and sr != file_sr:
        waveform = resample(waveform, file_sr, sr)
        file_sr = sr
    return np.ascontiguousarray(waveform, dtype=np.float32), int(file_sr)


def _check_is_nonempty_file(path: Path) -> None:
    if not path.exists():
        raise AudioError(
            f"{path}: file not found. Check the path (and the manifest that named it)."
        )
    if path.is_dir():
        raise AudioError(
            f"{path}: is a directory, not an audio file. Pass a .wav/.flac file inside it."
        )
    if not path.is_file():
        raise AudioError(f"{path}: not a regular file. Pass the path of a .wav/.flac file.")
    if path.stat().st_size == 0:
        raise AudioError(
            f"{path}: the file is empty (0 bytes), probably an interrupted write or download. "
            f"Delete it and re-create it."
        )


def save(
    path: str | Path,
    waveform: np.ndarray,
    sr: int,
    subtype: str = "PCM_16",
    clip: bool = False,
) -> None:
    """Write a (T_wav,) or (C, T_wav) waveform atomically; the format comes from the suffix.

    Raises AudioError for NaN/inf samples, and for a peak above 1.0 unless clip=True (then samples
    are clipped to [-1, 1]). Parent folders are created. A temporary file in the same folder is
    renamed over `path`, so an interrupted write never leaves a half-written file behind.

    Taught in lessons/00_setup_data_text.ipynb, section 2.
    """
    import soundfile

    path = Path(path)
    waveform = validate(waveform, name=str(path), allow_channels=True)
    if not isinstance(sr, (int, np.integer)) or sr <= 0:
        raise AudioError(f"{path}: sr={sr!r} must be a positive integer (Hz).")
    file_format = path.suffix.lstrip(".").upper()
    if file_format not in soundfile.available_formats():
        raise AudioError(
            f"{path}: unknown audio format {path.suffix!r}. Use one of .wav, .flac, .ogg."
        )
    if not soundfile.check_format(file_format, subtype):
        raise AudioError(
            f"{path}: subtype {subtype!r} is not valid for {file_format}. Valid subtypes: "
            f"{sorted(soundfile.available_subtypes(file_format))}."
        )
    peak = float(np.max(np.abs(waveform)))
    if peak > 1.0:
        if not clip:
            raise AudioError(
                f"{path}: peak |sample| is {peak:.3f}, above full scale 1.0, and would clip. "
                f"Scale it with peak_normalize(x), or pass clip=True to clip to [-1, 1]."
            )
        waveform = np.clip(waveform, -1.0, 1.0)
    path.parent.mkdir(parents=True, exist_ok=True)
    file_descriptor, temporary_name = tempfile.mkstemp(
        dir=path.parent, prefix=f".{path.name}.", suffix=".tmp"
    )
    os.close(file_descriptor)
    try:
        # soundfile wants (T_wav, C): frames first
        soundfile.write(temporary_name, waveform.T, int(sr), subtype=subtype, format=file_format)
        os.replace(temporary_name, path)
    finally:
        if os.path.exists(temporary_name):
            os.remove(temporary_name)


def resample(waveform: np.ndarray, orig_sr: int, target_sr: int) -> np.ndarray:
    """Polyphase resampling along the last axis: (…, T) -> (…, ceil(T * target_sr / orig_sr)).

    Upsample by target_sr/g, low-pass (a Kaiser-windowed FIR that scipy designs), downsample by
    orig_sr/g, where g = gcd(orig_sr, target_sr). Same as librosa's res_type="polyphase".
    The dtype is kept (float32 stays float32).

    Taught in lessons/00_setup_data_text.ipynb, section 2.
    """
    from scipy.signal import resample_poly

    waveform = validate(waveform, allow_channels=True)
    for argument_name, rate in (("orig_sr", orig_sr), ("target_sr", target_sr)):
        if not isinstance(rate, (int, np.integer)) or rate <= 0:
            raise AudioError(f"resample: {argument_name}={rate!r} must be a positive integer (Hz).")
    if orig_sr == target_sr:
        return waveform.copy()
    common = math.gcd(int(orig_sr), int(target_sr))
    up, down = int(target_sr) // common, int(orig_sr) // common
    resampled = resample_poly(waveform, up, down, axis=-1)
    return resampled.astype(waveform.dtype, copy=False)


def peak_normalize(waveform: np.ndarray, peak: float = 0.95) -> np.ndarray:
    """Scale so max |sample| == peak. Raises AudioError for an all-zero waveform.

    Taught in lessons/00_setup_data_text.ipynb, section 2.
    """
    waveform = validate(waveform)
    if not 0.0 < peak:
        raise AudioError(f"peak_normalize: peak={peak} must be positive (0.95 leaves headroom).")
    current_peak = float(np.max(np.abs(waveform)))
    if current_peak == 0.0:
        raise AudioError("peak_normalize: the waveform is all zeros (silence); nothing to scale.")
    return (waveform * (peak / current_peak)).astype(waveform.dtype, copy=False)


def rms_db(waveform: np.ndarray) -> float:
    """Root-mean-square level in dBFS: 20 log10(sqrt(mean(x²))). A full-scale sine is -3.01 dB;
    digital silence reads as -200 dB (the floor SILENCE_FLOOR), not -inf.

    Taught in lessons/00_setup_data_text.ipynb, section 2.
    """
    waveform = validate(waveform)
    rms = math.sqrt(float(np.mean(np.square(waveform, dtype=np.float64))))
    return 20.0 * math.log10(max(rms, SILENCE_FLOOR))


def rms_normalize(waveform: np.ndarray, target_db: float = -20.0) -> np.ndarray:
    """Scale to an RMS level of target_db dBFS. The result may exceed 1.0 for peaky signals:
    check before saving (save() refuses clipping). Raises AudioError for an all-zero waveform.

    Taught in lessons/00_setup_data_text.ipynb, section 2.
    """
    waveform = validate(waveform)
    if not np.any(waveform):
        raise AudioError("rms_normalize: the waveform is all zeros (silence); nothing to scale.")
    gain = 10.0 ** ((target_db - rms_db(waveform)) / 20.0)
    return (waveform * gain).astype(waveform.dtype, copy=False)


def trim_silence(
    waveform: np.ndarray,
    sr: int,
    top_db: float = 40.0,
    frame_length: int = 1024,
    hop_length: int = 256,
    pad: float = 0.0,
) -> tuple[np.ndarray, tuple[int, int]]:
    """Cut leading and trailing silence -> (trimmed (T_kept,), (start, end)) with
    trimmed == waveform[start:end].

    A frame is speech when its RMS is within top_db of the loudest frame's (frames are centred,
    zero-padded by frame_length // 2, as librosa.effects.trim does). start is the first speech
    frame's start sample, end one hop past the last speech frame's, then each side is widened by
    `pad` seconds (clamped to the signal). An entirely silent waveform is returned whole, as in
    librosa (every frame equals the loudest).

    Taught in lessons/00_setup_data_text.ipynb, section 2.
    """
    waveform = validate(waveform)
    if frame_length <= 0 or hop_length <= 0:
        raise AudioError(
            f"trim_silence: frame_length={frame_length} and hop_length={hop_length} must be positive."
        )
    if pad < 0:
        raise AudioError(f"trim_silence: pad={pad} seconds must be >= 0.")
    from minispeech.dsp import energy

    # Frame i is centred on sample i * hop_length, zero-padded at the ends.
    rms = energy(waveform.astype(np.float64), frame_length, hop_length, center=True)  # (n_frames,)
    mean_square = np.square(rms)
    power_floor = SILENCE_FLOOR**2
    level_db = 10.0 * np.log10(np.maximum(mean_square, power_floor))
    level_db -= 10.0 * np.log10(max(float(mean_square.max()), power_floor))  # 0 dB = loudest
    speech_frames = np.flatnonzero(level_db > -top_db)
    length = waveform.shape[0]
    if speech_frames.size == 0:
        return waveform[:0], (0, 0)
    start = int(speech_frames[0]) * hop_length
    end = min(length, (int(speech_frames[-1]) + 1) * hop_length)
    pad_samples = int(round(pad * sr))
    start, end = max(0, start - pad_samples), min(length, end + pad_samples)
    return waveform[start:end], (start, end)
