"""LibriTTS (Zen et al., 2019): LibriSpeech re-cut for TTS, sentence-level, 24 kHz WAV, ~585 h.

ARCHIVES         the official archive of each subset (openslr.org/resources/60, SHA-256)
read_text_file   one utterance's .original.txt / .normalized.txt -> its single line of text
prepare          extracted LibriTTS/<subset>/ folders -> one JSONL manifest per subset
main             command line (the shared one in cli.py): download, extract, prepare

Layout   LibriTTS/<subset>/<speaker>/<chapter>/<speaker>_<chapter>_<segment>_<utterance>.wav
         beside it <same stem>.original.txt (as in the book: case, punctuation, digits) and
         <same stem>.normalized.txt (numbers, abbreviations spelled out)
Rows     text = the original text, normalized_text = the normalized text, speaker = the
         speaker folder name (the id as a string).

    python data_scripts/libritts.py --root data/libritts --subsets dev-clean test-clean

No lesson teaches it: the gpu profile trains multi-speaker TTS (lessons 10-11) on these manifests.
"""

from __future__ import annotations

import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a file: make `data_scripts` and `minispeech` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from data_scripts import cli  # noqa: E402
from data_scripts.fetch import Archive, fetch_archive  # noqa: E402
from data_scripts.manifest_rows import Prepared, SkippedFiles, audio_row, write_split  # noqa: E402

BASE_URL = "https://www.openslr.org/resources/60"
# SHA-256 values as in torchaudio.datasets.LIBRITTS, which verifies them on download.
SUBSET_SHA256 = {
    "dev-clean": "da0864e1bd26debed35da8a869dd5c04dfc27682921936de7cff9c8a254dbe1a",
    "dev-other": "d413eda26f3a152ac7c9cf3658ef85504dfb1b625296e5fa83727f5186cca79c",
    "test-clean": "234ea5b25859102a87024a4b9b86641f5b5aaaf1197335c95090cde04fe9a4f5",
    "test-other": "33a5342094f3bba7ccc2e0500b9e72d558f72eb99328ac8debe1d9080402f10d",
    "train-clean-100": "c5608bf1ef74bb621935382b8399c5cdd51cd3ee47cec51f00f885a64c6c7f6b",
    "train-clean-360": "ce7cff44dcac46009d18379f37ef36551123a1dc4e5c8e4eb73ae57260de4886",
    "train-other-500": "e35f7e34deeb2e2bdfe4403d88c8fdd5fbf64865cae41f027a185a6965f0a5df",
}
ARCHIVES = {
    subset: Archive(url=f"{BASE_URL}/{subset}.tar.gz", filename=f"{subset}.tar.gz", sha256=sha256)
    for subset, sha256 in SUBSET_SHA256.items()
}
CORPUS_FOLDER = "LibriTTS"
SAMPLE_RATE = 24000
DEFAULT_SUBSETS = ("dev-clean", "test-clean", "train-clean-100")


def read_text_file(text_path: Path) -> str:
    """The text of one .original.txt or .normalized.txt file (one line, whitespace stripped).

    A missing file is a FileNotFoundError naming it: every LibriTTS wav has both text files.
    """
    if not text_path.is_file():
        raise FileNotFoundError(
            f"{text_path}: transcript file not found. The extraction is incomplete; delete the "
            f"subset folder and its .extracted marker file, then run again."
        )
    return text_path.read_text(encoding="utf-8").strip()


def _subset_rows(
    subset_dir: Path, manifest_dir: Path, skipped: SkippedFiles, progress: bool
) -> list[dict]:
    from tqdm.auto import tqdm

    rows = []
    audio_paths = sorted(subset_dir.glob("*/*/*.wav"))
    for audio_path in tqdm(audio_paths, desc=f"libritts {subset_dir.name}", disable=not progress):
        stem = audio_path.name.removesuffix(".wav")
        row = audio_row(
            audio_path,
            manifest_dir,
            skipped,
            utterance_id=stem,
            text=read_text_file(audio_path.with_name(f"{stem}.original.txt")),
            normalized_text=read_text_file(audio_path.with_name(f"{stem}.normalized.txt")),
            speaker=audio_path.parent.parent.name,
        )
        if row is not None:
            rows.append(row)
    return rows


def prepare(
    corpus_dir: str | Path,
    manifest_dir: str | Path,
    subsets: tuple[str, ...] | list[str] = DEFAULT_SUBSETS,
    progress: bool = False,
) -> Prepared:
    """Write manifest_dir/<subset>.jsonl for each subset of an extracted LibriTTS/ folder.

    Unreadable wavs are skipped and reported; a wav without its text files is an error.
    """
    corpus_dir, manifest_dir = Path(corpus_dir), Path(manifest_dir)
    skipped = SkippedFiles()
    manifests = {}
    for subset in subsets:
        subset_dir = corpus_dir / subset
        if not subset_dir.is_dir():
            raise FileNotFoundError(
                f"{subset_dir}: subset folder not found. Run without --skip-download to download "
                f"{subset}, or pass the subsets you have with --subsets."
            )
        rows = _subset_rows(subset_dir, manifest_dir, skipped, progress)
        manifests[subset] = write_split(manifest_dir / f"{subset}.jsonl", rows)
    print(skipped.report("libritts"))
    return Prepared(manifests=manifests, skipped=skipped)


def main(argv: list[str] | None = None) -> int:
    parser = cli.corpus_parser("libritts", __doc__, CORPUS_FOLDER, ARCHIVES, DEFAULT_SUBSETS)
    args = cli.parse(parser, argv)
    for subset in args.subsets:
        fetch_archive(ARCHIVES[subset], args.root, skip_download=args.skip_download)
    prepare(args.root / CORPUS_FOLDER, args.manifest_dir, args.subsets, progress=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
