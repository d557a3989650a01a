"""Waveform augmentations (minispeech/data/augment.py) and SpeechDataset's waveform_augment option.

Signals are synthetic (tones, noise, a few harmonic "vowels" written as wavs): no eSpeak needed.
"""

import dataclasses
import subprocess
import sys

import numpy as np
import pytest
import torch

from minispeech.audio import save
from minispeech.data.augment import (
    AugmentationDraw,
    WaveformAugmentConfig,
    add_noise,
    apply_augmentation,
    babble_noise,
    band_limit,
    draw_augmentation,
    pink_noise,
    reverberate,
    speed_perturb,
    synthetic_impulse_response,
    white_noise,
)
from minispeech.data.dataset import SpeechDataset
from minispeech.data.manifest import write_manifest
from minispeech.dsp import MelConfig

SAMPLE_RATE = 22050
ALL_ON = WaveformAugmentConfig(speed_probability=1.0, reverb_probability=1.0, noise_probability=1.0,
                               band_limit_probability=1.0)  # fmt: skip


def tone(frequency: float, seconds: float = 0.5, dtype=np.float32) -> np.ndarray:
    time = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    return (0.3 * np.sin(2 * np.pi * frequency * time)).astype(dtype)


def vowel(f0: float, seconds: float, seed: int) -> np.ndarray:
    """Harmonics of f0 with a falling spectrum plus a little noise: speech-like enough for log-mels."""
    time = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    harmonics = sum(np.sin(2 * np.pi * k * f0 * time) / k for k in range(1, 20))
    noise = 0.01 * np.random.default_rng(seed).standard_normal(len(time))
    return (0.1 * harmonics + noise).astype(np.float32)


def peak_frequency(waveform: np.ndarray) -> float:
    spectrum = np.abs(np.fft.rfft(waveform * np.hanning(len(waveform))))
    return float(np.argmax(spectrum)) * SAMPLE_RATE / len(waveform)


def snr_db(clean: np.ndarray, noisy: np.ndarray) -> float:
    clean, noisy = clean.astype(np.float64), noisy.astype(np.float64)
    return 10 * np.log10(np.mean(clean**2) / np.mean((noisy - clean) ** 2))


def test_default_config_is_off_and_changes_nothing():
    config = WaveformAugmentConfig()
    assert not config.enabled
    rng = np.random.default_rng(0)
    draw = draw_augmentation(config, rng)
    assert draw == AugmentationDraw()
    waveform = vowel(120.0, 0.3, seed=0)
    np.testing.assert_array_equal(
        apply_augmentation(waveform, SAMPLE_RATE, draw, config, rng), waveform
    )
    assert ALL_ON.enabled


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_every_function_keeps_dtype_and_finite_values(dtype):
    rng = np.random.default_rng(0)
    waveform = vowel(150.0, 0.4, seed=1).astype(dtype)
    talkers = [vowel(f0, 0.25, seed=int(f0)) for f0 in (100.0, 180.0, 230.0)]
    outputs = {
        "speed_perturb": speed_perturb(waveform, 1.1),
        "white": add_noise(waveform, white_noise(len(waveform), rng), 10.0),
        "pink": add_noise(waveform, pink_noise(len(waveform), rng), 10.0),
        "babble": add_noise(waveform, babble_noise(talkers, len(waveform), rng), 10.0),
        "reverberate": reverberate(
            waveform, synthetic_impulse_response(SAMPLE_RATE, 0.4, 3.0, rng)
        ),
        "band_limit": band_limit(waveform, SAMPLE_RATE),
    }
    for name, output in outputs.items():
        assert output.dtype == dtype, name
        assert output.ndim == 1 and np.isfinite(output).all(), name
        if name != "speed_perturb":
            assert len(output) == len(waveform), name


@pytest.mark.parametrize("kind", ["white", "pink", "babble"])
@pytest.mark.parametrize("requested", [-5.0, 0.0, 7.5, 30.0])
def test_add_noise_reaches_the_requested_snr(kind, requested):
    rng = np.random.default_rng(1)
    waveform = vowel(110.0, 0.5, seed=2)
    if kind == "babble":
        noise = babble_noise(
            [vowel(f0, 0.3, seed=3) for f0 in (90.0, 140.0, 200.0)], len(waveform), rng
        )
    else:
        noise = {"white": white_noise, "pink": pink_noise}[kind](len(waveform), rng)
    assert abs(snr_db(waveform, add_noise(waveform, noise, requested)) - requested) < 0.1


def test_pink_noise_falls_3_db_per_octave():
    power = np.abs(np.fft.rfft(pink_noise(2**16, np.random.default_rng(2)))) ** 2
    low, high = power[1000:2000].mean(), power[2000:4000].mean()  # two adjacent octaves, per bin
    assert abs(10 * np.log10(low / high) - 3.01) < 0.3


