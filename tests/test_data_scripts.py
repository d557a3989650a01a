"""Tests for data_scripts/: corpus layouts fabricated in tmp_path, archive safety, resumable
downloads from a local HTTP server on 127.0.0.1. Nothing here touches the network."""

from __future__ import annotations

import hashlib
import http.server
import io
import shutil
import sys
import tarfile
import threading
import zipfile
from pathlib import Path

import numpy as np
import pytest
import soundfile

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # `data_scripts` is not installed

from data_scripts import cli, librispeech, libritts, ljspeech  # noqa: E402
from data_scripts.fetch import (  # noqa: E402
    Archive,
    ArchiveError,
    ChecksumError,
    DownloadError,
    download,
    extraction_marker,
    fetch_archive,
    safe_extract,
)
from minispeech.data import prepared_manifest  # noqa: E402
from minispeech.data.manifest import REQUIRED_KEYS, read_manifest  # noqa: E402

CLIP_SECONDS = 0.1


def write_clip(path: Path, sr: int, frequency: float = 220.0) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    t = np.arange(int(sr * CLIP_SECONDS)) / sr
    soundfile.write(path, 0.3 * np.sin(2 * np.pi * frequency * t), sr)


def make_tar(source_dir: Path, archive_path: Path, top_level: str, mode: str = "w:gz") -> Path:
    archive_path.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(archive_path, mode) as archive:
        archive.add(source_dir / top_level, arcname=top_level)
    return archive_path


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def check_rows(rows: list[dict], sample_rate: int) -> None:
    for row in rows:
        assert set(REQUIRED_KEYS) | {"id", "normalized_text"} <= set(row)
        assert Path(row["audio"]).is_file()  # read_manifest made it absolute
        assert row["sample_rate"] == sample_rate
        assert row["duration"] == pytest.approx(CLIP_SECONDS, abs=1 / sample_rate)


# ---------------------------------------------------------------------------------------------
# LJSpeech


LJ_LINES = [
    ("LJ001-0001", "Printing, in the only sense", "Printing, in the only sense"),
    ("LJ001-0002", "in being comparatively modern.", "in being comparatively modern."),
    (
        "LJ002-0003",
        "Dr. Smith paid $5 in 1850.",
        "Doctor Smith paid five dollars in eighteen fifty.",
    ),
    ("LJ002-0004", 'He said "yes" to it.', 'He said "yes" to it.'),
    ("LJ003-0005", "the fifth clip", "the fifth clip"),
    ("LJ003-0006", "the sixth clip", "the sixth clip"),
    ("LJ004-0007", "an unreadable clip", "an unreadable clip"),
    ("LJ004-0008", "a clip whose wav is missing", "a clip whose wav is missing"),
]


def fabricate_ljspeech(source: Path) -> Path:
    corpus = source / "LJSpeech-1.1"
    (corpus / "wavs").mkdir(parents=True)
    lines = "".join(f"{clip_id}|{text}|{normalized}\n" for clip_id, text, normalized in LJ_LINES)
    (corpus / "metadata.csv").write_text(lines, encoding="utf-8")
    for clip_id, _, _ in LJ_LINES[:6]:
        write_clip(corpus / "wavs" / f"{clip_id}.wav", ljspeech.SAMPLE_RATE)
    (corpus / "wavs" / "LJ004-0007.wav").write_text("not a wav")  # LJ004-0008.wav is missing
    return corpus


