"""Tests for minispeech.audio: file round trips, every bad-file error, resampling and trimming
parity with librosa, loudness properties."""

from __future__ import annotations

import math

import numpy as np
import pytest
import soundfile
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from minispeech import audio
from minispeech.audio import AudioError

PCM16_STEP = 1.0 / 32768.0  # libsndfile reads 16-bit PCM as int / 32768


def tone(frequency: float, sr: int, seconds: float, amplitude: float = 0.5) -> np.ndarray:
    t = np.arange(int(round(sr * seconds))) / sr
    return (amplitude * np.sin(2 * np.pi * frequency * t)).astype(np.float32)


# ---------------------------------------------------------------------------------------------
# save / load round trips


def test_pcm16_round_trip_is_within_one_quantization_step(tmp_path):
    waveform = np.random.default_rng(0).uniform(-1, 1, 4000).astype(np.float32)
    waveform[:2] = [1.0, -1.0]  # the extremes quantize worst
    path = tmp_path / "nested" / "folder" / "x.wav"  # parent folders are created
    audio.save(path, waveform, 16000)
    loaded, sr = audio.load(path)
    assert sr == 16000 and loaded.dtype == np.float32 and loaded.shape == waveform.shape
    assert soundfile.info(path).subtype == "PCM_16"
    assert np.max(np.abs(loaded - waveform)) <= PCM16_STEP + 1e-9


def test_float_round_trip_is_exact(tmp_path):
    waveform = np.random.default_rng(1).uniform(-1, 1, 1000).astype(np.float32)
    audio.save(tmp_path / "x.wav", waveform, 8000, subtype="FLOAT")
    loaded, _ = audio.load(tmp_path / "x.wav")
    np.testing.assert_array_equal(loaded, waveform)


def test_flac_round_trip_and_no_temporary_file_left(tmp_path):
    waveform = tone(300, 16000, 0.1)
    audio.save(tmp_path / "x.flac", waveform, 16000)
    loaded, sr = audio.load(tmp_path / "x.flac")
    assert sr == 16000
    assert np.max(np.abs(loaded - waveform)) <= PCM16_STEP + 1e-9
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.flac"]


def test_save_overwrites_atomically_and_refuses_bad_waveforms(tmp_path):
    path = tmp_path / "x.wav"
    audio.save(path, tone(200, 8000, 0.05), 8000)
    before = path.read_bytes()
    with pytest.raises(AudioError, match=r"x\.wav.*NaN"):
        audio.save(path, np.array([0.1, np.nan], dtype=np.float32), 8000)
    with pytest.raises(AudioError, match=r"x\.wav.*peak.*clip=True"):
        audio.save(path, np.array([0.1, 1.5], dtype=np.float32), 8000)
    with pytest.raises(AudioError, match="subtype"):
        audio.save(path, np.zeros(10, dtype=np.float32) + 0.1, 8000, subtype="NOT_A_SUBTYPE")
    with pytest.raises(AudioError, match="format"):
        audio.save(tmp_path / "x.unknownext", np.zeros(10, dtype=np.float32), 8000)
    assert path.read_bytes() == before  # failed saves left the old file untouched
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.wav"]
    audio.save(path, np.array([0.5, 1.5, -2.0], dtype=np.float32), 8000, clip=True)
    loaded, _ = audio.load(path)
    np.testing.assert_allclose(loaded, [0.5, 32767 / 32768, -1.0], atol=PCM16_STEP)


def test_stereo_to_mono_and_channels_first(tmp_path):
    left, right = tone(200, 8000, 0.1, 0.4), tone(500, 8000, 0.1, 0.2)
    soundfile.write(tmp_path / "stereo.wav", np.stack([left, right], axis=1), 8000, subtype="FLOAT")
    mono, _ = audio.load(tmp_path / "stereo.wav")
    channels, _ = audio.load(tmp_path / "stereo.wav", mono=False)
    assert mono.shape == (800,) and channels.shape == (2, 800)
    np.testing.assert_allclose(mono, (left + right) / 2, atol=1e-7)
    np.testing.assert_array_equal(channels[1], right)
    audio.save(tmp_path / "again.wav", channels, 8000, subtype="FLOAT")  # (C, T) is saved too
    np.testing.assert_array_equal(audio.load(tmp_path / "again.wav", mono=False)[0], channels)


def test_load_resamples_when_sr_is_given(tmp_path):
    waveform = tone(440, 22050, 0.2)
    audio.save(tmp_path / "x.wav", waveform, 22050, subtype="FLOAT")
    loaded, sr = audio.load(tmp_path / "x.wav", sr=16000)
    assert sr == 16000 and loaded.dtype == np.float32
    np.testing.assert_allclose(loaded, audio.resample(waveform, 22050, 16000), atol=1e-6)


