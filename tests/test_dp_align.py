"""CTC forced alignment: Numba == reference == brute force; a planted alignment is recovered."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from minispeech.dp.align import ctc_durations, ctc_forced_align, ctc_forced_align_reference
from minispeech.dp.ctc import ctc_loss


def collapse(frame_labels, blank: int = 0) -> list[int]:
    merged = [
        label for k, label in enumerate(frame_labels) if k == 0 or label != frame_labels[k - 1]
    ]
    return [label for label in merged if label != blank]


def random_log_probs(rng, n_frames: int, vocabulary_size: int) -> np.ndarray:
    logits = 2.0 * rng.normal(size=(n_frames, vocabulary_size))
    return logits - np.logaddexp.reduce(logits, axis=1, keepdims=True)


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 10**6), st.integers(1, 6), st.integers(0, 3))
def test_matches_brute_force(seed, n_frames, n_labels):
    rng = np.random.default_rng(seed)
    log_probs = random_log_probs(rng, n_frames, 3)
    target = rng.integers(1, 3, size=n_labels)
    scores = {
        labeling: sum(log_probs[t, label] for t, label in enumerate(labeling))
        for labeling in itertools.product(range(3), repeat=n_frames)
        if collapse(labeling) == target.tolist()
    }
    if not scores:
        with pytest.raises(ValueError, match="cannot hold"):
            ctc_forced_align(log_probs, target)
        return
    frame_labels = ctc_forced_align(log_probs, target)
    assert np.array_equal(frame_labels, ctc_forced_align_reference(log_probs, target))
    assert collapse(frame_labels.tolist()) == target.tolist()
    best = max(scores.values())
    assert scores[tuple(frame_labels.tolist())] == pytest.approx(best, abs=1e-12)
    ranked = sorted(scores.values(), reverse=True)
    if len(ranked) == 1 or ranked[0] - ranked[1] > 1e-9:
        assert tuple(frame_labels.tolist()) == max(scores, key=scores.get)
    # the best path is one term of the CTC sum
    loss = ctc_loss(log_probs[None], target[None], [n_frames], [n_labels], reduction="sum")
    assert best <= -loss + 1e-12


def test_kernel_equals_reference_on_longer_inputs():
    rng = np.random.default_rng(1)
    for _ in range(30):
        vocabulary_size = int(rng.integers(2, 8))
        n_labels = int(rng.integers(0, 15))
        target = rng.integers(1, vocabulary_size, size=n_labels)
        n_frames = int(rng.integers(2 * n_labels + 1, 2 * n_labels + 40))
        log_probs = random_log_probs(rng, n_frames, vocabulary_size)
        blank = 0
        frame_labels = ctc_forced_align(log_probs, target, blank)
        assert np.array_equal(frame_labels, ctc_forced_align_reference(log_probs, target, blank))
        assert collapse(frame_labels.tolist()) == target.tolist()


def test_planted_alignment_is_recovered():
    rng = np.random.default_rng(2)
    planted = [0, 0, 3, 3, 3, 0, 1, 1, 0, 0, 2, 2, 2, 2, 1, 0, 0]  # the target is 3 1 2 1
    log_probs = np.full((len(planted), 5), -8.0) + 0.5 * rng.normal(size=(len(planted), 5))
    log_probs[np.arange(len(planted)), planted] = -0.01
    assert ctc_forced_align(log_probs, [3, 1, 2, 1]).tolist() == planted
    # blank index other than 0: rename class 0 <-> 4
    swapped = log_probs[:, [4, 1, 2, 3, 0]]
    expected = [4 if label == 0 else label for label in planted]
    assert ctc_forced_align(swapped, [3, 1, 2, 1], blank=4).tolist() == expected


def test_tight_and_impossible_lengths():
    log_probs = np.log(np.full((3, 3), 1.0 / 3.0))
    assert ctc_forced_align(log_probs, [1, 1]).tolist() == [1, 0, 1]  # T == S + repeats
    assert ctc_forced_align(log_probs, [1, 2, 1]).tolist() == [1, 2, 1]  # T == S
    with pytest.raises(ValueError, match="cannot hold"):
        ctc_forced_align(log_probs[:2], [1, 1])
    with pytest.raises(ValueError, match="other than blank"):
        ctc_forced_align(log_probs, [0, 1])
    blocked = log_probs.copy()
    blocked[:, 1] = -np.inf
    with pytest.raises(ValueError, match="probability 0"):
        ctc_forced_align(blocked, [1])


def test_float32_input_gives_the_float64_path():
    # float32 posteriors are read as they are (no copy to float64); sums stay float64
    rng = np.random.default_rng(7)
    for _ in range(10):
        target = rng.integers(1, 30, size=int(rng.integers(1, 60)))
        log_probs = random_log_probs(rng, 3 * len(target) + 20, 30).astype(np.float32)
        frame_labels = ctc_forced_align(log_probs, target)
        assert np.array_equal(frame_labels, ctc_forced_align(log_probs.astype(np.float64), target))
        assert np.array_equal(frame_labels, ctc_forced_align_reference(log_probs.astype(np.float64), target))


def ctc_durations_loop(frame_labels, n_tokens: int, blank: int) -> list[int]:
    """The rule read literally: walk the frames, a new token at each non-blank label change."""
    durations, token, previous = [0] * n_tokens, -1, blank
    for label in frame_labels:
        if label != blank and label != previous:
            token += 1
        durations[max(token, 0)] += 1
        previous = label
    return durations


@settings(max_examples=80, deadline=None)
@given(st.integers(0, 10**6), st.integers(1, 8), st.sampled_from([0, 3]))
def test_ctc_durations_follow_the_rule_and_sum_to_the_frames(seed, n_tokens, blank):
    rng = np.random.default_rng(seed)
    labels = [label for label in range(5) if label != blank]
    target = rng.choice(labels, size=n_tokens)  # repeats allowed
    path = [blank] * int(rng.integers(0, 3))
    for k, label in enumerate(target):
        if k and target[k - 1] == label or rng.random() < 0.3:
            path += [blank] * int(rng.integers(1, 3))  # a blank must separate a repeat
        path += [int(label)] * int(rng.integers(1, 4))
    path += [blank] * int(rng.integers(0, 3))
    assert collapse(path, blank) == target.tolist()
    durations = ctc_durations(path, n_tokens, blank)
    assert durations.tolist() == ctc_durations_loop(path, n_tokens, blank)
    assert durations.sum() == len(path) and (durations >= 1).all() and durations.dtype == np.int64


def test_ctc_durations_of_a_forced_alignment_and_named_errors():
    rng = np.random.default_rng(3)
    log_probs = random_log_probs(rng, 12, 4)
    target = np.array([1, 1, 2, 3])
    durations = ctc_durations(ctc_forced_align(log_probs, target), len(target))
    assert durations.sum() == 12 and len(durations) == 4
    with pytest.raises(ValueError, match="spells 2 tokens, expected n_tokens = 3"):
        ctc_durations([0, 1, 0, 2], 3)
