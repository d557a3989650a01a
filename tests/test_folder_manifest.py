"""Tests for minispeech.data.folder_manifest: a folder of x.wav + x.txt -> manifest rows."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
import soundfile

from minispeech.audio import AudioError
from minispeech.data import folder_manifest, read_manifest, write_manifest
from minispeech.data.manifest import REQUIRED_KEYS


def record(folder: Path, name: str, text: str | None, sr: int = 16000, seconds: float = 0.25):
    path = folder / f"{name}.wav"
    path.parent.mkdir(parents=True, exist_ok=True)
    t = np.arange(int(sr * seconds)) / sr
    soundfile.write(path, 0.2 * np.sin(2 * np.pi * 200 * t), sr)
    if text is not None:
        path.with_suffix(".txt").write_text(text, encoding="utf-8")
    return path


def test_rows_for_a_folder_of_recordings_round_trip_through_a_manifest(tmp_path):
    folder = tmp_path / "my_recordings"
    record(folder, "hello", "Hello, world!\n")
    record(folder, "take2/money", "I paid $5 on  May 3rd.", sr=44100, seconds=0.5)
    (folder / "notes.txt").write_text("a text file without a recording is left alone")
    rows = folder_manifest(folder)
    assert [row["id"] for row in rows] == ["hello", "take2/money"]
    hello, money = rows
    assert set(REQUIRED_KEYS) | {"id", "normalized_text"} <= set(hello)
    assert hello["text"] == "Hello, world!" and hello["normalized_text"] == "hello, world"
    assert money["text"] == "I paid $5 on May 3rd."  # whitespace collapsed, nothing else
    assert money["normalized_text"] == "i paid five dollars on may third"
    assert (hello["sample_rate"], hello["duration"]) == (16000, 0.25)
    assert (money["sample_rate"], money["duration"]) == (44100, 0.5)
    assert {row["speaker"] for row in rows} == {"my_recordings"}
    assert folder_manifest(folder, speaker="me")[0]["speaker"] == "me"
    manifest = tmp_path / "elsewhere" / "mine.jsonl"
    write_manifest(manifest, rows)  # absolute audio paths: the manifest can live anywhere
    assert [Path(row["audio"]) for row in read_manifest(manifest)] == [
        (folder / "hello.wav").resolve(),
        (folder / "take2" / "money.wav").resolve(),
    ]


def test_clear_errors_name_the_file_and_the_fix(tmp_path):
    with pytest.raises(FileNotFoundError, match="nowhere: folder not found"):
        folder_manifest(tmp_path / "nowhere")
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="no .wav or .flac files"):
        folder_manifest(tmp_path / "empty")
    lonely = record(tmp_path / "no_text", "lonely", None)
    with pytest.raises(FileNotFoundError, match=re.escape(f"{lonely}: no transcript lonely.txt")):
        folder_manifest(tmp_path / "no_text")
    record(tmp_path / "blank", "quiet", "  \n")
    with pytest.raises(ValueError, match=r"quiet.txt: the transcript is empty"):
        folder_manifest(tmp_path / "blank")
    record(tmp_path / "symbols", "dots", "...")
    with pytest.raises(ValueError, match=r"dots.txt: normalize: nothing speakable"):
        folder_manifest(tmp_path / "symbols")
    broken = tmp_path / "broken" / "bad.wav"
    broken.parent.mkdir()
    broken.write_bytes(b"RIFF, but not really a wav file")
    broken.with_suffix(".txt").write_text("hello")
    with pytest.raises(AudioError, match=re.escape(f"{broken}: not a readable audio file")):
        folder_manifest(tmp_path / "broken")
