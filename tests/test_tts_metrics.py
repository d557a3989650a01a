"""minispeech.tts_metrics: MCD (against a written-out reference), F0, LSD, durations, RTF,
speaker similarity, intelligibility. Property tests (hypothesis) on tiny inputs."""

from __future__ import annotations

import math
import time

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from minispeech import tts_metrics
from minispeech.dp.warping import dtw_reference
from minispeech.dsp import MelConfig

CONFIG = MelConfig()


def mcd_reference(reference: np.ndarray, synthesized: np.ndarray, order: int) -> float:
    """MCD written out: cepstra by the cosine sum, Euclidean costs by loops, the plain DTW."""
    n_mels = reference.shape[0]

    def cepstra(
        log_mel,
    ):  # (order, T): c1..c_order, c_d = (1 / n_mels) Σ_n x_n cos(π d (n + ½) / n_mels)
        return np.array(
            [
                [
                    sum(
                        log_mel[n, t] * math.cos(math.pi * d * (n + 0.5) / n_mels)
                        for n in range(n_mels)
                    )
                    / n_mels
                    for t in range(log_mel.shape[1])
                ]
                for d in range(1, order + 1)
            ]
        )

    a, b = cepstra(reference), cepstra(synthesized)
    cost = np.array(
        [[math.sqrt(sum((a[d, i] - b[d, j]) ** 2 for d in range(order))) for j in range(b.shape[1])]
         for i in range(a.shape[1])]
    )  # fmt: skip
    _, path = dtw_reference(cost)
    constant = 10.0 * math.sqrt(2.0) / math.log(10.0)
    return constant * sum(cost[i, j] for i, j in path) / len(path)


def assert_valid_path(path: np.ndarray, n_reference: int, n_synthesized: int) -> None:
    assert path.dtype == np.int64 and path.ndim == 2 and path.shape[1] == 2
    assert tuple(path[0]) == (0, 0) and tuple(path[-1]) == (n_reference - 1, n_synthesized - 1)
    steps = {tuple(step) for step in np.diff(path, axis=0)}
    assert steps <= {(1, 1), (0, 1), (1, 0)}


log_mels = st.integers(1, 6).flatmap(
    lambda frames: hnp.arrays(np.float64, (8, frames), elements=st.floats(-11.5, 2.0))
)


@settings(max_examples=40, deadline=None)
@given(log_mels, log_mels)
def test_mcd_properties_on_tiny_inputs(reference, synthesized):
    result = tts_metrics.mel_cepstral_distortion(reference, synthesized, n_coefficients=4)
    assert result.mcd_db >= 0
    assert_valid_path(result.path, reference.shape[1], synthesized.shape[1])
    assert result.mcd_db == pytest.approx(
        mcd_reference(reference, synthesized, 4), rel=1e-9, abs=1e-9
    )
    swapped = tts_metrics.mel_cepstral_distortion(synthesized, reference, n_coefficients=4)
    assert swapped.mcd_db == pytest.approx(result.mcd_db, rel=1e-9, abs=1e-9)
    same = tts_metrics.mel_cepstral_distortion(reference, reference, n_coefficients=4)
    assert same.mcd_db == 0.0


def test_mcd_on_realistic_sizes_equals_reference_and_ignores_gain():
    rng = np.random.default_rng(0)
    reference = rng.normal(-4.0, 2.0, (80, 30))
    synthesized = np.repeat(reference, 2, axis=1)[:, ::3] + rng.normal(0, 0.3, (80, 20))
    result = tts_metrics.mel_cepstral_distortion(reference, synthesized)
    assert result.mcd_db == pytest.approx(mcd_reference(reference, synthesized, 24), rel=1e-9)
    assert result.frame_distortions_db.shape == (len(result.path),)
    swapped = tts_metrics.mel_cepstral_distortion(synthesized, reference)
    assert swapped.mcd_db == pytest.approx(result.mcd_db, rel=1e-12)  # no ties in random floats
    louder = tts_metrics.mel_cepstral_distortion(
        reference, synthesized + 1.5
    )  # a gain moves c0 only
    assert louder.mcd_db == pytest.approx(result.mcd_db, rel=1e-9)
    frame_by_frame = tts_metrics.mel_cepstral_distortion(
        reference, reference + 0.1 * rng.normal(size=(80, 30)), align="none"
    )
    assert_valid_path(frame_by_frame.path, 30, 30)
    assert np.array_equal(frame_by_frame.path[:, 0], frame_by_frame.path[:, 1])


