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
    "log_alpha[0] = log_pi + log_B[0]; then log_alpha[t, j] = logsumexp over i of "
    "(log_alpha[t-1, i] + log_A[i, j]), plus log_B[t, j] (scipy.special.logsumexp(..., axis=0) "
    "handles -inf entries); the log-likelihood is logsumexp(log_alpha[-1]). Stay in log space: "
    "exp(...) of a long sequence underflows to 0. Return (log_alpha, log_likelihood)."
)
VITERBI_HINT = (
    "log_delta[0] = log_pi + log_B[0]; scores = log_delta[t-1][:, None] + log_A is (from i, to j); "
    "back_pointer[t] = argmax over axis 0; log_delta[t] = max over axis 0 + log_B[t]. Then start from "
    "argmax(log_delta[-1]) and follow the back-pointers to frame 0. Return (path int array (T,), "
    "log_delta[-1].max())."
)
TRANSITIONS_HINT = (
    "log ξ_t(i, j) = log_alpha[t, i] + log_A[i, j] + log_B[t+1, j] + log_beta[t+1, j] - log p(O) for "
    "t = 0..T-2, with log p(O) = logsumexp(log_alpha[-1]); sum exp(log ξ) over t and divide each row "
    "by its sum (= Σ_t γ_t(i) over t = 0..T-2). Return probabilities, not logs."
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
        hint=FORWARD_HINT,
    )  # fmt: skip


def check_viterbi(student_viterbi: Callable) -> None:
    """Exercise 3.2: viterbi(log_pi, log_A, log_B) -> (path (T,) ints, log_score)."""
    __tracebackhide__ = True
    cases = _fixed_models() + random_cases(32, 20, _random_model)
    check_function(
        student_viterbi, viterbi_reference, cases, name="viterbi", atol=1e-8, rtol=1e-9,
        hint=VITERBI_HINT,
    )  # fmt: skip


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
    )  # fmt: skip
