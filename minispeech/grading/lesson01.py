"""Checks for lessons/01_stft.ipynb: framing, the STFT, its inverse and Griffin-Lim.

check_frame         exercise 1.1, against minispeech.dsp.frame
check_stft          exercise 1.2, against minispeech.dsp.stft (center=True, reflect padding)
check_istft         exercise 1.3, against minispeech.dsp.istft
check_griffin_lim   exercise 1.4, spectral convergence against minispeech.dsp.griffin_lim

Every check runs fixed cases and seeded random ones on small float64 inputs (well under a second).
Griffin-Lim starts from random phases, so its check compares how well the student's output
converges (mean spectral convergence over four seeds, within 30% of the reference), not samples.
Called by the `# TEST:` cells of lessons/01_stft.ipynb.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from minispeech import dsp
from minispeech.grading.checks import assert_close, check_function, random_cases

STFT_HINT = (
    "pad n_fft // 2 samples on each side with np.pad(x, n_fft // 2, mode='reflect'), cut frames of "
    "n_fft samples every hop_length, multiply each by get_window(window, n_fft), take np.fft.rfft "
    "of each frame; the result is (n_fft // 2 + 1, n_frames), frequency first."
)
ISTFT_HINT = (
    "irfft each column (n=n_fft), multiply by the window, overlap-add the frames hop_length apart, "
    "divide by the overlap-added *squared* window wherever it is > 0 (not by a constant: near the "
    "edges fewer frames overlap), then drop the first n_fft // 2 samples and cut/zero-pad to length."
)
GRIFFIN_LIM_HINT = (
    "each iteration: rebuilt = stft(istft(spectrum)); spectrum = rebuilt - momentum / (1 + momentum) "
    "* previous_rebuilt (no momentum on the first); then keep only the phase: "
    "magnitude * spectrum / (|spectrum| + tiny). Return istft of the final spectrum."
)
GRIFFIN_LIM_SLACK = 1.3  # student's mean spectral convergence may exceed the reference's by 30%
GRIFFIN_LIM_SEEDS = (0, 1, 2, 3)


def check_frame(student_frame: Callable) -> None:
    """Exercise 1.1: frame(x, frame_length, hop_length) -> (frame_length, n_frames)."""
    __tracebackhide__ = True
    cases = [
        (np.arange(10.0), 4, 3),  # columns [0 1 2 3], [3 4 5 6], [6 7 8 9]
        (np.arange(11.0), 4, 2),  # the last sample does not fill a frame
        (np.arange(8.0), 8, 1),  # exactly one frame
        (np.arange(7.0), 2, 5),
    ]
    cases += random_cases(
        11, 20,
        lambda rng: (rng.standard_normal(int(rng.integers(16, 200))),
                     int(rng.integers(1, 16)), int(rng.integers(1, 12))),
    )  # fmt: skip
    check_function(
        student_frame, dsp.frame, cases, name="frame", atol=0.0, rtol=0.0,
        hint="column t is x[t * hop_length : t * hop_length + frame_length]; there are "
        "1 + (len(x) - frame_length) // hop_length columns; return shape (frame_length, n_frames).",
    )  # fmt: skip


def _stft_reference(x: np.ndarray, n_fft: int, hop_length: int, window: str = "hann") -> np.ndarray:
    return dsp.stft(x, n_fft, hop_length, window=window)


def check_stft(student_stft: Callable) -> None:
    """Exercise 1.2: stft(x, n_fft, hop_length, window) with centred, reflect-padded frames."""
    __tracebackhide__ = True
    n = np.arange(64)
    cases = [
        (np.cos(2 * np.pi * 4 * n / 32), 32, 8, "hann"),  # a tone exactly on bin 4
        (np.cos(2 * np.pi * 4 * n / 32), 32, 16, "hamming"),
        (np.sin(0.3 * n) + 0.1 * n / 64, 16, 5, "blackman"),  # a hop that does not divide n_fft
    ]
    cases += random_cases(
        12, 15,
        lambda rng: (rng.standard_normal(int(rng.integers(40, 300))),
                     int(rng.choice([8, 16, 32, 64])), int(rng.integers(1, 20)),
                     str(rng.choice(dsp.WINDOWS))),
    )  # fmt: skip
    check_function(
        student_stft, _stft_reference, cases, name="stft", atol=1e-9, rtol=1e-7, hint=STFT_HINT
    )


def _istft_reference(
    S: np.ndarray, hop_length: int, window: str = "hann", length: int | None = None
) -> np.ndarray:
    return dsp.istft(S, hop_length, window=window, length=length)


def _make_istft_case(rng: np.random.Generator) -> tuple:
    """The STFT of a random signal (with or without `length`), a case any exact inverse passes."""
    n_fft = int(rng.choice([8, 16, 32, 64]))
    hop_length = int(rng.choice([n_fft // 4, n_fft // 2]))
    window = str(rng.choice(dsp.WINDOWS))
    x = rng.standard_normal(int(rng.integers(n_fft, 300)))
    S = dsp.stft(x, n_fft, hop_length, window=window)
    length = x.size if rng.random() < 0.7 else None
    return (S, hop_length, window, length)


def check_istft(student_istft: Callable) -> None:
    """Exercise 1.3: istft(S, hop_length, window, length) by weighted overlap-add (Griffin & Lim, 1984)."""
    __tracebackhide__ = True
    rng = np.random.default_rng(13)
    x = rng.standard_normal(100)
    # An "inconsistent" spectrogram: no signal has it, so only the exact least-squares inverse passes.
    inconsistent = rng.standard_normal((9, 12)) + 1j * rng.standard_normal((9, 12))
    cases = [
        (dsp.stft(x, 16, 4), 4, "hann", 100),
        (dsp.stft(x, 16, 8, window="hamming"), 8, "hamming", 100),
        (dsp.stft(x, 16, 4), 4, "hann", None),  # hop_length * (n_frames - 1) samples
        (dsp.stft(x, 32, 8), 8, "hann", 130),  # longer than the frames cover: zero-padded
        (inconsistent, 4, "hann", None),
        (inconsistent, 5, "blackman", 40),
    ]
    cases += random_cases(14, 15, _make_istft_case)
    check_function(
        student_istft, _istft_reference, cases, name="istft", atol=1e-9, rtol=1e-7, hint=ISTFT_HINT
    )


def _test_signal(seconds: float = 0.41, sr: int = 8000) -> np.ndarray:
    """A voiced-like test tone: 11 harmonics of a vibrato around 150 Hz, then a noise burst.

    0.41 s is not a whole number of hops, so ignoring `length` changes the output's shape.
    """
    t = np.arange(int(seconds * sr)) / sr
    phase = 2 * np.pi * np.cumsum(150.0 + 30.0 * np.sin(2 * np.pi * 3 * t)) / sr
    voiced = sum(np.sin(k * phase) / k for k in range(1, 12))
    noise = 0.3 * np.random.default_rng(15).standard_normal(t.size) * (t > seconds * 0.75)
    return voiced * (0.5 + 0.5 * np.sin(2 * np.pi * 2 * t)) + noise


def _mean_convergence(
    function: Callable,
    magnitude: np.ndarray,
    n_iter: int,
    hop_length: int,
    momentum: float,
    length: int,
    who: str,
) -> float:
    """Mean spectral convergence of function's output over GRIFFIN_LIM_SEEDS."""
    __tracebackhide__ = True
    n_fft = 2 * (magnitude.shape[0] - 1)
    values = []
    for seed in GRIFFIN_LIM_SEEDS:
        call = (f"griffin_lim(magnitude{magnitude.shape}, n_iter={n_iter}, hop_length={hop_length}, "
                f"momentum={momentum}, seed={seed}, length={length})")  # fmt: skip
        try:
            waveform = function(
                magnitude.copy(), n_iter=n_iter, hop_length=hop_length, momentum=momentum,
                seed=seed, length=length,
            )  # fmt: skip
        except NotImplementedError:
            raise
        except Exception as error:
            if hasattr(error, "add_note"):
                error.add_note(f"(raised while checking {call})")
            raise
        waveform = np.asarray(waveform)
        if waveform.shape != (length,) or not np.isrealobj(waveform):
            raise AssertionError(
                f"{call}: {who} returned {'a complex' if np.iscomplexobj(waveform) else 'a real'} "
                f"array of shape {waveform.shape}, expected a real waveform of shape ({length},)\n"
                f"Hint: return istft(spectrum, hop_length, window=window, length=length)"
            )
        values.append(
            dsp.spectral_convergence(magnitude, np.abs(dsp.stft(waveform, n_fft, hop_length)))
        )
    return float(np.mean(values))


