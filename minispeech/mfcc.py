"""The classic recognizer front end after the mel spectrogram: MFCC, deltas, CMVN, SpecAugment.

dct_matrix, dct   the DCT-II written out as a matrix (orthonormal by default)
mfcc              MFCCs exactly as librosa.feature.mfcc computes them
deltas            Savitzky-Golay time derivatives, as librosa.feature.delta
cmvn              cepstral mean and variance normalization over time
spec_augment      frequency and time masks (Park et al., 2019) on a copy

Shapes   features (n_features, T_mel), time last like librosa; waveforms as in minispeech.dsp.
Also reachable as minispeech.dsp.mfcc etc.
Taught in lessons/02 (mel and MFCC), used by lessons/03 (HMM) and the ASR lessons.
"""

from __future__ import annotations

import functools
import math

import numpy as np

from minispeech.dsp import _check_positive_int, _check_spectrogram, melspectrogram, power_to_db


@functools.lru_cache(maxsize=32)
def dct_matrix(n_out: int, n_in: int, norm: str | None = "ortho") -> np.ndarray:
    """The DCT-II as a matrix (n_out, n_in), read-only: C[k, n] = cos(π k (2n + 1) / (2 n_in)).

    norm="ortho" scales row 0 by sqrt(1 / n_in) and the others by sqrt(2 / n_in), making the
    full square matrix orthonormal; norm=None scales by 2 (scipy's unnormalized DCT-II).
    Lesson 02.
    """
    n_out = _check_positive_int(n_out, "n_out", "dct_matrix")
    n_in = _check_positive_int(n_in, "n_in", "dct_matrix")
    if n_out > n_in:
        raise ValueError(f"dct_matrix: n_out={n_out} must be <= n_in={n_in}")
    if norm not in ("ortho", None):
        raise ValueError(f"dct_matrix: norm must be 'ortho' or None, got {norm!r}")
    k = np.arange(n_out)[:, None]
    n = np.arange(n_in)[None, :]
    basis = np.cos(np.pi * k * (2 * n + 1) / (2 * n_in))  # (n_out, n_in)
    if norm == "ortho":
        basis *= np.sqrt(2.0 / n_in)
        basis[0] *= np.sqrt(0.5)
    else:
        basis *= 2.0
    basis.setflags(write=False)
    return basis


def dct(x: np.ndarray, n: int | None = None, axis: int = -1, norm: str | None = "ortho") -> np.ndarray:
    """DCT-II of x along `axis`, keeping the first n coefficients (all when None).

    Equals scipy.fft.dct(x, type=2, norm=norm, axis=axis) truncated to n coefficients.
    Note: here n counts the outputs kept; in scipy n pads or truncates the input. Lesson 02.
    """
    x = np.asarray(x)
    if not np.issubdtype(x.dtype, np.floating):
        raise ValueError(f"dct: x must be a float array, got dtype {x.dtype}")
    n_in = x.shape[axis]
    basis = dct_matrix(n_in if n is None else n, n_in, norm).astype(x.dtype)  # (n, n_in)
    moved = np.moveaxis(x, axis, -1)  # (..., n_in)
    return np.moveaxis(moved @ basis.T, -1, axis)


def mfcc(
    x: np.ndarray | None = None,
    sr: int = 22050,
    S: np.ndarray | None = None,
    n_mfcc: int = 13,
    dct_type: int = 2,
    norm: str | None = "ortho",
    lifter: float = 0.0,
    n_fft: int = 1024,
    hop_length: int = 256,
    win_length: int | None = None,
    window: str = "hann",
    center: bool = True,
    pad_mode: str = "reflect",
    n_mels: int = 80,
    fmin: float = 0.0,
    fmax: float | None = None,
    htk: bool = False,
) -> np.ndarray:
    """MFCCs (n_mfcc, T_mel), as librosa.feature.mfcc computes them.

    S, when given, is a log-power mel spectrogram in dB (n_mels, T_mel); otherwise
    S = power_to_db(melspectrogram(x, power=2)) with ref=1 and top_db=80 over the whole
    utterance. Then the DCT-II along the mel axis keeps n_mfcc coefficients, and
    lifter > 0 scales coefficient k (1-based) by 1 + (lifter / 2) sin(π k / lifter).
    Only dct_type=2 is supported. Lesson 02.
    """
    if dct_type != 2:
        raise ValueError(f"mfcc: only dct_type=2 is supported, got {dct_type}")
    if lifter < 0:
        raise ValueError(f"mfcc: lifter must be >= 0, got {lifter}")
    if (x is None) == (S is None):
        raise ValueError("mfcc: pass exactly one of x (a waveform) or S (a log-power mel in dB)")
    if S is None:
        mel = melspectrogram(
            x, sr, n_fft, hop_length, win_length, n_mels, fmin, fmax, 2.0, center,
            window=window, pad_mode=pad_mode, htk=htk,
        )
        S = power_to_db(mel)
    S = _check_spectrogram(S, "mfcc")
    n_mfcc = _check_positive_int(n_mfcc, "n_mfcc", "mfcc")
    if n_mfcc > S.shape[0]:
        raise ValueError(f"mfcc: n_mfcc={n_mfcc} must be <= the number of mel bands {S.shape[0]}")
    coefficients = dct(S, n_mfcc, axis=0, norm=norm)  # (n_mfcc, T_mel)
    if lifter > 0:
        k = np.arange(1, n_mfcc + 1)
        coefficients *= (1.0 + (lifter / 2.0) * np.sin(np.pi * k / lifter))[:, None].astype(S.dtype)
    return coefficients


