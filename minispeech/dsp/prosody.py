"""Prosody features per frame: energy (RMS) and the fundamental frequency (f0) by YIN.

energy   per-frame root-mean-square amplitude, equal to librosa.feature.rms
yin      f0 in Hz and a voiced flag per frame (de Cheveigné & Kawahara, 2002)

Shapes   x (T_wav,) float32/float64 -> (T_mel,) with T_mel = 1 + T_wav // hop_length when
         center=True: with the same hop_length they line up with the STFT and mel frames.
The YIN difference function is a Numba kernel in minispeech/dp/yin.py, imported on the first
call of yin() so that `import minispeech.dsp` does not load Numba.
Taught in lessons/02_mel_mfcc.ipynb (pitch and energy); used by lessons/08 (FastSpeech 2 predictors).
"""

from __future__ import annotations

import numpy as np

from minispeech.dsp.checks import check_positive_int, check_signal
from minispeech.dsp.spectral import PAD_MODES, frame


def _padded_frames(
    x: np.ndarray, frame_length: int, hop_length: int, center: bool, pad_mode: str, caller: str,
    padding: tuple[int, int],
) -> np.ndarray:
    """Frames (frame_length, T_mel) of x, padded first by (left, right) samples when center."""
    x = check_signal(x, caller)
    frame_length = check_positive_int(frame_length, "frame_length", caller)
    check_positive_int(hop_length, "hop_length", caller)
    if center:
        if pad_mode not in PAD_MODES:
            raise ValueError(f"{caller}: pad_mode must be one of {PAD_MODES}, got {pad_mode!r}")
        x = np.pad(x, padding, mode=pad_mode)
    elif x.size < frame_length:
        raise ValueError(
            f"{caller}: x has {x.size} samples, too short for one frame of {frame_length} "
            f"with center=False; pad x or use center=True"
        )
    return frame(x, frame_length, hop_length)


def energy(
    x: np.ndarray,
    frame_length: int = 1024,
    hop_length: int = 256,
    center: bool = True,
    pad_mode: str = "constant",
) -> np.ndarray:
    """Per-frame RMS sqrt(mean(x²)) (T_mel,), in x's precision.

    Equals librosa.feature.rms(y=x, ...)[0] (librosa returns shape (1, T_mel)), whose
    centring pads with zeros ("constant"). Lesson 02.
    """
    padding = (frame_length // 2, frame_length // 2)  # as librosa
    frames = _padded_frames(x, frame_length, hop_length, center, pad_mode, "energy", padding)
    return np.sqrt(np.mean(frames**2, axis=0))  # (T_mel,)


def yin(
    x: np.ndarray,
    sr: int,
    fmin: float = 60.0,
    fmax: float = 500.0,
    frame_length: int = 1024,
    hop_length: int = 256,
    threshold: float = 0.1,
    center: bool = True,
    pad_mode: str = "constant",
) -> tuple[np.ndarray, np.ndarray]:
    """f0 (T_mel,) in Hz and voiced_flag (T_mel,) bool by YIN; unvoiced frames get f0 = 0.0.

    For each frame of frame_length samples:
    1. d(τ), the difference function (Eq. 6) with integration window
       W = frame_length - max_lag, for τ = 0 .. max_lag = ceil(sr / fmin). With center,
       frame t starts at sample t * hop_length - W // 2 (zero padding by default, like
       librosa.yin), so the window compared at lag τ is centred τ / 2 after t * hop_length;
    2. d'(τ) = d(τ) / ((1/τ) Σ_{j=1..τ} d(j)), the cumulative-mean-normalized difference
       (CMND, Eq. 8), which is 1 on average and dips towards 0 at the period;
    3. the smallest τ >= floor(sr / fmax) where d' has a local minimum below `threshold`
       (the absolute threshold, step 4); no such dip means unvoiced;
    4. a parabola through d at τ - 1, τ, τ + 1 refines τ (step 5, on the raw d, which the
       paper notes is unbiased), and f0 = sr / τ.
    Needs frame_length >= 2 * max_lag, so W holds at least one longest period. Lesson 02.
    """
    from minispeech.dp.yin import difference_function  # Numba: loaded on first use, not on import

    if not 0 < fmin < fmax <= sr / 2:
        raise ValueError(f"yin: need 0 < fmin < fmax <= sr / 2 = {sr / 2}, got fmin={fmin}, fmax={fmax}")
    if not 0 < threshold < 1:
        raise ValueError(f"yin: threshold must be in (0, 1), got {threshold}")
    max_lag = int(np.ceil(sr / fmin))
    min_lag = max(1, int(np.floor(sr / fmax)))
    if frame_length < 2 * max_lag:
        raise ValueError(
            f"yin: frame_length={frame_length} is too short for fmin={fmin} Hz at sr={sr}: "
            f"it must hold two longest periods, {2 * max_lag} samples; raise frame_length or fmin"
        )
    x = check_signal(x, "yin").astype(np.float64)  # the kernel is compiled for float64
    # Centre each frame's integration window (W samples) on sample t * hop_length, so f0
    # lines up with the STFT frames; T_mel = 1 + T_wav // hop_length.
    window = frame_length - max_lag
    padding = (window // 2, frame_length - window // 2)
    frames = _padded_frames(x, frame_length, hop_length, center, pad_mode, "yin", padding)  # (frame_length, T_mel)
    difference = difference_function(frames.T, max_lag)  # (T_mel, max_lag + 1)

    # CMND: d'(τ) = τ d(τ) / Σ_{j<=τ} d(j); d'(0) = 1. Silent frames (all d = 0) get d' = 1.
    cumulative = np.cumsum(difference[:, 1:], axis=1)  # (T_mel, max_lag)
    lags = np.arange(1, max_lag + 1)
    normalized = np.ones_like(difference)  # (T_mel, max_lag + 1)
    nonzero = cumulative > np.finfo(np.float64).tiny
    normalized[:, 1:][nonzero] = (difference[:, 1:] * lags)[nonzero] / cumulative[nonzero]

    # Candidates: lags in [min_lag, max_lag - 1] at a local minimum of d' below the threshold.
    candidate_lags = np.arange(min_lag, max_lag)
    here = normalized[:, candidate_lags]  # (T_mel, n_candidates)
    is_dip = (here < normalized[:, candidate_lags - 1]) & (here <= normalized[:, candidate_lags + 1])
    is_candidate = is_dip & (here < threshold)
    voiced = is_candidate.any(axis=1)  # (T_mel,)
    period = candidate_lags[np.argmax(is_candidate, axis=1)]  # (T_mel,) first candidate

    # Parabolic interpolation on the raw difference function around the chosen lag.
    rows = np.arange(difference.shape[0])
    before, at, after = (difference[rows, period + shift] for shift in (-1, 0, 1))
    curvature = before - 2.0 * at + after
    offset = np.zeros_like(at)
    bends_up = curvature > 0
    offset[bends_up] = 0.5 * (before - after)[bends_up] / curvature[bends_up]
    offset = np.clip(offset, -1.0, 1.0)
    f0 = np.where(voiced, sr / (period + offset), 0.0)
    return f0, voiced
