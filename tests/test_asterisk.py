"""Tests for data_scripts/asterisk.py: the Asterisk prompts from a fabricated Debian package pair
(ar + tar.xz made here), an unpacked folder and a tarball in the official layout. No network."""

from __future__ import annotations

import gzip
import io
import sys
import tarfile
from pathlib import Path

import numpy as np
import pytest
import soundfile

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # `data_scripts` is not installed

from data_scripts import asterisk  # noqa: E402
from data_scripts.fetch import Archive, ArchiveError  # noqa: E402
from minispeech.data.manifest import REQUIRED_KEYS, read_manifest  # noqa: E402

TRANSCRIPT = """\
; Core Asterisk Sounds in English

activated: Activated.
agent-pass: Please enter your password followed by the pound key.
auth-thankyou: Thank you.
beep: [this is a simple beep tone]
conf-thanks: Thank you.
dictate/both_help: press * to toggle pause, press # to enter a new dictation filename
digits/7: seven
hello: Hello.
letters/at: at [@]
pls-try-call-later: Please try your call again later.
"""
WAV_PROMPTS = (  # pls-try-call-later has no wav (as in the real 1.6.1 package); extra-prompt no text
    "activated",
    "agent-pass",
    "auth-thankyou",
    "beep",
    "conf-thanks",
    "dictate/both_help",
    "digits/7",
    "hello",
    "letters/at",
    "extra-prompt",
)
SOUNDS = "usr/share/asterisk/sounds/en_US_f_Allison"
DOC = "usr/share/doc/asterisk-core-sounds-en"
EXPECTED_SPLITS = {  # fixed by the hash of the prompt name; conf-thanks follows auth-thankyou
    "activated": "test",
    "hello": "test",
    "agent-pass": "train",
    "auth-thankyou": "train",
    "conf-thanks": "train",
    "dictate/both_help": "train",
    "digits/7": "train",
    "letters/at": "train",
}


def wav_bytes(seconds: float = 0.1) -> bytes:
    t = np.arange(int(asterisk.SAMPLE_RATE * seconds)) / asterisk.SAMPLE_RATE
    buffer = io.BytesIO()
    soundfile.write(buffer, 0.3 * np.sin(2 * np.pi * 440 * t), asterisk.SAMPLE_RATE, format="WAV")
    return buffer.getvalue()


def fabricate_folder(folder: Path) -> Path:
    """The official tarball's layout: wavs, subfolders and core-sounds-en.txt at the top."""
    for prompt in WAV_PROMPTS:
        path = folder / f"{prompt}.wav"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(wav_bytes())
    (folder / "core-sounds-en.txt").write_text(TRANSCRIPT, encoding="utf-8")
    (folder / "CREDITS-asterisk-core-en-1.6.1").write_text("Recorded by: Allison Smith\n")
    return folder


