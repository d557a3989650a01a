"""The tiny corpus: a deterministic multi-speaker speech corpus synthesized offline by eSpeak NG.

build_tiny_corpus   write wavs/ and one JSONL manifest per split; same seed -> same bytes
tiny_corpus         the corpus folder, built on first use (or a clear error naming the command)
run_in_fresh_processes  chunks of synthesis, each in a fresh process (shared with tts.py)
default_data_root   where corpora and lesson artifacts live (MINISPEECH_DATA overrides)
SPEAKERS            the voices: eSpeak language x variant x pitch x rate

Splits (one manifest each, `<split>.jsonl`):
    train        training sentences spoken by the training speakers
    valid        other sentences, training speakers (model selection)
    test_seen    held-out sentences, training speakers
    test_unseen  held-out sentences, held-out speakers that no training split ever uses
    digits       "zero" ... "nine", every speaker, several takes with varied rate and pitch
    train_open   open-vocabulary sentences (minispeech.data.sentences.open_vocabulary_sentence:
                 4-10 words from the 12,000 most frequent English words), training speakers
    test_open    other open-vocabulary sentences, training speakers: many of their words are in
                 no training transcript, so a recognizer must spell them (lesson 04)

The first five splits use the template sentences (about 1,500 words, numbers, dates, money);
the open splits come from their own seeded list and are synthesized after the digits, so
adding them left every file of the corpus's version 1 unchanged.

Every row carries eSpeak's own phoneme and word start samples (`alignment`): an exact
ground-truth alignment that no recorded corpus has, used to score aligners in lesson 04.
eSpeak folds some unstressed function words into a neighbour ("with the" -> one event),
so `alignment["words"]` lists the words it reported, in order; most words are there.

Determinism: eSpeak keeps a pitch-flutter counter across calls inside the C library, so
the same text spoken twice in one process can differ by a few samples. The builder
therefore synthesizes fixed chunks of utterances, each in a fresh process, in a fixed
order (run_in_fresh_processes, which the TTS corpus in tts.py uses too): the same seed gives
byte-identical files whatever the number of workers.

Build it with `python -m minispeech.data tiny`. Taught in lessons/00_setup_data_text.ipynb.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import shutil
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

CORPUS_VERSION = 2  # 2: + train_open, test_open (issue 11); the other splits are byte-identical
CORPUS_NAME = "tiny"
DATA_ENVIRONMENT_VARIABLE = "MINISPEECH_DATA"
BUILD_COMMAND = "python -m minispeech.data tiny"
UTTERANCES_PER_CHUNK = 100


@dataclass(frozen=True)
class Speaker:
    name: str  # e.g. "us_m1": unique, used in file names and manifests
    voice: str  # eSpeak voice with variant, e.g. "en-us+m1"
    pitch: int  # eSpeak pitch 0-100 (50 is the variant's default)
    rate: int  # words per minute
    held_out: bool = False  # never in train/valid/test_seen


# Twelve training speakers and three held-out ones. Held-out speakers use variants
# (m7, anika, m8) and accents that no training speaker uses, so "unseen voice" means unseen.
# Variants with breath noise (f2, f3, f5, ...) are left out: their noise is not reproducible.
SPEAKERS: tuple[Speaker, ...] = (
    Speaker("us_m1", "en-us+m1", 50, 170),
    Speaker("us_f1", "en-us+f1", 55, 175),
    Speaker("gb_m3", "en+m3", 45, 165),
    Speaker("gb_f4", "en+f4", 50, 180),
    Speaker("rp_m4", "en-gb-x-rp+m4", 55, 160),
    Speaker("rp_belinda", "en-gb-x-rp+belinda", 45, 170),
    Speaker("nyc_m6", "en-us-nyc+m6", 50, 185),
    Speaker("nyc_annie", "en-us-nyc+Annie", 60, 165),
    Speaker("sc_m2", "en-gb-scotland+m2", 50, 175),
    Speaker("sc_f1", "en-gb-scotland+f1", 40, 160),
    Speaker("car_m5", "en-029+m5", 55, 170),
    Speaker("car_steph", "en-029+steph", 45, 180),
    Speaker("wm_m7", "en-gb-x-gbcwmd+m7", 50, 170, held_out=True),
    Speaker("lan_anika", "en-gb-x-gbclan+anika", 55, 175, held_out=True),
    Speaker("us_m8", "en-us+m8", 45, 165, held_out=True),
)


@dataclass(frozen=True)
class CorpusConfig:
    """How much to synthesize. `full` is the lesson corpus; `small` is for tests."""

    seed: int = 1234
    train_per_speaker: int = 250
    valid_per_speaker: int = 10
    test_seen_per_speaker: int = 20
    test_unseen_per_speaker: int = 80
    digit_takes: int = 5  # per speaker and digit
    train_open_per_speaker: int = 250
    test_open_per_speaker: int = 20

    @classmethod
    def preset(cls, name: str) -> CorpusConfig:
        presets = {
            "full": cls(),
            "small": cls(
                train_per_speaker=4,
                valid_per_speaker=1,
                test_seen_per_speaker=1,
                test_unseen_per_speaker=2,
                digit_takes=1,
                train_open_per_speaker=2,
                test_open_per_speaker=1,
            ),
        }
        if name not in presets:
            raise ValueError(f"unknown corpus size {name!r}: choose one of {sorted(presets)}")
        return presets[name]


# One utterance to synthesize: (split, utterance id, raw text, speaker).
Job = tuple[str, str, str, Speaker]


def default_data_root() -> Path:
    """MINISPEECH_DATA if set; else `data/` in a source checkout; else ~/.cache/minispeech."""
    if os.environ.get(DATA_ENVIRONMENT_VARIABLE):
        return Path(os.environ[DATA_ENVIRONMENT_VARIABLE]).expanduser()
    repository = Path(__file__).resolve().parents[2]
    if (repository / "pyproject.toml").is_file():
        return repository / "data"
    return Path.home() / ".cache" / "minispeech"


def prepared_manifest(corpus: str, subset: str) -> Path | None:
    """A real corpus's manifest if data_scripts/ prepared it under the data root, else None.

    `python data_scripts/librispeech.py --root data --subsets train-clean-100 dev-clean`
    writes data/manifests/librispeech/train-clean-100.jsonl: prepared_manifest("librispeech",
    "train-clean-100") finds it. The gpu profile of the ASR lessons trains on it when present.
    """
    path = default_data_root() / "manifests" / corpus / f"{subset}.jsonl"
    return path if path.is_file() else None


def corpus_is_complete(folder: Path, version: int = CORPUS_VERSION) -> bool:
    """True when `folder` holds a finished corpus (its corpus.json) of this `version`."""
    info = Path(folder) / "corpus.json"
    if not info.is_file():
        return False
    return json.loads(info.read_text()).get("version") == version


def tiny_corpus(root: str | Path | None = None, build_if_missing: bool = True) -> Path:
    """The tiny corpus folder, building it (about a minute) if it is missing.

    With build_if_missing=False a missing corpus raises FileNotFoundError naming the command.
    """
    folder = Path(root) if root is not None else default_data_root() / CORPUS_NAME
    return find_or_build(folder, CORPUS_VERSION, build_tiny_corpus, "tiny corpus", BUILD_COMMAND, build_if_missing)


def find_or_build(
    folder: Path, version: int, build, what: str, command: str, build_if_missing: bool = True
) -> Path:
    """`folder` if it holds a finished corpus of this version; else build(folder), saying so in
    one line, or, with build_if_missing=False, a FileNotFoundError naming the command to run.
    Shared by the tiny corpus, the TTS corpus and the voice pool."""
    if corpus_is_complete(folder, version):
        return folder
    if not build_if_missing:
        raise FileNotFoundError(f"no {what} at {folder}. Build it with `{command} --out {folder}`.")
    print(f"No {what} at {folder}: building it now (same as `{command}`).")
    return build(folder)


def plan_jobs(config: CorpusConfig) -> list[Job]:
    """Every utterance of the corpus, in a fixed order. Sentence splits never overlap."""
    from minispeech.data.sentences import DIGIT_WORDS, generate_sentences

    training = [speaker for speaker in SPEAKERS if not speaker.held_out]
    held_out = [speaker for speaker in SPEAKERS if speaker.held_out]
    counts = {
        "train": config.train_per_speaker * len(training),
        "valid": config.valid_per_speaker * len(training),
        "test_seen": config.test_seen_per_speaker * len(training),
        "test_unseen": config.test_unseen_per_speaker * len(held_out),
    }
    sentences = generate_sentences(sum(counts.values()), seed=config.seed)
    jobs = _sentence_jobs(counts, sentences, lambda split: held_out if split == "test_unseen" else training)
    for speaker in SPEAKERS:
        for take in range(config.digit_takes):
            for digit in DIGIT_WORDS:
                # Vary rate and pitch per take so takes differ, deterministically.
                varied = Speaker(
                    speaker.name,
                    speaker.voice,
                    pitch=speaker.pitch + (take * 7) % 21 - 10,
                    rate=speaker.rate + (take * 13) % 41 - 20,
                    held_out=speaker.held_out,
                )
                jobs.append(("digits", f"digits_{speaker.name}_{digit}_{take}", digit, varied))
    open_counts = {"train_open": config.train_open_per_speaker * len(training),
                   "test_open": config.test_open_per_speaker * len(training)}
    open_sentences = generate_sentences(sum(open_counts.values()), seed=config.seed + 1, open_vocabulary=1.0)
    jobs += _sentence_jobs(open_counts, open_sentences, lambda split: training)
    return jobs


def _sentence_jobs(counts: dict[str, int], sentences: list[str], speakers_of: Callable) -> list[Job]:
    """Consecutive runs of `sentences`, one per split of `counts`, each spoken in turn by the
    speakers_of(split)."""
    jobs: list[Job] = []
    start = 0
    for split, count in counts.items():
        speakers = speakers_of(split)
        for index, text in enumerate(sentences[start : start + count]):
            speaker = speakers[index % len(speakers)]
            jobs.append((split, f"{split}_{index:05d}_{speaker.name}", text, speaker))
        start += count
    return jobs


def _word_starts(spoken_text: str, word_events: tuple[tuple[int, int], ...]) -> list[list]:
    """Map eSpeak's word events (1-based character position, start sample) to [word, sample]."""
    words = []
    for position, sample in word_events:
        offset = position - 1
        end = offset
        while end < len(spoken_text) and not spoken_text[end].isspace():
            end += 1
        word = spoken_text[offset:end].strip(".,?!")
        if word:
            words.append([word, int(sample)])
    return words


