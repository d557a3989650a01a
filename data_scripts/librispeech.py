"""LibriSpeech (Panayotov et al., 2015): read audiobooks for ASR, 16 kHz FLAC, ~1000 h in subsets.

ARCHIVES          the official archive of each subset (openslr.org/resources/12, SHA-256)
read_transcripts  one chapter's <speaker>-<chapter>.trans.txt -> {utterance id: text}
prepare           extracted LibriSpeech/<subset>/ folders -> one JSONL manifest per subset
main              command line (the shared one in cli.py): download, extract, prepare

Layout   LibriSpeech/<subset>/<speaker>/<chapter>/<speaker>-<chapter>.trans.txt, lines `ID TEXT`
         LibriSpeech/<subset>/<speaker>/<chapter>/<speaker>-<chapter>-<utterance>.flac
Rows     text = the transcript as published (upper case, no punctuation but apostrophes),
         normalized_text = text.lower(), speaker = the speaker id as a string.

    python data_scripts/librispeech.py --root data/librispeech --subsets dev-clean test-clean

No lesson teaches it: the gpu profile trains the ASR lessons (04-06) on these manifests.
"""

from __future__ import annotations

import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a file: make `data_scripts` and `minispeech` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from data_scripts import cli  # noqa: E402
from data_scripts.fetch import Archive, fetch_archive  # noqa: E402
from data_scripts.manifest_rows import Prepared, SkippedFiles, audio_row, write_split  # noqa: E402

BASE_URL = "https://www.openslr.org/resources/12"
# SHA-256 values as in torchaudio.datasets.LIBRISPEECH, which verifies them on download.
SUBSET_SHA256 = {
    "dev-clean": "76f87d090650617fca0cac8f88b9416e0ebf80350acb97b343a85fa903728ab3",
    "dev-other": "12661c48e8c3fe1de2c1caa4c3e135193bfb1811584f11f569dd12645aa84365",
    "test-clean": "39fde525e59672dc6d1551919b1478f724438a95aa55f874b576be21967e6c23",
    "test-other": "d09c181bba5cf717b3dee7d4d592af11a3ee3a09e08ae025c5506f6ebe961c29",
    "train-clean-100": "d4ddd1d5a6ab303066f14971d768ee43278a5f2a0aa43dc716b0e64ecbbbf6e2",
    "train-clean-360": "146a56496217e96c14334a160df97fffedd6e0a04e66b9c5af0d40be3c792ecf",
    "train-other-500": "ddb22f27f96ec163645d53215559df6aa36515f26e01dd70798188350adcb6d2",
}
ARCHIVES = {
    subset: Archive(url=f"{BASE_URL}/{subset}.tar.gz", filename=f"{subset}.tar.gz", sha256=sha256)
    for subset, sha256 in SUBSET_SHA256.items()
}
CORPUS_FOLDER = "LibriSpeech"
SAMPLE_RATE = 16000
DEFAULT_SUBSETS = ("dev-clean", "test-clean", "train-clean-100")


def read_transcripts(transcript_path: Path) -> dict[str, str]:
    """Parse one chapter's .trans.txt -> {utterance id: text}; ValueError names a bad line."""
    transcripts = {}
    with open(transcript_path, encoding="utf-8") as file:
        for line_number, line in enumerate(file, start=1):
            line = line.strip()
            if not line:
                continue
            utterance_id, _, text = line.partition(" ")
            if not text.strip():
                raise ValueError(
                    f"{transcript_path}:{line_number}: expected `ID TEXT`, got {line[:80]!r}. "
                    f"The file is damaged; extract the archive again."
                )
            transcripts[utterance_id] = text.strip()
    return transcripts


def _subset_rows(
    subset_dir: Path, manifest_dir: Path, skipped: SkippedFiles, progress: bool
) -> list[dict]:
    from tqdm.auto import tqdm

    rows = []
    chapter_dirs = sorted(path for path in subset_dir.glob("*/*") if path.is_dir())
    for chapter_dir in tqdm(
        chapter_dirs, desc=f"librispeech {subset_dir.name}", disable=not progress
    ):
        speaker, chapter = chapter_dir.parent.name, chapter_dir.name
        transcript_path = chapter_dir / f"{speaker}-{chapter}.trans.txt"
        if not transcript_path.is_file():
            raise FileNotFoundError(
                f"{transcript_path}: transcript file not found for the audio in {chapter_dir}. "
                f"The extraction is incomplete; delete {subset_dir} and the .extracted marker "
                f"file, then run again."
            )
        for utterance_id, text in sorted(read_transcripts(transcript_path).items()):
            row = audio_row(
                chapter_dir / f"{utterance_id}.flac",
                manifest_dir,
                skipped,
                utterance_id=utterance_id,
                text=text,
                normalized_text=text.lower(),
                speaker=speaker,
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
    """Write manifest_dir/<subset>.jsonl for each subset of an extracted LibriSpeech/ folder.

    Utterances listed in a transcript whose audio is missing or unreadable are skipped and
    reported; a chapter without its transcript file is an error.
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
    print(skipped.report("librispeech"))
    return Prepared(manifests=manifests, skipped=skipped)


def main(argv: list[str] | None = None) -> int:
    parser = cli.corpus_parser("librispeech", __doc__, CORPUS_FOLDER, ARCHIVES, DEFAULT_SUBSETS)
    args = cli.parse(parser, argv)
    for subset in args.subsets:
        fetch_archive(ARCHIVES[subset], args.root, skip_download=args.skip_download)
    prepare(args.root / CORPUS_FOLDER, args.manifest_dir, args.subsets, progress=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