# ---------------------------------------------------------------------------------------------
# every bad file raises AudioError (a ValueError) naming the file


def _write_bad_file(tmp_path, case: str):
    path = tmp_path / f"bad_{case}.wav"
    if case == "missing":
        pass
    elif case == "directory":
        path.mkdir()
    elif case == "empty":
        path.write_bytes(b"")
    elif case == "text":
        path.write_text("this is not audio, just text\n" * 10)
    elif case == "truncated_header":
        soundfile.write(tmp_path / "good.wav", tone(300, 8000, 0.1), 8000)
        path.write_bytes((tmp_path / "good.wav").read_bytes()[:20])  # cut inside the fmt chunk
    elif case == "nan":
        soundfile.write(
            path, np.array([0.1, np.nan, 0.2, np.inf], dtype=np.float32), 8000, subtype="FLOAT"
        )
    elif case == "zero_samples":
        soundfile.write(path, np.zeros(0, dtype=np.float32), 8000)
    return path


@pytest.mark.parametrize(
    "case, problem",
    [
        ("missing", "not found"),
        ("directory", "directory"),
        ("empty", "empty"),
        ("text", "not a readable audio file"),
        ("truncated_header", "not a readable audio file"),
        ("nan", "NaN or infinite"),
        ("zero_samples", "no samples"),
    ],
)
def test_bad_files_raise_a_value_error_naming_the_file(tmp_path, case, problem):
    path = _write_bad_file(tmp_path, case)
    with pytest.raises(ValueError, match=problem) as error:
        audio.load(path)
    assert isinstance(error.value, AudioError)
    assert f"bad_{case}.wav" in str(error.value)


def test_expected_sample_rate_mismatch_names_both_rates_and_the_fix(tmp_path):
    path = tmp_path / "rate.wav"
    audio.save(path, tone(300, 22050, 0.05), 22050)
    assert audio.load(path, expected_sr=22050)[1] == 22050
    with pytest.raises(AudioError, match=r"rate\.wav.*22050 Hz.*16000 Hz.*sr=16000"):
        audio.load(path, expected_sr=16000)
    with pytest.raises(AudioError, match="not both"):
        audio.load(path, sr=16000, expected_sr=16000)
    with pytest.raises(AudioError, match="positive integer"):
        audio.load(path, sr=0)


@pytest.mark.parametrize(
    "bad, problem",
    [
        (np.zeros((2, 3, 4), dtype=np.float32), "1-D"),
        (np.zeros(10, dtype=np.int16), "dtype int16"),
        (np.zeros(0, dtype=np.float32), "no samples"),
        (np.array([0.0, np.inf]), "NaN or infinite"),
    ],
)
def test_validate_names_the_argument_and_the_problem(bad, problem):
    with pytest.raises(AudioError, match=f"my_signal.*{problem}"):
        audio.validate(bad, name="my_signal")


# ---------------------------------------------------------------------------------------------
# resampling


@pytest.mark.parametrize("orig_sr, target_sr", [(22050, 16000), (16000, 24000), (44100, 22050)])
def test_resample_matches_librosa_polyphase(orig_sr, target_sr):
    import librosa

    waveform = np.random.default_rng(2).standard_normal(3001).astype(np.float32) * 0.1
    ours = audio.resample(waveform, orig_sr, target_sr)
    reference = librosa.resample(
        waveform, orig_sr=orig_sr, target_sr=target_sr, res_type="polyphase"
    )
    assert ours.dtype == np.float32 and ours.shape == reference.shape
    np.testing.assert_allclose(ours, reference, atol=1e-6)  # same filter; float32 rounding only


@settings(max_examples=40, deadline=None)
@given(
    length=st.integers(1, 400),
    orig_sr=st.sampled_from([8000, 16000, 22050, 24000, 44100]),
    target_sr=st.sampled_from([8000, 16000, 22050, 24000, 44100]),
)
def test_resampled_length_is_ceil_of_the_rate_ratio(length, orig_sr, target_sr):
    waveform = np.linspace(-0.5, 0.5, length, dtype=np.float32)
    resampled = audio.resample(waveform, orig_sr, target_sr)
    assert resampled.shape == (math.ceil(length * target_sr / orig_sr),)


