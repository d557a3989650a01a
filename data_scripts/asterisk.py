"""Asterisk core prompts, US English: one professional voice (Allison Smith), ~570 telephony prompts.

TARBALL         the official sound tarball (downloads.asterisk.org; no published checksum known here)
read_deb_data   a Debian package (.deb, an `ar` archive) -> its data.tar.* written to a file
unpack_sources  .debs / tarballs / folders -> the folders to look in (archives safely extracted)
locate_prompts  those folders -> (folder the prompt names resolve in, core-sounds-en.txt(.gz))
read_transcript core-sounds-en.txt(.gz) -> {prompt name: text as published}
spoken_text     a published text -> what the voice says, or None (a tone, silence, a note)
split_of        the fixed train/test split: a hash of the prompt name, about 80/20
prepare         folders -> train/test JSONL manifests + ATTRIBUTION.txt beside them
main            command line (the shared one in cli.py)

Sources  (a) Debian's packages: asterisk-core-sounds-en-wav holds the audio and
             asterisk-core-sounds-en holds the transcript (usr/share/doc/asterisk-core-sounds-en/
             core-sounds-en.txt.gz); both are needed. Fetch them without installing:
                 mkdir -p data/downloads && cd data/downloads
                 apt-get download asterisk-core-sounds-en-wav asterisk-core-sounds-en
         (b) a folder already unpacked (a tarball's contents, `dpkg-deb -x` trees, an installed
             /usr/share/asterisk/sounds/en_US_f_Allison plus /usr/share/doc/asterisk-core-sounds-en)
         (c) the official tarball asterisk-core-sounds-en-wav-1.6.1.tar.gz: wavs, subfolders
             (digits/, letters/, ...) and core-sounds-en.txt at its top level
Layout   <prompt>.wav for each line `<prompt>: <text>` of core-sounds-en.txt (prompt names may hold
         a folder: digits/7, letters/at). 8,000 Hz 16-bit mono WAV, telephone band.
Rows     id = the prompt name, text = the transcript as published, normalized_text =
         minispeech.text.normalize of what is spoken (bracketed notes removed, * read "star" and
         # read "pound" as the voice says them), final . , ? ! removed as in the tiny corpus;
         speaker = "allison"; sample_rate = 8000: the audio is not copied or resampled here,
         minispeech.audio.load(sr=...) resamples it on load (nothing above 4 kHz is there).
Split    test if the first 8 hex digits of sha256(prompt name) mod 100 < 20, else train: fixed,
         independent of which other prompts exist; prompts with the same normalized text share
         the split of the alphabetically first of them, so no sentence is in both.
Skipped  prompts whose text is only a note (tones, silence: "[beep]", "(1 second of silence)"),
         wavs without a transcript line, and listed prompts whose audio is missing or unreadable:
         counted and named in the printed summary.

    python data_scripts/asterisk.py --root data
    python data_scripts/asterisk.py --root data --source ~/sounds/asterisk-core-sounds-en-wav-1.6.1.tar.gz

The prompts are CC BY-SA 3.0 (Allison Smith, with financial contributions by Digium, Inc.).
Lesson 04 measures the recognizers on data/manifests/asterisk/test.jsonl when it is prepared.
"""

from __future__ import annotations

import gzip
import hashlib
import re
import sys
import tarfile
import time
import zipfile
from pathlib import Path

if __package__ in (None, ""):  # run as a file: make `data_scripts` and `minispeech` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from data_scripts import cli  # noqa: E402
from data_scripts.fetch import (  # noqa: E402
    CHUNK_BYTES,
    Archive,
    ArchiveError,
    DownloadError,
    download,
    extraction_marker,
    safe_extract,
)
from data_scripts.manifest_rows import Prepared, SkippedFiles, audio_row, write_split  # noqa: E402

