"""The voice pool: 120 eSpeak speakers, 20 utterances each, speaker-disjoint splits.

build_voice_pool    synthesize wavs/ and one JSONL manifest per split; same seed -> same bytes
voice_pool          the pool folder, built on first use (or a clear error naming the command)
VoicePoolConfig     how many speakers and utterances: preset "full" or "small" (tests)
pool_speakers       the speakers, a fixed list: English accent x variant x pitch x rate

For lessons 11-12 (codec, speaker encoder, zero-shot voice). A speaker is an eSpeak English
accent (8) with a voice variant (61 without breath noise, robots or the Klatt synthesizer),
a pitch and a rate; each variant speaks with two accents. Held out: every speaker of the
last `held_out_variants` variants, so a held-out speaker's timbre is unseen in training,
not only their accent. Splits (manifests like the tiny corpus's, with eSpeak alignments):
    train      utterances of the training speakers
    held_out   utterances of the held-out speakers (no training split ever uses them)

Determinism: the tiny corpus's machinery (corpus.run_in_fresh_processes, chunk seeds).
Build it with `python -m minispeech.data voices`. Used by lessons/11 and 12.
"""

from __future__ import annotations

import random
from dataclasses import asdict, dataclass
from pathlib import Path

from minispeech.data.corpus import (
    Job,
    Speaker,
    default_data_root,
    find_or_build,
    finish_build,
    start_build,
    synthesize_chunk,
    synthesize_in_chunks,
)

VOICE_POOL_NAME = "voices"
VOICE_POOL_VERSION = 1
VOICE_POOL_COMMAND = "python -m minispeech.data voices"

ACCENTS = (
    "en-us", "en", "en-gb-x-rp", "en-us-nyc", "en-gb-scotland", "en-029", "en-gb-x-gbclan",
    "en-gb-x-gbcwmd",
)  # fmt: skip
# eSpeak variants without breath noise (not reproducible), robots, novelty voices or Klatt.
VARIANTS = (
    "m1", "m2", "m3", "m4", "m5", "m6", "m7", "m8", "f1", "f4", "Annie", "anika", "belinda",
    "steph", "steph2", "steph3", "linda", "aunty", "grandma", "grandpa", "shelby", "travis",
    "Alex", "Andrea", "Andy", "Denis", "Diogo", "Gene", "Gene2", "Henrique", "Hugo", "Jacky",
    "Lee", "Marco", "Mario", "Michael", "Mike", "Nguyen", "antonio", "boris", "ed", "gustave",
    "ian", "iven", "iven2", "iven3", "iven4", "john", "kaukovalta", "marcelo", "max", "michel",
    "miguel", "norbert", "pablo", "paul", "pedro", "quincy", "rob", "robert", "zac",
)  # fmt: skip
ACCENTS_PER_VARIANT = 2


@dataclass(frozen=True)
class VoicePoolConfig:
    """Speakers and utterances of the pool. `full` for the lessons; `small` for tests."""

    seed: int = 2024
    n_variants: int = 60  # x 2 accents = 120 speakers
    held_out_variants: int = 6  # the last 6 variants: 12 held-out speakers
    utterances_per_speaker: int = 20

    def __post_init__(self) -> None:
        if not 0 < self.held_out_variants < self.n_variants <= len(VARIANTS):
            raise ValueError(
                f"VoicePoolConfig: need 0 < held_out_variants < n_variants <= {len(VARIANTS)}, "
                f"got {self.held_out_variants} and {self.n_variants}"
            )

    @classmethod
    def preset(cls, name: str) -> VoicePoolConfig:
        presets = {
            "full": cls(),
            "small": cls(n_variants=4, held_out_variants=1, utterances_per_speaker=2),
        }
        if name not in presets:
            raise ValueError(f"unknown voice pool size {name!r}: choose one of {sorted(presets)}")
        return presets[name]


def pool_speakers(config: VoicePoolConfig) -> list[Speaker]:
    """The speakers, in a fixed order; the held-out ones are those of the last variants."""
    rng = random.Random(config.seed)
    speakers = []
    for index, variant in enumerate(VARIANTS[: config.n_variants]):
        held_out = index >= config.n_variants - config.held_out_variants
        for accent in sorted(rng.sample(ACCENTS, ACCENTS_PER_VARIANT)):
            pitch, rate = rng.randrange(30, 71, 5), rng.randrange(140, 201, 10)
            name = f"{accent.replace('-', '')}_{variant.lower()}_{pitch}_{rate}"
            speakers.append(Speaker(name, f"{accent}+{variant}", pitch, rate, held_out))
    return speakers


def plan_pool_jobs(config: VoicePoolConfig) -> list[Job]:
    """Every utterance: distinct sentences, `utterances_per_speaker` per speaker."""
    from minispeech.data.sentences import generate_sentences

    speakers = pool_speakers(config)
    sentences = generate_sentences(len(speakers) * config.utterances_per_speaker, seed=config.seed)
    jobs: list[Job] = []
    for position, speaker in enumerate(speakers):
        split = "held_out" if speaker.held_out else "train"
        start = position * config.utterances_per_speaker
        for index, text in enumerate(sentences[start : start + config.utterances_per_speaker]):
            jobs.append((split, f"{speaker.name}_{index:03d}", text, speaker))
    return jobs


def build_voice_pool(
    out: str | Path | None = None,
    config: VoicePoolConfig | None = None,
    workers: int | None = None,
    progress: bool = True,
) -> Path:
    """Build the pool into `out` (default: default_data_root()/voices) and return its path.

    Into `<out>.partial`, renamed at the end; a complete pool with the same config is kept.
    """
    from minispeech.data.manifest import write_manifest

    config = config or VoicePoolConfig()
    out = Path(out) if out is not None else default_data_root() / VOICE_POOL_NAME
    info = {"name": VOICE_POOL_NAME, "version": VOICE_POOL_VERSION, "config": asdict(config)}
    partial = start_build(out, info, VOICE_POOL_VERSION)
    if partial is None:
        return out
    rows = synthesize_in_chunks(synthesize_chunk, plan_pool_jobs(config), partial, config.seed, workers, progress)
    for split in ("train", "held_out"):
        write_manifest(partial / f"{split}.jsonl", [row for row in rows if row["split"] == split])
    summary = dict(info)
    speakers = pool_speakers(config)
    summary["counts"] = {
        "train_speakers": sum(not speaker.held_out for speaker in speakers),
        "held_out_speakers": sum(speaker.held_out for speaker in speakers),
        "train": sum(row["split"] == "train" for row in rows),
        "held_out": sum(row["split"] == "held_out" for row in rows),
    }
    summary["speakers"] = [asdict(speaker) for speaker in speakers]
    return finish_build(partial, out, summary)


def voice_pool(root: str | Path | None = None, build_if_missing: bool = True) -> Path:
    """The voice pool folder, building it (a minute or two on 2 cores) if it is missing."""
    folder = Path(root) if root is not None else default_data_root() / VOICE_POOL_NAME
    return find_or_build(folder, VOICE_POOL_VERSION, build_voice_pool, "voice pool", VOICE_POOL_COMMAND, build_if_missing)
