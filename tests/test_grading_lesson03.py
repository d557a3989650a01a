"""The lesson-03 checks pass the references, fail wrong answers with a useful message, and let TODO through."""

import numpy as np
import pytest
from scipy.special import logsumexp

from minispeech.dp.hmm import hmm_forward, viterbi
from minispeech.grading import lesson03
from minispeech.hmm import state_occupancy


def test_references_and_library_kernels_pass(capsys):
    lesson03.check_forward(hmm_forward)  # the Numba kernel agrees with the plain reference
    lesson03.check_viterbi(viterbi)
    lesson03.check_reestimate_transitions(lesson03.reestimate_transitions_reference)
    out = capsys.readouterr().out
    assert "✓ forward" in out and "✓ viterbi" in out and "✓ reestimate_transitions" in out


def test_probability_space_forward_fails_on_the_long_sequence():
    def forward(log_pi, log_A, log_B):
        pi, A, B = np.exp(log_pi), np.exp(log_A), np.exp(log_B)
        alpha = np.empty_like(B)
        alpha[0] = pi * B[0]
        for t in range(1, len(B)):
            alpha[t] = (alpha[t - 1] @ A) * B[t]
        with np.errstate(divide="ignore"):
            return np.log(alpha), float(np.log(alpha[-1].sum()))

    with pytest.raises(
        AssertionError, match=r"(?s)forward\(.*shape=\(400, 3\).*Stay in log space"
    ) as error:
        lesson03.check_forward(forward)
    assert "log_alpha element [" in str(error.value)  # log_alpha goes wrong once alpha is subnormal


def test_forward_returning_only_alpha_fails_naming_the_type():
    def forward(log_pi, log_A, log_B):
        log_alpha = np.empty_like(log_B)
        log_alpha[0] = log_pi + log_B[0]
        for t in range(1, len(log_B)):
            log_alpha[t] = logsumexp(log_alpha[t - 1][:, None] + log_A, axis=0) + log_B[t]
        return log_alpha

    with pytest.raises(
        AssertionError, match=r"result is numpy.ndarray\(shape=.*\), expected a tuple of 2: \(log_alpha, log_likelihood\)"
    ):
        lesson03.check_forward(forward)


def test_frame_by_frame_argmax_is_not_viterbi():
    def greedy(log_pi, log_A, log_B):
        path = np.argmax(log_B, axis=1)
        return path, float(log_B[np.arange(len(path)), path].sum())

    with pytest.raises(
        AssertionError,
        match=r"(?s)viterbi\(.*: log_score is -2.12026, expected -4.19174.*What is wrong: your score -2.12026 is higher",
    ):
        lesson03.check_viterbi(greedy)


def test_dividing_by_all_frames_occupancy_fails():
    def reestimate(log_A, log_B, log_alpha, log_beta):
        counts = lesson03.reestimate_transitions_reference(log_A, log_B, log_alpha, log_beta)
        counts = counts * state_occupancy(log_alpha, log_beta)[:-1].sum(axis=0)[:, None]
        return (
            counts / state_occupancy(log_alpha, log_beta).sum(axis=0)[:, None]
        )  # includes frame T-1

    with pytest.raises(
        AssertionError,
        match=r"(?s)reestimate_transitions\(.*element \[0, 0\] is 0.44.*What is wrong: the rows of your new A",
    ):
        lesson03.check_reestimate_transitions(reestimate)


def test_unfinished_exercises_propagate_not_implemented():
    def todo(*args):
        raise NotImplementedError("Exercise 3.1: forward")

    for check in (
        lesson03.check_forward,
        lesson03.check_viterbi,
        lesson03.check_reestimate_transitions,
    ):
        with pytest.raises(NotImplementedError, match="Exercise 3.1"):
            check(todo)
