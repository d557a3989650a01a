"""minispeech.dsp (spectral, mel, cepstrum, augment, prosody), minispeech.dp.yin, minispeech.nn.features.

Parity against librosa 0.10+/scipy (test-only references), tolerances stated per test;
property tests (hypothesis) for the YIN kernel on tiny inputs.
"""

from __future__ import annotations

import dataclasses
import subprocess
import sys
import types
import warnings

import numpy as np
import pytest
import scipy.fft
import scipy.signal
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from minispeech import dsp
from minispeech.dp import yin as yin_kernels

librosa = pytest.importorskip("librosa")

SR = 22050


def relative_error(ours: np.ndarray, reference: np.ndarray) -> float:
    """max |ours - reference| / max |reference|: the error relative to the array's scale."""
    return float(np.abs(ours - reference).max() / np.abs(reference).max())


def speech_like(seconds: float = 1.0, sr: int = SR, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A vowel-like signal and its f0 per sample: a 29-harmonic source with a gliding pitch
    (110-170 Hz) and vibrato, through three formant resonators (700, 1200, 2600 Hz), with a
    syllable-rate loudness contour. float32, peak 0.3."""
    t = np.arange(int(seconds * sr)) / sr
    f0 = 140 + 30 * np.sin(2 * np.pi * 0.5 * t) + 3 * np.sin(2 * np.pi * 5.5 * t)
    phase = 2 * np.pi * np.cumsum(f0) / sr
    source = sum(np.sin(k * phase) / k for k in range(1, 30))
    y = np.zeros_like(source)
    for centre, bandwidth in [(700, 100), (1200, 120), (2600, 200)]:
        r = np.exp(-np.pi * bandwidth / sr)
        y += scipy.signal.lfilter([1 - r], [1, -2 * r * np.cos(2 * np.pi * centre / sr), r * r], source)
    y *= 0.5 + 0.5 * np.sin(2 * np.pi * 4 * t) ** 2
    y += 1e-3 * np.random.default_rng(seed).standard_normal(t.size)
    return (0.3 * y / np.abs(y).max()).astype(np.float32), f0


# --- frames, windows, STFT ----------------------------------------------------------------


@pytest.mark.parametrize("name", dsp.WINDOWS)
@pytest.mark.parametrize("n", [1, 7, 256, 1024])
def test_get_window_matches_scipy_periodic(name, n):
    np.testing.assert_allclose(dsp.get_window(name, n), scipy.signal.get_window(name, n, fftbins=True), atol=1e-12)


def test_frame_matches_librosa_layout():
    x = np.arange(100, dtype=np.float64)
    ours = dsp.frame(x, frame_length=16, hop_length=5)
    np.testing.assert_array_equal(ours, librosa.util.frame(x, frame_length=16, hop_length=5))
    assert ours.shape == (16, 1 + (100 - 16) // 5)
    assert not ours.flags.writeable


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("center", [True, False])
@pytest.mark.parametrize("n_fft, win_length", [(16, None), (255, None), (256, 200), (1024, None), (1023, 801)])
def test_stft_matches_librosa(dtype, center, n_fft, win_length):
    """Max error <= 1e-5 of the spectrum's peak (and 1e-5 in Frobenius norm), signal lengths
    from 1 sample (heavily reflected) to several seconds' worth of frames, all windows."""
    rng = np.random.default_rng(n_fft)
    hop = max(1, n_fft // 4)
    for length in [1, 5, 100, n_fft - 1, n_fft, 3001, 8192]:
        if not center and length < n_fft:
            continue
        for window in dsp.WINDOWS:
            x = rng.standard_normal(length).astype(dtype)
            ours = dsp.stft(x, n_fft, hop, win_length, window, center, pad_mode="reflect")
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)  # librosa: n_fft too large for input
                reference = librosa.stft(x, n_fft=n_fft, hop_length=hop, win_length=win_length,
                                         window=window, center=center, pad_mode="reflect")
            assert ours.shape == reference.shape and ours.dtype == reference.dtype
            assert relative_error(ours, reference) < 1e-5, (length, window)
            assert np.linalg.norm(ours - reference) / np.linalg.norm(reference) < 1e-5


def test_stft_constant_padding_matches_librosa():
    x = np.random.default_rng(1).standard_normal(5000)
    ours = dsp.stft(x, 512, 128, pad_mode="constant")
    assert relative_error(ours, librosa.stft(x, n_fft=512, hop_length=128, pad_mode="constant")) < 1e-12


@pytest.mark.parametrize("dtype, min_snr_db", [(np.float64, 250.0), (np.float32, 100.0)])
@pytest.mark.parametrize("n_fft, hop, window", [(1024, 256, "hann"), (512, 128, "blackman"), (400, 100, "hamming"), (255, 64, "hann")])
def test_istft_round_trip_snr(dtype, min_snr_db, n_fft, hop, window):
    x = np.random.default_rng(2).standard_normal(12345).astype(dtype)
    y = dsp.istft(dsp.stft(x, n_fft, hop, window=window), hop, window=window, length=x.size, n_fft=n_fft)
    assert y.dtype == dtype and y.shape == x.shape
    snr_db = 10 * np.log10(np.sum(x.astype(np.float64) ** 2) / np.sum((x - y.astype(np.float64)) ** 2))
    assert snr_db >= min_snr_db


@pytest.mark.parametrize("length", [None, 5000, 7000])
@pytest.mark.parametrize("center", [True, False])
def test_istft_matches_librosa(length, center):
    S = dsp.stft(np.random.default_rng(3).standard_normal(6000), 512, 128, win_length=400, center=center)
    ours = dsp.istft(S, 128, win_length=400, center=center, length=length)
    reference = librosa.istft(S, hop_length=128, win_length=400, center=center, length=length)
    assert ours.shape == reference.shape
    np.testing.assert_allclose(ours, reference, atol=1e-10)


def test_griffin_lim_converges_on_speech_like_signal():
    """Spectral convergence < 0.1 after 32 iterations (librosa reaches ~0.07), and falling."""
    x, _ = speech_like(1.0)
    magnitude = np.abs(dsp.stft(x))
    convergence = {}
    for n_iter in (4, 32):
        y = dsp.griffin_lim(magnitude, n_iter=n_iter, seed=0)
        assert y.dtype == np.float32 and y.size == 256 * (magnitude.shape[1] - 1)
        convergence[n_iter] = dsp.spectral_convergence(magnitude, np.abs(dsp.stft(y)))
    assert convergence[32] < 0.1
    assert convergence[32] < 0.6 * convergence[4]
    again = dsp.griffin_lim(magnitude, n_iter=4, seed=0)
    np.testing.assert_array_equal(again, dsp.griffin_lim(magnitude, n_iter=4, seed=0))


def test_spectral_convergence_definition():
    S = np.array([[3.0, 0.0], [0.0, 4.0]])
    assert dsp.spectral_convergence(S, S) == 0.0
    assert dsp.spectral_convergence(S, np.zeros_like(S)) == pytest.approx(1.0)
    assert dsp.spectral_convergence(S, S + 1.0) == pytest.approx(2.0 / 5.0)


# --- mel, log-mel, MFCC ----------------------------------------------------------------------


@pytest.mark.parametrize("htk", [False, True])
def test_mel_scale_matches_librosa(htk):
    frequencies = np.concatenate([np.linspace(0, 11025, 301), [999.999, 1000.0, 1000.001]])
    np.testing.assert_allclose(dsp.hz_to_mel(frequencies, htk), librosa.hz_to_mel(frequencies, htk=htk), rtol=1e-12)
    mels = dsp.hz_to_mel(frequencies, htk)
    np.testing.assert_allclose(dsp.mel_to_hz(mels, htk), librosa.mel_to_hz(mels, htk=htk), rtol=1e-12)
    np.testing.assert_allclose(dsp.mel_to_hz(mels, htk), frequencies, atol=1e-8)
    assert isinstance(dsp.hz_to_mel(440.0, htk), float)
    assert dsp.hz_to_mel(440.0, htk) == pytest.approx(float(librosa.hz_to_mel(440.0, htk=htk)))
    np.testing.assert_allclose(dsp.mel_frequencies(40, 20.0, 8000.0, htk),
                               librosa.mel_frequencies(40, fmin=20.0, fmax=8000.0, htk=htk), rtol=1e-12)


@pytest.mark.parametrize("htk", [False, True])
@pytest.mark.parametrize("norm", ["slaney", None])
@pytest.mark.parametrize("sr, n_fft, n_mels, fmin, fmax", [(22050, 1024, 80, 0.0, 8000.0), (16000, 512, 40, 20.0, None), (24000, 2048, 128, 0.0, None)])
def test_mel_filterbank_matches_librosa(htk, norm, sr, n_fft, n_mels, fmin, fmax):
    ours = dsp.mel_filterbank(sr, n_fft, n_mels, fmin, fmax, htk, norm)
    reference = librosa.filters.mel(sr=sr, n_fft=n_fft, n_mels=n_mels, fmin=fmin, fmax=fmax, htk=htk, norm=norm)
    assert ours.shape == (n_mels, n_fft // 2 + 1)
    np.testing.assert_allclose(ours, reference, atol=1e-6)  # librosa's is float32


def test_mel_filterbank_cache_is_read_only():
    first = dsp.mel_filterbank(22050, 1024)
    assert dsp.mel_filterbank(22050, 1024) is first
    with pytest.raises(ValueError):
        first[0, 0] = 1.0


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("power", [1.0, 2.0])
def test_melspectrogram_matches_librosa(dtype, power):
    x, _ = speech_like(0.5)
    ours = dsp.melspectrogram(x.astype(dtype), SR, 1024, 256, n_mels=80, fmax=8000.0, power=power)
    reference = librosa.feature.melspectrogram(y=x.astype(dtype), sr=SR, n_fft=1024, hop_length=256, n_mels=80,
                                               fmax=8000.0, power=power, pad_mode="reflect")
    assert ours.dtype == dtype and ours.shape == reference.shape == (80, 1 + x.size // 256)
    assert relative_error(ours, reference) < 1e-5


def test_log_mel_is_natural_log_of_clamped_magnitude_mel():
    x, _ = speech_like(0.5)
    x[:3000] = 0.0  # silence hits the floor
    config = dsp.MelConfig()
    features = dsp.log_mel(x, config)
    magnitude_mel = dsp.melspectrogram(x, SR, 1024, 256, 1024, 80, 0.0, 8000.0, power=1.0)
    np.testing.assert_allclose(features, np.log(np.maximum(magnitude_mel, 1e-5)), rtol=1e-6)
    assert features.min() == pytest.approx(np.log(1e-5))
    with pytest.raises(TypeError, match="MelConfig"):
        dsp.log_mel(x, SR)


def test_power_to_db_matches_librosa():
    S = np.abs(np.random.default_rng(4).standard_normal((20, 30))) ** 4
    for ref, top_db in [(1.0, 80.0), (2.5, None), (1.0, 20.0)]:
        np.testing.assert_allclose(dsp.power_to_db(S, ref=ref, top_db=top_db),
                                   librosa.power_to_db(S, ref=ref, top_db=top_db), atol=1e-10)


@pytest.mark.parametrize("norm", ["ortho", None])
def test_dct_matches_scipy_and_is_orthonormal(norm):
    x = np.random.default_rng(5).standard_normal((6, 40, 3))
    np.testing.assert_allclose(dsp.dct(x, 13, axis=1, norm=norm),
                               scipy.fft.dct(x, type=2, norm=norm, axis=1)[:, :13], atol=1e-10)
    square = dsp.dct_matrix(40, 40)
    np.testing.assert_allclose(square @ square.T, np.eye(40), atol=1e-12)


@pytest.mark.parametrize("n_mfcc, lifter, n_mels, fmax", [(13, 0, 80, None), (20, 22, 40, 8000.0), (40, 0, 40, None)])
def test_mfcc_matches_librosa(n_mfcc, lifter, n_mels, fmax):
    x, _ = speech_like(1.0)
    config = dsp.MFCCConfig(SR, n_mfcc, n_fft=1024, hop_length=256, n_mels=n_mels, fmax=fmax, lifter=lifter)
    ours = dsp.mfcc(x, config)
    reference = librosa.feature.mfcc(y=x, sr=SR, n_mfcc=n_mfcc, lifter=lifter, n_fft=1024, hop_length=256,
                                     n_mels=n_mels, fmax=fmax, pad_mode="reflect")
    assert ours.shape == reference.shape
    # 1e-3 absolute, plus 1e-5 relative for the liftered coefficients (scaled up to 12x).
    np.testing.assert_allclose(ours, reference, atol=1e-3, rtol=1e-5)
    log_power_mel = librosa.power_to_db(librosa.feature.melspectrogram(
        y=x, sr=SR, n_fft=1024, hop_length=256, n_mels=n_mels, fmax=fmax, pad_mode="reflect"))
    np.testing.assert_allclose(dsp.mfcc_from_mel_db(log_power_mel, n_mfcc, lifter=lifter), reference,
                               atol=1e-3, rtol=1e-5)


def test_mfcc_config_is_frozen_and_checked():
    config = dsp.MFCCConfig()
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.n_mfcc = 20
    for bad in [dict(n_mfcc=0), dict(n_mfcc=41, n_mels=40), dict(fmax=12000.0), dict(win_length=2048),
                dict(window="kaiser"), dict(pad_mode="wrap"), dict(dct_norm="backward"), dict(lifter=-1.0)]:
        with pytest.raises(ValueError, match="MFCCConfig"):
            dsp.MFCCConfig(**bad)
    with pytest.raises(TypeError, match="MFCCConfig"):
        dsp.mfcc(np.zeros(4000, np.float32), SR)


@pytest.mark.parametrize("width, order", [(3, 1), (9, 1), (9, 2), (5, 2), (7, 3)])
def test_deltas_match_librosa(width, order):
    features = np.random.default_rng(6).standard_normal((13, 50))
    np.testing.assert_allclose(dsp.deltas(features, width, order),
                               librosa.feature.delta(features, width=width, order=order), atol=1e-10)


def test_deltas_of_a_ramp_is_its_slope():
    ramp = np.tile(3.0 * np.arange(20.0), (2, 1))
    np.testing.assert_allclose(dsp.deltas(ramp, 5, 1), 3.0, atol=1e-12)


def test_cmvn_normalizes_each_row_over_time():
    features = np.random.default_rng(7).normal(5.0, 3.0, size=(13, 200))
    normalized = dsp.cmvn(features)
    np.testing.assert_allclose(normalized.mean(axis=-1), 0.0, atol=1e-12)
    np.testing.assert_allclose(normalized.std(axis=-1), 1.0, atol=1e-6)
    np.testing.assert_allclose(dsp.cmvn(features, variance=False).std(axis=-1), features.std(axis=-1))


def test_spec_augment_is_seeded_masks_and_leaves_input_alone():
    features = np.random.default_rng(8).standard_normal((80, 300)).astype(np.float32)
    original = features.copy()
    first = dsp.spec_augment(features, seed=123)
    np.testing.assert_array_equal(first, dsp.spec_augment(features, seed=123))
    np.testing.assert_array_equal(features, original)
    assert first.dtype == features.dtype and first.shape == features.shape
    changed = first != features
    assert changed.any() and np.all(first[changed] == features.mean())
    # Masks are whole bands or whole frames, each within its width limit.
    assert np.all(changed.all(axis=1) | ~changed.all(axis=1))
    masked_bands = np.flatnonzero(changed.all(axis=1))
    assert masked_bands.size <= 2 * 15
    masked_frames = np.flatnonzero(changed.all(axis=0))
    assert masked_frames.size <= 2 * min(40, int(0.2 * 300))
    assert not np.array_equal(first, dsp.spec_augment(features, seed=124))
    zero_masks = dsp.spec_augment(features, n_freq_masks=0, n_time_masks=0, seed=1)
    np.testing.assert_array_equal(zero_masks, features)
    full = dsp.spec_augment(features, 1, 80, 0, 0, seed=np.random.default_rng(0), mask_value=0.0)
    assert set(np.unique(full[features != full])) <= {0.0}


# --- the shared front end, LogMel in torch --------------------------------------------------


def test_mel_config_derived_values_and_validation():
    config = dsp.MelConfig()
    assert config.n_freqs == 513 and config.frames_per_second == pytest.approx(22050 / 256)
    assert config.n_frames(22050) == dsp.log_mel(np.zeros(22050, np.float32), config).shape[1]
    assert dsp.MelConfig.from_dict(config.to_dict()) == config
    with pytest.raises(ValueError, match="unknown keys"):
        dsp.MelConfig.from_dict({**config.to_dict(), "n_mel": 80})
    for bad in [dict(hop_length=2048), dict(win_length=2048), dict(fmax=12000.0), dict(n_mels=0),
                dict(n_fft=1024.0), dict(log_floor=0.0), dict(fmin=9000.0)]:
        with pytest.raises(ValueError, match="MelConfig"):
            dsp.MelConfig(**bad)


def test_torch_log_mel_matches_numpy():
    torch = pytest.importorskip("torch")
    from minispeech.nn.features import LogMel

    config = dsp.MelConfig(n_fft=1024, win_length=800, hop_length=200, n_mels=64, fmax=7600.0)
    module = LogMel(config)
    x, _ = speech_like(0.7)
    batch = np.stack([x, 0.5 * x[::-1]])
    expected = np.stack([dsp.log_mel(row.copy(), config) for row in batch])  # (2, n_mels, T_mel)
    ours = module(torch.from_numpy(batch)).numpy()
    assert ours.shape == expected.shape == (2, 64, config.n_frames(x.size))
    np.testing.assert_allclose(ours, expected, atol=1e-4)
    np.testing.assert_allclose(module(torch.from_numpy(x)).numpy(), expected[0], atol=1e-4)
    assert len(module.state_dict()) == 0
    with pytest.raises(ValueError, match="float"):
        module(torch.zeros(4000, dtype=torch.int16))
    with pytest.raises(ValueError, match="shape"):
        module(torch.zeros(1, 2, 4000))


# --- energy and YIN -----------------------------------------------------------------------------


@pytest.mark.parametrize("center", [True, False])
def test_energy_matches_librosa_rms(center):
    x, _ = speech_like(0.5)
    np.testing.assert_allclose(dsp.energy(x, 1024, 256, center),
                               librosa.feature.rms(y=x, frame_length=1024, hop_length=256, center=center)[0],
                               rtol=1e-5, atol=1e-8)


@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_yin_kernels_equal_reference(data):
    n_frames = data.draw(st.integers(1, 4))
    frame_length = data.draw(st.integers(2, 24))
    max_lag = data.draw(st.integers(1, frame_length - 1))
    frames = data.draw(hnp.arrays(np.float64, (n_frames, frame_length),
                                  elements=st.floats(-1, 1, allow_nan=False, width=32)))
    reference = yin_kernels.difference_function_reference(frames, max_lag)
    assert reference.shape == (n_frames, max_lag + 1)
    scale = 1e-12 * max(1.0, float(np.sum(frames**2)))
    np.testing.assert_allclose(yin_kernels.difference_function(frames, max_lag), reference, atol=scale)
    np.testing.assert_allclose(yin_kernels.difference_function_fft(frames, max_lag), reference, atol=scale)
    # Brute force, one frame and lag at a time, straight from Eq. 6.
    window = frame_length - max_lag
    for f in range(n_frames):
        for lag in range(max_lag + 1):
            brute = sum((frames[f, j] - frames[f, j + lag]) ** 2 for j in range(window))
            assert reference[f, lag] == pytest.approx(brute, abs=1e-12)


def test_yin_kernel_on_strided_frames():
    x = np.random.default_rng(9).standard_normal(5000)
    frames = dsp.frame(x, 1024, 256).T  # (n_frames, frame_length), a strided view
    np.testing.assert_allclose(yin_kernels.difference_function(frames, 368),
                               yin_kernels.difference_function_reference(frames, 368), rtol=1e-10)


@pytest.mark.parametrize("f0", [70.0, 98.0, 130.0, 185.0, 247.0, 330.0, 400.0])
def test_yin_finds_harmonic_tone_pitch(f0):
    """Within 1 % on every voiced frame; all frames past the zero-padded edges are voiced."""
    t = np.arange(SR) / SR
    tone = sum(np.sin(2 * np.pi * k * f0 * t + k) / k for k in range(1, 8)).astype(np.float32)
    estimate, voiced = dsp.yin(tone, SR, fmin=60, fmax=500)
    assert estimate.shape == voiced.shape == (1 + tone.size // 256,)
    assert voiced[4:-4].all()
    np.testing.assert_allclose(estimate[voiced], f0, rtol=0.01)
    assert np.all(estimate[~voiced] == 0.0)


def test_yin_silence_and_noise_are_unvoiced():
    estimate, voiced = dsp.yin(np.zeros(8000), SR)
    assert not voiced.any() and np.all(estimate == 0.0)
    _, voiced = dsp.yin(np.random.default_rng(10).standard_normal(SR), SR)
    assert voiced.mean() < 0.05


def test_yin_agrees_with_librosa_on_pitch_contour():
    """Gross errors (> 20 % off librosa.yin) on < 5 % of the frames we call voiced, and
    on those frames the median error against the true contour is under 0.5 % (ours is
    ~0.1 %, librosa's ~0.2 %, on this signal)."""
    x, f0_true = speech_like(2.0)
    ours, voiced = dsp.yin(x, SR, fmin=60, fmax=500)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        reference = librosa.yin(x, fmin=60, fmax=500, sr=SR, frame_length=1024, hop_length=256)
    assert ours.shape == reference.shape and voiced.mean() > 0.9
    gross = np.abs(ours[voiced] / reference[voiced] - 1) > 0.2
    assert gross.mean() < 0.05
    frame_f0 = f0_true[np.minimum(np.arange(ours.size) * 256, x.size - 1)]
    assert np.median(np.abs(ours[voiced] / frame_f0[voiced] - 1)) < 0.005


def test_dsp_import_is_light_and_its_names_are_functions():
    code = ("import sys, minispeech.dsp; heavy = {'torch', 'librosa', 'numba', 'scipy'} & set(sys.modules); "
            "assert not heavy, heavy")
    subprocess.run([sys.executable, "-c", code], check=True)
    import minispeech.dsp.cepstrum
    import minispeech.dsp.prosody

    # No submodule shadows a public name: after importing every submodule, the names are still functions.
    assert dsp.mfcc is minispeech.dsp.cepstrum.mfcc and dsp.yin is minispeech.dsp.prosody.yin
    for name in dsp.__all__:
        assert not isinstance(getattr(dsp, name), types.ModuleType), name
    with pytest.raises(AttributeError):
        dsp.no_such_function  # noqa: B018


# --- bad input ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "x, match",
    [
        (np.zeros(0, np.float32), "empty"),
        (np.zeros((2, 1000), np.float32), "1-D"),
        (np.arange(1000, dtype=np.int16), "float32 or float64"),
        (np.array([0.0, np.nan, 0.0] * 400), "NaN or inf"),
        (np.array([0.0, np.inf] * 600), "NaN or inf"),
    ],
)
def test_bad_signals_raise_clear_errors(x, match):
    for function in (lambda x: dsp.stft(x), lambda x: dsp.melspectrogram(x, SR),
                     lambda x: dsp.log_mel(x, dsp.MelConfig()), lambda x: dsp.mfcc(x, dsp.MFCCConfig()),
                     lambda x: dsp.energy(x), lambda x: dsp.yin(x, SR)):
        with pytest.raises(ValueError, match=match):
            function(x)


def test_bad_parameters_raise_clear_errors():
    x = np.zeros(2000, np.float32)
    with pytest.raises(ValueError, match="too short for one frame"):
        dsp.stft(x[:100], 1024, center=False)
    with pytest.raises(ValueError, match="too short for one frame"):
        dsp.yin(x[:500], SR, center=False)
    with pytest.raises(ValueError, match="win_length"):
        dsp.stft(x, 512, 128, win_length=1024)
    with pytest.raises(ValueError, match="hop_length"):
        dsp.stft(x, 512, 0)
    with pytest.raises(ValueError, match="pad_mode"):
        dsp.stft(x, pad_mode="wrap")
    with pytest.raises(ValueError, match="unknown window"):
        dsp.stft(x, window="kaiser")
    with pytest.raises(ValueError, match="fmax"):
        dsp.mel_filterbank(16000, 512, fmax=9000.0)
    with pytest.raises(ValueError, match="complex"):
        dsp.istft(np.abs(dsp.stft(x)))
    with pytest.raises(ValueError, match=">= 0"):
        dsp.griffin_lim(-np.ones((513, 10)))
    with pytest.raises(ValueError, match="frame_length"):
        dsp.yin(x, SR, fmin=30)
    with pytest.raises(ValueError, match="n_mfcc=13 must be <= the number of mel bands 8"):
        dsp.mfcc_from_mel_db(np.zeros((8, 10)))
    with pytest.raises(ValueError, match="odd"):
        dsp.deltas(np.zeros((3, 20)), width=4)
    with pytest.raises(ValueError, match="shape"):
        dsp.spectral_convergence(np.ones((3, 4)), np.ones((4, 3)))
