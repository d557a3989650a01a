"""The rates corpus (data/rates.py): the plan's promises, byte-identical rebuilds of the small preset."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from minispeech.data import corpus, rates, read_manifest


def digest(folder: Path) -> dict:
    return {
        str(path.relative_to(folder)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


def test_full_plan_keeps_the_words_and_voices_and_widens_only_rate_pitch_variant():
    config = rates.RatesCorpusConfig()
    tiny_jobs = corpus.plan_jobs(config.tiny)
    jobs = rates.plan_rates_jobs(config)
    tiny_train = [job for job in tiny_jobs if job[0] == "train"]
    wide = [job for job in jobs if job[0] == "train_wide"]
    assert [job[2] for job in wide] == [job[2] for job in tiny_train]  # the same sentences, same order
    held_out_variants = {s.voice.split("+")[1] for s in corpus.SPEAKERS if s.held_out}
    for (_, _, _, original), (_, _, _, drawn) in zip(tiny_train, wide, strict=True):
        assert drawn.name == original.name and drawn.voice.split("+")[0] == original.voice.split("+")[0]
        assert config.rate_range[0] <= drawn.rate <= config.rate_range[1]
        assert config.pitch_range[0] <= drawn.pitch <= config.pitch_range[1]
        assert drawn.voice.split("+")[1] not in held_out_variants  # the test voices stay unseen
    rates_drawn = [job[3].rate for job in wide]
    assert min(rates_drawn) <= 125 and max(rates_drawn) >= 250  # the range is really used
    assert 0.3 < sum(j[3].voice != o[3].voice for j, o in zip(wide, tiny_train, strict=True)) / len(wide) < 0.7
    unseen_texts = {job[2] for job in tiny_jobs if job[0] == "test_unseen"}
    for split, rate in (("slow", rates.SLOW_RATE), ("fast", rates.FAST_RATE)):
        test = [job for job in jobs if job[0] == split]
        assert len(test) == 3 * config.test_per_speaker
        assert all(job[3].rate == rate and job[3].held_out and job[2] in unseen_texts for job in test)
    normal = [job for job in jobs if job[0] == "normal"]
    assert [job[2] for job in normal] == [job[2] for job in jobs if job[0] == "slow"]


def test_small_rates_corpus_is_byte_identical(tmp_path):
    from minispeech.data.__main__ import main

    config = rates.RatesCorpusConfig.preset("small")
    folder = rates.build_rates_corpus(tmp_path / "a", config, progress=False)
    (folder / "kept.txt").write_text("a rebuild would remove this")
    assert rates.build_rates_corpus(tmp_path / "a", config, progress=False) == folder
    assert (folder / "kept.txt").is_file()  # the finished corpus was recognized (tuples in its config), not rebuilt
    (folder / "kept.txt").unlink()
    assert main(["rates", "--size", "small", "--out", str(tmp_path / "b"), "--workers", "1"]) == 0
    assert digest(folder) == digest(tmp_path / "b")
    wide, slow, fast = (read_manifest(folder / f"{split}.jsonl") for split in ("train_wide", "slow", "fast"))
    assert len(wide) == 48 and len(slow) == len(fast) == 3
    assert all(row["rate"] == rates.SLOW_RATE for row in slow)
    assert sum(row["duration"] for row in slow) > 1.5 * sum(row["duration"] for row in fast)
    with pytest.raises(FileNotFoundError, match="python -m minispeech.data rates"):
        rates.rates_corpus(tmp_path / "missing", build_if_missing=False)


def test_config_errors_name_the_field():
    with pytest.raises(ValueError, match="rate_range"):
        rates.RatesCorpusConfig(rate_range=(200, 100))
    with pytest.raises(ValueError, match="test_per_speaker"):
        rates.RatesCorpusConfig(test_per_speaker=1000)
    with pytest.raises(ValueError, match="unknown rates corpus size"):
        rates.RatesCorpusConfig.preset("huge")
