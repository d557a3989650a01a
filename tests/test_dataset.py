"""SpeechDataset, collate and LengthBucketSampler over a small synthesized corpus."""

import numpy as np
import pytest
import torch

from minispeech.audio import load
from minispeech.data import (
    CorpusConfig,
    LengthBucketSampler,
    SpeechDataset,
    build_tiny_corpus,
    collate,
)
from minispeech.data.dataset import feature_cache_path
from minispeech.dsp import MelConfig, log_mel
from minispeech.text import characters, phonemes


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    folder = tmp_path_factory.mktemp("dataset") / "tiny"
    return build_tiny_corpus(folder, config=CorpusConfig.preset("small"), progress=False)


def test_log_mel_items_match_dsp_and_are_cached(corpus):
    config = MelConfig()
    dataset = SpeechDataset(corpus / "train.jsonl", mel_config=config, progress=False)
    item = dataset[3]
    waveform, _ = load(dataset.rows[3]["audio"])
    np.testing.assert_allclose(item["features"].numpy(), log_mel(waveform, config).T, atol=1e-6)
    assert characters().decode(item["tokens"].tolist()) == dataset.rows[3]["normalized_text"]
    assert feature_cache_path(corpus / "train.jsonl", config).is_file()
    again = SpeechDataset(corpus / "train.jsonl", mel_config=config, progress=False)
    torch.testing.assert_close(again[3]["features"], item["features"])


def test_waveform_and_phoneme_items(corpus):
    dataset = SpeechDataset(corpus / "valid.jsonl", features="waveform", tokens="phonemes")
    item = dataset[0]
    assert item["waveform"].ndim == 1 and item["waveform"].dtype == torch.float32
    assert phonemes().decode(item["tokens"].tolist()) == dataset.rows[0]["phonemes"]


def test_features_and_waveform_together_line_up(corpus):
    config = MelConfig()
    dataset = SpeechDataset(corpus / "valid.jsonl", mel_config=config, with_waveform=True, progress=False)
    item = dataset[1]
    assert item["features"].shape[1] == config.n_mels
    # center=True framing: T_mel = 1 + T_wav // hop_length
    assert len(item["features"]) == 1 + len(item["waveform"]) // config.hop_length
    batch = collate([dataset[0], item])
    assert batch["features"].shape[:2] == (2, int(batch["feature_lengths"].max()))
    assert batch["waveform"].shape == (2, int(batch["waveform_lengths"].max()))


def test_collate_pads_and_reports_lengths(corpus):
    dataset = SpeechDataset(corpus / "train.jsonl", progress=False)
    items = [dataset[i] for i in range(4)]
    batch = collate(items)
    lengths = [len(item["features"]) for item in items]
    assert batch["features"].shape == (4, max(lengths), 80)
    assert batch["feature_lengths"].tolist() == lengths
    assert batch["tokens"].shape == (4, max(len(item["tokens"]) for item in items))
    for i, item in enumerate(items):
        torch.testing.assert_close(batch["features"][i, : lengths[i]], item["features"])
        assert (batch["features"][i, lengths[i] :] == 0).all()
        assert (batch["tokens"][i, len(item["tokens"]) :] == 0).all()


def test_bucketing_covers_every_index_once_and_reduces_padding():
    rng = np.random.default_rng(0)
    lengths = rng.integers(50, 1000, size=500).tolist()
    sampler = LengthBucketSampler(lengths, batch_size=16, seed=3)
    batches = list(sampler)
    assert sorted(i for batch in batches for i in batch) == list(range(500))
    assert max(len(batch) for batch in batches) <= 16

    def padding_fraction(batches):
        padded = sum(max(lengths[i] for i in b) * len(b) for b in batches)
        return 1 - sum(lengths) / padded

    random_batches = [list(range(i, min(i + 16, 500))) for i in range(0, 500, 16)]
    assert padding_fraction(batches) < 0.25 * padding_fraction(random_batches)
    sampler.set_epoch(1)
    assert list(sampler) != batches  # a new order each epoch
    sampler.set_epoch(0)
    assert list(sampler) == batches  # reproducible


def test_max_total_length_caps_batches():
    lengths = [100] * 10 + [1000] * 10
    sampler = LengthBucketSampler(lengths, batch_size=8, max_total_length=2000, shuffle=False)
    for batch in sampler:
        assert max(lengths[i] for i in batch) * len(batch) <= 2000


def test_bad_arguments_are_named(corpus, tmp_path):
    with pytest.raises(ValueError, match="features must be one of"):
        SpeechDataset(corpus / "train.jsonl", features="mfcc")
    with pytest.raises(FileNotFoundError, match="python -m minispeech.data tiny"):
        SpeechDataset(tmp_path / "missing.jsonl")
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    with pytest.raises(ValueError, match="no utterances"):
        SpeechDataset(empty)


def test_waveform_segments_are_seeded_windows_zero_padded_at_the_end(tmp_path):
    import soundfile

    from minispeech.data import WaveformSegments

    rows = []
    for name, length in (("long", 5000), ("short", 300)):
        path = tmp_path / f"{name}.wav"
        soundfile.write(path, (np.arange(length) / 8192).astype(np.float32), 22050, subtype="FLOAT")  # a ramp
        rows.append({"audio": str(path), "speaker": name})
    segments = WaveformSegments(rows, 22050, 1024, seed=3)
    long_segment, short_segment = segments[0]["waveform_segment"], segments[1]["waveform_segment"]
    assert long_segment.shape == short_segment.shape == (1024,)
    ramp = np.arange(5000) / 8192
    start = int(round(float(long_segment[0]) * 8192))  # the ramp's first value says where the window starts
    assert 0 <= start <= 5000 - 1024 and np.allclose(long_segment.numpy(), ramp[start : start + 1024])
    assert np.allclose(short_segment[:300].numpy(), ramp[:300]) and not short_segment[300:].any()
    assert torch.equal(segments[0]["waveform_segment"], long_segment)  # same epoch, same window
    starts = set()
    for epoch in range(6):
        segments.set_epoch(epoch)
        starts.add(float(segments[0]["waveform_segment"][0]))
    assert len(starts) > 1  # new epochs, new windows
    with pytest.raises(ValueError, match="rows is empty"):
        WaveformSegments([], 22050, 1024)