def test_ljspeech_end_to_end_from_a_fabricated_archive(tmp_path, monkeypatch):
    fabricate_ljspeech(tmp_path / "source")
    archive_path = make_tar(
        tmp_path / "source",
        tmp_path / "served" / "LJSpeech-1.1.tar.bz2",
        "LJSpeech-1.1",
        mode="w:bz2",
    )
    # The real URL and checksum, swapped for a local file:// copy of the fabricated archive.
    monkeypatch.setattr(
        ljspeech,
        "ARCHIVE",
        Archive(
            url=archive_path.as_uri(),
            filename="LJSpeech-1.1.tar.bz2",
            sha256=sha256_of(archive_path),
        ),
    )
    root = tmp_path / "root"
    assert ljspeech.main(["--root", str(root), "--valid-size", "1", "--test-size", "2"]) == 0
    manifest_dir = root / "manifests" / "ljspeech"
    splits = {name: read_manifest(manifest_dir / f"{name}.jsonl") for name in ljspeech.SPLITS}
    all_rows = [row for rows in splits.values() for row in rows]
    check_rows(all_rows, ljspeech.SAMPLE_RATE)
    assert sorted(row["id"] for row in all_rows) == [line[0] for line in LJ_LINES[:6]]
    assert {row["speaker"] for row in all_rows} == {"LJ"}
    by_id = {row["id"]: row for row in all_rows}
    assert by_id["LJ002-0003"]["text"] == "Dr. Smith paid $5 in 1850."
    assert (
        by_id["LJ002-0003"]["normalized_text"]
        == "Doctor Smith paid five dollars in eighteen fifty."
    )
    assert by_id["LJ002-0004"]["text"] == 'He said "yes" to it.'  # quotes survive
    # Manifests store paths relative to their folder, so the tree can be moved.
    raw_line = (manifest_dir / "train.jsonl").read_text().splitlines()[0]
    assert '"audio": "../../LJSpeech-1.1/wavs/' in raw_line
    # A second run reuses the download and the extraction (the served archive may be gone).
    archive_path.unlink()
    assert ljspeech.main(["--root", str(root), "--valid-size", "1", "--test-size", "2"]) == 0


def test_ljspeech_split_is_deterministic_and_reports_skipped_files(tmp_path):
    corpus = fabricate_ljspeech(tmp_path)
    first = ljspeech.prepare(corpus, tmp_path / "a", valid_size=1, test_size=2, seed=7)
    second = ljspeech.prepare(corpus, tmp_path / "b", valid_size=1, test_size=2, seed=7)
    for split in ljspeech.SPLITS:
        ids_a = [row["id"] for row in read_manifest(first.manifests[split])]
        ids_b = [row["id"] for row in read_manifest(second.manifests[split])]
        assert ids_a == ids_b
    assert sorted(path.name for path, _ in first.skipped.entries) == [
        "LJ004-0007.wav",
        "LJ004-0008.wav",
    ]
    assert "skipped 2" in first.skipped.report("ljspeech")
    split = ljspeech.split_ids([f"id{i}" for i in range(20)], valid_size=3, test_size=5, seed=0)
    assert [len(split[name]) for name in ("train", "valid", "test")] == [12, 3, 5]
    assert sorted(sum(split.values(), [])) == sorted(f"id{i}" for i in range(20))
    with pytest.raises(ValueError, match="--valid-size"):
        ljspeech.split_ids(["a", "b"], valid_size=1, test_size=1, seed=0)


def test_ljspeech_missing_or_malformed_metadata_is_a_clear_error(tmp_path):
    (tmp_path / "LJSpeech-1.1").mkdir()
    with pytest.raises(FileNotFoundError, match=r"metadata\.csv.*not found"):
        ljspeech.prepare(tmp_path / "LJSpeech-1.1", tmp_path / "out")
    (tmp_path / "LJSpeech-1.1" / "metadata.csv").write_text("LJ001-0001|only two fields\n")
    with pytest.raises(ValueError, match=r"metadata\.csv:1: expected"):
        ljspeech.prepare(tmp_path / "LJSpeech-1.1", tmp_path / "out")


def test_ljspeech_skip_download_without_data_says_what_is_missing(tmp_path):
    with pytest.raises(FileNotFoundError, match="metadata.csv"):
        ljspeech.main(["--root", str(tmp_path), "--skip-download"])


# ---------------------------------------------------------------------------------------------
# LibriSpeech