def deltas(features: np.ndarray, width: int = 9, order: int = 1) -> np.ndarray:
    """Time derivative of `order` along the last axis, same shape: librosa.feature.delta.

    A Savitzky-Golay filter: fit a polynomial of degree `order` to each window of `width`
    frames by least squares and take its order-th derivative at the centre. For order 1
    the weights are t / Σ t² for t = -width//2 .. width//2 (the HTK delta formula). As in
    librosa's mode="interp", the first and last width // 2 frames take the derivative of
    the fit to the first / last full window, which for a degree-`order` polynomial is the
    same constant as the window's centre frame. Lesson 02.
    """
    features = np.asarray(features)
    if not np.issubdtype(features.dtype, np.floating) or features.ndim == 0:
        raise ValueError(f"deltas: features must be a float array (..., T), got {features.dtype} {features.shape}")
    width = _check_positive_int(width, "width", "deltas")
    order = _check_positive_int(order, "order", "deltas")
    if width < 3 or width % 2 == 0:
        raise ValueError(f"deltas: width must be an odd integer >= 3, got {width}")
    if order >= width:
        raise ValueError(f"deltas: order={order} must be < width={width}")
    if features.shape[-1] < width:
        raise ValueError(f"deltas: need at least width={width} frames, got {features.shape[-1]}")
    half = width // 2
    positions = np.arange(-half, half + 1, dtype=np.float64)
    vandermonde = positions[:, None] ** np.arange(order + 1)  # (width, order + 1)
    # Row `order` of the pseudo-inverse gives the degree-`order` coefficient of the fit.
    weights = math.factorial(order) * np.linalg.pinv(vandermonde)[order]  # (width,)
    windows = np.lib.stride_tricks.sliding_window_view(features, width, axis=-1)  # (..., T - 2 half, width)
    centre = windows @ weights.astype(features.dtype)  # (..., T - 2 half)
    pad = [(0, 0)] * (features.ndim - 1) + [(half, half)]
    return np.pad(centre, pad, mode="edge")


def cmvn(features: np.ndarray, axis: int = -1, variance: bool = True, eps: float = 1e-8) -> np.ndarray:
    """Cepstral mean (and variance) normalization along `axis` (time, by default).

    (features - mean) / (std + eps), or features - mean with variance=False. Over one
    utterance this removes a fixed channel (a microphone's filter is additive in log
    and cepstral domains). Lesson 02.
    """
    features = np.asarray(features)
    if not np.issubdtype(features.dtype, np.floating) or features.size == 0:
        raise ValueError(f"cmvn: features must be a non-empty float array, got {features.dtype} {features.shape}")
    centred = features - features.mean(axis=axis, keepdims=True)
    if not variance:
        return centred
    return centred / (features.std(axis=axis, keepdims=True) + eps)


def spec_augment(
    features: np.ndarray,
    n_freq_masks: int = 2,
    freq_mask_width: int = 15,
    n_time_masks: int = 2,
    time_mask_width: int = 40,
    time_mask_fraction: float = 0.2,
    seed: int | np.random.Generator | None = None,
    mask_value: float | None = None,
) -> np.ndarray:
    """A masked copy of features (n_mels, T_mel): SpecAugment without time warping.

    Each frequency mask covers f ~ U{0, .., freq_mask_width} consecutive bands starting at
    f0 ~ U{0, .., n_mels - f}; each time mask t ~ U{0, .., min(time_mask_width,
    time_mask_fraction * T_mel)} frames (the bound p of Park et al., 2019: 0.2 in their LD
    policy), likewise placed. Masks may overlap. Masked cells get mask_value, by default the
    mean of `features` (0 for normalized features, as in the paper). `seed` is an int or a
    np.random.Generator (reproducible) or None (fresh randomness). The input is never
    modified. Lesson 02.
    """
    features = np.asarray(features)
    if features.ndim != 2 or not np.issubdtype(features.dtype, np.floating):
        raise ValueError(
            f"spec_augment: features must be a float (n_mels, T_mel) array, got {features.dtype} {features.shape}"
        )
    if not 0.0 <= time_mask_fraction <= 1.0:
        raise ValueError(f"spec_augment: time_mask_fraction must be in [0, 1], got {time_mask_fraction}")
    for name, value in [("n_freq_masks", n_freq_masks), ("freq_mask_width", freq_mask_width),
                        ("n_time_masks", n_time_masks), ("time_mask_width", time_mask_width)]:
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
            raise ValueError(f"spec_augment: {name} must be an integer >= 0, got {value!r}")
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    n_mels, n_frames = features.shape
    masked = features.copy()
    fill = features.mean() if mask_value is None else mask_value
    max_time_width = min(time_mask_width, int(time_mask_fraction * n_frames))
    for size, max_width, n_masks, axis in [(n_mels, min(freq_mask_width, n_mels), n_freq_masks, 0),
                                           (n_frames, max_time_width, n_time_masks, 1)]:
        for _ in range(n_masks):
            width = int(rng.integers(0, max_width + 1))
            start = int(rng.integers(0, size - width + 1))
            if axis == 0:
                masked[start : start + width, :] = fill
            else:
                masked[:, start : start + width] = fill
    return masked
