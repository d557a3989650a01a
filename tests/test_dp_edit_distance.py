"""Edit distance kernels and WER/CER: Numba == reference == brute force; parity with jiwer."""

from __future__ import annotations

import math
import random

import jiwer
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from minispeech.dp.levenshtein import (
    EditOps,
    alignment_ops,
    alignment_ops_reference,
    edit_distance,
    edit_distance_reference,
    edit_distances,
    reference_hits,
    word_edit_distances,
)
from minispeech.metrics import cer, wer, word_accuracy

small_sequences = st.lists(st.integers(0, 3), max_size=6)


def all_alignment_counts(ref, hyp) -> set[tuple[int, int, int, int]]:
    """(S, D, I, H) of every alignment path through the edit table, by plain recursion."""
    if not ref:
        return {(0, 0, len(hyp), 0)}
    if not hyp:
        return {(0, len(ref), 0, 0)}
    results = set()
    for s, d, i, h in all_alignment_counts(ref[1:], hyp[1:]):
        results.add((s + 1, d, i, h) if ref[0] != hyp[0] else (s, d, i, h + 1))
    for s, d, i, h in all_alignment_counts(ref[1:], hyp):
        results.add((s, d + 1, i, h))
    for s, d, i, h in all_alignment_counts(ref, hyp[1:]):
        results.add((s, d, i + 1, h))
    return results


@settings(max_examples=150, deadline=None)
@given(small_sequences, small_sequences)
def test_distance_and_ops_match_brute_force(ref, hyp):
    every = all_alignment_counts(ref, hyp)
    best = min(s + d + i for s, d, i, h in every)
    assert edit_distance(ref, hyp) == edit_distance_reference(ref, hyp) == best
    ops = alignment_ops(ref, hyp)
    assert ops == alignment_ops_reference(ref, hyp)
    assert tuple(ops) in every and ops.substitutions + ops.deletions + ops.insertions == best


def test_long_sequences_cross_64_bit_blocks():
    rng = random.Random(0)
    for _ in range(40):
        ref = [rng.randrange(4) for _ in range(rng.randrange(0, 200))]
        hyp = ref[: rng.randrange(0, len(ref) + 1)] + [
            rng.randrange(4) for _ in range(rng.randrange(0, 150))
        ]
        rng.shuffle(hyp) if rng.random() < 0.3 else None
        assert edit_distance(ref, hyp) == edit_distance_reference(ref, hyp)
        assert alignment_ops(ref, hyp) == alignment_ops_reference(ref, hyp)
    pairs = [
        (rng.choices("abc", k=rng.randrange(150)), rng.choices("abc", k=rng.randrange(150)))
        for _ in range(20)
    ]
    expected = [edit_distance_reference(r, h) for r, h in pairs]
    assert edit_distances([r for r, _ in pairs], [h for _, h in pairs]).tolist() == expected


def test_strings_words_and_other_hashables():
    assert edit_distance("kitten", "sitting") == 3
    assert (
        edit_distance("", "abc") == 3
        and edit_distance("abc", "") == 3
        and edit_distance("", "") == 0
    )
    assert edit_distance("日本語😀", "日本😀") == 1  # code points beyond the BMP
    assert edit_distance("the cat sat".split(), "the bat sat down".split()) == 2
    assert edit_distance([(1, 2), (3,)], [(1, 2)]) == 1
    assert alignment_ops("abc", "abd") == EditOps(
        substitutions=1, deletions=0, insertions=0, hits=2
    )
    with pytest.raises(ValueError, match="one hypothesis per reference"):
        edit_distances(["a"], ["a", "b"])


def test_ops_equal_jiwer_process_words():
    rng = random.Random(1)
    vocabulary = ["a", "b", "c", "d"]
    for _ in range(200):
        ref = " ".join(rng.choices(vocabulary, k=rng.randrange(1, 12)))
        hyp = " ".join(rng.choices(vocabulary, k=rng.randrange(0, 12)))
        output = jiwer.process_words(ref, hyp)
        ops = alignment_ops(ref.split(), hyp.split())
        assert (ops.substitutions, ops.deletions, ops.insertions, ops.hits) == (
            output.substitutions, output.deletions, output.insertions, output.hits,
        )  # fmt: skip