LIBRISPEECH_CHAPTERS = {  # subset -> {(speaker, chapter): number of utterances}
    "dev-clean": {("84", "121123"): 2, ("174", "50561"): 1},
    "test-clean": {("1089", "134686"): 2},
}


def fabricate_librispeech(source: Path) -> None:
    for subset, chapters in LIBRISPEECH_CHAPTERS.items():
        for (speaker, chapter), count in chapters.items():
            chapter_dir = source / "LibriSpeech" / subset / speaker / chapter
            lines = []
            for index in range(count):
                utterance_id = f"{speaker}-{chapter}-{index:04d}"
                write_clip(chapter_dir / f"{utterance_id}.flac", librispeech.SAMPLE_RATE)
                lines.append(f"{utterance_id} HE SAID IT'S NUMBER {index} OF {subset.upper()}\n")
            (chapter_dir / f"{speaker}-{chapter}.trans.txt").write_text("".join(lines))
        (source / "LibriSpeech" / "README.TXT").write_text(f"LibriSpeech {subset}\n")


def test_librispeech_two_subset_archives_merge_and_prepare(tmp_path):
    fabricate_librispeech(tmp_path / "source")
    root = tmp_path / "root"
    # Each real subset archive holds LibriSpeech/<subset>/ plus shared top-level files.
    for subset in LIBRISPEECH_CHAPTERS:
        staging = tmp_path / f"only-{subset}" / "LibriSpeech"
        shutil.copytree(tmp_path / "source" / "LibriSpeech" / subset, staging / subset)
        (staging / "README.TXT").write_text("LibriSpeech\n")
        archive_path = root / "downloads" / f"{subset}.tar.gz"
        make_tar(staging.parent, archive_path, "LibriSpeech")
    subsets = list(LIBRISPEECH_CHAPTERS)
    assert librispeech.main(["--root", str(root), "--skip-download", "--subsets", *subsets]) == 0
    for subset, chapters in LIBRISPEECH_CHAPTERS.items():
        assert extraction_marker(root / "downloads" / f"{subset}.tar.gz", root).exists()
        rows = read_manifest(root / "manifests" / "librispeech" / f"{subset}.jsonl")
        check_rows(rows, librispeech.SAMPLE_RATE)
        assert len(rows) == sum(chapters.values())
        assert {row["speaker"] for row in rows} == {speaker for speaker, _ in chapters}
        for row in rows:
            index = int(row["id"].rsplit("-", 1)[1])
            assert row["text"] == f"HE SAID IT'S NUMBER {index} OF {subset.upper()}"
            assert row["normalized_text"] == row["text"].lower()
            assert Path(row["audio"]).name == f"{row['id']}.flac"


def test_prepared_manifest_finds_a_corpus_prepared_under_the_data_root(tmp_path, monkeypatch):
    monkeypatch.setenv("MINISPEECH_DATA", str(tmp_path))
    assert prepared_manifest("librispeech", "dev-clean") is None
    fabricate_librispeech(tmp_path / "source")
    (tmp_path / "LibriSpeech").symlink_to(tmp_path / "source" / "LibriSpeech")
    assert librispeech.main(["--root", str(tmp_path), "--skip-download", "--subsets", "dev-clean"]) == 0
    path = prepared_manifest("librispeech", "dev-clean")
    assert path == tmp_path / "manifests" / "librispeech" / "dev-clean.jsonl"
    assert len(read_manifest(path)) == sum(LIBRISPEECH_CHAPTERS["dev-clean"].values())
    assert prepared_manifest("librispeech", "train-clean-100") is None


