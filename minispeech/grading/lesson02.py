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
        hint="the two scales are different formulas: Slaney's is linear below 1000 Hz and "
        "logarithmic above, and both pieces meet at 1000 Hz; HTK's is one logarithmic formula. "
        "Compute elementwise on the whole array.",
        diagnose=_diagnose_hz_to_mel,
    )  # fmt: skip


def _diagnose_hz_to_mel(actual, expected, case) -> str | None:
    """Which scale, and which side of 1000 Hz, the wrong elements are on."""
    frequencies, htk = case
    wrong = ~np.isclose(np.asarray(actual, dtype=np.float64), expected, atol=1e-9, rtol=1e-9)
    if htk:
        return "the HTK scale (htk=True) is wrong"
    low, high = wrong[frequencies < 1000].any(), wrong[frequencies >= 1000].any()
    if low and high:
        return "on the Slaney scale (htk=False) values on both sides of 1000 Hz are wrong"
    side = "below" if low else "at or above"
    return f"on the Slaney scale (htk=False) only frequencies {side} 1000 Hz are wrong"


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
        hint="check, in order: the band edges are evenly spaced on the mel scale (Slaney's), not in "
        "Hz; each triangle is evaluated at the exact frequency of every FFT bin, not at rounded bin "
        "indices; each triangle is scaled so that wider filters are lower (Slaney normalization).",
        diagnose=_diagnose_filterbank,
    )  # fmt: skip


def _diagnose_filterbank(actual, expected, case) -> str | None:
    """Rows off by one factor each: the normalization; otherwise, which filter goes wrong first."""
    actual, expected = np.asarray(actual, dtype=np.float64), np.asarray(expected)
    if actual.shape != expected.shape:
        return f"the filterbank is (n_mels, n_fft // 2 + 1) = {expected.shape}"
    ratios = []
    for got, want in zip(actual, expected, strict=True):
        support = want > 1e-12
        if support.any() and (np.abs(got[~support]) < 1e-12).all():
            ratios.append(got[support] / want[support])
    if len(ratios) == len(expected) and all(np.ptp(r) < 1e-6 * np.abs(r).max() for r in ratios):
        return "every filter has the right shape but the wrong height: look at the normalization"
    first = int(np.argmax((~np.isclose(actual, expected, atol=1e-10, rtol=1e-7)).any(axis=1)))
    return f"filter {first} is the first wrong one (of {len(expected)})"


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
        hint="the DCT-II is taken along the mel axis (each frame separately) and must be orthonormal: "
        "its first row is scaled differently from the others. The lifter (when L > 0) reweights "
        "coefficient k, counting from 0, by the lesson's sine formula.",
        diagnose=_diagnose_mfcc,
    )  # fmt: skip


def _diagnose_mfcc(actual, expected, case) -> str | None:
    """Which coefficients are wrong: c0 only, every coefficient by one factor, only with a lifter."""
    log_mel_db, n_mfcc, lifter = case
    actual, expected = np.asarray(actual, dtype=np.float64), np.asarray(expected)
    if actual.shape != expected.shape:
        return f"the result is (n_mfcc, n_frames) = {expected.shape}"
    wrong_rows = (~np.isclose(actual, expected, atol=1e-8, rtol=1e-8)).any(axis=1)
    unliftered = _mfcc_reference(log_mel_db, n_mfcc, 0.0)
    if lifter > 0 and np.allclose(actual, unliftered, atol=1e-8, rtol=1e-8):
        return f"with lifter={lifter} your coefficients are the unliftered ones"
    if wrong_rows[0] and not wrong_rows[1:].any():
        return "only coefficient 0 is wrong"
    if not wrong_rows[0] and wrong_rows[1:].all():
        return "coefficient 0 is right but every other coefficient is wrong"
    return None


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
        hint="YIN's Eq. 6 sums over a window of the same length W for every lag, so that lags compare "
        "fairly (W leaves room for the largest lag inside the frame); lag 0 is included.",
        diagnose=_diagnose_difference,
    )  # fmt: skip


def _diagnose_difference(actual, expected, case) -> str | None:
    actual, expected = np.asarray(actual, dtype=np.float64), np.asarray(expected)
    if actual.shape != expected.shape:
        return f"the result is (n_frames, max_lag + 1) = {expected.shape}, lag 0 included"
    wrong_lags = (~np.isclose(actual, expected, atol=1e-9, rtol=1e-9)).any(axis=0)
    if wrong_lags[0]:
        return "d at lag 0 is wrong: a frame differs from itself by nothing"
    if (actual[:, 1:] >= expected[:, 1:] - 1e-9).all():
        return f"your sums are too large from lag {int(np.argmax(wrong_lags))} on: too many terms"
    return f"the first wrong lag is {int(np.argmax(wrong_lags))}"
