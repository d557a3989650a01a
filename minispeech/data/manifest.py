"""JSONL manifests: one utterance per line, the same format for every corpus.

Required keys: audio (path relative to the manifest's folder, or absolute), text,
speaker, duration (seconds), sample_rate. The tiny corpus also writes
normalized_text, phonemes and alignment (eSpeak's phoneme and word start samples).

folder_manifest turns any folder of x.wav + x.txt pairs (your own recordings) into rows.

Taught in lessons/00_setup_data_text.ipynb, section 3.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

REQUIRED_KEYS = ("audio", "text", "speaker", "duration", "sample_rate")


def write_manifest(path: str | Path, rows: list[dict]) -> None:
    """Write rows as JSONL atomically (temp file + rename), keys in a stable order."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(path.name + ".tmp")
    with open(temporary, "w", encoding="utf-8", newline="\n") as file:
        for row in rows:
            missing = [key for key in REQUIRED_KEYS if key not in row]
            if missing:
                raise ValueError(f"{path}: manifest row is missing keys {missing}: {row}")
            file.write(json.dumps(row, ensure_ascii=False, sort_keys=True) + "\n")
    os.replace(temporary, path)


def read_manifest(path: str | Path) -> list[dict]:
    """Read a JSONL manifest; each row's `audio` is made absolute.

    Raises FileNotFoundError naming the file, ValueError naming the line of a bad row.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(
            f"{path}: manifest not found. Build the tiny corpus with "
            f"`python -m minispeech.data tiny`, or prepare a real corpus with data_scripts/."
        )
    rows = []
    with open(path, encoding="utf-8") as file:
        for line_number, line in enumerate(file, start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as error:
                raise ValueError(f"{path}:{line_number}: not valid JSON ({error})") from None
            missing = [key for key in REQUIRED_KEYS if key not in row]
            if missing:
                raise ValueError(f"{path}:{line_number}: missing keys {missing}")
            audio = Path(row["audio"])
            if not audio.is_absolute():
                row["audio"] = str(path.parent / audio)
            rows.append(row)
    return rows


def folder_manifest(directory: str | Path, speaker: str | None = None) -> list[dict]:
    """Manifest rows for a folder of recordings: every x.wav (or x.flac) with an x.txt beside it.

    Test a recognizer on your own voice: record a few sentences as one.wav, two.wav, ..., write
    what you said in one.txt, two.txt, ..., then

        write_manifest("mine.jsonl", folder_manifest("my_recordings"))

    Subfolders are searched too (sorted). Each row: id (the path below `directory` without the
    suffix), audio (absolute, so the manifest can be written anywhere), text (the .txt as written),
    normalized_text (minispeech.text.normalize, final . , ? ! removed as in the tiny corpus),
    speaker (`speaker`, default the folder's name), duration and sample_rate of the file as it
    is (minispeech.audio.load(sr=...) resamples on load).
    Raises FileNotFoundError for a missing folder, a folder without recordings or a recording
    without its .txt; ValueError for an empty or unspeakable .txt; minispeech.audio.AudioError
    (a ValueError) for a file that is not readable audio. Each names the file and the fix.
    """
    from minispeech.audio import load
    from minispeech.text import normalize

    directory = Path(directory)
    if not directory.is_dir():
        raise FileNotFoundError(
            f"{directory}: folder not found. Pass the folder that holds your x.wav + x.txt pairs."
        )
    recordings = sorted(path for suffix in ("*.wav", "*.flac") for path in directory.rglob(suffix))
    if not recordings:
        raise FileNotFoundError(
            f"{directory}: no .wav or .flac files in it (or its subfolders). Record some, e.g. "
            f"hello.wav, and write what you said in hello.txt beside it."
        )
    rows = []
    for audio_path in recordings:
        text_path = audio_path.with_suffix(".txt")
        if not text_path.is_file():
            raise FileNotFoundError(
                f"{audio_path}: no transcript {text_path.name} beside it. Write what is said in "
                f"{text_path}, or move the recording out of {directory}."
            )
        text = " ".join(text_path.read_text(encoding="utf-8").split())
        if not text:
            raise ValueError(
                f"{text_path}: the transcript is empty. Write what is said in {audio_path.name}."
            )
        try:
            normalized_text = normalize(text).rstrip(".,?!").strip()
        except ValueError as error:
            raise ValueError(
                f"{text_path}: {error}. Write the words said in {audio_path.name}."
            ) from None
        waveform, sample_rate = load(audio_path)  # AudioError names the file if unreadable
        rows.append(
            {
                "id": audio_path.relative_to(directory).with_suffix("").as_posix(),
                "audio": str(audio_path.resolve()),
                "text": text,
                "normalized_text": normalized_text,
                "speaker": speaker or directory.resolve().name,
                "duration": round(len(waveform) / sample_rate, 4),
                "sample_rate": sample_rate,
            }
        )
    return rows
