"""LJSpeech 1.1 (Ito & Johnson, 2017): one speaker reading non-fiction, 13,100 clips, ~24 h, 22,050 Hz.

ARCHIVE        the official archive (URL + SHA-256)
read_metadata  metadata.csv -> [(id, text, normalized_text)]
split_ids      deterministic train/valid/test split of the clip ids (seeded shuffle of sorted ids)
prepare        an extracted LJSpeech-1.1/ folder -> train/valid/test JSONL manifests
main           command line (the shared one in cli.py): download, extract, prepare

Layout   LJSpeech-1.1/metadata.csv with lines `id|text|normalized_text` (no header, no quoting)
         LJSpeech-1.1/wavs/<id>.wav
Rows     text = column 2 (as transcribed), normalized_text = column 3 (numbers etc. spelled out),
         speaker = "LJ".

    python data_scripts/ljspeech.py --root data/ljspeech [--skip-download]

No lesson teaches it: the gpu profile trains TTS lessons (07-10) on these manifests.
"""

from __future__ import annotations

import random
import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a file: make `data_scripts` and `minispeech` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from data_scripts import cli  # noqa: E402
from data_scripts.fetch import Archive, fetch_archive  # noqa: E402
from data_scripts.manifest_rows import Prepared, SkippedFiles, audio_row, write_split  # noqa: E402

ARCHIVE = Archive(
    url="https://data.keithito.com/data/speech/LJSpeech-1.1.tar.bz2",
    filename="LJSpeech-1.1.tar.bz2",
    # as in torchaudio.datasets.LJSPEECH, which verifies it on download
    sha256="be1a30453f28eb8dd26af4101ae40cbf2c50413b1bb21936cbcdc6fae3de8aa5",
)
CORPUS_FOLDER = "LJSpeech-1.1"
SAMPLE_RATE = 22050
SPEAKER = "LJ"
SPLITS = ("train", "valid", "test")


def read_metadata(metadata_path: Path) -> list[tuple[str, str, str]]:
    """Parse metadata.csv -> [(id, text, normalized_text)], in file order.

    Raises FileNotFoundError if it is missing, ValueError naming the line of a malformed row.
    Split on '|' by hand: the texts hold quotes that a csv reader would misread.
    """
    if not metadata_path.is_file():
        raise FileNotFoundError(
            f"{metadata_path}: transcript file not found. Point --root at the folder that holds "
            f"{CORPUS_FOLDER}/, or run without --skip-download to download it."
        )
    entries = []
    with open(metadata_path, encoding="utf-8") as file:
        for line_number, line in enumerate(file, start=1):
            line = line.rstrip("\r\n")
            if not line.strip():
                continue
            fields = line.split("|")
            if len(fields) != 3 or not fields[0]:
                raise ValueError(
                    f"{metadata_path}:{line_number}: expected `id|text|normalized_text` "
                    f"(3 fields), got {len(fields)}: {line[:80]!r}. The file is damaged; "
                    f"extract the archive again."
                )
            entries.append((fields[0], fields[1], fields[2]))
    return entries


def split_ids(ids: list[str], valid_size: int, test_size: int, seed: int) -> dict[str, list[str]]:
    """Sort the ids, shuffle them with `seed`, take test then valid from the front; the rest is
    train. Each split is returned sorted. The same ids and seed always give the same split."""
    if valid_size < 0 or test_size < 0 or len(ids) <= valid_size + test_size:
        raise ValueError(
            f"cannot split {len(ids)} clips into valid={valid_size}, test={test_size} and a "
            f"non-empty train set; lower --valid-size/--test-size."
        )
    shuffled = sorted(ids)
    random.Random(seed).shuffle(shuffled)
    test = shuffled[:test_size]
    valid = shuffled[test_size : test_size + valid_size]
    train = shuffled[test_size + valid_size :]
    return {"train": sorted(train), "valid": sorted(valid), "test": sorted(test)}


def prepare(
    corpus_dir: str | Path,
    manifest_dir: str | Path,
    valid_size: int = 100,
    test_size: int = 500,
    seed: int = 1234,
    progress: bool = False,
) -> Prepared:
    """Write train/valid/test manifests for an extracted LJSpeech-1.1 folder.

    Unreadable or missing wavs are skipped and reported; the split is made on the ids in
    metadata.csv first, so a broken file never moves other clips between splits.
    """
    from tqdm.auto import tqdm

    corpus_dir, manifest_dir = Path(corpus_dir), Path(manifest_dir)
    entries = read_metadata(corpus_dir / "metadata.csv")
    by_id = {utterance_id: (text, normalized) for utterance_id, text, normalized in entries}
    if len(by_id) != len(entries):
        raise ValueError(f"{corpus_dir / 'metadata.csv'}: some clip ids appear twice.")
    splits = split_ids(list(by_id), valid_size, test_size, seed)
    skipped = SkippedFiles()
    manifests = {}
    for split in SPLITS:
        rows = []
        for utterance_id in tqdm(splits[split], desc=f"ljspeech {split}", disable=not progress):
            text, normalized_text = by_id[utterance_id]
            row = audio_row(
                corpus_dir / "wavs" / f"{utterance_id}.wav",
                manifest_dir,
                skipped,
                utterance_id=utterance_id,
                text=text,
                normalized_text=normalized_text,
                speaker=SPEAKER,
            )
            if row is not None:
                rows.append(row)
        manifests[split] = write_split(manifest_dir / f"{split}.jsonl", rows)
    print(skipped.report("ljspeech"))
    return Prepared(manifests=manifests, skipped=skipped)


def main(argv: list[str] | None = None) -> int:
    parser = cli.corpus_parser("ljspeech", __doc__, CORPUS_FOLDER)
    parser.add_argument("--valid-size", type=cli.count, default=100, help="clips in valid.jsonl")
    parser.add_argument("--test-size", type=cli.count, default=500, help="clips in test.jsonl")
    parser.add_argument("--seed", type=cli.count, default=1234, help="seed of the split")
    args = cli.parse(parser, argv)
    fetch_archive(ARCHIVE, args.root, skip_download=args.skip_download)
    corpus_dir = args.root / CORPUS_FOLDER
    prepare(
        corpus_dir, args.manifest_dir, args.valid_size, args.test_size, args.seed, progress=True
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