@pytest.mark.parametrize("orig_sr, target_sr", [(22050, 16000), (16000, 22050), (24000, 16000)])
def test_a_sine_keeps_its_frequency_after_resampling(orig_sr, target_sr):
    frequency = 440.0
    resampled = audio.resample(tone(frequency, orig_sr, 1.0), orig_sr, target_sr)
    spectrum = np.abs(np.fft.rfft(resampled * np.hanning(len(resampled))))
    peak_frequency = np.argmax(spectrum) * target_sr / len(resampled)
    bin_width = target_sr / len(resampled)
    assert abs(peak_frequency - frequency) <= bin_width
    middle = resampled[target_sr // 4 : 3 * target_sr // 4]  # away from the filter's edges
    assert abs(np.max(np.abs(middle)) - 0.5) < 0.01  # the amplitude is kept too


def test_resample_to_the_same_rate_is_a_copy():
    waveform = tone(100, 8000, 0.01)
    result = audio.resample(waveform, 8000, 8000)
    np.testing.assert_array_equal(result, waveform)
    assert result is not waveform


# ---------------------------------------------------------------------------------------------
# trimming


@pytest.mark.parametrize("top_db", [20, 40, 60])
def test_trim_silence_matches_librosa(top_db):
    import librosa

    sr = 16000
    rng = np.random.default_rng(3)
    noise_floor = 10 ** (-50 / 20) * rng.standard_normal(sr // 2)  # -50 dB: above or below top_db
    signal = np.concatenate([noise_floor[:3000], tone(300, sr, 0.5), noise_floor[3000:]])
    signal = signal.astype(np.float32)
    trimmed, (start, end) = audio.trim_silence(
        signal, sr, top_db=top_db, frame_length=1024, hop_length=256
    )
    _, (ref_start, ref_end) = librosa.effects.trim(
        signal, top_db=top_db, frame_length=1024, hop_length=256
    )
    # The spec allows one hop of difference; with librosa's framing reproduced, they are equal.
    assert (start, end) == (int(ref_start), int(ref_end))
    np.testing.assert_array_equal(trimmed, signal[start:end])


def test_trim_silence_cuts_zero_padding_around_a_tone_and_pads_on_request():
    sr = 8000
    signal = np.concatenate([np.zeros(4000), tone(250, sr, 0.5), np.zeros(4000)]).astype(np.float32)
    _, (start, end) = audio.trim_silence(signal, sr, hop_length=128, frame_length=512)
    assert 4000 - 512 <= start <= 4000 and 8000 <= end <= 8000 + 512  # within one frame
    _, (padded_start, padded_end) = audio.trim_silence(
        signal, sr, hop_length=128, frame_length=512, pad=0.01
    )
    assert (padded_start, padded_end) == (start - 80, end + 80)
    _, whole = audio.trim_silence(signal, sr, pad=10.0)
    assert whole == (0, len(signal))  # clamped to the signal


# ---------------------------------------------------------------------------------------------
# loudness


def test_rms_db_of_a_full_scale_sine_and_of_silence():
    assert audio.rms_db(tone(1000, 48000, 1.0, amplitude=1.0)) == pytest.approx(-3.0103, abs=1e-3)
    assert audio.rms_db(np.zeros(100, dtype=np.float32)) == pytest.approx(-200.0)


@settings(max_examples=50, deadline=None)
@given(
    samples=st.lists(st.floats(-1, 1, allow_nan=False, width=32), min_size=1, max_size=64),
    peak=st.floats(0.1, 1.0),
    target_db=st.floats(-40, -3),
)
def test_normalization_reaches_its_target(samples, peak, target_db):
    waveform = np.array(samples, dtype=np.float32)
    if not np.any(waveform):
        with pytest.raises(AudioError, match="silence"):
            audio.peak_normalize(waveform, peak)
        return
    assume(np.max(np.abs(waveform)) > 1e-6)  # near-denormal inputs only test float32 rounding
    peaked = audio.peak_normalize(waveform, peak)
    assert peaked.dtype == np.float32
    assert np.max(np.abs(peaked)) == pytest.approx(peak, rel=1e-5)
    leveled = audio.rms_normalize(waveform, target_db)
    assert audio.rms_db(leveled) == pytest.approx(target_db, abs=1e-3)
    # both are pure gains: the shape of the signal is unchanged
    np.testing.assert_allclose(
        peaked * np.max(np.abs(leveled)) / peak, leveled, rtol=1e-4, atol=1e-6
    )


def test_normalizing_silence_raises():
    silence = np.zeros(100, dtype=np.float32)
    with pytest.raises(AudioError, match="silence"):
        audio.peak_normalize(silence)
    with pytest.raises(AudioError, match="silence"):
        audio.rms_normalize(silence)
