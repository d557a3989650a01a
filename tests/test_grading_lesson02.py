"""The lesson-02 checks pass the reference, fail wrong answers with a useful message, and let TODO through."""

import numpy as np
import pytest

from minispeech import dsp
from minispeech.dp import yin
from minispeech.grading import lesson02


def reference_filterbank(sr, n_fft, n_mels, fmin=0.0, fmax=None):
    return np.array(dsp.mel_filterbank(sr, n_fft, n_mels, fmin, fmax))


def reference_mfcc(log_mel_db, n_mfcc=13, lifter=0.0):
    return dsp.mfcc_from_mel_db(log_mel_db, n_mfcc, lifter=lifter)


def test_references_pass(capsys):
    lesson02.check_hz_to_mel(dsp.hz_to_mel)
    lesson02.check_mel_filterbank(reference_filterbank)
    lesson02.check_mfcc(reference_mfcc)
    lesson02.check_difference_function(yin.difference_function_reference)
    lesson02.check_difference_function(yin.difference_function)  # the Numba twin
    lesson02.check_difference_function(yin.difference_function_fft)  # the FFT variant, to rounding
    output = capsys.readouterr().out
    for name in ("hz_to_mel", "mel_filterbank", "mfcc_from_log_mel", "difference_function"):
        assert f"✓ {name}" in output


def test_hz_to_mel_with_only_the_htk_formula_fails_on_slaney():
    def htk_only(frequencies, htk=False):
        return 2595.0 * np.log10(1.0 + np.asarray(frequencies, dtype=np.float64) / 700.0)

    with pytest.raises(
        AssertionError,
        match=r"hz_to_mel\(.*, False\): element \[1\] is 150.489, expected 1.5 \(10 of 11 "
        r"elements differ\)\nWhat is wrong: on the Slaney scale \(htk=False\) values on both sides",
    ):
        lesson02.check_hz_to_mel(htk_only)


def test_hz_to_mel_with_the_log_branch_off_by_the_offset_fails():
    def no_offset(frequencies, htk=False):
        f = np.asarray(frequencies, dtype=np.float64)
        if htk:
            return dsp.hz_to_mel(f, htk=True)
        return np.where(
            f >= 1000, 27 * np.log(np.maximum(f, 1000) / 1000) / np.log(6.4), f / (200 / 3)
        )

    with pytest.raises(
        AssertionError, match=r"element \[4\] is 0, expected 15.*\nWhat is wrong: .*at or above 1000 Hz"
    ):
        lesson02.check_hz_to_mel(no_offset)


def test_filterbank_without_normalization_fails_with_the_hint():
    def unnormalized(sr, n_fft, n_mels, fmin=0.0, fmax=None):
        return np.array(dsp.mel_filterbank(sr, n_fft, n_mels, fmin, fmax, norm=None))

    with pytest.raises(
        AssertionError,
        match=r"mel_filterbank\(22050, 1024, 80, 0.0, 8000.0\): element \[0, 1\] .*\n"
        r"What is wrong: every filter has the right shape but the wrong height",
    ):
        lesson02.check_mel_filterbank(unnormalized)


def test_filterbank_on_rounded_bins_fails():
    def rounded_bins(sr, n_fft, n_mels, fmin=0.0, fmax=None):
        """The HTK-book recipe: snap every edge to the nearest FFT bin first."""
        fmax = sr / 2 if fmax is None else fmax
        edges = dsp.mel_frequencies(n_mels + 2, fmin, fmax)
        edges = np.round(edges * n_fft / sr) * sr / n_fft
        bins = np.fft.rfftfreq(n_fft, 1 / sr)
        filters = np.zeros((n_mels, len(bins)))
        for m in range(n_mels):
            left, centre, right = edges[m : m + 3]
            with np.errstate(divide="ignore", invalid="ignore"):
                rising = np.nan_to_num((bins - left) / (centre - left))
                falling = np.nan_to_num((right - bins) / (right - centre))
            filters[m] = np.maximum(0, np.minimum(rising, falling)) * 2 / max(right - left, 1e-9)
        return filters

    with pytest.raises(
        AssertionError, match=r"mel_filterbank\(22050, 1024, 80, 0.0, 8000.0\): element \["
    ):
        lesson02.check_mel_filterbank(rounded_bins)


def test_unnormalized_dct_fails_and_missing_lifter_fails():
    def scipy_default_dct(log_mel_db, n_mfcc=13, lifter=0.0):
        return dsp.mfcc_from_mel_db(log_mel_db, n_mfcc, norm=None, lifter=lifter)

    with pytest.raises(
        AssertionError,
        match=r"mfcc_from_log_mel\(.*, 4, 0.0\): element \[0, 0\] is -240, expected -48.98",
    ):
        lesson02.check_mfcc(scipy_default_dct)

    def ignores_lifter(log_mel_db, n_mfcc=13, lifter=0.0):
        return dsp.mfcc_from_mel_db(log_mel_db, n_mfcc)

    with pytest.raises(
        AssertionError,
        match=r"mfcc_from_log_mel\(.*, 5, 22.0\): element \[0, 0\] .*\n"
        r"What is wrong: with lifter=22.0 your coefficients are the unliftered ones",
    ):
        lesson02.check_mfcc(ignores_lifter)


def test_difference_function_with_a_shrinking_window_fails():
    def shrinking_window(frames, max_lag):
        """Sums over all overlapping samples, so long lags sum fewer terms: not YIN's fixed W."""
        frame_length = frames.shape[1]
        difference = np.zeros((frames.shape[0], max_lag + 1))
        for lag in range(1, max_lag + 1):
            difference[:, lag] = np.sum(
                (frames[:, : frame_length - lag] - frames[:, lag:]) ** 2, axis=1
            )
        return difference

    with pytest.raises(
        AssertionError,
        match=r"difference_function\(numpy.ndarray\(shape=\(1, 8\).*, 3\): "
        r"element \[0, 1\] is 7, expected 5 .*\nWhat is wrong: your sums are too large from lag 1",
    ):
        lesson02.check_difference_function(shrinking_window)


def test_difference_function_without_lag_zero_fails_on_shape():
    def no_lag_zero(frames, max_lag):
        return yin.difference_function_reference(frames, max_lag)[:, 1:]

    with pytest.raises(AssertionError, match=r"result has shape \(1, 3\), expected \(1, 4\)"):
        lesson02.check_difference_function(no_lag_zero)


@pytest.mark.parametrize(
    "check",
    [
        lesson02.check_hz_to_mel,
        lesson02.check_mel_filterbank,
        lesson02.check_mfcc,
        lesson02.check_difference_function,
    ],
)
def test_unfinished_exercise_propagates_not_implemented(check):
    def todo(*args, **kwargs):
        raise NotImplementedError("Exercise 2.k: todo")

    with pytest.raises(NotImplementedError, match="Exercise 2.k"):
        check(todo)