def add_file(archive: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    archive.addfile(info, io.BytesIO(data))


def tar_xz(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:xz") as archive:
        for name, data in files.items():
            add_file(archive, name, data)
    return buffer.getvalue()


def write_ar(path: Path, members: list[tuple[str, bytes]]) -> Path:
    """An `ar` archive as dpkg writes it: magic, then 60-byte headers and even-padded data."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as file:
        file.write(b"!<arch>\n")
        for name, data in members:
            header = f"{name:<16}{0:<12}{0:<6}{0:<6}{100644:<8}{len(data):<10}`\n"
            file.write(header.encode("ascii"))
            file.write(data + (b"\n" if len(data) % 2 else b""))
    return path


def write_deb(path: Path, data_files: dict[str, bytes], data_name: str = "data.tar.xz") -> Path:
    control = tar_xz({"./control": b"Package: fabricated\n"})
    return write_ar(
        path,
        [("debian-binary", b"2.0\n"), ("control.tar.xz", control), (data_name, tar_xz(data_files))],
    )


def fabricate_debs(downloads: Path) -> list[Path]:
    """Debian's pair: -wav holds the audio, the plain package the gzipped transcript."""
    audio = {f"./{SOUNDS}/{prompt}.wav": wav_bytes() for prompt in WAV_PROMPTS}
    transcript = {f"./{DOC}/core-sounds-en.txt.gz": gzip.compress(TRANSCRIPT.encode("utf-8"))}
    return [
        write_deb(downloads / "asterisk-core-sounds-en-wav_1.6.1-1_all.deb", audio),
        write_deb(downloads / "asterisk-core-sounds-en_1.6.1-1_all.deb", transcript),
    ]


def prepared_rows(manifest_dir: Path) -> dict[str, dict]:
    """{id: row with its split} of train.jsonl + test.jsonl."""
    rows = {}
    for split in asterisk.SPLITS:
        for row in read_manifest(manifest_dir / f"{split}.jsonl"):
            assert set(REQUIRED_KEYS) | {"id", "normalized_text"} <= set(row)
            assert Path(row["audio"]).is_file()
            rows[row["id"]] = {**row, "split": split}
    return rows


def test_deb_pair_in_downloads_end_to_end(tmp_path, capsys):
    root = tmp_path / "root"
    fabricate_debs(root / "downloads")
    assert asterisk.main(["--root", str(root)]) == 0
    rows = prepared_rows(root / "manifests" / "asterisk")
    assert {prompt: row["split"] for prompt, row in rows.items()} == EXPECTED_SPLITS
    assert {row["speaker"] for row in rows.values()} == {"allison"}
    assert {row["sample_rate"] for row in rows.values()} == {8000}  # resampled on load, not here
    assert rows["dictate/both_help"]["text"].startswith("press * to toggle pause, press #")
    assert rows["dictate/both_help"]["normalized_text"] == (
        "press star to toggle pause, press pound to enter a new dictation filename"
    )
    assert rows["letters/at"]["normalized_text"] == "at"  # the bracketed note is not spoken
    assert rows["agent-pass"]["normalized_text"].endswith("the pound key")  # final . removed
    summary = capsys.readouterr().out
    assert "skipped 1 prompt(s) that are not speech: beep" in summary
    assert "skipped 1 wav(s) without a transcript line: extra-prompt" in summary
    assert (
        "pls-try-call-later.wav: listed in the transcript but the audio file is missing" in summary
    )
    attribution = (root / "manifests" / "asterisk" / "ATTRIBUTION.txt").read_text()
    assert "Allison Smith" in attribution and "CC BY-SA 3.0" in attribution
    assert "asterisk-core-sounds-en-wav 1.6.1" in attribution
    assert not list((root / "asterisk").glob("*.data.tar*"))  # the unpacked member is removed
    # A second run reuses the extraction; with the packages deleted it finds the extracted tree.
    for deb in (root / "downloads").glob("*.deb"):
        deb.unlink()
    assert asterisk.main(["--root", str(root), "--skip-download"]) == 0
    assert prepared_rows(root / "manifests" / "asterisk").keys() == rows.keys()


def test_folder_tarball_and_debs_give_the_same_manifests(tmp_path):
    folder = fabricate_folder(tmp_path / "unpacked")
    tarball = tmp_path / "asterisk-core-sounds-en-wav-1.6.1.tar.gz"
    with tarfile.open(tarball, "w:gz") as archive:
        for path in sorted(folder.rglob("*")):
            archive.add(path, arcname=path.relative_to(folder).as_posix(), recursive=False)
    debs = fabricate_debs(tmp_path / "debs")
    results = []
    for name, sources in (("folder", [folder]), ("tarball", [tarball]), ("debs", debs)):
        root = tmp_path / name
        asterisk.main(["--root", str(root), "--source", *map(str, sources)])
        rows = prepared_rows(root / "manifests" / "asterisk")
        results.append(
            {
                prompt: (row["text"], row["normalized_text"], row["split"], row["duration"])
                for prompt, row in rows.items()
            }
        )
    assert results[0] == results[1] == results[2]
    assert {prompt: fields[2] for prompt, fields in results[0].items()} == EXPECTED_SPLITS


def test_split_is_fixed_by_the_prompt_name_and_keeps_a_text_in_one_split():
    # The hash is part of the data set's definition: these values must never change.
    assert [asterisk.split_of(name) for name in ("activated", "hello", "digits/9")] == ["test"] * 3
    assert [asterisk.split_of(name) for name in ("digits/7", "beep", "goodbye")] == ["train"] * 3
    texts = {"auth-thankyou": "thank you", "conf-thanks": "thank you", "activated": "activated"}
    splits = asterisk.assign_splits(texts)
    assert splits == {"auth-thankyou": "train", "conf-thanks": "train", "activated": "test"}
    # A prompt's split does not depend on which other prompts exist.
    assert asterisk.assign_splits({"activated": "activated"}) == {"activated": "test"}
    names = [f"prompt-{index}" for index in range(2000)]
    test_share = sum(asterisk.split_of(name) == "test" for name in names) / len(names)
    assert 0.17 < test_share < 0.23


@pytest.mark.parametrize(
    "published, spoken",
    [
        ("Activated.", "activated"),
        ("at [@]", "at"),
        ('IAX (note: does not say "2")', "iax"),
        ("press * to return, or #", "press star to return, or pound"),
        ("[sound of monkeys screaming]", None),
        ("(1 second of silence)", None),
        ("<beep ascending>", None),
        ("...", None),
    ],
)
def test_spoken_text_removes_notes_and_skips_what_is_not_speech(published, spoken):
    assert asterisk.spoken_text(published) == spoken


def test_malformed_transcript_line_is_named(tmp_path):
    path = tmp_path / "core-sounds-en.txt"
    path.write_text("activated: Activated.\nthis line has no prompt\n")
    with pytest.raises(ValueError, match=r"core-sounds-en.txt:2: expected `prompt: text`"):
        asterisk.read_transcript(path)


@pytest.mark.parametrize(
    "member",
    ["../evil.wav", "./usr/../../evil.wav", "/tmp/evil.wav"],
)
def test_path_traversal_member_in_a_deb_is_refused(tmp_path, member):
    files = {f"./{SOUNDS}/activated.wav": wav_bytes(), member: b"payload"}
    deb = write_deb(tmp_path / "downloads" / "asterisk-core-sounds-en-wav_9_all.deb", files)
    root = tmp_path / "root"
    with pytest.raises(ArchiveError, match="refusing"):
        asterisk.unpack_sources([deb], root)
    assert not (tmp_path / "evil.wav").exists() and not (root / "evil.wav").exists()
    assert not list((root / "asterisk").rglob("activated.wav"))  # nothing half-extracted


def test_damaged_or_unsupported_packages_are_clear_errors(tmp_path):
    not_a_deb = tmp_path / "asterisk-core-sounds-en-wav_1_all.deb"
    not_a_deb.write_bytes(b"<html>404</html>")
    with pytest.raises(ArchiveError, match="not a Debian package.*apt-get download"):
        asterisk.read_deb_data(not_a_deb, tmp_path / "out")
    cut = write_deb(tmp_path / "cut.deb", {"./a.wav": wav_bytes()})
    cut.write_bytes(cut.read_bytes()[:-40])
    with pytest.raises(ArchiveError, match="cut short"):
        asterisk.read_deb_data(cut, tmp_path / "out")
    zstd = write_deb(tmp_path / "zstd.deb", {"./a.wav": b"x"}, data_name="data.tar.zst")
    with pytest.raises(ArchiveError, match="dpkg-deb -x"):
        asterisk.read_deb_data(zstd, tmp_path / "out")


def test_missing_input_says_the_apt_get_command(tmp_path):
    root = tmp_path / "root"
    with pytest.raises(FileNotFoundError) as error:
        asterisk.main(["--root", str(root), "--skip-download"])
    message = str(error.value)
    assert str(root / "downloads") in message
    assert "apt-get download asterisk-core-sounds-en-wav asterisk-core-sounds-en" in message
    with pytest.raises(FileNotFoundError, match="nowhere.deb: not found.*apt-get download"):
        asterisk.main(["--root", str(root), "--source", str(tmp_path / "nowhere.deb")])
    # Only the -wav package: the transcript is in the other one, and the error says so.
    wav_only = fabricate_debs(tmp_path / "debs")[0]
    with pytest.raises(FileNotFoundError, match="transcript is in asterisk-core-sounds-en"):
        asterisk.main(["--root", str(root), "--source", str(wav_only)])


def test_without_local_sources_the_official_tarball_is_downloaded(tmp_path, monkeypatch):
    folder = fabricate_folder(tmp_path / "unpacked")
    served = tmp_path / "served" / "asterisk-core-sounds-en-wav-1.6.1.tar.gz"
    served.parent.mkdir()
    with tarfile.open(served, "w:gz") as archive:
        for path in sorted(folder.rglob("*")):
            archive.add(path, arcname=path.relative_to(folder).as_posix(), recursive=False)
    monkeypatch.setattr(
        asterisk, "TARBALL", Archive(url=served.as_uri(), filename=served.name)
    )  # the real URL swapped for a local file:// copy
    root = tmp_path / "root"
    assert asterisk.main(["--root", str(root)]) == 0
    assert (root / "downloads" / served.name).is_file()
    assert prepared_rows(root / "manifests" / "asterisk").keys() == EXPECTED_SPLITS.keys()
