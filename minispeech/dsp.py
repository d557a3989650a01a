"""Digital signal processing for speech: frames, windows, STFT, Griffin-Lim, mel features.

frame                  overlapping frames, librosa's layout (frame_length, n_frames)
get_window             periodic hann / hamming / blackman windows
stft, istft            short-time Fourier transform; inverse with window-sum-square normalization
griffin_lim            phase from a magnitude: fast Griffin-Lim (Perraudin et al., 2013)
spectral_convergence   ||S - Ŝ||_F / ||S||_F
hz_to_mel, mel_to_hz   the Slaney (default, like librosa) or HTK mel scale
mel_frequencies        n_mels frequencies evenly spaced in mel
mel_filterbank         triangular filters (n_mels, n_freqs), cached and read-only
melspectrogram         mel_filterbank @ |STFT| ** power
log_mel                natural log of the *magnitude* mel clamped at 1e-5 (HiFi-GAN/Tacotron 2)
power_to_db            10 log10(S / ref), floored top_db below the peak, like librosa
MelConfig              the one audio front end every acoustic model and vocoder carries

Shapes   x (T_wav,) float32 or float64, one channel; spectrograms (n_freqs, T_mel) with
         n_freqs = n_fft // 2 + 1; mel features (n_mels, T_mel), time last like librosa.
         With center=True, T_mel = 1 + T_wav // hop_length.
Outputs follow the input precision: float32 in, float32/complex64 out; float64 in, float64 out.

Neighbouring modules, also reachable from here (minispeech.dsp.mfcc, ...) without importing
them up front: minispeech.mfcc (dct, mfcc, deltas, cmvn, spec_augment), minispeech.pitch
(yin, energy) and minispeech.nn.features (LogMel, the torch twin of log_mel).
Taught in lessons/01 (STFT: frame .. spectral_convergence) and lessons/02 (mel .. MelConfig).
"""

from __future__ import annotations

import dataclasses
import functools
import importlib
import math
import warnings

import numpy as np

WINDOWS = ("hann", "hamming", "blackman")
PAD_MODES = ("reflect", "constant")

# ---------------------------------------------------------------------------------------
# Checking arguments
# ---------------------------------------------------------------------------------------


def _check_signal(x: np.ndarray, caller: str) -> np.ndarray:
    """x as a finite, non-empty, 1-D float32/float64 array, or a ValueError that says why."""
    x = np.asarray(x)
    if x.dtype not in (np.float32, np.float64):
        raise ValueError(
            f"{caller}: x must hold float32 or float64 samples, got dtype {x.dtype}; "
            f"convert 16-bit PCM with x.astype(np.float32) / 32768"
        )
    if x.ndim != 1:
        raise ValueError(
            f"{caller}: x must be 1-D (T_wav,), one channel, got shape {x.shape}; "
            f"mix down with x.mean(axis=0) or call once per channel/utterance"
        )
    if x.size == 0:
        raise ValueError(f"{caller}: x is empty (0 samples)")
    if not np.isfinite(x).all():
        first_bad = int(np.flatnonzero(~np.isfinite(x))[0])
        raise ValueError(f"{caller}: x contains NaN or inf (first at sample {first_bad})")
    return x