def test_mel_cepstrum_recovers_the_coefficients_of_a_cosine_series():
    n_mels, coefficients = 80, np.array([-3.0, 0.5, -0.25, 0.125])
    omega = np.pi * (np.arange(n_mels) + 0.5) / n_mels
    log_spectrum = coefficients[0] + 2 * sum(
        c * np.cos(d * omega) for d, c in enumerate(coefficients) if d > 0
    )
    cepstra = tts_metrics.mel_cepstrum(log_spectrum[:, None], n_coefficients=6)  # (7, 1)
    np.testing.assert_allclose(cepstra[1:4, 0], coefficients[1:], atol=1e-12)
    np.testing.assert_allclose(cepstra[4:, 0], 0.0, atol=1e-12)


def test_f0_errors_in_cents_and_voicing():
    f0 = np.array([100.0, 120.0, 0.0, 150.0, 200.0])
    voiced = f0 > 0
    sharper = f0 * 2 ** (100 / 1200)  # 100 cents up
    result = tts_metrics.f0_errors(f0, voiced, sharper, voiced)
    assert result.rmse_cents == pytest.approx(100.0) and result.voicing_error == 0.0
    assert result.n_voiced_pairs == 4
    flipped = voiced.copy()
    flipped[[0, 2]] = ~flipped[[0, 2]]
    result = tts_metrics.f0_errors(f0, voiced, np.where(flipped, 110.0, 0.0), flipped)
    assert result.voicing_error == pytest.approx(2 / 5) and result.n_voiced_pairs == 3
    nothing = tts_metrics.f0_errors(f0, voiced, np.zeros(5), np.zeros(5, bool))
    assert math.isnan(nothing.rmse_cents) and nothing.voicing_error == pytest.approx(4 / 5)
    with pytest.raises(ValueError, match="path="):
        tts_metrics.f0_errors(f0, voiced, f0[:3], voiced[:3])


