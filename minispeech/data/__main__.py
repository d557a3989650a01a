"""`python -m minispeech.data tiny|tts|voices|rates [--out DIR] [--size full|small] [--workers N]`.

tiny     the multi-speaker ASR corpus (corpus.py)
tts      the single-voice TTS corpus with durations, pitch and energy (tts.py)
voices   the voice pool: 120 speakers, speaker-disjoint splits (voices.py)
rates    the tiny corpus's sentences at other rates, pitches and variants (rates.py)
"""

from __future__ import annotations

import argparse
import time

from minispeech.data.corpus import CORPUS_NAME, CorpusConfig, build_tiny_corpus, default_data_root
from minispeech.data.rates import RATES_CORPUS_NAME, RatesCorpusConfig, build_rates_corpus
from minispeech.data.tts import TTS_CORPUS_NAME, TTSCorpusConfig, build_tts_corpus
from minispeech.data.voices import VOICE_POOL_NAME, VoicePoolConfig, build_voice_pool


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m minispeech.data", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    tiny = commands.add_parser("tiny", help="synthesize the offline eSpeak corpus")
    tiny.add_argument(
        "--out", default=None, help=f"folder (default: {default_data_root() / CORPUS_NAME})"
    )
    tiny.add_argument("--size", default="full", choices=["full", "small"])
    tiny.add_argument("--seed", type=int, default=CorpusConfig().seed)
    tiny.add_argument("--workers", type=int, default=None, help="processes (default: all cores)")
    tts = commands.add_parser("tts", help="synthesize the single-voice TTS corpus and its targets")
    tts.add_argument(
        "--out", default=None, help=f"folder (default: {default_data_root() / TTS_CORPUS_NAME})"
    )
    tts.add_argument("--size", default="full", choices=["full", "small"])
    tts.add_argument("--seed", type=int, default=TTSCorpusConfig().seed)
    tts.add_argument("--workers", type=int, default=None, help="processes (default: all cores)")
    voices = commands.add_parser("voices", help="synthesize the voice pool (lessons 11-12)")
    voices.add_argument(
        "--out", default=None, help=f"folder (default: {default_data_root() / VOICE_POOL_NAME})"
    )
    voices.add_argument("--size", default="full", choices=["full", "small"])
    voices.add_argument("--seed", type=int, default=VoicePoolConfig().seed)
    voices.add_argument("--workers", type=int, default=None, help="processes (default: all cores)")
    rates = commands.add_parser("rates", help="synthesize the rates corpus (lesson 04, robustness)")
    rates.add_argument(
        "--out", default=None, help=f"folder (default: {default_data_root() / RATES_CORPUS_NAME})"
    )
    rates.add_argument("--size", default="full", choices=["full", "small"])
    rates.add_argument("--seed", type=int, default=RatesCorpusConfig().seed)
    rates.add_argument("--workers", type=int, default=None, help="processes (default: all cores)")
    arguments = parser.parse_args(argv)

    start = time.perf_counter()
    if arguments.command == "tts":
        tts_config = TTSCorpusConfig.preset(arguments.size)
        tts_config = TTSCorpusConfig(**{**tts_config.__dict__, "seed": arguments.seed})
        folder = build_tts_corpus(arguments.out, config=tts_config, workers=arguments.workers)
    elif arguments.command == "voices":
        pool_config = VoicePoolConfig.preset(arguments.size)
        pool_config = VoicePoolConfig(**{**pool_config.__dict__, "seed": arguments.seed})
        folder = build_voice_pool(arguments.out, config=pool_config, workers=arguments.workers)
    elif arguments.command == "rates":
        rates_config = RatesCorpusConfig.preset(arguments.size)
        rates_config = RatesCorpusConfig(**{**rates_config.__dict__, "seed": arguments.seed})
        folder = build_rates_corpus(arguments.out, config=rates_config, workers=arguments.workers)
    else:
        config = CorpusConfig.preset(arguments.size)
        config = CorpusConfig(**{**config.__dict__, "seed": arguments.seed})
        folder = build_tiny_corpus(arguments.out, config=config, workers=arguments.workers)
    print(f"corpus ready at {folder} ({time.perf_counter() - start:.1f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
