"""The tiny corpus: deterministic bytes, disjoint splits, held-out speakers, alignments."""

import hashlib
import json
from pathlib import Path

import pytest
import soundfile

from minispeech.data import CorpusConfig, build_tiny_corpus, read_manifest, tiny_corpus
from minispeech.data.corpus import SPEAKERS, plan_jobs

SPLITS = ("train", "valid", "test_seen", "test_unseen", "digits", "train_open", "test_open")


def digest(folder: Path) -> dict[str, str]:
    return {
        str(path.relative_to(folder)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


@pytest.fixture(scope="module")
def small_corpus(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("corpus") / "tiny"
    return build_tiny_corpus(folder, config=CorpusConfig.preset("small"), progress=False)


def test_same_seed_gives_identical_bytes(small_corpus, tmp_path):
    # A different worker count must not matter either: chunks run in fresh processes.
    again = build_tiny_corpus(
        tmp_path / "tiny", config=CorpusConfig.preset("small"), workers=1, progress=False
    )
    assert digest(again) == digest(small_corpus)


def test_manifests_have_every_field(small_corpus):
    for split in SPLITS:
        rows = read_manifest(small_corpus / f"{split}.jsonl")
        assert rows, split
        for row in rows:
            assert set(row) >= {"audio", "text", "normalized_text", "phonemes", "speaker",
                                "duration", "sample_rate", "alignment"}
            info = soundfile.info(row["audio"])
            assert info.samplerate == row["sample_rate"] == 22050
            assert abs(info.frames / info.samplerate - row["duration"]) < 1e-3
            phoneme_starts = [sample for _, sample in row["alignment"]["phonemes"]]
            assert phoneme_starts == sorted(phoneme_starts)
            assert phoneme_starts[-1] <= info.frames
            # eSpeak reports most words; it folds some unstressed function words ("the"
            # after "with") into their neighbour. Reported words keep the text's order.
            words = iter(word.strip(",.?!") for word in row["normalized_text"].split())
            reported = [word for word, _ in row["alignment"]["words"]]
            assert all(word in words for word in reported), row
            assert len(reported) >= 0.6 * len(row["normalized_text"].split())
            word_starts = [sample for _, sample in row["alignment"]["words"]]
            assert word_starts == sorted(word_starts)


def test_splits_are_disjoint_and_held_out_speakers_unseen(small_corpus):
    rows = {split: read_manifest(small_corpus / f"{split}.jsonl") for split in SPLITS}
    texts = {split: {row["text"] for row in rows[split]} for split in SPLITS if split != "digits"}
    assert not texts["train"] & texts["test_seen"]
    assert not texts["train"] & texts["test_unseen"]
    assert not texts["train"] & texts["valid"]
    assert not texts["train_open"] & texts["test_open"]
    held_out = {speaker.name for speaker in SPEAKERS if speaker.held_out}
    training_speakers = {row["speaker"] for split in ("train", "valid", "test_seen") for row in rows[split]}
    assert held_out and not held_out & training_speakers
    assert {row["speaker"] for row in rows["test_unseen"]} == held_out
    held_out_variants = {speaker.voice.split("+")[1] for speaker in SPEAKERS if speaker.held_out}
    training_variants = {speaker.voice.split("+")[1] for speaker in SPEAKERS if not speaker.held_out}
    assert not held_out_variants & training_variants


def test_full_plan_meets_the_corpus_promises():
    jobs = plan_jobs(CorpusConfig.preset("full"))
    train = [job for job in jobs if job[0] == "train"]
    assert len(train) >= 2000
    assert len({job[3].voice for job in train}) >= 8
    assert len({job[3].name for job in jobs if job[3].held_out}) >= 2
    digits = [job for job in jobs if job[0] == "digits"]
    assert len({job[3].name for job in digits}) >= 10
    takes = {}
    for _, _, digit, speaker in digits:
        takes.setdefault((speaker.name, digit), set()).add((speaker.rate, speaker.pitch))
    assert min(len(variants) for variants in takes.values()) >= 5  # takes vary rate and pitch
    numeric = sum(any(ch.isdigit() or ch == "$" for ch in job[2]) for job in train)
    assert numeric / len(train) > 0.15
    # version 2: the open-vocabulary splits, whose test sentences hold words no training sentence has
    from minispeech.data.sentences import VOCABULARY, english_words
    from minispeech.text import normalize

    def words_of(split):
        return [word for job in jobs if job[0] == split for word in normalize(job[2]).rstrip(".,?!").split()]

    train_words = set(words_of("train")) | set(words_of("train_open"))
    assert len(set(words_of("train_open")) - VOCABULARY) > 5000
    assert set(words_of("train_open")) <= set(english_words())
    test_words = words_of("test_open")
    assert sum(word not in train_words for word in test_words) > 0.1 * len(test_words)
    assert {job[3].name for job in jobs if job[0] in ("train_open", "test_open")} <= {
        speaker.name for speaker in SPEAKERS if not speaker.held_out}


def test_missing_corpus_names_the_command(tmp_path):
    with pytest.raises(FileNotFoundError, match="python -m minispeech.data tiny"):
        tiny_corpus(tmp_path / "nowhere", build_if_missing=False)


def test_corpus_info_records_counts(small_corpus):
    info = json.loads((small_corpus / "corpus.json").read_text())
    assert info["counts"]["train"] == len(read_manifest(small_corpus / "train.jsonl"))
