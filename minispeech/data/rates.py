"""The rates corpus: the tiny corpus's sentences at speaking rates, pitches and variants it never uses.

build_rates_corpus  synthesize wavs/ and one JSONL manifest per split; same seed -> same bytes
rates_corpus        the folder, built on first use (or a clear error naming the command)
RatesCorpusConfig   the ranges drawn from, and how many test sentences; preset "full" or "small"
wide_speaker        a training speaker with a drawn rate, pitch and voice variant (one utterance)

The tiny corpus's voices all speak at 160-185 words per minute with pitch 40-60, and a human
does not. This corpus holds what lesson 04 needs to measure and train for that (issue 11):

    train_wide  the tiny corpus's training sentences and speakers (same accents, same words),
                each utterance at a rate drawn from `rate_range`, a pitch from `pitch_range` and,
                with probability `variant_probability`, another voice variant from WIDE_VARIANTS.
                Training on it instead of train.jsonl changes only how the voices vary.
    slow        the held-out voices (the tiny corpus's test_unseen speakers) reading the first
    normal      `test_per_speaker` of their test_unseen sentences at SLOW_RATE, at their own
    fast        rate, and at FAST_RATE words per minute: the same words three times over.

No held-out voice's variant (m7, anika, m8) is ever drawn for train_wide, so the test voices stay
unseen. Rows are like the tiny corpus's (with eSpeak alignments); train_wide rows also carry
"rate", "pitch" and "voice". Build it with `python -m minispeech.data rates` (about a minute).
"""

from __future__ import annotations

import random
from dataclasses import asdict, dataclass
from pathlib import Path

from minispeech.data.corpus import (
    SPEAKERS,
    CorpusConfig,
    Job,
    Speaker,
    default_data_root,
    find_or_build,
    finish_build,
    plan_jobs,
    start_build,
    synthesize_chunk,
    synthesize_in_chunks,
)

RATES_CORPUS_NAME = "rates"
RATES_CORPUS_VERSION = 1
RATES_CORPUS_COMMAND = "python -m minispeech.data rates"
SLOW_RATE, FAST_RATE = 120, 250  # words per minute; the tiny corpus speaks at 160-185
TEST_SPLITS = ("slow", "normal", "fast")
# Variants for train_wide: no breath noise (not reproducible) and none a held-out speaker uses.
WIDE_VARIANTS = ("m1", "m2", "m3", "m4", "m5", "m6", "f1", "f4", "Annie", "belinda", "steph", "linda",
                 "aunty", "grandpa", "Andy", "Gene", "Lee", "Mike", "max", "paul", "rob", "zac")  # fmt: skip


@dataclass(frozen=True)
class RatesCorpusConfig:
    """Ranges for train_wide and the size of the rate test sets. `small` is for tests."""

    seed: int = 4321
    rate_range: tuple[int, int] = (110, 270)  # words per minute, inclusive
    pitch_range: tuple[int, int] = (20, 80)  # eSpeak pitch, inclusive
    variant_probability: float = 0.5  # share of utterances spoken with another variant
    test_per_speaker: int = 40  # test_unseen sentences per held-out voice, read at each rate
    tiny: CorpusConfig = CorpusConfig()  # whose sentences and speakers are used

    def __post_init__(self) -> None:
        for field in ("rate_range", "pitch_range"):
            low, high = getattr(self, field)
            if not 0 < low <= high:
                raise ValueError(f"RatesCorpusConfig: {field} must be (low, high) with 0 < low <= high, got {(low, high)!r}")
        if not 0.0 <= self.variant_probability <= 1.0:
            raise ValueError(f"RatesCorpusConfig: variant_probability must be in [0, 1], got {self.variant_probability!r}")
        if not 0 < self.test_per_speaker <= self.tiny.test_unseen_per_speaker:
            raise ValueError(f"RatesCorpusConfig: test_per_speaker must be in 1..{self.tiny.test_unseen_per_speaker} "
                             f"(the tiny corpus's test_unseen sentences per voice), got {self.test_per_speaker}")

    @classmethod
    def preset(cls, name: str) -> RatesCorpusConfig:
        presets = {"full": cls(), "small": cls(test_per_speaker=1, tiny=CorpusConfig.preset("small"))}
        if name not in presets:
            raise ValueError(f"unknown rates corpus size {name!r}: choose one of {sorted(presets)}")
        return presets[name]


