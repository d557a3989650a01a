"""Checks for lessons/01_stft.ipynb: framing, the STFT, its inverse and Griffin-Lim.

check_frame         exercise 1.1, against minispeech.dsp.frame
check_stft          exercise 1.2, against minispeech.dsp.stft (center=True, reflect padding)
check_istft         exercise 1.3, against minispeech.dsp.istft
check_griffin_lim   exercise 1.4, against minispeech.dsp.griffin_lim: first iterates sample by
                    sample from the same seed, then the spectral convergence curve

Every check runs fixed cases and seeded random ones on small float64 inputs (well under a second).
Griffin-Lim is deterministic once its starting phases are drawn from the seed (the exercise
says how), so its first iterates must equal the reference's; then its spectral convergence
after 1 ... 32 iterations, plain and fast, must follow the reference's curve.
Failures say what is wrong and where, then a nudge; hints never give code.
Called by the `# TEST:` cells of lessons/01_stft.ipynb.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from minispeech import dsp
from minispeech.grading.checks import check_function, random_cases

FRAME_HINT = (
    "frames are columns, a hop apart; only whole frames count (a partial frame at the end is "
    "dropped). Compare the wrong column with the samples it should hold."
)
STFT_HINT = (
    "check, in order: the signal is centred (half a window of padding on each side, reflected, "
    "not zeros), each frame is windowed before its FFT, only the non-negative frequencies are "
    "kept, and frequency is the first axis."
)
ISTFT_HINT = (
    "overlap-add gives each sample a sum of window-weighted frames; dividing by one constant is "
    "right only where the windows overlap fully: near the edges fewer frames overlap. Then undo "
    "the centring and honour `length`."
)
GRIFFIN_LIM_HINT = (
    "Griffin-Lim is deterministic once the starting phases are drawn from the seed as the "
    "exercise describes (a fraction of a full turn per bin); each iteration keeps your target "
    "magnitude and only the new phase, and the waveform returned is the one of the last phase "
    "estimate."
)
GRIFFIN_LIM_FIRST_ITERATES = (1, 2, 3)  # compared sample by sample with the reference
GRIFFIN_LIM_CURVE = (1, 2, 4, 8, 16, 32)  # iteration counts of the spectral convergence curve
GRIFFIN_LIM_SLACK = 1.1  # each point of the curve may exceed the reference's by 10%
GRIFFIN_LIM_SEED = 3


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
        student_frame, dsp.frame, cases, name="frame", atol=0.0, rtol=0.0, hint=FRAME_HINT,
        diagnose=_diagnose_frame,
    )  # fmt: skip


def _diagnose_frame(actual, expected, case) -> str | None:
    actual, expected = np.asarray(actual), np.asarray(expected)
    if actual.shape == expected.shape[::-1] and actual.shape != expected.shape:
        return "your frames are rows; the lesson's convention is one frame per column"
    if actual.ndim == 2 and actual.shape[0] == expected.shape[0]:
        return (f"you return {actual.shape[1]} frames where {expected.shape[1]} whole frames fit "
                "in the signal")  # fmt: skip
    return None


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
        student_stft, _stft_reference, cases, name="stft", atol=1e-9, rtol=1e-7, hint=STFT_HINT,
        diagnose=_diagnose_stft,
    )  # fmt: skip


def _diagnose_stft(actual, expected, case) -> str | None:
    actual, expected = np.asarray(actual), np.asarray(expected)
    if actual.shape == expected.shape[::-1] and actual.shape != expected.shape:
        return "your result is (frames, frequencies); the lesson's is (frequencies, frames)"
    if actual.shape[:1] == expected.shape[:1] and actual.shape != expected.shape:
        return (f"you have {actual.shape[1]} frames, expected {expected.shape[1]}: the number of "
                "frames depends on the centring padding")  # fmt: skip
    if actual.shape != expected.shape:
        return (f"you have {actual.shape[0]} frequency rows, expected {expected.shape[0]} "
                "(the non-negative frequencies of an n_fft-point FFT)")  # fmt: skip
    first_frame_wrong = not np.allclose(actual[:, 0], expected[:, 0], atol=1e-9)
    middle = expected.shape[1] // 2
    if first_frame_wrong and np.allclose(actual[:, middle], expected[:, middle], atol=1e-9):
        return "the first frame is wrong but the middle one is right: look at the padding"
    if np.allclose(np.abs(actual), np.abs(expected), atol=1e-7):
        return "the magnitudes are right but the phases are not: where does each frame start?"
    return None


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
        student_istft, _istft_reference, cases, name="istft", atol=1e-9, rtol=1e-7, hint=ISTFT_HINT,
        diagnose=_diagnose_istft,
    )  # fmt: skip


def _diagnose_istft(actual, expected, case) -> str | None:
    actual, expected = np.asarray(actual), np.asarray(expected)
    if actual.shape != expected.shape:
        return (f"your waveform has {actual.size} samples, expected {expected.size}: "
                "`length` (or, without it, hop_length * (n_frames - 1)) sets it")  # fmt: skip
    wrong = ~np.isclose(actual, expected, atol=1e-9, rtol=1e-7)
    edge = max(1, actual.size // 8)
    if wrong[:edge].any() and not wrong[edge:-edge].any():
        return "only samples near the edges are wrong; the middle is right"
    return None


def _test_signal(seconds: float = 0.41, sr: int = 8000) -> np.ndarray:
    """A voiced-like test tone: 11 harmonics of a vibrato around 150 Hz, then a noise burst.

    0.41 s is not a whole number of hops, so ignoring `length` changes the output's shape.
    """
    t = np.arange(int(seconds * sr)) / sr
    phase = 2 * np.pi * np.cumsum(150.0 + 30.0 * np.sin(2 * np.pi * 3 * t)) / sr
    voiced = sum(np.sin(k * phase) / k for k in range(1, 12))
    noise = 0.3 * np.random.default_rng(15).standard_normal(t.size) * (t > seconds * 0.75)
    return voiced * (0.5 + 0.5 * np.sin(2 * np.pi * 2 * t)) + noise


def _call_griffin_lim(function: Callable, magnitude: np.ndarray, length: int, **options):
    """function(magnitude, length=length, **options) as a real (length,) array, or AssertionError."""
    __tracebackhide__ = True
    call = (f"griffin_lim(magnitude{magnitude.shape}, "
            + ", ".join(f"{k}={v}" for k, v in options.items()) + f", length={length})")  # fmt: skip
    try:
        waveform = function(magnitude.copy(), length=length, **options)
    except NotImplementedError:
        raise
    except Exception as error:
        if hasattr(error, "add_note"):
            error.add_note(f"(raised while checking {call})")
        raise
    waveform = np.asarray(waveform)
    if waveform.shape != (length,) or not np.isrealobj(waveform):
        kind = "a complex" if np.iscomplexobj(waveform) else "a real"
        raise AssertionError(
            f"{call}: yours returned {kind} array of shape {waveform.shape}, expected a real "
            f"waveform of shape ({length},)\n"
            "Hint: the result is a waveform: the inverse STFT of the final spectrum, cut to `length`."
        )
    return waveform, call


def _griffin_lim_variant(
    magnitude: np.ndarray, n_iter: int, hop_length: int, momentum: float, seed: int, length: int,
    start: str = "seeded", returned: str = "projected",
) -> np.ndarray:
    """The reference with one known mistake, to name what a wrong answer did.

    start: "seeded" (the exercise), "zero" (no random phases), "no_two_pi" (exp(1j φ));
    returned: "projected" (the exercise), "rebuilt" (istft of the last re-analysed spectrum).
    """
    n_fft = 2 * (magnitude.shape[0] - 1)
    phases = np.random.default_rng(seed).random(magnitude.shape)
    turns = {"seeded": 2 * np.pi, "zero": 0.0, "no_two_pi": 1.0}[start]
    spectrum = magnitude * np.exp(1j * turns * phases)
    previous = rebuilt = None
    for _ in range(n_iter):
        rebuilt = dsp.stft(dsp.istft(spectrum, hop_length, length=length), n_fft, hop_length)
        extrapolated = rebuilt if previous is None else rebuilt - momentum / (1 + momentum) * previous
        spectrum = magnitude * extrapolated / (np.abs(extrapolated) + np.finfo(np.float64).tiny)
        previous = rebuilt
    final = rebuilt if returned == "rebuilt" else spectrum
    return dsp.istft(final, hop_length, length=length)


def _close_waveforms(a: np.ndarray, b: np.ndarray) -> bool:
    return bool(np.allclose(a, b, atol=1e-7 * max(1.0, float(np.abs(b).max())), rtol=1e-5))


def _diagnose_griffin_lim(
    student: Callable, waveform: np.ndarray, magnitude: np.ndarray, n_iter: int,
    hop_length: int, momentum: float, length: int,
) -> str | None:
    """Which known mistake the student's waveform matches, in words."""
    options = {"n_iter": n_iter, "hop_length": hop_length, "momentum": momentum}
    again, _ = _call_griffin_lim(student, magnitude, length, seed=GRIFFIN_LIM_SEED, **options)
    if not _close_waveforms(again, waveform):
        return (f"two calls with seed={GRIFFIN_LIM_SEED} give different waveforms: your starting "
                "phases do not come from a generator seeded with `seed`")  # fmt: skip
    other, _ = _call_griffin_lim(student, magnitude, length, seed=GRIFFIN_LIM_SEED + 1, **options)
    if _close_waveforms(other, waveform):
        return (f"seeds {GRIFFIN_LIM_SEED} and {GRIFFIN_LIM_SEED + 1} give the same waveform: "
                "your starting phases do not come from `seed`")  # fmt: skip
    mistakes = {
        ("zero", "projected"): "your starting phases are all zero",
        ("no_two_pi", "projected"): "your starting phases cover only one radian, not a full turn",
        ("seeded", "rebuilt"): (
            "you return the waveform of the last re-analysed spectrum, before its magnitude was "
            "replaced by the target's"
        ),
    }
    for (start, returned), words in mistakes.items():
        variant = _griffin_lim_variant(magnitude, n_iter, hop_length, momentum, GRIFFIN_LIM_SEED,
                                       length, start=start, returned=returned)  # fmt: skip
        if _close_waveforms(waveform, variant):
            return words
    if momentum > 0:
        plain = _griffin_lim_variant(magnitude, n_iter, hop_length, 0.0, GRIFFIN_LIM_SEED, length)
        if _close_waveforms(waveform, plain):
            return f"with momentum={momentum} your result equals plain Griffin-Lim (momentum 0)"
    if n_iter > 1:
        fewer = _griffin_lim_variant(magnitude, n_iter - 1, hop_length, momentum, GRIFFIN_LIM_SEED,
                                     length)  # fmt: skip
        if _close_waveforms(waveform, fewer):
            return f"your result after {n_iter} iterations equals the reference's after {n_iter - 1}"
    return None