TARBALL = Archive(
    url="https://downloads.asterisk.org/pub/telephony/sounds/releases/"
    "asterisk-core-sounds-en-wav-1.6.1.tar.gz",
    filename="asterisk-core-sounds-en-wav-1.6.1.tar.gz",
)
CORPUS_FOLDER = "asterisk"  # ROOT/asterisk/<archive name>/ holds each extracted archive
DEB_PATTERNS = ("asterisk-core-sounds-en-wav_*.deb", "asterisk-core-sounds-en_*.deb")
TARBALL_PATTERN = "asterisk-core-sounds-en-wav-*.tar.gz"
TRANSCRIPT_NAMES = ("core-sounds-en.txt", "core-sounds-en.txt.gz")
APT_COMMAND = "apt-get download asterisk-core-sounds-en-wav asterisk-core-sounds-en"
SAMPLE_RATE = 8000
SPEAKER = "allison"
SPLITS = ("train", "test")
TEST_PERCENT = 20
SHOWN_PROMPTS = 5  # how many skipped prompts the summary names
ATTRIBUTION = """\
Asterisk core sound prompts, US English (asterisk-core-sounds-en-wav {version})
Recorded by Allison Smith (http://www.theivrvoice.com); financial contributions by Digium, Inc.
Licence: Creative Commons Attribution-ShareAlike 3.0 Unported (CC BY-SA 3.0),
https://creativecommons.org/licenses/by-sa/3.0/
Prepared from: {sources}
Published at https://downloads.asterisk.org/pub/telephony/sounds/ and in Debian's packages
asterisk-core-sounds-en-wav (audio) and asterisk-core-sounds-en (transcript, licence text).
Changes made by minispeech (data_scripts/asterisk.py): none to the audio (8,000 Hz WAV, used in
place); transcripts normalized with minispeech.text.normalize after removing bracketed notes and
reading * as "star" and # as "pound"; prompts that are only tones or silence left out; a fixed
train/test split by a hash of the prompt name. These manifests, as an adaptation of the prompts,
are under the same licence.
"""
_DEB_MAGIC = b"!<arch>\n"
_AR_HEADER_BYTES = 60
_NOTE = re.compile(r"\[[^\]]*\]|<[^>]*>|\([^)]*\)")  # [ascending tones] <beep> (note: ...)


# ---------------------------------------------------------------------------------------------
# getting the prompts onto disk


def read_deb_data(deb_path: str | Path, destination_folder: str | Path) -> Path:
    """Copy the data.tar.* member of a Debian package into `destination_folder`; return its path.

    A .deb is an `ar` archive: the 8-byte magic "!<arch>\\n", then per member a 60-byte header
    (name 16, mtime 12, uid 6, gid 6, mode 8, size 10, "`\\n") and `size` bytes padded to an even
    offset. Only the member named data.tar.{xz,gz,bz2} is read, and it is written under a name
    made here, so no name in the package chooses where anything lands; its tar members are then
    checked by fetch.safe_extract. Raises ArchiveError naming the file and the fix.
    """
    deb_path, destination_folder = Path(deb_path), Path(destination_folder)
    if not deb_path.is_file():
        raise FileNotFoundError(
            f"{deb_path}: package not found. Fetch it with `{APT_COMMAND}` (run in the folder "
            f"you pass)."
        )
    with open(deb_path, "rb") as file:
        if file.read(len(_DEB_MAGIC)) != _DEB_MAGIC:
            raise ArchiveError(
                f"{deb_path}: not a Debian package (no `ar` archive header). Delete it and fetch "
                f"it again with `{APT_COMMAND}`."
            )
        names = []
        while header := file.read(_AR_HEADER_BYTES):
            if len(header) < _AR_HEADER_BYTES or header[58:60] != b"`\n":
                raise ArchiveError(
                    f"{deb_path}: damaged member header after {names or 'the magic'}; the package "
                    f"is truncated or corrupt. Delete it and fetch it again with `{APT_COMMAND}`."
                )
            name = header[0:16].decode("ascii", "replace").strip().rstrip("/")
            size = int(header[48:58].decode("ascii", "replace").strip() or -1)
            if size < 0:
                raise ArchiveError(f"{deb_path}: member {name!r} has no valid size; corrupt.")
            names.append(name)
            if name.startswith("data.tar"):
                return _copy_member(file, deb_path, name, size, destination_folder)
            file.seek(size + size % 2, 1)  # skip the member and its padding byte
    raise ArchiveError(
        f"{deb_path}: no data.tar.* member (members: {names}). It is not a normal binary package; "
        f"fetch it again with `{APT_COMMAND}`."
    )


