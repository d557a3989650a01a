"""Argument checks shared by the dsp modules: each returns the checked value or raises a
ValueError that names the calling function, the argument and the fix.

Internal to minispeech.dsp (not in its __all__).
"""

from __future__ import annotations

import numpy as np


def check_signal(x: np.ndarray, caller: str) -> np.ndarray:
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


def check_positive_int(value: int, name: str, caller: str) -> int:
    """value as an int if it is a positive integer (not a bool), else a ValueError."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value <= 0:
        raise ValueError(f"{caller}: {name} must be a positive integer, got {value!r}")
    return int(value)


def check_fft_sizes(caller: str, n_fft: int, hop_length: int, win_length: int | None) -> int:
    """Check n_fft, hop_length, win_length; return win_length (n_fft when None)."""
    check_positive_int(n_fft, "n_fft", caller)
    check_positive_int(hop_length, "hop_length", caller)
    win_length = n_fft if win_length is None else check_positive_int(win_length, "win_length", caller)
    if win_length > n_fft:
        raise ValueError(f"{caller}: win_length={win_length} must be <= n_fft={n_fft}")
    return win_length


def check_spectrogram(S: np.ndarray, caller: str, name: str = "S") -> np.ndarray:
    """S as a finite, non-empty 2-D array (n_freqs, T_mel), or a ValueError that says why."""
    S = np.asarray(S)
    if S.ndim != 2:
        raise ValueError(f"{caller}: {name} must be 2-D (n_freqs, T_mel), got shape {S.shape}")
    if S.size == 0:
        raise ValueError(f"{caller}: {name} is empty, shape {S.shape}")
    if not np.isfinite(S).all():
        raise ValueError(f"{caller}: {name} contains NaN or inf")
    return S
