"""JSONL manifests: one utterance per line, the same format for every corpus.

Required keys: audio (path relative to the manifest's folder, or absolute), text,
speaker, duration (seconds), sample_rate. The tiny corpus also writes
normalized_text, phonemes and alignment (eSpeak's phoneme and word start samples).

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
