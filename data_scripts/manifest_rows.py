"""Turning a corpus's audio files into manifest rows, skipping (and counting) unreadable ones.

SkippedFiles   the audio files left out, with the reason for each; prints a short report
Prepared       what a corpus script's prepare() returns: manifest path per split + SkippedFiles
audio_row      one manifest row for one audio file: duration and rate from its header only
write_split    write rows with minispeech.data.manifest.write_manifest and say how many

Rows hold the required keys audio (relative to the manifest's folder), text, speaker, duration,
sample_rate, plus id and normalized_text. Used by data_scripts/ljspeech.py, librispeech.py and
libritts.py. No lesson teaches it: the gpu profile reads the manifests these scripts write.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from minispeech.data.manifest import write_manifest

SHOWN_REASONS = 5  # how many skipped files a report names


@dataclass
class SkippedFiles:
    """Audio files that could not be read, as (path, reason) pairs."""

    entries: list[tuple[Path, str]] = field(default_factory=list)

    def add(self, path: Path, reason: str) -> None:
        self.entries.append((path, reason))

    def __len__(self) -> int:
        return len(self.entries)

    def report(self, corpus: str) -> str:
        if not self.entries:
            return f"{corpus}: every audio file was readable."
        lines = [f"{corpus}: skipped {len(self.entries)} unreadable audio file(s):"]
        lines += [f"  {path}: {reason}" for path, reason in self.entries[:SHOWN_REASONS]]
        if len(self.entries) > SHOWN_REASONS:
            lines.append(f"  ... and {len(self.entries) - SHOWN_REASONS} more")
        return "\n".join(lines)


@dataclass
class Prepared:
    """The manifests one prepare() call wrote (split or subset name -> path) and what it skipped."""

    manifests: dict[str, Path]
    skipped: SkippedFiles


def audio_row(
    audio_path: Path,
    manifest_dir: Path,
    skipped: SkippedFiles,
    *,
    utterance_id: str,
    text: str,
    normalized_text: str,
    speaker: str,
) -> dict | None:
    """A manifest row for `audio_path`, or None (recorded in `skipped`) when it is unreadable.

    Reads only the header with soundfile.info (no decoding), so a corpus of 100k files takes
    seconds, not minutes.
    """
    import soundfile

    if not audio_path.is_file():
        skipped.add(audio_path, "listed in the transcript but the audio file is missing")
        return None
    try:
        info = soundfile.info(audio_path)
    except (soundfile.SoundFileError, RuntimeError, TypeError) as error:
        skipped.add(audio_path, f"not readable audio ({error})")
        return None
    if info.frames <= 0 or info.samplerate <= 0:
        skipped.add(audio_path, "the header says it holds no samples")
        return None
    return {
        "id": utterance_id,
        "audio": Path(os.path.relpath(audio_path, manifest_dir)).as_posix(),
        "text": text,
        "normalized_text": normalized_text,
        "speaker": speaker,
        "duration": info.frames / info.samplerate,
        "sample_rate": int(info.samplerate),
    }


def write_split(path: Path, rows: list[dict]) -> Path:
    """Write one manifest and print its size in utterances and hours."""
    write_manifest(path, rows)
    hours = sum(row["duration"] for row in rows) / 3600.0
    print(f"wrote {path}: {len(rows)} utterances, {hours:.2f} h")
    return path
