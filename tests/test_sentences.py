"""Tests for minispeech.data.sentences: the seeded sentence generator and the split."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from functools import cache

import pytest

from minispeech.data.sentences import (
    DIGIT_WORDS,
    MAX_WORDS,
    MIN_WORDS,
    OPEN_MAX_WORDS,
    OPEN_MIN_WORDS,
    VOCABULARY,
    english_words,
    generate_sentences,
    plural,
    split_sentences,
    third_person,
)
from minispeech.text import characters, normalize

NUMERIC = re.compile(r"\d|[$\u00a3\u20ac%]|\b(?:Dr|Mr|Mrs|Ms|St)\.")
CATEGORIES = {
    "money": r"[$\u00a3\u20ac]\d|\d cents",
    "date": r"\b(?:January|February|March|April|May|June|July|August|September|October|November|December|"
    r"Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sep|Oct|Nov|Dec)\.? \d|\d{4}-\d\d-\d\d|\d/\d+/\d{4}",
    "time": r"\d:\d\d|\d (?:a\.m\.|p\.m\.|am|pm)",
    "percentage": r"\d%",
    "ordinal": r"\d(?:st|nd|rd|th)\b",
    "year": r"\b(?:in|from|to) \d{4}\b|\d{4}s\b",
    "abbreviation": r"\b(?:Dr|Mr|Mrs|Ms|St)\.",
    "decimal": r"\d\.\d",
    "fraction": r"\d/\d\b",
    "comma-grouped": r"\d,\d{3}",
}
ABBREVIATION_WORDS = {"dr", "mr", "mrs", "ms", "st", "am", "pm", "jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep", "oct", "nov", "dec"}


@cache
def three_thousand() -> tuple[str, ...]:
    return tuple(generate_sentences(3000, seed=0))


def test_same_seed_same_sentences_different_seed_different():
    assert generate_sentences(200, seed=7) == generate_sentences(200, seed=7)
    assert generate_sentences(200, seed=7) != generate_sentences(200, seed=8)
    assert generate_sentences(50, seed=7) == generate_sentences(200, seed=7)[:50]  # a prefix, not a reshuffle


def test_independent_of_hash_randomization():
    code = "import json; from minispeech.data.sentences import generate_sentences; print(json.dumps(generate_sentences(100, 11)))"
    outputs = []
    for hash_seed in ("1", "2"):
        environment = dict(os.environ, PYTHONHASHSEED=hash_seed)
        result = subprocess.run([sys.executable, "-c", code], env=environment, capture_output=True, text=True, check=True)
        outputs.append(json.loads(result.stdout))
    assert outputs[0] == outputs[1] == generate_sentences(100, 11)


def test_vocabulary_and_digit_words():
    assert len(VOCABULARY) >= 1000
    assert all(re.fullmatch(r"[a-z]+", word) for word in VOCABULARY)
    assert DIGIT_WORDS == ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
    assert [normalize(str(digit)) for digit in range(10)] == list(DIGIT_WORDS)


def test_count_lengths_and_no_duplicates():
    sentences = three_thousand()
    assert len(sentences) == 3000 == len(set(sentences))
    lengths = [len(sentence.split()) for sentence in sentences]
    assert MIN_WORDS <= min(lengths) and max(lengths) <= MAX_WORDS
    assert all(sentence[0].isupper() and sentence[-1] in ".?!" for sentence in sentences)
    assert generate_sentences(0, seed=1) == []


def test_every_sentence_normalizes_and_encodes():
    table = characters()
    for sentence in three_thousand():
        spoken = normalize(sentence)
        assert table.decode(table.encode(spoken)) == spoken


def test_numeric_share_and_every_category_present():
    sentences = three_thousand()
    numeric = sum(bool(NUMERIC.search(sentence)) for sentence in sentences) / len(sentences)
    assert 0.20 <= numeric <= 0.35, numeric
    missing = [name for name, pattern in CATEGORIES.items() if not any(re.search(pattern, s) for s in sentences)]
    assert not missing, f"no sentence with {missing}"


def test_words_come_from_the_vocabulary_and_vary():
    used = set()
    for sentence in three_thousand():
        for token in sentence.split():
            word = token.strip(".,?!").lower()
            if re.fullmatch(r"[a-z]+", word):
                assert word in VOCABULARY or word in ABBREVIATION_WORDS, (word, sentence)
                used.add(word)
    assert len(used) >= 800


def test_bad_count_raises():
    for bad in (-1, 2.5, True):
        with pytest.raises(ValueError, match="count"):
            generate_sentences(bad, seed=0)


def test_split_has_no_overlap_and_is_deterministic():
    sentences = list(three_thousand()[:500])
    train, held_out = split_sentences(sentences, held_out_fraction=0.1, seed=3)
    assert len(held_out) == 50 and len(train) == 450
    assert not set(train) & set(held_out)
    assert set(train) | set(held_out) == set(sentences)
    assert train == [s for s in sentences if s in set(train)]  # input order kept
    assert (train, held_out) == split_sentences(sentences, 0.1, seed=3)
    assert held_out != split_sentences(sentences, 0.1, seed=4)[1]


def test_split_merges_duplicates_and_checks_fraction():
    train, held_out = split_sentences(["a b c d", "e f g h", "a b c d", "i j k l"], 0.5, seed=0)
    assert sorted(train + held_out) == ["a b c d", "e f g h", "i j k l"]
    assert not set(train) & set(held_out)
    assert split_sentences(["x"], 0.0, seed=0) == (["x"], [])
    for bad in (-0.1, 1.5):
        with pytest.raises(ValueError, match="held_out_fraction"):
            split_sentences(["x"], bad, seed=0)


def test_inflection_helpers():
    assert [plural(n) for n in ("apple", "box", "berry", "key", "child", "church", "tomato")] == [
        "apples", "boxes", "berries", "keys", "children", "churches", "tomatoes",
    ]
    assert [third_person(v) for v in ("carry", "watch", "play", "fix", "go", "have")] == [
        "carries", "watches", "plays", "fixes", "goes", "has",
    ]


def test_default_list_is_the_templates_only_one():
    # The TTS corpus and the voice pool were drawn from these lists: open_vocabulary=0 must keep them.
    assert generate_sentences(3, seed=1234) == [
        "Diana Adams lives in Helsinki with the tulip.",
        "Did Lucy pick this tall truck on weekends?",
        "Did Diana build the plane last summer?",
    ]


def test_english_words_are_plain_frequent_words():
    from data_scripts.word_list import BLOCKED_WORDS, WORD_COUNT

    words = english_words()
    assert len(words) == WORD_COUNT >= 10_000 and len(set(words)) == len(words)
    assert words[:3] == ("the", "to", "and")  # most frequent first
    assert all(re.fullmatch(r"[a-z]+", word) for word in words)
    assert not set(words) & BLOCKED_WORDS
    assert len(set(words) - VOCABULARY) > 10_000


def test_open_vocabulary_sentences_share_and_words():
    sentences = generate_sentences(2000, seed=3, open_vocabulary=0.4)
    assert len(set(sentences)) == 2000
    words = set(english_words())
    open_ones = [s for s in sentences if not NUMERIC.search(s)
                 and {w.strip(".,?!").lower() for w in s.split()} - VOCABULARY - ABBREVIATION_WORDS]
    assert 0.3 <= len(open_ones) / len(sentences) <= 0.45, len(open_ones)
    for sentence in open_ones:
        assert all(word.strip(".").lower() in words for word in sentence.split()), sentence
        assert OPEN_MIN_WORDS <= len(sentence.split()) <= OPEN_MAX_WORDS
    used = {word.strip(".").lower() for sentence in open_ones for word in sentence.split()}
    assert len(used) > 2500
    table = characters()
    for sentence in sentences:
        assert table.decode(table.encode(normalize(sentence))) == normalize(sentence)
    with pytest.raises(ValueError, match="open_vocabulary"):
        generate_sentences(5, seed=0, open_vocabulary=1.5)


def test_word_list_filter_keeps_plain_words_only():
    from data_scripts.word_list import keep

    short = frozenset({"a", "i", "to"})
    assert keep("garden", short, normalize) and keep("to", short, normalize)
    for dropped in ("don't", "2d", "bb", "ny", "e-mail", "shit", "bullshit", "Paris"):
        assert not keep(dropped, short, normalize), dropped
    assert not keep("st", short, normalize)  # too short, and normalize would expand it