def test_reverberation_with_a_delta_response_is_the_identity():
    waveform = vowel(130.0, 0.3, seed=4)
    np.testing.assert_allclose(reverberate(waveform, np.array([1.0])), waveform, atol=1e-6)
    delayed = reverberate(waveform, np.array([0.0, 0.0, 1.0]))
    np.testing.assert_allclose(delayed[2:], waveform[:-2], atol=1e-6)


def test_synthetic_impulse_response_has_its_rt60_and_drr():
    rt60, drr_db = 0.5, 6.0
    response = synthetic_impulse_response(SAMPLE_RATE, rt60, drr_db, np.random.default_rng(3))
    assert len(response) == int(rt60 * SAMPLE_RATE) and response[0] == 1.0
    assert abs(10 * np.log10(1.0 / np.sum(response[1:] ** 2)) - drr_db) < 1e-9
    window = int(0.1 * rt60 * SAMPLE_RATE)
    early = np.mean(response[1 : 1 + window] ** 2)
    late = np.mean(response[1 + 4 * window : 1 + 5 * window] ** 2)
    assert (
        abs(10 * np.log10(early / late) - 24.0) < 1.0
    )  # 60 dB per rt60: 0.4 rt60 later is 24 dB down


def test_band_limit_removes_high_frequencies_and_keeps_a_1_khz_tone():
    noise = (0.1 * np.random.default_rng(4).standard_normal(SAMPLE_RATE)).astype(np.float32)
    limited = band_limit(noise, SAMPLE_RATE)
    frequencies = np.fft.rfftfreq(len(noise), 1 / SAMPLE_RATE)
    above = frequencies >= 4000.0  # the 8 kHz channel's Nyquist frequency
    before = np.sum(np.abs(np.fft.rfft(noise))[above] ** 2)
    after = np.sum(np.abs(np.fft.rfft(limited))[above] ** 2)
    assert 10 * np.log10(before / after) > 30.0
    kept = band_limit(tone(1000.0), SAMPLE_RATE)
    middle = slice(2000, -2000)  # away from the filter's edge effects
    gain_db = 10 * np.log10(np.mean(kept[middle] ** 2) / np.mean(tone(1000.0)[middle] ** 2))
    assert abs(gain_db) < 0.5
    assert abs(peak_frequency(kept) - 1000.0) < 5.0


@pytest.mark.parametrize("factor", [0.9, 1.1])
def test_speed_perturb_changes_length_by_1_over_f_and_frequency_by_f(factor):
    waveform = tone(1000.0, seconds=1.0)
    faster = speed_perturb(waveform, factor)
    assert abs(len(faster) - len(waveform) / factor) <= 1
    assert abs(peak_frequency(faster) - 1000.0 * factor) < 2.0
    np.testing.assert_array_equal(speed_perturb(waveform, 1.0), waveform)


def test_a_fixed_seed_repeats_the_draw_and_the_audio():
    waveform = vowel(140.0, 0.4, seed=5)
    talkers = [vowel(f0, 0.3, seed=6) for f0 in (95.0, 150.0, 210.0, 260.0, 120.0, 175.0)]

    def augmented(seed: int) -> tuple[AugmentationDraw, np.ndarray]:
        rng = np.random.default_rng(seed)
        draw = draw_augmentation(ALL_ON, rng)
        return draw, apply_augmentation(waveform, SAMPLE_RATE, draw, ALL_ON, rng, talkers)

    (draw, audio), (draw_again, audio_again) = augmented(7), augmented(7)
    assert draw == draw_again and draw.band_limit and draw.noise_kind in ALL_ON.noise_kinds
    np.testing.assert_array_equal(audio, audio_again)
    assert any(not np.array_equal(augmented(seed)[1][: len(audio)], audio) for seed in (8, 9))


def test_config_errors_name_the_field():
    with pytest.raises(ValueError, match="noise_probability"):
        WaveformAugmentConfig(noise_probability=1.5)
    with pytest.raises(ValueError, match="noise_kinds"):
        WaveformAugmentConfig(noise_kinds=("traffic",))
    with pytest.raises(ValueError, match="snr_db_range"):
        WaveformAugmentConfig(snr_db_range=(20.0, 5.0))
    with pytest.raises(ValueError, match="band_high_hz"):
        WaveformAugmentConfig(band_high_hz=4500.0)
    with pytest.raises(ValueError, match="babble needs 3"):
        apply_augmentation(tone(500.0), SAMPLE_RATE, AugmentationDraw(noise_kind="babble", snr_db=10.0,
                           babble_talkers=3), ALL_ON, np.random.default_rng(0))  # fmt: skip


