"""The mel scale, the mel filterbank, mel spectrograms, and the log-mel front end.

hz_to_mel, mel_to_hz   the Slaney (default, like librosa) or HTK mel scale
mel_frequencies        n_mels frequencies evenly spaced in mel
mel_filterbank         triangular filters (n_mels, n_freqs), cached and read-only
melspectrogram         mel_filterbank @ |STFT| ** power
power_to_db            10 log10(S / ref), floored top_db below the peak, like librosa
MelConfig              the one audio front end every acoustic model and vocoder carries
log_mel                log_mel(x, config): natural log of the *magnitude* mel clamped at
                       config.log_floor (HiFi-GAN/Tacotron 2)

Shapes   x (T_wav,) -> mel features (n_mels, T_mel), time last like librosa; the layout
         contract between this, nn.features.LogMel and the models is in minispeech.dsp's docstring.
Taught in lessons/02_mel_mfcc.ipynb.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import warnings

import numpy as np

from minispeech.dsp.checks import check_positive_int
from minispeech.dsp.spectral import stft_frames_first

# Slaney's Auditory Toolbox mel scale: linear below 1 kHz (3 mel per 200 Hz), logarithmic above.
_SLANEY_HZ_PER_MEL = 200.0 / 3.0
_SLANEY_LOG_START_HZ = 1000.0
_SLANEY_LOG_START_MEL = _SLANEY_LOG_START_HZ / _SLANEY_HZ_PER_MEL  # 15 mel
_SLANEY_MEL_PER_LOG_HZ = 27.0 / math.log(6.4)  # 27 mel per factor 6.4 in frequency


def hz_to_mel(frequencies: float | np.ndarray, htk: bool = False) -> float | np.ndarray:
    """Hz -> mel: Slaney (default, like librosa) or HTK 2595 log10(1 + f / 700). Lesson 02."""
    f = np.asarray(frequencies, dtype=np.float64)
    if htk:
        mels = 2595.0 * np.log10(1.0 + f / 700.0)
    else:
        linear = f / _SLANEY_HZ_PER_MEL
        logarithmic = _SLANEY_LOG_START_MEL + _SLANEY_MEL_PER_LOG_HZ * np.log(
            np.maximum(f, _SLANEY_LOG_START_HZ) / _SLANEY_LOG_START_HZ
        )
        mels = np.where(f >= _SLANEY_LOG_START_HZ, logarithmic, linear)
    return float(mels) if mels.ndim == 0 else mels


def mel_to_hz(mels: float | np.ndarray, htk: bool = False) -> float | np.ndarray:
    """mel -> Hz, the inverse of hz_to_mel with the same `htk`. Lesson 02."""
    m = np.asarray(mels, dtype=np.float64)
    if htk:
        f = 700.0 * (10.0 ** (m / 2595.0) - 1.0)
    else:
        linear = m * _SLANEY_HZ_PER_MEL
        logarithmic = _SLANEY_LOG_START_HZ * np.exp(
            (np.maximum(m, _SLANEY_LOG_START_MEL) - _SLANEY_LOG_START_MEL) / _SLANEY_MEL_PER_LOG_HZ
        )
        f = np.where(m >= _SLANEY_LOG_START_MEL, logarithmic, linear)
    return float(f) if f.ndim == 0 else f


def mel_frequencies(
    n_mels: int = 128, fmin: float = 0.0, fmax: float = 11025.0, htk: bool = False
) -> np.ndarray:
    """n_mels frequencies in Hz (n_mels,), evenly spaced on the mel scale from fmin to fmax. Lesson 02."""
    n_mels = check_positive_int(n_mels, "n_mels", "mel_frequencies")
    return mel_to_hz(np.linspace(hz_to_mel(fmin, htk), hz_to_mel(fmax, htk), n_mels), htk)


def mel_filterbank(
    sr: int,
    n_fft: int,
    n_mels: int = 80,
    fmin: float = 0.0,
    fmax: float | None = None,
    htk: bool = False,
    norm: str | None = "slaney",
) -> np.ndarray:
    """Triangular mel filters (n_mels, n_fft // 2 + 1), float64, read-only and cached.

    Filter m rises from mel frequency m to m + 1 and falls to m + 2 (of n_mels + 2 points
    evenly spaced in mel between fmin and fmax, default sr / 2). norm="slaney" divides
    each triangle by its width in Hz / 2 (constant energy per band); None leaves peaks at 1.
    Equals librosa.filters.mel. The array is shared between calls: use .copy() to edit it.
    Lesson 02.
    """
    sr = check_positive_int(sr, "sr", "mel_filterbank")
    n_fft = check_positive_int(n_fft, "n_fft", "mel_filterbank")
    n_mels = check_positive_int(n_mels, "n_mels", "mel_filterbank")
    fmax = sr / 2.0 if fmax is None else float(fmax)
    if not 0.0 <= fmin < fmax <= sr / 2.0:
        raise ValueError(
            f"mel_filterbank: need 0 <= fmin < fmax <= sr / 2 = {sr / 2}, got fmin={fmin}, fmax={fmax}"
        )
    if norm not in ("slaney", None):
        raise ValueError(f"mel_filterbank: norm must be 'slaney' or None, got {norm!r}")
    return _mel_filterbank_cached(sr, n_fft, n_mels, float(fmin), fmax, bool(htk), norm)


@functools.lru_cache(maxsize=32)
def _mel_filterbank_cached(
    sr: int, n_fft: int, n_mels: int, fmin: float, fmax: float, htk: bool, norm: str | None
) -> np.ndarray:
    fft_frequencies = np.fft.rfftfreq(n_fft, d=1.0 / sr)  # (n_freqs,)
    band_edges = mel_frequencies(n_mels + 2, fmin, fmax, htk)  # (n_mels + 2,)
    band_widths = np.diff(band_edges)  # (n_mels + 1,)
    offsets = band_edges[:, None] - fft_frequencies[None, :]  # (n_mels + 2, n_freqs)
    rising = -offsets[:-2] / band_widths[:-1, None]  # (n_mels, n_freqs)
    falling = offsets[2:] / band_widths[1:, None]  # (n_mels, n_freqs)
    weights = np.maximum(0.0, np.minimum(rising, falling))
    if norm == "slaney":
        weights *= (2.0 / (band_edges[2:] - band_edges[:-2]))[:, None]
    if not ((band_edges[:-2] == 0) | (weights.max(axis=1) > 0)).all():
        warnings.warn(
            f"mel_filterbank: some of the {n_mels} filters fall between FFT bins and are empty; "
            f"use fewer mels or a larger n_fft ({n_fft})",
            stacklevel=3,
        )
    weights.setflags(write=False)
    return weights


def melspectrogram(
    x: np.ndarray,
    sr: int,
    n_fft: int = 1024,
    hop_length: int = 256,
    win_length: int | None = None,
    n_mels: int = 80,
    fmin: float = 0.0,
    fmax: float | None = None,
    power: float = 2.0,
    center: bool = True,
    *,
    window: str = "hann",
    pad_mode: str = "reflect",
    htk: bool = False,
    norm: str | None = "slaney",
) -> np.ndarray:
    """Mel spectrogram (n_mels, T_mel): mel_filterbank @ |stft(x)| ** power.

    power=2 gives the power mel (librosa.feature.melspectrogram's default), power=1 the
    magnitude mel that log_mel uses. Equals librosa with the same arguments. Lesson 02.
    """
    if power <= 0:
        raise ValueError(f"melspectrogram: power must be > 0, got {power}")
    spectrum = stft_frames_first(
        x, n_fft, hop_length, win_length, window, center, pad_mode, "melspectrogram"
    )  # (T_mel, n_freqs): frames as rows make the matrix product below faster
    filters = mel_filterbank(sr, n_fft, n_mels, fmin, fmax, htk, norm)  # (n_mels, n_freqs)
    magnitude = np.abs(spectrum)  # (T_mel, n_freqs)
    if power != 1.0:
        magnitude **= power
    # A contiguous (n_freqs, n_mels) copy: BLAS is several times slower on the transposed view.
    mel = magnitude @ np.ascontiguousarray(filters.T, dtype=magnitude.dtype)  # (T_mel, n_mels)
    return np.ascontiguousarray(mel.T)  # (n_mels, T_mel)


def power_to_db(
    S: np.ndarray, ref: float = 1.0, amin: float = 1e-10, top_db: float | None = 80.0
) -> np.ndarray:
    """10 log10(max(S, amin) / ref), then floored at top_db below the maximum, like librosa.

    S is a power (|X|²), not a magnitude: use 20 log10 for magnitudes. Lesson 02.
    """
    S = np.asarray(S)
    if np.iscomplexobj(S):
        raise ValueError("power_to_db: S is complex; pass the power np.abs(S) ** 2")
    if amin <= 0:
        raise ValueError(f"power_to_db: amin must be > 0, got {amin}")
    if top_db is not None and top_db < 0:
        raise ValueError(f"power_to_db: top_db must be >= 0 or None, got {top_db}")
    decibels = 10.0 * np.log10(np.maximum(amin, S)) - 10.0 * np.log10(max(amin, abs(ref)))
    if top_db is not None:
        decibels = np.maximum(decibels, decibels.max() - top_db)
    return decibels


# The audio front end every acoustic model and vocoder shares


@dataclasses.dataclass(frozen=True)
class MelConfig:
    """The log-mel front end: 22.05 kHz, 1024-point FFT, hop 256, 80 mels up to 8 kHz.

    These are the HiFi-GAN / Tacotron 2 (LJSpeech) settings, so features and vocoders from
    those papers line up. Window "hann", pad_mode "reflect", Slaney mel with Slaney norm.
    Lesson 02.
    """

    sample_rate: int = 22050
    n_fft: int = 1024
    hop_length: int = 256
    win_length: int = 1024
    n_mels: int = 80
    fmin: float = 0.0
    fmax: float = 8000.0
    center: bool = True
    log_floor: float = 1e-5

    def __post_init__(self) -> None:
        for name in ("sample_rate", "n_fft", "hop_length", "win_length", "n_mels"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value <= 0:
                raise ValueError(f"MelConfig: {name} must be a positive integer, got {value!r}")
        if not self.hop_length <= self.win_length <= self.n_fft:
            raise ValueError(
                f"MelConfig: need hop_length <= win_length <= n_fft, got "
                f"{self.hop_length}, {self.win_length}, {self.n_fft}"
            )
        if not 0.0 <= self.fmin < self.fmax <= self.sample_rate / 2:
            raise ValueError(
                f"MelConfig: need 0 <= fmin < fmax <= sample_rate / 2 = {self.sample_rate / 2}, "
                f"got fmin={self.fmin}, fmax={self.fmax}"
            )
        if not self.log_floor > 0:
            raise ValueError(f"MelConfig: log_floor must be > 0, got {self.log_floor}")

    @property
    def n_freqs(self) -> int:
        """Rows of the linear spectrogram: n_fft // 2 + 1."""
        return self.n_fft // 2 + 1

    @property
    def frames_per_second(self) -> float:
        """Mel frames per second of audio: sample_rate / hop_length (86.13 for the defaults)."""
        return self.sample_rate / self.hop_length

    def n_frames(self, n_samples: int) -> int:
        """T_mel for T_wav = n_samples (1 + n_samples // hop_length when center=True)."""
        if self.center:
            return 1 + n_samples // self.hop_length
        return 1 + (n_samples - self.n_fft) // self.hop_length

    def filterbank(self) -> np.ndarray:
        """mel_filterbank for this config (n_mels, n_freqs), cached and read-only."""
        return mel_filterbank(self.sample_rate, self.n_fft, self.n_mels, self.fmin, self.fmax)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> MelConfig:
        """Build from a dict (e.g. a checkpoint's), rejecting unknown keys."""
        known = {field.name for field in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"MelConfig.from_dict: unknown keys {unknown}; known keys {sorted(known)}")
        return cls(**values)


def log_mel(x: np.ndarray, config: MelConfig) -> np.ndarray:
    """log(max(mel magnitude, config.log_floor)) (n_mels, T_mel): the HiFi-GAN / Tacotron 2 feature.

    The *magnitude* mel (power=1) in natural log, clamped at log_floor=1e-5 (so silence is
    log(1e-5) ≈ -11.5), STFT padded with "reflect". Not dB, and not librosa's power mel.
    Every setting comes from `config`: build a MelConfig for other settings, e.g.
    log_mel(x, MelConfig(sample_rate=16000, n_mels=40, fmax=7600.0)). Transpose with `.T`
    for the models' (T_mel, n_mels). Lesson 02.
    """
    if not isinstance(config, MelConfig):
        raise TypeError(
            f"log_mel: config must be a MelConfig, got {type(config).__name__} {config!r}; "
            f"for a sample rate alone pass log_mel(x, MelConfig(sample_rate=...)), "
            f"with fmax <= sample_rate / 2"
        )
    mel = melspectrogram(
        x, config.sample_rate, config.n_fft, config.hop_length, config.win_length,
        config.n_mels, config.fmin, config.fmax, 1.0, config.center,
    )  # (n_mels, T_mel)
    return np.log(np.maximum(mel, config.log_floor))