def test_librispeech_missing_transcript_is_an_error_and_bad_audio_is_skipped(tmp_path):
    fabricate_librispeech(tmp_path)
    corpus = tmp_path / "LibriSpeech"
    (corpus / "dev-clean" / "84" / "121123" / "84-121123-0001.flac").write_bytes(b"\x00" * 100)
    prepared = librispeech.prepare(corpus, tmp_path / "out", subsets=["dev-clean"])
    assert len(prepared.skipped) == 1 and len(read_manifest(prepared.manifests["dev-clean"])) == 2
    (corpus / "dev-clean" / "174" / "50561" / "174-50561.trans.txt").unlink()
    with pytest.raises(FileNotFoundError, match=r"174-50561\.trans\.txt.*not found"):
        librispeech.prepare(corpus, tmp_path / "out", subsets=["dev-clean"])
    with pytest.raises(FileNotFoundError, match="train-clean-100"):
        librispeech.prepare(corpus, tmp_path / "out", subsets=["train-clean-100"])


# ---------------------------------------------------------------------------------------------
# LibriTTS


def fabricate_libritts(source: Path) -> list[str]:
    stems = []
    for speaker, chapter, count in [("19", "198", 2), ("26", "495", 1)]:
        for index in range(count):
            stem = f"{speaker}_{chapter}_{index:06d}_000000"
            folder = source / "LibriTTS" / "dev-clean" / speaker / chapter
            write_clip(folder / f"{stem}.wav", libritts.SAMPLE_RATE)
            (folder / f"{stem}.original.txt").write_text(f"Chapter {index + 1}, Mr. Smith.")
            (folder / f"{stem}.normalized.txt").write_text(
                f"Chapter {'one two'.split()[index]}, Mister Smith."
            )
            stems.append(stem)
    return stems


def test_libritts_prepare_from_a_fabricated_archive(tmp_path):
    stems = fabricate_libritts(tmp_path / "source")
    root = tmp_path / "root"
    make_tar(tmp_path / "source", root / "downloads" / "dev-clean.tar.gz", "LibriTTS")
    assert libritts.main(["--root", str(root), "--skip-download", "--subsets", "dev-clean"]) == 0
    rows = read_manifest(root / "manifests" / "libritts" / "dev-clean.jsonl")
    check_rows(rows, libritts.SAMPLE_RATE)
    assert [row["id"] for row in rows] == sorted(stems)
    by_id = {row["id"]: row for row in rows}
    assert by_id["19_198_000001_000000"]["text"] == "Chapter 2, Mr. Smith."
    assert by_id["19_198_000001_000000"]["normalized_text"] == "Chapter two, Mister Smith."
    assert by_id["26_495_000000_000000"]["speaker"] == "26"


def test_libritts_missing_text_file_is_an_error(tmp_path):
    fabricate_libritts(tmp_path)
    (
        tmp_path / "LibriTTS" / "dev-clean" / "26" / "495" / "26_495_000000_000000.normalized.txt"
    ).unlink()
    with pytest.raises(FileNotFoundError, match=r"26_495_000000_000000\.normalized\.txt"):
        libritts.prepare(tmp_path / "LibriTTS", tmp_path / "out", subsets=["dev-clean"])


# ---------------------------------------------------------------------------------------------
# the shared command line (data_scripts/cli.py)


def command_line_error(main, argv: list[str], capsys) -> str:
    """Run `main(argv)`, expect argparse's exit status 2, return what it printed on stderr."""
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    return capsys.readouterr().err


def test_every_corpus_script_shares_one_command_line(tmp_path):
    for module, corpus in ((ljspeech, "ljspeech"), (librispeech, "librispeech"), (libritts, "libritts")):
        subsets = getattr(module, "ARCHIVES", None)
        parser = cli.corpus_parser(corpus, module.__doc__, module.CORPUS_FOLDER, subsets,
                                   getattr(module, "DEFAULT_SUBSETS", ()))
        args = cli.parse(parser, ["--root", str(tmp_path)])
        assert parser.prog == f"python data_scripts/{corpus}.py"
        assert args.root == tmp_path and not args.skip_download
        assert args.manifest_dir == tmp_path / "manifests" / corpus  # the default, filled in
        if subsets:
            assert args.subsets == list(module.DEFAULT_SUBSETS)
    parser = cli.corpus_parser("librispeech", "LibriSpeech.", "LibriSpeech", librispeech.ARCHIVES,
                               librispeech.DEFAULT_SUBSETS)
    argv = ["--root", str(tmp_path), "--subsets", "dev-clean", "dev-clean", "--manifest-dir", "out"]
    args = cli.parse(parser, argv)
    assert args.subsets == ["dev-clean"] and args.manifest_dir == Path("out")