def synthesize_chunk(jobs: list[Job], folder: str, seed: int) -> list[dict]:
    """Synthesize and write one chunk of utterances; runs in a fresh process (see module doc)."""
    import ctypes

    import soundfile

    from minispeech import espeak
    from minispeech.text import normalize

    ctypes.CDLL(None).srand(seed)  # breath-noise variants draw from libc rand()
    rows = []
    for split, utterance_id, text, speaker in jobs:
        spoken = normalize(text)
        result = espeak.synthesize_with_alignment(
            spoken, voice=speaker.voice, rate=speaker.rate, pitch=speaker.pitch
        )
        relative = Path("wavs") / split / f"{utterance_id}.wav"
        path = Path(folder) / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        soundfile.write(path, result.waveform, result.sample_rate, subtype="PCM_16")
        rows.append(
            {
                "id": utterance_id,
                "split": split,
                "audio": relative.as_posix(),
                "text": text,
                "normalized_text": spoken.rstrip(".,?!"),
                "phonemes": espeak.phonemize(spoken, voice=speaker.voice),
                "speaker": speaker.name,
                "voice": speaker.voice,
                "duration": round(len(result.waveform) / result.sample_rate, 4),
                "sample_rate": result.sample_rate,
                "alignment": {
                    "phonemes": [[name, int(sample)] for name, sample in result.phonemes],
                    "words": _word_starts(spoken, result.words),
                },
            }
        )
    return rows


