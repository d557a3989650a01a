"""The one command line every corpus script shares, defined once.

corpus_parser   an argument parser with the options every corpus takes: --root, --skip-download,
                --manifest-dir, and --subsets for corpora published in subsets
parse           parse argv, check the values, fill the default manifest folder
count           argparse `type=` for sizes and seeds (a whole number >= 0)
CorpusArgumentParser  argparse whose errors end with an example command and where --help is

    python data_scripts/ljspeech.py --root data/ljspeech [--skip-download] [--manifest-dir DIR]
    python data_scripts/librispeech.py --root data/librispeech --subsets dev-clean test-clean
    python data_scripts/asterisk.py --root data [--source PATH ...]

A corpus script builds its parser here, adds what only it takes (LJSpeech's split sizes), then
downloads and prepares:

    parser = cli.corpus_parser("librispeech", __doc__, CORPUS_FOLDER, ARCHIVES, DEFAULT_SUBSETS)
    args = cli.parse(parser, argv)
    ... fetch_archive(ARCHIVES[subset], args.root, skip_download=args.skip_download) ...
"""

from __future__ import annotations

import argparse
from pathlib import Path


class CorpusArgumentParser(argparse.ArgumentParser):
    """An ArgumentParser whose error messages end with a working example and the --help hint."""

    def __init__(self, example: str, **kwargs):
        super().__init__(**kwargs)
        self.example = example

    def error(self, message: str):  # argparse prints usage, then this, and exits with status 2
        super().error(
            f"{message}\n  for example: {self.example}\n  every option: {self.prog} --help"
        )


def corpus_parser(
    corpus: str,
    description: str,
    folder: str,
    subsets: dict | None = None,
    default_subsets: tuple[str, ...] = (),
    example_root: str | None = None,
) -> CorpusArgumentParser:
    """The shared options of `python data_scripts/<corpus>.py`.

    `folder` is the corpus's extracted folder under ROOT (e.g. "LibriSpeech"); `subsets` (names ->
    archives) adds --subsets with those choices and `default_subsets` as its default.
    `example_root` is the --root the error messages' example uses (default data/<corpus>).
    """
    example = f"python data_scripts/{corpus}.py --root {example_root or f'data/{corpus}'}"
    if subsets:
        example += " --subsets " + " ".join(default_subsets[:2] or sorted(subsets)[:1])
    parser = CorpusArgumentParser(
        example,
        prog=f"python data_scripts/{corpus}.py",
        description=description.split("\n")[0],
    )
    parser.add_argument(
        "--root",
        type=Path,
        required=True,
        help=f"folder for downloads/, {folder}/ and manifests/ (created if missing)",
    )
    parser.add_argument(
        "--skip-download",
        action="store_true",
        help=f"use archives in ROOT/downloads/ or an already extracted ROOT/{folder}/",
    )
    parser.add_argument(
        "--manifest-dir",
        type=Path,
        default=None,
        help=f"where to write the JSONL manifests (default ROOT/manifests/{corpus})",
    )
    if subsets:
        parser.add_argument(
            "--subsets",
            nargs="+",
            default=list(default_subsets),
            choices=sorted(subsets),
            metavar="SUBSET",
            help=f"any of {', '.join(subsets)} (default: {' '.join(default_subsets)})",
        )
    parser.set_defaults(corpus=corpus)
    return parser


def count(text: str) -> int:
    """argparse `type=` for sizes and seeds: a whole number >= 0, or an error that says so."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 0, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {value}")
    return value


def parse(parser: CorpusArgumentParser, argv: list[str] | None = None) -> argparse.Namespace:
    """Parse `argv` (None: the command line), check it, and fill in the default --manifest-dir.

    A bad value exits with status 2 and a message that says the fix, as argparse does.
    """
    args = parser.parse_args(argv)
    if args.root.exists() and not args.root.is_dir():
        parser.error(
            f"--root {args.root} is a file: pass a folder (it will hold downloads/ and manifests/)"
        )
    if hasattr(args, "subsets"):
        args.subsets = list(dict.fromkeys(args.subsets))  # a subset named twice is prepared once
    if args.manifest_dir is None:
        args.manifest_dir = args.root / "manifests" / args.corpus
    return args
