"""Checks for lessons/04_ctc.ipynb: the CTC forward recursion, greedy decoding, prefix beam search.

check_ctc_log_alpha        exercise 4.1, against minispeech.dp.ctc.ctc_log_alpha_reference
check_greedy_decode        exercise 4.2, against minispeech.decoding.greedy_decode
check_prefix_beam_search   exercise 4.3, against minispeech.decoding.prefix_beam_search
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from minispeech.grading.checks import check_function, random_cases

LM_SENTENCES = ("the cat sat on the mat", "a cat and a hat", "that cat sat", "the bat ate")


def _log_softmax(logits: np.ndarray) -> np.ndarray:
    shifted = logits - logits.max(axis=-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


def _peaky_log_probs(rng: np.random.Generator, n_frames: int, vocabulary_size: int) -> np.ndarray:
    """(T, V) like a trained model's: mostly blank, sometimes a confident label, sometimes unsure."""
    logits = rng.normal(0.0, 1.0, (n_frames, vocabulary_size))
    logits[:, 0] += 2.0  # blank is the most frequent output
    winners = rng.integers(1, vocabulary_size, n_frames)
    logits[np.arange(n_frames), winners] += rng.uniform(0.0, 4.0, n_frames)
    return _log_softmax(logits)


def _alpha_case(rng: np.random.Generator) -> tuple:
    vocabulary_size = int(rng.integers(2, 6))
    target_length = int(rng.integers(0, 5))
    target = rng.integers(1, vocabulary_size, target_length)  # small V: repeats are common
    needed = target_length + int(np.sum(target[1:] == target[:-1]))
    n_frames = int(rng.integers(max(needed, 1), needed + 6))
    logits = rng.normal(0.0, 2.0, (n_frames, vocabulary_size))
    return (_log_softmax(logits), target)


def check_ctc_log_alpha(student_ctc_log_alpha: Callable) -> None:
    """Exercise 4.1: log α (T, 2S + 1) on hand-made and random cases, repeated labels included.

    Unreachable lattice cells must be -inf (not NaN, not a large negative number).
    """
    __tracebackhide__ = True
    from minispeech.dp.ctc import ctc_log_alpha_reference

    uniform = np.log(np.full((4, 3), 1 / 3))
    cases = [
        (uniform, np.array([1, 2])),  # the lattice of the lesson's figure
        (uniform, np.array([1, 1])),  # a repeat: the skip from the first 1 is forbidden
        (uniform[:3], np.array([1, 1])),  # exactly enough frames for 1, blank, 1
        (uniform, np.array([], dtype=np.int64)),  # empty target: one blank state
        (uniform[:1], np.array([2])),  # one frame
    ]
    cases += random_cases(4, 25, _alpha_case)
    check_function(
        student_ctc_log_alpha, ctc_log_alpha_reference, cases, name="ctc_log_alpha", atol=1e-9,
        hint="states are l' = (blank, y1, blank, y2, ..., blank); α_0 starts in states 0 and 1 "
        "only; state s comes from s, s-1, and s-2 only when l'[s] is a label different from "
        "l'[s-2]; add log p_t(l'_s) after the log-sum-exp; unreachable cells stay -inf.",
    )  # fmt: skip


def check_greedy_decode(student_greedy_decode: Callable) -> None:
    """Exercise 4.2: best-path decoding on hand-made and random (T, V) log-probabilities."""
    __tracebackhide__ = True
    from minispeech.decoding import greedy_decode

    def one_hot_path(path: list[int], vocabulary_size: int = 4) -> np.ndarray:
        probabilities = np.full((len(path), vocabulary_size), 0.1 / (vocabulary_size - 1))
        probabilities[np.arange(len(path)), path] = 0.9
        return np.log(probabilities)

    cases = [(one_hot_path(path),) for path in
             ([1, 1, 0, 1, 2, 2], [0, 0, 0], [3], [1, 2, 3], [0, 2, 2, 2, 0, 2, 0], [1, 0, 0, 1])]  # fmt: skip
    cases += random_cases(5, 20, lambda rng: (_peaky_log_probs(rng, int(rng.integers(1, 30)), 5),))
    check_function(
        student_greedy_decode, greedy_decode, cases, name="greedy_decode",
        hint="take the argmax of every frame, merge runs of the same id, then drop the blank "
        "(id 0); a label repeated after a blank counts twice. Return a list of ints.",
    )  # fmt: skip


def check_prefix_beam_search(student_prefix_beam_search: Callable) -> None:
    """Exercise 4.3: the beam's labeling equals the reference's, without and with an LM."""
    __tracebackhide__ = True
    from minispeech.decoding import CharNgramLM, prefix_beam_search
    from minispeech.text import characters

    worked = np.log(np.array([[0.6, 0.4], [0.6, 0.4]]))  # best path "", best labeling "a"
    cases = [(worked, 1), (worked, 4)]
    cases += random_cases(
        6, 20, lambda rng: (_peaky_log_probs(rng, int(rng.integers(1, 25)), int(rng.integers(2, 6))),
                            int(rng.choice([1, 2, 4, 8]))),
    )  # fmt: skip
    check_function(
        student_prefix_beam_search, prefix_beam_search, cases, name="prefix_beam_search",
        hint="keep two log-probabilities per prefix (paths ending in blank, paths ending in its last "
        "label); a repeated label extends the prefix only from paths ending in blank; merge "
        "equal prefixes with logaddexp; keep the beam_size best by logaddexp of the two.",
    )  # fmt: skip

    lm = CharNgramLM(order=3).fit(LM_SENTENCES)
    size = len(characters())
    lm_cases = random_cases(
        7, 8, lambda rng: {"log_probs": _peaky_log_probs(rng, int(rng.integers(5, 20)), size),
                           "beam_size": 6, "lm": lm, "lm_weight": float(rng.choice([0.3, 1.0])),
                           "insertion_bonus": float(rng.choice([0.0, 0.5]))},
    )  # fmt: skip
    check_function(
        student_prefix_beam_search, prefix_beam_search, lm_cases, name="prefix_beam_search with an LM",
        hint="when prefix y grows by label c add lm_weight * lm.next_log_probs(y)[c] + "
        "insertion_bonus; at the end rank by the beam score + lm_weight * lm.end_log_prob(y).",
    )  # fmt: skip
