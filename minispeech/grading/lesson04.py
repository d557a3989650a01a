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
        hint="think of the lattice figure: a path may stay in a state, advance by one, or skip the "
        "blank in between only when the state l'[s] holds a label different from l'[s-2] (the "
        "label two states back); the first frame can only start at the beginning; every cell "
        "no path reaches stays -inf.",
        diagnose=_diagnose_alpha,
    )  # fmt: skip


def _diagnose_alpha(actual, expected, case) -> str | None:
    """Where in the lattice the first wrong cell is, and what kind of state it is."""
    _, target = case
    actual = np.asarray(actual, dtype=np.float64)
    if actual.shape != expected.shape:
        return f"log α is (T, 2S + 1) = {expected.shape} for a target of {len(target)} labels"
    if np.isnan(actual).any():
        return "log α holds NaN where the reference has -inf (a log-sum-exp of -inf terms)"
    unreachable = np.isneginf(expected) & ~np.isneginf(actual)
    if unreachable.any():
        t, state = (int(i) for i in np.argwhere(unreachable)[0])
        return f"cell (frame {t}, state {state}) is reachable in yours but no path reaches it"
    wrong = ~np.isclose(actual, expected, atol=1e-9, rtol=1e-5, equal_nan=True)
    t, state = (int(i) for i in np.argwhere(wrong)[0])
    if state % 2 == 0:
        kind = "a blank state"
    elif state >= 3 and target[state // 2] == target[state // 2 - 1]:
        kind = f"a label state repeating the label two states back ({int(target[state // 2])})"
    else:
        kind = f"a label state ({int(target[state // 2])})"
    return f"the first wrong cell is frame {t}, state {state}: {kind}"


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
        hint="best-path decoding takes each frame's most probable id, then collapses the path: "
        "merge runs of the same id, and remove blanks; a blank between two equal labels keeps "
        "both. Return a list of ints.",
        diagnose=_diagnose_greedy,
    )  # fmt: skip


def _diagnose_greedy(actual, expected, case) -> str | None:
    (log_probs,) = case
    path = [int(i) for i in np.argmax(log_probs, axis=1)]
    unmerged = [i for i in path if i != 0]
    across = [i for n, i in enumerate(unmerged) if n == 0 or i != unmerged[n - 1]]
    actual = [int(i) for i in actual]
    if 0 in actual:
        return "your labels contain the blank (id 0)"
    if actual == unmerged and unmerged != expected:
        return f"the frame-wise best path is {path}: its repeated labels are not merged"
    if actual == across and across != expected:
        return f"the frame-wise best path is {path}: you merged equal labels across a blank"
    return f"the frame-wise best path is {path}"


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
        hint="a prefix's probability sums every path that collapses to it, so keep it in two parts: "
        "paths ending in a blank and paths ending in the prefix's last label; the same label "
        "again extends the prefix only after a blank. Different paths reaching the same prefix "
        "add up (in log space) before the beam is pruned.",
        diagnose=_diagnose_beam,
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
        hint="the LM enters twice: each time a prefix grows by a label (its weighted log-probability "
        "of that label after the prefix, plus the insertion bonus), and once at the end, for "
        "ending the sentence there (lm.end_log_prob).",
        diagnose=_diagnose_beam,
    )  # fmt: skip


def _diagnose_beam(actual, expected, case) -> str | None:
    from minispeech.decoding import greedy_decode

    log_probs = case["log_probs"] if isinstance(case, dict) else case[0]
    best_path = greedy_decode(log_probs)
    if [int(i) for i in actual] == best_path and best_path != list(expected):
        return ("you return the best path's labels (what greedy decoding gives); the beam should "
                "find the most probable labeling, summed over all its paths")  # fmt: skip
    shape = f"log_probs of shape {tuple(log_probs.shape)}"
    return f"on {shape} you decode {list(actual)}, the reference {list(expected)}"