@pytest.fixture(scope="module")
def manifest(tmp_path_factory):
    folder = tmp_path_factory.mktemp("augment")
    rows = []
    for number, (f0, seconds) in enumerate(
        [(110, 0.5), (150, 0.4), (200, 0.6), (130, 0.45), (240, 0.5)]
    ):
        save(folder / f"u{number}.wav", vowel(f0, seconds, seed=number), SAMPLE_RATE)
        rows.append({"audio": f"u{number}.wav", "text": "a b", "normalized_text": "a b", "speaker": f"s{number % 2}",
                     "duration": seconds, "sample_rate": SAMPLE_RATE})  # fmt: skip
    write_manifest(folder / "train.jsonl", rows)
    return folder / "train.jsonl"


def test_dataset_default_gives_exactly_todays_features(manifest):
    today = SpeechDataset(manifest, progress=False)
    default = SpeechDataset(manifest, progress=False, waveform_augment=WaveformAugmentConfig())
    for index in range(len(today)):
        assert torch.equal(default[index]["features"], today[index]["features"])
    # the on-the-fly path computes the same log-mels when the augmentation is the identity
    identity = WaveformAugmentConfig(speed_probability=1.0, speed_factors=(1.0,))
    on_the_fly = SpeechDataset(manifest, progress=False, waveform_augment=identity)
    for index in range(len(today)):
        torch.testing.assert_close(
            on_the_fly[index]["features"], today[index]["features"], rtol=0, atol=1e-5
        )


def test_dataset_augmented_features_have_the_right_shape_and_repeat_per_seed_and_epoch(manifest):
    config = MelConfig()

    def dataset(seed: int = 0, augment: WaveformAugmentConfig = ALL_ON) -> SpeechDataset:
        return SpeechDataset(manifest, mel_config=config, progress=False, with_waveform=True,
                             waveform_augment=augment, augment_seed=seed)  # fmt: skip

    first, again = dataset(), dataset()
    for index in range(len(first)):
        item = first[index]
        features, waveform = item["features"], item["waveform"]
        assert features.dtype == torch.float32 and features.shape[1] == config.n_mels
        assert (
            len(features) == 1 + len(waveform) // config.hop_length
        )  # features from this waveform
        assert torch.isfinite(features).all()
        assert torch.equal(again[index]["features"], features)
    other_seed = dataset(seed=1)
    assert any(
        not torch.equal(other_seed[i]["waveform"], first[i]["waveform"]) for i in range(len(first))
    )
    before = first[2]["waveform"]
    first.set_epoch(1)
    assert not torch.equal(first[2]["waveform"], before)
    babble_only = dataclasses.replace(ALL_ON, speed_probability=0.0, reverb_probability=0.0,
                                      band_limit_probability=0.0, noise_kinds=("babble",))  # fmt: skip
    item = dataset(augment=babble_only)[0]
    assert (
        len(item["waveform"]) == round(0.5 * SAMPLE_RATE) and torch.isfinite(item["features"]).all()
    )


def test_the_augmentations_do_not_import_torch():
    code = "import sys, minispeech.data.augment; assert 'torch' not in sys.modules, 'torch was imported'"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, f"minispeech.data.augment imported torch:\n{result.stderr}"


def test_precomputed_augmentations_equal_the_on_the_fly_draws_and_cycle(tmp_path):
    from minispeech.data import SpeechDataset, build_tiny_corpus
    from minispeech.data.corpus import CorpusConfig

    folder = build_tiny_corpus(tmp_path / "tiny", CorpusConfig.preset("small"), workers=1, progress=False)
    config = WaveformAugmentConfig(speed_probability=1.0, noise_probability=1.0, noise_kinds=("babble", "pink"))
    on_the_fly = SpeechDataset(folder / "train.jsonl", progress=False, waveform_augment=config, augment_seed=3)
    precomputed = SpeechDataset(folder / "train.jsonl", progress=False, waveform_augment=config, augment_seed=3)
    precomputed.precompute_augmentations(epochs=2, workers=1, progress=False)
    for epoch in (0, 1, 2):
        on_the_fly.set_epoch(epoch % 2)
        precomputed.set_epoch(epoch)
        for index in range(len(on_the_fly)):
            expected = on_the_fly[index]["features"]
            got = precomputed[index]["features"]
            assert got.shape == expected.shape and got.dtype == torch.float32
            assert torch.allclose(got, expected, atol=0.02 * float(expected.abs().max()))  # float16 storage
    precomputed.set_epoch(0)
    assert not torch.equal(precomputed[0]["features"], (precomputed.set_epoch(1), precomputed[0]["features"])[1])
    with pytest.raises(ValueError, match="augmentation switched on"):
        SpeechDataset(folder / "train.jsonl", progress=False).precompute_augmentations(2)
