"""`python -m minispeech.data tiny [--out DIR] [--size full|small] [--workers N]`."""

from __future__ import annotations

import argparse
import time

from minispeech.data.corpus import CORPUS_NAME, CorpusConfig, build_tiny_corpus, default_data_root


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m minispeech.data", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    tiny = commands.add_parser("tiny", help="synthesize the offline eSpeak corpus")
    tiny.add_argument("--out", default=None, help=f"folder (default: {default_data_root() / CORPUS_NAME})")
    tiny.add_argument("--size", default="full", choices=["full", "small"])
    tiny.add_argument("--seed", type=int, default=CorpusConfig().seed)
    tiny.add_argument("--workers", type=int, default=None, help="processes (default: all cores)")
    arguments = parser.parse_args(argv)

    config = CorpusConfig.preset(arguments.size)
    config = CorpusConfig(**{**config.__dict__, "seed": arguments.seed})
    start = time.perf_counter()
    folder = build_tiny_corpus(arguments.out, config=config, workers=arguments.workers)
    print(f"corpus ready at {folder} ({time.perf_counter() - start:.1f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