def _copy_member(file, deb_path: Path, name: str, size: int, destination_folder: Path) -> Path:
    suffix = name.removeprefix("data.tar")
    if suffix not in ("", ".xz", ".gz", ".bz2"):
        raise ArchiveError(
            f"{deb_path}: its files are in {name}, a compression Python's standard library cannot "
            f"read. Unpack it with `dpkg-deb -x {deb_path} FOLDER` and pass --source FOLDER, or "
            f"use Debian's package (xz) or the official tarball."
        )
    destination_folder.mkdir(parents=True, exist_ok=True)
    destination = destination_folder / f"{deb_path.name}.data.tar{suffix}"
    remaining = size
    with open(destination, "wb") as sink:
        while remaining > 0:
            chunk = file.read(min(CHUNK_BYTES, remaining))
            if not chunk:
                raise ArchiveError(
                    f"{deb_path}: member {name} is cut short ({size - remaining} of {size} "
                    f"bytes). Delete the package and fetch it again with `{APT_COMMAND}`."
                )
            sink.write(chunk)
            remaining -= len(chunk)
    return destination


def _archive_stem(archive_path: Path) -> str:
    name = archive_path.name
    for suffix in (".deb", ".tar.gz", ".tgz", ".tar.xz", ".tar.bz2", ".tar", ".zip"):
        if name.endswith(suffix):
            return name.removesuffix(suffix)
    return name


def unpack_sources(sources: list[Path], root: Path) -> list[Path]:
    """Each source as a folder to search: a folder as it is; a .deb or a tarball extracted (once,
    safely) into root/asterisk/<its name>/. Raises FileNotFoundError or ArchiveError naming it."""
    folders = []
    for source in sources:
        source = Path(source)
        if source.is_dir():
            folders.append(source)
            continue
        if not source.is_file():
            raise FileNotFoundError(
                f"{source}: not found. Pass the .deb files, the tarball or an unpacked folder; "
                f"fetch the packages with `{APT_COMMAND}`."
            )
        target = root / CORPUS_FOLDER / _archive_stem(source)
        if source.name.endswith(".deb"):
            member_name = f"{source.name}.data.tar"
            done = any(
                extraction_marker(member_name + suffix, target).exists()
                for suffix in ("", ".xz", ".gz", ".bz2")
            )
            if not done:
                data_tar = read_deb_data(source, root / CORPUS_FOLDER)
                safe_extract(data_tar, target)
                data_tar.unlink()  # the marker in `target` remembers it was extracted
        elif tarfile.is_tarfile(source) or zipfile.is_zipfile(source):
            safe_extract(source, target)
        else:
            raise ArchiveError(
                f"{source}: neither a .deb, a tarball nor a folder. Pass "
                f"asterisk-core-sounds-en-wav*.deb + asterisk-core-sounds-en*.deb, "
                f"{TARBALL.filename}, or the folder they were unpacked into."
            )
        folders.append(target)
    return folders


def default_sources(root: Path) -> list[Path]:
    """The packages and tarballs already in root/downloads/ (sorted)."""
    downloads = root / "downloads"
    patterns = (*DEB_PATTERNS, TARBALL_PATTERN)
    return sorted(path for pattern in patterns for path in downloads.glob(pattern))


def _missing_input_message(root: Path) -> str:
    downloads = root / "downloads"
    return (
        f"no Asterisk prompts in {downloads}/ (looked for {', '.join(DEB_PATTERNS)}, "
        f"{TARBALL_PATTERN}) nor an extracted {root / CORPUS_FOLDER}/. Fetch Debian's packages "
        f"(no install needed): `mkdir -p {downloads} && cd {downloads} && {APT_COMMAND}`, "
        f"or download {TARBALL.url} into {downloads}/, or pass --source FOLDER."
    )


# ---------------------------------------------------------------------------------------------
# transcript and split


def read_transcript(transcript_path: str | Path) -> dict[str, str]:
    """core-sounds-en.txt(.gz) -> {prompt name: text as published}, in file order.

    Lines are `<prompt>: <text>`; `;` starts a comment line. A prompt listed twice keeps its last
    text. Raises FileNotFoundError, or ValueError naming the line that has no `: `.
    """
    transcript_path = Path(transcript_path)
    if not transcript_path.is_file():
        raise FileNotFoundError(
            f"{transcript_path}: transcript not found. It is in the asterisk-core-sounds-en "
            f"package (`{APT_COMMAND}`) or at the top of the official tarball."
        )
    opener = gzip.open if transcript_path.name.endswith(".gz") else open
    texts = {}
    with opener(transcript_path, "rt", encoding="utf-8", errors="replace") as file:
        for line_number, line in enumerate(file, start=1):
            line = line.strip()
            if not line or line.startswith(";"):
                continue
            prompt, separator, text = line.partition(":")
            if not separator or not prompt.strip() or " " in prompt.strip():
                raise ValueError(
                    f"{transcript_path}:{line_number}: expected `prompt: text`, got {line[:80]!r}. "
                    f"The file is damaged; fetch it again."
                )
            texts[prompt.strip()] = text.strip()
    return texts