def wide_speaker(speaker: Speaker, config: RatesCorpusConfig, rng: random.Random) -> Speaker:
    """`speaker` with a rate and pitch drawn from the config's ranges and, sometimes, another variant."""
    rate = rng.randint(*config.rate_range)
    pitch = rng.randint(*config.pitch_range)
    accent, _, variant = speaker.voice.partition("+")
    if rng.random() < config.variant_probability:
        variant = rng.choice(WIDE_VARIANTS)
    return Speaker(speaker.name, f"{accent}+{variant}", pitch, rate)


def plan_rates_jobs(config: RatesCorpusConfig) -> list[Job]:
    """Every utterance, in a fixed order: train_wide, then slow / normal / fast."""
    tiny_jobs = plan_jobs(config.tiny)
    rng = random.Random(config.seed)
    jobs: list[Job] = []
    for split, utterance_id, text, speaker in tiny_jobs:
        if split == "train":
            jobs.append(("train_wide", utterance_id.replace("train_", "wide_", 1), text, wide_speaker(speaker, config, rng)))
    held_out = [job for job in tiny_jobs if job[0] == "test_unseen"]
    per_voice: dict[str, int] = {}
    chosen = []
    for job in held_out:  # the first test_per_speaker sentences of each held-out voice
        name = job[3].name
        if per_voice.get(name, 0) < config.test_per_speaker:
            per_voice[name] = per_voice.get(name, 0) + 1
            chosen.append(job)
    for split in TEST_SPLITS:
        for _, utterance_id, text, speaker in chosen:
            rate = {"slow": SLOW_RATE, "normal": speaker.rate, "fast": FAST_RATE}[split]
            at_rate = Speaker(speaker.name, speaker.voice, speaker.pitch, rate, held_out=True)
            jobs.append((split, utterance_id.replace("test_unseen_", f"{split}_", 1), text, at_rate))
    return jobs


def build_rates_corpus(
    out: str | Path | None = None,
    config: RatesCorpusConfig | None = None,
    workers: int | None = None,
    progress: bool = True,
) -> Path:
    """Build into `out` (default: default_data_root()/rates) and return its path.

    Into `<out>.partial`, renamed at the end; a complete corpus with the same config is kept.
    """
    from minispeech.data.manifest import write_manifest

    config = config or RatesCorpusConfig()
    out = Path(out) if out is not None else default_data_root() / RATES_CORPUS_NAME
    info = {"name": RATES_CORPUS_NAME, "version": RATES_CORPUS_VERSION, "config": asdict(config)}
    partial = start_build(out, info, RATES_CORPUS_VERSION)
    if partial is None:
        return out
    jobs = plan_rates_jobs(config)
    rows = synthesize_in_chunks(synthesize_chunk, jobs, partial, config.seed, workers, progress)
    for row, (_, _, _, speaker) in zip(rows, jobs, strict=True):
        row["rate"], row["pitch"] = speaker.rate, speaker.pitch
    splits = ("train_wide", *TEST_SPLITS)
    for split in splits:
        write_manifest(partial / f"{split}.jsonl", [row for row in rows if row["split"] == split])
    summary = dict(info)
    summary["counts"] = {split: sum(row["split"] == split for row in rows) for split in splits}
    summary["speakers"] = [asdict(speaker) for speaker in SPEAKERS]
    return finish_build(partial, out, summary)


def rates_corpus(root: str | Path | None = None, build_if_missing: bool = True) -> Path:
    """The rates corpus folder, building it (about a minute on 2 cores) if it is missing."""
    folder = Path(root) if root is not None else default_data_root() / RATES_CORPUS_NAME
    return find_or_build(folder, RATES_CORPUS_VERSION, build_rates_corpus, "rates corpus", RATES_CORPUS_COMMAND, build_if_missing)
