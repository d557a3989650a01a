"""Checks for lessons/03_hmm.ipynb: the forward recursion, Viterbi, one Baum-Welch step.

check_forward                 exercise 3.1, against minispeech.dp.hmm.hmm_forward_reference
check_viterbi                 exercise 3.2, against minispeech.dp.hmm.viterbi_reference
check_reestimate_transitions  exercise 3.3, against Σ_t ξ_t(i, j) / Σ_j Σ_t ξ_t(i, j)
                              built from minispeech.hmm.transition_counts

Cases: fixed models (a 2-state toy, a left-to-right model with -inf transitions, a 400-frame
sequence whose probability underflows float64) and seeded random ergodic and left-to-right
models; all in log space, well under a second.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from minispeech.dp.hmm import hmm_backward_reference, hmm_forward_reference, viterbi_reference
from minispeech.grading.checks import check_function, random_cases
from minispeech.hmm import left_to_right_transitions, transition_counts

FORWARD_HINT = (
    "α at frame t sums, over every state of frame t - 1, the ways to arrive in each state, then "
    "accounts for frame t's emission; frame 0 starts from the initial probabilities. In log space "
    "a sum of probabilities is a log-sum-exp, which must tolerate -inf (impossible transitions). "
    "Stay in log space: exp(...) of a long sequence underflows to 0."
)
VITERBI_HINT = (
    "Viterbi is the forward recursion with the sum over previous states replaced by a max; "
    "remember, for every frame and state, which previous state won, and read the path backwards "
    "from the best final state. The score is the best final log-probability."
)
TRANSITIONS_HINT = (
    "the new A[i, j] is the expected number of i -> j transitions divided by the expected number "
    "of transitions out of i, both summed over the T - 1 frame pairs; ξ_t(i, j) combines α at t, "
    "the transition, the emission at t + 1 and β at t + 1, normalized by p(O). Return "
    "probabilities, not logs."
)


def _logs(*arrays: np.ndarray) -> list[np.ndarray]:
    with np.errstate(divide="ignore"):
        return [np.log(array) for array in arrays]


def _random_model(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(log_pi (N,), log_A (N, N), log_B (T, N)): ergodic or left-to-right (-inf entries)."""
    n_states = int(rng.integers(1, 6))
    n_frames = int(rng.integers(n_states + 1, 40))
    if rng.random() < 0.5:
        pi, A = rng.dirichlet(np.ones(n_states)), rng.dirichlet(np.ones(n_states), size=n_states)
    else:
        pi = np.eye(n_states)[0]
        A = left_to_right_transitions(
            n_states, rng.uniform(0.2, 0.9, n_states), skip=bool(rng.random() < 0.5)
        )
    log_B = rng.normal(-5.0, 3.0, size=(n_frames, n_states))
    log_pi, log_A = _logs(pi, A)
    return log_pi, log_A, log_B


def _fixed_models() -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    rng = np.random.default_rng(30)
    toy = _logs(np.array([0.6, 0.4]), np.array([[0.7, 0.3], [0.4, 0.6]]),
                np.array([[0.5, 0.1], [0.4, 0.3], [0.1, 0.6]]))  # fmt: skip
    log_pi, log_A = _logs(np.eye(3)[0], left_to_right_transitions(3, 0.6))
    left_to_right = (log_pi, log_A, rng.normal(-2.0, 1.0, size=(6, 3)))
    long = (log_pi, log_A, rng.normal(-20.0, 2.0, size=(400, 3)))  # p(O) ≈ e^-8000: 0.0 in float64
    return [tuple(toy), left_to_right, long]


def check_forward(student_forward: Callable) -> None:
    """Exercise 3.1: forward(log_pi, log_A, log_B) -> (log_alpha (T, N), log_likelihood)."""
    __tracebackhide__ = True
    cases = _fixed_models() + random_cases(31, 20, _random_model)
    check_function(
        student_forward, hmm_forward_reference, cases, name="forward", atol=1e-8, rtol=1e-9,
        hint=FORWARD_HINT, parts=("log_alpha", "log_likelihood"), diagnose=_diagnose_forward,
    )  # fmt: skip