def test_command_line_errors_say_the_fix(tmp_path, capsys):
    error = command_line_error(ljspeech.main, [], capsys)
    assert "the following arguments are required: --root" in error
    assert "for example: python data_scripts/ljspeech.py --root data/ljspeech" in error
    assert "every option: python data_scripts/ljspeech.py --help" in error
    argv = ["--root", str(tmp_path), "--subsets", "dev-clear"]
    error = command_line_error(librispeech.main, argv, capsys)
    assert "invalid choice: 'dev-clear' (choose from 'dev-clean'" in error
    example = "python data_scripts/librispeech.py --root data/librispeech --subsets dev-clean"
    assert f"for example: {example}" in error
    error = command_line_error(ljspeech.main, ["--root", str(tmp_path), "--valid-size", "-3"], capsys)
    assert "argument --valid-size: must be >= 0, got -3" in error
    error = command_line_error(ljspeech.main, ["--root", str(tmp_path), "--seed", "x"], capsys)
    assert "argument --seed: expected a whole number >= 0, got 'x'" in error
    a_file = tmp_path / "notes.txt"
    a_file.write_text("not a folder")
    error = command_line_error(libritts.main, ["--root", str(a_file)], capsys)
    assert f"--root {a_file} is a file: pass a folder" in error
    assert not (tmp_path / "downloads").exists()  # nothing was fetched


# ---------------------------------------------------------------------------------------------
# safe_extract


def add_bytes(archive: tarfile.TarFile, name: str, data: bytes = b"payload") -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    archive.addfile(info, io.BytesIO(data))


def add_link(
    archive: tarfile.TarFile, name: str, target: str, kind: bytes = tarfile.SYMTYPE
) -> None:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = target
    archive.addfile(info)


def add_device(archive: tarfile.TarFile, name: str) -> None:
    info = tarfile.TarInfo(name)
    info.type = tarfile.CHRTYPE
    info.devmajor, info.devminor = 1, 3
    archive.addfile(info)


MALICIOUS_TARS = {  # case -> (members, words the error must contain)
    "parent_traversal": ([(add_bytes, "corpus/../../evil.txt")], "'..'"),
    "absolute_path": ([(add_bytes, "/tmp/minispeech_evil_absolute.txt")], "absolute"),
    "symlink_to_etc": ([(add_link, "corpus/passwd", "/etc/passwd")], "symlink"),
    "symlink_relative_escape": ([(add_link, "corpus/up", "../../..")], "symlink"),
    "write_through_symlink": (
        [(add_link, "corpus/etc", "."), (add_bytes, "corpus/etc/passwd")],
        "through a symlink",
    ),
    "symlink_chain_escape": (
        [
            (add_link, "corpus/a", "."),
            (add_bytes, "corpus/d/file"),
            (add_link, "corpus/d/l", "../a/../.."),
        ],
        "resolves outside",
    ),
    "hardlink_outside": (
        [(add_link, "corpus/shadow", "/etc/shadow", tarfile.LNKTYPE)],
        "hard link",
    ),
    "device_file": ([(add_device, "corpus/null")], "device"),
}


