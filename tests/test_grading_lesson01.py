"""The lesson-01 checks pass the reference, fail wrong answers with a useful message, and let TODO through."""

import numpy as np
import pytest

from minispeech import dsp
from minispeech.grading import lesson01


def reference_stft(x, n_fft, hop_length, window="hann"):
    return dsp.stft(x, n_fft, hop_length, window=window)


def reference_istft(S, hop_length, window="hann", length=None):
    return dsp.istft(S, hop_length, window=window, length=length)


def plain_griffin_lim(
    magnitude, n_iter=32, hop_length=256, window="hann", momentum=0.99, seed=0, length=None
):
    """A correct fast Griffin-Lim written independently of the library: the same phases drawn
    with uniform(0, 2π), the phase kept with np.angle."""
    n_fft = 2 * (magnitude.shape[0] - 1)
    rng = np.random.default_rng(seed)
    spectrum = magnitude * np.exp(1j * rng.uniform(0.0, 2 * np.pi, magnitude.shape))
    previous = None
    for _ in range(n_iter):
        rebuilt = dsp.stft(
            dsp.istft(spectrum, hop_length, window=window, length=length),
            n_fft,
            hop_length,
            window=window,
        )
        extrapolated = (
            rebuilt if previous is None else rebuilt - momentum / (1 + momentum) * previous
        )
        spectrum = magnitude * np.exp(1j * np.angle(extrapolated))
        previous = rebuilt
    return dsp.istft(spectrum, hop_length, window=window, length=length)


def test_references_pass(capsys):
    lesson01.check_frame(dsp.frame)
    lesson01.check_stft(reference_stft)
    lesson01.check_istft(reference_istft)
    lesson01.check_griffin_lim(dsp.griffin_lim)
    output = capsys.readouterr().out
    for name in ("frame", "stft", "istft", "griffin_lim"):
        assert f"✓ {name}" in output


def test_frames_as_rows_fail_naming_the_shape():
    def frames_as_rows(x, frame_length, hop_length):
        return np.array(dsp.frame(x, frame_length, hop_length).T)

    with pytest.raises(
        AssertionError,
        match=r"^frame\(.*, 4, 3\): result has shape \(3, 4\), expected \(4, 3\)\n"
        r"What is wrong: your frames are rows.*\nHint: frames are columns",
    ):
        lesson01.check_frame(frames_as_rows)