def _spectral_convergence(waveform: np.ndarray, magnitude: np.ndarray, hop_length: int) -> float:
    n_fft = 2 * (magnitude.shape[0] - 1)
    return float(dsp.spectral_convergence(magnitude, np.abs(dsp.stft(waveform, n_fft, hop_length))))


def check_griffin_lim(student_griffin_lim: Callable) -> None:
    """Exercise 1.4: griffin_lim(magnitude, n_iter, hop_length, window, momentum, seed, length).

    1. From seed 3, after 1, 2 and 3 iterations, plain (momentum 0) and fast (momentum 0.99),
       the waveform equals the reference's sample by sample (the starting phases are specified).
    2. The spectral convergence after 1, 2, 4, ..., 32 iterations, plain and fast, is at most
       1.1 times the reference's at every point of the curve.
    A failure names the call, what differs, and which known mistake it matches (phases that
    ignore the seed, zero phases, phases without 2π, returning the wrong iterate).
    """
    __tracebackhide__ = True
    x = _test_signal()
    n_fft, hop_length = 128, 32
    magnitude = np.abs(dsp.stft(x, n_fft, hop_length))  # (65, n_frames)
    for momentum in (0.0, 0.99):
        for n_iter in GRIFFIN_LIM_FIRST_ITERATES:
            options = {"n_iter": n_iter, "hop_length": hop_length, "momentum": momentum,
                       "seed": GRIFFIN_LIM_SEED}  # fmt: skip
            waveform, call = _call_griffin_lim(student_griffin_lim, magnitude, x.size, **options)
            expected = dsp.griffin_lim(magnitude.copy(), length=x.size, **options)
            if not _close_waveforms(waveform, expected):
                index = int(np.argmax(np.abs(waveform - expected)))
                problem = _diagnose_griffin_lim(student_griffin_lim, waveform, magnitude, n_iter,
                                                hop_length, momentum, x.size)  # fmt: skip
                raise AssertionError(
                    f"{call}: the waveform differs from the reference's from the same seed, most at "
                    f"sample {index} ({waveform[index]:.6g}, expected {expected[index]:.6g})"
                    + (f"\nWhat is wrong: {problem}" if problem else "")
                    + f"\nHint: {GRIFFIN_LIM_HINT}\nRerun it: magnitude = np.abs(stft(x, {n_fft}, "
                    f"{hop_length})) with x = minispeech.grading.lesson01._test_signal()"
                )
    print(f"✓ griffin_lim: iterations {GRIFFIN_LIM_FIRST_ITERATES} from seed {GRIFFIN_LIM_SEED} "
          "match the reference sample by sample")  # fmt: skip
    for momentum in (0.0, 0.99):
        curve = []
        for n_iter in GRIFFIN_LIM_CURVE:
            options = {"n_iter": n_iter, "hop_length": hop_length, "momentum": momentum, "seed": 0}
            waveform, call = _call_griffin_lim(student_griffin_lim, magnitude, x.size, **options)
            student = _spectral_convergence(waveform, magnitude, hop_length)
            reference = _spectral_convergence(
                dsp.griffin_lim(magnitude.copy(), length=x.size, **options), magnitude, hop_length
            )
            curve.append(f"{n_iter}: {student:.3f}")
            if student > GRIFFIN_LIM_SLACK * reference + 1e-9:
                raise AssertionError(
                    f"{call}: spectral convergence {student:.4f}, but the reference reaches "
                    f"{reference:.4f} (allowed up to {GRIFFIN_LIM_SLACK * reference:.4f}); your "
                    f"curve so far: {', '.join(curve)}\nHint: {GRIFFIN_LIM_HINT}"
                )
        print(f"✓ griffin_lim: momentum={momentum}: spectral convergence {', '.join(curve)}")