def _check_positive_int(value: int, name: str, caller: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value <= 0:
        raise ValueError(f"{caller}: {name} must be a positive integer, got {value!r}")
    return int(value)


def _check_fft_sizes(caller: str, n_fft: int, hop_length: int, win_length: int | None) -> int:
    """Check n_fft, hop_length, win_length; return win_length (n_fft when None)."""
    _check_positive_int(n_fft, "n_fft", caller)
    _check_positive_int(hop_length, "hop_length", caller)
    win_length = n_fft if win_length is None else _check_positive_int(win_length, "win_length", caller)
    if win_length > n_fft:
        raise ValueError(f"{caller}: win_length={win_length} must be <= n_fft={n_fft}")
    return win_length


def _check_spectrogram(S: np.ndarray, caller: str, name: str = "S") -> np.ndarray:
    S = np.asarray(S)
    if S.ndim != 2:
        raise ValueError(f"{caller}: {name} must be 2-D (n_freqs, T_mel), got shape {S.shape}")
    if S.size == 0:
        raise ValueError(f"{caller}: {name} is empty, shape {S.shape}")
    if not np.isfinite(S).all():
        raise ValueError(f"{caller}: {name} contains NaN or inf")
    return S


# ---------------------------------------------------------------------------------------
# Frames, windows, STFT (lesson 01)
# ---------------------------------------------------------------------------------------


def frame(x: np.ndarray, frame_length: int, hop_length: int) -> np.ndarray:
    """Overlapping frames of x as a read-only view: (frame_length, n_frames), like librosa.

    Column t is x[t * hop_length : t * hop_length + frame_length]; n_frames =
    1 + (T_wav - frame_length) // hop_length. No padding: pad first for centered frames.
    Take `.T` for one frame per row (n_frames, frame_length). Lesson 01.
    """
    x = _check_signal(x, "frame")
    frame_length = _check_positive_int(frame_length, "frame_length", "frame")
    hop_length = _check_positive_int(hop_length, "hop_length", "frame")
    if x.size < frame_length:
        raise ValueError(
            f"frame: x has {x.size} samples, fewer than frame_length={frame_length}; "
            f"pad x or use a shorter frame"
        )
    frames = np.lib.stride_tricks.sliding_window_view(x, frame_length)[::hop_length]  # (n_frames, frame_length)
    return frames.T  # (frame_length, n_frames)


def get_window(name: str, n: int) -> np.ndarray:
    """A periodic window of length n (float64), as scipy.signal.get_window(name, n, fftbins=True).

    Periodic means the length-(n + 1) symmetric window without its last sample, so
    hops of n/4 (hann, blackman) or n/2 (hann, hamming) overlap-add to a constant.
    hann 0.5 - 0.5 cos(2πk/n); hamming 0.54 - 0.46 cos(2πk/n);
    blackman 0.42 - 0.5 cos(2πk/n) + 0.08 cos(4πk/n). Lesson 01.
    """
    n = _check_positive_int(n, "n", "get_window")
    if name in WINDOWS and n == 1:
        return np.ones(1)  # scipy's convention: a one-sample window passes the sample
    phase = 2.0 * np.pi * np.arange(n) / n
    if name == "hann":
        return 0.5 - 0.5 * np.cos(phase)
    if name == "hamming":
        return 0.54 - 0.46 * np.cos(phase)
    if name == "blackman":
        return 0.42 - 0.5 * np.cos(phase) + 0.08 * np.cos(2.0 * phase)
    raise ValueError(f"get_window: unknown window {name!r}; choose one of {WINDOWS}")


def _fft_window(window: str, win_length: int, n_fft: int, dtype: np.dtype) -> np.ndarray:
    """get_window(window, win_length) zero-padded on both sides to n_fft, centered like librosa."""
    left = (n_fft - win_length) // 2
    padded = np.zeros(n_fft, dtype=dtype)
    padded[left : left + win_length] = get_window(window, win_length)
    return padded


def stft(
    x: np.ndarray,
    n_fft: int = 1024,
    hop_length: int = 256,
    win_length: int | None = None,
    window: str = "hann",
    center: bool = True,
    pad_mode: str = "reflect",
) -> np.ndarray:
    """Short-time Fourier transform: (n_fft // 2 + 1, T_mel), complex64 (complex128 for float64 x).

    S[k, t] = Σ_n w[n] x[t * hop_length + n] exp(-2πi k n / n_fft), with w the window of
    win_length samples zero-padded to n_fft. center=True pads n_fft // 2 samples each side
    (pad_mode "reflect", or "constant" zeros: librosa's own default since 0.10 is "constant"),
    so frame t is centred on sample t * hop_length. Equals librosa.stft with the same
    arguments (and, like it, returns a Fortran-ordered array). Lesson 01.
    """
    return _stft_frames_first(x, n_fft, hop_length, win_length, window, center, pad_mode, "stft").T


# Frames per batched FFT call: 64 frames of 1024 float32 samples (256 KiB) stay in cache.
_FRAMES_PER_BLOCK = 64


def _stft_frames_first(
    x: np.ndarray, n_fft: int, hop_length: int, win_length: int | None, window: str,
    center: bool, pad_mode: str, caller: str,
) -> np.ndarray:
    """The STFT as (T_mel, n_freqs), C-contiguous: one row per frame."""
    import scipy.fft  # faster than numpy.fft here (overwrite_x); imported late to keep import light

    x = _check_signal(x, caller)
    win_length = _check_fft_sizes(caller, n_fft, hop_length, win_length)
    if center:
        if pad_mode not in PAD_MODES:
            raise ValueError(f"{caller}: pad_mode must be one of {PAD_MODES}, got {pad_mode!r}")
        x = np.pad(x, n_fft // 2, mode=pad_mode)
    elif x.size < n_fft:
        raise ValueError(
            f"{caller}: x has {x.size} samples, too short for one frame of n_fft={n_fft} "
            f"with center=False; pad x or use center=True"
        )
    fft_window = _fft_window(window, win_length, n_fft, x.dtype)
    frames = np.lib.stride_tricks.sliding_window_view(x, n_fft)[::hop_length]  # (T_mel, n_fft), a view
    n_frames = frames.shape[0]
    complex_dtype = np.complex64 if x.dtype == np.float32 else np.complex128
    spectrum = np.empty((n_frames, n_fft // 2 + 1), dtype=complex_dtype)  # (T_mel, n_freqs)
    windowed = np.empty((_FRAMES_PER_BLOCK, n_fft), dtype=x.dtype)
    for start in range(0, n_frames, _FRAMES_PER_BLOCK):
        stop = min(start + _FRAMES_PER_BLOCK, n_frames)
        block = np.multiply(frames[start:stop], fft_window, out=windowed[: stop - start])
        spectrum[start:stop] = scipy.fft.rfft(block, axis=-1, overwrite_x=True)
    return spectrum


def _overlap_add(frames: np.ndarray, hop_length: int) -> np.ndarray:
    """Sum frames (n_frames, frame_length) placed hop_length apart: (frame_length + hop * (n_frames - 1),).

    Cut every frame into chunks of hop_length samples; chunk k of frame t lands on block
    t + k of the output, so one vectorized add per chunk index does all frames at once.
    """
    n_frames, frame_length = frames.shape
    n_chunks = -(-frame_length // hop_length)  # ceil
    blocks = np.zeros((n_frames + n_chunks - 1, hop_length), dtype=frames.dtype)
    for k in range(n_chunks):
        chunk = frames[:, k * hop_length : (k + 1) * hop_length]  # (n_frames, <= hop_length)
        blocks[k : k + n_frames, : chunk.shape[1]] += chunk
    return blocks.reshape(-1)[: frame_length + hop_length * (n_frames - 1)]


def istft(
    S: np.ndarray,
    hop_length: int = 256,
    win_length: int | None = None,
    window: str = "hann",
    center: bool = True,
    length: int | None = None,
    n_fft: int | None = None,
) -> np.ndarray:
    """Inverse STFT: (n_freqs, T_mel) complex -> (T_wav,) float32 (float64 for complex128 S).

    Inverse-FFT every frame, window it again, overlap-add, and divide by the overlap-added
    squared window (where it is not ~0): the least-squares signal of Griffin & Lim (1984),
    so istft(stft(x)) == x up to rounding whatever the hop. Without `length` the output has
    hop_length * (T_mel - 1) samples (center=True); with it, it is trimmed or zero-padded
    to length. n_fft defaults to 2 * (n_freqs - 1). Equals librosa.istft. Lesson 01.
    """
    S = _check_spectrogram(S, "istft")
    if not np.iscomplexobj(S):
        raise ValueError(f"istft: S must be complex (an STFT), got dtype {S.dtype}")
    n_freqs, n_frames = S.shape
    n_fft = 2 * (n_freqs - 1) if n_fft is None else n_fft
    win_length = _check_fft_sizes("istft", n_fft, hop_length, win_length)
    if n_fft // 2 + 1 != n_freqs:
        raise ValueError(f"istft: S has {n_freqs} frequencies but n_fft={n_fft} gives {n_fft // 2 + 1}")
    real_dtype = np.float32 if S.dtype == np.complex64 else np.float64
    fft_window = _fft_window(window, win_length, n_fft, real_dtype)
    frames = np.fft.irfft(S.T, n=n_fft, axis=-1) * fft_window  # (T_mel, n_fft)
    signal = _overlap_add(frames, hop_length)
    window_sum_square = _overlap_add(np.broadcast_to(fft_window**2, (n_frames, n_fft)), hop_length)
    nonzero = window_sum_square > np.finfo(real_dtype).tiny
    signal[nonzero] /= window_sum_square[nonzero]
    start = n_fft // 2 if center else 0
    if length is None:
        end = signal.size - start
    else:
        end = start + _check_positive_int(length, "length", "istft")
    signal = signal[start:end]
    if signal.size < end - start:  # asked for more samples than the frames cover
        signal = np.pad(signal, (0, end - start - signal.size))
    return signal.astype(real_dtype, copy=False)


def griffin_lim(
    magnitude: np.ndarray,
    n_iter: int = 32,
    hop_length: int = 256,
    win_length: int | None = None,
    window: str = "hann",
    momentum: float = 0.99,
    seed: int = 0,
    length: int | None = None,
    n_fft: int | None = None,
) -> np.ndarray:
    """A waveform (T_wav,) whose STFT magnitude approximates `magnitude` (n_freqs, T_mel).

    Fast Griffin-Lim (Perraudin, Balazs & Søndergaard, 2013), as librosa.griffinlim:
    start from random phases (seeded), then n_iter times: invert, re-analyse, push the
    new phase past the previous one by momentum / (1 + momentum) (momentum=0 is plain
    Griffin-Lim), and keep only the phase. Uses center=True, pad_mode="reflect". Lesson 01.
    """
    magnitude = _check_spectrogram(magnitude, "griffin_lim", "magnitude")
    if np.iscomplexobj(magnitude) or (magnitude < 0).any():
        raise ValueError("griffin_lim: magnitude must be real and >= 0; pass np.abs(S)")
    if not 0 <= momentum <= 1:
        raise ValueError(f"griffin_lim: momentum must be in [0, 1], got {momentum}")
    n_iter = _check_positive_int(n_iter, "n_iter", "griffin_lim")
    if magnitude.dtype not in (np.float32, np.float64):
        magnitude = magnitude.astype(np.float64)
    n_fft = 2 * (magnitude.shape[0] - 1) if n_fft is None else n_fft
    complex_dtype = np.complex64 if magnitude.dtype == np.float32 else np.complex128
    tiny = np.finfo(magnitude.dtype).tiny

    def analyse(signal: np.ndarray) -> np.ndarray:
        return stft(signal, n_fft, hop_length, win_length, window, center=True, pad_mode="reflect")

    def synthesize(spectrum: np.ndarray) -> np.ndarray:
        return istft(spectrum, hop_length, win_length, window, center=True, length=length, n_fft=n_fft)

    rng = np.random.default_rng(seed)
    spectrum = (magnitude * np.exp(2j * np.pi * rng.random(magnitude.shape))).astype(complex_dtype)
    previous = None
    for _ in range(n_iter):
        rebuilt = analyse(synthesize(spectrum))  # (n_freqs, T_mel)
        if rebuilt.shape != magnitude.shape:
            raise ValueError(
                f"griffin_lim: length={length} gives {rebuilt.shape[1]} frames, "
                f"but magnitude has {magnitude.shape[1]}; leave length=None"
            )
        spectrum = rebuilt if previous is None else rebuilt - (momentum / (1 + momentum)) * previous
        spectrum = magnitude * spectrum / (np.abs(spectrum) + tiny)
        previous = rebuilt
    return synthesize(spectrum)


def spectral_convergence(target_magnitude: np.ndarray, estimate_magnitude: np.ndarray) -> float:
    """||S - Ŝ||_F / ||S||_F between two magnitude spectrograms of the same shape. Lesson 01."""
    target = np.asarray(target_magnitude, dtype=np.float64)
    estimate = np.asarray(estimate_magnitude, dtype=np.float64)
    if target.shape != estimate.shape:
        raise ValueError(
            f"spectral_convergence: shapes differ, target {target.shape} vs estimate {estimate.shape}"
        )
    target_norm = np.linalg.norm(target)
    if target_norm == 0:
        raise ValueError("spectral_convergence: the target magnitude is all zeros")
    return float(np.linalg.norm(target - estimate) / target_norm)


# ---------------------------------------------------------------------------------------
# Mel scale, filterbank, log-mel (lesson 02)
# ---------------------------------------------------------------------------------------

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
    n_mels = _check_positive_int(n_mels, "n_mels", "mel_frequencies")
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
    sr = _check_positive_int(sr, "sr", "mel_filterbank")
    n_fft = _check_positive_int(n_fft, "n_fft", "mel_filterbank")
    n_mels = _check_positive_int(n_mels, "n_mels", "mel_filterbank")
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
    spectrum = _stft_frames_first(
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


# ---------------------------------------------------------------------------------------
# The audio front end every acoustic model and vocoder shares
# ---------------------------------------------------------------------------------------


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


def log_mel(
    x: np.ndarray,
    sr: int | MelConfig,
    n_fft: int = 1024,
    hop_length: int = 256,
    win_length: int | None = None,
    n_mels: int = 80,
    fmin: float = 0.0,
    fmax: float | None = None,
    center: bool = True,
    floor: float = 1e-5,
) -> np.ndarray:
    """log(max(mel magnitude, floor)) (n_mels, T_mel): the HiFi-GAN / Tacotron 2 feature.

    The *magnitude* mel (power=1) in natural log, clamped at floor=1e-5 (so silence is
    log(1e-5) ≈ -11.5), STFT padded with "reflect". Not dB, and not librosa's power mel.
    log_mel(x, config) takes every setting from a MelConfig; the other arguments must then
    stay at their defaults. Lesson 02.
    """
    if isinstance(sr, MelConfig):
        config = sr
        given = (n_fft, hop_length, win_length, n_mels, fmin, fmax, center, floor)
        if given != (1024, 256, None, 80, 0.0, None, True, 1e-5):
            raise ValueError("log_mel(x, config): pass either a MelConfig or explicit settings, not both")
        sr, n_fft, hop_length, win_length = config.sample_rate, config.n_fft, config.hop_length, config.win_length
        n_mels, fmin, fmax, center, floor = config.n_mels, config.fmin, config.fmax, config.center, config.log_floor
    if not floor > 0:
        raise ValueError(f"log_mel: floor must be > 0, got {floor}")
    mel = melspectrogram(x, sr, n_fft, hop_length, win_length, n_mels, fmin, fmax, 1.0, center)
    return np.log(np.maximum(mel, floor))


# ---------------------------------------------------------------------------------------
# Names that live in neighbouring modules, imported on first use (PEP 562), so that
# `import minispeech.dsp` stays light and those modules can import this one.
# ---------------------------------------------------------------------------------------

_NEIGHBOURS = {
    "dct_matrix": "minispeech.mfcc",
    "dct": "minispeech.mfcc",
    "mfcc": "minispeech.mfcc",
    "deltas": "minispeech.mfcc",
    "cmvn": "minispeech.mfcc",
    "spec_augment": "minispeech.mfcc",
    "energy": "minispeech.pitch",
    "yin": "minispeech.pitch",
    "LogMel": "minispeech.nn.features",
}


def __getattr__(name: str):
    if name in _NEIGHBOURS:
        return getattr(importlib.import_module(_NEIGHBOURS[name]), name)
    raise AttributeError(f"module 'minispeech.dsp' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(list(globals()) + list(_NEIGHBOURS))