def spoken_text(published: str) -> str | None:
    """What the voice says in a prompt, normalized; None when nothing speakable is left.

    "[ascending tones]", "<beep ascending>", "(1 second of silence)" and "IAX (note: does not say
    "2")"'s note are descriptions, not speech: removed. "*" and "#" are the telephone keys the
    voice reads as "star" and "pound". Then minispeech.text.normalize, final . , ? ! removed as in
    the tiny corpus's normalized_text.
    """
    from minispeech.text import normalize

    text = _NOTE.sub(" ", published).replace("*", " star ").replace("#", " pound ")
    if not any(character.isalnum() for character in text):
        return None
    try:
        spoken = normalize(text).rstrip(".,?!").strip()
    except ValueError:  # normalize: nothing speakable is left
        return None
    return spoken or None


def split_of(prompt: str) -> str:
    """The split of a prompt name, "test" or "train": the first 8 hex digits of sha256(name) mod
    100 < TEST_PERCENT is test. Fixed forever, on any machine and Python, whatever other prompts
    exist."""
    bucket = int(hashlib.sha256(prompt.encode("utf-8")).hexdigest()[:8], 16) % 100
    return "test" if bucket < TEST_PERCENT else "train"


def assign_splits(normalized_texts: dict[str, str]) -> dict[str, str]:
    """{prompt: normalized text} -> {prompt: split}; the same text always lands in one split,
    the split of the alphabetically first prompt that says it."""
    first_prompt_of_text: dict[str, str] = {}
    for prompt in sorted(normalized_texts):
        first_prompt_of_text.setdefault(normalized_texts[prompt], prompt)
    return {
        prompt: split_of(first_prompt_of_text[text]) for prompt, text in normalized_texts.items()
    }


# ---------------------------------------------------------------------------------------------
# preparing the manifests


def locate_prompts(folders: list[Path], prompts: list[str] | None = None) -> tuple[Path, Path]:
    """(folder the prompt names resolve in, transcript path) found under `folders`.

    The transcript is the first core-sounds-en.txt(.gz) below them (sorted); the audio folder is
    the folder, among those holding .wav files and their parents, in which the most
    `<prompt>.wav` exist (en_US_f_Allison/ in the .deb, the top of the tarball).
    Raises FileNotFoundError naming what is missing and the command that fetches it.
    """
    transcripts = sorted(
        path for folder in folders for name in TRANSCRIPT_NAMES for path in folder.rglob(name)
    )
    if not transcripts:
        raise FileNotFoundError(
            f"no {' or '.join(TRANSCRIPT_NAMES)} under {[str(folder) for folder in folders]}. "
            f"The -wav package holds only audio: the transcript is in asterisk-core-sounds-en; "
            f"fetch both with `{APT_COMMAND}` (or use the official tarball, which has it)."
        )
    transcript_path = transcripts[0]
    if prompts is None:
        prompts = list(read_transcript(transcript_path))
    candidates = set()
    for folder in folders:
        for wav in folder.rglob("*.wav"):
            candidates.update((wav.parent, wav.parent.parent))
    best_folder, best_count = None, 0
    for candidate in sorted(candidates):
        found = sum((candidate / f"{prompt}.wav").is_file() for prompt in prompts)
        if found > best_count:
            best_folder, best_count = candidate, found
    if best_folder is None:
        raise FileNotFoundError(
            f"no <prompt>.wav of {transcript_path} under {[str(folder) for folder in folders]}. "
            f"The audio is in asterisk-core-sounds-en-wav (the -gsm and -g722 packages hold "
            f"formats soundfile cannot read); fetch it with `{APT_COMMAND}`."
        )
    return best_folder, transcript_path


def _wav_prompts(sounds_folder: Path) -> list[str]:
    return sorted(
        path.relative_to(sounds_folder).with_suffix("").as_posix()
        for path in sounds_folder.rglob("*.wav")
    )


def _named(prompts: list[str]) -> str:
    shown = ", ".join(prompts[:SHOWN_PROMPTS])
    return shown + (
        f", ... ({len(prompts) - SHOWN_PROMPTS} more)" if len(prompts) > SHOWN_PROMPTS else ""
    )


