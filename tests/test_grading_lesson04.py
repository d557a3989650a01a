"""The lesson-04 checks pass the references, fail wrong answers with a helpful message, and let
an unfinished exercise's NotImplementedError through unchanged."""

import numpy as np
import pytest

from minispeech.decoding import collapse, greedy_decode, prefix_beam_search
from minispeech.dp.ctc import ctc_log_alpha_reference
from minispeech.grading import lesson04


def unfinished(*args, **kwargs):
    raise NotImplementedError("Exercise 4.x: not done yet")


@pytest.mark.parametrize("check", [lesson04.check_ctc_log_alpha, lesson04.check_greedy_decode,
                                   lesson04.check_prefix_beam_search])  # fmt: skip
def test_unfinished_exercise_raises_not_implemented_unchanged(check):
    with pytest.raises(NotImplementedError, match="not done yet"):
        check(unfinished)


def test_references_pass(capsys):
    lesson04.check_ctc_log_alpha(ctc_log_alpha_reference)
    lesson04.check_greedy_decode(greedy_decode)
    lesson04.check_prefix_beam_search(prefix_beam_search)
    printed = capsys.readouterr().out
    for name in ("ctc_log_alpha", "greedy_decode", "prefix_beam_search", "prefix_beam_search with an LM"):
        assert f"✓ {name}" in printed


def alpha_that_always_skips(log_probs, target, blank=0):
    """The classic mistake: allow the s-2 skip even between two equal labels."""
    labels = np.full(2 * len(target) + 1, blank)
    labels[1::2] = target
    alpha = np.full((len(log_probs), len(labels)), -np.inf)
    alpha[0, 0] = log_probs[0, blank]
    if len(labels) > 1:
        alpha[0, 1] = log_probs[0, labels[1]]
    for t in range(1, len(log_probs)):
        for s in range(len(labels)):
            previous = [alpha[t - 1, s]] + ([alpha[t - 1, s - 1]] if s >= 1 else [])
            if s >= 2 and labels[s] != blank:
                previous.append(alpha[t - 1, s - 2])
            alpha[t, s] = np.logaddexp.reduce(previous) + log_probs[t, labels[s]]
    return alpha


def test_alpha_with_the_repeat_mistake_fails_naming_the_case():
    with pytest.raises(AssertionError) as error:
        lesson04.check_ctc_log_alpha(alpha_that_always_skips)
    message = str(error.value)
    assert "ctc_log_alpha(" in message and "element" in message
    assert "l'[s-2]" in message  # the hint points at the skip rule


def test_alpha_with_nan_instead_of_minus_infinity_fails():
    def nan_alpha(log_probs, target, blank=0):
        alpha = ctc_log_alpha_reference(log_probs, target, blank)
        return np.where(np.isinf(alpha), np.nan, alpha)

    with pytest.raises(AssertionError, match="-inf"):
        lesson04.check_ctc_log_alpha(nan_alpha)


def test_greedy_that_forgets_to_merge_repeats_fails():
    def no_merge(log_probs, blank=0):
        return [int(i) for i in np.argmax(log_probs, axis=1) if i != blank]

    with pytest.raises(AssertionError, match="merge runs"):
        lesson04.check_greedy_decode(no_merge)


def test_greedy_that_merges_across_blanks_fails():
    def merges_across_blanks(log_probs, blank=0):
        no_blanks = [int(i) for i in np.argmax(log_probs, axis=1) if i != blank]
        return collapse(no_blanks, blank)

    with pytest.raises(AssertionError, match="greedy_decode"):
        lesson04.check_greedy_decode(merges_across_blanks)


def test_beam_search_that_returns_the_best_path_fails():
    def best_path(log_probs, beam_size=8, blank=0, lm=None, lm_weight=0.5, insertion_bonus=0.0):
        return greedy_decode(log_probs, blank)

    with pytest.raises(AssertionError, match="prefix_beam_search"):
        lesson04.check_prefix_beam_search(best_path)


def test_beam_search_that_ignores_the_lm_fails_the_lm_part(capsys):
    def no_lm(log_probs, beam_size=8, blank=0, lm=None, lm_weight=0.5, insertion_bonus=0.0):
        return prefix_beam_search(log_probs, beam_size, blank)

    with pytest.raises(AssertionError) as error:
        lesson04.check_prefix_beam_search(no_lm)
    assert "✓ prefix_beam_search:" in capsys.readouterr().out  # the LM-free part passed
    assert "with an LM" in str(error.value) and "end_log_prob" in str(error.value)