def check_griffin_lim(student_griffin_lim: Callable) -> None:
    """Exercise 1.4: griffin_lim(magnitude, n_iter, hop_length, window, momentum, seed, length).

    Random initial phases make exact comparison fragile, so for fast (momentum 0.99) and plain
    (momentum 0) Griffin-Lim the student's mean spectral convergence over four seeds must be
    at most 1.3 times the reference's; and the same seed must give the same waveform.
    """
    __tracebackhide__ = True
    x = _test_signal()
    n_fft, hop_length = 128, 32
    magnitude = np.abs(dsp.stft(x, n_fft, hop_length))  # (65, n_frames)
    for momentum, n_iter in [(0.0, 16), (0.99, 32)]:
        reference = _mean_convergence(
            dsp.griffin_lim, magnitude, n_iter, hop_length, momentum, x.size, "the reference"
        )
        student = _mean_convergence(
            student_griffin_lim, magnitude, n_iter, hop_length, momentum, x.size, "yours"
        )
        if student > GRIFFIN_LIM_SLACK * reference:
            extra = (" With momentum 0.99 it should converge much faster than plain Griffin-Lim: "
                     "check the momentum step.") if momentum > 0 else ""  # fmt: skip
            raise AssertionError(
                f"griffin_lim(n_iter={n_iter}, momentum={momentum}): mean spectral convergence "
                f"{student:.4f} over seeds {GRIFFIN_LIM_SEEDS}, but the reference reaches "
                f"{reference:.4f} (allowed up to {GRIFFIN_LIM_SLACK * reference:.4f}).{extra}\n"
                f"Hint: {GRIFFIN_LIM_HINT}"
            )
        print(f"✓ griffin_lim: momentum={momentum}, {n_iter} iterations: spectral convergence "
              f"{student:.4f} (reference {reference:.4f})")  # fmt: skip
    first, again = (
        student_griffin_lim(
            magnitude.copy(), n_iter=2, hop_length=hop_length, seed=7, length=x.size
        )
        for _ in range(2)
    )
    assert_close(
        np.asarray(again), np.asarray(first), "griffin_lim called twice with seed=7", atol=0.0,
        rtol=0.0, hint="draw the initial phases from np.random.default_rng(seed), not np.random.",
    )  # fmt: skip
    print("✓ griffin_lim: the same seed gives the same waveform")