def _diagnose_forward(actual, expected, case) -> str | None:
    log_alpha, _ = actual
    expected_alpha, _ = expected
    log_alpha = np.asarray(log_alpha, dtype=np.float64)
    if log_alpha.shape != expected_alpha.shape:
        return f"log_alpha is (T, N) = {expected_alpha.shape}"
    if np.isnan(log_alpha).any():
        return "log_alpha holds NaN where the reference has -inf (a log-sum-exp of -inf terms)"
    wrong = ~np.isclose(log_alpha, expected_alpha, atol=1e-8, rtol=1e-9)
    if wrong[0].any():
        return "frame 0 of log_alpha is already wrong"
    if wrong.any():
        first = int(np.argmax(wrong.any(axis=1)))
        return (f"log_alpha is right up to frame {first - 1} and wrong from frame {first} "
                f"(of {len(wrong)})")  # fmt: skip
    return "log_alpha is right but the log-likelihood is not: it sums over the final states"


def check_viterbi(student_viterbi: Callable) -> None:
    """Exercise 3.2: viterbi(log_pi, log_A, log_B) -> (path (T,) ints, log_score)."""
    __tracebackhide__ = True
    cases = _fixed_models() + random_cases(32, 20, _random_model)
    check_function(
        student_viterbi, viterbi_reference, cases, name="viterbi", atol=1e-8, rtol=1e-9,
        hint=VITERBI_HINT, parts=("path", "log_score"), diagnose=_diagnose_viterbi,
    )  # fmt: skip


def _diagnose_viterbi(actual, expected, case) -> str | None:
    path, score = actual
    expected_path, expected_score = expected
    path = np.asarray(path)
    if path.shape == expected_path.shape and (path[::-1] == expected_path).all():
        return "your path is the right one read backwards"
    score_right = np.isclose(float(score), expected_score, atol=1e-8, rtol=1e-9)
    if score_right:
        return "the score is right but the path is not: look at the back-pointers and the trace-back"
    if float(score) > expected_score:
        return (f"your score {float(score):.6g} is higher than the best path's {expected_score:.6g}: "
                "it does not belong to one path through the allowed transitions")  # fmt: skip
    return f"your score {float(score):.6g} is lower than the best path's {expected_score:.6g}"


def reestimate_transitions_reference(
    log_A: np.ndarray, log_B: np.ndarray, log_alpha: np.ndarray, log_beta: np.ndarray
) -> np.ndarray:
    """New A (N, N): expected transition counts Σ_t ξ_t(i, j), each row divided by its sum."""
    counts = transition_counts(log_A, log_B, log_alpha, log_beta)  # (N, N)
    return counts / counts.sum(axis=1, keepdims=True)


def _reestimation_case(model: tuple[np.ndarray, np.ndarray, np.ndarray]) -> tuple:
    log_pi, log_A, log_B = model
    log_alpha, _ = hmm_forward_reference(log_pi, log_A, log_B)
    return (log_A, log_B, log_alpha, hmm_backward_reference(log_A, log_B))


def check_reestimate_transitions(student_reestimate_transitions: Callable) -> None:
    """Exercise 3.3: reestimate_transitions(log_A, log_B, log_alpha, log_beta) -> new A (N, N)."""
    __tracebackhide__ = True
    # every state is visited before the last frame in these models, so no row sum is 0
    cases = [_reestimation_case(model) for model in _fixed_models()]
    cases += random_cases(33, 20, lambda rng: _reestimation_case(_random_model(rng)))
    check_function(
        student_reestimate_transitions, reestimate_transitions_reference, cases,
        name="reestimate_transitions", atol=1e-9, rtol=1e-7, hint=TRANSITIONS_HINT,
        diagnose=_diagnose_transitions,
    )  # fmt: skip


def _diagnose_transitions(actual, expected, case) -> str | None:
    actual = np.asarray(actual, dtype=np.float64)
    if actual.shape != expected.shape:
        return f"the new A is (N, N) = {expected.shape}"
    if (actual <= 0).any() and (expected > 0).all():
        return "some entries are <= 0: are these logs instead of probabilities?"
    if not np.allclose(actual.sum(axis=1), 1.0, atol=1e-9):
        return "the rows of your new A do not sum to 1"
    return "each row sums to 1, but the transitions are shared out differently"