def test_f0_track_on_a_tone_lines_up_with_mel_frames():
    sr = CONFIG.sample_rate
    tone = (0.5 * np.sin(2 * np.pi * 200.0 * np.arange(sr // 2) / sr)).astype(np.float32)
    f0, voiced = tts_metrics.f0_track(tone, CONFIG)
    assert f0.shape == voiced.shape == (CONFIG.n_frames(tone.size),)
    assert np.median(f0[voiced]) == pytest.approx(200.0, rel=0.01)
    result = tts_metrics.f0_errors(f0, voiced, f0, voiced)
    assert result.rmse_cents == 0.0 and result.voicing_error == 0.0


def test_log_spectral_distance():
    rng = np.random.default_rng(1)
    magnitude = rng.uniform(0.01, 1.0, (513, 12))
    assert tts_metrics.log_spectral_distance(magnitude, magnitude) == 0.0
    assert tts_metrics.log_spectral_distance(magnitude, 2.0 * magnitude) == pytest.approx(
        20 * math.log10(2)
    )
    path = np.array([[0, 0], [1, 0], [2, 1]])
    value = tts_metrics.log_spectral_distance(magnitude[:, :3], magnitude[:, :2], path=path)
    expected = np.mean(
        [np.sqrt(np.mean((20 * np.log10(magnitude[:, i] / magnitude[:, j])) ** 2)) for i, j in path]
    )
    assert value == pytest.approx(expected)
    with pytest.raises(ValueError, match="magnitudes"):
        tts_metrics.log_spectral_distance(np.log(magnitude), magnitude)


def test_duration_errors():
    result = tts_metrics.duration_errors([2, 5, 3], [3, 5, 1], CONFIG)
    frame_ms = 1000 * 256 / 22050
    np.testing.assert_allclose(result.errors_ms, [frame_ms, 0.0, -2 * frame_ms])
    assert result.mean_absolute_ms == pytest.approx(frame_ms)
    assert result.total_length_ratio == pytest.approx(9 / 10)
    with pytest.raises(ValueError, match="same phonemes"):
        tts_metrics.duration_errors([1, 2], [1, 2, 3], CONFIG)


def test_real_time_factor_excludes_warmup_and_states_threads():
    calls = []

    def synthesize(text):
        calls.append(text)
        time.sleep(0.3 if len(calls) == 1 else 0.01)  # a slow first call, like lazy initialization
        return np.zeros(CONFIG.sample_rate // 10, np.float32)  # 0.1 s of audio

    result = tts_metrics.real_time_factor(synthesize, ["a", "b", "c"], CONFIG.sample_rate, warmup=1)
    assert calls == ["a", "a", "b", "c"]
    assert result.audio_seconds == pytest.approx(0.3, rel=1e-3)
    assert (
        0.09 < result.real_time_factor < 0.9
    )  # 3 x 10 ms for 0.3 s: ~0.1; never the 0.3 s warm-up
    assert "threads" in result.threads or "cores" in result.threads



def test_real_time_factor_repeats_keep_each_inputs_fastest_run():
    delays = iter([0.2, 0.01, 0.2, 0.2, 0.01, 0.2])  # per input: a disturbed, a clean and a disturbed run

    def synthesize(text):
        time.sleep(next(delays))
        return np.zeros(CONFIG.sample_rate // 10, np.float32)  # 0.1 s of audio

    result = tts_metrics.real_time_factor(synthesize, ["a", "b"], CONFIG.sample_rate, warmup=0, repeats=3)
    assert result.audio_seconds == pytest.approx(0.2, rel=1e-3)  # one run's audio per input, not three
    assert 0.01 * 2 <= result.compute_seconds < 0.1  # the two 10 ms runs, never a 200 ms one
    with pytest.raises(ValueError, match="repeats"):
        tts_metrics.real_time_factor(synthesize, ["a"], CONFIG.sample_rate, repeats=0)

def test_speaker_similarity():
    assert tts_metrics.speaker_similarity(
        np.array([1.0, 0.0]), np.array([2.0, 0.0])
    ) == pytest.approx(1.0)
    assert tts_metrics.speaker_similarity(
        np.array([1.0, 0.0]), np.array([0.0, 3.0])
    ) == pytest.approx(0.0)
    batch = tts_metrics.speaker_similarity(np.eye(3), -np.eye(3))
    np.testing.assert_allclose(batch, -1.0)

    def encoder(waveform):
        return np.array([waveform.mean(), waveform.std()])

    value = tts_metrics.speaker_similarity(np.ones(10), np.arange(10.0), encoder=encoder)
    assert -1.0 <= value <= 1.0
    with pytest.raises(ValueError, match="all zeros"):
        tts_metrics.speaker_similarity(np.zeros(3), np.ones(3))


def test_intelligibility_with_an_untrained_recognizer_is_finite():
    torch = pytest.importorskip("torch")
    from minispeech.models.ctc_asr import CTCASR, CTCASRConfig

    torch.manual_seed(0)
    recognizer = CTCASR(CTCASRConfig.preset("ci"))
    rng = np.random.default_rng(0)
    waveforms = [0.1 * rng.standard_normal(n).astype(np.float32) for n in (8000, 12000)]
    result = tts_metrics.intelligibility(
        waveforms, ["Hello, world!", "It costs $5."], recognizer=recognizer
    )
    assert math.isfinite(result.cer) and math.isfinite(result.wer)
    assert result.references == ["hello world", "it costs five dollars"]
    assert len(result.hypotheses) == 2 and result.recognizer == "CTCASR (lesson 04)"
    with pytest.raises(ValueError, match="NaN"):
        tts_metrics.intelligibility(
            [np.full(100, np.nan, np.float32)], ["a"], recognizer=recognizer
        )
    with pytest.raises(ValueError, match="one text per waveform"):
        tts_metrics.intelligibility(waveforms, ["a"], recognizer=recognizer)


def test_intelligibility_without_artifacts_names_the_lessons(tmp_path, monkeypatch):
    pytest.importorskip("torch")
    monkeypatch.setenv("MINISPEECH_DATA", str(tmp_path))
    with pytest.raises(
        FileNotFoundError, match=r"lessons/06_transformer.ipynb.*lessons/04_ctc.ipynb"
    ):
        tts_metrics.intelligibility([np.zeros(1000, np.float32)], ["a"])


def test_the_judge_is_a_real_run_of_either_recognizer_before_any_ci_run(tmp_path, monkeypatch):
    """A ci Transformer (trained for seconds) must not judge when lesson 04's cpu CTC model exists."""
    pytest.importorskip("torch")
    from minispeech import checkpoint
    from minispeech.models import ctc_asr, transformer_asr

    monkeypatch.setenv("MINISPEECH_DATA", str(tmp_path))
    ci_transformer = transformer_asr.TransformerASR(transformer_asr.TransformerASRConfig.preset("ci"))
    checkpoint.save(transformer_asr.artifact_path("ci"), ci_transformer, config=ci_transformer.config)
    assert isinstance(tts_metrics.load_judge(), transformer_asr.TransformerASR)  # the only one there
    ctc = ctc_asr.CTCASR(ctc_asr.CTCASRConfig.preset("ci"))
    checkpoint.save(ctc_asr.artifact_path("ci"), ctc, config=ctc.config)
    assert isinstance(tts_metrics.load_judge(), transformer_asr.TransformerASR)  # lesson 06 first
    checkpoint.save(ctc_asr.artifact_path("cpu"), ctc, config=ctc.config)  # "a cpu run" (weights aside)
    assert isinstance(tts_metrics.load_judge(), ctc_asr.CTCASR)
    checkpoint.save(transformer_asr.artifact_path("cpu"), ci_transformer, config=ci_transformer.config)
    assert isinstance(tts_metrics.load_judge(), transformer_asr.TransformerASR)


def test_intelligibility_on_espeak_beats_noise_with_a_trained_recognizer():
    """Needs lesson 04's or 06's cpu artifact (a ci run's model is too weak to judge)."""
    pytest.importorskip("torch")
    from minispeech import espeak
    from minispeech.models import ctc_asr, transformer_asr

    if not (transformer_asr.artifact_path().is_file() or ctc_asr.artifact_path().is_file()):
        pytest.skip(
            "no trained recognizer: run lessons/04_ctc.ipynb or lessons/06_transformer.ipynb"
        )
    recognizer = transformer_asr.load_pretrained(transformer_asr.artifact_path()) if (
        transformer_asr.artifact_path().is_file()) else ctc_asr.load_pretrained(ctc_asr.artifact_path())  # fmt: skip
    texts = ["the weather is nice today", "she bought three apples", "please close the door"]
    speech = [espeak.synthesize(text, voice="en-us+m1", rate=170)[0] for text in texts]
    rng = np.random.default_rng(0)
    noise = [0.1 * rng.standard_normal(len(waveform)).astype(np.float32) for waveform in speech]
    on_speech = tts_metrics.intelligibility(
        speech, texts, recognizer=recognizer, sample_rate=espeak.sample_rate()
    )
    on_noise = tts_metrics.intelligibility(
        noise, texts, recognizer=recognizer, sample_rate=espeak.sample_rate()
    )
    assert math.isfinite(on_speech.cer) and on_speech.cer < on_noise.cer