@pytest.mark.parametrize("case", sorted(MALICIOUS_TARS))
def test_malicious_tar_is_refused_and_writes_nothing(tmp_path, case):
    members, problem = MALICIOUS_TARS[case]
    archive_path = tmp_path / "downloads" / f"{case}.tar"
    archive_path.parent.mkdir()
    with tarfile.open(archive_path, "w") as archive:
        add_bytes(archive, "corpus/ok.txt")  # a harmless member first: it must not stay either
        for add, *arguments in members:
            add(archive, *arguments)
    target = tmp_path / "nest" / "target"
    with pytest.raises(ArchiveError, match=problem) as error:
        safe_extract(archive_path, target)
    assert archive_path.name in str(error.value)
    assert list(target.iterdir()) == []  # no staging folder, no half tree, no marker
    assert sorted(p.name for p in tmp_path.iterdir()) == ["downloads", "nest"]
    assert sorted(p.name for p in (tmp_path / "nest").iterdir()) == ["target"]
    assert not Path("/tmp/minispeech_evil_absolute.txt").exists()


@pytest.mark.parametrize(
    "name", ["../evil.txt", "/tmp/minispeech_evil_zip.txt", "a/../../evil.txt"]
)
def test_zip_slip_is_refused(tmp_path, name):
    archive_path = tmp_path / "slip.zip"
    with zipfile.ZipFile(archive_path, "w") as archive:
        archive.writestr("corpus/ok.txt", "fine")
        archive.writestr(zipfile.ZipInfo(name), "evil")  # ZipInfo keeps the name as given
    target = tmp_path / "target"
    with pytest.raises(ArchiveError, match="slip.zip"):
        safe_extract(archive_path, target)
    assert list(target.iterdir()) == []
    assert sorted(p.name for p in tmp_path.iterdir()) == ["slip.zip", "target"]
    assert not Path("/tmp/minispeech_evil_zip.txt").exists()


def test_zip_extracts_with_inside_symlink(tmp_path):
    archive_path = tmp_path / "ok.zip"
    with zipfile.ZipFile(archive_path, "w") as archive:
        archive.writestr("corpus/data/a.txt", "alpha")
        link = zipfile.ZipInfo("corpus/latest")
        link.external_attr = 0o120777 << 16  # a symlink, as `zip --symlinks` stores it
        archive.writestr(link, "data/a.txt")
    safe_extract(archive_path, tmp_path / "target")
    assert (tmp_path / "target" / "corpus" / "latest").read_text() == "alpha"
    assert (tmp_path / "target" / "corpus" / "latest").is_symlink()


def test_extraction_resumes_after_an_interruption_and_then_is_skipped(tmp_path):
    (tmp_path / "src" / "corpus").mkdir(parents=True)
    (tmp_path / "src" / "corpus" / "a.txt").write_text("alpha")
    archive_path = make_tar(tmp_path / "src", tmp_path / "c.tar.gz", "corpus")
    target = tmp_path / "target"
    stale = target / ".c.tar.gz.extracting" / "corpus"  # what a killed run leaves behind
    stale.mkdir(parents=True)
    (stale / "half_written.txt").write_text("junk")
    safe_extract(archive_path, target)
    assert sorted(p.name for p in target.iterdir()) == [".c.tar.gz.extracted", "corpus"]
    assert [p.name for p in (target / "corpus").iterdir()] == ["a.txt"]
    (target / "corpus" / "a.txt").write_text("edited")
    archive_path.unlink()
    safe_extract(archive_path, target)  # marker present: nothing re-extracted, archive not needed
    assert (target / "corpus" / "a.txt").read_text() == "edited"


@pytest.mark.parametrize("damage", ["truncated", "bytes_flipped"])
@pytest.mark.parametrize(
    "mode, suffix", [("w:gz", "tar.gz"), ("w:bz2", "tar.bz2"), ("w:xz", "tar.xz")]
)
def test_damaged_archive_is_a_clear_error_without_marker(tmp_path, mode, suffix, damage):
    (tmp_path / "src" / "corpus").mkdir(parents=True)
    noise = np.random.default_rng(0).bytes(200_000)  # incompressible, so the damage hits data
    (tmp_path / "src" / "corpus" / "big.bin").write_bytes(noise)
    archive_path = make_tar(tmp_path / "src", tmp_path / f"c.{suffix}", "corpus", mode=mode)
    data = bytearray(archive_path.read_bytes())
    middle = len(data) // 2
    if damage == "truncated":
        del data[middle:]
    else:  # gzip only notices this through the CRC in its trailer, which tarfile never reads
        data[middle : middle + 16] = bytes(byte ^ 0xFF for byte in data[middle : middle + 16])
    archive_path.write_bytes(bytes(data))
    target = tmp_path / "target"
    with pytest.raises(ArchiveError, match=r"c\.tar.*(corrupt or truncated|not a \.tar)"):
        safe_extract(archive_path, target)
    assert not extraction_marker(archive_path, target).exists()
    assert not target.exists() or list(target.iterdir()) == []


