"""The voice pool (data/voices.py): promises of the full plan, speaker-disjoint splits,
byte-identical rebuilds of the small preset (16 utterances, a few seconds)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from minispeech.data import read_manifest, voices


def digest(folder: Path) -> dict:
    return {
        str(path.relative_to(folder)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


def test_full_plan_meets_the_pool_promises():
    import espeakng_loader

    config = voices.VoicePoolConfig()
    speakers = voices.pool_speakers(config)
    assert len(speakers) >= 100 and len({speaker.name for speaker in speakers}) == len(speakers)
    assert len({(speaker.voice, speaker.pitch, speaker.rate) for speaker in speakers}) == len(
        speakers
    )
    held_out = [speaker for speaker in speakers if speaker.held_out]
    assert len(held_out) >= 10
    variant = lambda speaker: speaker.voice.split("+")[1]  # noqa: E731
    assert not {variant(s) for s in held_out} & {variant(s) for s in speakers if not s.held_out}
    variants = Path(espeakng_loader.get_data_path()) / "voices" / "!v"
    for name in {variant(speaker) for speaker in speakers}:
        assert "breath" not in (variants / name).read_text(errors="replace"), name
    jobs = voices.plan_pool_jobs(config)
    per_speaker = {speaker.name: 0 for speaker in speakers}
    for split, _, _, speaker in jobs:
        per_speaker[speaker.name] += 1
        assert split == ("held_out" if speaker.held_out else "train")
    assert min(per_speaker.values()) >= 20
    assert len({text for _, _, text, _ in jobs}) == len(jobs)


def test_small_pool_is_byte_identical_and_speaker_disjoint(tmp_path):
    from minispeech.data.__main__ import main

    config = voices.VoicePoolConfig.preset("small")
    folder = voices.build_voice_pool(tmp_path / "a", config, progress=False)
    assert main(["voices", "--size", "small", "--out", str(tmp_path / "b"), "--workers", "1"]) == 0
    assert digest(folder) == digest(tmp_path / "b")
    train, held_out = (
        read_manifest(folder / "train.jsonl"),
        read_manifest(folder / "held_out.jsonl"),
    )
    assert len(train) == 12 and len(held_out) == 4
    assert not {row["speaker"] for row in train} & {row["speaker"] for row in held_out}
    assert all(row["alignment"]["phonemes"] for row in train + held_out)
    with pytest.raises(FileNotFoundError, match="python -m minispeech.data voices"):
        voices.voice_pool(tmp_path / "missing", build_if_missing=False)
