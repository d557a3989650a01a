"""The TTS corpus (data/tts.py, data/tts_tokens.py) and TTSDataset: exact durations, byte-identical rebuilds, shapes,
named errors. Builds the small preset (36 utterances, a few seconds) once per module."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import numpy as np
import pytest
import soundfile
from hypothesis import given, settings
from hypothesis import strategies as st

from minispeech.data import tts, tts_tokens
from minispeech.dsp import MelConfig, log_mel


@pytest.fixture(scope="module")
def small_tts(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("tts") / "tts"
    return tts.build_tts_corpus(folder, tts.TTSCorpusConfig.preset("small"), progress=False)


def digest(folder: Path) -> dict:
    return {
        str(path.relative_to(folder)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


def test_durations_sum_to_the_mel_length_of_every_utterance(small_tts):
    hop = MelConfig().hop_length
    for split in tts.TTS_SPLITS:
        data = tts.load_tts_split(small_tts, split)
        assert len(data.rows) == {"train": 24, "valid": 4, "test": 8}[split]
        assert isinstance(data.mel, np.memmap)
        for index, row in enumerate(data.rows):
            n_frames = data.frame_offsets[index + 1] - data.frame_offsets[index]
            durations = data.durations[data.token_offsets[index] : data.token_offsets[index + 1]]
            n_samples = soundfile.info(row["audio"]).frames
            assert durations.sum() == n_frames == row["n_frames"] == 1 + n_samples // hop
            assert (durations >= 0).all()


def test_rebuild_is_byte_identical_whatever_the_workers(small_tts, tmp_path):
    from minispeech.data.__main__ import main

    assert main(["tts", "--size", "small", "--out", str(tmp_path / "again"), "--workers", "1"]) == 0
    assert digest(tmp_path / "again") == digest(small_tts)


def test_stored_tokens_are_what_encode_text_gives(small_tts):
    data = tts.load_tts_split(small_tts, "valid")
    for index, row in enumerate(data.rows):
        symbols, ids = tts_tokens.encode_text(row["text"])
        assert symbols == row["symbols"]
        assert (
            ids == data.tokens[data.token_offsets[index] : data.token_offsets[index + 1]].tolist()
        )
        assert symbols[-1] in tts_tokens.CLAUSE_MARKS


def test_stored_features_are_the_library_transforms_of_the_wav(small_tts):
    data = tts.load_tts_split(small_tts, "test")
    row, frames = data.rows[0], slice(data.frame_offsets[0], data.frame_offsets[1])
    waveform, _ = soundfile.read(row["audio"], dtype="float32")
    np.testing.assert_array_equal(
        data.mel[frames], log_mel(waveform, data.mel_config).T.astype(np.float32)
    )
    voiced_f0 = data.f0[frames][data.voiced[frames]]
    assert voiced_f0.size > 0 and 60 < np.median(voiced_f0) < 200  # en-us+m1 speaks around 95 Hz
    assert (data.f0[frames][~data.voiced[frames]] == 0).all()
    stats = json.loads((small_tts / "stats.json").read_text())
    assert len(stats["mel_mean"]) == 80 and stats["f0_voiced_hz"]["std"] > 0
    mean, std = tts.mel_statistics(small_tts)  # what the TTS models normalize with
    train_mel = np.asarray(tts.load_tts_split(small_tts, "train").mel, np.float64)
    np.testing.assert_allclose(mean, train_mel.mean(0), atol=1e-5)
    np.testing.assert_allclose(std, train_mel.std(0), atol=1e-5)
    assert mean.dtype == std.dtype == np.float32 and (std > 0).all()


def test_mel_statistics_of_a_folder_without_stats_name_the_build_command(tmp_path):
    with pytest.raises(FileNotFoundError, match="python -m minispeech.data tts"):
        tts.mel_statistics(tmp_path)


def test_plan_meets_the_corpus_promises():
    from minispeech.data.corpus import CorpusConfig, plan_jobs

    jobs = tts.plan_tts_jobs(tts.TTSCorpusConfig())
    counts = {split: sum(job[0] == split for job in jobs) for split in tts.TTS_SPLITS}
    assert counts == {"train": 3000, "valid": 100, "test": 200}
    texts = [job[2] for job in jobs]
    assert len(set(texts)) == len(texts)  # splits are disjoint
    assert not set(texts) & {
        job[2] for job in plan_jobs(CorpusConfig())
    }  # none heard in the tiny corpus
    assert {job[3].name for job in jobs} == {"us_m1"} and not tts_tokens.TTS_SPEAKER.held_out
    assert sum("," in text for text in texts) > 300
    assert sum(text.endswith("?") for text in texts) > 300
    assert sum(text.endswith("!") for text in texts) > 100
    assert sum(any(character.isdigit() for character in text) for text in texts) > 300


def test_phoneme_durations_rounding_rule():
    # hop 256: starts at samples 10 (first phoneme: frame 0), 256 (frame 1), 300 (frame 2)
    durations = tts_tokens.phoneme_durations([10, 256, 300], n_samples=1000, hop_length=256)
    assert durations.tolist() == [1, 1, 2]  # frame centres 0, 256, 512, 768 -> T_mel = 4
    assert tts_tokens.phoneme_durations([0, 999], 1000, 256).tolist() == [4, 0]
    # a pause before the first phoneme is lent to it, not lost
    symbols, durations = tts_tokens.align_tokens(
        "hi.", [[["h", "ˈaɪ"]]], [["_", 0], ["h", 300], ["aI", 600]], 1000, 256
    )
    assert symbols == ["h", "ˈaɪ", "."] and durations.tolist() == [3, 1, 0]  # event frames 2, 1, 1
    with pytest.raises(tts_tokens.PhonemeAlignmentError, match="no phoneme events"):
        tts_tokens.phoneme_durations([], 1000, 256)
    with pytest.raises(tts_tokens.DurationMismatchError, match="must not decrease"):
        tts_tokens.phoneme_durations([0, 500, 300], 1000, 256)


@settings(max_examples=60, deadline=None)
@given(
    st.integers(1, 5000),
    st.lists(st.integers(0, 5000), min_size=1, max_size=12),
    st.integers(1, 300),
)
def test_phoneme_durations_always_sum_to_the_mel_length(n_samples, starts, hop_length):
    starts = sorted(min(start, n_samples) for start in starts)
    durations = tts_tokens.phoneme_durations(starts, n_samples, hop_length)
    assert durations.sum() == 1 + n_samples // hop_length and (durations >= 0).all()


def test_named_errors_say_the_fix():
    with pytest.raises(tts_tokens.NoPhonemesError, match="no phonemes"):
        tts_tokens.encode_text("?!")
    with pytest.raises(tts_tokens.UnknownPhonemeError, match="TTS_SYMBOLS"):
        tts_tokens.symbol_ids(["ʀ"])
    with pytest.raises(tts_tokens.SampleRateMismatchError, match="16000 Hz"):
        tts.check_sample_rate(MelConfig(), MelConfig(sample_rate=16000, fmax=7600.0))
    with pytest.raises(tts_tokens.TTSDataError, match="MelConfig"):
        tts.check_sample_rate(MelConfig(), MelConfig(n_mels=40))
    with pytest.raises(tts_tokens.PhonemeAlignmentError, match="events"):
        tts_tokens.align_tokens("hi.", [[["h", "ˈaɪ"]]], [["h", 0]], 1000, 256)
    with pytest.raises(FileNotFoundError, match="python -m minispeech.data tts"):
        tts.tts_corpus("/nonexistent/tts", build_if_missing=False)


def test_dataset_items_batches_and_aligned_segments(small_tts):
    torch = pytest.importorskip("torch")
    from minispeech.data import LengthBucketSampler, TTSDataset, tts_collate

    dataset = TTSDataset(small_tts, "train", mel_config=MelConfig(), with_waveform=True)
    item = dataset[0]
    n_tokens, n_frames = len(item["tokens"]), len(item["mel"])
    assert item["mel"].shape == (n_frames, 80) and item["durations"].sum() == n_frames
    assert item["f0"].shape == item["voiced"].shape == item["energy"].shape == (n_frames,)
    assert item["phoneme_f0"].shape == item["phoneme_energy"].shape == (n_tokens,)
    assert n_frames == 1 + len(item["waveform"]) // 256
    sampler = LengthBucketSampler(dataset.lengths(), batch_size=4, seed=0)
    batch = tts_collate([dataset[index] for index in next(iter(sampler))])
    longest = int(batch["mel_lengths"].max())
    assert batch["mel"].shape == (4, longest, 80) and batch["tokens"].shape == (
        4,
        int(batch["token_lengths"].max()),
    )
    assert batch["waveform"].shape[0] == 4 and torch.equal(
        batch["durations"].sum(1), batch["mel_lengths"]
    )

    segments = TTSDataset(small_tts, "train", segment_frames=32, seed=1)
    item, whole = segments[3], dataset[3]
    start = item["segment_start"]
    assert item["mel_segment"].shape == (32, 80) and item["waveform_segment"].shape == (32 * 256,)
    torch.testing.assert_close(item["mel_segment"], whole["mel"][start : start + 32])
    torch.testing.assert_close(
        item["waveform_segment"], whole["waveform"][start * 256 : (start + 32) * 256]
    )
    batch = tts_collate([segments[0], segments[1]])
    assert batch["mel_segment"].shape == (2, 32, 80) and batch["waveform_segment"].shape == (
        2,
        32 * 256,
    )
    relative = TTSDataset(os.path.relpath(small_tts), "valid", segment_frames=8)  # paths from the cwd
    assert relative[0]["waveform_segment"].shape == (8 * 256,)
    with pytest.raises(tts_tokens.SampleRateMismatchError):
        TTSDataset(small_tts, "train", mel_config=MelConfig(sample_rate=16000, fmax=7600.0))


def test_phoneme_averages_give_the_stored_phoneme_targets_and_follow_other_durations(small_tts):
    data = tts.load_tts_split(small_tts, "train")
    for index in range(3):
        frames = slice(data.frame_offsets[index], data.frame_offsets[index + 1])
        tokens = slice(data.token_offsets[index], data.token_offsets[index + 1])
        durations = np.asarray(data.durations[tokens])
        f0, energy = tts.phoneme_averages(data.f0[frames], data.voiced[frames], data.energy[frames], durations)
        # the corpus averaged the float64 frames before storing them as float32
        np.testing.assert_allclose(f0, data.phoneme_f0[tokens], rtol=1e-6)
        np.testing.assert_allclose(energy, data.phoneme_energy[tokens], rtol=1e-6)
    # other durations: a token's mean over exactly its frames, 0 F0 where none is voiced
    f0 = np.array([100.0, 0.0, 120.0, 130.0, 0.0], np.float32)
    voiced = f0 > 0
    energy = np.array([1.0, 2.0, 3.0, 4.0, 5.0], np.float32)
    token_f0, token_energy = tts.phoneme_averages(f0, voiced, energy, np.array([2, 0, 2, 1]))
    np.testing.assert_allclose(token_f0, [100.0, 0.0, 125.0, 0.0])
    np.testing.assert_allclose(token_energy, [1.5, 0.0, 3.5, 5.0])
    with pytest.raises(tts_tokens.DurationMismatchError, match="sum to the 5 frames"):
        tts.phoneme_averages(f0, voiced, energy, np.array([2, 2]))