def test_missing_archive_is_a_file_not_found_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="nothing.tar.gz"):
        safe_extract(tmp_path / "nothing.tar.gz", tmp_path / "target")


# ---------------------------------------------------------------------------------------------
# download


PAYLOAD = np.random.default_rng(42).bytes(300_000)


class RangeHandler(http.server.BaseHTTPRequestHandler):
    """Serves PAYLOAD at /data.bin (honours Range), /norange.bin (ignores it), /cut.bin (sends
    half of what it promises, once), anything else 404. Records each request's Range header."""

    requests: list[tuple[str, str | None]] = []
    cut_once = {"done": False}

    def do_GET(self):  # noqa: N802 (http.server's name)
        range_header = self.headers.get("Range")
        self.requests.append((self.path, range_header))
        if self.path not in ("/data.bin", "/norange.bin", "/cut.bin"):
            self.send_error(404)
            return
        start = 0
        if range_header and self.path != "/norange.bin":
            start = int(range_header.removeprefix("bytes=").rstrip("-"))
        if start >= len(PAYLOAD):
            self.send_response(416)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        body = PAYLOAD[start:]
        self.send_response(206 if start else 200)
        if start:
            self.send_header("Content-Range", f"bytes {start}-{len(PAYLOAD) - 1}/{len(PAYLOAD)}")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.path == "/cut.bin" and not self.cut_once["done"]:
            self.cut_once["done"] = True
            body = body[: len(body) // 2]  # the connection drops mid-transfer
        self.wfile.write(body)

    def log_message(self, *args):  # keep test output quiet
        pass


@pytest.fixture()
def server():
    RangeHandler.requests = []
    RangeHandler.cut_once = {"done": False}
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), RangeHandler)
    thread = threading.Thread(
        target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


PAYLOAD_SHA256 = hashlib.sha256(PAYLOAD).hexdigest()
PAYLOAD_MD5 = hashlib.md5(PAYLOAD).hexdigest()


def test_download_verifies_and_leaves_no_part_file(tmp_path, server):
    destination = tmp_path / "dl" / "data.bin"
    download(
        f"{server}/data.bin", destination, sha256=PAYLOAD_SHA256, md5=PAYLOAD_MD5, progress=False
    )
    assert destination.read_bytes() == PAYLOAD
    assert sorted(p.name for p in destination.parent.iterdir()) == ["data.bin"]
    RangeHandler.requests.clear()
    download(f"{server}/data.bin", destination, sha256=PAYLOAD_SHA256, progress=False)
    assert RangeHandler.requests == []  # present and verified: nothing fetched


def test_download_resumes_a_partial_file_with_a_range_request(tmp_path, server):
    destination = tmp_path / "data.bin"
    (tmp_path / "data.bin.part").write_bytes(PAYLOAD[:123_456])
    download(f"{server}/data.bin", destination, sha256=PAYLOAD_SHA256, progress=False)
    assert RangeHandler.requests == [("/data.bin", "bytes=123456-")]
    assert destination.read_bytes() == PAYLOAD


def test_download_restarts_when_the_server_ignores_range(tmp_path, server):
    (tmp_path / "norange.bin.part").write_bytes(b"stale bytes that must not be kept")
    download(
        f"{server}/norange.bin", tmp_path / "norange.bin", sha256=PAYLOAD_SHA256, progress=False
    )
    assert (tmp_path / "norange.bin").read_bytes() == PAYLOAD


def test_download_of_a_complete_part_file_gets_416_and_finishes(tmp_path, server):
    (tmp_path / "data.bin.part").write_bytes(PAYLOAD)
    download(f"{server}/data.bin", tmp_path / "data.bin", sha256=PAYLOAD_SHA256, progress=False)
    assert (tmp_path / "data.bin").read_bytes() == PAYLOAD


def test_interrupted_download_keeps_the_part_and_the_next_run_resumes(tmp_path, server):
    destination = tmp_path / "cut.bin"
    with pytest.raises(DownloadError, match="Re-run"):
        download(f"{server}/cut.bin", destination, sha256=PAYLOAD_SHA256, progress=False)
    partial = tmp_path / "cut.bin.part"
    assert not destination.exists() and 0 < partial.stat().st_size < len(PAYLOAD)
    kept = partial.stat().st_size
    download(f"{server}/cut.bin", destination, sha256=PAYLOAD_SHA256, progress=False)
    assert RangeHandler.requests[-1] == ("/cut.bin", f"bytes={kept}-")
    assert destination.read_bytes() == PAYLOAD


def test_checksum_mismatch_raises_and_keeps_nothing(tmp_path, server):
    destination = tmp_path / "data.bin"
    with pytest.raises(ChecksumError, match=r"data\.bin.*sha256.*published as 0{64}"):
        download(f"{server}/data.bin", destination, sha256="0" * 64, progress=False)
    assert list(tmp_path.iterdir()) == []  # neither the final file nor a corrupt .part
    with pytest.raises(ChecksumError, match="md5"):
        download(f"{server}/data.bin", destination, md5="f" * 32, progress=False)
    assert list(tmp_path.iterdir()) == []
    destination.write_bytes(b"a file someone put here")
    with pytest.raises(ChecksumError, match="already present"):
        download(f"{server}/data.bin", destination, sha256=PAYLOAD_SHA256, progress=False)


def test_http_error_and_file_url(tmp_path, server):
    with pytest.raises(DownloadError, match="404"):
        download(f"{server}/missing.bin", tmp_path / "missing.bin", progress=False)
    source = tmp_path / "source.bin"
    source.write_bytes(PAYLOAD)
    download(source.as_uri(), tmp_path / "copy.bin", md5=PAYLOAD_MD5, progress=False)
    assert (tmp_path / "copy.bin").read_bytes() == PAYLOAD


def test_fetch_archive_downloads_then_extracts(tmp_path):
    (tmp_path / "src" / "corpus").mkdir(parents=True)
    (tmp_path / "src" / "corpus" / "a.txt").write_text("alpha")
    archive_path = make_tar(tmp_path / "src", tmp_path / "served" / "c.tar.gz", "corpus")
    archive = Archive(
        url=archive_path.as_uri(), filename="c.tar.gz", sha256=sha256_of(archive_path)
    )
    root = tmp_path / "root"
    fetch_archive(archive, root, progress=False)
    assert (root / "corpus" / "a.txt").read_text() == "alpha"
    assert (root / "downloads" / "c.tar.gz").is_file()
    wrong = Archive(url=archive_path.as_uri(), filename="other.tar.gz", sha256="1" * 64)
    with pytest.raises(ChecksumError):
        fetch_archive(wrong, root, progress=False)
    assert not (root / "downloads" / "other.tar.gz").exists()


def test_official_archives_have_https_urls_and_well_formed_checksums():
    archives = [ljspeech.ARCHIVE, *librispeech.ARCHIVES.values(), *libritts.ARCHIVES.values()]
    assert len(archives) == 15
    for archive in archives:
        assert archive.url.startswith("https://") and archive.url.endswith(archive.filename)
        assert archive.sha256 is not None and len(archive.sha256) == 64
        int(archive.sha256, 16)  # hex