def random_corpus(
    rng: random.Random, n: int, empty_references: bool
) -> tuple[list[str], list[str]]:
    words = ["".join(rng.choices("abcde", k=rng.randrange(1, 4))) for _ in range(30)]
    references, hypotheses = [], []
    for _ in range(n):
        ref = rng.choices(words, k=rng.randrange(0 if empty_references else 1, 10))
        hyp = [w if rng.random() > 0.2 else rng.choice(words) for w in ref]
        if rng.random() < 0.3 and hyp:
            del hyp[rng.randrange(len(hyp))]
        if rng.random() < 0.2:
            hyp.insert(rng.randrange(len(hyp) + 1), rng.choice(words))
        if rng.random() < 0.1:
            hyp = []
        pad = lambda: " " * rng.randrange(0, 3)  # noqa: E731
        references.append(pad() + "  ".join(ref) + pad())
        hypotheses.append(pad() + " ".join(hyp) + pad())
    return references, hypotheses


@pytest.mark.parametrize("empty_references", [False, True])
def test_wer_cer_equal_jiwer(empty_references):
    rng = random.Random(2)
    for _ in range(20):
        references, hypotheses = random_corpus(rng, rng.randrange(1, 30), empty_references)
        if not any(r.split() for r in references):
            continue
        assert wer(references, hypotheses) == jiwer.wer(references, hypotheses)
        assert cer(references, hypotheses) == jiwer.cer(references, hypotheses)
    assert wer("hello world", "") == jiwer.wer("hello world", "") == 1.0
    assert wer(["the cat sat", "hello world"], ["the cat sat down", "hello"]) == 0.4


def test_empty_references_and_bad_input():
    assert wer(["", "a b"], ["x", "a b"]) == 0.5  # the empty reference adds one insertion
    with pytest.raises(ValueError, match="every reference is empty"):
        wer(["", "  "], ["a", ""])
    with pytest.raises(ValueError, match="every reference is empty"):
        cer([""], [""])
    with pytest.raises(ValueError, match="one hypothesis per reference"):
        wer(["a"], ["a", "b"])
    with pytest.raises(ValueError, match="expected str"):
        wer(["a", 3], ["a", "b"])


@settings(max_examples=100, deadline=None)
@given(st.lists(st.text(alphabet="ab \t\n\u00a0\u3000\u200b", max_size=12), min_size=1, max_size=4))
def test_word_splitting_is_str_split(sentences):
    reversed_sentences = sentences[::-1]
    distances, reference_lengths = word_edit_distances(sentences, reversed_sentences)
    expected = [
        edit_distance_reference(r.split(), h.split())
        for r, h in zip(sentences, reversed_sentences, strict=True)
    ]
    assert distances.tolist() == expected
    assert reference_lengths.tolist() == [len(s.split()) for s in sentences]


@settings(max_examples=150, deadline=None)
@given(small_sequences, small_sequences)
def test_reference_hits_mark_the_hits_of_alignment_ops(ref, hyp):
    hits = reference_hits(ref, hyp)
    assert len(hits) == len(ref)
    assert sum(hits) == alignment_ops(ref, hyp).hits
    assert all(ref[i] in hyp for i, hit in enumerate(hits) if hit)
    if ref == hyp:
        assert all(hits)


def test_reference_hits_count_equals_jiwer_hits():
    rng = random.Random(2)
    for _ in range(200):
        ref = rng.choices(["a", "b", "c", "d"], k=rng.randrange(1, 12))
        hyp = rng.choices(["a", "b", "c", "d"], k=rng.randrange(0, 12))
        assert sum(reference_hits(ref, hyp)) == jiwer.process_words(" ".join(ref), " ".join(hyp) or "").hits


def test_word_accuracy_splits_known_and_new_words():
    known = {"the", "cat", "sat"}
    scores = word_accuracy(["the cat sat on the mat", "a dog"], ["the cat sat in the mat", "a dig"], known)
    assert scores.in_vocabulary_words == 4 and scores.in_vocabulary == 1.0
    assert scores.out_of_vocabulary_words == 4  # on, mat, a, dog
    assert scores.out_of_vocabulary == 2 / 4  # mat and a right; on and dog wrong
    assert math.isnan(word_accuracy(["the cat"], ["the cat"], known).out_of_vocabulary)
    # an inserted word costs no reference word; a deleted one is wrong
    assert word_accuracy(["the cat"], ["the big cat"], known).in_vocabulary == 1.0
    assert word_accuracy(["the cat"], ["cat"], known).in_vocabulary == 0.5
    with pytest.raises(ValueError, match="one hypothesis per reference"):
        word_accuracy(["the cat"], [], known)