def _call(task: tuple) -> object:
    function, arguments = task
    return function(*arguments)


def run_in_fresh_processes(
    function: Callable[..., list], argument_tuples: list[tuple], workers: int | None = None,
    progress: bool = True, total: int | None = None, description: str = "synthesizing",
) -> Iterator[list]:
    """function(*arguments) for each tuple, each call in a fresh process; results in order.

    The determinism machinery of the corpus builders (see the module doc): "spawn" and one
    task per process, so every chunk starts from a freshly loaded libespeak-ng. `function`
    must be importable (module level) and return a list; the bar counts its items.
    """
    from tqdm.auto import tqdm

    workers = workers or max(1, min(len(argument_tuples), os.cpu_count() or 1))
    bar = tqdm(total=total, desc=description, unit="utt", disable=not progress)
    context = multiprocessing.get_context("spawn")
    with context.Pool(processes=workers, maxtasksperchild=1) as pool:
        tasks = [(function, arguments) for arguments in argument_tuples]
        for result in pool.imap(_call, tasks):
            bar.update(len(result))
            yield result
    bar.close()


def start_build(out: Path, info: dict, version: int) -> Path | None:
    """None when `out` already holds a finished corpus of this version built from the same `info`
    (every key compared: config, front end, ...); else a fresh, empty `<out>.partial` folder to build
    into. Shared by the tiny corpus, the TTS corpus, the voice pool and the rates corpus."""
    if corpus_is_complete(out, version):
        existing = json.loads((out / "corpus.json").read_text())
        stored = json.loads(json.dumps(info))  # as corpus.json holds it: tuples become lists
        if all(existing.get(key) == value for key, value in stored.items()):
            return None
    partial = out.with_name(out.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    return partial


def synthesize_in_chunks(
    function, jobs: list, partial: Path, seed: int, workers: int | None, progress: bool, *extra
) -> list:
    """function(chunk, folder, seed + chunk index, *extra) over fixed chunks of `jobs`, each in a
    fresh process (run_in_fresh_processes); the chunks' results concatenated in job order."""
    chunks = [jobs[i : i + UTTERANCES_PER_CHUNK] for i in range(0, len(jobs), UTTERANCES_PER_CHUNK)]
    arguments = [(chunk, str(partial), seed + index, *extra) for index, chunk in enumerate(chunks)]
    results: list = []
    for chunk_results in run_in_fresh_processes(function, arguments, workers, progress, len(jobs)):
        results.extend(chunk_results)
    return results


def write_summary(partial: Path, summary: dict) -> None:
    """corpus.json: what the folder holds, and, once the folder is renamed, the mark of a finished build."""
    text = json.dumps(summary, indent=1, sort_keys=True, ensure_ascii=False) + "\n"
    (partial / "corpus.json").write_text(text, encoding="utf-8")


def finish_build(partial: Path, out: Path, summary: dict | None = None) -> Path:
    """write_summary (unless done already), then put the finished folder in place of `out`: an
    interrupted build never looks complete."""
    if summary is not None:
        write_summary(partial, summary)
    if out.exists():
        shutil.rmtree(out)
    os.replace(partial, out)
    return out


def build_tiny_corpus(
    out: str | Path | None = None,
    config: CorpusConfig | None = None,
    workers: int | None = None,
    progress: bool = True,
) -> Path:
    """Build the corpus into `out` (default: default_data_root()/tiny) and return its path.

    Builds into `<out>.partial` and renames at the end, so an interrupted build never
    looks complete. A complete corpus with the same config is left as it is.
    """
    from minispeech.data.manifest import write_manifest

    config = config or CorpusConfig()
    out = Path(out) if out is not None else default_data_root() / CORPUS_NAME
    info = {"name": CORPUS_NAME, "version": CORPUS_VERSION, "config": asdict(config)}
    partial = start_build(out, info, CORPUS_VERSION)
    if partial is None:
        return out
    rows = synthesize_in_chunks(synthesize_chunk, plan_jobs(config), partial, config.seed, workers, progress)

    splits = sorted({row["split"] for row in rows})
    for split in splits:
        write_manifest(partial / f"{split}.jsonl", [row for row in rows if row["split"] == split])
    summary = dict(info)
    summary["counts"] = {split: sum(row["split"] == split for row in rows) for split in splits}
    summary["speakers"] = [asdict(speaker) for speaker in SPEAKERS]
    return finish_build(partial, out, summary)
