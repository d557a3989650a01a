"""Checks for lessons/02_mel_mfcc.ipynb: the mel scale, the filterbank, MFCC and YIN.

check_hz_to_mel               exercise 2.1, against minispeech.dsp.hz_to_mel (Slaney and HTK)
check_mel_filterbank          exercise 2.2, against minispeech.dsp.mel_filterbank (Slaney norm)
check_mfcc                    exercise 2.3, against minispeech.dsp.mfcc_from_mel_db (DCT-II, lifter)
check_difference_function     exercise 2.4, against minispeech.dp.yin.difference_function_reference

Every check runs fixed cases and seeded random ones (well under a second).
Called by the `# TEST:` cells of lessons/02_mel_mfcc.ipynb.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from minispeech import dsp
from minispeech.dp import yin
from minispeech.grading.checks import check_function, random_cases


def check_hz_to_mel(student_hz_to_mel: Callable) -> None:
    """Exercise 2.1: hz_to_mel(frequencies, htk) on arrays, both scales."""
    __tracebackhide__ = True
    fixed = np.array(
        [0.0, 100.0, 200.0, 999.0, 1000.0, 1001.0, 2000.0, 4000.0, 6400.0, 8000.0, 11025.0]
    )
    cases = [(fixed, False), (fixed, True)]
    cases += random_cases(
        21,
        10,
        lambda rng: (
            rng.uniform(0.0, 12000.0, size=int(rng.integers(1, 50))),
            bool(rng.random() < 0.5),
        ),
    )
    check_function(
        student_hz_to_mel, dsp.hz_to_mel, cases, name="hz_to_mel", atol=1e-9, rtol=1e-9,
        hint="Slaney (htk=False): f / (200 / 3) below 1000 Hz; above, 15 + log(f / 1000) * 27 / log(6.4). "
        "HTK (htk=True): 2595 * log10(1 + f / 700). Work elementwise on the array (np.where).",
    )  # fmt: skip


def _filterbank_reference(
    sr: int, n_fft: int, n_mels: int, fmin: float = 0.0, fmax: float | None = None
) -> np.ndarray:
    return np.array(dsp.mel_filterbank(sr, n_fft, n_mels, fmin, fmax))  # a writable copy


def check_mel_filterbank(student_mel_filterbank: Callable) -> None:
    """Exercise 2.2: mel_filterbank(sr, n_fft, n_mels, fmin, fmax) with Slaney normalization."""
    __tracebackhide__ = True
    cases = [
        (22050, 1024, 80, 0.0, 8000.0),  # the course's MelConfig
        (16000, 512, 40, 0.0, None),  # fmax None means sr / 2
        (22050, 2048, 128, 50.0, 11025.0),
        (8000, 256, 20, 300.0, 3400.0),  # telephone band
    ]
    cases += random_cases(
        22, 6,
        lambda rng: (int(rng.choice([8000, 16000, 22050])), int(rng.choice([512, 1024])),
                     int(rng.integers(10, 41)), float(rng.uniform(0, 200)), None),
    )  # fmt: skip
    check_function(
        student_mel_filterbank, _filterbank_reference, cases, name="mel_filterbank", atol=1e-10, rtol=1e-7,
        hint="n_mels + 2 edges evenly spaced in mel (Slaney) from fmin to fmax, back to Hz; filter m "
        "rises from edge m to m + 1 and falls to m + 2, evaluated at np.fft.rfftfreq(n_fft, 1 / sr) "
        "(not at rounded bin indices); then multiply filter m by 2 / (edge[m + 2] - edge[m]).",
    )  # fmt: skip


def _mfcc_reference(log_mel_db: np.ndarray, n_mfcc: int = 13, lifter: float = 0.0) -> np.ndarray:
    return dsp.mfcc_from_mel_db(log_mel_db, n_mfcc, lifter=lifter)


def check_mfcc(student_mfcc_from_log_mel: Callable) -> None:
    """Exercise 2.3: mfcc_from_log_mel(log_mel_db, n_mfcc, lifter): orthonormal DCT-II along the mels."""
    __tracebackhide__ = True
    ramp = np.linspace(-80.0, 0.0, 8)[:, None] * np.ones((1, 3))  # (8 mels, 3 frames)
    cases = [
        (np.zeros((6, 2)) - 20.0, 4, 0.0),  # a flat spectrum: only c0 is nonzero
        (ramp, 8, 0.0),  # every coefficient kept: the full orthonormal DCT
        (ramp, 5, 22.0),
    ]
    cases += random_cases(
        23, 10,
        lambda rng: (rng.uniform(-80.0, 0.0, size=(int(rng.integers(13, 81)), int(rng.integers(1, 30)))),
                     int(rng.integers(1, 14)), float(rng.choice([0.0, 0.0, 22.0, 10.0]))),
    )  # fmt: skip
    check_function(
        student_mfcc_from_log_mel, _mfcc_reference, cases, name="mfcc_from_log_mel", atol=1e-8, rtol=1e-8,
        hint="C[k, n] = cos(pi * k * (2n + 1) / (2 N)) over the N mel bands, row 0 scaled by sqrt(1 / N) "
        "and the others by sqrt(2 / N); mfcc = C[:n_mfcc] @ log_mel_db; with lifter L > 0 multiply "
        "row k (k = 0, 1, ...) by 1 + (L / 2) sin(pi (k + 1) / L).",
    )  # fmt: skip


def _periodic_frames(rng: np.random.Generator) -> tuple:
    """Frames of a random signal with period 37 samples, plus noise in some frames."""
    period = rng.standard_normal(37)
    frames = np.stack(
        [np.roll(np.tile(period, 4), -int(rng.integers(0, 37))) for _ in range(3)]
    )  # (3, 148)
    frames[1] += 0.1 * rng.standard_normal(frames.shape[1])
    return (frames, 60)


def check_difference_function(student_difference_function: Callable) -> None:
    """Exercise 2.4: YIN's d(τ) (Eq. 6) for frames (n_frames, frame_length) -> (n_frames, max_lag + 1)."""
    __tracebackhide__ = True
    cases = [
        (np.arange(8.0)[None, :], 3),  # one frame, a ramp: d(τ) = W τ²
        (np.array([[1.0, -1.0] * 6, [0.0] * 12]), 4),  # period 2, and a silent frame
        _periodic_frames(np.random.default_rng(24)),  # d(37) ~ 0 in the clean frames
    ]
    cases += random_cases(
        25, 10,
        lambda rng: (lambda length: (rng.standard_normal((int(rng.integers(1, 6)), length)),
                                     int(rng.integers(1, length // 2 + 1))))(int(rng.integers(8, 120))),
    )  # fmt: skip
    check_function(
        student_difference_function, yin.difference_function_reference, cases,
        name="difference_function", atol=1e-9, rtol=1e-9,
        hint="W = frame_length - max_lag; d[f, τ] = sum over j < W of (x_f[j] - x_f[j + τ])², the same W "
        "for every lag; d[:, 0] = 0; the result is (n_frames, max_lag + 1).",
    )  # fmt: skip