def test_frame_with_a_padded_last_frame_fails():
    def padded(x, frame_length, hop_length):
        n_frames = -(-(len(x) - frame_length) // hop_length) + 1  # ceil: one frame too many
        x = np.pad(x, (0, frame_length + hop_length * n_frames))
        return np.stack(
            [x[t * hop_length : t * hop_length + frame_length] for t in range(n_frames)], axis=1
        )

    with pytest.raises(
        AssertionError,
        match=r"frame\(numpy.ndarray\(shape=\(11,\).*, 4, 2\): result has shape \(4, 5\), expected \(4, 4\)",
    ):
        lesson01.check_frame(padded)


def test_stft_without_a_window_fails_with_the_hint():
    def no_window(x, n_fft, hop_length, window="hann"):
        return np.fft.rfft(
            dsp.frame(np.pad(x, n_fft // 2, mode="reflect"), n_fft, hop_length), axis=0
        )

    with pytest.raises(
        AssertionError, match=r"stft\(.*\): element \[.*\] is .*expected.*\nHint: check, in order"
    ):
        lesson01.check_stft(no_window)


def test_stft_without_centre_padding_fails_on_shape():
    def uncentred(x, n_fft, hop_length, window="hann"):
        return dsp.stft(x, n_fft, hop_length, window=window, center=False)

    with pytest.raises(AssertionError, match=r"result has shape \(17, 5\), expected \(17, 9\)"):
        lesson01.check_stft(uncentred)


def test_istft_dividing_by_a_constant_fails_at_the_edges():
    def constant_gain(S, hop_length, window="hann", length=None):
        n_fft = 2 * (S.shape[0] - 1)
        window_values = dsp.get_window(window, n_fft)
        frames = np.fft.irfft(S, n=n_fft, axis=0) * window_values[:, None]
        signal = np.zeros(n_fft + hop_length * (S.shape[1] - 1))
        for t in range(S.shape[1]):
            signal[t * hop_length : t * hop_length + n_fft] += frames[:, t]
        signal /= (
            np.sum(window_values**2) / hop_length
        )  # the COLA constant: right only in the middle
        keep = hop_length * (S.shape[1] - 1) if length is None else length
        signal = signal[n_fft // 2 : n_fft // 2 + keep]
        return np.pad(signal, (0, keep - len(signal)))

    with pytest.raises(
        AssertionError,
        match=r"istft\(.*\): element \[0\] is .*\nWhat is wrong: only samples near the edges",
    ):
        lesson01.check_istft(constant_gain)


def test_istft_ignoring_length_fails():
    def no_length(S, hop_length, window="hann", length=None):
        return dsp.istft(S, hop_length, window=window)

    with pytest.raises(AssertionError, match=r"result has shape \(96,\), expected \(100,\)"):
        lesson01.check_istft(no_length)


def test_an_independent_griffin_lim_with_other_phases_passes(capsys):
    lesson01.check_griffin_lim(plain_griffin_lim)
    assert capsys.readouterr().out.count("✓ griffin_lim") == 3


def griffin_lim_with(start="seeded", returned="projected"):
    """A griffin_lim with one of the mistakes the issue found passing the old check."""

    def wrong(magnitude, n_iter=32, hop_length=256, window="hann", momentum=0.99, seed=0, length=None):
        return lesson01._griffin_lim_variant(
            magnitude, n_iter, hop_length, momentum, seed, length, start=start, returned=returned
        )

    return wrong


@pytest.mark.parametrize(
    ("start", "returned", "words"),
    [
        ("zero", "projected", "your starting phases do not come from `seed`"),
        ("no_two_pi", "projected", "cover only one radian, not a full turn"),
        ("seeded", "rebuilt", "the last re-analysed spectrum"),
    ],
)
def test_griffin_lim_mistakes_that_used_to_pass_fail_and_are_named(start, returned, words):
    with pytest.raises(AssertionError, match=r"(?s)n_iter=1, .*seed=3.*differs.*What is wrong: .*" + words):
        lesson01.check_griffin_lim(griffin_lim_with(start, returned))


def test_griffin_lim_without_momentum_fails():
    def no_momentum(
        magnitude, n_iter=32, hop_length=256, window="hann", momentum=0.99, seed=0, length=None
    ):
        return dsp.griffin_lim(
            magnitude, n_iter, hop_length, window=window, momentum=0.0, seed=seed, length=length
        )

    with pytest.raises(
        AssertionError,
        match=r"(?s)n_iter=2, hop_length=32, momentum=0.99, seed=3.*differs.*What is wrong: with momentum=0.99 your "
        r"result equals plain Griffin-Lim",
    ):
        lesson01.check_griffin_lim(no_momentum)


def test_griffin_lim_that_never_iterates_fails():
    def random_phase_only(
        magnitude, n_iter=32, hop_length=256, window="hann", momentum=0.99, seed=0, length=None
    ):
        phases = np.random.default_rng(seed).random(magnitude.shape)
        return dsp.istft(
            magnitude * np.exp(2j * np.pi * phases), hop_length, window=window, length=length
        )

    with pytest.raises(
        AssertionError, match=r"(?s)n_iter=1, .*differs.*\nHint: Griffin-Lim is deterministic"
    ):
        lesson01.check_griffin_lim(random_phase_only)


def test_griffin_lim_unseeded_fails_and_wrong_length_is_named():
    calls = []

    def unseeded(
        magnitude, n_iter=32, hop_length=256, window="hann", momentum=0.99, seed=0, length=None
    ):
        calls.append(seed)  # ignores `seed`: a new seed on every call (deterministic, for the test)
        return dsp.griffin_lim(
            magnitude,
            n_iter,
            hop_length,
            window=window,
            momentum=momentum,
            seed=100 + len(calls),
            length=length,
        )

    with pytest.raises(AssertionError, match=r"(?s)seed=3.*two calls with seed=3 give different"):
        lesson01.check_griffin_lim(unseeded)

    def ignores_length(
        magnitude, n_iter=32, hop_length=256, window="hann", momentum=0.99, seed=0, length=None
    ):
        return dsp.griffin_lim(
            magnitude, n_iter, hop_length, window=window, momentum=momentum, seed=seed
        )

    with pytest.raises(
        AssertionError,
        match=r"yours returned a real array of shape \(3264,\), expected a real waveform of shape \(3280,\)",
    ):
        lesson01.check_griffin_lim(ignores_length)


@pytest.mark.parametrize(
    "check",
    [lesson01.check_frame, lesson01.check_stft, lesson01.check_istft, lesson01.check_griffin_lim],
)
def test_unfinished_exercise_propagates_not_implemented(check):
    def todo(*args, **kwargs):
        raise NotImplementedError("Exercise 1.k: todo")

    with pytest.raises(NotImplementedError, match="Exercise 1.k"):
        check(todo)