def prepare(
    folders: str | Path | list[str | Path],
    manifest_dir: str | Path,
    sources: list[Path] | None = None,
    progress: bool = False,
) -> Prepared:
    """Write manifest_dir/train.jsonl and test.jsonl and ATTRIBUTION.txt for the prompts found
    under `folders` (a folder or a list of them; see locate_prompts), and print a summary.

    `sources` (the .debs, tarball or folders the prompts came from) are named in the attribution.
    Prompts that are not speech, wavs without a transcript line, and listed prompts whose audio is
    missing or unreadable are skipped and counted; the split is made on the transcript alone, so
    a broken file never moves another prompt between splits.
    """
    from tqdm.auto import tqdm

    started = time.perf_counter()
    if isinstance(folders, (str, Path)):
        folders = [folders]
    folders, manifest_dir = [Path(folder) for folder in folders], Path(manifest_dir)
    sounds_folder, transcript_path = locate_prompts(folders)
    published = read_transcript(transcript_path)
    normalized = {}
    not_speech = []
    for prompt, text in published.items():
        spoken = spoken_text(text)
        if spoken is None:
            not_speech.append(prompt)
        else:
            normalized[prompt] = spoken
    splits = assign_splits(normalized)
    without_transcript = [
        prompt for prompt in _wav_prompts(sounds_folder) if prompt not in published
    ]
    skipped = SkippedFiles()
    manifests = {}
    for split in SPLITS:
        rows = []
        prompts = sorted(prompt for prompt in normalized if splits[prompt] == split)
        for prompt in tqdm(prompts, desc=f"asterisk {split}", disable=not progress):
            row = audio_row(
                sounds_folder / f"{prompt}.wav",
                manifest_dir,
                skipped,
                utterance_id=prompt,
                text=published[prompt],
                normalized_text=normalized[prompt],
                speaker=SPEAKER,
            )
            if row is not None:
                rows.append(row)
        manifests[split] = write_split(manifest_dir / f"{split}.jsonl", rows)
    version = re.search(r"\d+\.\d+(\.\d+)?", " ".join(path.name for path in sources or []))
    attribution = ATTRIBUTION.format(
        version=version.group(0) if version else "",
        sources=", ".join(Path(source).name for source in sources or folders),
    )
    (manifest_dir / "ATTRIBUTION.txt").write_text(attribution, encoding="utf-8")
    print(f"asterisk: {len(published)} prompts in {transcript_path}, audio in {sounds_folder}")
    print(
        f"asterisk: skipped {len(not_speech)} prompt(s) that are not speech: {_named(not_speech)}"
    )
    print(
        f"asterisk: skipped {len(without_transcript)} wav(s) without a transcript line"
        + (f": {_named(without_transcript)}" if without_transcript else "")
    )
    print(skipped.report("asterisk"))
    print(
        f"asterisk: {SAMPLE_RATE} Hz audio used in place (resampled on load); "
        f"licence in {manifest_dir / 'ATTRIBUTION.txt'}; {time.perf_counter() - started:.1f} s"
    )
    return Prepared(manifests=manifests, skipped=skipped)


def main(argv: list[str] | None = None) -> int:
    parser = cli.corpus_parser("asterisk", __doc__, CORPUS_FOLDER, example_root="data")
    parser.add_argument(
        "--source",
        type=Path,
        nargs="+",
        default=None,
        metavar="PATH",
        help="the .deb files, the official tarball or an unpacked folder (default: those in "
        "ROOT/downloads/, else the official tarball is downloaded)",
    )
    args = cli.parse(parser, argv)
    sources = args.source or default_sources(args.root)
    if sources:
        folders = unpack_sources(sources, args.root)
    elif (args.root / CORPUS_FOLDER).is_dir():
        folders = [args.root / CORPUS_FOLDER]  # extracted before; the archives were deleted since
    elif args.skip_download:
        raise FileNotFoundError(_missing_input_message(args.root))
    else:
        print(f"note: no published checksum for {TARBALL.filename}; it is not verified.")
        archive_path = args.root / "downloads" / TARBALL.filename
        try:
            download(TARBALL.url, archive_path, progress=True)
        except DownloadError as error:
            raise DownloadError(f"{error}\n{_missing_input_message(args.root)}") from None
        sources = [archive_path]
        folders = unpack_sources(sources, args.root)
    prepare(folders, args.manifest_dir, sources=sources, progress=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
