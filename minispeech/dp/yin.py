"""The YIN difference function (de Cheveigné & Kawahara, 2002, Eq. 6), three ways.

difference_function_reference  plain NumPy, one lag at a time: what the lesson shows
difference_function            the @numba.njit twin: the same loops, compiled
difference_function_fft        the same numbers from one FFT cross-correlation per frame

All three take frames (n_frames, frame_length), one frame per row (that is `frame(x, ...).T`
from minispeech.dsp), and return d (n_frames, max_lag + 1) in float64, where

    d[f, τ] = Σ_{j=0}^{W-1} (x_f[j] - x_f[j + τ])²,   W = frame_length - max_lag,

a fixed integration window W, as in the paper, so every lag sums the same number of terms.
d[:, 0] is 0. minispeech.dsp.yin uses the Numba kernel: on 60 s of 22,050 Hz audio it
beats the FFT variant (O(frame_length log frame_length) a frame instead of O(W · max_lag))
because its inner loop vectorizes and it needs no temporaries.

Taught in lessons/02_mel_mfcc.ipynb, pitch section (exercise: the difference function).
"""

from __future__ import annotations

import numba
import numpy as np


def _check_frames(frames: np.ndarray, max_lag: int) -> np.ndarray:
    frames = np.asarray(frames, dtype=np.float64)
    if frames.ndim != 2:
        raise ValueError(
            f"difference_function: frames must be 2-D (n_frames, frame_length), got shape {frames.shape}"
        )
    if not 0 < max_lag < frames.shape[1]:
        raise ValueError(
            f"difference_function: max_lag must be in [1, frame_length - 1] = "
            f"[1, {frames.shape[1] - 1}], got {max_lag}"
        )
    return frames


def difference_function_reference(frames: np.ndarray, max_lag: int) -> np.ndarray:
    """d (n_frames, max_lag + 1) from frames (n_frames, frame_length): one lag at a time."""
    frames = _check_frames(frames, max_lag)
    n_frames, frame_length = frames.shape
    window = frame_length - max_lag  # W, the integration window
    difference = np.zeros((n_frames, max_lag + 1))
    for lag in range(1, max_lag + 1):
        shifted_error = frames[:, :window] - frames[:, lag : lag + window]  # (n_frames, W)
        difference[:, lag] = np.sum(shifted_error**2, axis=1)
    return difference


@numba.njit(cache=True, fastmath=True)
def difference_function(frames: np.ndarray, max_lag: int) -> np.ndarray:
    """d (n_frames, max_lag + 1) from frames (n_frames, frame_length): compiled loops.

    The same signature and numbers as difference_function_reference (to float64 rounding:
    fastmath lets the compiler reorder each sum to vectorize it over j). Two speed-ups, no
    new math: each frame is copied into a contiguous buffer (frames may be a strided view),
    and four lags share one pass over j, so each x[j] loaded feeds four sums. Arguments
    are not checked here; difference_function_reference checks the same ones.
    """
    n_frames, frame_length = frames.shape
    window = frame_length - max_lag  # W
    difference = np.zeros((n_frames, max_lag + 1))
    x = np.empty(frame_length)
    for f in range(n_frames):
        x[:] = frames[f]
        lag = 1
        while lag + 3 <= max_lag:  # lags lag .. lag + 3 together
            sum0 = 0.0
            sum1 = 0.0
            sum2 = 0.0
            sum3 = 0.0
            for j in range(window):
                error0 = x[j] - x[j + lag]
                error1 = x[j] - x[j + lag + 1]
                error2 = x[j] - x[j + lag + 2]
                error3 = x[j] - x[j + lag + 3]
                sum0 += error0 * error0
                sum1 += error1 * error1
                sum2 += error2 * error2
                sum3 += error3 * error3
            difference[f, lag] = sum0
            difference[f, lag + 1] = sum1
            difference[f, lag + 2] = sum2
            difference[f, lag + 3] = sum3
            lag += 4
        while lag <= max_lag:  # the last max_lag % 4 lags, one at a time
            total = 0.0
            for j in range(window):
                error = x[j] - x[j + lag]
                total += error * error
            difference[f, lag] = total
            lag += 1
    return difference


def difference_function_fft(frames: np.ndarray, max_lag: int) -> np.ndarray:
    """d (n_frames, max_lag + 1) from frames (n_frames, frame_length), via the FFT.

    Expand the square: d(τ) = e(0) + e(τ) - 2 r(τ), with the window energy
    e(τ) = Σ_{j<W} x[j + τ]² (from one cumulative sum) and the cross-correlation
    r(τ) = Σ_{j<W} x[j] x[j + τ] of the first W samples with the whole frame. A circular
    correlation of length frame_length is exact here: j + τ ≤ W - 1 + max_lag = frame_length - 1
    never wraps around.
    """
    frames = _check_frames(frames, max_lag)
    n_frames, frame_length = frames.shape
    window = frame_length - max_lag
    head_spectrum = np.fft.rfft(frames[:, :window], n=frame_length, axis=1)  # (n_frames, n_freqs)
    frame_spectrum = np.fft.rfft(frames, axis=1)  # (n_frames, n_freqs)
    correlation = np.fft.irfft(
        np.conj(head_spectrum) * frame_spectrum, n=frame_length, axis=1
    )[:, : max_lag + 1]  # (n_frames, max_lag + 1)
    cumulative_energy = np.zeros((n_frames, frame_length + 1))
    np.cumsum(frames**2, axis=1, out=cumulative_energy[:, 1:])
    lags = np.arange(max_lag + 1)
    window_energy = cumulative_energy[:, lags + window] - cumulative_energy[:, lags]  # (n_frames, max_lag + 1)
    difference = window_energy[:, :1] + window_energy - 2.0 * correlation
    difference[:, 0] = 0.0
    # Rounding can leave tiny negatives where the true value is 0 (a perfectly periodic frame).
    return np.maximum(difference, 0.0)
